"""The synthetic corpus on disk: naming, decodability, determinism, targets, caching, CLI."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from bench.data.synth import (
    DESIGN,
    META_FILE,
    SynthConfig,
    ensure_synthetic_corpus,
    generate_corpus,
    plan_corpus,
    read_meta,
)
from bench.data.synth.design import CREMAD_EMOTION_CODES, RAVDESS_EMOTION_CODES
from bench.errors import ConfigError

SMALL = dict(actors=2, clips_per_class=2, duration_s=1.2, duration_jitter_s=0.1)
RAVDESS_NAME = re.compile(r"^Actor_(\d\d)/01-01-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)\.mp4$")
CREMAD_NAME = re.compile(r"^VideoFlash/(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)\.flv$")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ravdess_root(tmp_path_factory) -> Path:
    return generate_corpus(tmp_path_factory.mktemp("synth") / "ravdess", SynthConfig(**SMALL), progress=False)


@pytest.fixture(scope="module")
def cremad_root(tmp_path_factory) -> Path:
    config = SynthConfig(layout="cremad", actors=2, clips_per_class=1, duration_s=1.2, duration_jitter_s=0.1)
    return generate_corpus(tmp_path_factory.mktemp("synth") / "cremad", config, progress=False)


def test_ravdess_layout_names_every_file_like_ravdess(ravdess_root):
    media = sorted(str(p.relative_to(ravdess_root)) for p in ravdess_root.rglob("*.mp4"))
    rows = read_meta(ravdess_root)
    assert len(media) == len(rows) == 2 * (5 * 2 + 2)  # neutral has no strong take, as in RAVDESS
    by_id = {row["clip_id"]: row for row in rows}
    for name in media:
        match = RAVDESS_NAME.match(name)
        assert match, name
        folder, emotion, intensity, _, _, actor = match.groups()
        assert folder == actor
        row = by_id[Path(name).stem]
        assert row["video_path"] == name and row["audio_path"] == ""
        assert int(emotion) == RAVDESS_EMOTION_CODES[row["class"]]
        assert row["gender"] == ("M" if int(actor) % 2 else "F")  # odd male, even female
        assert row["intensity"] == ("strong" if intensity == "02" else "normal")
        if row["class"] == "neutral":
            assert intensity == "01"
    assert not list(ravdess_root.glob(".*"))  # no temporary folders left behind


def test_ravdess_files_decode_as_h264_with_aac_at_48k(ravdess_root):
    row = read_meta(ravdess_root)[3]
    with av.open(str(ravdess_root / row["video_path"])) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert float(video.average_rate) == 25.0
        assert (video.codec_context.width, video.codec_context.height) == (256, 192)
        assert audio.codec_context.name == "aac"
        assert audio.rate == 48000 and audio.layout.nb_channels == 1
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == int(row["n_frames"])
    assert frames[0].shape == (192, 256, 3) and frames[0].std() > 10
    with av.open(str(ravdess_root / row["video_path"])) as container:
        sound = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert abs(len(sound) / 48000 - float(row["duration_s"])) < 0.1
    assert np.sqrt(np.mean(sound**2)) > 0.005  # there is speech, not silence


def test_cremad_layout_writes_flv_wav_and_tables(cremad_root):
    rows = read_meta(cremad_root)
    assert len(rows) == 2 * 6
    for row in rows:
        match = CREMAD_NAME.match(row["video_path"])
        assert match, row["video_path"]
        actor, _, emotion, level = match.groups()
        assert emotion == CREMAD_EMOTION_CODES[row["class"]]
        assert (level == "XX") == (row["class"] == "neutral")
        assert row["audio_path"] == f"AudioWAV/{row['clip_id']}.wav"
        assert (cremad_root / row["video_path"]).is_file()
        samples, rate = sf.read(str(cremad_root / row["audio_path"]))
        assert rate == 16000 and samples.ndim == 1
    with av.open(str(cremad_root / rows[0]["video_path"])) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.streams.audio[0].rate == 16000
        assert sum(1 for _ in container.decode(video=0)) == int(rows[0]["n_frames"])
    demographics = (cremad_root / "VideoDemographics.csv").read_text().splitlines()
    assert demographics[0] == "ActorID,Age,Sex,Race,Ethnicity"
    assert [line.split(",")[0] for line in demographics[1:]] == ["1001", "1002"]
    assert (cremad_root / "processedResults" / "summaryTable.csv").is_file()


def test_targets_are_in_range_and_follow_the_design(ravdess_root):
    rows = read_meta(ravdess_root)
    for row in rows:
        for dim in ("arousal", "valence", "dominance"):
            assert 1.0 <= float(row[dim]) <= 5.0
    def mean(cls, dim):
        return np.mean([float(r[dim]) for r in rows if r["class"] == cls])
    assert mean("angry", "arousal") > mean("neutral", "arousal") > mean("sad", "arousal")
    assert mean("happy", "valence") > mean("neutral", "valence") > mean("sad", "valence")
    assert mean("angry", "dominance") > mean("fearful", "dominance")
    assert DESIGN["fearful"].avd[0] > DESIGN["sad"].avd[0]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    config = SynthConfig(actors=1, clips_per_class=1, duration_s=1.0, duration_jitter_s=0.1)
    first = _hashes(generate_corpus(tmp_path / "a", config, progress=False))
    second = _hashes(generate_corpus(tmp_path / "b", config, progress=False, workers=2))
    assert first == second and len(first) == 6 + 2  # six clips + meta + config
    other = _hashes(generate_corpus(tmp_path / "c", SynthConfig(actors=1, clips_per_class=1, duration_s=1.0, duration_jitter_s=0.1, seed=1), progress=False))
    assert set(other) == set(first)
    assert all(other[name] != first[name] for name in first if name.endswith(".mp4"))


def test_existing_corpus_is_not_overwritten_unless_asked(tmp_path):
    config = SynthConfig(actors=1, clips_per_class=1, duration_s=1.0, duration_jitter_s=0.0)
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        generate_corpus(root, config, progress=False)
    assert (root / "keep.txt").read_text() == "mine"
    generate_corpus(root, config, progress=False, overwrite=True)
    assert not (root / "keep.txt").exists() and (root / META_FILE).is_file()


def test_ensure_generates_once_then_reuses(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    config = SynthConfig(actors=1, clips_per_class=1, duration_s=1.0, duration_jitter_s=0.0)
    root = ensure_synthetic_corpus(config, progress=False)
    assert root.parent == (tmp_path / "home" / "corpora").resolve()
    assert root.name.startswith("synthetic-ravdess-") and (root / META_FILE).is_file()

    def fail(*args, **kwargs):
        raise AssertionError("regenerated a corpus that exists")

    monkeypatch.setattr("bench.data.synth.generate.generate_corpus", fail)
    assert ensure_synthetic_corpus(config, progress=False) == root


def test_config_rejects_names_the_corpus_cannot_spell():
    with pytest.raises(ConfigError, match="clips_per_class"):
        SynthConfig(clips_per_class=9)
    with pytest.raises(ConfigError, match="layout"):
        SynthConfig(layout="msp")  # type: ignore[arg-type]
    assert len(plan_corpus(SynthConfig())) == 10 * 6 * 4


def test_cli_writes_and_summarises(tmp_path):
    from typer.testing import CliRunner

    import bench.cli.synth  # noqa: F401  (registers the command)
    from bench.cli import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["synth", "--out", str(out), "--actors", "1", "--clips-per-class", "1", "-q", "-j", "1"])
    assert result.exit_code == 0, result.output
    assert "6 clips, 1 actors, 6 classes" in " ".join(result.output.split())
    assert len(list(out.glob("Actor_01/*.mp4"))) == 6
