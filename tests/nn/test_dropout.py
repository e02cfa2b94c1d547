"""bench.nn.dropout: torch's dropout under "reference", the same distribution under "fast"."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench.nn.dropout import Dropout, dropout
from bench.nn.kernels import current_kernels, use_kernels


def test_reference_is_torch_dropout_bit_for_bit():
    x = torch.randn(64, 33)
    torch.manual_seed(3)
    expected = F.dropout(x, 0.3, True)
    torch.manual_seed(3)
    with use_kernels("reference"):
        got = dropout(x, 0.3, True)
    assert torch.equal(got, expected)


def test_outside_any_block_the_reference_path_runs():
    assert current_kernels() == "reference"
    x = torch.randn(10, 10)
    torch.manual_seed(0)
    a = Dropout(0.5).train()(x)
    torch.manual_seed(0)
    assert torch.equal(a, F.dropout(x, 0.5, True))


@pytest.mark.parametrize("p", [0.1, 0.25, 0.6])
def test_fast_keeps_each_unit_with_probability_one_minus_p_and_rescales(p):
    torch.manual_seed(0)
    x = torch.ones(400_000)
    with use_kernels("fast"):
        y = dropout(x, p, True)
    kept = y != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005  # 4 sigma at n = 4e5 is < 0.004
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    assert abs(y.mean().item() - 1.0) < 0.01  # unbiased, as inverted dropout must be


def test_fast_draws_another_stream_than_bernoulli():
    x = torch.ones(1000)
    torch.manual_seed(1)
    with use_kernels("fast"):
        fast = dropout(x, 0.5, True)
    torch.manual_seed(1)
    assert not torch.equal(fast, F.dropout(x, 0.5, True))


def test_fast_mask_is_the_uniform_stream_compared_bit_for_bit():
    """Pins the fast path's numbers: the mask is ``(rand >= p) * 1/(1-p)`` from the same draws,
    so building it in place changed no result trained with ``kernels="fast"``."""
    x = torch.randn(6, 40, 50, requires_grad=True)
    grad = torch.randn(6, 40, 50)
    torch.manual_seed(7)
    mask = (torch.rand(6, 40, 50) >= 0.3).to(torch.float32).mul_(1.0 / 0.7)
    torch.manual_seed(7)
    with use_kernels("fast"):
        got = dropout(x, 0.3, True)
    got.backward(grad)
    # compared as bits, so that the sign of every dropped zero matches too
    assert torch.equal(got.detach().view(torch.int32), (x.detach() * mask).view(torch.int32))
    assert torch.equal(x.grad.view(torch.int32), (grad * mask).view(torch.int32))


def test_fast_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(0)
    x = torch.randn(50, 20, requires_grad=True)
    with use_kernels("fast"):
        y = dropout(x, 0.4, True)
    y.sum().backward()
    expected = (y.detach() != 0).float() / 0.6
    assert torch.allclose(x.grad, expected)


def test_eval_mode_and_edge_rates():
    x = torch.randn(8, 8)
    with use_kernels("fast"):
        assert torch.equal(Dropout(0.5).eval()(x), x)
        assert torch.equal(dropout(x, 0.0, True), x)
        assert torch.count_nonzero(dropout(x, 1.0, True)) == 0


def test_the_setting_is_scoped_to_the_block():
    with use_kernels("fast"):
        assert current_kernels() == "fast"
        with use_kernels("reference"):
            assert current_kernels() == "reference"
        assert current_kernels() == "fast"
    assert current_kernels() == "reference"
    with pytest.raises(ValueError, match="fast"):
        with use_kernels("quick"):
            pass


def test_state_dict_is_nn_dropouts():
    assert Dropout(0.2).state_dict() == torch.nn.Dropout(0.2).state_dict() == {}
