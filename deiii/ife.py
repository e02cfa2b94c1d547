"""Inter-modal feature enhancement (IFE): each stream queries the other, with residuals.

DE-III (Shi et al., arXiv 2405.16701; no official code) fuses audio and video "attentively"
in both directions after the intra-modal encoders: IFE-Audio (audio queries video) and
IFE-Video (video queries audio), with residual connections. Each direction here is a pre-LN
cross-attention block -- x + Dropout(MHA(LN(x), LN(ctx))) -- optionally followed by a residual
feed-forward (``ife_ffn``). Both directions read the *encoder* outputs (in parallel, not one
after the other), so neither enhanced stream sees the other's enhancement.

The attention maps are returned per head, ``(B, heads, T_query, T_key)``, as "ife_audio"
(audio time x video time) and "ife_video" (video time x audio time): the paper's Figure 2.
No positional encoding is applied here: the two streams live on different time grids, and
each already carries its positions from its encoder.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.nn.attention import MultiHeadAttention, zero_padding
from bench.nn.dropout import Dropout
from deiii.config import DEIIIConfig
from deiii.conformer import FeedForward


class CrossModalBlock(nn.Module):
    """``query`` stream enhanced by attending to ``context``: residual cross-attention (+ FFN)."""

    def __init__(self, dim: int, num_heads: int, dropout: float, ff_mult: int, use_ffn: bool):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, dropout)
        self.dropout = Dropout(dropout)
        self.ffn = FeedForward(dim, ff_mult, dropout, activation=nn.GELU) if use_ffn else None

    def forward(self, query, query_mask, context, context_mask, need_weights: bool = False):
        ctx = self.norm_kv(context)
        out, weights = self.attn(self.norm_q(query), ctx, ctx, context_mask, need_weights=need_weights)
        x = query + self.dropout(out)
        if self.ffn is not None:
            x = x + self.ffn(x)
        return zero_padding(x, query_mask), weights


class InterModalEnhancement(nn.Module):
    """IFE-Audio and/or IFE-Video as ``config.ife`` says; a disabled direction is the identity."""

    def __init__(self, config: DEIIIConfig):
        super().__init__()

        def block() -> CrossModalBlock:
            return CrossModalBlock(config.d_model, config.num_heads, config.dropout, config.ff_mult, config.ife_ffn)

        self.audio = block() if config.ife in ("both", "audio") else None  # IFE-Audio: audio queries video
        self.video = block() if config.ife in ("both", "video") else None  # IFE-Video: video queries audio

    def forward(self, audio, audio_mask, video, video_mask, need_weights: bool = False):
        maps: dict[str, torch.Tensor] = {}
        new_audio, new_video = audio, video
        if self.audio is not None:
            new_audio, w = self.audio(audio, audio_mask, video, video_mask, need_weights)
            if w is not None:
                maps["ife_audio"] = w
        if self.video is not None:
            new_video, w = self.video(video, video_mask, audio, audio_mask, need_weights)
            if w is not None:
                maps["ife_video"] = w
        return new_audio, new_video, maps
