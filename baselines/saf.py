"""Self-attention fusion (SAF) for audio-visual emotion recognition with incomplete data.

Chumachenko, Iosifidis, Gabbouj, "Self-attention fusion for audiovisual emotion recognition
with incomplete data", ICPR 2022 (arXiv 2201.11095); official code
https://github.com/katerynaCh/multimodal-emotion-recognition (``models/multimodalcnn.py``,
``models/transformer_timm.py``, ``models/efficientface.py``, ``models/modulator.py``,
``train.py`` for the modality dropout, ``opts.py`` for the recipe).

Reads top to bottom like the official ``MultiModalCNN``::

    video (B,T,3,S,S) ─ EfficientFace per frame ─ (B,1024,T) ─ stage 1: conv1d 1024→64→64 ─┐
    audio (B,T_a,64)  ─ DCT-II → 10 MFCC ─ (B,10,T_a) ─ stage 1: conv1d 10→64→128 ────────┤
                                                           fusion "ia" | "it" (here) ─────┤
    video ─ stage 2: conv1d 64→128→128 ;  audio ─ stage 2: conv1d 128→256→128 ────────────┤
                                                           fusion "lt" (here) ────────────┤
    mean over real steps of each stream, concat (256) ─ Linear(256 → C) ─ logits["fused"]

Video temporal convs: k=3, same padding, BN, ReLU. Audio convs: k=3, *valid* padding, BN,
ReLU, MaxPool(2, stride 1); each shrinks the sequence, so the audio mask shrinks with it.

Fusion variants (all cross-modal: the queries of one stream attend to the keys of the other):

* ``ia`` (intermediate attention; the paper's best, 81.58 % on RAVDESS): only the attention
  *maps* are used. The map of audio queries over video keys, summed over the (real) audio
  queries, is a weight per video step that rescales the video features; symmetrically for
  audio. Heads are averaged first. The value and output projections of the official
  ``Attention`` modules exist there but never reach the loss (no gradient).
* ``it`` (intermediate transformer): a cross-attention block per direction (LayerNorm on
  queries and keys, attention, then ``x + MLP(LN(x))``; no residual from the queries, as in
  the official ``AttentionBlock``) whose output is *added* to the stream of its queries.
* ``lt`` (late transformer): the same blocks at width 128 after stage 2; their outputs are
  the pooled representations.

Variable length: padded steps never change real outputs. Frames are run through the trunk
only where the mask is True; before every same-padded conv the padded steps are zeroed
(exactly the zeros an unpadded clip sees at its edge); a valid conv / max-pool output is real
only when its whole window is (the mask is eroded), which makes an unpadded clip's outputs
identical; attention masks padded keys, the ``ia`` sums run over real queries, and time
pooling is a masked mean. BatchNorm over time uses masked statistics in training (identical to
plain BatchNorm when nothing is padded) and is per-step in eval mode.

Per-step head (task "frame", our adaptation: the paper classifies whole clips). The classifier
``Linear(256 -> C)`` reads, per video step, the audio stream's feature (linearly interpolated
from the audio steps to that video step, :func:`~bench.models.contract.to_frame_steps`)
concatenated with the video stream's feature, instead of the two time means: for ``ia`` / ``it``
the stage-2 outputs, for ``lt`` the two late blocks' outputs. The valid audio convolutions
shorten the audio sequence by a few steps at its end; the interpolation spreads the remaining
real steps over the window, an approximation of a few audio hops (tens of milliseconds).
Outputs are (B, T, K) on the batch's video steps; same parameters as for the other tasks.

Where we follow the code rather than a paper detail, or adapt to the feature store, there is a
config field; see :class:`SAFConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from baselines.efficientface import EfficientFace, official_key_map, rename_official
from bench.models.contract import AVModel, Batch, ModelConfig, ModelOutput, to_frame_steps
from bench.errors import ConfigError
from bench.nn.attention import masked_mean, safe_key_mask
from bench.models.registry import register_model
from bench.nn.dropout import Dropout
from bench.nn.frontends import fold_real, in_weight_layout, unfold_real
from bench.nn.norm import MaskedBatchNorm1d

PAPER = (
    "K. Chumachenko, A. Iosifidis, M. Gabbouj. Self-attention fusion for audiovisual emotion "
    "recognition with incomplete data. ICPR 2022 (arXiv:2201.11095)"
)
CODE = "https://github.com/katerynaCh/multimodal-emotion-recognition"


@dataclass
class SAFConfig(ModelConfig):
    """SAF settings; defaults are the official code's unless a comment says otherwise.

    The official configuration (10 MFCCs, 224-pixel crops, 8 RAVDESS classes) is
    ``SAFConfig.official()``. Our runs read 48-pixel crops and 64-bin log-mel from the store:
    the EfficientFace trunk is fully convolutional with global pooling, so it runs unchanged at
    48 pixels (the spatial maps are 2×2 at conv5 instead of 7×7), and the log-mel frames are
    turned into MFCCs in the model (fixed DCT-II, as librosa computes MFCCs from log-mel).
    """

    fusion: Literal["ia", "it", "lt"] = "ia"  # fusion variant; "ia" is the paper's best (81.58% RAVDESS)
    num_heads: int = 1  # attention heads (official default 1; the paper also reports 4)
    # -- audio branch -----------------------------------------------------------------------
    # MFCCs computed in the model from log-mel (audio_input="logmel"): DCT-II (orthonormal) of
    # the audio_dim log-mel bins, keeping the first n_mfcc coefficients (official: 10 MFCCs from
    # librosa at 22.05 kHz, 128 mels, 23 ms hop; our store has 64 mels at a 10 ms hop, so the
    # audio sequence is ~2.3x longer). audio_input="features" feeds audio_dim channels directly
    # (audio_dim=10 for real MFCCs).
    n_mfcc: int = 10
    audio_stage1: list[int] = field(default_factory=lambda: [64, 128])  # conv widths before fusion
    audio_stage2: list[int] = field(default_factory=lambda: [256, 128])  # conv widths after fusion
    audio_pool: int = 2  # MaxPool1d kernel (stride 1) after each audio conv; 0 = none
    # -- visual branch ----------------------------------------------------------------------
    # EfficientFace widths (stem, stage2, stage3, stage4, conv5) and units per stage.
    efficientface_widths: list[int] = field(default_factory=lambda: [29, 116, 232, 464, 1024])
    efficientface_repeats: list[int] = field(default_factory=lambda: [4, 8, 4])
    modulator_reduction: int = 16  # channel reduction in the modulator's gates
    # Optional local EfficientFace checkpoint in the official layout (the official code starts
    # from EfficientFace trained on AffectNet-7); "" = random init (we download nothing).
    efficientface_checkpoint: str = ""
    video_stage1: list[int] = field(default_factory=lambda: [64, 64])  # temporal conv widths before fusion
    video_stage2: list[int] = field(default_factory=lambda: [128, 128])  # temporal conv widths after fusion
    kernel_size: int = 3  # temporal kernel of every conv1d (odd)
    # -- fusion -----------------------------------------------------------------------------
    fusion_dim: int = 128  # "lt" only: output width of each late block (official e_dim)
    mlp_ratio: float = 2.0  # hidden width of the blocks' MLP relative to their output ("it", "lt")
    qkv_bias: bool = False  # bias of the query/key/value projections (official: none)
    attn_dropout: float = 0.0  # dropout on attention weights (official 0)
    dropout: float = 0.0  # dropout after the attention projection and in the MLP (official 0)
    drop_path: float = 0.0  # stochastic depth on the blocks' branches (official 0)
    # Keep the parameters the official module has but never trains: the per-branch
    # classifiers (audio and video Linear(128 -> C)) and, for "ia", the value and output
    # projections of the attention. Only for reproducing the official parameter count and
    # loading official checkpoints; they do not change the outputs.
    include_unused_official_params: bool = False
    # -- training recipe ----------------------------------------------------------------------
    # Modality dropout of the official train.py (``--mask``): "softhard" (paper, default)
    # quadruples each training batch: original, soft mix (audio * c, video * (1 - c) with
    # c ~ U{0, .01, ..., .99} per clip), audio zeroed, video zeroed. "noise" triples it with
    # Gaussian noise in place of one modality; "none" leaves the batch alone.
    modality_dropout: Literal["softhard", "noise", "none"] = "softhard"
    shuffle_augmented: bool = True  # shuffle the enlarged batch, as the official code does

    @classmethod
    def official(cls, fusion: str = "ia", **overrides) -> "SAFConfig":
        """The released configuration: 10-d MFCC features, 224-pixel crops, RAVDESS's 8 classes."""
        settings = dict(fusion=fusion, audio_input="features", audio_dim=10, image_size=224, num_outputs=8)
        settings.update(overrides)
        return cls(**settings)


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------
def dct_matrix(n_mels: int, n_coeffs: int) -> torch.Tensor:
    """Orthonormal DCT-II basis ``(n_coeffs, n_mels)``: ``mfcc = basis @ logmel``.

    The same transform as ``scipy.fft.dct(x, type=2, norm="ortho")[:n_coeffs]``, which is what
    ``librosa.feature.mfcc`` applies to a log-power mel spectrogram.
    """
    if not 0 < n_coeffs <= n_mels:
        raise ConfigError(f"n_mfcc must be in 1..{n_mels} (the log-mel bins), got {n_coeffs}")
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_coeffs, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi * k * (2 * n + 1) / (2 * n_mels)) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return basis.float()


