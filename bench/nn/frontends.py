"""Input frontends shared by every model: raw clip tensors (or precomputed features) -> sequences.

Every frontend is an ``nn.Module`` with ``forward(x, mask) -> (features (B, T', D), mask (B, T'))``
where ``mask`` is True on real steps. Padded steps never influence real outputs:

* the per-frame CNNs run on the **real frames only** (``x[mask]``, :func:`fold_real`), so
  BatchNorm statistics in training never see padding frames either, and scatter the embeddings
  back (zeros at padding);
* the log-mel frontend zeroes padded steps before each convolution, which is exactly the zero
  padding the convolution would see at the end of an unpadded clip, and downsamples the mask
  with the convolution (a step is real when the centre of its receptive field is real);
* the feature projection is per step.

The papers use large pretrained trunks (EfficientFace, wav2vec2, EMOCA, ResNet-3D) that we
cannot download; the learned frontends here are small stand-ins trained from scratch, and
``*_input = "features"`` lets a store with locally extracted embeddings feed the models
instead. ``build_*_frontend(config, out_dim)`` reads ``config.video_input`` / ``flow_input`` /
``audio_input`` (and ``video_dim`` etc. for features); optional config fields
``frontend_channels`` (tuple of CNN widths) and ``audio_frontend_stride`` are honoured when a
model config defines them.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from bench.errors import ConfigError
from bench.nn.attention import zero_padding
from bench.nn.kernels import fast_kernels

DEFAULT_CNN_CHANNELS = (32, 64, 128, 256)


class _ChannelsLastGrad(torch.autograd.Function):
    """Identity forward; the gradient comes back as a channels_last-contiguous tensor.

    Why: the backward of a global average pool is an expanded (stride-0) tensor. A trunk whose
    convolution weights are channels_last (``train.kernels = "fast"``) then runs its ReLU and
    batch-norm backward on that strided gradient through their slow generic paths: on the
    synthetic frame CNN (256 crops of 48 px, one thread) ReLU backward took 1.78 ms a layer
    instead of 0.44, and the whole trunk's step 71.9 ms instead of 62.4. Materialising the
    gradient once in the trunk's own layout moves the same numbers, so every gradient is
    bit-identical (tests/nn/test_frontends.py).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous(memory_format=torch.channels_last)


def channels_last_grad(x: torch.Tensor) -> torch.Tensor:
    """``x``, with its gradient laid out channels_last when ``x`` itself is (a no-op otherwise,
    so the NCHW ``"reference"`` kernels run exactly as before)."""
    if x.dim() == 4 and x.requires_grad and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return _ChannelsLastGrad.apply(x)
    return x


