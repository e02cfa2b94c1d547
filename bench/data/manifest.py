"""The manifest: one row per clip, the single hand-over between corpus adapters and the rest.

Columns (every adapter writes all of the required ones; extra corpus-specific columns such
as ``sentence``, ``intensity`` or ``take`` are kept and ignored downstream):

============ ======== ==========================================================================
column       required meaning
============ ======== ==========================================================================
clip_id      yes      unique id of the clip within the corpus (e.g. ``1001_DFA_ANG_XX``)
corpus       yes      corpus name (``cremad``, ``ravdess``, ``mspimprov``, ``synthetic``, ...)
speaker      yes      speaker (actor) id as a string; splits are drawn over this column
gender       yes      ``F``, ``M`` or empty when unknown
session      yes      recording session where the corpus has sessions, else empty
label        yes      categorical label in the corpus vocabulary (canonical names, see
                      :mod:`bench.data.labels`), empty when the clip has none
arousal      no       continuous targets, float, NaN when absent
valence      no
dominance    no
video_path   yes      path of the audio-visual recording (absolute, or relative to ``root``)
audio_path   yes      path of a separate sound file, or empty: then the video's sound track
============ ======== ==========================================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import ConfigError
from bench.io import write_json, write_text

REQUIRED_COLUMNS = ("clip_id", "corpus", "speaker", "gender", "session", "label", "video_path", "audio_path")
TARGET_COLUMNS = ("arousal", "valence", "dominance")
STRING_COLUMNS = ("clip_id", "corpus", "speaker", "gender", "session", "label", "video_path", "audio_path")


@dataclass
class Manifest:
    """A validated table of clips plus what the corpus declares about its labels."""

    frame: pd.DataFrame
    corpus: str
    labels: tuple[str, ...]  # the label vocabulary, in class-index order
    targets: tuple[str, ...] = ()  # continuous target columns present (subset of TARGET_COLUMNS)
    root: Path = field(default_factory=Path)  # relative media paths are resolved against this
    warnings: list[str] = field(default_factory=list)  # e.g. unrecognised file names

    def __post_init__(self) -> None:
        self.frame = normalise_frame(self.frame, self.targets)
        self.validate()

    def __len__(self) -> int:
        return len(self.frame)

    def validate(self) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in self.frame.columns]
        if missing:
            raise ConfigError(f"manifest for {self.corpus!r} lacks columns {missing}")
        duplicated = self.frame["clip_id"][self.frame["clip_id"].duplicated()].tolist()
        if duplicated:
            raise ConfigError(f"manifest for {self.corpus!r} has duplicate clip ids: {duplicated[:5]}")
        unknown = sorted(set(self.frame["label"]) - set(self.labels) - {""})
        if unknown:
            raise ConfigError(
                f"manifest for {self.corpus!r} has labels {unknown} outside its vocabulary {list(self.labels)}"
            )

    def media_path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.root / path

    def label_index(self, label: str) -> int:
        return self.labels.index(label)

    @property
    def speakers(self) -> list[str]:
        return sorted(self.frame["speaker"].unique())

    def subset(self, clip_ids) -> "Manifest":
        keep = self.frame["clip_id"].isin(set(clip_ids))
        return Manifest(self.frame[keep].reset_index(drop=True), self.corpus, self.labels, self.targets, self.root)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``<path>`` (CSV) and ``<path>.json`` (corpus, vocabulary, targets, root, warnings)."""
        path = Path(path)
        write_text(path, self.frame.to_csv(index=False))
        write_json(
            path.with_suffix(path.suffix + ".json"),
            {"corpus": self.corpus, "labels": list(self.labels), "targets": list(self.targets), "root": str(self.root),
             "warnings": list(self.warnings)},
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        meta_path = path.with_suffix(path.suffix + ".json")
        if not meta_path.exists():
            raise ConfigError(f"{path}: no sidecar {meta_path.name}; build manifests with an adapter")
        meta = json.loads(meta_path.read_text())
        frame = pd.read_csv(path, dtype={c: str for c in STRING_COLUMNS}, keep_default_na=False)
        return cls(frame, meta["corpus"], tuple(meta["labels"]), tuple(meta["targets"]), Path(meta["root"]),
                   list(meta.get("warnings", [])))


def normalise_frame(frame: pd.DataFrame, targets=()) -> pd.DataFrame:
    """Strings as strings (no NaN), targets as floats; order the known columns first."""
    frame = frame.copy()
    for column in STRING_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].fillna("").astype(str)
    for column in TARGET_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        elif column in targets:
            frame[column] = np.nan
    known = [c for c in (*REQUIRED_COLUMNS, *TARGET_COLUMNS) if c in frame.columns]
    rest = [c for c in frame.columns if c not in known]
    return frame[known + rest].reset_index(drop=True)
