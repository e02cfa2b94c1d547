"""Face detection (Haar on a drawn face), fallback, smoothing, squaring; optical flow direction."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import faces, flow
from bench.errors import BadInputError
from prepare_media import face_frame


def _frames(n=8, width=256, height=192, dx=2):
    r = int(min(width, height) * 0.3)
    return np.stack([face_frame(width, height, width // 2 - n + dx * i, height // 2, r, seed=i) for i in range(n)])


def test_haar_finds_the_drawn_face():
    frame = _frames(1)[0]
    box = faces.detect_largest(frame)
    assert box is not None
    x, y, w, h = box
    assert abs(x + w / 2 - 128 + 8) < 12 and abs(y + h / 2 - 96) < 15  # centred on the face
    assert 0.6 * 57 * 2 < w < 1.4 * 57 * 2  # about the drawn face's size
    # the local search around a prior agrees with the full search
    near = faces.detect_largest(frame, prior=box)
    np.testing.assert_allclose(near[:2] + near[2:] / 2, box[:2] + box[2:] / 2, atol=6)
    assert faces.detect_largest(np.full((192, 256, 3), 90, np.uint8)) is None


def test_crop_faces_falls_back_and_smooths():
    frames = _frames(8)
    frames[3] = 90  # a frame where the face is gone (occlusion, blink, cut)
    crops, track = faces.crop_faces(frames, crop_size=112, detect_every=1)
    assert crops.shape == (8, 112, 112, 3) and crops.dtype == np.uint8
    # frame 3 got a box from its neighbours, on the face's path, not the frame centre default
    assert abs(track[3, 0] - (track[2, 0] + track[4, 0]) / 2) < 4
    # the face drifts 2 px per frame; the track follows it smoothly (no jumps > a few px)
    assert np.all(np.abs(np.diff(track[:, 0])) < 6)
    assert track[-1, 0] > track[0, 0]
    # every crop of a frame with a face shows it: its skin colour dominates the centre
    centre = crops[:, 40:72, 40:72].reshape(8, -1, 3).mean(axis=1)
    assert np.all(np.delete(centre[:, 0], 3) > 150) and centre[3, 0] == 90


def test_smoothing_removes_jitter_and_fill_missing_interpolates():
    boxes = np.array([[10, 10, 50, 50]] * 9, dtype=float)
    boxes[4, 0] += 30  # one wild detection
    track = faces.smooth_boxes(boxes, 5)
    assert np.allclose(track[:, 0], 35)  # the outlier is gone
    filled = faces.fill_missing([None, np.array([0, 0, 10, 10.0]), None, np.array([4, 0, 10, 10.0]), None])
    assert filled[:, 0].tolist() == [0, 0, 2, 4, 4]


def test_no_face_anywhere_is_a_bad_input():
    blank = np.full((6, 120, 160, 3), 90, np.uint8)
    with pytest.raises(BadInputError, match="no face") as info:
        faces.crop_faces(blank, path="blank.mp4", detect_every=2)
    assert info.value.record.stage == "faces" and info.value.record.path == "blank.mp4"


def test_detector_none_resizes_whole_frame():
    frames = np.zeros((3, 60, 80, 3), np.uint8)
    crops, _ = faces.crop_faces(frames, detector="none", crop_size=32)
    assert crops.shape == (3, 32, 32, 3)


def test_square_crop_pads_outside_the_frame():
    frame = np.full((50, 50, 3), 7, np.uint8)
    out = faces.square_crop(frame, 5, 5, 40, 20)
    assert out.shape == (20, 20, 3) and np.all(out == 7)


@pytest.mark.parametrize("method", ["dis", "farneback", "tvl1"])
def test_flow_sees_rightward_motion(method):
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (140, 140), dtype=np.uint8)
    import cv2

    texture = cv2.GaussianBlur(texture, (7, 7), 2)
    a = texture[10:122, 10:122]
    b = texture[10:122, 8:120]  # content moved +2 px in x
    crops = np.stack([np.repeat(x[..., None], 3, axis=2) for x in (a, b)])
    out = flow.clip_flow(crops, 48, method)
    assert out.shape == (1, 2, 48, 48) and out.dtype == np.float16
    u, v = out[0, 0].astype(np.float32), out[0, 1].astype(np.float32)
    inner = (slice(8, 40), slice(8, 40))
    assert u[inner].mean() == pytest.approx(2 * 48 / 112, rel=0.3)  # +2 px at 112 -> +0.86 px at 48
    assert abs(v[inner].mean()) < 0.2


def test_resize_flow_rescales_vectors():
    field = np.zeros((112, 112, 2), np.float32)
    field[..., 0], field[..., 1] = 4.0, -2.0
    small = flow.resize_flow(field, 56)
    assert small.shape == (56, 56, 2)
    assert np.allclose(small[..., 0], 2.0) and np.allclose(small[..., 1], -1.0)
