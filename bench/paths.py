"""Where the suite keeps its working files.

Everything the suite generates lives under one home folder so a project is self-contained and
easy to delete: ``$BENCH_HOME`` if set, else ``./.bench`` under the current directory.

    <home>/corpora/synthetic-<layout>/   the built-in synthetic corpus (``bench synth``)
    <home>/stores/<key>/                 feature stores (``bench prepare``), keyed by a hash
    <home>/results/<key>/                finished folds, keyed by config + split + seed
    <home>/mlflow.db, <home>/mlartifacts MLflow tracking (SQLite) and its artifacts
    <home>/optuna.journal                Optuna's journal storage for local sweeps
Tables and figures go to ``./reports`` (``$BENCH_REPORTS`` to change), and the results
ledger, one record per finished job, meant to be committed and shared, to ``./results``
(``$BENCH_LEDGER`` to change; ``none`` for no ledger: :mod:`bench.ledger`).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.errors import ConfigError


def bench_home() -> Path:
    return Path(os.environ.get("BENCH_HOME", ".bench")).resolve()


def reports_dir() -> Path:
    return Path(os.environ.get("BENCH_REPORTS", "reports")).resolve()


def safe_name(value: object, where: str) -> str:
    """``value`` as one file or folder name, or a ConfigError naming ``where`` (file and field).

    Names from study files and options become parts of paths under the reports and state
    folders (report folders, figures, best-configuration files); a separator or ``..`` would
    let a study file write anywhere, so such names are refused rather than silently changed.
    """
    text = str(value)
    if text.strip() in ("", ".", "..") or any(bad in text for bad in ("/", "\\", "\0")):
        raise ConfigError(
            f"{where}: {text!r} cannot be used as a name: it becomes a file or folder name, so it must be "
            "non-empty and hold no '/', '\\' or '..'"
        )
    return text


def ledger_dir() -> Path | None:
    """The results ledger's folder: ``$BENCH_LEDGER``, else ``./results``; None for ``none``/``off``;
    ``@home`` keeps it with the working files, ``<bench home>/ledger`` (scratch work whose
    records should not land in the repository; the tests use it, so each home has its own)."""
    value = os.environ.get("BENCH_LEDGER", "results").strip()
    if value.lower() in ("none", "off", ""):
        return None
    if value == "@home":
        return bench_home() / "ledger"
    return Path(value).resolve()


def stores_dir() -> Path:
    return bench_home() / "stores"


def corpora_dir() -> Path:
    return bench_home() / "corpora"


def results_dir() -> Path:
    return bench_home() / "results"


def default_tracking_uri() -> str:
    return f"sqlite:///{bench_home() / 'mlflow.db'}"


def default_artifact_location() -> str:
    return (bench_home() / "mlartifacts").as_uri()
