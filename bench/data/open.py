"""A dataset by name and folder, ready to train on: corpus -> manifest -> feature store.

Without a dataset the built-in synthetic corpus is generated (on first use) and prepared;
the adapter's options shape the manifest and so the store's key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import ConfigError


def open_dataset(dataset: str | None, root: str | Path | None, *, options: dict[str, Any] | None = None,
                 workers: int = 0, progress: bool = True, say=print):
    """(store, dataset name, synthetic?) for a dataset name and corpus root, preparing if needed.

    ``workers``: processes that generate and prepare the corpus (0: one per idle core).
    ``options`` are the corpus adapter's options (``{"labels": "/data/labels.csv"}``,
    ``{"label_source": "perceived"}``); they are checked before anything is scanned, shape the
    manifest and so the feature store's key. What the adapter left out is passed to ``say``.
    """
    from bench.data.corpora import adapter_options, build_manifest_printing
    from bench.data.prepare import PrepareConfig, prepare

    options = dict(options or {})
    if dataset in (None, "synthetic"):
        from bench.data.synth import ensure_synthetic_corpus

        adapter_options("synthetic", options)  # a typo fails before the corpus is generated
        if root is None:
            say("No dataset given: using the built-in SYNTHETIC corpus (generated and prepared on first use).")
            root = ensure_synthetic_corpus(workers=workers)
        manifest = build_manifest_printing("synthetic", root, say=say, **options)
        return prepare(manifest, PrepareConfig(), workers=workers, progress=progress), "synthetic", True
    adapter_options(dataset, options)
    if root is None:
        raise ConfigError(f"dataset {dataset!r} needs --root, the folder holding the corpus")
    manifest = build_manifest_printing(dataset, root, say=say, **options)
    from bench.data.synth import is_synthetic_root

    # A corpus `bench synth` generated in another layout (e.g. affwild2) is still SYNTHETIC.
    return prepare(manifest, PrepareConfig(), workers=workers, progress=progress), dataset, is_synthetic_root(root)
