"""Folds and split schemes: which speakers (or sessions) train, validate and test, and a checksum.

A :class:`SplitScheme` is data: shipped schemes are TOML files inside the package
(``bench/splits/schemes/*.toml``) and their checksum is the sha256 of the file's bytes; generated
schemes (k-fold over a manifest's speakers) have the sha256 of their canonical JSON. Every run
records the checksum, so two results can be compared only when they were scored on the same
folds, and a silently edited split file shows up as a different checksum.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import load_toml
from bench.errors import ConfigError

PARTS = ("train", "val", "test")


def norm_id(value) -> str:
    """Speaker/session ids as strings; all-digit ids without leading zeros (``"04"`` -> ``"4"``)."""
    text = str(value).strip()
    return str(int(text)) if text.isdigit() else text


def id_sort_key(value: str):
    """Numeric ids in numeric order, then the rest alphabetically."""
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


class SplitWarning(UserWarning):
    """A fold leaves some of a manifest's clips unassigned."""


@dataclass
class Fold:
    """One train/validation/test partition of groups (speakers, or sessions for MSP-IMPROV)."""

    name: str  # e.g. "partition1", "fold3"
    train: list[str]  # group ids used for fitting
    val: list[str]  # group ids used for early stopping, head choice and sweeps
    test: list[str]  # group ids scored once
    group_by: str = "speaker"  # manifest column the ids refer to ("speaker" or "session")

    def __post_init__(self) -> None:
        for part in PARTS:
            setattr(self, part, sorted((norm_id(v) for v in getattr(self, part)), key=id_sort_key))
            ids = getattr(self, part)
            if len(set(ids)) != len(ids):
                raise ConfigError(f"fold {self.name}: {part} lists a {self.group_by} twice")
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = set(getattr(self, a)) & set(getattr(self, b))
            if shared:
                raise ConfigError(f"fold {self.name}: {self.group_by}s {sorted(shared)} are in both {a} and {b}")

    @property
    def groups(self) -> list[str]:
        return sorted({*self.train, *self.val, *self.test}, key=id_sort_key)

    def to_dict(self) -> dict:
        return {"name": self.name, "train": self.train, "val": self.val, "test": self.test, "group_by": self.group_by}

    def assign(self, manifest) -> dict[str, list[str]]:
        """``{"train"|"val"|"test": clip ids}`` of ``manifest``, in manifest order.

        Clips whose group is in no part of the fold are left out with a :class:`SplitWarning`
        naming the groups; a part with no clip at all is an error (the manifest and the scheme
        do not belong together).
        """
        frame = manifest.frame
        if self.group_by not in frame.columns:
            raise ConfigError(f"fold {self.name}: manifest has no {self.group_by!r} column")
        groups = frame[self.group_by].map(norm_id)
        out = {part: frame.loc[groups.isin(set(getattr(self, part))), "clip_id"].tolist() for part in PARTS}
        empty = [part for part in PARTS if not out[part]]
        if empty:
            raise ConfigError(
                f"fold {self.name}: no clip of manifest {manifest.corpus!r} falls in {empty} "
                f"({self.group_by}s in the manifest: {sorted(set(groups), key=id_sort_key)[:10]}...)"
            )
        stray = sorted(set(groups) - set(self.groups), key=id_sort_key)
        if stray:
            count = int((~groups.isin(set(self.groups))).sum())
            warnings.warn(f"fold {self.name}: {count} clips of {self.group_by}s {stray} are in no part of the fold",
                          SplitWarning, stacklevel=2)
        return out


@dataclass
class SplitScheme:
    """A named set of folds for one dataset, with the checksum that identifies it."""

    name: str  # scheme name, e.g. "vavl", "saf", "loso", "kfold"
    dataset: str  # dataset the ids belong to
    folds: list[Fold]  # in order
    checksum: str = ""  # sha256 of the shipped file, or of canonical_json() for generated schemes
    source: str = ""  # where it came from: the shipped file, or how it was generated
    description: str = ""  # provenance in words
    extra: dict = field(default_factory=dict)  # generator parameters (k, seed, ...)

    def __post_init__(self) -> None:
        if not self.folds:
            raise ConfigError(f"split scheme {self.dataset}/{self.name} has no folds")
        names = [f.name for f in self.folds]
        if len(set(names)) != len(names):
            raise ConfigError(f"split scheme {self.dataset}/{self.name} repeats fold names {names}")
        if not self.checksum:
            self.checksum = hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @property
    def group_by(self) -> str:
        return self.folds[0].group_by

    def fold(self, name: str) -> Fold:
        for fold in self.folds:
            if fold.name == name:
                return fold
        raise ConfigError(f"split scheme {self.dataset}/{self.name} has no fold {name!r}; folds: {[f.name for f in self.folds]}")

    def canonical_json(self) -> str:
        """The folds as sorted, compact JSON: what a generated scheme's checksum is taken over."""
        body = {"name": self.name, "dataset": self.dataset, "folds": [f.to_dict() for f in self.folds]}
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    def to_dict(self) -> dict:
        return {"name": self.name, "dataset": self.dataset, "group_by": self.group_by, "checksum": self.checksum,
                "source": self.source, "description": self.description, **({"params": self.extra} if self.extra else {}),
                "folds": [f.to_dict() for f in self.folds]}


def render_toml(scheme: SplitScheme, header: str = "") -> str:
    """A scheme as a compact, diff-friendly TOML file (one line per id list)."""

    def s(v) -> str:
        return json.dumps(str(v), ensure_ascii=False)

    lines = [f"# {line}".rstrip() for line in header.strip().splitlines()] if header.strip() else []
    if lines:
        lines.append("")
    lines += [f"name = {s(scheme.name)}", f"dataset = {s(scheme.dataset)}", f"group_by = {s(scheme.group_by)}",
              f"description = {s(scheme.description)}"]
    if scheme.extra:
        lines.append("")
        lines.append("[params]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in sorted(scheme.extra.items())]
    for fold in scheme.folds:
        lines += ["", "[[folds]]", f"name = {s(fold.name)}"]
        for part in PARTS:
            lines.append(f"{part} = [{', '.join(s(v) for v in getattr(fold, part))}]")
    return "\n".join(lines) + "\n"


def load_scheme_file(path: str | Path) -> SplitScheme:
    """Read a scheme TOML; its checksum is the sha256 of the file's bytes."""
    path = Path(path)
    data = load_toml(path)
    try:
        group_by = data.get("group_by", "speaker")
        folds = [Fold(f["name"], f["train"], f["val"], f["test"], group_by) for f in data["folds"]]
        return SplitScheme(
            name=data["name"], dataset=data["dataset"], folds=folds,
            checksum=hashlib.sha256(path.read_bytes()).hexdigest(),
            source=f"bench/splits/schemes/{path.name}" if path.parent.name == "schemes" else str(path),
            description=data.get("description", ""), extra=dict(data.get("params", {})),
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: split scheme lacks {exc.args[0]!r}") from None


def corpus_groups(dataset: str) -> dict[str, str]:
    """The group ids (speakers, or sessions) a corpus adapter declares, each with its gender
    (M/F; "" where unknown or not a person); {} for a corpus whose groups come from its manifest."""
    from bench.data.corpora import ADAPTERS

    adapter = ADAPTERS.get(dataset)
    return dict(adapter.groups) if adapter is not None else {}
