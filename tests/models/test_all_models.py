"""Registry-driven tests: every registered model, on raw inputs and on precomputed features.

Like timm's test_models.py, the list comes from the registry, so a model registered tomorrow
is covered without editing this file. Each model runs at its default config except for the
size overrides in ``TINY`` (only where a default model is too slow for a unit test).
"""

from __future__ import annotations

import pytest
import torch

from bench.config import to_dict
from bench.models.contract import AVModel, ModelOutput
from bench.errors import MissingInputError
from bench.models.registry import create_model, list_models, resolve_config

# Per-model size overrides for speed (test-only); models not listed run at their defaults.
TINY: dict[str, dict] = {
    "deiii": {
        "d_model": 32, "num_heads": 2, "num_layers": 1, "fusion_layers": 1, "conv_kernel": 5,
        "head_hidden": (16,), "frontend_dim": 16, "frontend_channels": (8, 16),
    },
    "auxformer": {"layers": 1, "aux_hidden_1": 32, "aux_hidden_2": 16, "raw_audio_embed_dim": 64},
    "saf": {
        "efficientface_widths": [8, 16, 32, 64, 64], "efficientface_repeats": [1, 1, 1],
        "video_stage1": [16, 16], "video_stage2": [32, 32], "audio_stage1": [16, 32],
        "audio_stage2": [32, 32], "fusion_dim": 32,
    },
    "rja": {
        "hidden": 32, "head_hidden": 16, "frontend_channels": (8, 16), "video_channels": 16,
        "video_dim": 16 * 49, "raw_audio_embed_dim": 32,
    },
}

# Parameters a model owns but (by design, and documented in the model) never uses in forward.
NO_GRADIENT: dict[str, tuple[str, ...]] = {}

# Input modes: raw media through the shared frontends, or precomputed per-step features.
MODES = {
    "raw": {"video_input": "frames", "flow_input": "frames", "audio_input": "logmel", "audio_dim": 64},
    "features": {"video_input": "features", "flow_input": "features", "audio_input": "features"},
}

MODELS = list_models()


def build(name: str, mode: str, seed: int = 0, **extra) -> AVModel:
    torch.manual_seed(seed)
    fields = set(to_dict(resolve_config(name)))
    # Size overrides are for speed only: one a model no longer has is skipped, not an error.
    tiny = {k: v for k, v in TINY.get(name, {}).items() if k in fields}
    overrides = {**tiny, **MODES[mode], **extra}
    # Keep a model's own feature widths (some use features as they are, e.g. AuxFormer's
    # 50-d EMOCA codes); only the log-mel width is fixed by the batch we build.
    return create_model(name, resolve_config(name, None, **overrides))


@pytest.fixture(params=MODELS)
def name(request) -> str:
    return request.param


@pytest.fixture(params=list(MODES))
def mode(request) -> str:
    return request.param


def test_registry_is_not_empty():
    assert "deiii" in MODELS


def test_forward_backward(name, mode, make_batch):
    model = build(name, mode)
    model.train()
    batch = make_batch(model.config)
    output = model(batch)
    assert isinstance(output, ModelOutput) and output.logits
    for head, logits in output.logits.items():
        assert logits.shape == (2, model.config.num_outputs), f"{name}: head {head} has shape {tuple(logits.shape)}"
        assert torch.isfinite(logits).all(), f"{name}: head {head} is not finite"
    for key, weights in output.attention.items():
        assert torch.isfinite(weights).all(), f"{name}: attention {key} is not finite"
    loss, parts = model.compute_loss(output, batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert all(k.startswith("loss_") for k in parts)
    loss.backward()
    allowed = NO_GRADIENT.get(name, ())
    missing = [
        n for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())
        and not n.startswith(allowed)
    ]
    assert not missing, f"{name} ({mode}): parameters without a finite gradient: {missing}"


def test_padding_does_not_change_real_outputs(name, mode, make_batch, pad_batch):
    model = build(name, mode).eval()
    batch = make_batch(model.config, seed=3)
    with torch.no_grad():
        reference = model(batch).logits
        padded = model(pad_batch(batch)).logits
    for head in reference:
        torch.testing.assert_close(
            padded[head], reference[head], atol=1e-4, rtol=1e-4,
            msg=lambda m, head=head: f"{name} ({mode}): head {head} changed with extra padding: {m}",
        )


def test_same_seed_same_output(name, make_batch):
    first, second = build(name, "raw", seed=7).eval(), build(name, "raw", seed=7).eval()
    batch = make_batch(first.config, seed=5)
    with torch.no_grad():
        a, b = first(batch).logits, second(batch).logits
    for head in a:
        assert torch.equal(a[head], b[head]), f"{name}: head {head} differs between two builds with seed 7"


def test_missing_input_is_a_clear_error(name, make_batch):
    model = build(name, "features").eval()
    batch = make_batch(model.config)
    required = model.required_inputs()
    assert required, f"{name} declares no inputs"
    for key in required:
        partial = {k: v for k, v in batch.items() if k not in (key, f"{key}_mask")}
        with pytest.raises(MissingInputError, match=repr(key)):
            model(partial)


def test_bf16_autocast(name, make_batch):
    """The trainer runs bf16 autocast on CUDA; CPU autocast catches the same dtype mismatches."""
    model = build(name, "raw").train()
    batch = make_batch(model.config)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(batch)
        loss, _ = model.compute_loss(output, batch)
    loss.backward()
    assert torch.isfinite(loss), f"{name}: loss under bf16 autocast is not finite"
