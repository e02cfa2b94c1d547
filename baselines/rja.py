"""Recursive joint (cross-)attention with LSTMs for audio-visual emotion recognition.

Praveen, R. G., Granger, E. and Cardinal, P. "Recursive Joint Attention for Audio-Visual
Fusion in Regression Based Emotion Recognition", ICASSP 2023. Official code:
https://github.com/praveena2j/RecurrentJointAttentionwithLSTMs (``models/orig_cam.py`` with
``layer.py``, ``audguide_att.py``, ``av_crossatten.py`` and ``dense_coattn.py``).

Written from the official module definitions (dimensions and layer order), not copied. The
input is a sequence of L = 16 clip-level features per stream: audio 512-d, video a 7 x 7 map
of 512 channels. In order:

1. L2-normalise both streams (the video over its whole flattened 49 x 512 vector;
   ``feature_norm="rms"`` scales every normalised vector to unit RMS instead, see the class);
2. audio BLSTM wrapper: 2-layer bidirectional LSTM (256 per direction, learned initial
   states), its input concatenated to its output -> dropout -> Linear(-> 512) -> L2-normalise;
3. audio-guided spatial attention over the 49 video positions (guided by the LSTM audio),
   then Linear(512 -> 512) on the attended vector; then the video BLSTM wrapper;
4. joint cross-attention: J = W_q [X_v; X_a] (1024-d per step); per modality
   C = tanh(K(X)^T J / sqrt(1024)) with K a Linear map along *time* (L -> L), dropout on C,
   A = ReLU(tanh((X W_v) C)), X <- X + Dropout(ReLU(Linear_{1024 -> 512}(A)));
   applied ``num_passes`` times (the paper's recursion);
5. a joint BLSTM wrapper over [X_v; X_a] (1024 -> 512);
6. heads 512 -> 128 -> 1 (ReLU, dropout 0.6) per time step: the official model has two, for
   valence and arousal. Here: one such head per continuous target (``task="regression"`` or
   ``"frame"``; two targets reproduce the official model), or **one** head 512 -> 128 -> C for classes
   (``task="classification"``: the paper is regression-only; this is our adaptation to
   categorical corpora). With clip-level targets the per-step outputs are averaged over the
   L steps into one prediction per clip; task ``"frame"`` keeps them per step (the official
   labels are per frame; see below).

Loss: (1 - CCC_V) + (1 - CCC_A), i.e. the *sum* over targets of 1 - CCC, for regression
and for frame targets (cross-entropy for classes). There is no per-modality head in the
official model, so the only output is ``fused``.

Aff-Wild2 in the official code (``config_file.json``, ``datasets/dataset_new.py``,
``Preprocessing/audio_preprocess.py``, ``train.py``, ``val.py``), which task ``"frame"``
follows: a sample is a sequence of 512 video frames cut into L = 16 sub-sequences of 32
frames. Each sub-sequence gives one step of both streams: 8 of its frames (dilation 4, ending
at its last frame) through the frozen R(2+1)D visual backbone (a 7 x 7 x 512 map), and the
audio of the same 32 frames (a wav cut to end at the sub-sequence's last frame, 64-bin mel
spectrogram) through the frozen audio backbone (512-d): audio and video are aligned by
construction, one feature each per sub-sequence. The label of a step is the annotation of its
sub-sequence's last frame, and the model regresses valence and arousal at every step
(``(B, 16)`` each, no pooling). Successive sequences are shifted by one frame, so every frame
is the last frame of exactly one sub-sequence and gets exactly one prediction. The loss is
(1 - CCC_V) + (1 - CCC_A) over the batch's 64 x 16 steps flattened. (The validation script
then clips predictions to [-1, 1] and smooths them per video with a 20-frame (valence) and
50-frame (arousal) moving average before the CCC over all frames: evaluation choices, not
part of the model.)

Task ``"frame"`` here: a batch is a window of T video steps (see bench/models/contract.py);
its real steps are resampled onto the L segments exactly as a clip's are (below), the
recursion and the joint BLSTM run unchanged, the per-target heads regress every segment
(no time pooling) and the per-segment predictions ``(B, L, K)`` are brought back to the T
steps by linear interpolation within each clip (``to_frame_steps``). With T = L (a window of
``seq_len`` steps) both maps are the identity: step t is segment t, as in the official code,
where a step is a 32-frame sub-sequence (about 1.07 s at 30 fps); how long one of our steps
lasts is the feature store's frame rate, a data-side choice.

Choices where paper and code differ, as configuration fields:

* ``num_passes`` (default 1): the released ``CAM`` runs a single joint-attention pass
  (``DCNLayer(..., num_seq=1, ...)``); the paper's method is recursive (N >= 1 passes).
  ``share_weights`` (default True) reuses one module for every pass, the recursion as the
  paper describes it (the attended features are fed again to the same fusion model); with
  ``share_weights=False`` each pass has its own weights, as ``DCNLayer`` builds them (its
  ``num_seq`` ``NormalSubLayer`` modules, applied one after the other). With one pass both
  give the official model (15,947,859 parameters with two regression heads); with N > 1
  passes separate weights add (N - 1) joint-attention modules. Both work for every task.

Time axis. The time-linear map K needs exactly L steps. Each stream is therefore resampled to
L segments from its *real* steps only: segment s averages real steps
[floor(s n / L), max(floor(s n / L) + 1, ceil((s + 1) n / L))) of a clip with n real steps.
With n = L (the suite's default of 16 frames per clip) this is the identity, so the official
computation is unchanged; shorter clips repeat steps, longer ones average neighbours, and the
log-mel frontend's ~25 steps per second of audio are pooled onto the same L segments as the
video (the official audio features are one per video sub-clip). Because only real steps are
read, appended padding cannot change the output: the model supports variable lengths.

Video features (``video_input="features"``) come as ``(B, T, video_spatial * video_channels)``,
position-major (all channels of position 0, then position 1, ...; this is how the official
code reshapes its 25088-d vectors), or as ``(B, T, video_spatial, video_channels)``. With
``video_input="frames"`` a small per-frame CNN (the shared frame-CNN recipe without its global
pooling) gives a spatial map, pooled to the sqrt(video_spatial)-sided grid and projected to
``video_channels``; it stands in for the official frozen 3-D CNN. Audio log-mel goes through
the shared log-mel frontend, emitting ``raw_audio_embed_dim`` (512, the official width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.contract import AVModel, Batch, ModelConfig, ModelOutput, to_frame_steps
from bench.errors import ConfigError
from bench.nn.dropout import Dropout
from bench.nn.kernels import fast_kernels
from bench.nn.frontends import build_audio_frontend, fold_real, in_weight_layout, unfold_real
from bench.nn.losses import ccc, head_loss, masked_steps
from bench.models.registry import register_model


@dataclass
class RJAConfig(ModelConfig):
    """RJA settings; defaults are the official ``CAM`` (Aff-Wild2 valence/arousal) and its script."""

    # official: valence/arousal per step of a 16-step sequence ("frame"); "regression" pools the
    # per-step outputs into one per clip; "classification" is our adaptation (one C-way head)
    task: Literal["classification", "regression", "frame"] = "regression"
    num_outputs: int = 2  # official: valence and arousal (one head each)
    audio_input: Literal["logmel", "features"] = "features"  # official: 512-d clip features
    audio_dim: int = 512  # audio feature width (or log-mel bins with logmel input)
    video_input: Literal["frames", "features"] = "features"  # official: 7x7x512 clip features
    video_dim: int = 25088  # flattened video feature width = video_spatial * video_channels
    video_channels: int = 512  # channels per spatial position of the video features
    video_spatial: int = 49  # spatial positions (7 x 7) the audio-guided attention ranges over
    raw_audio_embed_dim: int = 512  # width the log-mel frontend emits (stands in for the audio CNN)
    frontend_channels: tuple[int, ...] = (64, 128, 256)  # frame CNN widths (frames input; 48px -> 6x6)
    seq_len: int = 16  # L: steps per clip the time-linear key map expects (official 16)
    hidden: int = 512  # BLSTM wrapper output width (256 per direction)
    lstm_layers: int = 2  # layers of every BLSTM
    lstm_dropout: float = 0.1  # dropout in the per-modality BLSTM wrappers (0 in the joint one)
    attention_dropout: float = 0.6  # dropout on the correlation maps and the attended features
    num_passes: int = 1  # joint-attention passes (released code: 1, DCNLayer(num_seq=1); paper: N >= 1)
    share_weights: bool = True  # one joint-attention module for all passes (paper) or one per pass (DCNLayer)
    head_hidden: int = 128  # hidden width of the output heads
    head_dropout: float = 0.6  # dropout in the output heads
    # Every normalised vector (the input streams, each BLSTM wrapper's output) as the official
    # unit vector ("l2"), or the same direction at unit RMS per element, i.e. times sqrt(width)
    # ("rms"). See the class docstring: from raw inputs "l2" starves the LSTMs.
    feature_norm: Literal["l2", "rms"] = "l2"


# --------------------------------------------------------------------------------------------
# time axis: L segments from the real steps
# --------------------------------------------------------------------------------------------
def segment_weights(mask: torch.Tensor, segments: int) -> torch.Tensor:
    """``(B, L, T)`` averaging weights mapping each clip's real steps onto L segments.

    Segment s of a clip with n real steps covers [floor(s n / L), max(start + 1, ceil((s+1) n / L)))
    (identity when n == L); padded steps and clips with n = 0 get zero weight.
    """
    n = mask.sum(1).to(torch.float64)[:, None]  # (B, 1)
    s = torch.arange(segments, device=mask.device, dtype=torch.float64)[None, :]  # (1, L)
    start = torch.floor(s * n / segments)
    end = torch.maximum(start + 1, torch.ceil((s + 1) * n / segments))
    t = torch.arange(mask.shape[1], device=mask.device, dtype=torch.float64)[None, None, :]
    inside = (t >= start[..., None]) & (t < end[..., None]) & mask[:, None, :]
    inside = inside.float()
    return inside / inside.sum(-1, keepdim=True).clamp_min(1.0)


def resample(x: torch.Tensor, mask: torch.Tensor, segments: int) -> torch.Tensor:
    """``(B, T, ...)`` -> ``(B, L, ...)``: per-clip averages of real steps (see module docstring)."""
    weights = segment_weights(mask, segments).to(x.dtype)
    if not (fast_kernels() and bool(mask.all())):  # zeroing nothing would copy x unchanged
        real = mask.view(*mask.shape, *([1] * (x.dim() - 2)))
        x = torch.where(real, x, torch.zeros((), dtype=x.dtype, device=x.device))
    return torch.einsum("blt,bt...->bl...", weights, x)


# --------------------------------------------------------------------------------------------
# building blocks of the official CAM
# --------------------------------------------------------------------------------------------
FEATURE_NORMS = ("l2", "rms")


def normalise(x: torch.Tensor, feature_norm: str) -> torch.Tensor:
    """``x`` along its last axis as a unit vector ("l2", official) or at unit RMS ("rms": the
    unit vector times sqrt(width), so each element stays O(1) however wide the vector)."""
    if fast_kernels():
        # F.normalize's arithmetic (x / max(||x||, 1e-12)) with the norm broadcast instead of
        # expanded: the same numbers and gradients, bit for bit, without full-size copies of the
        # norm and its square in the backward (the video vector is 6,272 wide at the preset).
        x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    else:
        x = F.normalize(x, dim=-1)
    return x * math.sqrt(x.shape[-1]) if feature_norm == "rms" else x


class BLSTMWrapper(nn.Module):
    """Bidirectional LSTM with learned initial states; [input; output] -> dropout -> Linear -> L2
    (or unit RMS: ``feature_norm``)."""

    def __init__(self, in_dim: int, out_dim: int, num_layers: int, dropout: float, feature_norm: str = "l2"):
        super().__init__()
        self.feature_norm = feature_norm
        self.num_layers, self.half = num_layers, out_dim // 2
        self.rnn = nn.LSTM(in_dim, self.half, num_layers=num_layers, dropout=dropout,
                           bidirectional=True, batch_first=True)
        # rows: h0 for (layer, direction) pairs, then c0 for the same pairs
        self.init_state = nn.Parameter(nn.init.xavier_uniform_(torch.empty(4 * num_layers, self.half)))
        self.dropout = Dropout(dropout)
        self.linear = nn.Linear(in_dim + out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        n = 2 * self.num_layers
        h0 = self.init_state[:n, None].expand(n, b, self.half).contiguous()
        c0 = self.init_state[n:, None].expand(n, b, self.half).contiguous()
        out, _ = self.rnn(x, (h0, c0))
        return normalise(self.linear(self.dropout(torch.cat([x, out], dim=-1))), self.feature_norm)


class AudioGuidedSpatialAttention(nn.Module):
    """Attention over the P video positions of each step, guided by that step's audio vector.

    v = ReLU(W_video x_p), g = ReLU(W_audio a); z_p = w_h . tanh(W_v v_p + (W_g g)_p 1);
    alpha = softmax_p(z); output Linear(sum_p alpha_p x_p). The audio term enters per position p
    (broadcast along the projection axis), exactly as the official code computes it.
    """

    def __init__(self, audio_dim: int, channels: int, positions: int, dim: int):
        super().__init__()
        self.affine_audio = nn.Linear(audio_dim, dim)
        self.affine_video = nn.Linear(channels, dim)
        self.affine_v = nn.Linear(dim, positions, bias=False)
        self.affine_g = nn.Linear(dim, positions, bias=False)
        self.affine_h = nn.Linear(positions, 1, bias=False)
        self.affine_feat = nn.Linear(channels, dim)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``video (B, L, P, C)``, ``audio (B, L, D_a)`` -> ``(B, L, dim)``, map ``(B, L, P)``."""
        if fast_kernels():
            # Rectified in place (the projection's backward does not read its output): the same
            # numbers without one more (B, L, P, dim) map, 100 MB at the official batch. The
            # projection runs on the rows folded in 2-D, as F.linear folds them itself, so the
            # in-place op meets a tensor of its own, not a view (whose backward would copy it).
            rows = self.affine_video(video.reshape(-1, video.shape[-1]))
            v = F.relu(rows, inplace=True).view(*video.shape[:-1], rows.shape[-1])
        else:
            v = F.relu(self.affine_video(video))  # (B, L, P, dim)
        g = F.relu(self.affine_audio(audio))  # (B, L, dim)
        content = self.affine_v(v) + self.affine_g(g).unsqueeze(-1)  # (B, L, P, P)
        alpha = self.affine_h(torch.tanh(content)).squeeze(-1).softmax(dim=-1)  # (B, L, P)
        attended = torch.einsum("blp,blpc->blc", alpha, video)
        return self.affine_feat(attended), alpha


