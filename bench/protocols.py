"""Evaluation protocols: corpus, label source, class set, clip filter and split scheme, checksummed.

Two numbers on the same corpus are comparable only when everything that decides the test
clips and their labels is the same: which labels (the acted emotion, or the raters' perceived
consensus), which classes, which clips (speech only, consensus only, ...), and which folds. A
:class:`Protocol` names that whole bundle; its :attr:`~Protocol.checksum` is the sha256 of the
bundle's canonical JSON, which includes the split scheme's own checksum (the sha256 of the
shipped scheme file), so editing a fold list or a label rule gives a different checksum.

    >>> from bench.protocols import get_protocol, protocol_for
    >>> get_protocol("cremad/vavl").checksum
    >>> protocol_for("cremad", "vavl", {"label_source": "perceived"}).id     # "cremad/vavl"
    >>> protocol_for("cremad", "vavl", {}).id       # "cremad/vavl?label_source=intended": not shipped

A run knows its (dataset, split scheme, adapter options); :func:`protocol_for` turns that
triple into a protocol id and checksum, the shipped protocol when the triple is one, else an
ad-hoc one whose id says how it differs. Reported numbers (:func:`load_literature`) carry the
id of the protocol they were obtained under, or ``"unknown"``: only a reported row whose
protocol id equals the run's may sit beside measured rows (:mod:`bench.report.tables`).

The ``source`` and ``description`` fields are provenance in words and stay out of the
checksum; every field that changes which clips are scored, with which labels and on which
folds, is in it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

from bench.errors import ConfigError

LabelSource = Literal["acted", "perceived consensus"]

# Adapter options that decide which clips a manifest holds and how they are labelled: part of a
# protocol. The others (where the audio comes from, the corpus column's name, label file paths)
# change how inputs are read, not what is scored.

LITERATURE_FILE = "literature.toml"


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol; see the module docstring for what the checksum covers."""

    id: str  # "<corpus>/<name>", e.g. "cremad/hicmae5"
    corpus: str  # dataset name of the corpus adapter (cremad, ravdess, mspimprov, ...)
    labels: LabelSource | str  # acted (the emotion the actor was asked for) or perceived consensus (raters' majority)
    classes: tuple[str, ...]  # class names (canonical spelling, bench.data.labels), in class-index order
    clips: str  # the clip filter in words, e.g. "speech trials only (1,440)"
    scheme: str  # split scheme name (bench.splits), e.g. "hicmae5"
    options: tuple[tuple[str, Any], ...] = ()  # the adapter options that realise labels and filter, sorted
    source: str = ""  # who defined it (paper, repository @ commit); not in the checksum
    description: str = ""  # provenance and caveats in words; not in the checksum
    shipped: bool = True  # False for an ad-hoc protocol built by protocol_for
    scheme_sha256: str = ""  # ad-hoc protocols: the checksum of their (maybe unshipped) scheme; "" = the shipped file's

    @property
    def split(self):
        """The split scheme (loaded from its shipped file)."""
        from bench.splits import get_scheme

        return get_scheme(self.corpus, self.scheme)

    @property
    def scheme_checksum(self) -> str:
        return self.scheme_sha256 or self.split.checksum

    def canonical_json(self, scheme_checksum: str | None = None) -> str:
        body = {"id": self.id, "corpus": self.corpus, "labels": self.labels, "classes": list(self.classes),
                "clips": self.clips, "scheme": self.scheme, "options": {k: v for k, v in self.options},
                "scheme_checksum": scheme_checksum or self.scheme_checksum}
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @property
    def checksum(self) -> str:
        """sha256 of :meth:`canonical_json` (which includes the split scheme's checksum)."""
        return _checksum(self.canonical_json())

    def to_dict(self) -> dict:
        split = None if self.scheme_sha256 else self.split
        return {"id": self.id, "corpus": self.corpus, "labels": self.labels, "classes": list(self.classes),
                "clips": self.clips, "scheme": self.scheme, "options": dict(self.options),
                "folds": len(split.folds) if split else None, "group_by": split.group_by if split else None,
                "scheme_checksum": self.scheme_checksum, "checksum": self.checksum,
                "source": self.source, "description": self.description, "shipped": self.shipped}


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _classes(dataset: str) -> tuple[str, ...]:
    """The class vocabulary the corpus adapter declares (one source of truth)."""
    from bench.data.corpora import get_adapter

    return get_adapter(dataset).labels.vocabulary


