"""CREMA-D adapter on a replica tree: counts, labels, genders, perceived-label exclusions, strictness."""

from __future__ import annotations

import pytest
from corpus_replicas import CREMAD_CLIPS, cremad_tree, touch

from bench.data.corpora import CorpusWarning, UnrecognisedFilesError, build_manifest, list_datasets
from bench.errors import ConfigError


def test_datasets_listed():
    assert list_datasets() == ["affwild2", "cremad", "manifest", "mspimprov", "ravdess", "synthetic"]


def test_intended_labels_genders_and_paths(tmp_path):
    root = cremad_tree(tmp_path)
    m = build_manifest("cremad", root)
    assert len(m) == len(CREMAD_CLIPS)
    assert m.corpus == "cremad" and m.labels == ("neutral", "happy", "sad", "angry", "fearful", "disgust")
    row = m.frame.set_index("clip_id").loc["1002_IWW_DIS_XX"]
    assert (row.speaker, row.gender, row.label, row.sentence, row.intensity) == ("1002", "F", "disgust", "IWW", "XX")
    assert row.video_path == "VideoFlash/1002_IWW_DIS_XX.flv" and row.audio_path == "AudioWAV/1002_IWW_DIS_XX.wav"
    assert m.frame.groupby("speaker")["gender"].first().to_dict() == {"1001": "M", "1002": "F", "1091": "F"}
    assert m.media_path(row.video_path).exists()
    assert m.warnings == []


def test_without_audiowav_the_video_track_is_used(tmp_path):
    root = cremad_tree(tmp_path, wav=False)
    m = build_manifest("cremad", root)
    assert (m.frame["audio_path"] == "").all() and len(m) == len(CREMAD_CLIPS)


def test_perceived_labels_exclude_clips_without_a_majority(tmp_path):
    root = cremad_tree(tmp_path)
    with pytest.warns(CorpusWarning):
        m = build_manifest("cremad", root, label_source="perceived")
    labels = m.frame.set_index("clip_id")["label"]
    # X (no agreement), D:N (tie) and the clip missing from summaryTable.csv are gone
    assert len(m) == len(CREMAD_CLIPS) - 3
    assert not {"1002_ITH_FEA_MD", "1002_IWW_DIS_XX", "1091_TSI_NEU_XX"} & set(labels.index)
    assert labels["1001_TIE_SAD_LO"] == "neutral"  # raters' vote, not the acted emotion
    assert m.frame.set_index("clip_id").loc["1001_TIE_SAD_LO", "intended"] == "sad"
    text = " ".join(m.warnings)
    assert "excluded 2 clips" in text and "'X': 1" in text and "'D:N': 1" in text
    assert "excluded 1 clips: not in summaryTable.csv" in text


def test_perceived_needs_the_summary_table(tmp_path):
    root = cremad_tree(tmp_path, summary=False)
    with pytest.raises(ConfigError, match="summaryTable.csv"):
        build_manifest("cremad", root, label_source="perceived")


def test_unrecognised_names_are_warned_or_strict_errors(tmp_path):
    root = cremad_tree(tmp_path)
    touch(root / "VideoFlash" / "1001_DFA_ANG_XX copy.flv")
    touch(root / "VideoFlash" / "1001_DFA_JOY_XX.flv")
    touch(root / "AudioWAV" / "notes.txt")
    with pytest.warns(CorpusWarning, match="unrecognised"):
        m = build_manifest("cremad", root)
    assert len(m) == len(CREMAD_CLIPS)
    text = " ".join(m.warnings)
    for name in ("1001_DFA_ANG_XX copy.flv", "1001_DFA_JOY_XX.flv (unknown emotion JOY)", "AudioWAV/notes.txt"):
        assert name in text
    with pytest.raises(UnrecognisedFilesError) as info:
        build_manifest("cremad", root, strict=True)
    assert {p for p, _ in info.value.files} == {
        "VideoFlash/1001_DFA_ANG_XX copy.flv", "VideoFlash/1001_DFA_JOY_XX.flv", "AudioWAV/notes.txt"}
    assert "1001_DFA_JOY_XX.flv" in str(info.value)


def test_missing_demographics_and_orphan_wavs_are_reported(tmp_path):
    root = cremad_tree(tmp_path, demographics=False)
    touch(root / "AudioWAV" / "1003_DFA_ANG_XX.wav")  # no video of this take
    with pytest.warns(CorpusWarning):
        m = build_manifest("cremad", root)
    assert (m.frame["gender"] == "").all()
    text = " ".join(m.warnings)
    assert "VideoDemographics.csv not found" in text and "1003_DFA_ANG_XX" in text


def test_bad_root_and_bad_option(tmp_path):
    with pytest.raises(ConfigError, match="VideoFlash"):
        build_manifest("cremad", tmp_path)
    with pytest.raises(ConfigError, match="did you mean label_source"):
        build_manifest("cremad", cremad_tree(tmp_path), label_sourc="perceived")
    with pytest.raises(ConfigError, match="label_source"):
        build_manifest("cremad", tmp_path, label_source="voted")
    with pytest.raises(ConfigError, match="did you mean cremad"):
        build_manifest("cremadd", tmp_path)


def test_manifest_round_trip_keeps_warnings(tmp_path):
    with pytest.warns(CorpusWarning):
        m = build_manifest("cremad", cremad_tree(tmp_path / "c"), label_source="perceived")
    from bench.data.manifest import Manifest

    loaded = Manifest.load(m.save(tmp_path / "out" / "cremad.csv"))
    assert loaded.labels == m.labels and loaded.frame["clip_id"].tolist() == m.frame["clip_id"].tolist()
    assert loaded.warnings == m.warnings and len(loaded.warnings) == 2