class JointCrossAttention(nn.Module):
    """One pass of joint cross-attention between video and audio (``NormalSubLayer`` + ``DenseCoAttn``).

    J = W_q [X_v; X_a]; per modality m: C_m = dropout(tanh(K_m(X_m)^T J / sqrt(d_J))) with K_m a
    Linear along time, A_m = ReLU(tanh((X_m W_m) C_m)), X_m <- X_m + dropout(ReLU(W_o,m A_m)).
    """

    def __init__(self, video_dim: int, audio_dim: int, seq_len: int, dropout: float):
        super().__init__()
        joint = video_dim + audio_dim
        self.scale = 1.0 / math.sqrt(joint)
        self.query = nn.Linear(joint, joint)
        self.key_video, self.key_audio = nn.Linear(seq_len, seq_len), nn.Linear(seq_len, seq_len)
        self.value_video, self.value_audio = nn.Linear(video_dim, video_dim), nn.Linear(audio_dim, audio_dim)
        self.corr_dropout = nn.ModuleList(Dropout(dropout) for _ in range(2))
        self.out_video = nn.Sequential(nn.Linear(joint, video_dim), nn.ReLU(), Dropout(dropout))
        self.out_audio = nn.Sequential(nn.Linear(joint, audio_dim), nn.ReLU(), Dropout(dropout))

    def _attend(self, joint: torch.Tensor, x: torch.Tensor, key: nn.Linear, value: nn.Linear,
                dropout: nn.Module) -> torch.Tensor:
        k = key(x.transpose(1, 2))  # (B, d_m, L): the linear map runs along time
        if fast_kernels():
            # Scaled and squashed in place (the product's and the scale's backward do not read
            # their outputs; tanh's reads its own): the same numbers, bit for bit, without two
            # more (B, d_m, d_J) maps, 134 MB each at the official batch of 64.
            corr = dropout(torch.bmm(k, joint).mul_(self.scale).tanh_())
        else:
            corr = dropout(torch.tanh(torch.bmm(k, joint) * self.scale))  # (B, d_m, d_J)
        return F.relu(torch.tanh(torch.bmm(value(x), corr)))  # (B, L, d_J)

    def forward(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        joint = self.query(torch.cat([video, audio], dim=-1))  # (B, L, d_J)
        att_v = self._attend(joint, video, self.key_video, self.value_video, self.corr_dropout[0])
        att_a = self._attend(joint, audio, self.key_audio, self.value_audio, self.corr_dropout[1])
        return video + self.out_video(att_v), audio + self.out_audio(att_a)


def regression_head(in_dim: int, hidden: int, out_dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), Dropout(dropout), nn.Linear(hidden, out_dim))