CREMAD_CLASSES, RAVDESS_CLASSES, MSPIMPROV_CLASSES = _classes("cremad"), _classes("ravdess"), _classes("mspimprov")
HICMAE = "HiCMAE (Sun, Lian, Liu, Tao; Information Fusion 2024), github.com/sunlicai/HiCMAE @ cdd28d481d7a"
VAVL_LINE = "AuxFormer (Goncalves & Busso, ICASSP 2022) / VAVL line, shared/reference/splits.toml"
SAF = "Self-attention fusion (Chumachenko, Iosifidis, Gabbouj; ICPR 2022)"

_SHIPPED = (
    Protocol("cremad/vavl", "cremad", "perceived consensus", CREMAD_CLASSES,
             "the 5,820 clips whose multimodal vote has a majority", "vavl", (("label_source", "perceived"),),
             VAVL_LINE, "five independent 63/14/14-actor partitions; test sets overlap"),
    Protocol("cremad/kfold", "cremad", "acted", CREMAD_CLASSES, "all clips", "kfold", (("label_source", "intended"),),
             "DE-III Bench", "5 gender-balanced folds, every actor tested once (k=5, seed 0)"),
    Protocol("cremad/hicmae5", "cremad", "acted", CREMAD_CLASSES,
             "all clips (HiCMAE's lists hold 7,437: its preprocess/creamd_av.py drops 4 broken clips)", "hicmae5",
             (("label_source", "intended"),), HICMAE,
             "HiCMAE's five published folds of consecutive actors; validation actors drawn by us (HiCMAE has none)"),
    Protocol("ravdess/saf", "ravdess", "acted", RAVDESS_CLASSES, "speech trials only (1,440)", "saf",
             (("include_song", False),), SAF, "five folds; actors 21-24 are never tested"),
    Protocol("ravdess/kfold6", "ravdess", "acted", RAVDESS_CLASSES, "speech trials only (1,440)", "kfold6",
             (("include_song", False),), "DE-III Bench", "SAF's five folds plus the sixth (test 21-24)"),
    Protocol("ravdess/hicmae6", "ravdess", "acted", RAVDESS_CLASSES, "speech trials only (1,440)", "hicmae6",
             (("include_song", False),), HICMAE,
             "HiCMAE's six published folds (test actors as kfold6); validation actors drawn by us (HiCMAE has none)"),
    Protocol("mspimprov/loso", "mspimprov", "perceived consensus", MSPIMPROV_CLASSES,
             "clips whose consensus label is one of the four classes", "loso",
             (("keep_unlabelled", False), ("label_source", "file")), VAVL_LINE,
             "leave-one-session-out: five published partitions plus the sixth"),
    Protocol("mspimprov/hicmae6", "mspimprov", "perceived consensus", MSPIMPROV_CLASSES,
             "clips whose consensus label is one of the four classes (HiCMAE's lists hold 7,787)", "hicmae6",
             (("keep_unlabelled", False), ("label_source", "file")), HICMAE,
             "HiCMAE tests session k in fold k and uses the test session as its validation set too; "
             "our validation session is drawn from the training sessions"),
)
PROTOCOLS: dict[str, Protocol] = {p.id: p for p in _SHIPPED}


def list_protocols() -> list[Protocol]:
    """The shipped protocols, in registry order."""
    return list(PROTOCOLS.values())


