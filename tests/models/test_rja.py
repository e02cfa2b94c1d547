"""Recursive joint attention: official size, recursion, time resampling, heads, losses, inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from baselines.rja import RJA, RJAConfig, resample, segment_weights
from bench.models.contract import count_parameters
from bench.errors import ConfigError
from bench.nn.losses import ccc
from bench.models.registry import create_model, get_model_entry

RAW = {"audio_input": "logmel", "audio_dim": 16, "video_input": "frames", "image_size": 32,
       "frontend_channels": (8, 16), "raw_audio_embed_dim": 32, "hidden": 32, "head_hidden": 8,
       "video_channels": 16}
# The official layout (L = 16, 7 x 7 positions) at small widths, for tests that need gradients or
# many forwards: the full 16M-parameter model runs forward once (test_official_forward).
SMALL = {"hidden": 32, "head_hidden": 8, "video_channels": 16, "video_dim": 49 * 16, "audio_dim": 24}


@pytest.fixture(scope="module")
def official() -> RJA:
    torch.manual_seed(0)
    return RJA(RJAConfig()).eval()


def small(**overrides) -> RJA:
    torch.manual_seed(0)
    return RJA(RJAConfig(**{**SMALL, **overrides}))


def features_batch(b=2, t=16, t_a=None, lengths=None, seed=0, spatial=49, channels=16, audio=24, targets=2):
    g = torch.Generator().manual_seed(seed)
    t_a = t if t_a is None else t_a
    batch = {"audio": torch.randn(b, t_a, audio, generator=g), "video": torch.randn(b, t, spatial * channels, generator=g),
             "target": torch.randn(b, targets, generator=g)}
    if lengths is not None:
        batch["video_mask"] = torch.arange(t)[None] < torch.tensor(lengths)[:, None]
        batch["audio_mask"] = torch.arange(t_a)[None] < torch.tensor(lengths)[:, None]
    return batch


def test_official_parameter_count(official):
    """15,947,859 = the official CAM (one pass, two regressors), submodule by submodule."""
    parts = {name: count_parameters(m) for name, m in official.named_children()}
    assert parts == {
        "audio_lstm": 3_680_768, "spatial_attention": 838_193, "video_lstm": 3_680_768,
        "joint_attention": 2_625_056, "joint_lstm": 4_991_488, "heads": 2 * 65_793,
    }
    assert count_parameters(official) == 15_947_859


def test_registration_and_recipe():
    entry = get_model_entry("rja")
    assert entry.model_class is RJA and entry.config_class is RJAConfig
    assert entry.recipe["optimizer"] == "adam" and entry.recipe["batch_size"] == 64
    assert entry.recipe["milestones"][:2] == [7, 9] and entry.recipe["gamma"] == pytest.approx(0.8)
    assert "RecurrentJointAttentionwithLSTMs" in entry.code


def test_recursion_weights_shared_or_per_pass(official):
    shared = RJA(RJAConfig(num_passes=3))
    assert count_parameters(shared) == 15_947_859
    separate = RJA(RJAConfig(num_passes=3, share_weights=False))
    assert count_parameters(separate) == 15_947_859 + 2 * 2_625_056
    # the same weights applied twice give a different (deeper) result than one pass
    once = small().eval()
    twice = small(num_passes=2).eval()
    twice.load_state_dict(once.state_dict())
    batch = features_batch()
    with torch.no_grad():
        assert not torch.allclose(twice(batch).logits["fused"], once(batch).logits["fused"])
    with pytest.raises(ConfigError, match="num_passes"):
        RJA(RJAConfig(num_passes=0))


def test_official_forward(official):
    batch = features_batch(channels=512, audio=512)
    with torch.no_grad():
        out = official(batch)
    assert out.logits["fused"].shape == (2, 2) and torch.isfinite(out.logits["fused"]).all()
    assert out.attention["spatial"].shape == (2, 16, 49)


def test_forward_backward_features_regression():
    model = small().train()
    batch = features_batch()
    out = model(batch)
    assert set(out.logits) == {"fused"} and out.logits["fused"].shape == (2, 2)
    spatial = out.attention["spatial"]
    assert spatial.shape == (2, 16, 49)
    torch.testing.assert_close(spatial.sum(-1), torch.ones(2, 16))
    loss, parts = model.compute_loss(out, batch)
    expected = (1 - ccc(out.logits["fused"], batch["target"])).sum()  # (1-CCC_V) + (1-CCC_A)
    torch.testing.assert_close(loss, expected)
    assert "loss_fused" in parts
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_classification_has_one_head_and_cross_entropy():
    torch.manual_seed(0)
    model = RJA(RJAConfig(task="classification", num_outputs=6, **RAW)).train()
    assert len(model.heads) == 1 and model.heads[0][-1].out_features == 6
    g = torch.Generator().manual_seed(0)
    batch = {"audio": torch.randn(2, 50, 16, generator=g), "video": torch.rand(2, 7, 3, 32, 32, generator=g),
             "audio_mask": torch.arange(50)[None] < torch.tensor([[50], [30]]),
             "video_mask": torch.arange(7)[None] < torch.tensor([[7], [4]]), "label": torch.tensor([2, 5])}
    out = model(batch)
    assert out.logits["fused"].shape == (2, 6)
    loss, _ = model.compute_loss(out, batch)
    torch.testing.assert_close(loss, F.cross_entropy(out.logits["fused"], batch["label"]))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_video_layouts_agree():
    model = small().eval()
    batch = features_batch(seed=1)
    four_d = dict(batch, video=batch["video"].view(2, 16, 49, 16))
    with torch.no_grad():
        torch.testing.assert_close(model(batch).logits["fused"], model(four_d).logits["fused"])
    with pytest.raises(ConfigError, match="video features"):
        model(dict(batch, video=torch.randn(2, 16, 16)))
    with pytest.raises(ConfigError, match="video_spatial"):
        RJA(RJAConfig(video_dim=512))
    pooled = small(video_dim=16, video_spatial=1).eval()  # non-spatial (pooled) embeddings
    with torch.no_grad():
        assert pooled(dict(batch, video=torch.randn(2, 16, 16))).logits["fused"].shape == (2, 2)


def test_segments_are_identity_at_seq_len_and_ignore_padding():
    x = torch.randn(2, 16, 5)
    full = torch.ones(2, 16, dtype=torch.bool)
    torch.testing.assert_close(resample(x, full, 16), x)
    mask = torch.arange(16)[None] < torch.tensor([[16], [6]])
    weights = segment_weights(mask, 16)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 16))
    assert torch.all(weights[1, :, 6:] == 0)
    noisy = x.clone()
    noisy[1, 6:] = float("nan")  # whatever sits in padding never reaches the output
    assert torch.isfinite(resample(noisy, mask, 16)).all()
    # 32 real steps -> pairs averaged; 4 -> each step repeated 4 times
    y = torch.arange(32.0)[None, :, None]
    torch.testing.assert_close(resample(y, torch.ones(1, 32, dtype=torch.bool), 16)[0, :, 0], torch.arange(16.0) * 2 + 0.5)
    z = torch.arange(4.0)[None, :, None]
    torch.testing.assert_close(resample(z, torch.ones(1, 4, dtype=torch.bool), 16)[0, :, 0],
                               torch.arange(4.0).repeat_interleave(4))


def test_padding_does_not_change_outputs():
    model = small().eval()
    batch = features_batch(t=12, lengths=[12, 9], seed=2)
    padded = dict(batch)
    for key in ("audio", "video"):
        x, m = batch[key], batch[f"{key}_mask"]
        padded[key] = torch.cat([x, 10 * torch.rand(2, 5, x.shape[-1])], dim=1)
        padded[f"{key}_mask"] = torch.cat([m, torch.zeros(2, 5, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        reference = model(batch).logits["fused"]
        torch.testing.assert_close(model(padded).logits["fused"], reference)
        alone = model({"audio": batch["audio"][1:, :9], "video": batch["video"][1:, :9]}).logits["fused"]
    torch.testing.assert_close(reference[1:], alone)


def test_raw_inputs_regression_forward():
    torch.manual_seed(0)
    model = create_model("rja", **RAW).eval()
    g = torch.Generator().manual_seed(3)
    batch = {"audio": torch.randn(1, 64, 16, generator=g), "video": torch.rand(1, 16, 3, 32, 32, generator=g)}
    with torch.no_grad():
        out = model(batch)
    assert out.logits["fused"].shape == (1, 2) and torch.isfinite(out.logits["fused"]).all()


def test_rms_feature_norm_is_the_unit_vector_times_sqrt_width():
    """feature_norm="rms" changes only the scale of every normalised vector: same weights, same
    directions, each vector times sqrt(its width) (so the official "l2" stays the default)."""
    from baselines.rja import normalise

    x = torch.randn(3, 5, 40)
    l2, rms = normalise(x, "l2"), normalise(x, "rms")
    assert torch.allclose(l2.norm(dim=-1), torch.ones(3, 5), atol=1e-6)
    assert torch.allclose(rms, l2 * 40 ** 0.5, atol=1e-6)
    assert torch.allclose(rms.pow(2).mean(-1), torch.ones(3, 5), atol=1e-5)
    assert RJAConfig().feature_norm == "l2"
    a, b = small(), small(feature_norm="rms")
    b.load_state_dict(a.state_dict())  # same parameters: the field adds none
    batch = features_batch()
    a.eval(), b.eval()
    with torch.no_grad():
        wa = a.audio_lstm(normalise(torch.randn(2, 16, 24, generator=torch.Generator().manual_seed(1)), "l2"))
        wb = b.audio_lstm(normalise(torch.randn(2, 16, 24, generator=torch.Generator().manual_seed(1)), "l2"))
        assert torch.allclose(wb, wa * 32 ** 0.5, atol=1e-5)
        assert torch.isfinite(b(batch).logits["fused"]).all()
    with pytest.raises(ConfigError, match="feature_norm"):
        small(feature_norm="l1")


def test_synthetic_cpu_preset_is_registered_with_the_model():
    """The synthetic CPU preset the class docstring derives (DE-III's width, unit-RMS vectors,
    dropout 0.1) is data of the model's registration, resolved for synthetic runs on a CPU only."""
    from bench.study.resolve import dataset_presets, resolve_configs

    presets = dataset_presets("rja", "synthetic")
    assert presets["rja/cpu"]["hidden"] == 128 and presets["rja/cpu"]["feature_norm"] == "rms"
    layers: dict = {}
    config, _ = resolve_configs("rja", "synthetic", device_kind="cpu", layers=layers)
    assert (config.hidden, config.feature_norm, config.attention_dropout, config.head_dropout) == (128, "rms", 0.1, 0.1)
    assert layers["feature_norm"] == "preset synthetic/rja/cpu"
    config, _ = resolve_configs("rja", "synthetic", device_kind="cuda")
    assert (config.hidden, config.feature_norm) == (512, "l2")
    model = create_model("rja", **{**RAW, **{k: v for k, v in presets["rja/cpu"].items() if k != "frontend_channels"}})
    assert 0.5e6 < count_parameters(model) < 2e6


