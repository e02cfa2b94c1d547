"""Synthetic batches in the contract's layout (bench/contract.py) for any model config."""

from __future__ import annotations

import pytest
import torch

from bench.models.contract import ModelConfig


def make_batch(
    config: ModelConfig,
    *,
    batch_size: int = 2,
    frames: int = 6,
    audio_steps: int | None = None,
    lengths: tuple[float, ...] | None = None,
    seed: int = 0,
) -> dict:
    """Random inputs for every modality, shaped by ``config`` (frames or features, log-mel or features).

    ``lengths`` gives each clip's real fraction of the sequence (the rest is padding, mask False).
    """
    g = torch.Generator().manual_seed(seed)
    b, t = batch_size, frames
    t_a = audio_steps if audio_steps is not None else (8 * t if config.audio_input == "logmel" else 3 * t)
    s = config.image_size
    if config.video_input == "frames":
        video = torch.rand(b, t, 3, s, s, generator=g)
    else:
        video = torch.randn(b, t, config.video_dim, generator=g)
    if config.flow_input == "frames":
        flow = 2 * torch.randn(b, t - 1, 2, s, s, generator=g)
    else:
        flow = torch.randn(b, t - 1, config.flow_dim, generator=g)
    audio = torch.randn(b, t_a, config.audio_dim, generator=g)
    fractions = lengths or tuple(1.0 if i == 0 else 0.6 for i in range(b))

    def mask(steps: int) -> torch.Tensor:
        real = torch.tensor([max(2, round(f * steps)) for f in fractions])
        return torch.arange(steps)[None, :] < real[:, None]

    video_mask = mask(t)
    batch = {
        "video": video,
        "video_mask": video_mask,
        "flow": flow,
        "flow_mask": video_mask[:, 1:] & video_mask[:, :-1],
        "audio": audio,
        "audio_mask": mask(t_a),
        "clip_id": [f"clip{i}" for i in range(b)],
    }
    if config.task == "classification":
        batch["label"] = torch.arange(b) % config.num_outputs
    else:
        batch["target"] = torch.randn(b, config.num_outputs, generator=g)
    return batch


def pad_batch(batch: dict, extra_frames: int = 3, extra_audio: int = 13, seed: int = 1) -> dict:
    """The same clips with extra padded steps (loud noise, mask False) appended to every stream."""
    g = torch.Generator().manual_seed(seed)
    out = dict(batch)
    for key, extra in (("video", extra_frames), ("flow", extra_frames), ("audio", extra_audio)):
        x, m = batch[key], batch[f"{key}_mask"]
        noise = 10 * torch.rand(x.shape[0], extra, *x.shape[2:], generator=g)
        out[key] = torch.cat([x, noise.to(x.dtype)], dim=1)
        out[f"{key}_mask"] = torch.cat([m, torch.zeros(m.shape[0], extra, dtype=torch.bool)], dim=1)
    return out


@pytest.fixture(autouse=True)
def _one_thread():
    """Run model tests on one intra-op thread: on a shared, loaded CPU the OpenMP workers of
    tiny ops spin against other processes and a 40 ms step takes seconds."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(name="make_batch")
def make_batch_fixture():
    return make_batch


@pytest.fixture(name="pad_batch")
def pad_batch_fixture():
    return pad_batch
