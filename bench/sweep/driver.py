"""Hyper-parameter sweeps with Optuna, fair by construction and able to scale past one machine.

Fairness: the objective is the mean *validation* score over inner folds drawn from the
speakers that the outer fold does not test, so no test speaker is ever seen during tuning
(and no test metric is ever computed by a sweep). TPE samples the space declared in a study
file; a median pruner is fed every epoch's validation score, at a step counted across inner
folds so that all trials are compared at the same point of the same fold.

Scale: ``workers=N`` starts N processes on this machine sharing Optuna's journal file; with
``storage="postgresql://…"`` start ``bench sweep`` on as many machines as you like, all
pointing at one database (and one MLflow tracking server). A killed worker's trial is marked
FAIL (heartbeats on PostgreSQL; owner-PID checks on the journal) and the study goes on.

Tracking: one MLflow parent run per sweep; one child run per trial, tagged with
``mlflow.parentRunId`` so that trials from parallel workers on any machine nest under it.
The best configuration is written as a study file that ``bench run --config`` reuses; it
records the outer fold it was tuned on, so that ``bench run`` can warn about the folds whose
test speakers the tuning saw.

Nested (``nested=True``, ``bench sweep --nested``): the leak-free way to tune for a published
table. Every outer fold of the scheme gets its own Optuna study (``<name>-outer-<fold>``, in
the same storage, with the full trial budget and a seed derived from the sweep's seed and the
fold) whose inner folds are drawn only from that fold's non-test speakers. The result is one
configuration per outer fold, written as one study file with a ``[folds."<fold>"]`` table per
fold that ``bench run --config`` applies fold by fold. MLflow nests sweep -> outer fold ->
trial. A re-run resumes the unfinished outer studies and skips the finished ones.
"""

from __future__ import annotations

import importlib
import hashlib
import multiprocessing as mp
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from bench.config import stable_hash
from bench.errors import ConfigError
from bench.interrupt import terminate_as_interrupt
from bench.paths import safe_name
from bench.studies.loader import SearchDimension, Study, load_study
from bench.sweep.storage import count_trials, fail_orphaned_trials, mark_owner, open_storage, require_driver

PARENT_RUN_ATTR = "mlflow_parent_run_id"
NESTED_PARENT_ATTR = "mlflow_nested_sweep_run_id"  # on each outer study of a nested sweep: the sweep's run
TUNED_ON_ATTR = "bench_tuned_on"  # set by the training objective: what the study tuned on (outer_fold_record)
DEFAULT_OBJECTIVE = "bench.sweep.objective:TrainingObjective"


@dataclass
class SweepSettings:
    """Everything a worker process needs to join a sweep (plain data: it crosses processes)."""

    study_path: str
    study_name: str
    storage: str | None
    trials: int
    pruning: bool = True
    sampler_seed: int = 0
    tracking_uri: str | None = None
    device: str = "cpu"
    objective: str = DEFAULT_OBJECTIVE  # "module:factory"; the factory builds the objective
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepResult:
    study_name: str
    storage: str
    n_complete: int
    n_pruned: int
    n_failed: int
    best_value: float | None
    best_params: dict[str, Any]
    best_config_path: Path | None
    parent_run_id: str | None
    seconds: float
    trials_per_hour: float
    model: str | None = None
    outer_fold: str | None = None  # the outer fold this study tuned on (when known)
    outer: list["SweepResult"] = field(default_factory=list)  # nested: one result per outer fold
    skipped: bool = False  # nested, per outer fold: already finished before this invocation (no new trials)
    folds: int | None = None  # nested over the scheme's first K folds only ([study] folds): bench run --folds K

    @property
    def nested(self) -> bool:
        return bool(self.outer)

    @property
    def reuse_command(self) -> str | None:
        """The shell command that trains the best configuration (None when no trial completed)."""
        if self.best_config_path is None or self.model is None:
            return None
        return reuse_command(self.model, self.best_config_path, self.folds)


