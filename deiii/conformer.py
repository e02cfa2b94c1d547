"""The intra-modal encoders: our own batch-first Conformer (and a plain Transformer for ablation).

DE-III (Shi et al., arXiv 2405.16701; no official code) encodes audio and video with
separate Conformer encoders, as VAVL does. A Conformer block (Gulati et al., 2020) is a
"macaron" of two half-step feed-forwards around self-attention and a convolution module::

    x = x + 1/2 FFN(x)            LN -> Linear(d, m*d) -> Swish -> Dropout -> Linear -> Dropout
    x = x + MHSA(x)               LN -> multi-head self-attention (positions) -> Dropout
    x = x + Conv(x)               LN -> pointwise (d -> 2d) -> GLU -> depthwise (k) -> Norm
                                     -> Swish -> pointwise -> Dropout
    x = x + 1/2 FFN(x)
    x = LN(x)

Everything is batch-first ``(B, T, D)`` (VAVL feeds ``(T, B, C)`` into a batch-first
Conformer, so its attention mixes clips of the batch; we do not). Padding never leaks into
real steps: attention ignores padded keys, the depthwise convolution reads zeros at padded
steps (as it would past the end of the clip), and the BatchNorm of the convolution module
computes its statistics over real steps only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.nn.attention import MultiHeadAttention, sinusoidal_positions, zero_padding
from bench.nn.dropout import Dropout
from bench.nn.norm import MaskedBatchNorm1d


class FeedForward(nn.Sequential):
    """Pre-LN position-wise feed-forward: LN -> Linear(d, m*d) -> activation -> Dropout -> Linear -> Dropout."""

    def __init__(self, dim: int, mult: int, dropout: float, activation: type[nn.Module] = nn.SiLU):
        super().__init__(
            nn.LayerNorm(dim),
            nn.Linear(dim, mult * dim),
            activation(),
            Dropout(dropout),
            nn.Linear(mult * dim, dim),
            Dropout(dropout),
        )


class ConvModule(nn.Module):
    """Conformer convolution module; ``norm`` is "batch" (masked BatchNorm) or "layer"."""

    def __init__(self, dim: int, kernel_size: int, dropout: float, norm: str = "batch"):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"the depthwise kernel must be odd (same-length output), got {kernel_size}")
        self.pre_norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Linear(dim, 2 * dim)  # a k=1 convolution over (B, T, D)
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm_kind = norm
        self.norm = MaskedBatchNorm1d(dim) if norm == "batch" else nn.LayerNorm(dim)
        self.pointwise_out = nn.Linear(dim, dim)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = F.glu(self.pointwise_in(self.pre_norm(x)), dim=-1)
        x = zero_padding(x, mask)
        x = self.depthwise(x.transpose(1, 2))  # (B, D, T)
        if self.norm_kind == "batch":  # statistics over real steps only; padded steps zeroed after
            x = zero_padding(self.norm(x, mask).transpose(1, 2), mask)
        else:
            x = self.norm(x.transpose(1, 2))
        return self.dropout(self.pointwise_out(F.silu(x)))


class SelfAttention(nn.Module):
    """Pre-LN multi-head self-attention with key padding mask (rotary positions optional)."""

    def __init__(self, dim: int, num_heads: int, dropout: float, rotary: bool):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, dropout, rotary=rotary)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        out, _ = self.attn(h, h, h, mask)
        return self.dropout(out)


class ConformerBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, ff_mult: int, kernel_size: int, dropout: float,
                 rotary: bool, conv_norm: str = "batch"):
        super().__init__()
        self.ff1 = FeedForward(dim, ff_mult, dropout)
        self.attn = SelfAttention(dim, num_heads, dropout, rotary)
        self.conv = ConvModule(dim, kernel_size, dropout, conv_norm)
        self.ff2 = FeedForward(dim, ff_mult, dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + 0.5 * self.ff1(x)
        x = x + self.attn(x, mask)
        x = x + self.conv(x, mask)
        x = x + 0.5 * self.ff2(x)
        return self.norm(x)


class TransformerBlock(nn.Module):
    """A plain pre-LN Transformer encoder layer (the ``encoder="transformer"`` ablation)."""

    def __init__(self, dim: int, num_heads: int, ff_mult: int, dropout: float, rotary: bool):
        super().__init__()
        self.attn = SelfAttention(dim, num_heads, dropout, rotary)
        self.ff = FeedForward(dim, ff_mult, dropout, activation=nn.GELU)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x, mask)
        return x + self.ff(x)


class SequenceEncoder(nn.Module):
    """A stack of Conformer (or Transformer) blocks over ``(B, T, D)`` with a ``(B, T)`` mask.

    ``pos_encoding``: "rotary" (relative, inside every attention), "absolute" (sinusoidal
    table added once at the input), or "none". Output is zero at padded steps.
    """

    def __init__(self, kind: str, dim: int, num_layers: int, num_heads: int, ff_mult: int,
                 kernel_size: int, dropout: float, pos_encoding: str = "rotary", conv_norm: str = "batch"):
        super().__init__()
        if pos_encoding not in ("rotary", "absolute", "none"):
            raise ValueError(f"unknown pos_encoding {pos_encoding!r}")
        rotary = pos_encoding == "rotary"
        self.absolute = pos_encoding == "absolute"
        if kind == "conformer":
            blocks = [ConformerBlock(dim, num_heads, ff_mult, kernel_size, dropout, rotary, conv_norm)
                      for _ in range(num_layers)]
        elif kind == "transformer":
            blocks = [TransformerBlock(dim, num_heads, ff_mult, dropout, rotary) for _ in range(num_layers)]
        else:
            raise ValueError(f"unknown encoder kind {kind!r}")
        self.blocks = nn.ModuleList(blocks)
        # Conformer blocks end in their own LayerNorm; the pre-LN Transformer needs a final one.
        self.final_norm = nn.LayerNorm(dim) if kind == "transformer" and num_layers else nn.Identity()
        self.input_dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.absolute:
            x = x + sinusoidal_positions(x.shape[1], x.shape[2], device=x.device, dtype=x.dtype)
        x = self.input_dropout(x)
        for block in self.blocks:
            x = block(x, mask)
        return zero_padding(self.final_norm(x), mask)
