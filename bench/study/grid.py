"""One job of a study grid: everything a worker needs to train one fold x seed, as plain data.

A job crosses process and machine boundaries (pickled by ``multiprocessing`` or Ray), so it
holds the feature store's *path* (every worker must be able to read it: on a cluster, a
shared file system), the resolved configs, the fold's clip ids and the tracking target, and
the model's classes by reference (a model registered only in the driver, e.g. in a notebook
or a test, is registered again in the worker from them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrackingTarget:
    """Where a job logs its MLflow child run (None on a job: no tracking)."""

    uri: str
    experiment_id: str
    parent_run_id: str
    system_metrics: bool = True
    log_model: bool = False


@dataclass(frozen=True)
class Job:
    model: str  # registered name
    model_class: type  # by reference: re-registered in a worker that lacks the name
    config_class: type
    model_config: Any  # the resolved model config (data fields filled from the store)
    train_config: Any  # the resolved TrainConfig
    store_root: str  # feature store folder, readable by every worker
    store_key: str
    dataset: str
    split_name: str
    split_checksum: str
    fold: Any  # bench.splits.scheme.Fold: the groups of each part
    fold_ids: dict[str, list[str]] = field(hash=False, compare=False)  # clip ids of each part
    seed: int = 0
    device: str = "cpu"
    key: str = ""  # the result cache key (everything that determines the numbers)
    tracking: TrackingTarget | None = None
    # torch threads when the job's train.threads is 0 ("every core it may use"): its share of the
    # cores, set by the executor; 0 = leave as the process has them
    threads: int = 0
    protocol: str = ""  # bench.protocols id of the run (tagged on the job's MLflow run)
    protocol_checksum: str = ""
    # The tuning layer of the job's configuration (its ledger record says it): "" untuned,
    # "nested" (per-fold configuration from bench sweep --nested), "single" (one tuned file).
    tuning: str = ""
    # Further tags of the job's MLflow run (e.g. bench.tuning_leak: its test speakers were seen
    # by the tuning of the run's --config; bench.study.tuning).
    tags: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.model} fold {self.fold.name} seed {self.seed}"
