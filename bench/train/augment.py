"""Clip-consistent augmentation of face crops and optical flow, on the training device.

A clip is one moment of one face: every frame of a clip gets the *same* flip, rotation and
colour change (parameters are drawn once per clip and applied to all its frames), and the
flow fields follow the geometry exactly:

* a horizontal flip mirrors the flow fields and negates their x component (motion to the
  right becomes motion to the left);
* a rotation moves the flow fields like the frames and rotates every flow vector by the same
  linear map (``A`` of the affine matrix ``M = [A | t]`` that sends source pixels to output
  pixels), so flow stays the motion of the rotated face;
* colour jitter touches the frames only (flow has no colour).

Parameters are drawn from an explicit CPU ``torch.Generator`` so that a seeded run is
reproducible; the image operations are kornia's and run wherever the batch lives.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from kornia.enhance import adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation
from kornia.geometry.transform import get_rotation_matrix2d, warp_affine


@dataclass
class ClipAugmentParams:
    """Per-clip parameters (each tensor has one entry per clip of the batch)."""

    flip: torch.Tensor  # (B,) bool
    angle: torch.Tensor  # (B,) degrees, counter-clockwise as displayed
    brightness: torch.Tensor  # (B,) additive shift
    contrast: torch.Tensor  # (B,) multiplicative factor
    saturation: torch.Tensor  # (B,) multiplicative factor
    hue: torch.Tensor  # (B,) shift in radians


def sample_params(
    batch_size: int,
    generator: torch.Generator | None,
    *,
    flip_p: float = 0.5,
    rotation_deg: float = 10.0,
    color_jitter: float = 0.2,
    hue: float = 0.0,
) -> ClipAugmentParams:
    """Draw one set of augmentation parameters per clip."""

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(batch_size, generator=generator)

    return ClipAugmentParams(
        flip=torch.rand(batch_size, generator=generator) < flip_p,
        angle=uniform(-rotation_deg, rotation_deg),
        brightness=uniform(-color_jitter, color_jitter),
        contrast=uniform(1 - color_jitter, 1 + color_jitter),
        saturation=uniform(1 - color_jitter, 1 + color_jitter),
        hue=uniform(-hue, hue) * 2 * torch.pi,
    )


def _rotation(angle: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, 2, 3) affine matrices rotating about the image centre (output = M @ source)."""
    b = angle.shape[0]
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=torch.float32).expand(b, 2)
    return get_rotation_matrix2d(centre, angle.float(), torch.ones(b, 2))


def _per_frame(values: torch.Tensor, frames: int, device) -> torch.Tensor:
    """Repeat a per-clip parameter for every frame of the clip: (B,) -> (B * T,)."""
    return values.repeat_interleave(frames).to(device)


def augment_video(video: torch.Tensor, params: ClipAugmentParams, *, rotate: bool = True, jitter: bool = True) -> torch.Tensor:
    """Augment face crops (B, T, 3, H, W) float in [0, 1] with one parameter set per clip."""
    b, t, c, h, w = video.shape
    flip = params.flip.to(video.device).view(b, 1, 1, 1, 1)
    video = torch.where(flip, video.flip(-1), video)
    flat = video.reshape(b * t, c, h, w)
    if rotate and bool((params.angle != 0).any()):
        matrix = _rotation(params.angle, h, w).to(video.device, flat.dtype)
        flat = warp_affine(flat, matrix.repeat_interleave(t, dim=0), (h, w), padding_mode="zeros", align_corners=True)
    if jitter:
        dev = video.device
        flat = adjust_brightness(flat, _per_frame(params.brightness, t, dev).to(flat.dtype))
        flat = adjust_contrast(flat, _per_frame(params.contrast, t, dev).to(flat.dtype))
        flat = adjust_saturation(flat, _per_frame(params.saturation, t, dev).to(flat.dtype))
        if bool((params.hue != 0).any()):
            flat = adjust_hue(flat, _per_frame(params.hue, t, dev).to(flat.dtype))
        flat = flat.clamp(0, 1)
    return flat.reshape(b, t, c, h, w)


def augment_flow(flow: torch.Tensor, params: ClipAugmentParams, *, rotate: bool = True) -> torch.Tensor:
    """Apply the same flip and rotation to flow fields (B, T_f, 2, H, W), vectors included."""
    b, t, c, h, w = flow.shape
    flip = params.flip.to(flow.device).view(b, 1, 1, 1, 1)
    mirrored = flow.flip(-1)
    mirrored = torch.cat([-mirrored[:, :, :1], mirrored[:, :, 1:]], dim=2)
    flow = torch.where(flip, mirrored, flow)
    if rotate and bool((params.angle != 0).any()):
        matrix = _rotation(params.angle, h, w).to(flow.device, flow.dtype)
        flat = warp_affine(
            flow.reshape(b * t, c, h, w), matrix.repeat_interleave(t, dim=0), (h, w),
            padding_mode="zeros", align_corners=True,
        ).reshape(b, t, c, h, w)
        linear = matrix[:, :, :2]  # (B, 2, 2): how a displacement (dx, dy) maps to the output
        flow = torch.einsum("bij,btjhw->btihw", linear, flat)
    return flow


def augment_batch(batch: dict, generator: torch.Generator | None, config) -> dict:
    """Augment a training batch in place of its ``video`` (frames) and ``flow`` (fields).

    ``config`` is a :class:`~bench.train.config.TrainConfig`. Precomputed embeddings
    (``video``/``flow`` of rank 3) are left alone: there is no image to transform.
    """
    video, flow = batch.get("video"), batch.get("flow")
    has_video = video is not None and video.dim() == 5
    has_flow = flow is not None and flow.dim() == 5
    if not (has_video or has_flow):
        return batch
    size = (video if has_video else flow).shape[0]
    params = sample_params(
        size, generator, flip_p=config.flip_p, rotation_deg=config.rotation_deg,
        color_jitter=config.color_jitter, hue=config.hue,
    )
    batch = dict(batch)
    if has_video:
        batch["video"] = augment_video(video, params, rotate=config.rotation_deg > 0, jitter=config.color_jitter > 0 or config.hue > 0)
    if has_flow:
        batch["flow"] = augment_flow(flow, params, rotate=config.rotation_deg > 0)
    return batch