class ConvBlock1d(nn.Module):
    """Conv1d(k) → BN → ReLU [→ MaxPool(pool, stride 1)] over (B, C, T), mask-aware.

    ``valid=False``: same padding; padded steps are zeroed first, so a real step next to
    padding reads the zeros an unpadded clip reads at its edge; the mask is unchanged.
    ``valid=True``: no padding; an output step is real only if its whole window is, so the
    mask is eroded by ``k - 1`` (and ``pool - 1``) steps and real outputs never see padding.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, valid: bool = False, pool: int = 0):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be odd for same padding, got {kernel_size}")
        self.valid = valid
        self.conv = nn.Conv1d(in_ch, out_ch, kernel_size, padding=0 if valid else kernel_size // 2)
        self.bn = MaskedBatchNorm1d(out_ch)
        self.pool = nn.MaxPool1d(pool, 1) if pool > 1 else None

    @staticmethod
    def _erode(mask: torch.Tensor, window: int) -> torch.Tensor:
        if mask.shape[1] < window:
            return mask[:, :0]
        return mask.unfold(1, window, 1).all(-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(x * mask[:, None, :].to(x.dtype))
        if self.valid:
            mask = self._erode(mask, self.conv.kernel_size[0])
        x = F.relu(self.bn(x, mask))
        if self.pool is not None:
            x = self.pool(x)
            mask = self._erode(mask, self.pool.kernel_size)
        return x, mask


class ConvStage(nn.Module):
    """A chain of :class:`ConvBlock1d` with the given widths."""

    def __init__(self, in_ch: int, widths: list[int], kernel_size: int, valid: bool, pool: int):
        super().__init__()
        chans = [in_ch, *widths]
        self.blocks = nn.ModuleList(
            ConvBlock1d(a, b, kernel_size, valid=valid, pool=pool) for a, b in zip(chans[:-1], chans[1:])
        )
        self.out_dim = chans[-1]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for block in self.blocks:
            x, mask = block(x, mask)
        return x, mask


class CrossAttention(nn.Module):
    """Multi-head attention of ``queries`` (B, Nq, q_dim) over ``keys`` (B, Nk, k_dim).

    Widths as the official ``Attention``: q: q_dim→out, k and v: k_dim→out, output
    projection out→out, scale (out/heads)^-½. ``values=False`` builds only q and k (the
    ``ia`` fusion uses the softmax map alone). Returns ``(output or None, weights (B,H,Nq,Nk))``.
    """

    def __init__(self, k_dim: int, q_dim: int, out_dim: int, num_heads: int, *, values: bool = True,
                 qkv_bias: bool = False, attn_dropout: float = 0.0, dropout: float = 0.0):
        super().__init__()
        if out_dim % num_heads:
            raise ConfigError(f"attention width {out_dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.scale = (out_dim // num_heads) ** -0.5
        self.q = nn.Linear(q_dim, out_dim, bias=qkv_bias)
        self.k = nn.Linear(k_dim, out_dim, bias=qkv_bias)
        self.v = nn.Linear(k_dim, out_dim, bias=qkv_bias) if values else None
        self.proj = nn.Linear(out_dim, out_dim) if values else None
        self.attn_drop = Dropout(attn_dropout)
        self.proj_drop = Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, -1).transpose(1, 2)  # (B, H, N, d)

    def forward(self, keys: torch.Tensor, queries: torch.Tensor, key_mask: torch.Tensor
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
        q, k = self._heads(self.q(queries)), self._heads(self.k(keys))
        scores = (q @ k.transpose(-2, -1)) * self.scale
        scores = scores.masked_fill(~safe_key_mask(key_mask)[:, None, None, :], torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1)
        if self.v is None:
            return None, weights
        out = self.attn_drop(weights) @ self._heads(self.v(keys))
        out = out.transpose(1, 2).flatten(2)
        return self.proj_drop(self.proj(out)), weights


class DropPath(nn.Module):
    """Stochastic depth per sample (timm's ``DropPath``); identity at p = 0 or in eval mode."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class FusionBlock(nn.Module):
    """The official ``AttentionBlock``: ``x = Attn(LN(keys), LN(queries)); x + MLP(LN(x))``.

    There is no residual from the queries: the block's output lives in the attention's output
    space (the ``it`` fusion adds it to its query stream outside the block).
    """

    def __init__(self, k_dim: int, q_dim: int, out_dim: int, config: SAFConfig):
        super().__init__()
        self.norm_q = nn.LayerNorm(q_dim)
        self.norm_k = nn.LayerNorm(k_dim)
        self.attn = CrossAttention(k_dim, q_dim, out_dim, config.num_heads, qkv_bias=config.qkv_bias,
                                   attn_dropout=config.attn_dropout, dropout=config.dropout)
        self.drop_path = DropPath(config.drop_path)
        self.norm2 = nn.LayerNorm(out_dim)
        hidden = int(out_dim * config.mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(out_dim, hidden), nn.GELU(), Dropout(config.dropout),
            nn.Linear(hidden, out_dim), Dropout(config.dropout),
        )

    def forward(self, keys: torch.Tensor, queries: torch.Tensor, key_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x, weights = self.attn(self.norm_k(keys), self.norm_q(queries), key_mask)
        assert x is not None
        x = self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x))), weights


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
@register_model(
    "saf",
    SAFConfig,
    # Official opts.py / main.py. Not representable in TrainConfig: the official SGD also sets
    # dampening=0.9, and its step schedule counts epochs from 1 (lr drops *at* epoch 40, one
    # epoch earlier than a per-epoch MultiStepLR with milestone 40).
    recipe={
        "optimizer": "sgd",
        "lr": 0.04,
        "momentum": 0.9,
        "weight_decay": 1e-3,
        "batch_size": 8,  # before the modality dropout quadruples it
        "epochs": 100,
        "scheduler": "multistep",
        "milestones": [40, 55, 65, 70],
        "gamma": 0.1,
    },
    paper=PAPER,
    code=CODE,
)
class SAF(AVModel):
    """Self-attention fusion (Chumachenko et al., ICPR 2022): EfficientFace + 1-D CNNs, ia/it/lt fusion."""

    supports_variable_length = True  # padded steps never change real outputs (see module doc)

    def __init__(self, config: SAFConfig):
        super().__init__(config)
        c = config
        if c.fusion not in ("ia", "it", "lt"):
            raise ConfigError(f"saf: fusion must be 'ia', 'it' or 'lt', got {c.fusion!r}")
        # -- audio: (log-mel → MFCC) → valid conv stages ----------------------------------------
        if c.audio_input == "logmel":
            self.register_buffer("dct", dct_matrix(c.audio_dim, c.n_mfcc), persistent=False)
            audio_channels = c.n_mfcc
        elif c.audio_input == "features":
            self.dct = None
            audio_channels = c.audio_dim
        else:
            raise ConfigError(f"saf: audio_input must be 'logmel' or 'features', got {c.audio_input!r}")
        self.audio_stage1 = ConvStage(audio_channels, c.audio_stage1, c.kernel_size, valid=True, pool=c.audio_pool)
        self.audio_stage2 = ConvStage(self.audio_stage1.out_dim, c.audio_stage2, c.kernel_size, valid=True, pool=c.audio_pool)
        # -- video: EfficientFace per frame (or projected features) → same-padded conv stages ---
        if c.video_input == "frames":
            self.visual = EfficientFace(c.efficientface_widths, c.efficientface_repeats, c.modulator_reduction)
            if c.efficientface_checkpoint:
                load_efficientface(self.visual, c.efficientface_checkpoint)
            self.video_frontend = None
            video_channels = self.visual.out_dim
        elif c.video_input == "features":
            from bench.nn.frontends import build_video_frontend

            self.visual = None
            video_channels = c.efficientface_widths[-1]
            self.video_frontend = build_video_frontend(c, video_channels)
        else:
            raise ConfigError(f"saf: video_input must be 'frames' or 'features', got {c.video_input!r}")
        self.video_stage1 = ConvStage(video_channels, c.video_stage1, c.kernel_size, valid=False, pool=0)
        self.video_stage2 = ConvStage(self.video_stage1.out_dim, c.video_stage2, c.kernel_size, valid=False, pool=0)
        # -- fusion ---------------------------------------------------------------------------
        a1, v1 = self.audio_stage1.out_dim, self.video_stage1.out_dim
        a2, v2 = self.audio_stage2.out_dim, self.video_stage2.out_dim
        if c.fusion == "ia":
            keep = c.include_unused_official_params
            self.audio_from_video = CrossAttention(v1, a1, a1, c.num_heads, values=keep, qkv_bias=c.qkv_bias)
            self.video_from_audio = CrossAttention(a1, v1, v1, c.num_heads, values=keep, qkv_bias=c.qkv_bias)
            head_in = a2 + v2
        elif c.fusion == "it":
            self.audio_from_video = FusionBlock(v1, a1, a1, c)
            self.video_from_audio = FusionBlock(a1, v1, v1, c)
            head_in = a2 + v2
        else:
            self.audio_from_video = FusionBlock(v2, a2, c.fusion_dim, c)
            self.video_from_audio = FusionBlock(a2, v2, c.fusion_dim, c)
            head_in = 2 * c.fusion_dim
        self.head = nn.Linear(head_in, c.num_outputs)
        self.unused_heads = (
            nn.ModuleDict({"audio": nn.Linear(a2, c.num_outputs), "video": nn.Linear(v2, c.num_outputs)})
            if c.include_unused_official_params
            else None
        )

    def required_inputs(self) -> tuple[str, ...]:
        return ("video", "audio")

    # -- encoders -------------------------------------------------------------------------------
    def encode_audio(self, audio: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T_a, F) → MFCC or features, channel-first (B, C, T_a)."""
        if audio.dim() != 3:
            raise ValueError(f"saf: expected audio (B, T, F), got shape {tuple(audio.shape)}")
        audio = audio.to(self.head.weight.dtype)
        if self.dct is not None:
            audio = audio @ self.dct.t()
        return audio.transpose(1, 2), mask

    def encode_video(self, video: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames (B,T,3,S,S) or features (B,T,D) → (B, 1024, T); only real frames are computed."""
        if self.video_frontend is not None:
            feats, mask = self.video_frontend(video, mask)
            return feats.transpose(1, 2), mask
        if video.dim() != 5:
            raise ValueError(f"saf: expected frames (B, T, 3, H, W), got shape {tuple(video.shape)}")
        b, t = mask.shape
        dtype = self.head.weight.dtype  # float32 unless the model was cast
        real = in_weight_layout(fold_real(video, mask).to(dtype), self.visual.conv1[0])  # padding skipped
        if not real.shape[0]:
            return video.new_zeros(b, self.visual.out_dim, t, dtype=dtype), mask
        return unfold_real(self.visual(real).to(dtype), mask).transpose(1, 2), mask

    # -- fusion ---------------------------------------------------------------------------------
    @staticmethod
    def _query_sum(weights: torch.Tensor, query_mask: torch.Tensor) -> torch.Tensor:
        """Head-averaged attention (B,H,Nq,Nk) summed over real queries → (B, 1, Nk)."""
        per_query = weights.mean(1) * query_mask[:, :, None].to(weights.dtype)
        return per_query.sum(1)[:, None, :]

    @staticmethod
    def _maps(w_av: torch.Tensor, w_va: torch.Tensor, a_mask: torch.Tensor, v_mask: torch.Tensor
              ) -> dict[str, torch.Tensor]:
        """Named maps (B, H, T_query, T_key); padded query rows carry no meaning and are zeroed."""
        return {
            "audio_to_video": w_av * a_mask[:, None, :, None].to(w_av.dtype),
            "video_to_audio": w_va * v_mask[:, None, :, None].to(w_va.dtype),
        }

    def forward(self, batch: Batch) -> ModelOutput:
        audio, a_mask = self.get_input(batch, "audio")
        video, v_mask = self.get_input(batch, "video")
        a, a_mask = self.encode_audio(audio, a_mask.to(audio.device).bool())
        v, v_mask = self.encode_video(video, v_mask.to(video.device).bool())
        a, a_mask = self.audio_stage1(a, a_mask)
        v, v_mask = self.video_stage1(v, v_mask)
        attention: dict[str, torch.Tensor] = {}

        if self.config.fusion in ("ia", "it"):
            xa, xv = a.transpose(1, 2), v.transpose(1, 2)  # (B, T, C) token layouts
            h_av, w_av = self.audio_from_video(xv, xa, v_mask)  # audio queries over video keys
            h_va, w_va = self.video_from_audio(xa, xv, a_mask)  # video queries over audio keys
            if self.config.fusion == "ia":
                v = v * self._query_sum(w_av, a_mask)  # a weight per video step
                a = a * self._query_sum(w_va, v_mask)  # a weight per audio step
            else:
                a = a + h_av.transpose(1, 2)
                v = v + h_va.transpose(1, 2)
            attention = self._maps(w_av, w_va, a_mask, v_mask)

        a, a_mask = self.audio_stage2(a, a_mask)
        v, v_mask = self.video_stage2(v, v_mask)

        if self.config.fusion == "lt":
            xa, xv = a.transpose(1, 2), v.transpose(1, 2)
            h_av, w_av = self.audio_from_video(xv, xa, v_mask)
            h_va, w_va = self.video_from_audio(xa, xv, a_mask)
            audio_steps, video_steps = h_av, h_va  # (B, T_a, C), (B, T_v, C)
            attention = self._maps(w_av, w_va, a_mask, v_mask)
        else:
            audio_steps, video_steps = a.transpose(1, 2), v.transpose(1, 2)

        if self.config.task == "frame":  # per video step (see the module docstring)
            joint = torch.cat((to_frame_steps(audio_steps, a_mask, batch),
                               to_frame_steps(video_steps, v_mask, batch)), dim=-1)
            return ModelOutput(logits={"fused": self.head(joint)}, attention=attention)
        pooled = torch.cat((masked_mean(audio_steps, a_mask), masked_mean(video_steps, v_mask)), dim=-1)
        return ModelOutput(logits={"fused": self.head(pooled)}, attention=attention)

    # -- modality dropout -------------------------------------------------------------------------
    def augment_batch(self, batch: Batch, generator: torch.Generator | None = None) -> Batch:
        """The official modality dropout (``train.py``, ``--mask softhard`` / ``noise``).

        ``softhard`` returns a batch of 4B clips: [original; soft mix; audio zeroed; video
        zeroed], where the soft mix scales audio by c and video by 1 - c, c drawn per clip from
        {0, 0.01, ..., 0.99}. ``noise`` returns 3B: [original; audio ~ N(0,1); video ~ N(0,1)].
        Every other per-clip entry (labels, targets, masks, flow, clip ids) is repeated block by
        block, so row i of every key still describes the same clip; masks are repeated
        unchanged (a zeroed modality keeps its real-step mask: it is present but blank, as in
        the official code). With ``shuffle_augmented`` the rows are then permuted together.
        Zeroing and scaling commute with the in-model DCT, so they act on MFCCs exactly as in
        the official code even though the batch carries log-mel.
        """
        mode = self.config.modality_dropout
        if mode == "none":
            return batch
        audio, video = batch["audio"], batch["video"]
        b = audio.shape[0]
        # Random draws on the generator's device (CPU unless the trainer passes a CUDA one).
        gen_device = generator.device if generator is not None else torch.device("cpu")
        if mode == "softhard":
            c = torch.randint(0, 100, (b,), generator=generator, device=gen_device).float().div_(100)
            ca = c.to(audio.device).view(b, *([1] * (audio.dim() - 1)))
            cv = (1 - c).to(video.device).view(b, *([1] * (video.dim() - 1)))
            new_audio = torch.cat((audio, audio * ca, torch.zeros_like(audio), audio))
            new_video = torch.cat((video, video * cv, video, torch.zeros_like(video)))
            copies = 4
        else:
            noise_a = torch.randn(audio.shape, generator=generator, device=gen_device).to(audio.device, audio.dtype)
            noise_v = torch.randn(video.shape, generator=generator, device=gen_device).to(video.device, video.dtype)
            new_audio = torch.cat((audio, noise_a, audio))
            new_video = torch.cat((video, video, noise_v))
            copies = 3
        out: Batch = {}
        for key, value in batch.items():
            if key == "audio":
                out[key] = new_audio
            elif key == "video":
                out[key] = new_video
            elif isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == b:
                out[key] = torch.cat([value] * copies)
            elif isinstance(value, (list, tuple)) and len(value) == b:
                out[key] = list(value) * copies
            else:
                out[key] = value
        if self.config.shuffle_augmented:
            perm = torch.randperm(b * copies, generator=generator, device=gen_device)
            for key, value in out.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == b * copies:
                    out[key] = value[perm.to(value.device)]
                elif isinstance(value, list) and len(value) == b * copies:
                    out[key] = [value[i] for i in perm.tolist()]
        return out


