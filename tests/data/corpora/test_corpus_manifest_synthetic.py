"""Generic manifest CSV and the synthetic adapter (on a replica of the generator's layout)."""

from __future__ import annotations

import pytest
from corpus_replicas import cremad_tree, ravdess_trials, ravdess_tree, touch

from bench.data.corpora import CorpusWarning, UnrecognisedFilesError, build_manifest
from bench.errors import ConfigError


def user_csv(tmp_path, header="clip_id,speaker,video_path,label", rows=None):
    rows = rows or [("a1", "s1", "media/a1.mp4", "sad"), ("a2", "s1", "media/a2.mp4", "happy"),
                    ("b1", "s2", "media/b1.mp4", "angry")]
    for row in rows:
        touch(tmp_path / row[2])
    path = tmp_path / "my.csv"
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return path


def test_manifest_csv_fills_optional_columns_and_infers_vocabulary(tmp_path):
    path = user_csv(tmp_path)
    with pytest.warns(CorpusWarning, match="inferred"):
        m = build_manifest("manifest", path)
    assert m.labels == ("angry", "happy", "sad") and m.root == tmp_path and m.corpus == "manifest"
    assert (m.frame["gender"] == "").all() and (m.frame["audio_path"] == "").all()
    assert m.media_path(m.frame["video_path"][0]).exists()
    assert any("inferred from the data in sorted order" in w for w in m.warnings)


def test_manifest_csv_given_vocabulary_order(tmp_path):
    path = user_csv(tmp_path)
    m = build_manifest("manifest", path, labels="sad,happy,angry,neutral")
    assert m.labels == ("sad", "happy", "angry", "neutral") and not any("inferred" in w for w in m.warnings)
    with pytest.raises(ConfigError, match=r"labels \['angry'\] are not in the given vocabulary"):
        build_manifest("manifest", path, labels=["sad", "happy"])


def test_manifest_csv_missing_required_columns_named(tmp_path):
    path = user_csv(tmp_path, header="clip_id,actor,video_path,label")
    with pytest.raises(ConfigError, match=r"my.csv: missing required columns \['speaker'\]"):
        build_manifest("manifest", path)


def test_manifest_csv_missing_media(tmp_path):
    path = user_csv(tmp_path)
    (tmp_path / "media" / "b1.mp4").unlink()
    with pytest.warns(CorpusWarning, match="missing media file"):
        m = build_manifest("manifest", path, labels="angry,happy,sad")
    assert len(m) == 3 and "media/b1.mp4" in " ".join(m.warnings)
    with pytest.raises(UnrecognisedFilesError, match="b1.mp4"):
        build_manifest("manifest", path, strict=True)


def test_manifest_csv_regression_targets_and_genders(tmp_path):
    rows = [("a1", "s1", "media/a1.mp4", "female", "3.5"), ("b1", "s2", "media/b1.mp4", "M", "")]
    path = user_csv(tmp_path, header="clip_id,speaker,video_path,gender,arousal", rows=rows)
    m = build_manifest("manifest", path)
    assert m.labels == () and m.targets == ("arousal",)
    assert m.frame["gender"].tolist() == ["F", "M"] and m.frame["arousal"].isna().tolist() == [False, True]


def synthetic_ravdess(root, actors=(1, 2), classes=("happy", "sad", "angry")):
    ravdess_tree(root, actors=actors, modalities=("01",))
    lines = ["clip_id,actor,gender,class,arousal,valence,dominance,noise"]
    for actor in actors:
        for i, trial in enumerate(ravdess_trials(actor)):
            cls = classes[i % len(classes)]
            lines.append(f"01-{trial},{actor},{'M' if actor % 2 else 'F'},{cls},{i / 60:.3f},0.5,0.25,0.1")
    (root / "synthetic_meta.csv").write_text("\n".join(lines) + "\n")
    return root


def test_synthetic_ravdess_layout(tmp_path):
    root = synthetic_ravdess(tmp_path / "syn")
    m = build_manifest("synthetic", root)
    assert m.corpus == "synthetic" and (m.frame["corpus"] == "synthetic").all()
    assert m.labels == ("happy", "sad", "angry")  # canonical order, only the classes present
    assert m.targets == ("arousal", "valence", "dominance")
    assert len(m) == 120 and m.frame["label"].value_counts().to_dict() == {"happy": 40, "sad": 40, "angry": 40}
    row = m.frame.set_index("clip_id").loc["01-01-01-01-02-02"]  # trial key <- meta's full file stem
    assert row.label == "sad" and row.gender == "F" and row.arousal == pytest.approx(1 / 60, abs=1e-3)


def test_synthetic_media_without_meta_row_is_reported(tmp_path):
    root = synthetic_ravdess(tmp_path / "syn", actors=(1,))
    touch(root / "Actor_01" / "01-02-03-01-01-01-01.mp4")  # a song take: skipped with a note
    lines = (root / "synthetic_meta.csv").read_text().splitlines()
    (root / "synthetic_meta.csv").write_text("\n".join(lines[:-1]) + "\n")  # drop one clip's row
    with pytest.warns(CorpusWarning, match="without a row in synthetic_meta.csv"):
        m = build_manifest("synthetic", root)
    assert len(m) == 59


def test_synthetic_cremad_layout(tmp_path):
    root = cremad_tree(tmp_path / "syn", wav=False, summary=False)
    lines = ["clip_id,actor,class,arousal,valence,dominance"]
    for i, clip in enumerate(sorted(p.stem for p in (root / "VideoFlash").iterdir())):
        lines.append(f"{clip},{clip[:4]},{'neutral' if i % 2 else 'fear'},0.1,0.2,0.3")
    (root / "synthetic_meta.csv").write_text("\n".join(lines) + "\n")
    m = build_manifest("synthetic", root)
    assert m.labels == ("neutral", "fearful") and len(m) == 10 and m.frame["speaker"].nunique() == 3


def test_synthetic_needs_meta(tmp_path):
    root = ravdess_tree(tmp_path, actors=(1,), modalities=("01",))
    with pytest.raises(ConfigError, match="synthetic_meta.csv"):
        build_manifest("synthetic", root)
