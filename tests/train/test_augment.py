"""Augmentation: one parameter set per clip for every frame, and flow that follows the geometry."""

import torch

from bench.train.augment import ClipAugmentParams, augment_batch, augment_flow, augment_video, sample_params
from bench.train.config import TrainConfig


def _params(b, flip=False, angle=0.0, jitter=False):
    return ClipAugmentParams(
        flip=torch.full((b,), flip),
        angle=torch.full((b,), float(angle)),
        brightness=torch.full((b,), 0.1 if jitter else 0.0),
        contrast=torch.full((b,), 1.2 if jitter else 1.0),
        saturation=torch.full((b,), 0.8 if jitter else 1.0),
        hue=torch.zeros(b),
    )


def test_same_parameters_on_every_frame_of_a_clip():
    g = torch.Generator().manual_seed(0)
    frame = torch.rand(4, 1, 3, 16, 16)
    video = frame.expand(4, 6, 3, 16, 16).contiguous()  # six identical frames per clip
    flow = torch.randn(4, 1, 2, 16, 16).expand(4, 5, 2, 16, 16).contiguous()
    config = TrainConfig(augment=True, flip_p=0.5, rotation_deg=20, color_jitter=0.3, hue=0.05)
    out = augment_batch({"video": video, "flow": flow}, g, config)
    assert not torch.allclose(out["video"], video)
    assert torch.allclose(out["video"], out["video"][:, :1].expand_as(out["video"]))
    assert torch.allclose(out["flow"], out["flow"][:, :1].expand_as(out["flow"]))
    # clips differ from each other (parameters are per clip, not per batch)
    p = sample_params(8, torch.Generator().manual_seed(1), rotation_deg=20)
    assert p.angle.unique().numel() == 8


def test_flip_mirrors_frames_and_negates_flow_x():
    video = torch.rand(2, 3, 3, 8, 8)
    flow = torch.randn(2, 2, 2, 8, 8)
    params = _params(2, flip=True)
    assert torch.equal(augment_video(video, params, rotate=False, jitter=False), video.flip(-1))
    out = augment_flow(flow, params, rotate=False)
    assert torch.equal(out[:, :, 0], -flow[:, :, 0].flip(-1))
    assert torch.equal(out[:, :, 1], flow[:, :, 1].flip(-1))


def test_rotated_flow_is_the_motion_of_the_rotated_frames():
    size = 15
    x0, y0, dx, dy = 4, 3, 2, 1
    video = torch.zeros(1, 2, 3, size, size)
    video[0, 0, :, y0, x0] = 1
    video[0, 1, :, y0 + dy, x0 + dx] = 1
    flow = torch.zeros(1, 1, 2, size, size)
    flow[0, 0, 0], flow[0, 0, 1] = dx, dy
    params = _params(1, angle=90)
    rv = augment_video(video, params, jitter=False)
    rf = augment_flow(flow, params)
    (ya, xa) = [int(v) for v in (rv[0, 0, 0] > 0.5).nonzero()[0]]
    (yb, xb) = [int(v) for v in (rv[0, 1, 0] > 0.5).nonzero()[0]]
    assert (ya, xa) != (y0, x0)
    assert torch.allclose(rf[0, 0, :, ya, xa], torch.tensor([float(xb - xa), float(yb - ya)]), atol=1e-5)


def test_colour_jitter_leaves_flow_alone():
    flow = torch.randn(2, 3, 2, 8, 8)
    video = torch.rand(2, 4, 3, 8, 8)
    config = TrainConfig(augment=True, flip_p=0.0, rotation_deg=0.0, color_jitter=0.4)
    out = augment_batch({"video": video, "flow": flow}, torch.Generator().manual_seed(0), config)
    assert torch.equal(out["flow"], flow)
    assert not torch.allclose(out["video"], video)
    assert out["video"].min() >= 0 and out["video"].max() <= 1


def test_embeddings_are_not_augmented():
    batch = {"video": torch.randn(2, 4, 32), "audio": torch.randn(2, 10, 8)}
    out = augment_batch(batch, None, TrainConfig(augment=True))
    assert out["video"] is batch["video"]