# --------------------------------------------------------------------------------------------
# official checkpoints
# --------------------------------------------------------------------------------------------
def load_efficientface(trunk: EfficientFace, path: str) -> None:
    """Load an official-layout EfficientFace checkpoint (``{"state_dict": ...}`` or bare) into ``trunk``.

    Like the official ``init_feature_extractor`` it is not strict (the AffectNet checkpoint
    carries a classifier we do not have), but a file that matches none of the trunk's
    parameters is an error rather than a silent random init.
    """
    from pathlib import Path

    if not Path(path).is_file():
        raise ConfigError(f"saf: efficientface_checkpoint {path}: no such file")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ConfigError(f"saf: efficientface_checkpoint {path}: not a state dict")
    state = rename_official(state, official_key_map(""))
    own = trunk.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise ConfigError(f"saf: efficientface_checkpoint {path}: no parameter matches the EfficientFace trunk")
    trunk.load_state_dict(usable, strict=False)


def official_state_dict(state_dict: dict[str, torch.Tensor], fusion: str) -> dict[str, torch.Tensor]:
    """Translate a state dict of the official ``MultiModalCNN`` into :class:`SAF`'s names.

    Load the result into ``SAF(SAFConfig.official(fusion, include_unused_official_params=True))``
    (strictly), or into a model without the unused parts with ``strict=False``. The packed
    ``kv`` projection is split into ``k`` and ``v``. An EfficientFace-only checkpoint (the
    AffectNet-pretrained trunk the official code starts from) is read by
    :func:`load_efficientface` (config field ``efficientface_checkpoint``).
    Checked against the official module: with its weights, eval-mode logits agree to 1e-7
    (float32) and train-mode logits and gradients to 1e-13 (float64) for all three variants.
    """
    renames = official_key_map("visual_model.")
    for stage, prefix in (("video_stage1", 0), ("video_stage2", 2)):
        for j in range(2):
            renames[f"visual_model.conv1d_{prefix + j}.0"] = f"{stage}.blocks.{j}.conv"
            renames[f"visual_model.conv1d_{prefix + j}.1"] = f"{stage}.blocks.{j}.bn"
    for stage, prefix in (("audio_stage1", 0), ("audio_stage2", 2)):
        for j in range(2):
            renames[f"audio_model.conv1d_{prefix + j}.0"] = f"{stage}.blocks.{j}.conv"
            renames[f"audio_model.conv1d_{prefix + j}.1"] = f"{stage}.blocks.{j}.bn"
    renames["audio_model.classifier_1.0"] = "unused_heads.audio"
    renames["visual_model.classifier_1.0"] = "unused_heads.video"
    renames["classifier_1.0"] = "head"
    av, va = ("av", "va") if fusion == "lt" else ("av1", "va1")
    attn = "" if fusion == "ia" else ".attn"
    for src, dst in ((av, "audio_from_video"), (va, "video_from_audio")):
        renames[src] = dst
    state = rename_official(state_dict, renames)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("visual_model."):
            key = "visual." + key[len("visual_model."):]
        for name in ("audio_from_video", "video_from_audio"):
            if key == f"{name}{attn}.kv.weight" or key == f"{name}{attn}.kv.bias":
                kind = key.rsplit(".", 1)[1]
                k_part, v_part = value.chunk(2, dim=0)
                out[f"{name}{attn}.k.{kind}"] = k_part
                out[f"{name}{attn}.v.{kind}"] = v_part
                break
            if fusion != "ia":
                for old, new in (("norm1_q", "norm_q"), ("norm1_k", "norm_k"), ("mlp.fc1", "mlp.0"), ("mlp.fc2", "mlp.3")):
                    if key.startswith(f"{name}.{old}."):
                        key = f"{name}.{new}." + key[len(f"{name}.{old}."):]
        else:
            out[key] = value
    return out
