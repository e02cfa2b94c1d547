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

import contextlib
import functools
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

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


# -- who owns a run -------------------------------------------------------------------------
# A run is RUNNING until its process ends it. A process killed with -9 (or a machine that lost
# power) never does, so every run carries its owner (host, PID, the PID's start time, which
# tells a reused PID apart) and a heartbeat refreshed while it works. The next process that
# opens the experiment ends every run whose owner is gone as KILLED (:func:`reap_dead_runs`).
OWNER_HOST, OWNER_PID, OWNER_START, HEARTBEAT = "bench.owner.host", "bench.owner.pid", "bench.owner.start", "bench.heartbeat"
KILLED_REASON = "bench.killed_reason"
HEARTBEAT_SECONDS = 60.0  # at most one heartbeat write per run per minute
STALE_AFTER_SECONDS = 30 * 60.0  # another host's run without a heartbeat for this long is dead


# MLflow 3's UI opens a GenAI overview (traces, tokens) unless an experiment says it trains
# models; with this tag it opens on the runs table.
EXPERIMENT_KIND, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"


def source_tags() -> dict[str, str]:
    """MLflow's standard source tags: the command (passwords redacted), commit and user."""
    import getpass

    from bench.urls import redact_url

    command = " ".join(["bench", *(redact_url(a) for a in sys.argv[1:])])
    tags = {"mlflow.source.name": command[:500], "mlflow.source.type": "LOCAL"}
    commit = environment_info().get("git_commit", "")
    if commit:
        tags["mlflow.source.git.commit"] = commit.removesuffix("+dirty")
        tags["bench.git_dirty"] = str(commit.endswith("+dirty")).lower()
    try:
        tags["mlflow.user"] = getpass.getuser()
    except (KeyError, OSError):
        pass
    return tags


@dataclass(frozen=True)
class DatasetRecord:
    """One input of a run as MLflow's Datasets column shows it (name, digest, where, profile).

    ``context`` is MLflow's ``mlflow.data.context`` tag: ``training``, ``validation``,
    ``test`` or another word such as ``manifest``.
    """

    name: str
    digest: str
    source: str  # a path or URI the data was read from
    context: str
    profile: dict[str, Any]
    source_type: str = "local"


