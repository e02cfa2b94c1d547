"""prepare names its failed clips (first 20, then a count, then the failures file), and a cut-short video says so."""

from __future__ import annotations

import json
import sys
import types

import pytest
from typer.testing import CliRunner

from bench.data import media
from bench.data.prepare import PrepareConfig, prepare, summary_details
from bench.errors import BadInputError
from prepare_media import make_manifest, write_clip

FAST = PrepareConfig(num_frames=6, image_size=24, crop_size=56)


@pytest.fixture(scope="module")
def cut_root(tmp_path_factory):
    """A good clip, and copies of it cut short: index first (faststart) and index last (plain MP4)."""
    root = tmp_path_factory.mktemp("cut")
    whole = write_clip(root / "whole.mp4", frames=12, faststart=True).read_bytes()
    (root / "cut_faststart.mp4").write_bytes(whole[: len(whole) * 2 // 5])
    plain = write_clip(root / "plain.mp4", frames=12).read_bytes()
    (root / "cut_plain.mp4").write_bytes(plain[: len(plain) * 2 // 3])
    return root


def test_truncated_video_says_how_many_frames_are_left(cut_root):
    frames, _ = media.read_frames(cut_root / "whole.mp4", 6)  # the uncut file is fine
    assert frames.shape[0] == 6
    with pytest.raises(BadInputError) as info:
        media.read_frames(cut_root / "cut_faststart.mp4", 16)
    record = info.value.record
    assert record.stage == "decode" and record.path.endswith("cut_faststart.mp4")
    found, of_total = record.reason.split(" frames:")[0].removeprefix("found ").split(" of ")
    assert 0 < int(found) < 12 and of_total == "12", record.reason
    assert "file truncated or damaged (its 'mdat' box needs" in record.reason
    with pytest.raises(BadInputError, match=r"cannot open video: file truncated or damaged \(its 'mdat' box needs \d+ bytes, the file has \d+\)"):
        media.read_frames(cut_root / "cut_plain.mp4", 16)


def test_mp4_truncation_ignores_sound_files_and_other_formats(cut_root, tmp_path):
    assert media.mp4_truncation(cut_root / "whole.mp4") is None and media.mp4_truncation(cut_root / "plain.mp4") is None
    other = tmp_path / "x.avi"
    other.write_bytes(b"RIFF" + b"\x00" * 100)
    assert media.mp4_truncation(other) is None
    no_index = tmp_path / "noindex.mp4"
    no_index.write_bytes((24).to_bytes(4, "big") + b"ftypisom" + b"\x00" * 12)
    assert media.mp4_truncation(no_index) == "no 'moov' index box in its 24 bytes"


def test_summary_lists_twenty_failures_then_a_count_and_the_file(cut_root, media_root):
    clips = {"good": str(media_root / "clip0.mp4"), "cut": str(cut_root / "cut_faststart.mp4")}
    clips.update({f"gone{i:02d}": f"gone{i:02d}.mp4" for i in range(24)})  # missing files fail at once
    store = prepare(make_manifest(cut_root, clips), FAST, progress=False)
    summary = store.summary
    assert summary.ok == 1 and summary.failed == 25 and len(summary.failed_clips) == 20
    assert summary.failed_clips[0]["clip_id"] == "cut" and "file truncated or damaged" in summary.failed_clips[0]["reason"]
    assert summary.failed_clips[1] == {"clip_id": "gone00", "stage": "decode", "reason": "file does not exist",
                                       "path": str(cut_root / "gone00.mp4")}
    lines = summary_details(summary)
    assert lines[0] == "failed clips (25):"
    assert lines[1].startswith("  cut [decode] found ") and "frames: file truncated or damaged" in lines[1]
    assert lines[2] == f"  gone00 [decode] file does not exist ({cut_root / 'gone00.mp4'})"
    assert lines[-2:] == ["  ... and 5 more", f"all failures: {store.root / 'failures.json'}"]
    on_disk = json.loads((store.root / "failures.json").read_text())  # every failure, not only the listed ones
    assert summary.failures_file == str(store.root / "failures.json") and len(on_disk) == 25
    assert not list(store.root.glob(".failures.json*"))  # written atomically: no temporary left behind
    assert store.meta["prepare_summary"]["failed_clips"][0]["clip_id"] == "cut"


def test_failures_file_exists_when_nothing_failed(good_manifest, tmp_path):
    store = prepare(good_manifest.subset(["c0"]), FAST, root=tmp_path / "s", progress=False)
    assert json.loads((store.root / "failures.json").read_text()) == [] and summary_details(store.summary) == []


def test_prepare_and_cli_print_the_failed_clips(cut_root, media_root, tmp_path, monkeypatch, capsys):
    clips = {"good": str(media_root / "clip0.mp4"), "cut": str(cut_root / "cut_plain.mp4"), "gone": "gone.mp4"}
    manifest = make_manifest(cut_root, clips)
    prepare(manifest, FAST, root=tmp_path / "lib", progress=True)  # the library prints to stderr
    err = " ".join(capsys.readouterr().err.split())
    assert "failed clips (2):" in err and "cut [decode] cannot open video: file truncated or damaged" in err
    assert f"all failures: {tmp_path / 'lib' / 'failures.json'}" in err

    import bench.cli.prepare  # noqa: F401  (registers the command)
    from bench.cli import app

    fake = types.SimpleNamespace(build_manifest=lambda dataset, root, *, strict=False, **options: manifest)
    monkeypatch.setitem(sys.modules, "bench.data.corpora", fake)
    out = tmp_path / "cli"
    args = ["prepare", "-d", "tiny", "--root", str(cut_root), "--frames", "6", "--image-size", "24", "--crop-size", "56"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "failed clips (2):" in text and "gone [decode] file does not exist" in text
    assert f"all failures: {out / 'failures.json'}" in text


def test_trailing_padding_after_a_complete_mp4_is_not_truncation(cut_root, tmp_path):
    padded = tmp_path / "padded.mp4"
    padded.write_bytes((cut_root / "plain.mp4").read_bytes() + b"\x00\x00\x00")
    assert media.mp4_truncation(padded) is None
    assert media.read_frames(padded, 4)[0].shape[0] == 4