@pytest.mark.parametrize("feature_norm", ["l2", "rms"])
def test_fast_normalisation_is_f_normalize_bit_for_bit(feature_norm):
    """Under the fast kernels the norm is broadcast instead of expanded (no full-size copies in
    the backward): values and gradients equal F.normalize's, bit for bit."""
    from baselines.rja import normalise
    from bench.nn.kernels import use_kernels

    base = torch.randn(4, 3, 500)
    base[0, 0] = 0.0  # a zero vector: the 1e-12 floor
    grad = torch.randn(4, 3, 500)

    def run(kernels: str) -> list[torch.Tensor]:
        x = base.clone().requires_grad_()
        with use_kernels(kernels):
            y = normalise(x, feature_norm)
        y.backward(grad)
        return [y.detach().view(torch.int32), x.grad.view(torch.int32)]

    assert all(torch.equal(a, b) for a, b in zip(run("fast"), run("reference")))


def test_fast_joint_attention_in_place_is_bit_for_bit():
    """Under the fast kernels the correlation map is scaled and squashed in place: output and
    every gradient equal the reference path's, bit for bit (no dropout, so both draw nothing)."""
    from baselines.rja import JointCrossAttention
    from bench.nn.kernels import use_kernels

    torch.manual_seed(0)
    module = JointCrossAttention(12, 20, seq_len=6, dropout=0.0)
    base_v, base_a = torch.randn(3, 6, 12), torch.randn(3, 6, 20)

    def run(kernels: str) -> list[torch.Tensor]:
        module.zero_grad(set_to_none=True)
        v, a = base_v.clone().requires_grad_(), base_a.clone().requires_grad_()
        with use_kernels(kernels):
            out_v, out_a = module(v, a)
        (out_v.sum() + 2 * out_a.sum()).backward()
        tensors = [out_v.detach(), out_a.detach(), v.grad, a.grad] + [p.grad for p in module.parameters()]
        return [t.view(torch.int32) for t in tensors]

    assert all(torch.equal(x, y) for x, y in zip(run("fast"), run("reference")))


def test_fast_spatial_attention_in_place_is_bit_for_bit():
    """The audio-guided attention's ReLU runs in place under the fast kernels: output, map and
    every gradient equal the reference path's, bit for bit."""
    from baselines.rja import AudioGuidedSpatialAttention
    from bench.nn.kernels import use_kernels

    torch.manual_seed(0)
    module = AudioGuidedSpatialAttention(audio_dim=10, channels=8, positions=9, dim=12)
    base_v, base_a = torch.randn(2, 4, 9, 8), torch.randn(2, 4, 10)

    def run(kernels: str) -> list[torch.Tensor]:
        module.zero_grad(set_to_none=True)
        v, a = base_v.clone().requires_grad_(), base_a.clone().requires_grad_()
        with use_kernels(kernels):
            out, alpha = module(v, a)
        (out.sum() + alpha[..., 0].sum()).backward()
        tensors = [out.detach(), alpha.detach(), v.grad, a.grad] + [p.grad for p in module.parameters()]
        return [t.view(torch.int32) for t in tensors]

    assert all(torch.equal(x, y) for x, y in zip(run("fast"), run("reference")))
