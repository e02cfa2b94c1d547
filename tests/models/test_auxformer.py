"""AuxFormer: official size, heads and their mean, modality dropout, masks and positions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from baselines.auxformer import AuxFormer, AuxFormerConfig, fairseq_positions, future_mask
from bench.models.contract import count_parameters
from bench.models.registry import create_model, get_model_entry

# Raw inputs with small frontends (the default raw widths stand in for wav2vec2's 1024).
RAW = {"audio_input": "logmel", "audio_dim": 16, "video_input": "frames", "raw_audio_embed_dim": 24,
       "image_size": 32}


def features_batch(b=2, t_a=9, t_v=6, lengths_a=None, lengths_v=None, seed=0, num_classes=6):
    g = torch.Generator().manual_seed(seed)
    batch = {"audio": torch.randn(b, t_a, 1024, generator=g), "video": torch.randn(b, t_v, 50, generator=g),
             "label": torch.arange(b) % num_classes}
    if lengths_a is not None:
        batch["audio_mask"] = torch.arange(t_a)[None] < torch.tensor(lengths_a)[:, None]
    if lengths_v is not None:
        batch["video_mask"] = torch.arange(t_v)[None] < torch.tensor(lengths_v)[:, None]
    return batch


def test_official_parameter_count():
    """1,162,712 = the official AVmodel with C = 6 (wav2vec2 excluded), per submodule below."""
    model = AuxFormer(AuxFormerConfig())
    assert count_parameters(model) == 1_162_712
    layer = 3 * (50 * 50 + 50) + (50 * 50 + 50) + (50 * 200 + 200) + (200 * 50 + 50) + 2 * 100  # 30,650
    encoder = 5 * layer + 100
    parts = {name: count_parameters(m) for name, m in model.named_children()}
    assert parts["audio_proj"] == 1024 * 50  # Conv1d(1024, 50, k=1, bias=False)
    for name in ("audio_with_video", "video_with_audio", "audio_aux", "video_aux"):
        assert parts[name] == encoder == 153_350
    for name in ("audio_memory", "video_memory"):
        assert parts[name] == encoder + 5  # one learned alpha per layer
    assert parts["aux1"] + parts["aux2"] + parts["aux3"] + parts["out_layer_aux"] == 170_596
    assert parts["proj1"] + parts["proj2"] + parts["out_layer"] == 20_806


def test_registration_and_recipe():
    entry = get_model_entry("auxformer")
    assert entry.model_class is AuxFormer and entry.config_class is AuxFormerConfig
    assert entry.recipe["optimizer"] == "adam" and entry.recipe["lr"] == pytest.approx(7.25e-4)
    assert entry.recipe["batch_size"] == 32 and entry.recipe["epochs"] == 30 and entry.recipe["augment"]
    assert "ilucasgoncalves/AuxFormer" in entry.code
    assert AuxFormerConfig().inference_head == "mean"


@pytest.mark.parametrize("overrides", [{}, RAW], ids=["features", "raw"])
def test_forward_backward(overrides):
    torch.manual_seed(0)
    model = create_model("auxformer", **overrides).train()
    if overrides:
        g = torch.Generator().manual_seed(1)
        batch = {"audio": torch.randn(2, 40, 16, generator=g), "video": torch.rand(2, 5, 3, 32, 32, generator=g),
                 "audio_mask": torch.arange(40)[None] < torch.tensor([[40], [25]]),
                 "video_mask": torch.arange(5)[None] < torch.tensor([[5], [3]]), "label": torch.tensor([1, 4])}
    else:
        batch = features_batch(lengths_a=[9, 5], lengths_v=[6, 4])
    out = model(batch)
    assert set(out.logits) == {"fused", "audio", "video"}
    assert all(v.shape == (2, 6) and torch.isfinite(v).all() for v in out.logits.values())
    loss, parts = model.compute_loss(out, batch)
    expected = sum(F.cross_entropy(out.logits[h], batch["label"]) for h in ("fused", "audio", "video")) / 3
    torch.testing.assert_close(loss, expected)  # loss = mean of the three cross-entropies
    assert set(parts) == {"loss_fused", "loss_audio", "loss_video"}
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_mean_head_is_mean_of_probabilities():
    model = AuxFormer(AuxFormerConfig()).eval()
    with torch.no_grad():
        out = model(features_batch())
    heads = model.candidate_heads(out)
    assert set(heads) == {"fused", "audio", "video", "mean"}
    probs = torch.stack([out.logits[h].softmax(-1) for h in ("fused", "audio", "video")]).mean(0)
    torch.testing.assert_close(heads["mean"].softmax(-1), probs)
    # the official script's variant: the mean of raw logits
    model.config.mean_over = "logits"
    mean_logits = (out.logits["fused"] + out.logits["audio"] + out.logits["video"]) / 3
    torch.testing.assert_close(model.candidate_heads(out)["mean"], mean_logits)


def test_mean_head_for_regression():
    model = AuxFormer(AuxFormerConfig(task="regression", num_outputs=3)).eval()
    with torch.no_grad():
        out = model(features_batch())
    mean = (out.logits["fused"] + out.logits["audio"] + out.logits["video"]) / 3
    torch.testing.assert_close(model.candidate_heads(out)["mean"], mean)


def test_modality_dropout():
    model = AuxFormer(AuxFormerConfig())
    batch = features_batch()
    g = torch.Generator().manual_seed(0)
    counts = {"audio": 0, "video": 0, "none": 0}
    for _ in range(2000):
        out = model.augment_batch(batch, g)
        zero_a, zero_v = bool((out["audio"] == 0).all()), bool((out["video"] == 0).all())
        assert not (zero_a and zero_v), "at most one modality is dropped per batch"
        counts["audio" if zero_a else "video" if zero_v else "none"] += 1
        if zero_a or zero_v:
            assert out is not batch
    assert abs(counts["audio"] / 2000 - 0.2) < 0.03 and abs(counts["video"] / 2000 - 0.2) < 0.03
    assert not (batch["audio"] == 0).all() and not (batch["video"] == 0).all(), "input batch left untouched"
    # the same generator state gives the same decision
    a = model.augment_batch(batch, torch.Generator().manual_seed(5))
    b = model.augment_batch(batch, torch.Generator().manual_seed(5))
    assert all(torch.equal(a[k], b[k]) for k in ("audio", "video"))
    model.config.modality_dropout_audio, model.config.modality_dropout_video = 0.0, 0.0
    assert model.augment_batch(batch, g) is batch


def test_padded_batch_equals_clips_run_alone():
    """Per-clip future-mask offsets and last *real* step: a padded batch = each clip unpadded."""
    model = AuxFormer(AuxFormerConfig()).eval()
    batch = features_batch(b=3, t_a=11, t_v=8, lengths_a=[11, 4, 7], lengths_v=[8, 8, 2], seed=2)
    with torch.no_grad():
        together = model(batch).logits
        for i, (la, lv) in enumerate(zip([11, 4, 7], [8, 8, 2])):
            alone = model({"audio": batch["audio"][i : i + 1, :la], "video": batch["video"][i : i + 1, :lv]}).logits
            for head in together:
                torch.testing.assert_close(together[head][i : i + 1], alone[head], atol=1e-5, rtol=1e-5)


def test_future_mask_matches_mult_without_padding():
    for tq, tk in [(5, 5), (4, 7), (7, 4)]:
        official = torch.triu(torch.ones(tq, tk), 1 + abs(tk - tq)) == 0  # MulT buffered_future_mask
        ours = future_mask(torch.ones(1, tq, dtype=torch.bool), torch.ones(1, tk, dtype=torch.bool))[0]
        assert torch.equal(ours, official)


def test_causal_mask_hides_later_steps_in_self_attention():
    model = AuxFormer(AuxFormerConfig()).eval()
    x = torch.randn(1, 6, 50)
    mask = torch.ones(1, 6, dtype=torch.bool)
    changed = x.clone()
    changed[:, 4:] += 3.0
    with torch.no_grad():
        a, b = model.audio_aux(x, mask), model.audio_aux(changed, mask)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_fairseq_positions():
    x = torch.randn(1, 4, 50)
    x[0, 2, 0] = 0.0  # fairseq's padding symbol: no position
    pos = fairseq_positions(x, torch.ones(1, 4, dtype=torch.bool), zero_inputs=True)
    freq = math.exp(-math.log(10000.0) / 24 * 3)
    assert pos[0, 0, 3].item() == pytest.approx(math.sin(1 * freq), abs=1e-6)  # positions start at 1
    assert pos[0, 1, 25 + 3].item() == pytest.approx(math.cos(2 * freq), abs=1e-6)  # cos half follows
    assert torch.all(pos[0, 2] == 0)
    assert not torch.all(fairseq_positions(x, torch.ones(1, 4, dtype=torch.bool), zero_inputs=False)[0, 2] == 0)


def test_positions_only_in_cross_modal_encoders_by_default():
    model = AuxFormer(AuxFormerConfig())
    assert model.audio_with_video.positions and model.video_with_audio.positions
    assert not any(m.positions for m in (model.audio_memory, model.video_memory, model.audio_aux, model.video_aux))
    assert AuxFormer(AuxFormerConfig(self_encoder_positions=True)).audio_aux.positions


def test_fast_kernels_attention_is_sdpas_math_written_out():
    """train.kernels="fast" writes SDPA's masked attention out so that its dropout mask comes
    from bench.nn.dropout; without dropout both give the same output, blind queries included."""
    from baselines.auxformer import Attention

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 5, 7, 4, generator=g) for _ in range(3))
    allowed = future_mask(torch.ones(3, 7, dtype=torch.bool), torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 7]).bool())
    allowed = allowed & torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 7]).bool()[:, None, :]
    allowed[2, 3] = False  # query 3 of clip 2 may attend to nothing
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed[:, None])
    got = Attention._explicit(q, k, v, allowed, 0.0)
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.equal(got[2, :, 3], torch.zeros_like(got[2, :, 3]))


def test_fast_kernels_attention_in_place_is_the_plain_formula_bit_for_bit():
    """The explicit path scales and masks in place and adds the mask as 0 / -inf: output and
    every input gradient equal those of the plain ``masked_fill`` formula, bit for bit, so no
    result trained under ``kernels="fast"`` changed with it."""
    from baselines.auxformer import Attention
    from bench.nn.dropout import dropout
    from bench.nn.kernels import use_kernels

    g = torch.Generator().manual_seed(1)  # head width 5, as AuxFormer's: a scale that rounds
    base = [torch.randn(3, 5, 7, 5, generator=g) for _ in range(3)]
    allowed = future_mask(torch.ones(3, 7, dtype=torch.bool), torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 7]).bool())
    grad = torch.randn(3, 5, 7, 5, generator=g)

    def run(plain: bool):
        q, k, v = (t.clone().requires_grad_() for t in base)
        torch.manual_seed(5)
        with use_kernels("fast"):
            if plain:
                scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(5))
                weights = scores.masked_fill(~allowed[:, None], float("-inf")).softmax(dim=-1)
                out = dropout(weights, 0.3, True) @ v
            else:
                out = Attention._explicit(q, k, v, allowed, 0.3)
        out.backward(grad)
        return [t.view(torch.int32) for t in (out.detach(), q.grad, k.grad, v.grad)]

    assert all(torch.equal(a, b) for a, b in zip(run(True), run(False)))


def test_fast_kernels_train_without_bernoulli_in_attention():
    from torch.profiler import ProfilerActivity, profile

    from bench.nn.kernels import use_kernels

    torch.manual_seed(0)
    model = AuxFormer(AuxFormerConfig(**RAW)).train()
    batch = features_batch() | {"audio": torch.randn(2, 40, 16), "video": torch.rand(2, 6, 3, 32, 32)}

    def bernoulli_calls(kernels: str) -> int:
        with use_kernels(kernels), profile(activities=[ProfilerActivity.CPU]) as prof:
            loss, _ = model.compute_loss(model(batch), batch)
            loss.backward()
        return sum(e.count for e in prof.key_averages() if e.key == "aten::bernoulli_")

    assert bernoulli_calls("reference") > 0
    assert bernoulli_calls("fast") == 0


def test_synthetic_cpu_preset_is_registered_with_the_model():
    """The synthetic CPU preset the class docstring derives (DE-III's frontend widths, dropout
    0.1) is data of the model's registration, resolved for synthetic runs on a CPU only; the
    transformer keeps its official sizes."""
    from bench.study.resolve import dataset_presets, resolve_configs

    assert dataset_presets("auxformer", "synthetic")["auxformer/cpu"]["raw_audio_embed_dim"] == 128
    layers: dict = {}
    config, train = resolve_configs("auxformer", "synthetic", device_kind="cpu", layers=layers)
    assert (config.raw_audio_embed_dim, tuple(config.frontend_channels)) == (128, (16, 32, 64, 128))
    assert train.min_epochs == 20 and train.lr == 7.25e-4  # the plateau outlasts a patience of 10; official lr
    assert (config.embed_dropout, config.out_dropout, config.d_model, config.layers) == (0.1, 0.1, 50, 5)
    assert layers["frontend_channels"] == "preset synthetic/auxformer/cpu"
    config, train = resolve_configs("auxformer", "synthetic", device_kind="cuda")
    assert (config.raw_audio_embed_dim, tuple(config.frontend_channels), config.embed_dropout) == (1024, (32, 64, 128, 256), 0.25)
    assert train.min_epochs == 0


def test_frontend_channels_set_the_frame_cnn():
    """``frontend_channels`` reaches the frame CNN (it was fixed at the default before)."""
    from bench.models.registry import create_model
    from bench.nn.frontends import DEFAULT_CNN_CHANNELS

    def params(**kw):
        model = create_model("auxformer", video_input="frames", audio_input="logmel", audio_dim=64, image_size=48, **kw)
        return sum(p.numel() for p in model.video_frontend.parameters())

    assert params(frontend_channels=(16, 32, 64, 128)) < params(frontend_channels=DEFAULT_CNN_CHANNELS)