def get_protocol(protocol_id: str) -> Protocol:
    try:
        return PROTOCOLS[protocol_id]
    except KeyError:
        from bench.config import closest

        hint = closest(protocol_id, list(PROTOCOLS))
        raise ConfigError(f"unknown protocol {protocol_id!r}" + (f"; did you mean {', '.join(hint)}?" if hint else "")
                          + f" Known: {sorted(PROTOCOLS)}") from None


def _protocol_options(dataset: str, options: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """The protocol-relevant adapter options, defaults filled in (an omitted default = the default)."""
    from bench.data.corpora import adapter_options, get_adapter, list_datasets

    if dataset not in list_datasets():  # a store built in code (tests, notebooks): options as given
        return tuple(sorted((options or {}).items()))
    config = adapter_options(dataset, options or {})
    names = get_adapter(dataset).protocol_options
    if names is None:  # a corpus without a declared list: every option except paths and the corpus name
        names = tuple(f.name for f in dataclasses.fields(config)
                      if f.init and not f.metadata.get("path") and f.name != "corpus")
    return tuple(sorted((name, getattr(config, name)) for name in names))


def protocol_for(dataset: str, scheme=None, options: Mapping[str, Any] | None = None) -> Protocol:
    """The protocol of a run on ``dataset`` with split ``scheme`` (a name, or a loaded
    :class:`~bench.splits.SplitScheme`) and corpus adapter ``options``.

    The shipped protocol when the triple is one (same dataset, same scheme checksum, same
    protocol options); otherwise an ad-hoc protocol, ``shipped=False``, whose id names the
    scheme and the options that differ, e.g. ``cremad/vavl?label_source=intended``. Its checksum
    covers the same fields, so two runs share a protocol id and checksum exactly when they
    score the same folds with the same labelling rules.
    """
    from bench.splits import default_scheme, get_scheme

    split = scheme if hasattr(scheme, "checksum") else get_scheme(dataset, scheme or default_scheme(dataset))
    opts = _protocol_options(dataset, options)
    candidates = [p for p in PROTOCOLS.values() if p.corpus == dataset and p.scheme == split.name]
    for p in candidates:
        if p.options == opts and p.scheme_checksum == split.checksum:
            return p
    base = candidates[0] if candidates else None
    # Options are named in the id only where they differ from the corpus's usual ones (those of
    # the protocol with this scheme name, else of the corpus's first protocol).
    usual = base or next((p for p in PROTOCOLS.values() if p.corpus == dataset), None)
    differ = [(k, v) for k, v in opts if usual is None or dict(usual.options).get(k) != v]
    query = "&".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in differ)
    # A scheme that is not the shipped one of that name (a user's file) is named by its checksum.
    shipped_scheme = base is not None and base.scheme_checksum == split.checksum
    pid = f"{dataset}/{split.name}" + ("" if shipped_scheme else f"@{split.checksum[:12]}") + (f"?{query}" if query else "")
    labels, classes = _labels_of(dataset, dict(opts))
    return Protocol(pid, dataset, labels, classes, "as the manifest holds", split.name, opts, source=split.source,
                    description=split.description, shipped=False, scheme_sha256=split.checksum)


def _labels_of(dataset: str, options: dict) -> tuple[str, tuple[str, ...]]:
    """(label source, classes) as the corpus adapter describes them under these options."""
    from bench.data.corpora import ADAPTERS

    adapter = ADAPTERS.get(dataset)
    if adapter is None or adapter.describe_labels is None:
        return "as the manifest holds", ()
    return adapter.describe_labels(options)


def protocol_ref(dataset: str, scheme=None, options: Mapping[str, Any] | None = None) -> dict[str, str]:
    """``{"protocol": id, "protocol_checksum": sha256}``: what a run, caption, MLflow parent or
    report index records (see :func:`protocol_for`)."""
    protocol = protocol_for(dataset, scheme, options)
    return {"protocol": protocol.id, "protocol_checksum": protocol.checksum}


# ---------------------------------------------------------------------------------------------
# the ledger of reported results


