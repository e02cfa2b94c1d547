"""MLflow records of a sweep: one parent run per sweep, one child run per trial.

A nested sweep (``bench sweep --nested``) has one more level: the sweep's run, one child run
per outer fold (``bench.kind = outer-fold``) and, under each, one grandchild per trial.

Children are created with ``MlflowClient.create_run`` and the ``mlflow.parentRunId`` tag rather
than with ``mlflow.start_run(nested=True)``: nesting through the active-run stack only works
inside one process, while the tag nests trials from any worker on any machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.tracking import MlflowClient

from bench.tracking.runs import make_client, open_experiment, owner_tags, reap_dead_runs
from bench.urls import redact_url

EXPERIMENT_PREFIX = "sweep"


def client_for(tracking_uri: str | None) -> MlflowClient:
    return make_client(tracking_uri)


def experiment_id(client: MlflowClient, name: str) -> str:
    """The sweep experiment's id (created on first use), after marking KILLED every trial run
    that a dead worker left RUNNING."""
    exp = open_experiment(client, name)
    reap_dead_runs(client, [exp])
    return exp


def create_sweep_parent_run(settings, study, nested: list[str] | None = None) -> str:
    """The sweep's run; ``nested`` (the outer folds' names) marks a nested sweep's top run."""
    client = client_for(settings.tracking_uri)
    exp = experiment_id(client, f"{EXPERIMENT_PREFIX}/{study.model}")
    tags = {**owner_tags(), "bench.kind": "sweep", "bench.study": str(study.path)}
    if nested is not None:
        tags.update({"bench.nested": "true", "bench.outer_folds": ",".join(nested)})
    run = client.create_run(exp, run_name=settings.study_name, tags=tags)
    params = [
        Param("study_name", settings.study_name),
        Param("trials", str(settings.trials)),
        Param("pruning", str(settings.pruning)),
        Param("storage", redact_url(settings.storage) or "journal"),
        Param("metric", study.metric),
        Param("inner_folds", str(study.inner_folds)),
        Param("space", "; ".join(f"{d.name}->{d.target}" for d in study.space)),
    ]
    client.log_batch(run.info.run_id, params=params)
    if study.path and Path(study.path).exists():
        client.log_artifact(run.info.run_id, str(study.path))
    return run.info.run_id


def create_outer_fold_run(settings, study, parent_run_id: str, record: dict[str, Any]) -> str:
    """One outer fold's run under a nested sweep's run; its trials' runs nest under it.

    ``record`` is what the fold is tuned on (:func:`bench.sweep.objective.outer_fold_record`):
    its test speakers, the speakers the tuning may see, and each inner fold's validation speakers.
    """
    client = client_for(settings.tracking_uri)
    parent = client.get_run(parent_run_id)
    run = client.create_run(
        parent.info.experiment_id,
        run_name=settings.study_name,
        tags={**owner_tags(), "mlflow.parentRunId": parent_run_id, "bench.kind": "outer-fold",
              "bench.outer_fold": str(record["outer_fold"]), "bench.tuned_on_hash": str(record.get("tuned_on_hash", ""))},
    )
    client.log_batch(run.info.run_id, params=[
        Param("study_name", settings.study_name), Param("outer_fold", str(record["outer_fold"])),
        Param("trials", str(settings.trials)), Param("seed", str(settings.sampler_seed)),
        Param("test_speakers", ",".join(record.get("test_speakers", []))[:6000]),
    ])
    client.log_dict(run.info.run_id, record, "tuned_on.json")
    return run.info.run_id


def create_trial_run(settings, study, parent_run_id: str, trial_number: int, params: dict[str, Any]) -> str:
    client = client_for(settings.tracking_uri)
    parent = client.get_run(parent_run_id)
    run = client.create_run(
        parent.info.experiment_id,
        run_name=f"trial-{trial_number}",
        tags={**owner_tags(), "mlflow.parentRunId": parent_run_id, "bench.kind": "trial", "optuna.trial": str(trial_number)},
    )
    try:
        client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()])
    except BaseException:  # SIGTERM (KeyboardInterrupt) between creating the run and the trial's own guard
        client.set_terminated(run.info.run_id, status="KILLED")
        raise
    return run.info.run_id


def kill_sweep_runs(settings, run_ids: list[str | None]) -> None:
    """An interrupted sweep's end: ``run_ids`` (its parent, a running outer fold's run) KILLED,
    and every trial run of its experiment whose worker is gone too. The workers are stopped
    and joined by then; one killed between creating its trial's run and guarding it (a window
    that a loaded machine widens), or killed after the 30 s grace, would otherwise leave the
    run RUNNING until the next sweep of the experiment."""
    run_ids = [run_id for run_id in run_ids if run_id]
    if not run_ids:
        return
    client = client_for(settings.tracking_uri)
    reap_dead_runs(client, [client.get_run(run_ids[0]).info.experiment_id])
    for run_id in run_ids:
        client.set_terminated(run_id, status="KILLED")


def log_trial_metrics(settings, run_id: str, metrics: list[tuple[str, float, int]]) -> None:
    import time

    now = int(time.time() * 1000)
    client = client_for(settings.tracking_uri)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, step) for k, v, step in metrics])


def finish_trial_run(settings, run_id: str, state: str, value: float | None = None) -> None:
    client = client_for(settings.tracking_uri)
    tags = [RunTag("optuna.state", state)]
    metrics = [] if value is None else [Metric("objective", float(value), 0, 0)]
    client.log_batch(run_id, metrics=metrics, tags=tags)
    # A pruned trial ended as designed (its tag says PRUNED); KILLED is kept for trials whose
    # process was stopped, so that the runs table tells the two apart.
    status = {"COMPLETE": "FINISHED", "PRUNED": "FINISHED", "KILLED": "KILLED"}.get(state, "FAILED")
    client.set_terminated(run_id, status=status)


def finish_sweep_parent_run(settings, run_id, best_value, best_params, complete, pruned, failed, best_path) -> None:
    client = client_for(settings.tracking_uri)
    metrics = [Metric("trials_complete", complete, 0, 0), Metric("trials_pruned", pruned, 0, 0), Metric("trials_failed", failed, 0, 0)]
    if best_value is not None:
        metrics.append(Metric("best_value", float(best_value), 0, 0))
    # A resumed sweep (more --trials) may find a new best: MLflow refuses to change a logged
    # param, so params keep the first best and tags (which may change) always hold the latest.
    logged = client.get_run(run_id).data.params
    params = [Param(f"best.{k}", str(v)) for k, v in best_params.items() if f"best.{k}" not in logged]
    tags = [RunTag(f"best.{k}", str(v)[:5000]) for k, v in best_params.items()]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    if best_path is not None:
        client.log_artifact(run_id, str(best_path))
    client.set_terminated(run_id, status=RunStatus.to_string(RunStatus.FINISHED))
