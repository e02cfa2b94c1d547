"""MLflow tracking: a parent run per experiment, a child run per fold x seed.

Where: a local SQLite database (``bench.paths.default_tracking_uri()``) with artifacts under
``bench_home()/mlartifacts`` unless ``tracking_uri`` names a server. What:

* parent run: the resolved config (flattened into params, and whole as ``config.json`` /
  ``config.toml``), the split scheme and its checksum, the dataset and feature-store key, the
  environment (Python, torch, numpy, mlflow, platform, git commit), and at the end the
  aggregates over finished folds (``<metric>_mean``, ``_std``, ``_ci95_low``, ``_ci95_high``)
  with the counts of finished and failed folds;
* child run (tag ``mlflow.parentRunId``): per-epoch curves (one ``log_batch``), validation
  metrics at the selected epoch, test metrics, per-class recall, the predictions CSV, the
  history CSV and a confusion-matrix heat map. A failed fold's run ends ``FAILED`` with the
  reason as a tag; a fold reused from the result cache says so in a tag.

The ``MlflowClient`` API is used rather than the fluent one: no global "active run" state,
so nested runs cannot leak between experiments in one process.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

MAX_PARAM_LENGTH = 6000  # MLflow's limit on a parameter value
BATCH_LIMIT = 1000  # metrics per log_batch call (MLflow's own limit)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"d": 1}}`` -> ``{"model.d": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def git_commit(path: str | Path | None = None) -> str:
    """The commit of the git checkout holding the code (``+dirty`` with local changes), or ''."""
    folder = Path(path) if path else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


@functools.lru_cache(maxsize=1)
def environment_info() -> dict[str, str]:
    """What ran the experiment: versions, platform, git commit."""
    import mlflow
    import numpy
    import torch

    info = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "mlflow": mlflow.__version__,
        "platform": platform.platform(),
        "cuda": torch.version.cuda or "",
        "git_commit": git_commit(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _is_local(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Tracker:
    """A thin, explicit layer over ``MlflowClient`` for experiments of folds x seeds."""

    def __init__(self, tracking_uri: str | None = None, experiment_name: str = "bench"):
        from mlflow.tracking import MlflowClient

        from bench.paths import bench_home, default_artifact_location, default_tracking_uri

        self.uri = tracking_uri or default_tracking_uri()
        if self.uri.startswith("sqlite:"):
            bench_home().mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=self.uri)
        existing = self.client.get_experiment_by_name(experiment_name)
        if existing is not None:
            self.experiment_id = existing.experiment_id
        else:
            location = default_artifact_location() if _is_local(self.uri) else None
            try:
                self.experiment_id = self.client.create_experiment(experiment_name, artifact_location=location)
            except Exception:  # created meanwhile by another process
                found = self.client.get_experiment_by_name(experiment_name)
                if found is None:
                    raise
                self.experiment_id = found.experiment_id

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, name: str, tags: dict[str, str] | None = None, parent_id: str | None = None) -> str:
        tags = {k: str(v) for k, v in (tags or {}).items()}
        if parent_id:
            tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=name)
        return run.info.run_id

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    # -- logging ------------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(str(k)[:250], json.dumps(v) if isinstance(v, (list, dict)) else str(v)) for k, v in flatten(params).items()]
        items = [Param(p.key, p.value[:MAX_PARAM_LENGTH]) for p in items]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        self.log_metric_rows(run_id, [(k, v, step) for k, v in metrics.items()])

    def log_metric_rows(self, run_id: str, rows: Iterable[tuple[str, float, int]]) -> None:
        """Log (key, value, step) triples, non-finite values skipped, in as few calls as allowed."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(_metric_key(k), float(v), now, int(s)) for k, v, s in rows if _finite(v)]
        for start in range(0, len(metrics), BATCH_LIMIT):
            self.client.log_batch(run_id, metrics=metrics[start : start + BATCH_LIMIT])

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
        if items:
            self.client.log_batch(run_id, tags=items)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def log_json(self, run_id: str, data: Any, artifact_file: str) -> None:
        self.client.log_text(run_id, json.dumps(data, indent=2, sort_keys=True, default=str), artifact_file)

    def log_confusion(self, run_id: str, confusion: list[list[int]], labels: list[str], title: str) -> None:
        """A seaborn heat map of the confusion matrix as ``confusion.png``."""
        if not confusion:
            return
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        import seaborn as sns

        size = max(4.0, 0.6 * len(labels) + 2)
        fig, ax = plt.subplots(figsize=(size, size * 0.85))
        sns.heatmap(confusion, annot=True, fmt="d", cmap="Blues", cbar=False, xticklabels=labels, yticklabels=labels, ax=ax)
        ax.set_xlabel("predicted")
        ax.set_ylabel("reference")
        ax.set_title(title)
        fig.tight_layout()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "confusion.png")
            fig.savefig(path, dpi=120)
            plt.close(fig)
            self.client.log_artifact(run_id, path)

    # -- what an experiment logs --------------------------------------------------------------
    def log_fold(self, run_id: str, result) -> None:
        """Everything about one fold x seed (a :class:`~bench.train.result.FoldResult`)."""
        rows: list[tuple[str, float, int]] = []
        for entry in result.history:
            step = int(entry.get("epoch", 0))
            rows += [(k, v, step) for k, v in entry.items() if k != "epoch" and _finite(v)]
        rows += [(f"best_val_{k}", v, 0) for k, v in result.val.items()]
        rows += [(f"test_{k}", v, 0) for k, v in result.test.items()]
        rows += [(f"test_recall_{k}", v, 0) for k, v in result.per_class_recall.items()]
        rows += [("best_epoch", result.best_epoch, 0), ("parameters", result.parameters, 0),
                 ("inference_ms_per_clip", result.inference_ms_per_clip, 0), ("seconds", result.seconds, 0)]
        self.log_metric_rows(run_id, rows)
        self.set_tags(run_id, {"status": result.status, "inference_head": result.inference_head,
                               "cached": str(result.cached).lower(), "cache_key": result.cache_key,
                               **({"error": result.error} if result.error else {})})
        if result.history:
            import pandas as pd

            self.log_text(run_id, pd.DataFrame(result.history).to_csv(index=False), "history.csv")
        if len(result.predictions):
            self.log_text(run_id, result.predictions.to_csv(index=False), "predictions.csv")
        if result.confusion:
            self.log_confusion(run_id, result.confusion, list(result.labels), f"fold {result.fold} seed {result.seed} (test)")

    def log_aggregates(self, run_id: str, aggregates: dict[str, dict], finished: int, failed: int) -> None:
        rows = [("folds_finished", finished, 0), ("folds_failed", failed, 0)]
        for metric, summary in aggregates.items():
            rows += [(f"{metric}_{stat}", summary[stat], 0) for stat in ("mean", "std", "ci95_low", "ci95_high")]
        self.log_metric_rows(run_id, rows)


def _metric_key(key: str) -> str:
    """MLflow accepts letters, digits, ``_ - . / space``; anything else becomes ``_``."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in str(key))
