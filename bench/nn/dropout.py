"""Dropout whose random mask comes from the kernel set the trainer chose (``train.kernels``).

Every model in the suite calls :class:`Dropout` / :func:`dropout` instead of ``nn.Dropout`` /
``F.dropout``. Outside :func:`bench.nn.kernels.use_kernels` (and under ``"reference"``) they
*are* torch's dropout: ``bernoulli_`` masks, the exact numbers of every result trained before
the switch.
Under ``"fast"`` the mask is ``rand >= p``: the same distribution (each unit kept with
probability 1 - p, kept units scaled by 1 / (1 - p)), drawn from a different random stream.
On CPU, ``bernoulli_`` is the single most expensive op of a DE-III training step (16.5% of it,
measured in the profile that issue 10 quotes); ``rand`` + compare fills the same mask about
1.8x faster. The method is unchanged; the numbers for a given seed are not (a different stream
of random draws), which is why ``train.kernels`` is part of a result's cache key.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.nn.kernels import fast_kernels


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout(x, p, training)``, with the mask drawn as the active kernel set says."""
    if not training or p == 0.0 or not fast_kernels():
        return F.dropout(x, p, training)
    if p == 1.0:
        return x * 0.0
    # The uniform draws become the mask in place (1.0 / 0.0, then the scale): the same mask,
    # bit for bit, as ``(rand >= p).to(dtype) * scale`` without a bool tensor and its conversion
    # (dropout forward + backward 1.26-1.30x on attention-sized tensors, one thread).
    mask = torch.rand_like(x).ge_(p).mul_(1.0 / (1.0 - p))
    return x * mask


class Dropout(nn.Dropout):
    """``nn.Dropout`` (same parameters, same state dict) drawing its mask through :func:`dropout`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace:  # no model of the suite uses it; keep torch's own path
            return super().forward(x)
        return dropout(x, self.p, self.training)
