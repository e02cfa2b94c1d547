"""Task "frame" (per-step targets, e.g. Aff-Wild2 valence/arousal) for every registered model.

The model list comes from the registry, as in test_all_models.py, so a model registered
tomorrow is covered here too; it runs at the size overrides of test_all_models.TINY (its
defaults where it has none). Batches follow the frame-window layout of bench/models/contract.py:
``frame_target`` (B, T, K) and ``frame_mask`` (B, T), False on padding and on unannotated steps.
"""

from __future__ import annotations

import pytest
import torch

from bench.config import to_dict
from bench.errors import ConfigError, MissingInputError
from bench.models.contract import AVModel, count_parameters, linear_step_weights, to_frame_steps
from bench.models.registry import create_model, list_models, resolve_config
from bench.nn.losses import ccc_loss, head_loss
from tests.models.test_all_models import MODES, TINY

MODELS = list_models()
K = 2  # valence, arousal


def build(name: str, mode: str = "features", seed: int = 0, **extra) -> AVModel:
    torch.manual_seed(seed)
    fields = set(to_dict(resolve_config(name)))
    tiny = {k: v for k, v in TINY.get(name, {}).items() if k in fields}
    overrides = {**tiny, **MODES[mode], "task": "frame", "num_outputs": K, **extra}
    return create_model(name, resolve_config(name, None, **overrides))


def frame_batch(make_batch, config, *, frames: int = 6, seed: int = 0, **kwargs) -> dict:
    """A frame-window batch: clip 0 full length, clip 1 padded after 60 %; a few real steps unannotated."""
    batch = make_batch(config, frames=frames, seed=seed, **kwargs)
    batch.pop("target", None)
    batch.pop("label", None)
    g = torch.Generator().manual_seed(seed + 100)
    b, t = batch["video_mask"].shape
    annotated = torch.ones(b, t, dtype=torch.bool)
    annotated[0, 1] = False  # an ABAW -5 gap inside a real clip
    annotated[1, 0] = False
    batch["frame_target"] = torch.rand(b, t, K, generator=g) * 2 - 1
    batch["frame_target"][~annotated] = -5.0
    batch["frame_mask"] = batch["video_mask"] & annotated
    batch["window_start"] = torch.arange(b) * 8
    return batch


@pytest.fixture(params=MODELS)
def name(request) -> str:
    return request.param


@pytest.fixture(params=list(MODES))
def mode(request) -> str:
    return request.param


