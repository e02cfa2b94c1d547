"""bench.nn.norm.MaskedBatchNorm1d: the one masked BatchNorm (SAF's stage-1 blocks, DE-III's
Conformer convolution module)."""

from __future__ import annotations

import torch

from bench.nn.norm import MaskedBatchNorm1d


def test_without_padding_it_is_batchnorm1d_exactly():
    torch.manual_seed(0)
    x = torch.randn(4, 6, 9)
    ours, theirs = MaskedBatchNorm1d(6), torch.nn.BatchNorm1d(6)
    theirs.load_state_dict(ours.state_dict())
    assert torch.equal(ours(x, torch.ones(4, 9, dtype=torch.bool)), theirs(x))
    assert torch.equal(ours.running_var, theirs.running_var)
    ours.eval(), theirs.eval()
    assert torch.equal(ours(x), theirs(x))


def test_statistics_see_real_steps_only():
    torch.manual_seed(1)
    x = torch.randn(3, 5, 8)
    mask = torch.ones(3, 8, dtype=torch.bool)
    mask[0, 5:] = False
    mask[2, 2:] = False
    a = x.clone()
    a[~mask[:, None, :].expand_as(a)] = 1e6  # garbage in the padding must not move anything
    norm_a, norm_x = MaskedBatchNorm1d(5), MaskedBatchNorm1d(5)
    out_a, out_x = norm_a(a, mask), norm_x(x, mask)
    real = mask[:, None, :].expand_as(x)
    assert torch.allclose(out_a[real], out_x[real])
    assert torch.allclose(norm_a.running_mean, norm_x.running_mean)
    # the real steps, written out: (x - mean) / sqrt(var + eps) with moments over real steps
    values = x.permute(1, 0, 2)[:, mask]  # (C, N_real)
    mean, var = values.mean(1), values.var(1, unbiased=False)
    expected = (x - mean[None, :, None]) / torch.sqrt(var[None, :, None] + norm_x.eps)
    assert torch.allclose(out_x[real], expected[real], atol=1e-5)
    n = int(mask.sum())
    assert torch.allclose(norm_x.running_var, 0.9 * torch.ones(5) + 0.1 * var * n / (n - 1), atol=1e-6)
