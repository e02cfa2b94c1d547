"""Attention building blocks shared by every model: masked multi-head attention, positions, pooling.

Mask convention (the whole suite): a boolean ``(B, T)`` mask is **True on real steps** and
False on padding, exactly as the batch carries it. Padded keys never receive attention, so
appending padding to a clip cannot change the outputs at its real steps.

``MultiHeadAttention`` runs on :func:`torch.nn.functional.scaled_dot_product_attention` (the
fused kernel) when the caller does not ask for the weights, and computes the same softmax
explicitly when it does (SDPA never returns them): DE-III's Figure 2 and our tests need the
per-head maps ``(B, heads, T_q, T_k)``.

Positional information, all batch-first:

* :func:`sinusoidal_positions` -- the absolute table of Vaswani et al. (2017);
* :class:`RotaryEmbedding` -- rotary positions (Su et al., RoFormer 2021): queries and keys are
  rotated by an angle proportional to their time index, so their dot product depends only on
  the *relative* offset. This gives relative positions without the Transformer-XL bias
  matrix, and it composes with SDPA unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.nn.dropout import dropout as apply_dropout


# --------------------------------------------------------------------------------------------
# masks and pooling
# --------------------------------------------------------------------------------------------
def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(B,)`` lengths -> ``(B, T)`` boolean mask, True on the first ``length`` steps."""
    max_len = int(lengths.max()) if max_len is None else max_len
    steps = torch.arange(max_len, device=lengths.device)
    return steps[None, :] < lengths[:, None]


def safe_key_mask(mask: torch.Tensor) -> torch.Tensor:
    """A key mask where a sample with no real step attends to every step instead.

    A row with every key masked makes the softmax 0/0 = NaN, and a NaN in one padded sample
    poisons the whole batch's gradient. Such a sample (e.g. a clip whose modality is entirely
    missing) then gets a finite, meaningless output that the caller masks or pools away.
    """
    return mask | ~mask.any(dim=-1, keepdim=True)


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over time of ``(B, T, D)`` at real steps only -> ``(B, D)``; 0 where none is real."""
    if mask is None:
        return x.mean(dim=1)
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def zero_padding(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``x`` with padded steps set to 0, so that convolutions read zeros there (as at the edge)."""
    if mask is None:
        return x
    return x * mask.to(x.dtype).unsqueeze(-1)


# --------------------------------------------------------------------------------------------
# positions
# --------------------------------------------------------------------------------------------
def sinusoidal_positions(length: int, dim: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """The absolute sinusoidal table ``(length, dim)`` of Vaswani et al. (sin on even, cos on odd)."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device, dtype=torch.float32)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div)[:, : dim // 2]
    return table.to(dtype)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding over the last dimension of ``(B, H, T, head_dim)`` tensors.

    Pairs of channels ``(x[2i], x[2i+1])`` are rotated by ``t * base**(-2i/d)``; the rotation of
    a query at step t and a key at step s leaves ``q.k`` a function of ``t - s`` only.
    """

    inv_freq: torch.Tensor

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary positions need an even head dimension, got {head_dim}")
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def angles(self, length: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.arange(length, device=device, dtype=torch.float32)
        freqs = torch.outer(t, self.inv_freq.to(device))  # (T, head_dim/2)
        return freqs.cos(), freqs.sin()

    @staticmethod
    def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x_even, x_odd = x[..., 0::2].float(), x[..., 1::2].float()
        out_even = x_even * cos - x_odd * sin
        out_odd = x_even * sin + x_odd * cos
        return torch.stack((out_even, out_odd), dim=-1).flatten(-2).to(x.dtype)

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos_q, sin_q = self.angles(q.shape[-2], q.device)
        cos_k, sin_k = (cos_q, sin_q) if k.shape[-2] == q.shape[-2] else self.angles(k.shape[-2], k.device)
        return self.rotate(q, cos_q, sin_q), self.rotate(k, cos_k, sin_k)


# --------------------------------------------------------------------------------------------
# attention
# --------------------------------------------------------------------------------------------
class MultiHeadAttention(nn.Module):
    """Batch-first multi-head attention with key-padding masks and optional per-head weights.

    ``forward(query (B,Tq,D), key (B,Tk,D), value (B,Tk,D), key_mask (B,Tk) True=real,
    need_weights=False) -> (output (B,Tq,D), weights (B,H,Tq,Tk) or None)``.

    ``rotary=True`` rotates queries and keys by their time index (relative positions); use it
    only for self-attention (or cross-attention between streams on the same time axis).
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0, *, bias: bool = True,
                 rotary: bool = False, kdim: int | None = None):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"attention width {dim} is not divisible by {num_heads} heads")
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        kdim = dim if kdim is None else kdim
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.k_proj = nn.Linear(kdim, dim, bias=bias)
        self.v_proj = nn.Linear(kdim, dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)
        self.dropout = dropout
        self.rotary = RotaryEmbedding(self.head_dim) if rotary else None

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        q, k, v = self._split(self.q_proj(query)), self._split(self.k_proj(key)), self._split(self.v_proj(value))
        if self.rotary is not None:
            q, k = self.rotary(q, k)
        attn_mask = None
        if key_mask is not None:
            attn_mask = safe_key_mask(key_mask)[:, None, None, :]  # (B, 1, 1, Tk), True = attend
        dropout = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            weights = scores.softmax(dim=-1)
            out = apply_dropout(weights, dropout, self.training) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
        out = out.transpose(1, 2).reshape(query.shape[0], query.shape[1], self.dim)
        return self.out_proj(out), weights
