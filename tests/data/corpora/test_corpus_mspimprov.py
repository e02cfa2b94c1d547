"""MSP-IMPROV adapter on a replica tree: sessions, speakers, genders from names; labels from a CSV."""

from __future__ import annotations

import pytest
from corpus_replicas import mspimprov_name, mspimprov_tree, touch

from bench.data.corpora import CorpusWarning, UnrecognisedFilesError, build_manifest
from bench.errors import ConfigError


def write_labels(path, names, header="FileName,EmoClass,EmoAct,EmoVal,EmoDom", codes=None):
    codes = codes or {}
    lines = [header]
    for i, name in enumerate(names):
        code = codes.get(name, "AHSN"[i % 4])
        lines.append(f"{name}.wav,{code},{1 + i % 5},{2.5},{3}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sessions_speakers_labels_and_targets(tmp_path):
    root, names = mspimprov_tree(tmp_path / "msp")
    labels = write_labels(tmp_path / "labels.csv", names)
    m = build_manifest("mspimprov", root, labels=str(labels))
    assert len(m) == 24 and m.labels == ("neutral", "happy", "sad", "angry")
    assert m.targets == ("arousal", "valence", "dominance")
    assert sorted(m.frame["session"].unique(), key=int) == ["1", "2", "3", "4", "5", "6"]
    assert m.frame["speaker"].nunique() == 12
    row = m.frame.set_index("clip_id").loc[mspimprov_name(4, "M", "H", 10, "P", 2)]
    assert (row.session, row.speaker, row.gender, row.condition, row.target) == ("4", "M04", "M", "P", "happy")
    assert row.video_path.endswith(".avi") and row.audio_path.endswith(".wav")
    assert set(m.frame["label"]) == {"angry", "happy", "sad", "neutral"}
    assert m.frame["arousal"].between(1, 5).all()
    # every speaker belongs to exactly one session and one gender
    assert (m.frame.groupby("speaker")[["session", "gender"]].nunique() == 1).all().all()


def test_consensus_outside_four_classes_excluded_with_count(tmp_path):
    root, names = mspimprov_tree(tmp_path / "msp")
    codes = {names[0]: "O", names[1]: "X", names[2]: "Contempt"}
    labels = write_labels(tmp_path / "labels.csv", names[:-1], codes=codes)  # last clip unlabelled
    with pytest.warns(CorpusWarning, match="outside the 4 classes"):
        m = build_manifest("mspimprov", root, labels=str(labels))
    assert len(m) == 24 - 4
    text = " ".join(m.warnings)
    assert "3 clips have a consensus outside the 4 classes" in text and "excluded 1 clips: not in the label file" in text
    kept = build_manifest("mspimprov", root, labels=str(labels), keep_unlabelled=True)
    assert len(kept) == 23 and (kept.frame["label"] == "").sum() == 3


def test_target_emotion_without_a_label_file(tmp_path):
    root, _ = mspimprov_tree(tmp_path / "msp")
    m = build_manifest("mspimprov", root, label_source="target")
    assert (m.frame["label"] == m.frame["target"]).all() and set(m.frame["label"]) == {"angry", "happy"}
    with pytest.raises(ConfigError, match="labels"):
        build_manifest("mspimprov", root)


def test_label_file_column_errors(tmp_path):
    root, names = mspimprov_tree(tmp_path / "msp")
    bad = write_labels(tmp_path / "bad.csv", names, header="utterance,EmoClass,EmoAct,EmoVal,EmoDom")
    with pytest.raises(ConfigError, match="no clip id column"):
        build_manifest("mspimprov", root, labels=str(bad))
    alt = write_labels(tmp_path / "alt.csv", names, header="clip_id,label,arousal,valence,dominance")
    assert len(build_manifest("mspimprov", root, labels=str(alt))) == 24


def test_unrecognised_names(tmp_path):
    root, names = mspimprov_tree(tmp_path / "msp")
    labels = write_labels(tmp_path / "labels.csv", names)
    touch(root / "Video" / "session1" / "MSP-IMPROV-S08A-M07-S-FM01.avi")  # session 07 does not exist
    touch(root / "Video" / "session1" / "MSP-IMPROV-S08Q-M01-S-FM01.avi")  # emotion Q
    with pytest.warns(CorpusWarning, match="2 unrecognised files"):
        m = build_manifest("mspimprov", root, labels=str(labels))
    assert len(m) == 24
    with pytest.raises(UnrecognisedFilesError, match="M07"):
        build_manifest("mspimprov", root, labels=str(labels), strict=True)
