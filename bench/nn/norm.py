"""One masked BatchNorm for every model's padded sequences."""

from __future__ import annotations

import torch
from torch import nn


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over ``(B, C, T)`` whose training statistics use real steps only.

    ``mask`` (B, T) is True on real steps. Without padding (or without a mask) it is plain
    ``BatchNorm1d``: same state-dict keys, same numbers, so SAF stays equal to the official
    ``BatchNorm1d`` under copied weights. With padding, the batch mean and (biased) variance
    are taken over real steps, and the running variance gets the unbiased n / (n - 1) factor
    as torch's does. In eval mode it is always the per-step affine map of the running
    statistics. Padded steps come out normalised like the others: a caller that needs them
    zero (DE-III's Conformer convolution module) zeroes them itself.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        if mask is None or not self.training or bool(mask.all()):
            return super().forward(x)
        dtype = x.dtype
        x = x.float()  # statistics in fp32 (also under bf16 autocast)
        w = mask[:, None, :].to(x.dtype)
        n = w.sum().clamp_min(2.0)
        mean = (x * w).sum((0, 2)) / n
        var = (((x - mean[None, :, None]) ** 2) * w).sum((0, 2)) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1), momentum)
        y = (x - mean[None, :, None]) * torch.rsqrt(var[None, :, None] + self.eps)
        if self.affine:
            y = y * self.weight[None, :, None] + self.bias[None, :, None]
        return y.to(dtype)
