"""SIGTERM to ``prepare(workers=2)`` stops its worker processes too, and a re-run resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bench.data.prepare import PrepareConfig, prepare
from bench.data.store import FeatureStore
from prepare_media import make_manifest

FAST = PrepareConfig(num_frames=6, image_size=24, crop_size=56)
REPO = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import sys

    from bench.data.manifest import Manifest
    from bench.data.prepare import PrepareConfig, prepare
    from bench.errors import BenchError

    if __name__ == "__main__":
        manifest = Manifest.load(sys.argv[1])
        try:  # as the CLI does: a BenchError is one line and exit code 2
            prepare(manifest, PrepareConfig(num_frames=6, image_size=24, crop_size=56), workers=2, root=sys.argv[2],
                    progress=False)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
    """
)


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc: no psutil here)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, ...
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has exited; only its parent's wait is missing


@pytest.mark.slow  # two spawned workers import torch and OpenCV: ~10 s on a busy machine
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
def test_sigterm_stops_the_workers_and_finished_clips_survive(media_root, tmp_path):
    clips = {f"k{i:02d}": f"clip{i % 4}.mp4" for i in range(30)}
    manifest = make_manifest(media_root, clips)
    manifest.save(tmp_path / "manifest.csv")
    (tmp_path / "run.py").write_text(SCRIPT)
    root = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    log = tmp_path / "stderr.txt"  # a file, not a pipe: orphaned workers would hold a pipe open
    children: list[int] = []
    with open(log, "w") as stderr:
        parent = subprocess.Popen(
            [sys.executable, str(tmp_path / "run.py"), str(tmp_path / "manifest.csv"), str(root)],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 120
        while len(list(root.glob("clips/*/done.json"))) < 2:
            assert parent.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no clip finished in time"
            time.sleep(0.05)
        children = _children(parent.pid)
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=60)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        orphans = [pid for pid in children if _alive(pid)]
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in children:  # never leave this test's processes behind, even when it fails
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    err = log.read_text()
    assert len(children) >= 2, children  # the two workers (and maybe multiprocessing's resource tracker)
    assert not orphans, f"worker processes outlived prepare: {orphans}"
    assert parent.returncode == 2, err
    assert "error: prepare stopped by SIGTERM" in err and "Traceback" not in err

    stopped = FeatureStore.open(root)
    done = stopped.clip_ids
    assert 2 <= len(done) < 30 and stopped.failures == []
    mtimes = {c: os.stat(stopped.clip_dir(c) / "frames.npy").st_mtime_ns for c in done}
    again = prepare(manifest, FAST, root=root, progress=False)
    assert again.summary.skipped == len(done) and again.summary.rebuilt == 0 and len(again.clip_ids) == 30
    assert {c: os.stat(again.clip_dir(c) / "frames.npy").st_mtime_ns for c in done} == mtimes  # not recomputed


def test_sigterm_handler_is_restored_after_prepare(good_manifest, tmp_path):
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        prepare(good_manifest.subset(["c0"]), FAST, root=tmp_path / "s", progress=False)
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_in_process_keeps_finished_clips(good_manifest, tmp_path, monkeypatch):
    """workers=1: the handler interrupts the clip in progress; the store is finalized, the rest resumes."""
    from bench.data import media
    from bench.data.prepare import PrepareInterrupted

    real, count = media.read_frames, [0]

    def read_frames(path, num_frames):
        count[0] += 1
        if count[0] == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives while the third clip is being decoded
            time.sleep(1)
        return real(path, num_frames)

    monkeypatch.setattr(media, "read_frames", read_frames)
    with pytest.raises(PrepareInterrupted, match="prepare stopped by SIGTERM.*re-run the same command to resume"):
        prepare(good_manifest, FAST, root=tmp_path / "s", progress=False)
    stopped = FeatureStore.open(tmp_path / "s")
    assert stopped.clip_ids == ["c0", "c1"] and stopped.meta["counts"]["pending"] == 2
    assert stopped.failures == []  # the interrupted clip is not recorded as a bad input
    monkeypatch.undo()
    assert prepare(good_manifest, FAST, root=tmp_path / "s", progress=False).summary.skipped == 2