class SpatialFrameCNN(nn.Module):
    """Face crops ``(B, T, 3, S, S)`` -> spatial maps ``(B, T, P, channels)`` on real frames only.

    The shared frame-CNN recipe (conv3x3 stride 2 - BatchNorm - ReLU stages) without its global
    pooling, since RJA attends over positions; the map is average-pooled to a g x g grid
    (g = sqrt(P)) and projected per position to ``channels``.
    """

    def __init__(self, widths: tuple[int, ...], grid: int, channels: int):
        super().__init__()
        layers: list[nn.Module] = []
        previous = 3
        for width in widths:
            layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
            previous = width
        self.trunk = nn.Sequential(*layers)
        self.grid, self.channels = grid, channels
        self.proj = nn.Linear(previous, channels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ConfigError(f"rja: video_input='frames' expects (B, T, 3, H, W), got {tuple(x.shape)}")
        b, t = mask.shape
        real = in_weight_layout(fold_real(x, mask).float(), self.trunk[0])
        if real.shape[0] == 0:
            return x.new_zeros(b, t, self.grid * self.grid, self.channels, dtype=self.proj.weight.dtype)
        maps = F.adaptive_avg_pool2d(self.trunk(real), self.grid)  # (N, C', g, g)
        features = self.proj(maps.flatten(2).transpose(1, 2))
        return unfold_real(features, mask)  # the features' dtype: bf16 under autocast


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
@register_model(
    "rja",
    RJAConfig,
    recipe={"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "batch_size": 64, "epochs": 50,
            "scheduler": "multistep", "milestones": list(range(7, 50, 2)), "gamma": 0.8, "augment": False,
            "warmup_epochs": 6, "warmup_lr": 1e-4},
    paper="Praveen, Granger & Cardinal, Recursive Joint Attention for Audio-Visual Fusion in "
          "Regression Based Emotion Recognition, ICASSP 2023",
    code="https://github.com/praveena2j/RecurrentJointAttentionwithLSTMs",
    dataset_presets={"synthetic": {
        # Raw inputs on a CPU (see the class docstring): DE-III's synthetic width, unit-RMS
        # normalised vectors and the other models' dropout, so the fusion model trains from
        # scratch to convergence within the shared schedule.
        "cpu": {"hidden": 128, "video_channels": 128, "raw_audio_embed_dim": 128, "frontend_channels": (16, 32, 64),
                "feature_norm": "rms", "attention_dropout": 0.1, "head_dropout": 0.1},
    }},
)
class RJA(AVModel):
    """Recursive joint cross-attention with LSTMs (Praveen et al., ICASSP 2023).

    Training recipe (official ``main.py`` / ``train.py`` with ``config_file.json``): Adam,
    batch 64, 50 epochs, best epoch by validation CCC_V + CCC_A; from epoch 6 the script sets
    lr = 1e-3 * 0.8 ** ((epoch - 5) // 2), i.e. a step decay of 0.8 every 2 epochs from epoch 7;
    before that (its epochs 0-5, our 1-6) the optimiser runs at the config's 1e-4. The recipe
    keeps that start (``warmup_epochs=6, warmup_lr=1e-4``). Started at 1e-3 without gradient
    clipping, the LSTM stack collapses to constant outputs within a few dozen steps.

    From raw inputs (the synthetic corpus: face crops and log-mel, 144 training clips of 6
    speakers a fold) the official sizes do not learn, and the cause is not a code bug: the
    module equals the official one under copied weights (tests), and it fits one fixed batch
    of 16 clips (loss 1.81 -> 0.29 in 40 Adam steps at 1e-3). Measured on fold 1, seed 0:

    * at the official sizes (hidden 512, a 7 x 7 x 512 map: 17.3 M parameters with the frame
      CNN) the training loss stays near ln 6 and the logits shrink (spread 0.14 -> 0.04 over
      four epochs): the model settles on the class prior. With the audio zeroed the video path
      alone stays near chance; with the video zeroed the audio path peaks at 0.38 validation UAR;
    * the official L2 normalisation makes every element of the 25,088-wide video vector about
      1 / sqrt(25088) = 0.006, so at initialisation the video moves the video LSTM's gate
      pre-activations by about 0.005, small next to their recurrent and bias terms: a frozen pretrained backbone (the
      official setting) hands the fusion model fixed features, a from-scratch frame CNN must
      learn through that bottleneck;
    * at DE-III's synthetic CPU width (hidden, map channels and log-mel embedding 128; frame
      CNN 16-32-64, 1.13 M parameters) the official normalisation and dropout fit the training
      clips slowly (training loss 1.80 until epoch 11, 0.75 when early stopping ended it at
      epoch 26); with ``feature_norm="rms"`` and the other models' dropout of 0.1 the training
      loss falls from epoch 3 and reaches 0.002 by epoch 30 (converged; selected epoch 20).

    So the synthetic CPU preset (``dataset_presets`` in the registration above) is that last
    setting. It was chosen from these training-loss curves and the widths of DE-III's preset;
    the fold-1 validation and test scores of the variants were printed while probing, so fold 1
    is not an untouched test fold for this preset (a nested-tuned row is the clean comparison).
    Fold 1 seed 0 was a lucky draw: on the comparison's 5 folds x 3 seeds the preset scores UAR
    0.454 (seed 0: 0.525; seeds 1-2: 0.419), every run selecting an epoch before its last.
    """

    supports_variable_length = True  # streams are resampled to L segments from real steps only

    def __init__(self, config: RJAConfig):
        super().__init__(config)
        c = config
        if c.num_passes < 1:
            raise ConfigError(f"rja: num_passes must be >= 1, got {c.num_passes}")
        grid = int(round(math.sqrt(c.video_spatial)))
        if c.video_input == "frames":
            if grid * grid != c.video_spatial:
                raise ConfigError(f"rja: video_spatial={c.video_spatial} must be a square for frames input")
            self.video_frontend: nn.Module | None = SpatialFrameCNN(tuple(c.frontend_channels), grid, c.video_channels)
        else:
            if c.video_dim != c.video_spatial * c.video_channels:
                raise ConfigError(
                    f"rja: video_dim={c.video_dim} must equal video_spatial*video_channels="
                    f"{c.video_spatial}*{c.video_channels}; for pooled (non-spatial) embeddings set "
                    f"video_spatial=1 and video_channels=video_dim"
                )
            self.video_frontend = None
        if c.audio_input == "logmel":
            self.audio_frontend: nn.Module | None = build_audio_frontend(c, c.raw_audio_embed_dim)
            audio_width = c.raw_audio_embed_dim
        else:
            self.audio_frontend, audio_width = None, c.audio_dim

        if c.feature_norm not in FEATURE_NORMS:
            raise ConfigError(f"rja: feature_norm must be one of {FEATURE_NORMS}, got {c.feature_norm!r}")
        self.audio_lstm = BLSTMWrapper(audio_width, c.hidden, c.lstm_layers, c.lstm_dropout, c.feature_norm)
        self.spatial_attention = AudioGuidedSpatialAttention(c.hidden, c.video_channels, c.video_spatial, c.hidden)
        self.video_lstm = BLSTMWrapper(c.hidden, c.hidden, c.lstm_layers, c.lstm_dropout, c.feature_norm)
        passes = 1 if c.share_weights else c.num_passes
        self.joint_attention = nn.ModuleList(
            JointCrossAttention(c.hidden, c.hidden, c.seq_len, c.attention_dropout) for _ in range(passes)
        )
        self.joint_lstm = BLSTMWrapper(2 * c.hidden, c.hidden, c.lstm_layers, 0.0, c.feature_norm)
        if c.task in ("regression", "frame"):  # one 512 -> 128 -> 1 regressor per target (official)
            self.heads = nn.ModuleList(
                regression_head(c.hidden, c.head_hidden, 1, c.head_dropout) for _ in range(c.num_outputs)
            )
        else:
            self.heads = nn.ModuleList([regression_head(c.hidden, c.head_hidden, c.num_outputs, c.head_dropout)])
        self._init_core()

    def _init_core(self) -> None:
        """Official init: Xavier-uniform weights and zero biases for every Linear of the fusion model."""
        for module in (self.audio_lstm, self.spatial_attention, self.video_lstm, self.joint_attention,
                       self.joint_lstm, self.heads):
            for m in module.modules():
                if isinstance(m, nn.Linear):
                    nn.init.xavier_uniform_(m.weight)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)

    def required_inputs(self) -> tuple[str, ...]:
        return ("audio", "video")

    # -- inputs on the L-step grid ---------------------------------------------------------------
    def _video(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        x, mask = self.get_input(batch, "video")
        mask = mask.to(device=x.device, dtype=torch.bool)
        if self.video_frontend is not None:
            x = self.video_frontend(x, mask)
        elif x.dim() == 3 and x.shape[-1] == c.video_spatial * c.video_channels:
            x = x.reshape(*x.shape[:2], c.video_spatial, c.video_channels)
        elif x.dim() != 4 or tuple(x.shape[2:]) != (c.video_spatial, c.video_channels):
            raise ConfigError(
                f"rja: video features must be (B, T, {c.video_spatial * c.video_channels}) or "
                f"(B, T, {c.video_spatial}, {c.video_channels}), got {tuple(x.shape)}"
            )
        return resample(x.float(), mask, c.seq_len), mask

    def _audio(self, batch: Batch) -> torch.Tensor:
        x, mask = self.get_input(batch, "audio")
        mask = mask.to(device=x.device, dtype=torch.bool)
        if self.audio_frontend is not None:
            x, mask = self.audio_frontend(x, mask)
        elif x.dim() != 3 or x.shape[-1] != self.config.audio_dim:
            raise ConfigError(f"rja: audio features must be (B, T, {self.config.audio_dim}), got {tuple(x.shape)}")
        return resample(x.float(), mask, self.config.seq_len)

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, batch: Batch) -> ModelOutput:
        c = self.config
        video, video_mask = self._video(batch)  # (B, L, P, C)
        audio = self._audio(batch)  # (B, L, D_a)
        b, length = video.shape[:2]
        video = normalise(video.reshape(b, length, -1), c.feature_norm).view_as(video)
        audio = normalise(audio, c.feature_norm)

        audio = self.audio_lstm(audio)
        video, spatial_map = self.spatial_attention(video, audio)
        video = self.video_lstm(video)
        for i in range(c.num_passes):
            video, audio = self.joint_attention[0 if c.share_weights else i](video, audio)
        joint = self.joint_lstm(torch.cat([video, audio], dim=-1))  # (B, L, hidden)

        per_step = torch.cat([head(joint) for head in self.heads], dim=-1)  # (B, L, K)
        if c.task == "frame":
            # every segment of a clip with a real step is real; back to the window's T steps
            segments = video_mask.any(dim=1, keepdim=True).expand(b, length)
            prediction = to_frame_steps(per_step, segments, batch)
        else:
            prediction = per_step.mean(dim=1)
        return ModelOutput(logits={"fused": prediction}, attention={"spatial": spatial_map})

    def compute_loss(self, output: ModelOutput, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Regression and frame targets: sum over targets of 1 - CCC (the official
        (1-CCC_V)+(1-CCC_A)), for frames over the valid steps only; classes: CE."""
        prediction = output.logits["fused"]
        if self.config.task in ("regression", "frame"):
            if self.config.task == "frame":
                prediction, target = masked_steps(prediction, batch["frame_target"], batch["frame_mask"])
            else:
                target = batch["target"]
            if prediction.shape[0] == 0:  # no valid step in the batch: a zero loss with a gradient
                per_target = prediction.float().sum(0) * 0.0
            else:
                per_target = 1 - ccc(prediction, target)
            loss = per_target.sum()
            parts = {f"loss_ccc_{i}": float(v.detach()) for i, v in enumerate(per_target)}
        else:
            loss = head_loss(prediction, batch, "classification")
            parts = {}
        parts["loss_fused"] = float(loss.detach())
        return loss, parts
