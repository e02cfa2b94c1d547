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
option, or from the sidecar ``<csv>.json`` that ``bench manifest`` (``Manifest.save``) writes
beside its CSV, or else is inferred from the data in sorted order, which the manifest's warnings
say loudly, with the count of each class: a class order picked by sorting may differ from the one
a paper used, and a misspelt label would become a class of its own. With a declared vocabulary a
label outside it is an error naming the file lines.

A CSV written by ``bench manifest`` keeps its media paths relative to the *corpus* folder, which
its sidecar records as ``root``; such paths are resolved against that folder (while it exists),
so the saved manifest can be read back from anywhere with ``--dataset manifest``. Without a
sidecar, relative paths are relative to the CSV's own folder.
Media files that do not exist are listed in a warning (an error with ``strict=True``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.data.corpora.base import CsvTable, Report, preview, read_csv_table
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


def read_sidecar(path: Path, report: Report) -> tuple[Path | None, tuple[str, ...] | None]:
    """Corpus root and vocabulary from ``<csv>.json`` when ``Manifest.save`` wrote the CSV."""
    sidecar = path.with_suffix(path.suffix + ".json")
    if not sidecar.is_file():
        return None, None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{sidecar}: unreadable manifest sidecar ({exc}); delete it to read {path.name} on its own") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"{sidecar}: a manifest sidecar must be a JSON object")
    root = Path(meta["root"]) if meta.get("root") else None
    if root is not None and not root.is_dir():
        report.warn(f"{sidecar.name} names corpus folder {root}, which does not exist here: "
                    f"relative media paths are resolved against {path.parent} instead")
        root = None
    labels = meta.get("labels")
    vocabulary = tuple(str(v) for v in labels) if isinstance(labels, list) and labels else None
    return root, vocabulary


def line_list(table: CsvTable, mask) -> str:
    """``"lines 3, 7, 9"`` for the rows selected by a boolean mask."""
    lines = table.line_of(mask[mask].index)
    return ("line " if len(lines) == 1 else "lines ") + preview(lines)


def build(root: Path, options: ManifestCsvOptions, report: Report) -> Manifest:
    path = locate(root)
    table = read_csv_table(path, "manifest CSV")
    frame = table.frame
    sidecar_root, sidecar_labels = read_sidecar(path, report)
    folder = sidecar_root or path.parent
    report.root = folder
    missing = [c for c in REQUIRED if c not in frame.columns]
    targets = tuple(t for t in TARGET_COLUMNS if t in frame.columns)
    if "label" not in frame.columns and not targets:
        missing.append("label (or arousal/valence/dominance)")
    if missing:
        raise ConfigError(f"{path}: missing required columns {missing}; has {list(frame.columns)}")
    if frame.empty:
        raise ConfigError(f"{path}: no rows (only the header line)")
    empty = (frame["clip_id"].str.strip() == "") | (frame["speaker"].str.strip() == "")
    if empty.any():
        raise ConfigError(f"{path}: {line_list(table, empty)}: empty clip_id or speaker")
    repeated = frame["clip_id"].duplicated(keep=False)
    if repeated.any():
        raise ConfigError(f"{path}: {line_list(table, repeated)}: clip ids repeat "
                          f"({preview(sorted(set(frame.loc[repeated, 'clip_id'])))})")
    filled = []
    for column, default in (("corpus", options.corpus), ("gender", ""), ("session", ""), ("label", ""), ("audio_path", "")):
        if column not in frame.columns:
            frame[column] = default
            filled.append(column)
    odd_gender = ~frame["gender"].str.strip().str.lower().isin(set(GENDERS))
    if odd_gender.any():
        unknown_gender = sorted(set(frame.loc[odd_gender, "gender"].str.strip().str.lower()))
        raise ConfigError(f"{path}: {line_list(table, odd_gender)}: gender values {unknown_gender} "
                          "are not F/M (or female/male, or empty)")
    frame["gender"] = frame["gender"].str.strip().str.lower().map(GENDERS)
    for t in targets:
        values = pd.to_numeric(frame[t].replace("", float("nan")), errors="coerce")
        bad = values.isna() & (frame[t].str.strip() != "")
        if bad.any():
            raise ConfigError(f"{path}: {line_list(table, bad)}: column {t} has non-numeric values "
                              f"({preview(repr(v) for v in frame.loc[bad, t])})")
        frame[t] = values
    if filled:
        report.messages.append(f"{path.name}: columns {filled} absent, filled with defaults")

    frame["label"] = frame["label"].str.strip()
    found = sorted(set(frame["label"]) - {""})
    declared, source = None, ""
    if options.labels:
        declared = tuple(options.labels.split(",") if isinstance(options.labels, str) else options.labels)
        declared, source = tuple(v.strip() for v in declared), "the given vocabulary (labels option)"
    elif sidecar_labels is not None:
        declared, source = sidecar_labels, f"the vocabulary declared in {path.name}.json"
    if declared is not None:
        vocabulary = declared
        outside = sorted(set(found) - set(vocabulary))
        if outside:
            where = "; ".join(f"{label!r} on {line_list(table, frame['label'] == label)}" for label in outside[:10])
            raise ConfigError(f"{path}: labels {outside} are not in {source} {list(vocabulary)}: {where} "
                              "(a misspelt label, or a class missing from labels=...)")
    else:
        vocabulary = tuple(found)
        if vocabulary:
            counts = frame["label"].value_counts()
            shown = ", ".join(f"{label} ({int(counts[label])} clips)" for label in vocabulary)
            report.warn(f"NO LABEL VOCABULARY DECLARED: label vocabulary inferred from the data in sorted order, "
                        f"{len(vocabulary)} classes: {shown}. A misspelt label becomes a class of its own; "
                        "declare the classes and their order with --option labels=a,b,c (labels=[...])")
    if "label" not in filled and not found and not targets:
        raise ConfigError(f"{path}: every row's label is empty and there are no arousal/valence/dominance columns: "
                          "nothing to learn from")

    if options.check_files:
        absent = []
        for column in ("video_path", "audio_path"):
            for clip_id, value in zip(frame["clip_id"], frame[column]):
                if column == "video_path" and not value:
                    absent.append((value, f"clip {clip_id} has an empty video_path"))
                elif value and not (Path(value) if Path(value).is_absolute() else folder / value).exists():
                    absent.append((value, f"{column} of clip {clip_id} does not exist"))
        report.unrecognised(absent, "missing media file",
                            f"rows kept; prepare records them as failures; relative paths are resolved against {folder}")
    corpora = sorted(set(frame["corpus"]))
    corpus = corpora[0] if len(corpora) == 1 else options.corpus
    return Manifest(frame, corpus, vocabulary, targets, folder, report.messages)
