"""Tests of the self-attention-fusion baseline (Chumachenko et al., ICPR 2022; ``baselines/saf.py``).

Parameter counts are pinned against the official ``MultiModalCNN``
(https://github.com/katerynaCh/multimodal-emotion-recognition) counted on the instantiated
module: ia 1,854,766; it 1,938,414; lt 2,045,550 (C = 8, one head), which include parts the
forward pass never uses (two per-branch classifiers, and the value/output projections of the
``ia`` attention).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from baselines.efficientface import EfficientFace, official_key_map
from baselines.saf import SAF, SAFConfig, dct_matrix
from bench.models.contract import count_parameters
from bench.errors import ConfigError, MissingInputError
from bench.models.registry import create_model, get_model_entry

FUSIONS = ("ia", "it", "lt")
OFFICIAL = {"ia": 1_854_766, "it": 1_938_414, "lt": 2_045_550}
UNUSED_CLASSIFIERS = 2 * (128 * 8 + 8)  # audio and video Linear(128 -> 8)
UNUSED_IA_ATTENTION = 64 * 128 + (128 * 128 + 128) + 128 * 64 + (64 * 64 + 64)  # v and proj, both directions


_EVAL_MODELS: dict[str, SAF] = {}


def eval_model(fusion: str) -> SAF:
    """One seeded eval-mode model per variant, shared by the read-only tests (keeps them fast)."""
    if fusion not in _EVAL_MODELS:
        torch.manual_seed(0)
        _EVAL_MODELS[fusion] = SAF(SAFConfig(fusion=fusion)).eval()
    return _EVAL_MODELS[fusion]


def make_batch(b=2, t=4, t_audio=40, size=48, *, features=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    video = torch.rand(b, t, features, generator=g) if features else torch.rand(b, t, 3, size, size, generator=g)
    return {
        "video": video,
        "video_mask": torch.ones(b, t, dtype=torch.bool),
        "audio": torch.randn(b, t_audio, 64, generator=g),
        "audio_mask": torch.ones(b, t_audio, dtype=torch.bool),
        "label": torch.arange(b) % 6,
        "clip_id": [f"clip{i}" for i in range(b)],
    }


def pad(batch, extra_video, extra_audio, seed=1):
    """Append garbage steps with mask False to both modalities."""
    g = torch.Generator().manual_seed(seed)
    out = dict(batch)
    for key, extra in (("video", extra_video), ("audio", extra_audio)):
        x = batch[key]
        junk = torch.rand((x.shape[0], extra, *x.shape[2:]), generator=g) * 5
        out[key] = torch.cat((x, junk), dim=1)
        out[f"{key}_mask"] = torch.cat((batch[f"{key}_mask"], torch.zeros(x.shape[0], extra, dtype=torch.bool)), dim=1)
    return out


# -- parameter counts ---------------------------------------------------------------------------
@pytest.mark.parametrize("fusion", FUSIONS)
def test_parameter_count_matches_official(fusion):
    full = SAF(SAFConfig.official(fusion, include_unused_official_params=True))
    assert count_parameters(full) == OFFICIAL[fusion]
    lean = SAF(SAFConfig.official(fusion))
    unused = UNUSED_CLASSIFIERS + (UNUSED_IA_ATTENTION if fusion == "ia" else 0)
    assert count_parameters(lean) == OFFICIAL[fusion] - unused
    # The log-mel path (fixed DCT buffer) and the 48-pixel crops add no parameters.
    ours = SAF(SAFConfig(fusion=fusion, num_outputs=8))
    assert count_parameters(ours) == count_parameters(lean)
    assert "dct" not in ours.state_dict()  # fixed, not learned, not saved


def test_efficientface_submodule_counts():
    """Per-submodule counts of the official EfficientFaceTemporal trunk (measured on it)."""
    trunk = EfficientFace()
    counts = {name: count_parameters(m) for name, m in trunk.named_children()}
    assert counts == {
        "conv1": 841, "maxpool": 0, "stage2": 30827, "stage3": 244180, "stage4": 501352,
        "local": 10208, "modulator": 3526, "conv5": 477184,
    }


# -- forward / backward ----------------------------------------------------------------------------
@pytest.mark.parametrize("fusion", FUSIONS)
def test_forward_backward_frames(fusion):
    torch.manual_seed(0)
    model = SAF(SAFConfig(fusion=fusion, num_outputs=6))
    batch = make_batch()
    out = model(batch)
    assert out.logits["fused"].shape == (2, 6)
    loss, parts = model.compute_loss(out, batch)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads), "every parameter of the lean model is trained"
    assert model.visual.conv1[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("fusion", FUSIONS)
def test_forward_backward_features(fusion):
    model = SAF(SAFConfig(fusion=fusion, video_input="features", video_dim=32, audio_input="features", audio_dim=10))
    batch = make_batch(features=32)
    batch["audio"] = batch["audio"][..., :10]
    out = model(batch)
    assert model.visual is None
    assert out.logits["fused"].shape == (2, 6)
    out.logits["fused"].sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_official_224_forward():
    model = SAF(SAFConfig.official("ia")).eval()
    batch = make_batch(b=1, t=2, t_audio=30, size=224)
    batch["audio"] = batch["audio"][..., :10]
    with torch.no_grad():
        assert model(batch).logits["fused"].shape == (1, 8)


def test_unused_official_params_do_not_change_outputs():
    torch.manual_seed(0)
    lean = SAF(SAFConfig(fusion="ia")).eval()
    full = SAF(SAFConfig(fusion="ia", include_unused_official_params=True)).eval()
    missing = full.load_state_dict(lean.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith(("unused_heads", "audio_from_video.", "video_from_audio.")) for k in missing)
    batch = make_batch()
    with torch.no_grad():
        assert torch.allclose(lean(batch).logits["fused"], full(batch).logits["fused"])


# -- masking ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fusion", FUSIONS)
def test_padding_does_not_change_outputs(fusion):
    model = eval_model(fusion)
    batch = make_batch()
    padded = pad(batch, extra_video=3, extra_audio=17)
    with torch.no_grad():
        ref, out = model(batch), model(padded)
    torch.testing.assert_close(out.logits["fused"], ref.logits["fused"], rtol=1e-5, atol=1e-5)
    for name, w in ref.attention.items():
        tq, tk = w.shape[-2:]
        torch.testing.assert_close(out.attention[name][..., :tq, :tk], w, rtol=1e-5, atol=1e-6)
        assert out.attention[name][..., tq:, :].abs().max() == 0  # padded queries zeroed
        assert out.attention[name][..., :tq, tk:].abs().max() < 1e-6  # padded keys get no weight


def test_variable_lengths_in_one_batch_match_single_clips():
    model = eval_model("ia")
    short = make_batch(b=1, t=3, t_audio=30, seed=1)
    long = make_batch(b=1, t=5, t_audio=45, seed=2)
    joint = pad(short, extra_video=2, extra_audio=15)
    for key in ("video", "audio", "video_mask", "audio_mask"):
        joint[key] = torch.cat((joint[key], long[key]))
    with torch.no_grad():
        both = model(joint).logits["fused"]
        torch.testing.assert_close(both[0], model(short).logits["fused"][0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(both[1], model(long).logits["fused"][0], rtol=1e-5, atol=1e-5)


def test_padding_is_invisible_in_training_mode_too():
    """Real frames only reach the trunk and time BN uses real steps: train-mode outputs agree."""
    torch.manual_seed(0)
    a = SAF(SAFConfig(fusion="it")).train()
    b = SAF(SAFConfig(fusion="it")).train()
    b.load_state_dict(a.state_dict())
    batch = make_batch()
    out_a = a(batch).logits["fused"]
    out_b = b(pad(batch, extra_video=2, extra_audio=9)).logits["fused"]
    torch.testing.assert_close(out_b, out_a, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(b.audio_stage1.blocks[0].bn.running_mean, a.audio_stage1.blocks[0].bn.running_mean)


def test_audio_shorter_than_receptive_field_stays_finite():
    model = eval_model("lt")
    batch = pad(make_batch(t_audio=14), extra_video=0, extra_audio=10)
    batch["audio_mask"][0, 5:] = False  # 5 real steps: stage 2 leaves none
    with torch.no_grad():
        assert torch.isfinite(model(batch).logits["fused"]).all()


# -- attention maps --------------------------------------------------------------------------------
@pytest.mark.parametrize("fusion,heads", [("ia", 1), ("ia", 4), ("it", 1), ("lt", 4)])
def test_attention_map_shapes(fusion, heads):
    model = eval_model(fusion) if heads == 1 else SAF(SAFConfig(fusion=fusion, num_heads=heads)).eval()
    t, ta = 4, 40
    ta_fused = ta - 6 if fusion in ("ia", "it") else ta - 12  # valid convs (k=3) and pools (2, stride 1)
    with torch.no_grad():
        att = model(make_batch(t=t, t_audio=ta)).attention
    assert att["audio_to_video"].shape == (2, heads, ta_fused, t)
    assert att["video_to_audio"].shape == (2, heads, t, ta_fused)
    for w in att.values():
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


# -- audio front ---------------------------------------------------------------------------------
def test_in_model_mfcc_is_the_orthonormal_dct():
    logmel = np.random.default_rng(0).standard_normal((64, 20)).astype(np.float32)
    expected = scipy.fft.dct(logmel, type=2, norm="ortho", axis=0)[:10]
    ours = (dct_matrix(64, 10) @ torch.from_numpy(logmel)).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-5)


@pytest.mark.slow  # importing librosa (numba) takes seconds
def test_in_model_mfcc_equals_librosa():
    librosa = pytest.importorskip("librosa")
    logmel = np.random.default_rng(0).standard_normal((64, 20)).astype(np.float32)
    expected = librosa.feature.mfcc(S=logmel, n_mfcc=10)
    ours = (dct_matrix(64, 10) @ torch.from_numpy(logmel)).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-5)


# -- modality dropout ------------------------------------------------------------------------------
def test_softhard_quadruples_the_batch():
    model = SAF(SAFConfig(shuffle_augmented=False))
    batch = make_batch(b=3)
    out = model.augment_batch(batch, torch.Generator().manual_seed(0))
    a, v = batch["audio"], batch["video"]
    assert out["audio"].shape[0] == out["video"].shape[0] == 12
    assert torch.equal(out["label"], batch["label"].repeat(4))
    assert out["clip_id"] == batch["clip_id"] * 4
    assert torch.equal(out["audio_mask"], batch["audio_mask"].repeat(4, 1))
    assert torch.equal(out["audio"][:3], a) and torch.equal(out["video"][:3], v)
    c = out["audio"][3:6].flatten(1)[:, 0] / a.flatten(1)[:, 0]
    assert ((c >= 0) & (c <= 0.99 + 1e-6)).all()
    torch.testing.assert_close(out["audio"][3:6], a * c[:, None, None])
    torch.testing.assert_close(out["video"][3:6], v * (1 - c)[:, None, None, None, None])
    assert out["audio"][6:9].abs().max() == 0 and torch.equal(out["video"][6:9], v)
    assert torch.equal(out["audio"][9:], a) and out["video"][9:].abs().max() == 0


def test_softhard_shuffle_keeps_rows_together_and_is_seeded():
    model = SAF(SAFConfig())
    batch = make_batch(b=2)
    batch["label"] = torch.tensor([4, 1])
    one = model.augment_batch(batch, torch.Generator().manual_seed(7))
    two = model.augment_batch(batch, torch.Generator().manual_seed(7))
    assert torch.equal(one["audio"], two["audio"]) and one["clip_id"] == two["clip_id"]
    by_id = {"clip0": 4, "clip1": 1}
    assert [by_id[c] for c in one["clip_id"]] == one["label"].tolist()
    assert sorted(one["clip_id"]) == ["clip0"] * 4 + ["clip1"] * 4
    with torch.no_grad():
        eval_model("ia")(one)  # the enlarged batch is a valid batch


def test_noise_triples_and_none_is_identity():
    batch = make_batch(b=2)
    out = SAF(SAFConfig(modality_dropout="noise", shuffle_augmented=False)).augment_batch(batch)
    assert out["audio"].shape[0] == out["video"].shape[0] == 6
    assert torch.equal(out["audio"][:2], batch["audio"]) and torch.equal(out["video"][:2], batch["video"])
    assert torch.equal(out["video"][2:4], batch["video"]) and not torch.equal(out["audio"][2:4], batch["audio"])
    assert torch.equal(out["audio"][4:6], batch["audio"]) and not torch.equal(out["video"][4:6], batch["video"])
    assert SAF(SAFConfig(modality_dropout="none")).augment_batch(batch) is batch


# -- registry, inputs, checkpoints -----------------------------------------------------------------
def test_registered_with_recipe():
    entry = get_model_entry("saf")
    assert entry.recipe["optimizer"] == "sgd" and entry.recipe["lr"] == 0.04
    assert entry.recipe["milestones"] == [40, 55, 65, 70]
    assert "katerynaCh" in entry.code
    model = create_model("saf", fusion="lt", num_outputs=3)
    assert model.required_inputs() == ("video", "audio")
    with pytest.raises(MissingInputError):
        model({"audio": torch.zeros(1, 20, 64)})
    with pytest.raises(ConfigError):
        create_model("saf", fusion="xx")


def test_efficientface_checkpoint_in_official_layout(tmp_path):
    torch.manual_seed(3)
    source = EfficientFace()
    inverse = {ours: official for official, ours in official_key_map("").items()}
    state = {}
    for key, value in source.state_dict().items():
        for ours, official in sorted(inverse.items(), key=lambda kv: -len(kv[0])):
            if key.startswith(ours + "."):
                key = official + key[len(ours):]
                break
        state[key] = value
    assert "local.conv1_1.weight" in state and "modulator.spatial_att.gate_s.gate_s_conv_final.bias" in state
    state["fc.weight"] = torch.zeros(7, 1024)  # the AffectNet classifier: ignored
    path = tmp_path / "efficientface.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 1}, path)
    model = SAF(SAFConfig(efficientface_checkpoint=str(path)))
    for key, value in source.state_dict().items():
        assert torch.equal(model.visual.state_dict()[key], value), key
    torch.save({"state_dict": {"something": torch.zeros(1)}}, path)
    with pytest.raises(ConfigError, match="no parameter matches"):
        SAF(SAFConfig(efficientface_checkpoint=str(path)))
    with pytest.raises(ConfigError, match="no such file"):
        SAF(SAFConfig(efficientface_checkpoint=str(tmp_path / "absent.pth")))


def test_channels_last_shuffle_keeps_every_number_of_the_nchw_formula(monkeypatch):
    """Under the fast kernels (channels_last weights) the trunk shuffles in its own layout; the
    output, the batch-norm statistics and every gradient equal those of the NCHW formula."""
    import baselines.efficientface as E

    fast_shuffle = E.channel_shuffle

    def nchw_shuffle(x, groups):
        b, c, h, w = x.shape
        return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)

    torch.manual_seed(0)
    trunk = E.EfficientFace((8, 16, 32, 64, 96), (2, 2, 2), modulator_reduction=4).to(memory_format=torch.channels_last)
    state = {k: v.clone() for k, v in trunk.state_dict().items()}
    x = torch.randn(6, 3, 32, 32)

    def step(shuffle):
        monkeypatch.setattr(E, "channel_shuffle", shuffle)
        trunk.load_state_dict(state)
        trunk.zero_grad(set_to_none=True)
        out = trunk(x)
        (out * torch.linspace(-1, 1, out.shape[1])).sum().backward()
        return out.detach(), [p.grad.clone() for p in trunk.parameters()], [b.clone() for b in trunk.buffers()]

    fast, plain = step(fast_shuffle), step(nchw_shuffle)
    assert torch.equal(fast[0], plain[0])
    assert all(torch.equal(a, b) for a, b in zip(fast[1], plain[1]))
    assert all(torch.equal(a, b) for a, b in zip(fast[2], plain[2]))
    shuffled = fast_shuffle(torch.randn(2, 8, 3, 3).contiguous(memory_format=torch.channels_last), 2)
    assert shuffled.is_contiguous(memory_format=torch.channels_last)  # no NCHW copy on the fast path


def test_channels_last_pool_gradient_keeps_every_number(monkeypatch):
    """Under the fast kernels the stem's max pool receives its gradient channels_last (the local
    extractor's quadrant slices hand it back NCHW, and the pool's backward then copied its input
    and its result across layouts): output, statistics and every gradient as before, bit for bit."""
    import baselines.efficientface as E

    torch.manual_seed(0)
    trunk = E.EfficientFace((8, 16, 32, 64, 96), (2, 2, 2), modulator_reduction=4).to(memory_format=torch.channels_last)
    state = {k: v.clone() for k, v in trunk.state_dict().items()}
    x = torch.randn(6, 3, 32, 32)

    def step(layout_fix: bool):
        monkeypatch.setattr(E, "channels_last_grad", E.channels_last_grad if layout_fix else (lambda h: h))
        trunk.load_state_dict(state)
        trunk.zero_grad(set_to_none=True)
        out = trunk(x)
        (out * torch.linspace(-1, 1, out.shape[1])).sum().backward()
        return [out.detach()] + [p.grad.clone() for p in trunk.parameters()] + [b.clone() for b in trunk.buffers()]

    fixed, plain = step(True), step(False)
    assert all(torch.equal(a.view(torch.int32) if a.is_floating_point() else a, b.view(torch.int32) if b.is_floating_point() else b)
               for a, b in zip(fixed, plain))


def test_modulator_keeps_a_channels_last_map_and_every_number():
    """The modulator multiplies x by its gate with x first, so a channels_last map leaves it
    channels_last (no copy before the next stage); the output and gradients are those of the
    gate-first formula, bit for bit."""
    from baselines.efficientface import Modulator

    torch.manual_seed(0)
    module = Modulator(16, 4).to(memory_format=torch.channels_last)
    base = torch.randn(3, 16, 6, 6).contiguous(memory_format=torch.channels_last)

    def run(gate_first: bool) -> list[torch.Tensor]:
        module.zero_grad(set_to_none=True)
        x = base.clone().requires_grad_()
        if gate_first:
            channel = module.channel(x.contiguous().mean((2, 3)))[:, :, None, None]
            out = torch.sigmoid(channel * module.spatial(x)) * x
        else:
            out = module(x)
        (out * torch.linspace(-1, 1, 16)[None, :, None, None]).sum().backward()
        return [out, x.grad] + [p.grad for p in module.parameters()]

    new, old = run(False), run(True)
    assert new[0].is_contiguous(memory_format=torch.channels_last) and not new[0].is_contiguous()
    assert all(torch.equal(a.detach().view(torch.int32), b.detach().view(torch.int32)) for a, b in zip(new, old))
