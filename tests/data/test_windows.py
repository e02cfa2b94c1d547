"""Windows over frame-level clips: starts, padding, masks, audio slicing, stitching back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bench.data.dataset import make_loader
from bench.data.windows import FrameWindowDataset, stitch_windows, window_starts
from bench.errors import ConfigError


class FakeStore:
    """Clips with known arrays: frames hold their step index, audio its frame index."""

    root = "fake-store"
    meta = {"fps": 5.0}

    def __init__(self, lengths: dict[str, int], valid: dict[str, np.ndarray] | None = None):
        self.arrays_of = {}
        self.infos = {}
        for clip, T in lengths.items():
            frames = np.broadcast_to(np.arange(T, dtype=np.uint8)[:, None, None, None], (T, 3, 4, 4)).copy()
            flow = np.broadcast_to(np.arange(T - 1, dtype=np.float16)[:, None, None, None], (T - 1, 2, 4, 4)).copy()
            duration = T / 5.0
            audio = np.repeat(np.arange(int(duration * 100), dtype=np.float32)[:, None], 3, axis=1)
            target = np.stack([np.arange(T) / T, -np.arange(T) / T], 1).astype(np.float32)
            ok = valid[clip] if valid and clip in valid else np.ones(T, bool)
            self.arrays_of[clip] = {"frames": frames, "flow": flow, "audio": audio, "frame_target": target,
                                    "frame_valid": ok}
            self.infos[clip] = {"fps": 5.0, "ann_fps": 30.0, "video_frames": T * 6, "steps": T}
        self.manifest = type("M", (), {"frame": pd.DataFrame({"clip_id": list(lengths)})})()

    def load(self, clip):
        return self.arrays_of[clip]

    def clip_info(self, clip):
        return self.infos[clip]


ARRAYS = {"video": "frames", "flow": "flow", "audio": "audio"}


@pytest.mark.parametrize("length, steps, hop, expected", [
    (31, 16, 8, [0, 8, 16]),
    (32, 16, 8, [0, 8, 16]),
    (33, 16, 8, [0, 8, 16, 24]),
    (5, 16, 8, [0]),
    (16, 16, 16, [0]),
    (17, 16, 16, [0, 16]),
])
def test_window_starts_cover_every_step(length, steps, hop, expected):
    starts = window_starts(length, steps, hop)
    assert starts == expected
    covered = set()
    for s in starts:
        covered.update(range(s, s + steps))
    assert set(range(length)) <= covered


def test_hop_longer_than_window_is_refused():
    with pytest.raises(ConfigError, match="window_hop 9 > window_steps 8"):
        window_starts(30, 8, 9)


def test_batch_keys_shapes_and_padding():
    store = FakeStore({"a": 20, "b": 5})
    ds = FrameWindowDataset(store, ["a", "b"], ARRAYS, window_steps=8, window_hop=6)
    assert list(zip(ds.clip_ids, ds.starts)) == [("a", 0), ("a", 6), ("a", 12), ("b", 0)]
    batch = ds[[2, 3]]
    assert batch["video"].shape == (2, 8, 3, 4, 4) and batch["video"].dtype == torch.uint8
    assert batch["flow"].shape == (2, 7, 2, 4, 4)
    assert batch["audio"].shape == (2, 160, 3)  # 8 steps at 5/s = 1.6 s of 100 frames/s
    assert batch["frame_target"].shape == (2, 8, 2) and batch["frame_target"].dtype == torch.float32
    assert batch["clip_id"] == ["a", "b"] and batch["window_start"].tolist() == [12, 0]
    # window a@12 has steps 12..19 (all real); b@0 has 5 real steps then padding
    assert batch["video"][0, :, 0, 0, 0].tolist() == list(range(12, 20))
    assert batch["video_mask"].tolist() == [[True] * 8, [True] * 5 + [False] * 3]
    assert batch["frame_mask"].tolist() == [[True] * 8, [True] * 5 + [False] * 3]
    assert batch["flow_mask"][1].tolist() == [True] * 4 + [False] * 3
    assert batch["audio"][0, 0, 0].item() == 240.0  # 12 steps / 5 fps = 2.4 s -> audio frame 240
    assert batch["audio_mask"][1].sum().item() == 100  # b's whole sound: 1 s


def test_unannotated_steps_are_masked():
    valid = np.ones(12, bool)
    valid[3:6] = False
    ds = FrameWindowDataset(FakeStore({"a": 12}, {"a": valid}), ["a"], {"video": "frames"}, window_steps=8, window_hop=4)
    batch = ds[[0, 1]]
    assert batch["frame_mask"][0].tolist() == [True, True, True, False, False, False, True, True]
    assert batch["window_start"][1].item() == 4  # steps 4..11, of which 4 and 5 are unannotated
    assert batch["frame_mask"][1].tolist() == [False, False, True, True, True, True, True, True]
    assert batch["video_mask"].all()  # unannotated steps are real video: only the target is masked


def test_works_with_make_loader():
    ds = FrameWindowDataset(FakeStore({"a": 30, "b": 12}), ["a", "b"], ARRAYS, window_steps=8, window_hop=4)
    batches = list(make_loader(ds, 3, shuffle=False))
    assert sum(len(b["clip_id"]) for b in batches) == len(ds)


def test_clip_without_frame_targets_is_a_clear_error():
    store = FakeStore({"a": 10})
    del store.arrays_of["a"]["frame_target"]
    with pytest.raises(ConfigError, match="clip 'a' has no per-frame targets"):
        FrameWindowDataset(store, ["a"], ARRAYS)


def test_stitch_averages_overlaps_and_ignores_padding():
    lengths = {"a": 10, "b": 3}
    starts = [0, 4, 8, 0]
    clips = ["a", "a", "a", "b"]
    predictions = np.zeros((4, 6, 1))
    predictions[0] = 1.0  # steps 0..5
    predictions[1] = 3.0  # steps 4..9
    predictions[2] = 5.0  # steps 8..9 (then padding 10..13)
    predictions[3, :, 0] = np.arange(6)  # steps 0..2 real
    out = stitch_windows(predictions, clips, starts, lengths)
    np.testing.assert_allclose(out["a"][:, 0], [1, 1, 1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_allclose(out["b"][:, 0], [0, 1, 2])


def test_stitch_refuses_uncovered_steps():
    with pytest.raises(ValueError, match="clip 'a': steps \\[4, 5\\] of 6 are in no window"):
        stitch_windows(np.zeros((1, 4, 2)), ["a"], [0], {"a": 6})


def test_stitch_round_trips_the_dataset_targets():
    ds = FrameWindowDataset(FakeStore({"a": 23, "b": 9}), ["a", "b"], {"video": "frames"}, window_steps=8, window_hop=3)
    batch = ds[list(range(len(ds)))]
    out = stitch_windows(batch["frame_target"], batch["clip_id"], batch["window_start"].tolist(), ds.lengths)
    for clip in ("a", "b"):
        np.testing.assert_allclose(out[clip], ds.store.load(clip)["frame_target"], rtol=1e-6)
