"""CCC and its loss against a NumPy reference (Lin, 1989, population moments)."""

import numpy as np
import pytest
import torch

from bench.nn.losses import ccc, ccc_loss, head_loss


def numpy_ccc(x: np.ndarray, y: np.ndarray) -> float:
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).mean()
    return 2 * cov / (x.var() + y.var() + (mx - my) ** 2)


def test_ccc_matches_numpy_per_column():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(64, 3))
    prediction = 0.7 * target + rng.normal(scale=0.5, size=(64, 3)) + np.array([0.0, 0.3, -1.0])
    got = ccc(torch.tensor(prediction), torch.tensor(target)).numpy()
    want = [numpy_ccc(prediction[:, k], target[:, k]) for k in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert float(ccc_loss(torch.tensor(prediction), torch.tensor(target))) == pytest.approx(1 - np.mean(want), rel=1e-5)


def test_ccc_is_one_for_identity_and_penalises_bias():
    t = torch.linspace(-1, 1, 50)
    assert float(ccc(t, t)) == pytest.approx(1.0, abs=1e-6)
    assert float(ccc(t + 1.0, t)) < 0.6  # perfectly correlated but shifted: CCC punishes the bias


def test_head_loss_picks_task():
    logits = torch.randn(4, 3, requires_grad=True)
    batch = {"label": torch.tensor([0, 1, 2, 0]), "target": torch.randn(4, 3)}
    ce = head_loss(logits, batch, "classification")
    assert float(ce.detach()) == pytest.approx(float(torch.nn.functional.cross_entropy(logits.detach(), batch["label"])))
    reg = head_loss(logits, batch, "regression")
    reg.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
