"""prepare() end to end on tiny real clips: shapes, meta, resume, bad inputs, strict, workers."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from bench.data.prepare import PrepareConfig, prepare, store_key
from bench.data.store import FeatureStore
from bench.errors import BadInputError, ConfigError
from bench.paths import stores_dir
from prepare_media import make_manifest, write_clip

FAST = PrepareConfig(num_frames=6, image_size=24, crop_size=56)


def test_prepare_writes_arrays_with_pinned_shapes(good_manifest, tmp_path):
    store = prepare(good_manifest, FAST, progress=False)
    assert store.root.parent.name == "stores" and store.root.name == store.key == store_key(good_manifest, FAST)
    assert store.clip_ids == ["c0", "c1", "c2", "c3"] and store.failures == []
    arrays = store.load("c1")
    assert arrays["frames"].shape == (6, 3, 24, 24) and arrays["frames"].dtype == np.uint8
    assert arrays["flow"].shape == (5, 2, 24, 24) and arrays["flow"].dtype == np.float16
    assert arrays["audio"].shape[1] == 64 and arrays["audio"].dtype == np.float32
    assert 40 <= arrays["audio"].shape[0] <= 60  # ~0.48 s at a 10 ms hop
    assert isinstance(arrays["frames"], np.memmap)
    # the crop follows the drifting face, so what remains is small face-relative motion
    assert np.isfinite(arrays["flow"].astype(np.float32)).all() and np.abs(arrays["flow"]).max() < 5
    reopened = FeatureStore.open(store.root)
    meta = reopened.meta
    assert meta["status"] == "complete" and meta["corpus"] == "tiny" and meta["labels"] == ["happy", "sad"]
    assert meta["shapes"]["frames"]["shape"] == [6, 3, 24, 24] and meta["counts"]["ok"] == 4
    assert meta["settings"]["num_frames"] == 6 and "opencv-contrib-python-headless" in meta["versions"]
    assert set(meta["prepare_summary"]["stage_seconds"]) == {"decode", "faces", "flow", "audio", "extract", "write"}
    assert reopened.manifest.frame["clip_id"].tolist() == store.clip_ids
    np.testing.assert_array_equal(reopened.load("c1")["flow"], arrays["flow"])
    assert not list(store.root.rglob("*.pkl")) and not list(store.root.rglob("*.tmp*"))


def test_separate_audio_file_and_no_flow(media_root):
    manifest = make_manifest(media_root, {"a": "clip0.mp4"}, audio={"a": "clip_audio_src.mp4"})
    store = prepare(manifest, PrepareConfig(num_frames=4, flow="none", face_detector="none"), progress=False)
    arrays = store.load("a")
    assert "flow" not in arrays and arrays["frames"].shape == (4, 3, 48, 48)
    assert store.meta["settings"]["flow"] == "none"


def test_resume_skips_finished_clips(good_manifest):
    store = prepare(good_manifest, FAST, progress=False)
    mtimes = {c: os.stat(store.clip_dir(c) / "frames.npy").st_mtime_ns for c in store.clip_ids}
    # simulate a kill: c2 had its arrays written but not its done-marker, c3 had nothing yet
    (store.clip_dir("c2") / "done.json").unlink()
    for f in store.clip_dir("c3").iterdir():
        f.unlink()
    again = prepare(good_manifest, FAST, progress=False)
    assert again.root == store.root
    assert again.summary.skipped == 2 and again.summary.computed == 2 and again.clip_ids == store.clip_ids
    for c in ("c0", "c1"):
        assert os.stat(store.clip_dir(c) / "frames.npy").st_mtime_ns == mtimes[c]  # not recomputed
    assert os.stat(store.clip_dir("c2") / "frames.npy").st_mtime_ns != mtimes["c2"]
    third = prepare(good_manifest, FAST, progress=False)
    assert third.summary.computed == 0 and third.summary.skipped == 4


def test_key_changes_with_settings_and_manifest(good_manifest):
    assert store_key(good_manifest, FAST) != store_key(good_manifest, PrepareConfig(num_frames=7, image_size=24, crop_size=56))
    assert store_key(good_manifest, FAST) != store_key(good_manifest.subset(["c0"]), FAST)


@pytest.fixture(scope="module")
def bad_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    write_clip(root / "good.mp4")
    write_clip(root / "silent.mp4", audio=False)
    write_clip(root / "noface.mp4", face=False)
    data = (root / "good.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (root / "empty.mp4").write_bytes(b"")
    return root


def _bad_manifest(root):
    names = ["good", "silent", "noface", "truncated", "missing", "empty"]
    return make_manifest(root, {n: f"{n}.mp4" for n in names})


def test_bad_inputs_are_recorded_and_skipped(bad_root):
    store = prepare(_bad_manifest(bad_root), FAST, progress=False)
    assert store.clip_ids == ["good"]
    failures = {f.clip_id: f for f in store.failures}
    assert set(failures) == {"silent", "noface", "truncated", "missing", "empty"}
    assert failures["silent"].stage == "audio" and "no sound track" in failures["silent"].reason
    assert failures["noface"].stage == "faces" and "no face" in failures["noface"].reason
    assert failures["missing"].stage == "decode" and "does not exist" in failures["missing"].reason
    assert failures["missing"].path.endswith("missing.mp4")
    assert failures["truncated"].stage in ("decode", "audio") and failures["truncated"].path.endswith("truncated.mp4")
    assert failures["empty"].stage == "decode"
    summary = store.summary
    assert summary.ok == 1 and summary.failed == 5 and sum(summary.failures_by_stage.values()) == 5
    on_disk = json.loads((store.root / "failures.json").read_text())
    assert {r["clip_id"] for r in on_disk} == set(failures)
    assert store.meta["failures"]["count"] == 5 and store.meta["counts"]["ok"] == 1
    with pytest.raises(KeyError, match="failed to prepare"):
        store.load("silent")


def test_strict_stops_at_the_first_bad_clip(bad_root):
    with pytest.raises(BadInputError, match="no sound track") as info:
        prepare(_bad_manifest(bad_root), FAST, strict=True, progress=False)
    assert info.value.record.clip_id == "silent"
    stopped = FeatureStore.open(stores_dir() / store_key(_bad_manifest(bad_root), FAST))
    assert stopped.clip_ids == ["good"]  # finished work stays; nothing after the bad clip ran
    assert stopped.meta["status"] == "incomplete" and stopped.meta["counts"]["pending"] == 4


def test_store_refuses_a_folder_of_another_store(good_manifest, tmp_path):
    prepare(good_manifest.subset(["c0"]), FAST, root=tmp_path / "s", progress=False)
    with pytest.raises(ConfigError, match="holds a feature store"):
        prepare(good_manifest, FAST, root=tmp_path / "s", progress=False)
    with pytest.raises(ConfigError, match="not a feature store"):
        FeatureStore.open(tmp_path)


@pytest.mark.slow  # two spawned workers import torch and OpenCV: a few seconds
def test_two_workers_give_identical_arrays(good_manifest, tmp_path):
    one = prepare(good_manifest, FAST, workers=1, root=tmp_path / "one", progress=False)
    two = prepare(good_manifest, FAST, workers=2, root=tmp_path / "two", progress=False)
    assert two.clip_ids == one.clip_ids and two.summary.workers == 2
    for clip in one.clip_ids:
        a, b = one.load(clip), two.load(clip)
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{clip}/{name}")


def test_automatic_workers_are_decided_only_when_clips_are_left(good_manifest, tmp_path, monkeypatch):
    """workers=0 (the default of bench run and bench prepare) samples the load, which takes
    0.5 s, only when clips are left to prepare; a finished store opens without it; 4 clips do
    not pay a worker's start-up back, so they are prepared inline even on idle cores."""
    from bench import cores

    samples: list[int] = []
    monkeypatch.setattr(cores, "idle_cores", lambda *a, **k: samples.append(1) or 4)
    store = prepare(good_manifest, FAST, workers=0, root=tmp_path / "auto", progress=False)
    assert store.summary.workers == 1 and samples == [1]  # 4 clips: inline, no pool
    prepare(good_manifest, FAST, workers=0, root=tmp_path / "auto", progress=False)
    assert samples == [1]
    with pytest.raises(ConfigError, match="workers"):
        prepare(good_manifest, FAST, workers=-1, root=tmp_path / "bad", progress=False)