def reuse_command(model: str, config: str | Path, folds: int | None = None) -> str:
    """``bench run --model M --config F``, quoted so that it pastes into a POSIX shell as is."""
    return shlex.join(["bench", "run", "--model", model, "--config", str(config),
                       *(["--folds", str(folds)] if folds is not None else [])])


def suggest(trial: optuna.Trial, dimension: SearchDimension) -> Any:
    if dimension.type == "categorical":
        return trial.suggest_categorical(dimension.name, dimension.choices)
    if dimension.type == "int":
        step = int(dimension.step or 1)
        return trial.suggest_int(dimension.name, int(dimension.low), int(dimension.high), step=step, log=dimension.log)
    return trial.suggest_float(dimension.name, float(dimension.low), float(dimension.high), log=dimension.log, step=dimension.step)


LAID_STUDY_KEYS = ("dataset", "scheme", "folds", "metric")  # [study] keys a caller may lay over a sweep study (extra["study"])


def effective_study(study: Study, extra: dict[str, Any]) -> Study:
    """The sweep study as its trials see it: ``extra["overrides"]`` (``--set``, or a
    comparison's shared budget) over the study's own overrides, ``extra["inner_folds"]`` over
    its ``inner_folds``, and ``extra["study"]`` (a comparison's dataset, scheme, folds and
    selection metric) over those [study] keys. Plain data in ``extra``, so every worker
    process, on any machine, rebuilds the same study from the file."""
    import dataclasses

    overrides, inner, head = extra.get("overrides") or {}, extra.get("inner_folds"), extra.get("study") or {}
    unknown = sorted(set(head) - set(LAID_STUDY_KEYS))
    if unknown:
        raise ConfigError(f"cannot lay {unknown} over a sweep study (only {list(LAID_STUDY_KEYS)})")
    if not overrides and inner is None and not head:
        return study
    merged = {**study.overrides, study.model: {**study.model_overrides(study.model), **overrides}}
    return dataclasses.replace(study, overrides=merged, inner_folds=int(inner) if inner is not None else study.inner_folds,
                               **{key: value for key, value in head.items() if value is not None})


def sample_overrides(trial: optuna.Trial, study: Study) -> dict[str, Any]:
    """One value per dimension of the study's space, keyed by the override each one sets."""
    return {dimension.target: suggest(trial, dimension) for dimension in study.space}


