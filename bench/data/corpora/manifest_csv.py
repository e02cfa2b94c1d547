"""The generic path: any corpus, described by the user in a CSV with the manifest's columns.

``root`` is the CSV file (or a folder holding ``manifest.csv``); relative media paths are
resolved against the CSV's folder. Columns:

============ ======== ===============================================================
column       required filled with, when absent
============ ======== ===============================================================
clip_id      yes
speaker      yes
video_path   yes
label        one of   (label, or at least one of arousal/valence/dominance)
arousal...   these    NaN
corpus       no       the ``corpus`` option (default ``"manifest"``)
gender       no       empty (``F``/``M``; other spellings such as ``female`` are mapped)
session      no       empty
audio_path   no       empty (the video's own sound track)
============ ======== ===============================================================

Any other column is kept. The label vocabulary (class-index order) comes from the ``labels``
option, or else is inferred from the data in sorted order, which the manifest's warnings say:
a class order picked by sorting may differ from the one a paper used.
Media files that do not exist are listed in a warning (an error with ``strict=True``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.data.corpora.base import Report, preview
from bench.data.manifest import TARGET_COLUMNS, Manifest
from bench.errors import ConfigError

REQUIRED = ("clip_id", "speaker", "video_path")
GENDERS = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M", "": ""}


@dataclass
class ManifestCsvOptions:
    labels: list[str] | str = ""  # vocabulary in class-index order (list or "a,b,c"); empty: sorted labels found
    corpus: str = "manifest"  # corpus name for rows whose CSV has no corpus column
    check_files: bool = True  # list media files that do not exist (an error when strict)


def locate(root: Path) -> Path:
    path = root / "manifest.csv" if root.is_dir() else root
    if not path.is_file():
        raise ConfigError(f"manifest: {path} is not a file (pass the CSV, or a folder holding manifest.csv)")
    return path


def build(root: Path, options: ManifestCsvOptions, report: Report) -> Manifest:
    path = locate(root)
    folder = path.parent
    report.root = folder
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    targets = tuple(t for t in TARGET_COLUMNS if t in frame.columns)
    if "label" not in frame.columns and not targets:
        missing.append("label (or arousal/valence/dominance)")
    if missing:
        raise ConfigError(f"{path}: missing required columns {missing}; has {list(frame.columns)}")
    if frame.empty:
        raise ConfigError(f"{path}: no rows")
    empty_ids = frame.index[(frame["clip_id"].str.strip() == "") | (frame["speaker"].str.strip() == "")].tolist()
    if empty_ids:
        raise ConfigError(f"{path}: rows {preview([i + 2 for i in empty_ids])} (file lines) have an empty clip_id or speaker")
    filled = []
    for column, default in (("corpus", options.corpus), ("gender", ""), ("session", ""), ("label", ""), ("audio_path", "")):
        if column not in frame.columns:
            frame[column] = default
            filled.append(column)
    unknown_gender = sorted(set(frame["gender"].str.strip().str.lower()) - set(GENDERS))
    if unknown_gender:
        raise ConfigError(f"{path}: gender values {unknown_gender} are not F/M (or female/male, or empty)")
    frame["gender"] = frame["gender"].str.strip().str.lower().map(GENDERS)
    for t in targets:
        values = pd.to_numeric(frame[t].replace("", float("nan")), errors="coerce")
        bad = frame.loc[values.isna() & (frame[t].str.strip() != ""), "clip_id"].tolist()
        if bad:
            raise ConfigError(f"{path}: column {t} has non-numeric values (clips {preview(bad)})")
        frame[t] = values
    if filled:
        report.messages.append(f"{path.name}: columns {filled} absent, filled with defaults")

    found = sorted(set(frame["label"]) - {""})
    if options.labels:
        vocabulary = tuple(options.labels.split(",") if isinstance(options.labels, str) else options.labels)
        vocabulary = tuple(v.strip() for v in vocabulary)
        outside = sorted(set(found) - set(vocabulary))
        if outside:
            raise ConfigError(f"{path}: labels {outside} are not in the given vocabulary {list(vocabulary)}")
    else:
        vocabulary = tuple(found)
        if vocabulary:
            report.warn(f"label vocabulary inferred from the data in sorted order {list(vocabulary)}; pass labels=[...] to fix the class order")

    if options.check_files:
        absent = []
        for column in ("video_path", "audio_path"):
            for clip_id, value in zip(frame["clip_id"], frame[column]):
                if column == "video_path" and not value:
                    absent.append((value, f"clip {clip_id} has an empty video_path"))
                elif value and not (Path(value) if Path(value).is_absolute() else folder / value).exists():
                    absent.append((value, f"{column} of clip {clip_id} does not exist"))
        report.unrecognised(absent, "missing media file", "rows kept; prepare records them as failures")
    corpora = sorted(set(frame["corpus"]))
    corpus = corpora[0] if len(corpora) == 1 else options.corpus
    return Manifest(frame, corpus, vocabulary, targets, folder, report.messages)
