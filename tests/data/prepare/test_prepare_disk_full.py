"""A full disk stops prepare with one clear message; finished clips stay and a re-run resumes."""

from __future__ import annotations

import errno
import pickle
from pathlib import Path

import numpy as np
import pytest

from bench.data import media
from bench.data.prepare import PrepareConfig, prepare
from bench.data.store import DiskFullError, FeatureStore
from bench.errors import BenchError

FAST = PrepareConfig(num_frames=6, image_size=24, crop_size=56)


def _fill_disk_after(monkeypatch, saves: int) -> list[int]:
    """Make ``np.save`` raise ENOSPC once ``saves`` arrays have been written."""
    real_save, calls = np.save, [0]

    def save(file, arr, *args, **kwargs):
        calls[0] += 1
        if calls[0] > saves:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(file, arr, *args, **kwargs)

    monkeypatch.setattr(np, "save", save)
    return calls


def test_full_disk_stops_with_one_message_and_keeps_finished_clips(good_manifest, tmp_path, monkeypatch):
    root = tmp_path / "s"
    calls = _fill_disk_after(monkeypatch, saves=2 * 3)  # two clips of three arrays each
    with pytest.raises(DiskFullError) as info:
        prepare(good_manifest, FAST, root=root, progress=False)
    assert str(info.value) == (
        f"no space left on device while writing {root / 'clips' / 'c2' / 'frames.npy'}: "
        "free space and re-run; finished clips are kept"
    )
    assert isinstance(info.value, BenchError) and calls[0] == 7  # stopped at the first failed write
    stopped = FeatureStore.open(root)
    assert stopped.clip_ids == ["c0", "c1"]
    assert stopped.failures == [] and not (root / "failures").exists()  # c2 and c3 are not "bad input"
    assert not list(root.rglob("*.tmp*"))  # the half-written array is gone
    assert stopped.meta["counts"]["pending"] == 2

    monkeypatch.undo()  # space freed
    again = prepare(good_manifest, FAST, root=root, progress=False)
    assert again.summary.skipped == 2 and again.summary.computed == 2 and again.summary.failed == 0


def test_full_disk_while_finalizing_still_reports_the_first_error(good_manifest, tmp_path, monkeypatch):
    from bench.io import write_json

    tried = []

    def no_space_for_the_index(destination, obj):
        if Path(destination).name == "index.json":  # finalize's first write
            tried.append(destination)
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_json(destination, obj)

    _fill_disk_after(monkeypatch, saves=3)
    monkeypatch.setattr("bench.data.store.write_json", no_space_for_the_index)
    with pytest.raises(DiskFullError, match=r"c1/frames\.npy: free space and re-run"):
        prepare(good_manifest, FAST, root=tmp_path / "s", progress=False)
    assert tried  # finalize did run into the full disk, and its error did not hide the first one


def test_no_space_in_any_stage_is_not_a_bad_clip(good_manifest, tmp_path, monkeypatch):
    def read_frames(path, num_frames):
        raise OSError(errno.EDQUOT, "Disk quota exceeded", str(tmp_path / "decoder-cache"))

    monkeypatch.setattr(media, "read_frames", read_frames)
    with pytest.raises(DiskFullError, match=r"while writing .*decoder-cache: free space and re-run"):
        prepare(good_manifest, FAST, root=tmp_path / "s", progress=False)
    assert FeatureStore.open(tmp_path / "s").failures == []


def test_disk_full_error_crosses_the_process_pool():
    error = pickle.loads(pickle.dumps(DiskFullError("/x/clips/a/flow.npy")))
    assert isinstance(error, DiskFullError) and str(error) == str(DiskFullError("/x/clips/a/flow.npy"))
