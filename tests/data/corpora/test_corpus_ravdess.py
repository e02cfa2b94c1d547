"""RAVDESS adapter on a replica tree: one row per trial (01/02 de-duplication), genders, options."""

from __future__ import annotations

import pytest
from corpus_replicas import ravdess_tree, touch

from bench.data.corpora import CorpusWarning, UnrecognisedFilesError, build_manifest
from bench.data.corpora.ravdess import LABELS as RAVDESS
from bench.errors import ConfigError


def test_each_trial_counted_once(tmp_path):
    """01 and 02 mp4s and the 03 wav of one trial are one take: 60 rows per actor, not 120 or 180."""
    root = ravdess_tree(tmp_path, actors=(1, 2, 3))
    files = list(root.rglob("*.mp4"))
    assert len(files) == 3 * 120  # both modalities are on disk
    with pytest.warns(CorpusWarning, match="counted once"):
        m = build_manifest("ravdess", root)
    assert len(m) == 3 * 60
    assert m.frame["clip_id"].is_unique
    assert m.frame.groupby("speaker").size().to_dict() == {"1": 60, "2": 60, "3": 60}
    # the video comes from the 01 file, whose own track is the sound (audio_from="auto")
    assert m.frame["video_path"].str.contains("/01-").all()
    assert (m.frame["audio_path"] == "").all()
    assert m.labels == RAVDESS.vocabulary
    assert m.frame["label"].value_counts().to_dict() == {
        "neutral": 12, "calm": 24, "happy": 24, "sad": 24, "angry": 24, "fearful": 24, "disgust": 24, "surprised": 24}


def test_fields_gender_and_columns(tmp_path):
    m = build_manifest("ravdess", ravdess_tree(tmp_path, actors=(11, 12), modalities=("01",)))
    row = m.frame.set_index("clip_id").loc["01-06-02-01-02-12"]
    assert (row.speaker, row.gender, row.label, row.intensity, row.statement, row.repetition) == (
        "12", "F", "fearful", "strong", "01", "02")
    assert row.video_path == "Actor_12/01-01-06-02-01-02-12.mp4"
    assert m.frame.groupby("speaker")["gender"].first().to_dict() == {"11": "M", "12": "F"}
    assert m.warnings == []


def test_video_only_trials_take_sound_from_the_wav(tmp_path):
    root = ravdess_tree(tmp_path, actors=(4,), modalities=("02", "03"))
    m = build_manifest("ravdess", root)
    assert len(m) == 60
    assert m.frame["video_path"].str.contains("/02-").all()
    assert m.frame["audio_path"].str.match(r"Actor_04/03-01-").all()


def test_audio_from_wav_and_silent_or_audio_only_trials(tmp_path):
    root = ravdess_tree(tmp_path, actors=(5,))
    m = build_manifest("ravdess", root, audio_from="wav")
    assert m.frame["audio_path"].str.endswith(".wav").all() and len(m) == 60
    # a silent 02 video with no wav, and a wav with no video: both reported, not silently kept/dropped
    (root / "Actor_05" / "01-01-03-01-01-01-05.mp4").unlink()
    (root / "Actor_05" / "03-01-03-01-01-01-05.wav").unlink()
    (root / "Actor_05" / "01-01-04-01-01-01-05.mp4").unlink()
    (root / "Actor_05" / "02-01-04-01-01-01-05.mp4").unlink()
    with pytest.warns(CorpusWarning):
        m = build_manifest("ravdess", root)
    assert len(m) == 58
    text = " ".join(m.warnings)
    assert "01-03-01-01-01-05" in text and "silent" in text
    assert "01-04-01-01-01-05" in text and "only a 03 wav" in text


def test_song_skipped_with_a_note_or_included(tmp_path):
    root = ravdess_tree(tmp_path, actors=(6,), modalities=("01",), song=True)
    with pytest.warns(CorpusWarning, match="song"):
        m = build_manifest("ravdess", root)
    assert len(m) == 60 and (m.frame["channel"] == "speech").all()
    assert any("skipped 44 song trials" in w for w in m.warnings)
    m = build_manifest("ravdess", root, include_song=True)
    assert len(m) == 104 and (m.frame["channel"] == "song").sum() == 44


def test_unrecognised_names(tmp_path):
    root = ravdess_tree(tmp_path, actors=(1,), modalities=("01",))
    touch(root / "Actor_01" / "01-01-09-01-01-01-01.mp4")  # emotion 09
    touch(root / "Actor_01" / "01-01-03-01-01-01-02.mp4")  # actor 02 in Actor_01
    touch(root / "Actor_01" / "03-01-03-01-01-01-01.mp4")  # a 03 take must be a wav
    touch(root / "Actor_01" / "clip.mp4")
    touch(root / "stray.mp4")
    with pytest.warns(CorpusWarning, match="5 unrecognised files"):
        m = build_manifest("ravdess", root)
    assert len(m) == 60
    text = " ".join(m.warnings)
    for reason in ("emotion 09", "does not match folder Actor_01", "modality 03 files are .wav", "Actor_01/clip.mp4",
                   "stray.mp4 (media file outside"):
        assert reason in text
    with pytest.raises(UnrecognisedFilesError, match="clip.mp4"):
        build_manifest("ravdess", root, strict=True)


def test_no_actor_folders_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="Actor_XX"):
        build_manifest("ravdess", tmp_path)
