"""A damaged feature store is found, named and rebuilt, never trusted (cheap resume check, --verify)."""

from __future__ import annotations

import json
import os
import sys
import types

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.data.prepare import PrepareConfig, prepare, store_key
from bench.data.store import CorruptStoreError, FeatureStore, check_array
from bench.errors import BenchError, ConfigError
from bench.paths import stores_dir

FAST = PrepareConfig(num_frames=6, image_size=24, crop_size=56)


def _truncate(path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def test_done_record_keeps_shape_dtype_and_byte_size(good_manifest, tmp_path):
    store = prepare(good_manifest.subset(["c0"]), FAST, root=tmp_path / "s", progress=False)
    entry = json.loads((store.clip_dir("c0") / "done.json").read_text())
    for name, info in entry["arrays"].items():
        path = store.clip_dir("c0") / f"{name}.npy"
        assert info["bytes"] == path.stat().st_size
        assert info["shape"] == list(np.load(path).shape) and info["dtype"] == str(np.load(path).dtype)
        assert check_array(path, info, full=True) is None


def test_resume_rebuilds_truncated_garbage_and_unreadable_clips(good_manifest, tmp_path):
    store = prepare(good_manifest, FAST, root=tmp_path / "s", progress=False)
    frames = store.clip_dir("c0") / "frames.npy"
    size = frames.stat().st_size
    _truncate(frames, 100)
    audio_size = (store.clip_dir("c1") / "audio.npy").stat().st_size
    (store.clip_dir("c1") / "audio.npy").write_bytes(b"garbage, not an array" * 20)
    (store.clip_dir("c2") / "done.json").write_text('{"clip_id": "c2", "dir": ')  # cut mid-write
    untouched = os.stat(store.clip_dir("c3") / "frames.npy").st_mtime_ns

    # what `run` would meet today: a clear error naming the file and the clip
    with pytest.raises(CorruptStoreError, match=r"done\.json \(clip c2\): cannot read: invalid JSON") as info:
        FeatureStore.open(store.root)
    assert "bench prepare --verify" in str(info.value) and isinstance(info.value, BenchError)
    reopened = FeatureStore.open(store.root, allow_damaged=True)
    with pytest.raises(CorruptStoreError, match=rf"frames\.npy \(clip c0\): cannot read: file truncated \(expected {size} bytes, found 100\)"):
        reopened.load("c0")

    again = prepare(good_manifest, FAST, root=tmp_path / "s", progress=False)
    summary = again.summary
    assert summary.rebuilt == 3 and summary.computed == 3 and summary.skipped == 1 and summary.ok == 4
    reasons = {r["clip_id"]: r["reason"] for r in summary.rebuilt_clips}
    assert reasons["c0"] == f"frames.npy: file truncated (expected {size} bytes, found 100)"
    assert reasons["c1"] == f"audio.npy: file truncated (expected {audio_size} bytes, found 420)"
    assert reasons["c2"].startswith("done.json: invalid JSON")
    assert os.stat(store.clip_dir("c3") / "frames.npy").st_mtime_ns == untouched  # the sound clip is kept
    healthy = FeatureStore.open(again.root)
    assert healthy.clip_ids == ["c0", "c1", "c2", "c3"] and healthy.load("c0", mmap=False)["frames"].shape == (6, 3, 24, 24)
    assert all(healthy.check_clip(c) is None for c in healthy.clip_ids)
    assert prepare(good_manifest, FAST, root=tmp_path / "s", progress=False).summary.rebuilt == 0


def test_garbage_with_the_right_size_is_not_a_npy_file(good_manifest, tmp_path):
    store = prepare(good_manifest.subset(["c0"]), FAST, root=tmp_path / "s", progress=False)
    path = store.clip_dir("c0") / "audio.npy"
    path.write_bytes(b"\x00" * path.stat().st_size)
    info = json.loads((store.clip_dir("c0") / "done.json").read_text())["arrays"]["audio"]
    assert check_array(path, info).startswith("not a .npy file")


def test_old_records_without_sizes_are_checked_by_their_header(good_manifest, tmp_path):
    store = prepare(good_manifest.subset(["c0", "c1"]), FAST, root=tmp_path / "s", progress=False)
    for clip in ("c0", "c1"):  # rewrite the markers as a store from before sizes were recorded
        marker = store.clip_dir(clip) / "done.json"
        entry = json.loads(marker.read_text())
        for info in entry["arrays"].values():
            del info["bytes"]
        marker.write_text(json.dumps(entry))
    flow = store.clip_dir("c1") / "flow.npy"
    expected = flow.stat().st_size
    _truncate(flow, expected - 10)
    again = prepare(good_manifest.subset(["c0", "c1"]), FAST, root=tmp_path / "s", progress=False)
    assert again.summary.rebuilt == 1 and again.summary.skipped == 1
    assert again.summary.rebuilt_clips == [
        {"clip_id": "c1", "reason": f"flow.npy: file truncated (expected {expected} bytes, found {expected - 10})"}
    ]


def test_verify_loads_every_array_and_refuses_nan(good_manifest, tmp_path):
    store = prepare(good_manifest.subset(["c0", "c1"]), FAST, root=tmp_path / "s", progress=False)
    audio = np.load(store.clip_dir("c1") / "audio.npy", mmap_mode="r+")
    audio[3, :5] = np.nan  # same header, same size: only a full read can tell
    audio.flush()
    del audio
    cheap = prepare(good_manifest.subset(["c0", "c1"]), FAST, root=tmp_path / "s", progress=False)
    assert cheap.summary.rebuilt == 0 and not cheap.summary.verified
    full = prepare(good_manifest.subset(["c0", "c1"]), FAST, root=tmp_path / "s", progress=False, verify=True)
    assert full.summary.verified and full.summary.rebuilt == 1 and full.summary.skipped == 1
    assert full.summary.rebuilt_clips == [{"clip_id": "c1", "reason": "audio.npy: holds 5 NaN or infinite values"}]
    assert np.isfinite(full.load("c1")["audio"]).all()


def test_truncated_store_manifest_is_detected_and_rewritten(good_manifest):
    store = prepare(good_manifest, FAST, progress=False)
    manifest_csv = store.root / "manifest.csv"
    text = manifest_csv.read_text()
    manifest_csv.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1])  # the last row is gone, still valid CSV
    with pytest.raises(CorruptStoreError, match=r"manifest\.csv: cannot read: it does not match the manifest"):
        FeatureStore.open(store.root)
    again = prepare(good_manifest, FAST, progress=False)
    assert any(r.startswith("manifest.csv") for r in again.summary.repairs)
    assert again.summary.skipped == 4 and FeatureStore.open(again.root).clip_ids == ["c0", "c1", "c2", "c3"]

    (store.root / "manifest.csv.json").write_text('{"corpus": "ti')  # its sidecar, cut short
    with pytest.raises(CorruptStoreError, match=r"manifest\.csv\.json: cannot read: invalid JSON"):
        FeatureStore.open(store.root)
    assert prepare(good_manifest, FAST, progress=False).summary.repairs and FeatureStore.open(store.root).manifest.corpus == "tiny"


