"""DE-III specifics: every ablation is a config change, attention maps, Conformer masking."""

from __future__ import annotations

import pytest
import torch

from bench.errors import ConfigError
from bench.models.registry import create_model, get_model_entry
from deiii import SMALL, DEIIIConfig
from deiii.conformer import SequenceEncoder
from deiii.flow_pathway import FlowPathway

TINY = dict(d_model=32, num_heads=2, num_layers=1, fusion_layers=1, conv_kernel=5, head_hidden=(16,),
            frontend_dim=16, frontend_channels=(8, 16))


def tiny(**overrides):
    torch.manual_seed(0)
    return create_model("deiii", **{**TINY, **overrides})


def train_step(model, batch):
    model.train()
    output = model(batch)
    loss, _ = model.compute_loss(output, batch)
    loss.backward()
    assert torch.isfinite(loss)
    return output


@pytest.mark.parametrize(
    "overrides, maps",
    [
        ({}, {"ov_pair", "ife_audio", "ife_video"}),
        ({"use_flow": False}, {"ife_audio", "ife_video"}),
        ({"ov_fusion": "concat"}, {"ife_audio", "ife_video"}),
        ({"ov_fusion": "add", "flow_alignment": "departure"}, {"ife_audio", "ife_video"}),
        ({"ov_fusion": "none"}, {"ife_audio", "ife_video"}),
        ({"ife": "audio"}, {"ov_pair", "ife_audio"}),
        ({"ife": "video"}, {"ov_pair", "ife_video"}),
        ({"ife": "none", "fusion_layers": 0}, {"ov_pair"}),
        ({"encoder": "transformer", "pos_encoding": "absolute"}, {"ov_pair", "ife_audio", "ife_video"}),
        ({"pos_encoding": "none", "conv_norm": "layer", "ife_ffn": False}, {"ov_pair", "ife_audio", "ife_video"}),
        ({"return_attention": False}, set()),
    ],
)
def test_every_ablation_is_a_config_change(overrides, maps, make_batch):
    model = tiny(**overrides)
    batch = make_batch(model.config)
    if not model.config.uses_flow:
        assert "flow" not in model.required_inputs()
        del batch["flow"], batch["flow_mask"]  # a store prepared without flow is enough
    output = train_step(model, batch)
    assert set(output.logits) == {"video", "audio", "fused"}
    assert set(output.attention) == maps
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, no_grad


def test_attention_maps_shapes_and_masking(make_batch):
    model = tiny().eval()
    batch = make_batch(model.config, frames=6, audio_steps=40)  # log-mel 40 -> 10 steps
    with torch.no_grad():
        maps = model(batch).attention
    heads = model.config.num_heads
    assert maps["ife_audio"].shape == (2, heads, 10, 6)  # audio queries video
    assert maps["ife_video"].shape == (2, heads, 6, 10)  # video queries audio
    assert maps["ov_pair"].shape == (2, heads, 6, 2, 2)
    for key in ("ife_audio", "ife_video", "ov_pair"):
        torch.testing.assert_close(maps[key].sum(-1), torch.ones_like(maps[key].sum(-1)))
    # clip 1 has 4 real frames of 6 (make_batch: 60 %): no attention to its padded frames
    real_frames = int(batch["video_mask"][1].sum())
    assert maps["ife_audio"][1, :, :, real_frames:].abs().max() == 0


def test_attention_maps_do_not_change_predictions(make_batch):
    with_maps, without = tiny().eval(), tiny(return_attention=False).eval()
    batch = make_batch(with_maps.config)
    with torch.no_grad():
        a, b = with_maps(batch).logits, without(batch).logits
    for head in a:
        torch.testing.assert_close(a[head], b[head], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["conformer", "transformer"])
def test_encoder_ignores_padding_and_never_mixes_the_batch(kind):
    torch.manual_seed(0)
    encoder = SequenceEncoder(kind, 16, 2, 2, 2, 7, dropout=0.0)
    encoder.train()  # the masked BatchNorm must not see padded steps
    x = torch.randn(3, 9, 16)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[1, 5:] = False
    mask[2, 2:] = False
    out = encoder(x, mask)
    padded = torch.cat([x, 30 * torch.randn(3, 4, 16)], dim=1)
    out_padded = encoder(padded, torch.cat([mask, torch.zeros(3, 4, dtype=torch.bool)], dim=1))
    torch.testing.assert_close(out_padded[:, :9][mask], out[mask], atol=1e-5, rtol=1e-5)
    assert (out[~mask] == 0).all()
    # batch-first: a clip's output does not depend on the other clips (VAVL's (T, B, C) bug)
    encoder.eval()
    alone = encoder(x[:1], mask[:1])
    together = encoder(x, mask)
    torch.testing.assert_close(together[:1], alone, atol=1e-5, rtol=1e-5)


def test_flow_alignment_pairs_each_field_with_its_frame():
    config = DEIIIConfig(flow_input="features", flow_dim=4, frontend_dim=4, d_model=4)
    pathway = FlowPathway(config)
    flow = torch.randn(1, 3, 4)  # T - 1 = 3 fields for T = 4 frames
    video_mask = torch.ones(1, 4, dtype=torch.bool)
    feats = pathway.proj(pathway.frontend(flow, None)[0])
    arrival = pathway(flow, torch.ones(1, 3, dtype=torch.bool), video_mask)
    torch.testing.assert_close(arrival[0, 0], pathway.no_flow)  # frame 0 has no incoming motion
    torch.testing.assert_close(arrival[:, 1:], feats)
    pathway.alignment = "departure"
    departure = pathway(flow, torch.ones(1, 3, dtype=torch.bool), video_mask)
    torch.testing.assert_close(departure[:, :3], feats)
    torch.testing.assert_close(departure[0, 3], pathway.no_flow)


def test_loss_weights_and_regression_with_ccc(make_batch):
    model = tiny(task="regression", num_outputs=3, loss_weights={"video": 0.5, "audio": 0.25, "fused": 1.0})
    batch = make_batch(model.config, batch_size=4)
    output = model(batch)
    loss, parts = model.compute_loss(output, batch)
    expected = 0.5 * parts["loss_video"] + 0.25 * parts["loss_audio"] + 1.0 * parts["loss_fused"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    assert all(0.0 <= v <= 2.0 for v in parts.values())  # 1 - CCC lies in [0, 2]
    loss.backward()


def test_defaults_follow_vavl_and_recipe():
    config = DEIIIConfig()
    assert (config.d_model, config.num_heads, config.num_layers, config.ff_mult, config.conv_kernel) == (512, 8, 3, 4, 31)
    assert config.frontend_dim == 50 and config.head_hidden == (512, 256) and config.dropout == 0.1
    assert config.inference_head == "validation"
    entry = get_model_entry("deiii")
    assert entry.recipe == {"optimizer": "adam", "lr": 5e-5, "epochs": 20, "batch_size": 32}
    assert "2405.16701" in entry.paper


def test_small_preset_on_default_input_sizes(make_batch):
    torch.manual_seed(0)
    model = create_model("deiii", **SMALL)
    batch = make_batch(model.config, frames=16, audio_steps=200)
    output = train_step(model, batch)
    assert output.attention["ife_audio"].shape == (2, 4, 50, 16)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"d_model": 30, "num_heads": 4}, "divisible"),
        ({"conv_kernel": 4}, "odd"),
        ({"loss_weights": {"vidoe": 1.0}}, "unknown heads"),
    ],
)
def test_bad_configs_are_clear_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        create_model("deiii", **{**TINY, **overrides})