def outer_seed(base_seed: int, fold: str) -> int:
    """The seed of one outer fold's study in a nested sweep: a function of the sweep's seed and the fold."""
    digest = hashlib.sha256(f"bench-sweep-outer:{base_seed}:{fold}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def trial_seed(base_seed: int, trial_number: int) -> int:
    """The sampler seed of one trial: a function of the sweep's seed and the trial's number."""
    digest = hashlib.sha256(f"bench-sweep:{base_seed}:{trial_number}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """TPE whose random state is set from (sweep seed, trial number) before every trial.

    Seeding one sampler per process with the sweep's seed made every worker (local or on
    another machine) draw the same first trials. The storage hands out each trial number once,
    so seeding per trial number gives every trial its own draws, whichever worker runs it,
    while a one-worker sweep stays reproducible for a given seed (same seeds, same history).
    """

    def __init__(self, seed: int, n_startup_trials: int):
        self.seed = seed
        self.n_startup_trials = n_startup_trials
        self._inner = self._tpe(trial_seed(seed, 0))

    def _tpe(self, seed: int) -> optuna.samplers.TPESampler:
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup_trials)

    def before_trial(self, study, trial) -> None:
        self._inner = self._tpe(trial_seed(self.seed, trial.number))
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()


def _make_sampler(settings: SweepSettings) -> optuna.samplers.BaseSampler:
    return TrialSeededSampler(settings.sampler_seed, n_startup_trials=min(5, max(1, settings.trials // 3)))


def _make_pruner(settings: SweepSettings) -> optuna.pruners.BasePruner:
    if not settings.pruning:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)


def load_objective(settings: SweepSettings, study: Study) -> Callable[[optuna.Trial], float]:
    module_name, _, attr = settings.objective.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory(study, settings)


def open_study(settings: SweepSettings, study: Study) -> optuna.Study:
    return optuna.create_study(
        study_name=settings.study_name,
        storage=open_storage(settings.storage),
        sampler=_make_sampler(settings),
        pruner=_make_pruner(settings),
        direction=study.direction,
        load_if_exists=True,
    )


def worker_loop(settings: SweepSettings) -> None:
    """Run trials until the study holds ``settings.trials`` finished (complete or pruned) ones.

    Every worker, on any machine, runs this same loop against the shared storage; two workers
    may both start a last trial, so a study can end with up to ``workers - 1`` extra trials,
    but no trial is ever lost or run twice (the storage hands out trial numbers).
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if settings.extra.get("threads"):  # local workers share the cores instead of oversubscribing them
        import torch

        torch.set_num_threads(int(settings.extra["threads"]))
    study = effective_study(load_study(settings.study_path), settings.extra)
    optuna_study = open_study(settings, study)
    fail_orphaned_trials(optuna_study)
    objective = load_objective(settings, study)
    if settings.extra.get("start_from_defaults") and not optuna_study.trials and hasattr(objective, "default_params"):
        # trial 0 is the model's own setting (Optuna's enqueue_trial; a dimension whose default
        # lies outside the space is sampled); another worker's copy is skipped as a duplicate
        optuna_study.enqueue_trial(objective.default_params(), skip_if_exists=True)

    def tagged(trial: optuna.Trial) -> float:
        mark_owner(trial)
        return objective(trial)

    while count_trials(optuna_study, (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)) < settings.trials:
        if count_trials(optuna_study, (TrialState.FAIL,)) > settings.trials:
            raise RuntimeError(f"sweep {settings.study_name!r}: more failed trials than the budget; giving up")
        optuna_study.optimize(tagged, n_trials=1, catch=(Exception,), gc_after_trial=True)


def _worker_entry(settings: SweepSettings) -> None:  # top level: picklable for spawn
    from bench.interrupt import terminate_as_interrupt

    try:
        with terminate_as_interrupt():  # SIGTERM ends the running trial's run as KILLED
            worker_loop(settings)
    except KeyboardInterrupt:
        raise SystemExit(143) from None


def run_workers(settings: SweepSettings, workers: int, respawn: bool = True) -> list[int]:
    """Start ``workers`` local processes and supervise them; returns the exit codes seen.

    When a worker dies (killed, out of memory), its running trial is marked FAIL at once and,
    while the budget is not met, a replacement worker is started.
    """
    import dataclasses
    import os

    ctx = mp.get_context("spawn")
    if "threads" not in settings.extra:
        settings = dataclasses.replace(settings, extra={**settings.extra, "threads": max(1, (os.cpu_count() or 1) // workers)})
    study = load_study(settings.study_path)
    optuna_study = open_study(settings, study)
    processes = [ctx.Process(target=_worker_entry, args=(settings,), daemon=False) for _ in range(workers)]
    for process in processes:
        process.start()
    try:
        return _supervise(processes, settings, optuna_study, ctx, workers if respawn else 0)
    finally:  # interrupted (Ctrl-C, SIGTERM) or failed: never leave workers behind
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()


def _supervise(processes: list, settings: SweepSettings, optuna_study, ctx, respawns_left: int) -> list[int]:
    exit_codes: list[int] = []
    while processes:
        time.sleep(0.2)
        for process in list(processes):
            if process.is_alive():
                continue
            process.join()
            processes.remove(process)
            exit_codes.append(process.exitcode)
            if process.exitcode != 0:
                fail_orphaned_trials(optuna_study, dead_pids={process.pid})
                done = count_trials(optuna_study, (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
                if respawns_left > 0 and done < settings.trials:
                    respawns_left -= 1
                    replacement = ctx.Process(target=_worker_entry, args=(settings,), daemon=False)
                    replacement.start()
                    processes.append(replacement)
    return exit_codes


def default_study_name(study: Study, extra: dict[str, Any] | None = None) -> str:
    """``<name>-<hash>`` of the study file's text and of the settings laid over it (``--set``,
    ``--inner-folds``, ``--start-from-defaults``): another budget is another Optuna study, never
    a resumed one."""
    source = Path(study.path).read_bytes() if study.path else b""
    laid = {key: (extra or {})[key] for key in ("overrides", "inner_folds", "study", "start_from_defaults")
            if (extra or {}).get(key)}
    return f"{study.name}-{stable_hash({'source': source.decode('utf-8', 'replace'), **laid}, 8)}"


def _start_parent_run(settings: SweepSettings, study: Study, optuna_study: optuna.Study) -> str | None:
    """Create (or find) the sweep's MLflow parent run and share its id through the study."""
    existing = optuna_study.user_attrs.get(PARENT_RUN_ATTR)
    if existing:
        return existing
    from bench.tracking.sweep import create_sweep_parent_run

    run_id = create_sweep_parent_run(settings, study)
    optuna_study.set_user_attr(PARENT_RUN_ATTR, run_id)
    return run_id


def _tables(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Override keys split into the ``[model]`` and ``[train]`` tables of a study file."""
    model_table: dict[str, Any] = {}
    train_table: dict[str, Any] = {}
    for key, val in overrides.items():
        (train_table if key.startswith("train.") else model_table)[key.removeprefix("train.")] = val
    return model_table, train_table


def tuned_overrides(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameters as the override keys they set (``lr`` -> ``train.lr``)."""
    targets = {d.name: d.target for d in study.space}
    return {targets[name]: val for name, val in params.items()}


def _tuning_table(settings: SweepSettings, study: Study, mode: str, record: dict[str, Any] | None) -> dict[str, Any]:
    """The ``[tuning]`` table: how the file was tuned, and (single mode) on which outer fold."""
    table: dict[str, Any] = {"mode": mode, "sweep": settings.study_name, "metric": study.metric,
                             "direction": study.direction, "trials": settings.trials, "seed": settings.sampler_seed}
    if study.path:
        table["study"] = str(study.path)
    if record:
        shared = ("dataset", "corpus", "scheme", "split_checksum", "inner_folds")
        table.update({key: record[key] for key in shared if key in record})
        if mode == "single":
            table.update({key: val for key, val in record.items() if key not in shared})
    return table


def write_best_study(study: Study, best_params: dict[str, Any], value: float, out: Path, settings: SweepSettings,
                     tuned_on: dict[str, Any] | None = None) -> Path:
    """Write the best trial as a ``kind = "run"`` study file that ``bench run --config`` reads.

    ``tuned_on`` (the objective's :func:`~bench.sweep.objective.outer_fold_record`) goes into
    a ``[tuning]`` table: the outer fold and the speakers the tuning saw, from which ``bench
    run`` finds the folds whose test speakers were seen (test leakage) and warns.
    """
    import tomli_w

    from bench.io import write_text

    model_table, train_table = _tables({**study.model_overrides(study.model), **tuned_overrides(study, best_params)})
    document = {
        "study": {
            "kind": "run",
            "name": f"{study.name}-best",
            "model": study.model,
            **({"dataset": study.dataset} if study.dataset else {}),
            **({"scheme": study.scheme} if study.scheme else {}),
        },
        "tuning": _tuning_table(settings, study, "single", tuned_on),
        "model": model_table,
        "train": train_table,
    }
    where = f" of outer fold {tuned_on['outer_fold']!r}" if tuned_on and "outer_fold" in tuned_on else ""
    header = (
        f"# Best configuration of sweep {settings.study_name!r} ({study.path}).\n"
        f"# Mean validation {study.metric} over {study.inner_folds} inner folds{where}: {value:.4f}.\n"
        f"# Tuned on one outer fold's non-test speakers: the other folds' test speakers were seen by the tuning.\n"
        f"# For a leak-free configuration per fold, tune with bench sweep --nested.\n"
        f"# Reuse it with: {reuse_command(study.model, out)}\n"
    )
    write_text(out, header + tomli_w.dumps(document))
    return out


def _checked_options(study: Study, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` checked against the study's dataset (a typo fails here, not in each worker), paths absolute."""
    from bench.data.corpora import adapter_options

    config = adapter_options(study.dataset or "synthetic", {**study.options, **options}, where="--option")
    return {key: getattr(config, key) for key in options}


def sweep(
    study: str | Path | Study,
    *,
    trials: int,
    workers: int = 1,
    storage: str | None = None,
    pruning: bool = True,
    tracking_uri: str | None = None,
    device: str = "cpu",
    study_name: str | None = None,
    out: str | Path | None = None,
    sampler_seed: int = 0,
    objective: str = DEFAULT_OBJECTIVE,
    extra: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    write_best: bool = True,
    nested: bool = False,
    overrides: dict[str, Any] | None = None,
    inner_folds: int | None = None,
    start_from_defaults: bool = False,
    say: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run (or resume) a sweep to ``trials`` finished trials and write the best study file.

    ``options`` (corpus adapter options) override the study's ``[study.options]``; they reach
    the worker processes through ``extra["options"]``. ``write_best=False`` writes no best
    study file (the storage check, whose toy "best" means nothing). ``nested=True`` tunes every
    outer fold in its own study, ``trials`` each, and writes one configuration per fold (see
    the module doc); ``say`` receives a line per outer fold as it starts or is skipped.
    ``overrides`` (``--set``; training keys as ``train.<key>``) lie over the study's own, and
    ``inner_folds`` over its ``inner_folds`` (1: the outer fold's own validation speakers); both
    are written into the configuration files, so ``bench run --config`` trains as the trials did.
    ``start_from_defaults``: trial 0 of every (outer) study is the model's own setting.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    if study.kind != "sweep":
        raise ConfigError(f"{study.path}: bench sweep needs a study of kind 'sweep', got {study.kind!r}")
    laid: dict[str, Any] = {}
    if overrides:
        from bench.studies.loader import check_overrides

        laid["overrides"] = check_overrides(study.model, dict(overrides), "--set")
    if inner_folds is not None:
        if int(inner_folds) < 1:
            raise ConfigError(f"--inner-folds {inner_folds}: give 1 (the outer fold's own validation speakers) or more")
        laid["inner_folds"] = int(inner_folds)
    if start_from_defaults:
        laid["start_from_defaults"] = True
    extra = {**(extra or {}), **laid}
    study = effective_study(study, extra)
    if trials < 1 or workers < 1:
        raise ConfigError("trials and workers must be at least 1")
    if write_best and out is not None and Path(out).exists() and not Path(out).is_file():
        # e.g. /dev/null: the atomic writer would rename a temporary file over it
        raise ConfigError(f"--out {out}: not a regular file; the best configuration is written as a file there")
    # The study name names the best-configuration file: check it before any trial runs.
    name = safe_name(study_name or default_study_name(study, extra), "--study-name" if study_name else f"{study.path} [study] name")
    settings = SweepSettings(
        study_path=str(study.path),
        study_name=name,
        storage=storage,
        trials=trials,
        pruning=pruning,
        sampler_seed=sampler_seed,
        tracking_uri=tracking_uri,
        device=device,
        objective=objective,
        extra={**(extra or {}), **({"options": _checked_options(study, options)} if options else {})},
    )
    if settings.extra.get("track", True):
        require_driver(tracking_uri, "--tracking-uri")
    if nested:
        return _nested_sweep(study, settings, workers, Path(out) if out is not None else None, write_best,
                             say or (lambda _line: None))
    optuna_study = open_study(settings, study)
    parent_run_id = _start_parent_run(settings, study, optuna_study) if settings.extra.get("track", True) else None
    started = time.perf_counter()
    finished_before = count_trials(optuna_study)
    try:
        with terminate_as_interrupt():
            if workers == 1:
                worker_loop(settings)
            else:
                run_workers(settings, workers)
    except KeyboardInterrupt:  # the trials that finished are in the storage; a re-run goes on
        if parent_run_id:
            from bench.tracking.sweep import kill_sweep_runs

            kill_sweep_runs(settings, [parent_run_id])
        raise
    seconds = time.perf_counter() - started

    complete = count_trials(optuna_study, (TrialState.COMPLETE,))
    pruned = count_trials(optuna_study, (TrialState.PRUNED,))
    failed = count_trials(optuna_study, (TrialState.FAIL,))
    best_value, best_params, best_path = None, {}, None
    if complete:
        best = optuna_study.best_trial
        best_value, best_params = best.value, dict(best.params)
    if complete and write_best:
        if out is None:
            from bench.paths import bench_home

            out = bench_home() / "studies" / f"{settings.study_name}-best.toml"
        best_path = write_best_study(study, best_params, best_value, Path(out), settings,
                                     tuned_on=optuna_study.user_attrs.get(TUNED_ON_ATTR))
    if parent_run_id:
        from bench.tracking.sweep import finish_sweep_parent_run

        finish_sweep_parent_run(settings, parent_run_id, best_value, best_params, complete, pruned, failed, best_path)
    new_trials = count_trials(optuna_study) - finished_before
    return SweepResult(
        settings.study_name,
        settings.storage or "journal (default)",
        complete,
        pruned,
        failed,
        best_value,
        best_params,
        best_path,
        parent_run_id,
        seconds,
        trials_per_hour=3600.0 * new_trials / seconds if seconds > 0 else 0.0,
        model=study.model,
    )


def _run_study(settings: SweepSettings, workers: int) -> None:
    """Bring one Optuna study to its budget: in this process, or with ``workers`` local processes."""
    if workers == 1:
        worker_loop(settings)
    else:
        run_workers(settings, workers)


def _counts(optuna_study: optuna.Study) -> tuple[int, int, int]:
    return (count_trials(optuna_study, (TrialState.COMPLETE,)), count_trials(optuna_study, (TrialState.PRUNED,)),
            count_trials(optuna_study, (TrialState.FAIL,)))


def outer_study_name(sweep_name: str, fold: str) -> str:
    """The Optuna study (and MLflow run) name of one outer fold of a nested sweep."""
    return safe_name(f"{sweep_name}-outer-{fold}", f"outer fold {fold!r} (its name becomes part of a study name)")


def _nested_sweep(study: Study, settings: SweepSettings, workers: int, out: Path | None, write_best: bool,
                  say: Callable[[str], None]) -> SweepResult:
    """One study per outer fold, each to its own budget; then one configuration file for all folds.

    The outer folds' data (scheme, test speakers, inner folds) is read here once, so that the
    file records exactly what each fold was tuned on; every worker rebuilds its fold's inner
    folds from the same seed (``outer_seed``) and gets the same speakers.
    """
    import dataclasses

    from bench.sweep.objective import open_sweep_data, outer_fold_record, outer_folds

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per outer fold below, not Optuna's per study
    store, dataset, scheme = open_sweep_data(study, settings)
    folds = outer_folds(study, scheme)
    track = settings.extra.get("track", True)
    plans = []
    for fold in folds:
        seed = outer_seed(settings.sampler_seed, fold.name)
        fold_settings = dataclasses.replace(settings, study_name=outer_study_name(settings.study_name, fold.name),
                                            sampler_seed=seed, extra={**settings.extra, "outer_fold": fold.name})
        plans.append((fold, fold_settings, outer_fold_record(store, dataset, scheme, fold, study.inner_folds, seed)))
    studies = [open_study(fold_settings, study) for _, fold_settings, _ in plans]
    parent_run_id = None
    if track:
        from bench.tracking.sweep import create_sweep_parent_run

        parent_run_id = next((o.user_attrs[NESTED_PARENT_ATTR] for o in studies if o.user_attrs.get(NESTED_PARENT_ATTR)), None)
        if parent_run_id is None:
            parent_run_id = create_sweep_parent_run(settings, study, nested=[fold.name for fold in folds])
        for optuna_study in studies:
            if optuna_study.user_attrs.get(NESTED_PARENT_ATTR) != parent_run_id:
                optuna_study.set_user_attr(NESTED_PARENT_ATTR, parent_run_id)

    started = time.perf_counter()
    new_trials = 0
    outer: list[SweepResult] = []
    running: str | None = None
    try:
        with terminate_as_interrupt():
            for (fold, fold_settings, record), optuna_study in zip(plans, studies):
                fold_started = time.perf_counter()
                before = count_trials(optuna_study)
                skipped = count_trials(optuna_study, (TrialState.COMPLETE, TrialState.PRUNED)) >= settings.trials
                if skipped:
                    say(f"outer fold {fold.name}: study {fold_settings.study_name} already has its {settings.trials} "
                        f"finished trial{'s' if settings.trials != 1 else ''}; skipped")
                else:
                    plural = "s" if settings.trials != 1 else ""
                    say(f"outer fold {fold.name}: study {fold_settings.study_name}, {settings.trials} trial{plural} on "
                        f"the {len(record['tuned_on_speakers'])} speakers outside its test speakers")
                if track:
                    running = _start_outer_run(fold_settings, study, optuna_study, parent_run_id, record)
                if not skipped:
                    _run_study(fold_settings, workers)
                complete, pruned, failed = _counts(optuna_study)
                best_value, best_params = None, {}
                if complete:
                    best_value, best_params = optuna_study.best_trial.value, dict(optuna_study.best_trial.params)
                added = count_trials(optuna_study) - before
                new_trials += added
                seconds = time.perf_counter() - fold_started
                if running:
                    from bench.tracking.sweep import finish_sweep_parent_run

                    finish_sweep_parent_run(fold_settings, running, best_value, best_params, complete, pruned, failed, None)
                    running = None
                outer.append(SweepResult(fold_settings.study_name, settings.storage or "journal (default)", complete,
                                         pruned, failed, best_value, best_params, None,
                                         optuna_study.user_attrs.get(PARENT_RUN_ATTR), seconds,
                                         trials_per_hour=3600.0 * added / seconds if seconds > 0 else 0.0,
                                         model=study.model, outer_fold=fold.name, skipped=skipped))
    except KeyboardInterrupt:  # finished trials are in the storage; a re-run goes on where this stopped
        if track:
            from bench.tracking.sweep import kill_sweep_runs

            kill_sweep_runs(settings, [running, parent_run_id])
        raise
    seconds = time.perf_counter() - started

    best_path = None
    if write_best and any(r.best_value is not None for r in outer):
        if out is None:
            from bench.paths import bench_home

            out = bench_home() / "studies" / f"{settings.study_name}-nested.toml"
        best_path = write_nested_study(study, settings, [(r, record) for r, (_, _, record) in zip(outer, plans)], out)
    complete = sum(r.n_complete for r in outer)
    pruned = sum(r.n_pruned for r in outer)
    failed = sum(r.n_failed for r in outer)
    if parent_run_id:
        from bench.tracking.sweep import finish_sweep_parent_run

        finish_sweep_parent_run(settings, parent_run_id, None,
                                {f"{r.outer_fold}.{k}": v for r in outer for k, v in r.best_params.items()},
                                complete, pruned, failed, best_path)
    return SweepResult(settings.study_name, settings.storage or "journal (default)", complete, pruned, failed, None, {},
                       best_path, parent_run_id, seconds,
                       trials_per_hour=3600.0 * new_trials / seconds if seconds > 0 else 0.0, model=study.model, outer=outer,
                       folds=int(study.folds) if study.folds is not None else None)


def _start_outer_run(settings: SweepSettings, study: Study, optuna_study: optuna.Study, parent_run_id: str,
                     record: dict[str, Any]) -> str:
    """The outer fold's MLflow run (a child of the nested sweep's run), created once and shared through
    its study, so that its trials' runs nest under it from any worker."""
    existing = optuna_study.user_attrs.get(PARENT_RUN_ATTR)
    if existing:
        return existing
    from bench.tracking.sweep import create_outer_fold_run

    run_id = create_outer_fold_run(settings, study, parent_run_id, record)
    optuna_study.set_user_attr(PARENT_RUN_ATTR, run_id)
    return run_id


def write_nested_study(study: Study, settings: SweepSettings, outer: list[tuple[SweepResult, dict[str, Any]]],
                       out: Path) -> Path:
    """Write one ``kind = "run"`` study file holding each outer fold's best configuration.

    Shared settings (the sweep study's own overrides) go in ``[model]``/``[train]``; each fold's
    tuned values, and what they were tuned on, in ``[folds."<fold>"]``. ``bench run --config``
    gives every fold its own table (a fold the file lacks is an error).
    """
    import tomli_w

    from bench.io import write_text

    model_table, train_table = _tables(study.model_overrides(study.model))
    folds: dict[str, Any] = {}
    missing = []
    for result, record in outer:
        if result.best_value is None:
            missing.append(result.outer_fold)
            continue
        fold_model, fold_train = _tables(tuned_overrides(study, result.best_params))
        entry: dict[str, Any] = {"sweep": result.study_name, "best_value": result.best_value,
                                 "trials_complete": result.n_complete,
                                 **{k: v for k, v in record.items() if k not in ("dataset", "corpus", "scheme",
                                                                                  "split_checksum", "inner_folds")}}
        if fold_model:
            entry["model"] = fold_model
        if fold_train:
            entry["train"] = fold_train
        folds[str(result.outer_fold)] = entry
    document = {
        "study": {
            "kind": "run",
            "name": f"{study.name}-nested",
            "model": study.model,
            **({"dataset": study.dataset} if study.dataset else {}),
            **({"scheme": study.scheme} if study.scheme else {}),
        },
        "tuning": _tuning_table(settings, study, "nested", outer[0][1] if outer else None),
        "model": model_table,
        "train": train_table,
        "folds": folds,
    }
    lines = [f"# Nested-tuned configurations of sweep {settings.study_name!r} ({study.path}): one per outer fold,",
             f"# each tuned ({settings.trials} trials) on inner folds drawn only from that fold's non-test speakers,",
             f"# mean validation {study.metric} over {study.inner_folds} inner folds. bench run --config applies",
             "# each [folds.\"<fold>\"] table to its own fold only.",
             f"# Reuse it with: {reuse_command(study.model, out, study.folds)}"]
    if missing:
        lines.append(f"# No trial completed for outer folds {', '.join(missing)}: they have no configuration here.")
    write_text(out, "\n".join(lines) + "\n" + tomli_w.dumps(document))
    return out


class StorageCheckObjective:
    """The objective of ``bench sweep --check-storage``: checks a storage and worker setup
    without training anything (a user-facing check, which tests use too).

    ``bench sweep --check-storage URL`` uses it: each trial sleeps ``extra['sleep']`` seconds,
    reports a few intermediate values (so the pruner is exercised) and returns a quadratic of
    the sampled numbers, so that many workers on many machines can be tried in seconds.
    """

    def __init__(self, study: Study, settings: SweepSettings):
        self.study = study
        self.settings = settings
        self.sleep = float(settings.extra.get("sleep", 0.0))
        self.steps = int(settings.extra.get("steps", 3))

    def __call__(self, trial: optuna.Trial) -> float:
        params = sample_overrides(trial, self.study)
        # Tracked like a training trial (one child run under the sweep's parent), so that the
        # MLflow nesting of many workers can be checked without training.
        parent = trial.study.user_attrs.get(PARENT_RUN_ATTR) if self.settings.extra.get("track", True) else None
        if parent:
            from bench.tracking import sweep as track

            run_id = track.create_trial_run(self.settings, self.study, parent, trial.number, params)
        numeric = [float(v) for v in params.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        value = sum((x - 0.5) ** 2 for x in numeric)
        state = "FAIL"
        try:
            for step in range(self.steps):
                time.sleep(self.sleep / max(self.steps, 1))
                trial.report(value + (self.steps - step) * 0.1, step)
            state = "COMPLETE"
            return value
        except KeyboardInterrupt:  # as the training objective: a stopped worker's trial is KILLED
            state = "KILLED"
            raise
        finally:
            if parent:
                track.finish_trial_run(self.settings, run_id, state, value if state == "COMPLETE" else None)
