"""The optical-flow pathway: flow fields -> per-step flow features aligned with the frames.

DE-III (Shi et al., arXiv 2405.16701; no official code) feeds optical flow o_i between
consecutive frames as "explicit information about facial motions". The store holds T-1 flow
fields for T frames (computed on full-resolution crops, resized to the model's crop size).
Each field goes through the shared flow frontend (a small 2-channel CNN, or a projection of
precomputed flow embeddings), then a Linear to the encoder width, exactly like the frames.

Alignment (``flow_alignment``): with "arrival" the field o_i (frame i -> i+1) is paired with
v_{i+1}, the frame the motion produced; with "departure" with v_i. The frame left without a
field (the first, or the last), and any real frame whose field is missing, gets a learned
"no flow" embedding, so every real frame has exactly one flow partner and the pair-wise fusion
never needs a cross-step mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.nn.frontends import build_flow_frontend
from deiii.config import DEIIIConfig


class FlowPathway(nn.Module):
    def __init__(self, config: DEIIIConfig):
        super().__init__()
        self.frontend = build_flow_frontend(config, config.frontend_dim)
        self.proj = nn.Linear(config.frontend_dim, config.d_model)
        self.no_flow = nn.Parameter(torch.zeros(config.d_model))
        nn.init.normal_(self.no_flow, std=0.02)
        self.alignment = config.flow_alignment

    def forward(self, flow: torch.Tensor, flow_mask: torch.Tensor, video_mask: torch.Tensor) -> torch.Tensor:
        """``(B, T_f, ...)`` flow and its mask -> ``(B, T, d_model)`` aligned with ``video_mask``."""
        feats, mask = self.frontend(flow, flow_mask)
        feats = self.proj(feats)
        steps = video_mask.shape[1]
        shift = 1 if self.alignment == "arrival" else 0
        # Shift by one step (arrival) and pad/crop to the video length; the new steps are "missing".
        feats = F.pad(feats, (0, 0, shift, 0))[:, :steps]
        mask = F.pad(mask, (shift, 0), value=False)[:, :steps]
        if feats.shape[1] < steps:
            feats = F.pad(feats, (0, 0, 0, steps - feats.shape[1]))
            mask = F.pad(mask, (0, steps - mask.shape[1]), value=False)
        return torch.where(mask.unsqueeze(-1), feats, self.no_flow.to(feats.dtype))
