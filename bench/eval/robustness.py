"""Test-time conditions for the robustness study: one modality missing, or corrupted by noise.

Every model is scored on its fold's test speakers, with the weights selected on validation,
under each condition below. Nothing is retrained and nothing is selected on these scores: they
describe how a trained model degrades, which is what incomplete-data papers (e.g. the
self-attention-fusion baseline) claim to improve.

* ``audio_missing`` / ``video_missing``: the modality is zeroed (for video: frames *and*
  optical flow, which is derived from the frames); masks are kept, as when a sensor delivers
  blank input rather than no input.
* ``audio_noise``: Gaussian noise with the per-clip standard deviation of the features
  (0 dB signal-to-noise on the log-mel or embedding values).
* ``video_noise``: Gaussian pixel noise of standard deviation 0.25 on [0, 1] frames (clipped),
  and noise of the per-clip standard deviation on the flow.

Noise is drawn from a generator seeded per batch, so the same model gives the same scores.
"""

from __future__ import annotations

from typing import Callable

import torch

CONDITIONS = ("clean", "audio_missing", "video_missing", "audio_noise", "video_noise")
PIXEL_NOISE_STD = 0.25


def _zero(batch: dict, keys: tuple[str, ...]) -> dict:
    out = dict(batch)
    for key in keys:
        if isinstance(out.get(key), torch.Tensor):
            out[key] = torch.zeros_like(out[key])
    return out


def _clip_std(x: torch.Tensor) -> torch.Tensor:
    """Standard deviation per clip, broadcastable to ``x``."""
    flat = x.float().flatten(1)
    return flat.std(dim=1).clamp_min(1e-6).view(-1, *([1] * (x.dim() - 1)))


def _noisy(x: torch.Tensor, std: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=torch.float32).to(x.device)
    return (x.float() + noise * std).to(x.dtype)


def apply_condition(batch: dict, condition: str, generator: torch.Generator) -> dict:
    """A copy of ``batch`` under ``condition`` (one of :data:`CONDITIONS`)."""
    if condition == "clean":
        return batch
    if condition == "audio_missing":
        return _zero(batch, ("audio",))
    if condition == "video_missing":
        return _zero(batch, ("video", "flow"))
    out = dict(batch)
    if condition == "audio_noise":
        if isinstance(out.get("audio"), torch.Tensor):
            out["audio"] = _noisy(out["audio"], _clip_std(out["audio"]), generator)
        return out
    if condition == "video_noise":
        video = out.get("video")
        if isinstance(video, torch.Tensor):
            if video.dim() == 5:  # frames in [0, 1]
                out["video"] = _noisy(video, torch.tensor(PIXEL_NOISE_STD), generator).clamp(0, 1)
            else:  # precomputed embeddings
                out["video"] = _noisy(video, _clip_std(video), generator)
        if isinstance(out.get("flow"), torch.Tensor):
            out["flow"] = _noisy(out["flow"], _clip_std(out["flow"]), generator)
        return out
    raise ValueError(f"unknown robustness condition {condition!r}; choose from {CONDITIONS}")


def condition_transform(condition: str, seed: int = 0) -> Callable[[dict], dict]:
    """A batch transform for :func:`bench.train.loop.predict`, reseeded for every pass."""
    generator = torch.Generator().manual_seed(seed)
    return lambda batch: apply_condition(batch, condition, generator)
