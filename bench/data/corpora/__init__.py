"""Corpus adapters: a corpus folder in, a :class:`~bench.data.manifest.Manifest` out.

    >>> from bench.data.corpora import build_manifest
    >>> manifest = build_manifest("cremad", "/data/CREMA-D", label_source="perceived")
    >>> manifest.warnings          # everything left out, with counts and file names

One module per corpus (``cremad``, ``ravdess``, ``mspimprov``), the generic CSV path
(``manifest``) and the synthetic corpus (``synthetic``). Each declares a dataclass of options;
``build_manifest`` checks the keyword options against it (unknown names are an error with a
suggestion), so a typo never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path

from bench.config import closest, from_dict
from bench.data.corpora import cremad, manifest_csv, mspimprov, ravdess, synthetic
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
                         "CREMA-D: VideoFlash/*.flv (+AudioWAV), intended or perceived labels"))
register_adapter(Adapter("ravdess", ravdess.RavdessOptions, ravdess.build,
                         "RAVDESS: Actor_XX/*.mp4 (+03-*.wav), speech, one row per trial"))
register_adapter(Adapter("mspimprov", mspimprov.MspImprovOptions, mspimprov.build,
                         "MSP-IMPROV: MSP-IMPROV-*.avi/.wav, labels from a user CSV"))
register_adapter(Adapter("manifest", manifest_csv.ManifestCsvOptions, manifest_csv.build,
                         "any corpus described by a CSV with the manifest's columns"))
register_adapter(Adapter("synthetic", synthetic.SyntheticOptions, synthetic.build,
                         "the generated synthetic corpus (RAVDESS or CREMA-D layout + synthetic_meta.csv)"))


def list_datasets() -> list[str]:
    return sorted(ADAPTERS)


def get_adapter(dataset: str) -> Adapter:
    if dataset not in ADAPTERS:
        hint = closest(dataset, ADAPTERS)
        suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
        raise ConfigError(f"unknown dataset {dataset!r}; known: {list_datasets()}{suggestion}")
    return ADAPTERS[dataset]


def build_manifest(dataset: str, root: str | Path, *, strict: bool = False, **options) -> Manifest:
    """Scan ``root`` with the ``dataset`` adapter and return its manifest.

    ``strict=True`` turns files the adapter cannot place into an :class:`UnrecognisedFilesError`
    naming them; otherwise they are listed in ``manifest.warnings`` (and emitted as
    :class:`CorpusWarning`). ``options`` are the adapter's dataclass fields.
    """
    adapter = get_adapter(dataset)
    root = Path(root).expanduser().resolve()
    if not root.exists():
        raise ConfigError(f"{dataset}: corpus root {root} does not exist")
    config = from_dict(adapter.options, options, where=dataset)
    report = Report(dataset, root, strict)
    return adapter.build(root, config, report)


__all__ = [
    "ADAPTERS", "Adapter", "CorpusWarning", "Report", "UnrecognisedFilesError",
    "build_manifest", "get_adapter", "list_datasets", "register_adapter",
]