def test_every_head_is_per_step_and_trains(name, mode, make_batch):
    model = build(name, mode).train()
    batch = frame_batch(make_batch, model.config)
    b, t = batch["frame_mask"].shape
    output = model(batch)
    heads = model.candidate_heads(output)
    assert set(output.logits) <= set(heads)
    for head, values in heads.items():
        assert values.shape == (b, t, K), f"{name} ({mode}): head {head} has shape {tuple(values.shape)}"
        assert torch.isfinite(values).all(), f"{name} ({mode}): head {head} is not finite"
    loss, parts = model.compute_loss(output, batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert all(k.startswith("loss_") for k in parts)
    loss.backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not missing, f"{name} ({mode}): parameters without a finite gradient: {missing}"


def test_frame_task_has_the_regression_parameters(name):
    """Per-step heads reuse the pooled heads' modules: the task changes no parameter count."""
    assert count_parameters(build(name, task="frame")) == count_parameters(build(name, task="regression"))


def test_masked_steps_do_not_change_the_loss(name, make_batch):
    model = build(name).eval()
    batch = frame_batch(make_batch, model.config, seed=1)
    with torch.no_grad():
        output = model(batch)
        reference, _ = model.compute_loss(output, batch)
        perturbed = dict(batch, frame_target=batch["frame_target"].clone())
        perturbed["frame_target"][~batch["frame_mask"]] = torch.tensor([1e6, float("nan")])
        changed, _ = model.compute_loss(output, perturbed)
        assert torch.isfinite(changed)
        assert float(changed) == float(reference), f"{name}: a masked step changed the loss"
        valid = dict(batch, frame_target=batch["frame_target"].clone())
        valid["frame_target"][0, 0] += 3.0  # a valid step: the loss must see it
        moved, _ = model.compute_loss(output, valid)
    assert float(moved) != float(reference), f"{name}: the loss ignores valid steps"


def test_padding_does_not_change_real_step_outputs(name, make_batch, pad_batch):
    model = build(name).eval()
    batch = frame_batch(make_batch, model.config, seed=3)
    padded = pad_batch(batch, extra_frames=3)
    b, t = batch["frame_mask"].shape
    padded["frame_target"] = torch.cat([batch["frame_target"], torch.full((b, 3, K), -5.0)], dim=1)
    padded["frame_mask"] = torch.cat([batch["frame_mask"], torch.zeros(b, 3, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        reference, longer = model(batch).logits, model(padded).logits
    real = batch["video_mask"]
    for head in reference:
        assert longer[head].shape == (b, t + 3, K)
        torch.testing.assert_close(
            longer[head][:, :t][real], reference[head][real], atol=1e-4, rtol=1e-4,
            msg=lambda m, head=head: f"{name}: head {head} changed at real steps with extra padding: {m}",
        )


def test_one_optimiser_step_reduces_the_ccc_loss(name, make_batch):
    """A small step along the normalised gradient lowers 1 - CCC on a fixed batch (eval mode: no dropout)."""
    model = build(name).eval()
    batch = frame_batch(make_batch, model.config, seed=2)
    loss, _ = model.compute_loss(model(batch), batch)
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params))
    assert float(norm) > 0, f"{name}: zero gradient"
    optimizer = torch.optim.SGD(params, lr=1e-3 / float(norm))
    optimizer.step()
    with torch.no_grad():
        after, _ = model.compute_loss(model(batch), batch)
    before = float(loss.detach())
    assert float(after) < before, f"{name}: loss {before:.6f} -> {float(after):.6f} after one step"


def test_bf16_autocast(name, make_batch):
    model = build(name, "raw").train()
    batch = frame_batch(make_batch, model.config)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(batch)
        loss, _ = model.compute_loss(output, batch)
    loss.backward()
    assert torch.isfinite(loss), f"{name}: frame loss under bf16 autocast is not finite"


def test_missing_frame_keys_are_clear_errors(make_batch):
    model = build("deiii").eval()
    batch = frame_batch(make_batch, model.config)
    del batch["frame_mask"]
    with pytest.raises(MissingInputError, match="frame_mask"):
        model(batch)
    with pytest.raises(ConfigError, match=r"per-step predictions \(B, T, K\)"):
        head_loss(torch.zeros(2, K), {"frame_target": torch.zeros(2, 6, K), "frame_mask": torch.ones(2, 6, dtype=torch.bool)}, "frame")


# -- RJA: its own protocol ------------------------------------------------------------------
@pytest.mark.parametrize("passes", [1, 2, 3])
@pytest.mark.parametrize("shared", [True, False])
def test_rja_recursion_passes_and_weight_sharing(passes, shared, make_batch):
    model = build("rja", num_passes=passes, share_weights=shared).train()
    assert len(model.joint_attention) == (1 if shared else passes)
    batch = frame_batch(make_batch, model.config)
    output = model(batch)
    assert output.logits["fused"].shape == (2, 6, K)
    loss, _ = model.compute_loss(output, batch)
    loss.backward()
    used = model.joint_attention.parameters()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in used), "a pass got no gradient"
    one = count_parameters(build("rja", num_passes=1))
    if shared or passes == 1:
        assert count_parameters(model) == one
    else:
        per_pass = count_parameters(model.joint_attention[0])
        assert count_parameters(model) == one + (passes - 1) * per_pass > one


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_rja_separate_weights_work_for_clip_tasks(task, make_batch):
    model = build("rja", task=task, num_outputs=3, num_passes=3, share_weights=False).train()
    batch = make_batch(model.config)
    loss, _ = model.compute_loss(model(batch), batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert count_parameters(model) > count_parameters(build("rja", task=task, num_outputs=3, num_passes=3))


def test_rja_window_of_seq_len_steps_is_the_official_per_step_output(make_batch):
    """T = L: segment t is step t; the regression output is the mean of the frame outputs."""
    frame = build("rja").eval()
    regression = build("rja", task="regression").eval()
    regression.load_state_dict(frame.state_dict())
    batch = frame_batch(make_batch, frame.config, frames=16, lengths=(1.0, 1.0))
    with torch.no_grad():
        per_step = frame(batch).logits["fused"]
        pooled = regression(batch).logits["fused"]
    assert per_step.shape == (2, 16, K)
    torch.testing.assert_close(per_step.mean(dim=1), pooled)
    assert not torch.allclose(per_step[:, 0], per_step[:, -1])  # not one value broadcast


def test_rja_frame_loss_is_the_official_sum_over_targets(make_batch):
    model = build("rja").eval()
    batch = frame_batch(make_batch, model.config)
    with torch.no_grad():
        output = model(batch)
        loss, parts = model.compute_loss(output, batch)
    mean_loss = ccc_loss(output.logits["fused"], batch["frame_target"], batch["frame_mask"])
    torch.testing.assert_close(loss, K * mean_loss)  # (1 - CCC_V) + (1 - CCC_A)
    assert {"loss_ccc_0", "loss_ccc_1", "loss_fused"} <= set(parts)


# -- alignment helpers ------------------------------------------------------------------------
def test_linear_step_weights():
    full = torch.ones(1, 4, dtype=torch.bool)
    torch.testing.assert_close(linear_step_weights(full, full)[0], torch.eye(4, dtype=torch.float64))
    # 2 source steps spread over 4 destination steps: positions -0.25, 0.25, 0.75, 1.25 (clamped)
    two = torch.ones(1, 2, dtype=torch.bool)
    values = torch.tensor([[[0.0], [1.0]]], dtype=torch.float64)
    got = torch.einsum("bts,bsd->btd", linear_step_weights(two, full), values)[0, :, 0]
    torch.testing.assert_close(got, torch.tensor([0.0, 0.25, 0.75, 1.0], dtype=torch.float64))
    # padding on either side: zero rows for padded destinations, zero weight on padded sources
    src = torch.tensor([[True, True, True, False]])
    dst = torch.tensor([[True, True, True, False, False]])
    w = linear_step_weights(src, dst)[0]
    torch.testing.assert_close(w[:3, :3], torch.eye(3, dtype=torch.float64))
    assert torch.all(w[3:] == 0) and torch.all(w[:, 3] == 0)
    empty = linear_step_weights(torch.zeros(1, 3, dtype=torch.bool), full)
    assert torch.all(empty == 0)


def test_to_frame_steps_aligns_to_the_window():
    batch = {"frame_mask": torch.ones(1, 4, dtype=torch.bool), "video_mask": torch.ones(1, 4, dtype=torch.bool)}
    same = torch.randn(1, 4, 3)
    assert to_frame_steps(same, torch.ones(1, 4, dtype=torch.bool), batch) is same
    audio = torch.arange(8.0).view(1, 8, 1)  # 8 audio steps over the same 4-step window
    out = to_frame_steps(audio, torch.ones(1, 8, dtype=torch.bool), batch)
    torch.testing.assert_close(out[0, :, 0], torch.tensor([0.5, 2.5, 4.5, 6.5]))
    no_video = {"frame_mask": torch.ones(1, 4, dtype=torch.bool)}  # T from frame_mask
    assert to_frame_steps(audio, torch.ones(1, 8, dtype=torch.bool), no_video).shape == (1, 4, 1)


def test_to_frame_steps_is_the_dense_interpolation_under_padding():
    g = torch.Generator().manual_seed(0)
    src = torch.arange(11)[None] < torch.tensor([[11], [7], [0]])  # full, padded, empty
    dst = torch.arange(5)[None] < torch.tensor([[5], [3], [4]])
    x = torch.randn(3, 11, 2, generator=g, dtype=torch.float64)
    got = to_frame_steps(x, src, {"frame_mask": dst, "video_mask": dst})
    want = torch.einsum("bts,bsd->btd", linear_step_weights(src, dst), x)
    torch.testing.assert_close(got, want)
    assert torch.all(got[1, 3:] == 0) and torch.all(got[2] == 0)
    torch.testing.assert_close(linear_step_weights(src, dst).sum(-1)[0], torch.ones(5, dtype=torch.float64))
