"""The synthetic corpus (``bench.data.synth``): real media named like RAVDESS (or CREMA-D).

The generator lays its clips out exactly like one of the real corpora, so this adapter *is*
that corpus's adapter (layout detected: ``Actor_XX/`` folders -> RAVDESS, ``VideoFlash/`` ->
CREMA-D), run with corpus name ``"synthetic"``; only the labels differ. They come from
``synthetic_meta.csv`` beside the media, the generator's ground truth per clip:
``clip_id, actor, gender?, class, arousal, valence, dominance, ...``. The vocabulary is the set of
classes in that file, in canonical order (names that are not canonical follow, sorted), and
arousal/valence/dominance become the regression targets.

A meta ``clip_id`` may be a media file's stem (``01-01-03-01-01-01-02``, with or without
extension) or the adapter's trial key (``01-03-01-01-01-02``); the two are matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from bench.data.corpora.cremad import CremadOptions
from bench.data.corpora.cremad import build as build_cremad
from bench.data.corpora.ravdess import RavdessOptions, build_frame, parse_name
from bench.data.corpora.base import MEDIA_EXTENSIONS, Report, preview, read_csv_table
from bench.data.labels import ALIASES, CANONICAL
from bench.data.manifest import TARGET_COLUMNS, Manifest
from bench.errors import ConfigError

META_NAME = "synthetic_meta.csv"


@dataclass
class SyntheticOptions:
    layout: Literal["auto", "ravdess", "cremad"] = "auto"  # auto: Actor_XX folders -> ravdess, VideoFlash -> cremad
    audio_from: Literal["auto", "video", "wav"] = "auto"  # RAVDESS layout only, as in the ravdess adapter


def detect_layout(root: Path) -> str:
    if (root / "VideoFlash").is_dir():
        return "cremad"
    if any(p.is_dir() for p in root.glob("Actor_*")):
        return "ravdess"
    raise ConfigError(f"synthetic: {root} has neither Actor_XX folders (RAVDESS layout) nor VideoFlash/ (CREMA-D layout)")


def meta_key(clip_id: str, layout: str) -> str:
    """The adapter's clip id for a meta ``clip_id`` (see the module docstring)."""
    stem = Path(clip_id).stem if Path(clip_id).suffix.lower() in MEDIA_EXTENSIONS else clip_id
    if layout == "ravdess":
        modality, trial = parse_name(stem)
        if modality is not None:
            return trial.key
    return stem


def vocabulary_of(classes) -> tuple[str, ...]:
    """Classes in canonical order; non-canonical names after them, sorted."""
    classes = set(classes) - {""}
    known = [c for c in CANONICAL if c in classes]
    return tuple(known + sorted(classes - set(known)))


def read_meta(root: Path, layout: str) -> pd.DataFrame:
    path = root / META_NAME
    if not path.exists():
        raise ConfigError(f"synthetic: {path} not found (the generator writes it beside the media)")
    meta = read_csv_table(path, "synthetic corpus meta table", required=("clip_id", "class")).frame
    meta["key"] = meta["clip_id"].map(lambda c: meta_key(c.strip(), layout))
    duplicated = meta["key"][meta["key"].duplicated()].tolist()
    if duplicated:
        raise ConfigError(f"{path}: several rows describe the same take: {preview(duplicated)}")
    meta["class"] = meta["class"].str.strip().map(lambda c: ALIASES.get(c.lower(), c))
    return meta.set_index("key")


def build(root: Path, options: SyntheticOptions, report: Report) -> Manifest:
    layout = detect_layout(root) if options.layout == "auto" else options.layout
    if layout == "ravdess":
        frame = build_frame(root, RavdessOptions(corpus="synthetic", audio_from=options.audio_from), report)
    else:
        frame = build_cremad(root, CremadOptions(corpus="synthetic"), report).frame
    meta = read_meta(root, layout)
    known = frame["clip_id"].isin(meta.index)
    frame_ids = list(frame["clip_id"])
    report.excluded(f"media without a row in {META_NAME}", frame.loc[~known, "clip_id"])
    orphans = sorted(set(meta.index) - set(frame["clip_id"]))
    if orphans:
        report.warn(f"{len(orphans)} rows of {META_NAME} have no media: {preview(orphans)}")
    frame = frame[known].reset_index(drop=True)
    if frame.empty:
        raise ConfigError(f"synthetic: no clip under {root} matches a row of {META_NAME}: {len(known)} media clips "
                          f"(e.g. {preview(sorted(set(frame_ids)), 2)}), {len(meta)} meta rows "
                          f"(clip ids read as {preview(sorted(meta.index), 2)})")
    rows = meta.loc[frame["clip_id"]]
    frame["intended"] = frame["label"]  # what the file name encodes; the meta's class is the truth
    frame["label"] = rows["class"].to_numpy()
    if "gender" in meta.columns:
        gender = rows["gender"].str.strip().str.upper().str[:1].to_numpy()
        frame["gender"] = [g if g in ("F", "M") else old for g, old in zip(gender, frame["gender"])]
    targets = tuple(t for t in TARGET_COLUMNS if t in meta.columns)
    for t in targets:
        frame[t] = pd.to_numeric(rows[t], errors="coerce").to_numpy()
    return Manifest(frame, "synthetic", vocabulary_of(meta["class"]), targets, root, report.messages)
