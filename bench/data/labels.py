"""Label vocabularies: one canonical spelling per emotion, one declared class order per corpus.

Corpora name the same emotion differently (``ANG``, ``A``, ``05``, ``anger``), and they do not
share a label set: RAVDESS has *calm* and *surprised*, CREMA-D has neither, MSP-IMPROV's usual
protocol keeps four classes. Comparing across corpora therefore needs (1) one spelling per
emotion, (2) each corpus's vocabulary in class-index order, so that a class index means the same
thing in every run, and (3) a mapping between vocabularies that refuses to pool classes behind
the user's back. This module holds the spelling and the mapping; each corpus adapter declares its own
vocabulary and codes as a :class:`CorpusLabels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal, Mapping, Sequence

from bench.errors import ConfigError

# The canonical names, in the order used whenever a vocabulary is built from a set of classes.
CANONICAL: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")

# Other spellings seen in corpora, papers and label files -> canonical name (lower-case keys).
ALIASES: dict[str, str] = {
    "neutral": "neutral", "neu": "neutral", "neutrality": "neutral",
    "calm": "calm",
    "happy": "happy", "hap": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "angry": "angry", "ang": "angry", "anger": "angry",
    "fearful": "fearful", "fea": "fearful", "fear": "fearful", "fearfulness": "fearful",
    "disgust": "disgust", "dis": "disgust", "disgusted": "disgust",
    "surprised": "surprised", "sur": "surprised", "surprise": "surprised",
}


def canonical_label(name: str) -> str:
    """The canonical spelling of an emotion name (``"Anger"`` -> ``"angry"``); error if unknown."""
    key = str(name).strip().lower()
    if key not in ALIASES:
        raise ConfigError(f"unknown emotion name {name!r}; canonical names are {list(CANONICAL)}")
    return ALIASES[key]


def canonical_order(names: Iterable[str]) -> tuple[str, ...]:
    """Distinct canonical names in :data:`CANONICAL` order (the order of a derived vocabulary)."""
    present = {canonical_label(n) for n in names}
    return tuple(n for n in CANONICAL if n in present)


@dataclass(frozen=True)
class CorpusLabels:
    """What one corpus declares about its categorical labels."""

    corpus: str  # corpus name, as in the manifest's ``corpus`` column
    vocabulary: tuple[str, ...]  # canonical names in class-index order (index i = class i)
    codes: Mapping[str, str] = field(default_factory=dict)  # corpus code -> canonical name

    def __post_init__(self) -> None:
        bad = [n for n in self.vocabulary if n not in CANONICAL]
        if bad:
            raise ConfigError(f"{self.corpus}: vocabulary names {bad} are not canonical")
        outside = sorted({v for v in self.codes.values()} - set(CANONICAL))
        if outside:
            raise ConfigError(f"{self.corpus}: codes map to non-canonical names {outside}")

    def decode(self, code: str) -> str | None:
        """The canonical name of a corpus code, or ``None`` when the corpus has no such code."""
        return self.codes.get(str(code).strip())


def corpus_labels(corpus: str) -> CorpusLabels:
    """The label vocabulary a corpus adapter declares (:class:`bench.data.corpora.base.Adapter`)."""
    from bench.data.corpora import ADAPTERS

    adapter = ADAPTERS.get(corpus)
    if adapter is None or adapter.labels is None:
        known = sorted(name for name, a in ADAPTERS.items() if a.labels is not None)
        raise ConfigError(f"no declared label vocabulary for corpus {corpus!r}; known: {known}")
    return adapter.labels


def _vocabulary(spec: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(spec, str):
        return corpus_labels(spec).vocabulary
    return tuple(spec)


def cross_corpus_mapping(
    source: str | Sequence[str],
    target: str | Sequence[str],
    *,
    on_missing: Literal["error", "drop"] = "error",
    merge: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """Map each source class to the target class of the same name, never pooling silently.

    ``source`` / ``target`` are corpus names or vocabularies. A source class with no target
    counterpart (RAVDESS *calm* -> CREMA-D) is an error, or maps to ``None`` (drop those clips)
    with ``on_missing="drop"``. Pooling two classes into one (``calm`` -> ``neutral``) happens only
    when the caller spells it out in ``merge`` (source name -> target name).
    """
    if on_missing not in ("error", "drop"):
        raise ConfigError(f"on_missing must be 'error' or 'drop', got {on_missing!r}")
    src, tgt = _vocabulary(source), _vocabulary(target)
    merge = dict(merge or {})
    unknown_merge = {k: v for k, v in merge.items() if k not in src or v not in tgt}
    if unknown_merge:
        raise ConfigError(f"merge {unknown_merge} names classes outside source {list(src)} or target {list(tgt)}")
    mapping: dict[str, str | None] = {}
    for name in src:
        mapping[name] = merge.get(name, name if name in tgt else None)
    missing = [n for n, m in mapping.items() if m is None]
    if missing and on_missing == "error":
        raise ConfigError(
            f"classes {missing} have no counterpart in the target vocabulary {list(tgt)}; "
            "pass on_missing='drop' to drop those clips, or merge={...} to pool them explicitly"
        )
    return mapping


def relabel(
    manifest,
    target: str | Sequence[str],
    *,
    on_missing: Literal["error", "drop"] = "error",
    merge: Mapping[str, str] | None = None,
):
    """A copy of ``manifest`` in the ``target`` vocabulary (class order included).

    Clips whose class is dropped are removed and named in the new manifest's warnings.
    """
    from bench.data.manifest import Manifest

    mapping = cross_corpus_mapping(manifest.labels, target, on_missing=on_missing, merge=merge)
    frame = manifest.frame.copy()
    labelled = frame["label"] != ""
    new = frame["label"].map(lambda x: mapping.get(x) if x else "")
    drop = labelled & new.isna()
    warnings = list(manifest.warnings)
    if drop.any():
        counts = frame.loc[drop, "label"].value_counts().to_dict()
        warnings.append(f"relabel to {list(_vocabulary(target))}: dropped {int(drop.sum())} clips without a counterpart {counts}")
    frame["label"] = new
    frame = frame[~drop].reset_index(drop=True)
    return Manifest(frame, manifest.corpus, _vocabulary(target), manifest.targets, manifest.root, warnings)
