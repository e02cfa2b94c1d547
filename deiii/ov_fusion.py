"""Pair-wise O-V fusion: flow features o_i enhance frame features v_i, one time step at a time.

DE-III (Shi et al., arXiv 2405.16701; no official code) integrates flow and frame features
with a "pair-wise O-V attention fusion module" before the video Conformer. The paper's text is
not available to us, so this is our reading, documented as ``DEIIIConfig.ov_fusion``:

* "attention": for each step i the two tokens [v_i, o_i] form a sequence of length 2 and run
  pre-LN multi-head self-attention with a residual, so the frame attends to its motion and
  the motion to its frame; the two outputs are averaged into the enhanced v'_i. All steps are
  folded into the batch (``(B*T, 2, D)``), so there is no loop over time and no information
  crosses time steps here (that is the encoder's job). The maps are returned as
  ``(B, heads, T, 2, 2)`` (query token x key token, token 0 = frame, 1 = flow);
* "concat": v'_i = Linear([v_i; o_i]);
* "add": v'_i = v_i + o_i;
* "none": v'_i = v_i (the model then builds no flow pathway at all).
"""

from __future__ import annotations

import torch
from torch import nn

from bench.nn.attention import MultiHeadAttention
from bench.nn.dropout import Dropout
from deiii.config import DEIIIConfig


class PairAttentionFusion(nn.Module):
    def __init__(self, dim: int, num_heads: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, dropout)
        self.dropout = Dropout(dropout)
        self.token_type = nn.Parameter(torch.zeros(2, dim))  # tells the frame token from the flow token
        nn.init.normal_(self.token_type, std=0.02)

    def forward(self, video: torch.Tensor, flow: torch.Tensor, need_weights: bool = False):
        b, t, d = video.shape
        pairs = torch.stack((video, flow), dim=2).reshape(b * t, 2, d) + self.token_type
        h = self.norm(pairs)
        out, weights = self.attn(h, h, h, need_weights=need_weights)
        pairs = pairs + self.dropout(out)
        fused = pairs.view(b, t, 2, d).mean(dim=2)
        if weights is not None:
            weights = weights.view(b, t, -1, 2, 2).transpose(1, 2)  # (B, H, T, 2, 2)
        return fused, weights


class ConcatFusion(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(2 * dim, dim)

    def forward(self, video, flow, need_weights: bool = False):
        return self.proj(torch.cat((video, flow), dim=-1)), None


class AddFusion(nn.Module):
    def forward(self, video, flow, need_weights: bool = False):
        return video + flow, None


def build_ov_fusion(config: DEIIIConfig) -> nn.Module:
    if config.ov_fusion == "attention":
        return PairAttentionFusion(config.d_model, config.num_heads, config.dropout)
    if config.ov_fusion == "concat":
        return ConcatFusion(config.d_model)
    if config.ov_fusion == "add":
        return AddFusion()
    raise ValueError(f"ov_fusion {config.ov_fusion!r} builds no fusion module")
