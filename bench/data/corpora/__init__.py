"""Corpus adapters: a corpus folder in, a :class:`~bench.data.manifest.Manifest` out.

    >>> from bench.data.corpora import build_manifest
    >>> manifest = build_manifest("cremad", "/data/CREMA-D", label_source="perceived")
    >>> manifest.warnings          # everything left out, with counts and file names

One module per corpus (``cremad``, ``ravdess``, ``mspimprov``, ``affwild2``), the generic CSV path
(``manifest``) and the synthetic corpus (``synthetic``). Each declares a dataclass of options;
``build_manifest`` checks the keyword options against it (unknown names are an error with a
suggestion), so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any, Mapping

from bench.config import closest, from_dict
from bench.data.corpora import affwild2, cremad, manifest_csv, mspimprov, ravdess, synthetic
from bench.data.corpora.base import Adapter, CorpusWarning, Report, UnrecognisedFilesError
from bench.data.manifest import Manifest
from bench.errors import ConfigError

ADAPTERS: dict[str, Adapter] = {}


def register_adapter(adapter: Adapter) -> Adapter:
    if adapter.name in ADAPTERS:
        raise ConfigError(f"corpus adapter {adapter.name!r} is registered twice")
    ADAPTERS[adapter.name] = adapter
    return adapter


register_adapter(Adapter("cremad", cremad.CremadOptions, cremad.build,
                         "CREMA-D: VideoFlash/*.flv (+AudioWAV), intended or perceived labels",
                         labels=cremad.LABELS, default_scheme="vavl", groups=cremad.GENDERS,
                         protocol_options=("label_source",), describe_labels=cremad.describe_labels))
register_adapter(Adapter("ravdess", ravdess.RavdessOptions, ravdess.build,
                         "RAVDESS: Actor_XX/*.mp4 (+03-*.wav), speech, one row per trial",
                         labels=ravdess.LABELS, default_scheme="saf", groups=ravdess.GENDERS,
                         protocol_options=("include_song",), describe_labels=ravdess.describe_labels))
register_adapter(Adapter("mspimprov", mspimprov.MspImprovOptions, mspimprov.build,
                         "MSP-IMPROV: MSP-IMPROV-*.avi/.wav, labels from a user CSV",
                         labels=mspimprov.LABELS, default_scheme="loso", group_by="session",
                         groups={s: "" for s in mspimprov.SESSIONS}, kfold=False,
                         protocol_options=("label_source", "keep_unlabelled"), describe_labels=mspimprov.describe_labels))
register_adapter(Adapter("affwild2", affwild2.AffWild2Options, affwild2.build,
                         "Aff-Wild2 (ABAW VA): per-frame valence/arousal, one clip per annotated face track",
                         default_scheme="official", kfold=False,
                         # per-frame targets, no classes; cropped faces or detection does not change them
                         protocol_options=()))
register_adapter(Adapter("manifest", manifest_csv.ManifestCsvOptions, manifest_csv.build,
                         "any corpus described by a CSV with the manifest's columns", protocol_options=("labels",)))
register_adapter(Adapter("synthetic", synthetic.SyntheticOptions, synthetic.build,
                         "the generated synthetic corpus (RAVDESS or CREMA-D layout + synthetic_meta.csv)",
                         # its labels are planted; its layout does not change them
                         protocol_options=()))


def list_datasets() -> list[str]:
    return sorted(ADAPTERS)


def get_adapter(dataset: str) -> Adapter:
    if dataset not in ADAPTERS:
        hint = closest(dataset, ADAPTERS)
        suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
        raise ConfigError(f"unknown dataset {dataset!r}; known: {list_datasets()}{suggestion}")
    return ADAPTERS[dataset]


def describe_options(dataset: str) -> str:
    """``name (default ...)`` for each option of the dataset's adapter, for error messages."""
    fields = [f for f in dataclasses.fields(get_adapter(dataset).options) if f.init]
    return ", ".join(f.name + ("" if f.default is dataclasses.MISSING else f" (default {f.default!r})")
                     for f in fields) or "none"


def adapter_options(dataset: str, options: Mapping[str, Any] | None = None, where: str | None = None):
    """The ``dataset`` adapter's options dataclass built from ``options``, checked and normalised.

    An unknown name is an error listing the valid ones (a typo never falls back to a default);
    options declared as paths (``field(metadata={"path": True})``, e.g. MSP-IMPROV's ``labels``)
    are made absolute against the current folder, so the value recorded and hashed names one
    file wherever the run happens.
    """
    adapter = get_adapter(dataset)
    options = dict(options or {})
    where = where or dataset
    names = [f.name for f in dataclasses.fields(adapter.options) if f.init]
    for key in options:
        if key not in names:
            hint = closest(key, names)
            suggestion = f"; did you mean {', '.join(hint)}?" if hint else "."
            raise ConfigError(f"{where}: unknown option {key!r} for dataset {dataset!r}{suggestion} "
                              f"Valid options: {describe_options(dataset)}")
    config = from_dict(adapter.options, options, where=where)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.metadata.get("path") and isinstance(value, str) and value:
            setattr(config, f.name, str(Path(value).expanduser().resolve()))
    return config


def build_manifest(dataset: str, root: str | Path, *, strict: bool = False, **options) -> Manifest:
    """Scan ``root`` with the ``dataset`` adapter and return its manifest.

    ``strict=True`` turns files the adapter cannot place into an :class:`UnrecognisedFilesError`
    naming them; otherwise they are listed in ``manifest.warnings`` (and emitted as
    :class:`CorpusWarning`). ``options`` are the adapter's dataclass fields (see
    :func:`adapter_options`); they shape the manifest's content (labels, rows), and through it
    the key of any feature store prepared from it.
    """
    adapter = get_adapter(dataset)
    root = Path(root).expanduser().resolve()
    if not root.exists():
        raise ConfigError(f"{dataset}: corpus root {root} does not exist")
    config = adapter_options(dataset, options)
    report = Report(dataset, root, strict)
    return adapter.build(root, config, report)


def build_manifest_printing(dataset: str, root: str | Path, *, say=print, strict: bool = False, **options) -> Manifest:
    """:func:`build_manifest`, with every warning passed to ``say`` as ``warning: ...`` instead.

    Commands that go on to prepare and train (``run``, ``compare``, ``ablate``) use it so that
    what the adapter left out or guessed (e.g. an inferred label vocabulary) is printed where
    the user looks, once, rather than as a Python warning with a source location. ``say`` is
    usually a rich console's ``print``: the messages (which quote file names) are markup-escaped.
    """
    from rich.markup import escape

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorpusWarning)
        manifest = build_manifest(dataset, root, strict=strict, **options)
    for message in manifest.warnings:
        say(escape(f"warning: {dataset}: {message}"))
    return manifest


__all__ = [
    "ADAPTERS", "Adapter", "CorpusWarning", "Report", "UnrecognisedFilesError", "adapter_options",
    "build_manifest", "build_manifest_printing", "describe_options", "get_adapter", "list_datasets", "register_adapter",
]