def _process_start(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks since boot ('' where unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_tags() -> dict[str, str]:
    pid = os.getpid()
    return {OWNER_HOST: platform.node(), OWNER_PID: str(pid), OWNER_START: _process_start(pid),
            HEARTBEAT: str(int(time.time()))}


def owner_alive(tags: dict[str, str], now: float | None = None, stale_after: float = STALE_AFTER_SECONDS) -> bool:
    """Whether the process that owns a run with these tags may still be working on it.

    Same host: the PID exists and started when the owner did. Another host (a Ray node, a
    second machine of a sweep): its heartbeat is younger than ``stale_after``. A run without
    owner tags (another tool, an older suite) is never judged.
    """
    if OWNER_PID not in tags:
        return True
    if tags.get(OWNER_HOST) == platform.node():
        pid = int(tags[OWNER_PID])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, belongs to another user
            return True
        started = tags.get(OWNER_START, "")
        return not started or _process_start(pid) in ("", started)
    beat = float(tags.get(HEARTBEAT, "0") or 0)
    return ((now or time.time()) - beat) < stale_after


def reap_dead_runs(client, experiment_ids: list[str], say=None, stale_after: float = STALE_AFTER_SECONDS) -> list[str]:
    """End as KILLED every RUNNING run of these experiments whose owner process is gone.

    Returns the ids it ended. Runs of live owners, including this process's, are left alone.
    """
    from mlflow.entities import ViewType

    reaped = []
    runs = client.search_runs(experiment_ids, filter_string="attributes.status = 'RUNNING'", run_view_type=ViewType.ACTIVE_ONLY,
                              max_results=5000)
    for run in runs:
        tags = run.data.tags
        if owner_alive(tags, stale_after=stale_after):
            continue
        reason = (f"owner process {tags.get(OWNER_PID)} on {tags.get(OWNER_HOST)} ended without closing the run "
                  f"(killed, or its machine stopped); found by process {os.getpid()} on {platform.node()}")
        client.set_tag(run.info.run_id, KILLED_REASON, reason)
        client.set_terminated(run.info.run_id, status="KILLED")
        reaped.append(run.info.run_id)
    if reaped and say is not None:
        say(f"marked {len(reaped)} run(s) left RUNNING by a dead process as KILLED")
    return reaped


@contextlib.contextmanager
def _creation_lock(uri: str):
    """Serialise the first use of a local SQLite tracking database across processes.

    MLflow creates and migrates the schema on first use; two processes doing it at once (two
    first runs on a fresh BENCH_HOME) make one of them fail in the migration. A file lock
    beside the database lets the first create it and the others find it made.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    db = Path(uri[len("sqlite:///"):])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def make_client(tracking_uri: str | None = None):
    """An ``MlflowClient`` for ``tracking_uri`` (default: the local SQLite file), its store made.

    The store is touched under :func:`_creation_lock`, so the process that comes first
    creates the database and the others open the finished one.
    """
    from mlflow.tracking import MlflowClient

    from bench.paths import default_tracking_uri

    uri = tracking_uri or default_tracking_uri()
    from bench.urls import database_url, require_driver

    # MLflow's own INFO lines (schema creation, each system-metrics monitor starting) would
    # interleave with the progress bars; its warnings and errors still show.
    for name in ("mlflow.store.db.utils", "mlflow.system_metrics"):
        logging.getLogger(name).setLevel(logging.WARNING)

    require_driver(uri, "--tracking-uri")
    with _creation_lock(uri):
        client = MlflowClient(tracking_uri=database_url(uri))
        if uri.startswith("sqlite:"):
            client.search_experiments(max_results=1)  # creates and migrates the schema now
    return client


def open_experiment(client, name: str) -> str:
    """The id of experiment ``name``, created on first use (by whichever process comes first)."""
    from bench.paths import default_artifact_location

    existing = client.get_experiment_by_name(name)
    if existing is not None:
        if existing.tags.get(EXPERIMENT_KIND) is None:  # made by an older suite or by hand
            client.set_experiment_tag(existing.experiment_id, EXPERIMENT_KIND, TRAINING_KIND)
        return existing.experiment_id
    location = default_artifact_location() if _is_local(client.tracking_uri) else None
    with _creation_lock(client.tracking_uri):
        try:
            return client.create_experiment(name, artifact_location=location, tags={EXPERIMENT_KIND: TRAINING_KIND})
        except Exception:  # created meanwhile by another process
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id


def _is_local(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Tracker:
    """A thin, explicit layer over ``MlflowClient`` for experiments of folds x seeds."""

    def __init__(self, tracking_uri: str | None = None, experiment_name: str = "bench", say=None):
        from bench.paths import default_tracking_uri

        self.uri = tracking_uri or default_tracking_uri()
        self.client = make_client(self.uri)
        self.experiment_id = open_experiment(self.client, experiment_name)
        self._beats: dict[str, float] = {}
        reap_dead_runs(self.client, [self.experiment_id], say=say)

    @classmethod
    def attach(cls, tracking_uri: str, experiment_id: str) -> "Tracker":
        """A tracker for an experiment the driver opened (a worker's view: no reaping)."""
        tracker = cls.__new__(cls)
        tracker.uri, tracker.client, tracker.experiment_id = tracking_uri, make_client(tracking_uri), experiment_id
        tracker._beats = {}
        return tracker

    def supersede(self, parent_id: str, cache_key: str) -> list[str]:
        """End as KILLED the RUNNING runs of an earlier attempt at the same job.

        An executor retries a job whose worker died (Ray does so by itself); the dead
        attempt's run is marked KILLED when the new one starts, so the job ends with exactly
        one finished run.
        """
        from mlflow.entities import ViewType

        stale = self.client.search_runs(
            [self.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}' and tags.cache_key = '{cache_key}' "
            "and attributes.status = 'RUNNING'", run_view_type=ViewType.ACTIVE_ONLY)
        for run in stale:
            self.client.set_tag(run.info.run_id, KILLED_REASON, f"superseded by a retry in process {os.getpid()} on "
                                f"{platform.node()} (the earlier attempt's worker died)")
            self.client.set_terminated(run.info.run_id, status="KILLED")
        return [r.info.run_id for r in stale]

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, name: str, tags: dict[str, str] | None = None, parent_id: str | None = None) -> str:
        tags = {**owner_tags(), **source_tags(), **{k: str(v) for k, v in (tags or {}).items()}}
        if parent_id:
            tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=name)
        self._beats[run.info.run_id] = time.time()
        return run.info.run_id

    def describe(self, run_id: str, markdown: str) -> None:
        """The run's description (MLflow shows it as Markdown on the run page)."""
        self.client.set_tag(run_id, "mlflow.note.content", markdown)

    def log_datasets(self, run_id: str, records: Iterable[DatasetRecord]) -> None:
        """Log the run's inputs (``mlflow.log_input``) so the Datasets column names them."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = [DatasetInput(Dataset(r.name, r.digest[:36], r.source_type, json.dumps({"uri": r.source}),
                                       profile=json.dumps(r.profile, default=str)),
                               tags=[InputTag("mlflow.data.context", r.context)]) for r in records]
        if inputs:
            self.client.log_inputs(run_id, datasets=inputs)

    def log_model(self, run_id: str, module, example: dict[str, Any], output_name: str = "prediction") -> str:
        """Log ``module`` as an MLflow PyTorch model of ``run_id``; returns its ``models:/`` URI.

        ``example`` maps input names to arrays (one small batch, in ``module``'s argument
        order); the signature is taken from it with a free batch dimension. The pickle format
        is used because torch.export cannot trace the suite's masked inputs (data-dependent
        indexing); such a file runs code when loaded, so load only models your own runs logged.
        """
        import numpy as np
        import torch
        from mlflow.models import Model, ModelSignature
        from mlflow.tracking._tracking_service.utils import _use_tracking_uri
        from mlflow.types import Schema, TensorSpec

        import mlflow.pytorch

        arrays = tuple(np.asarray(v) for v in example.values())
        with torch.no_grad():
            output = module(*(torch.from_numpy(a) for a in arrays)).float().numpy()
        signature = ModelSignature(
            inputs=Schema([TensorSpec(a.dtype, (-1, *a.shape[1:]), name) for name, a in zip(example, arrays)]),
            outputs=Schema([TensorSpec(output.dtype, (-1, *output.shape[1:]), output_name)]))
        with _use_tracking_uri(self.uri), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = Model.log(artifact_path=None, name="model", flavor=mlflow.pytorch, pytorch_model=module, run_id=run_id,
                             signature=signature, input_example=dict(zip(example, arrays)), serialization_format="pickle")
        return info.model_uri

    @contextlib.contextmanager
    def system_metrics(self, run_id: str | None, enabled: bool = True, interval: float = 5.0) -> Iterator[None]:
        """Log CPU, memory, disk, network (and GPU where present) to ``run_id`` while inside.

        MLflow's own monitor (``system/...`` metrics, shown in the run's System metrics tab);
        skipped with a note when psutil is missing, so tracking never stops a run.
        """
        monitor = None
        if enabled and run_id is not None:
            try:
                from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

                monitor = SystemMetricsMonitor(run_id, sampling_interval=interval, tracking_uri=self.uri)
                monitor.start()
            except Exception:  # psutil missing, or a monitor that cannot start: never fatal
                monitor = None
        try:
            yield
        finally:
            if monitor is not None:
                monitor.finish()

    def heartbeat(self, *run_ids: str | None) -> None:
        """Tell other processes these runs are alive (at most once a minute each)."""
        now = time.time()
        for run_id in run_ids:
            if run_id and now - self._beats.get(run_id, 0.0) >= HEARTBEAT_SECONDS:
                self.client.set_tag(run_id, HEARTBEAT, str(int(now)))
                self._beats[run_id] = now

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self._beats.pop(run_id, None)
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