def test_broken_meta_json(good_manifest, tmp_path):
    store = prepare(good_manifest, FAST, progress=False)  # the default folder is named by the key
    assert store.root == stores_dir() / store_key(good_manifest, FAST)
    (store.root / "meta.json").write_text("{not json")
    with pytest.raises(CorruptStoreError, match=r"meta\.json: cannot read: invalid JSON"):
        FeatureStore.open(store.root)
    again = prepare(good_manifest, FAST, progress=False)
    assert again.summary.skipped == 4 and any(r.startswith("meta.json: invalid JSON") for r in again.summary.repairs)
    assert FeatureStore.open(again.root).meta["status"] == "complete"

    # an --out folder with clips and no readable meta cannot be told apart from another store's
    other = prepare(good_manifest.subset(["c0"]), FAST, root=tmp_path / "out", progress=False)
    (other.root / "meta.json").write_text("")
    with pytest.raises(CorruptStoreError, match="delete the folder"):
        prepare(good_manifest.subset(["c0"]), FAST, root=tmp_path / "out", progress=False)
    with pytest.raises(ConfigError, match="holds a feature store"):  # a readable other key: as before
        prepare(good_manifest.subset(["c1"]), FAST, root=store.root, progress=False)


def test_cli_verify_reports_the_rebuilt_clips(good_manifest, media_root, tmp_path, monkeypatch):
    import bench.cli.prepare  # noqa: F401  (registers the command)
    from bench.cli import app

    monkeypatch.setitem(
        sys.modules, "bench.data.corpora",
        types.SimpleNamespace(build_manifest=lambda dataset, root, *, strict=False, **options: good_manifest.subset(["c0", "c1"])),
    )
    out = tmp_path / "store"
    args = ["prepare", "--dataset", "tiny", "--root", str(media_root), "--frames", "6", "--image-size", "24",
            "--crop-size", "56", "--out", str(out), "-q"]
    assert CliRunner().invoke(app, args).exit_code == 0
    audio = np.load(out / "clips" / "c0" / "audio.npy", mmap_mode="r+")
    audio[0, 0] = np.inf
    audio.flush()
    del audio
    result = CliRunner().invoke(app, [*args, "--verify"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "rebuilt 1 damaged clip found by the full check (--verify):" in text
    assert "c0: audio.npy: holds 1 NaN or infinite values" in text
