"""Atomic writers under faults: the old file survives, no temporary file remains; writable checks."""

from __future__ import annotations

import errno

import numpy as np
import pytest

import bench.io as io
from bench.errors import ConfigError


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("writer,new", [(io.write_text, "new text"), (io.write_json, {"new": 1}),
                                        (io.write_bytes, b"new bytes"), (io.save_npy, np.ones(3))])
def test_a_failed_rename_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch, writer, new):
    target = tmp_path / ("old.npy" if writer is io.save_npy else "old.txt")
    target.write_bytes(b"old")

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(io.os, "replace", full_disk)
    with pytest.raises(OSError) as info:
        writer(target, new)
    assert info.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_a_writer_that_dies_halfway_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half of a ne")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_a_failed_fsync_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def broken_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(io.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        io.write_text(target, "new")
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_successful_write_replaces_and_keeps_the_usual_mode(tmp_path):
    target = tmp_path / "a.txt"
    io.write_text(target, "new")
    assert target.read_text() == "new" and _leftovers(tmp_path) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~io._UMASK)


def test_ensure_writable_names_the_folder_and_the_reason(tmp_path):
    assert io.ensure_writable(tmp_path / "reports" / "x", "report") == tmp_path / "reports" / "x"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as info:
        io.ensure_writable(blocker / "reports", "report", "pass --out or set BENCH_REPORTS")
    assert str(info.value) == (f"{blocker / 'reports'}: the report folder is not writable (Not a directory); "
                               "pass --out or set BENCH_REPORTS")


def test_atomic_folder_swaps_in_the_complete_folder_or_nothing(tmp_path):
    from bench.errors import ConfigError
    from bench.io import atomic_folder

    root = tmp_path / "corpus"
    with atomic_folder(root) as tmp:
        (tmp / "a.txt").write_text("1")
        assert not root.exists()  # nothing visible until the block ends
    assert (root / "a.txt").read_text() == "1"
    with pytest.raises(ConfigError, match="exists and is not empty; pass overwrite"):
        with atomic_folder(root):
            pass
    with pytest.raises(RuntimeError):
        with atomic_folder(root, overwrite=True) as tmp:
            (tmp / "b.txt").write_text("2")
            raise RuntimeError("killed half-way")
    assert sorted(p.name for p in root.iterdir()) == ["a.txt"]  # the old folder stays
    with atomic_folder(root, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in root.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no temporary or old folder left
