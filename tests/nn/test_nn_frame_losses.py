"""The frame-level CCC loss (task "frame"): masked steps, against NumPy written out by hand."""

import numpy as np
import pytest
import torch

from bench.errors import ConfigError
from bench.nn.losses import ccc_loss, head_loss


def numpy_masked_ccc_loss(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """1 - CCC per dimension over the valid steps of all windows together, mean over dimensions."""
    losses = []
    for k in range(pred.shape[-1]):
        x = pred[..., k][mask]
        y = target[..., k][mask]
        mx, my = x.sum() / len(x), y.sum() / len(y)
        vx = ((x - mx) ** 2).sum() / len(x)
        vy = ((y - my) ** 2).sum() / len(y)
        cov = ((x - mx) * (y - my)).sum() / len(x)
        losses.append(1 - 2 * cov / (vx + vy + (mx - my) ** 2))
    return float(np.mean(losses))


def batch(seed=0, b=3, t=7, k=2):
    rng = np.random.default_rng(seed)
    target = rng.uniform(-1, 1, size=(b, t, k))
    pred = 0.6 * target + rng.normal(scale=0.3, size=(b, t, k)) + np.array([0.1, -0.2])[:k]
    mask = np.ones((b, t), dtype=bool)
    mask[1, 5:] = False  # padding at the end of a short window
    mask[2, 2] = False  # an unannotated (-5) step
    target[~mask] = -5.0
    return pred, target, mask


def test_masked_ccc_loss_matches_numpy():
    pred, target, mask = batch()
    got = ccc_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(mask))
    assert float(got) == pytest.approx(numpy_masked_ccc_loss(pred, target, mask), rel=1e-6)
    # the masked steps matter: without the mask the -5 targets would give another value
    unmasked = float(ccc_loss(torch.tensor(pred), torch.tensor(target)))
    assert unmasked != pytest.approx(float(got), rel=1e-3)
    everything = np.ones_like(mask)
    assert unmasked == pytest.approx(numpy_masked_ccc_loss(pred, target, everything), rel=1e-6)


def test_values_at_masked_steps_never_reach_value_or_gradient():
    pred, target, mask = batch(seed=1)
    target[~mask] = np.nan
    p = torch.tensor(pred, requires_grad=True)
    loss = ccc_loss(p, torch.tensor(target), torch.tensor(mask))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(p.grad).all()
    assert torch.all(p.grad[~torch.tensor(mask)] == 0)
    assert float(loss.detach()) == pytest.approx(numpy_masked_ccc_loss(pred, np.nan_to_num(target, nan=-5.0), mask), rel=1e-6)


def test_constant_prediction_is_safe():
    _, target, mask = batch(seed=2)
    p = torch.full(target.shape, 0.3, dtype=torch.float64, requires_grad=True)
    loss = ccc_loss(p, torch.tensor(target), torch.tensor(mask))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(1.0)  # CCC of a constant is 0
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # constant prediction of a constant target: 0 / eps, no NaN
    q = torch.zeros(2, 4, 2, requires_grad=True)
    flat = ccc_loss(q, torch.zeros(2, 4, 2), torch.ones(2, 4, dtype=torch.bool))
    flat.backward()
    assert torch.isfinite(flat) and torch.isfinite(q.grad).all()


def test_no_valid_step_gives_a_zero_loss_with_a_gradient():
    p = torch.randn(2, 3, 2, requires_grad=True)
    loss = ccc_loss(p, torch.randn(2, 3, 2), torch.zeros(2, 3, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.all(p.grad == 0)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="mask"):
        ccc_loss(torch.zeros(2, 3, 2), torch.zeros(2, 3, 2), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="differ in shape"):
        ccc_loss(torch.zeros(2, 3, 2), torch.zeros(2, 3, 1), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ConfigError, match="per-step predictions"):
        head_loss(torch.zeros(2, 2), {"frame_target": torch.zeros(2, 3, 2),
                                      "frame_mask": torch.ones(2, 3, dtype=torch.bool)}, "frame")


def test_head_loss_frame_is_the_masked_ccc_loss():
    pred, target, mask = batch(seed=3)
    logits = torch.tensor(pred, requires_grad=True)
    got = head_loss(logits, {"frame_target": torch.tensor(target), "frame_mask": torch.tensor(mask)}, "frame")
    assert float(got.detach()) == pytest.approx(numpy_masked_ccc_loss(pred, target, mask), rel=1e-6)
    got.backward()
    assert torch.isfinite(logits.grad).all()