def fold_real(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The real steps of ``(B, T, ...)`` folded into one batch ``(N_real, ...)``: ``x[mask]``.

    Under the "fast" kernels, when every step is real (fixed-length frame clips, the usual
    case), this is a view of ``x`` instead of a gathered copy of every frame: the same values in
    the same order, so the same numbers and gradients, bit for bit."""
    if fast_kernels() and x.shape[:2] == mask.shape and bool(mask.all()):
        return x.flatten(0, 1)
    return x[mask]


def unfold_real(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`fold_real`: ``(N_real, ...)`` -> ``(B, T, ...)``, zeros at padded steps
    (under the "fast" kernels, a view of ``values`` when every step is real)."""
    if fast_kernels() and values.shape[0] == mask.numel() and bool(mask.all()):
        return values.view(*mask.shape, *values.shape[1:])
    return values.new_zeros(*mask.shape, *values.shape[1:]).index_put((mask,), values)


def in_weight_layout(x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    """``x`` (N, C, H, W) in the memory layout of ``conv``'s weights.

    Why: a convolution with channels_last weights (the fast kernels) copies an NCHW input to
    channels_last in its forward, and copies the saved input again in its backward for the
    weight gradient (256 face crops of 48 px: 1.2 ms each, one thread). Converting once feeds
    both the same values, so every number is as before. A no-op for NCHW weights."""
    weight = getattr(conv, "weight", None)
    if (x.dim() == 4 and weight is not None and weight.dim() == 4 and not weight.is_contiguous()
            and weight.is_contiguous(memory_format=torch.channels_last)):
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _full_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    return mask.to(device=x.device, dtype=torch.bool)


class FrameCNN(nn.Module):
    """A small per-frame CNN: ``(B, T, C, S, S) -> (B, T, out_dim)``.

    Stages of conv3x3 (stride 2) - BatchNorm - ReLU, global average pooling, then a Linear.
    Frames are folded into the batch (no loop over time); only real frames are computed.
    Used for RGB face crops (``in_channels=3``) and for 2-channel optical flow.
    """

    def __init__(self, in_channels: int, out_dim: int, channels: Sequence[int] = DEFAULT_CNN_CHANNELS):
        super().__init__()
        layers: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            layers += [
                nn.Conv2d(previous, width, kernel_size=3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            previous = width
        self.trunk = nn.Sequential(*layers)
        self.proj = nn.Linear(previous, out_dim)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 5:
            raise ValueError(f"expected frames (B, T, C, H, W), got shape {tuple(x.shape)}")
        mask = _full_mask(x, mask)
        b, t = mask.shape
        real = in_weight_layout(fold_real(x, mask).float(), self.trunk[0])  # (N_real, C, H, W)
        if real.shape[0] == 0:
            return x.new_zeros(b, t, self.out_dim, dtype=self.proj.weight.dtype), mask
        feats = self.proj(channels_last_grad(self.trunk(real)).mean(dim=(-2, -1)))  # bf16 under autocast
        return unfold_real(feats, mask), mask


class LogMelFrontend(nn.Module):
    """Two strided 1-D convolutions over log-mel frames: ``(B, T_a, F) -> (B, ~T_a/4, out_dim)``.

    Conv1d(k=3, stride 2) - GELU - Conv1d(k=3, stride 2) - GELU - LayerNorm: a 10 ms hop
    becomes 40 ms, near the video frame rate, and attention cost drops 16-fold. The mask is
    downsampled with each convolution (``mask[:, ::stride]``: the centre of the receptive field).
    """

    def __init__(self, in_dim: int, out_dim: int, stride: int = 2, num_layers: int = 2):
        super().__init__()
        self.stride = stride
        self.convs = nn.ModuleList(
            nn.Conv1d(in_dim if i == 0 else out_dim, out_dim, kernel_size=2 * stride - 1 if stride > 1 else 3,
                      stride=stride, padding=stride - 1 if stride > 1 else 1)
            for i in range(num_layers)
        )
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 3:
            raise ValueError(f"expected log-mel (B, T, F), got shape {tuple(x.shape)}")
        mask = _full_mask(x, mask)
        x = x.float()
        for conv in self.convs:
            x = zero_padding(x, mask)
            x = self.act(conv(x.transpose(1, 2))).transpose(1, 2)
            mask = mask[:, :: self.stride]
            assert mask.shape[1] == x.shape[1], (mask.shape, x.shape)
        return zero_padding(self.norm(x), mask), mask


class FeatureProjection(nn.Module):
    """Precomputed per-step features ``(B, T, D_in) -> (B, T, out_dim)`` by one Linear layer."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 3:
            raise ValueError(f"expected features (B, T, D), got shape {tuple(x.shape)}")
        mask = _full_mask(x, mask)
        return zero_padding(self.proj(x.float()), mask), mask


def _channels(config: Any) -> tuple[int, ...]:
    return tuple(getattr(config, "frontend_channels", DEFAULT_CNN_CHANNELS))


def build_video_frontend(config: Any, out_dim: int) -> nn.Module:
    """Face crops -> per-frame CNN; ``video_input="features"`` -> Linear from ``video_dim``."""
    if config.video_input == "frames":
        return FrameCNN(3, out_dim, _channels(config))
    if config.video_input == "features":
        return FeatureProjection(config.video_dim, out_dim)
    raise ConfigError(f"video_input must be 'frames' or 'features', got {config.video_input!r}")


def build_flow_frontend(config: Any, out_dim: int) -> nn.Module:
    """Optical flow (2 channels) -> per-field CNN; ``flow_input="features"`` -> Linear from ``flow_dim``."""
    if config.flow_input == "frames":
        return FrameCNN(2, out_dim, _channels(config))
    if config.flow_input == "features":
        return FeatureProjection(config.flow_dim, out_dim)
    raise ConfigError(f"flow_input must be 'frames' or 'features', got {config.flow_input!r}")


def build_audio_frontend(config: Any, out_dim: int) -> nn.Module:
    """Log-mel -> strided conv1d (time / 4); ``audio_input="features"`` -> Linear from ``audio_dim``."""
    if config.audio_input == "logmel":
        return LogMelFrontend(config.audio_dim, out_dim, stride=int(getattr(config, "audio_frontend_stride", 2)))
    if config.audio_input == "features":
        return FeatureProjection(config.audio_dim, out_dim)
    raise ConfigError(f"audio_input must be 'logmel' or 'features', got {config.audio_input!r}")