@dataclass(frozen=True)
class ReportedRow:
    """A result quoted from a paper: a ledger row, a study file's ``[[reported]]`` row, and
    what a table's "reported" block prints (one concept, one class).

    It stands beside measured rows only when ``protocol`` equals theirs; otherwise it sits in
    its own block with its protocol named, never bolded or tested.
    """

    model: str  # as the paper names it, e.g. "Self-attention fusion (ia)"
    values: Mapping[str, float]  # metric -> value as a fraction (0.8158), the measured rows' units
    citation: str  # authors, title, venue
    std: Mapping[str, float] = dataclasses.field(default_factory=dict)  # reported std per metric, if any
    parameters: int | None = None  # parameter count as published
    note: str = ""  # how it was obtained, how its protocol differs, caveats
    protocol: str = ""  # a shipped protocol id; "" or "unknown" when not known
    dataset: str = ""  # corpus (dataset name where we have an adapter)
    modality: str = ""  # e.g. "audio-visual"
    source: str = ""  # where each number was read (URL / repository @ commit / file)
    parameters_counted: int | None = None  # parameter count of the official code, counted (not published)

    @property
    def metrics(self) -> Mapping[str, float]:
        return self.values


_LEDGER_KEYS = {"model", "citation", "dataset", "protocol", "modality", "source", "parameters", "parameters_counted", "note"}


def literature_path() -> Path:
    """The shipped ledger, beside the shipped study files (``bench/studies/``)."""
    return Path(__file__).resolve().with_name("studies") / LITERATURE_FILE


def load_literature(path: str | Path | None = None) -> list[ReportedRow]:
    """Read and check the ledger; a row without a source, or with a number that is not a
    fraction, or naming a protocol that does not exist, is an error naming the row."""
    from bench.config import load_toml
    from bench.eval.metrics import METRICS

    path = Path(path) if path else literature_path()
    data = load_toml(path)
    metrics_defined = set(data.get("metrics", {}))
    rows = []
    for i, row in enumerate(data.get("rows", []), start=1):
        where = f"{path} [[rows]] #{i} ({row.get('model', '?')})"
        missing = [k for k in ("model", "citation", "dataset", "protocol", "modality", "source") if not row.get(k)]
        if missing:
            raise ConfigError(f"{where}: lacks {missing}")
        if row["protocol"] != "unknown" and row["protocol"] not in PROTOCOLS:
            raise ConfigError(f"{where}: protocol {row['protocol']!r} is neither a shipped protocol nor 'unknown'; "
                              f"shipped: {sorted(PROTOCOLS)}")
        metrics = {k: v for k, v in row.items() if k not in _LEDGER_KEYS}
        for name, value in metrics.items():
            if name not in metrics_defined:
                raise ConfigError(f"{where}: {name!r} is not a metric defined in [metrics] ({sorted(metrics_defined)})")
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"{where}: {name} must be a number, got {value!r}")
            known = METRICS.get(name)
            low, high = (known.low, known.high) if known else (-1.0, 1.0)
            if not low <= value <= high:
                raise ConfigError(f"{where}: {name}={value} is outside [{low}, {high}]; give fractions (0.8158, not 81.58)")
        rows.append(ReportedRow(row["model"], {k: float(v) for k, v in sorted(metrics.items())}, row["citation"],
                                parameters=row.get("parameters"), note=row.get("note", ""), protocol=row["protocol"],
                                dataset=row["dataset"], modality=row["modality"], source=row["source"],
                                parameters_counted=row.get("parameters_counted")))
    return rows


def reported_rows(dataset: str, path: str | Path | None = None) -> list:
    """The ledger's rows for ``dataset`` that carry at least one score, as table rows; the table
    places those whose protocol equals the run's beside the measured rows."""
    return [r for r in load_literature(path) if r.dataset == dataset and r.values]


__all__ = ["Protocol", "PROTOCOLS", "list_protocols", "get_protocol", "protocol_for", "protocol_ref",
           "ReportedRow", "load_literature", "reported_rows", "literature_path"]
