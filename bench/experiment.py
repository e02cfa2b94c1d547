"""Run an experiment: one model, one dataset, the folds of a split scheme, one or more seeds.

    from bench.experiment import run
    result = run("deiii", "cremad", root="/data/CREMA-D", folds=2, seeds=(0, 1),
                 overrides={"d_model": 128, "train.lr": 1e-4})
    result.aggregates["uar"]   # {"mean", "std", "ci95_low", "ci95_high", "n"}
    result.tidy()              # one row per fold x seed x metric

``bench run`` is a thin wrapper around :func:`run`. Without a dataset the built-in synthetic
corpus is generated and prepared on first use (it proves the machinery, not emotion
recognition). For each fold x seed the model trains on the training speakers, selects its
epoch (and head) on the validation speakers and scores the test speakers once
(:func:`bench.train.loop.fit_fold`).

Configuration is resolved once per run by :mod:`bench.study.resolve` (recipe, dataset
presets, study file, overrides; which layer set each key is logged as ``config_layers.json``).
The run is a grid of jobs (folds x seeds) handed to an executor (:mod:`bench.study`): serial
by default, ``jobs_in_parallel`` worker processes, or Ray. Finished results are cached by a
key of everything that determines their numbers (:mod:`bench.study.cache`); a re-run reuses
them (a killed run resumes where it stopped); failed folds are not cached, so they retry.

:func:`run` is :func:`plan_run` (everything up to the jobs, the MLflow parent run included),
the jobs on the executor (:func:`run_plans`) and :func:`finish_run`. :func:`run_many` plans
several runs (``bench compare``'s models, ``bench ablate``'s variants) and hands all their jobs
to the executor as one grid, so that its workers never wait at one run's tail.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd
from rich.markup import escape

from bench.config import apply_overrides, to_dict
from bench.errors import ConfigError
from bench.interrupt import terminate_as_interrupt
from bench.study.cache import fold_key
from bench.study.resolve import adapt_to_store, explicit_model_keys, resolve_configs
from bench.train.result import FoldResult


SYNTHETIC_BANNER = "SYNTHETIC corpus — proves the machinery, not emotion recognition"


@dataclass
class ExperimentResult:
    model: str
    dataset: str
    fold_results: list[FoldResult]  # one per fold x seed, finished and failed
    aggregates: dict[str, dict]  # per test metric over finished folds: mean, std, ci95_low, ci95_high, n
    parent_run_id: str | None  # the MLflow parent run (None when tracking is off)
    resolved_config: dict  # {"model": {...}, "train": {...}}
    scheme: str = ""  # split scheme name
    split_checksum: str = ""  # its checksum
    store_key: str = ""  # the feature store's key
    synthetic: bool = False  # True on the built-in synthetic corpus
    protocol: str = ""  # bench.protocols id: the runs this one may be compared with
    protocol_checksum: str = ""
    # The test-leakage warning of a tuned --config (bench.study.tuning): its folds whose test
    # speakers the tuning saw; "" when none (or no tuned config).
    tuning_leak: str = ""
    # A nested-tuned --config (bench sweep --nested): each fold's resolved {"model", "train"};
    # None when every fold ran resolved_config.
    fold_configs: dict | None = None
    # Which layer set each resolved key (bench.study.resolve: "recipe", "preset <dataset>/<scope>",
    # "study <file>", "override"; training keys as "train.<key>"), so a report can say how each
    # row was configured (bench.report.training). A nested-tuned run's per-fold layers are in
    # fold_configs[<fold>]["layers"].
    layers: dict = field(default_factory=dict)
    # The --config study file as the user named it; "" when none.
    config: str = ""

    @property
    def failed(self) -> list[FoldResult]:
        return [r for r in self.fold_results if not r.finished]

    @property
    def finished(self) -> list[FoldResult]:
        return [r for r in self.fold_results if r.finished]

    def tidy(self) -> pd.DataFrame:
        """One row per finished fold x seed x test metric: model, dataset, fold, seed, metric, value,
        and the fold's clip counts n_train, n_test (0 when cached before they were recorded), which
        the corrected t-test of bench.eval.significance needs for its test/train size ratio."""
        rows = [
            {"model": self.model, "dataset": self.dataset, "fold": r.fold, "seed": r.seed, "metric": k, "value": v,
             "n_train": r.n_train, "n_test": r.n_test}
            for r in self.finished
            for k, v in r.test.items()
        ]
        return pd.DataFrame(rows, columns=["model", "dataset", "fold", "seed", "metric", "value", "n_train", "n_test"])


# -- the run --------------------------------------------------------------------------------
def run(
    model: str,
    dataset: str | None = None,
    *,
    jobs_in_parallel: int = 1,
    executor=None,
    **plan_options: Any,
) -> ExperimentResult:
    """Train and score ``model`` on every fold (the first ``folds``) x seed; see the module doc.

    ``plan_options`` are :func:`plan_run`'s keywords (``root``, ``folds``, ``scheme``, ``seeds``,
    ``overrides``, ``config``, ``options`` (the corpus adapter's), ``store``/``split`` instead of
    ``dataset``/``root``/``scheme``, ``track``, ``progress``, ``console``, ...), documented there once.
    ``jobs_in_parallel`` > 1 trains that many folds x seeds at once in worker processes;
    ``executor`` (see :mod:`bench.study.executors`) picks any other executor, e.g. Ray.

    It is :func:`plan_run`, the plan's jobs on the executor (:func:`run_plans`), then
    :func:`finish_run`; :func:`run_many` does the same for several runs in one grid.
    """
    console = plan_options.pop("console", None)
    console = console if console is not None else _default_console()
    progress = plan_options.get("progress", True)
    plan = plan_run(model, dataset, console=console, **plan_options)
    results = run_plans([plan], _executor(executor, jobs_in_parallel), progress=progress, console=console)
    return finish_run(plan, results[0], console)


@dataclass
class RunPlan:
    """A run up to its jobs: resolved configs, store, split, folds x seeds, the MLflow parent run.

    Made by :func:`plan_run`; its jobs go to an executor (alone, or with other plans' jobs in one
    grid: :func:`run_many`), and :func:`finish_run` turns their results into the
    :class:`ExperimentResult` and closes the parent run.
    """

    model: str
    dataset: str
    store: Any
    split: Any
    synthetic: bool
    protocol: dict  # bench.protocols.protocol_ref: {"protocol", "protocol_checksum"}
    fold_list: list
    seeds: list[int]
    assigned: dict  # fold name -> {"train", "val", "test"} clip ids
    model_config: Any
    train_config: Any
    resolved: dict  # {"model": {...}, "train": {...}}
    layers: dict
    fold_configs: dict  # nested-tuned: fold name -> (model config, train config, layers); {} otherwise
    tuning: Any  # bench.study.tuning check of a tuned --config, or None
    notes: list[str]
    device: Any  # torch.device
    config: str | Path | None = None
    options: dict | None = None
    name: str = ""  # the run's name in a grid of several (a model, an ablation variant); "" = the model
    tracker: Any = None  # bench.tracking.runs.Tracker, None when tracking is off
    parent_id: str | None = None
    jobs: list = field(default_factory=list)  # bench.study.Job, folds x seeds in order


def plan_run(
    model: str,
    dataset: str | None = None,
    *,
    root: str | Path | None = None,
    folds: int | None = None,
    scheme: str | None = None,
    seeds: Sequence[int] = (0,),
    overrides: dict[str, Any] | None = None,
    config: str | Path | None = None,
    tracking_uri: str | None = None,
    device: str = "auto",
    experiment_name: str | None = None,
    progress: bool = True,
    workers: int | None = None,
    store=None,
    split=None,
    track: bool = True,
    console=None,
    options: dict[str, Any] | None = None,
    system_metrics: bool = True,
    log_model: bool = False,
    name: str = "",
) -> RunPlan:
    """Everything of :func:`run` before training: configs resolved, store opened (prepared on
    first use), folds assigned, the MLflow parent run started and its artifacts logged, notes
    and the run's header printed, and the jobs built (whether a job's result is cached is the
    runner's business: :func:`bench.study.runner.execute`).

    ``store`` (a FeatureStore) and ``split`` (a SplitScheme) may be given directly instead of
    ``dataset``/``root``/``scheme`` (sweeps and tests do). ``options`` are the corpus adapter's
    options (``{"labels": "/data/msp_labels.csv"}``; see :func:`open_dataset`). ``workers`` sets the processes for
    generating and preparing the corpus (None: one per idle core, at most 4) and the DataLoader workers. ``track=False`` skips MLflow;
    ``system_metrics=False`` keeps MLflow but not the CPU / memory samples of each fold run;
    ``log_model=True`` logs each fold's selected weights as an MLflow PyTorch model.
    """
    console = console if console is not None else _default_console()
    plan = _prepare(model, dataset, root=root, folds=folds, scheme=scheme, seeds=seeds, overrides=overrides,
                    config=config, device=device, progress=progress, workers=workers, store=store, split=split,
                    track=track, console=console, options=options, log_model=log_model, name=name)
    _open(plan, tracking_uri=tracking_uri, experiment_name=experiment_name, track=track, console=console,
          system_metrics=system_metrics, log_model=log_model)
    return plan


def _default_console():
    from bench.console import default_console

    return default_console()


def _executor(executor, jobs_in_parallel: int):
    if executor is not None:
        return executor
    from bench.study.executors import make_executor

    return make_executor("serial", jobs_in_parallel)


def _prepare(model: str, dataset: str | None, *, root, folds, scheme, seeds, overrides, config, device, progress,
             workers, store, split, track, console, options, log_model, name) -> RunPlan:
    """The plan without side effects on MLflow: every setting checked, store and split open."""
    from bench.models.registry import get_model_entry
    from bench.train.loop import fill_data_fields, resolve_device

    get_model_entry(model)  # unknown names fail before any data work
    seeds = [int(s) for s in seeds] or [0]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds repeat: {seeds}")

    # Settings first: a bad value fails in the first second, before a corpus is generated or
    # prepared (the dataset's name is all the presets need).
    if store is None:
        dataset = dataset or "synthetic"
    else:
        dataset = dataset or str(store.meta.get("corpus", "unknown"))
    notes: list[str] = []
    device_obj = resolve_device(device if device not in (None, "auto") else "auto")
    layers: dict[str, str] = {}
    model_config, train_config = resolve_configs(
        model, dataset, overrides=overrides, config=config, device_kind=device_obj.type, notes=notes, layers=layers
    )
    train_config = _runtime_settings(train_config, device, workers, log_model and track)
    device_obj = resolve_device(train_config.device)

    if store is None:
        from bench.data.open import open_dataset

        store, dataset, synthetic = open_dataset(dataset, root, options=options,
                                                 workers=workers or 0, progress=progress, say=console.print)
    else:
        from bench.data.synth import is_synthetic_root

        synthetic = dataset == "synthetic" or is_synthetic_root(store.manifest.root)
    explicit = explicit_model_keys(model, dataset, overrides, config, device_obj.type)
    model_config = fill_data_fields(adapt_to_store(model_config, store, explicit, notes, train_config.window_steps), store)
    resolved = {"model": to_dict(model_config), "train": to_dict(train_config)}

    if split is None:
        from bench.splits import get_scheme

        split = get_scheme(dataset, scheme, manifest=store.manifest)
    from bench.protocols import protocol_ref

    protocol = protocol_ref(dataset, split, options)  # corpus + labels + split: what a number is comparable with
    fold_list = list(split.folds)
    if folds is not None:
        if folds < 1 or folds > len(fold_list):
            raise ConfigError(f"--folds {folds}: scheme {split.dataset}/{split.name} has {len(fold_list)} folds")
        fold_list = fold_list[:folds]
    assigned = {fold.name: fold.assign(store.manifest) for fold in fold_list}

    # A tuned --config: which folds' test speakers its tuning saw (warned and tagged below), and,
    # for a nested-tuned file, each fold's own configuration (a fold the file lacks fails here).
    tuning, fold_configs = None, {}
    if config is not None:
        from bench.study.tuning import check_tuning

        tuning = check_tuning(config, model, store.manifest, fold_list, assigned)
        if tuning is not None and tuning.mode == "nested":
            for fold in fold_list:
                fold_layers: dict[str, str] = {}
                fold_model, fold_train = resolve_configs(model, dataset, overrides=overrides, config=config,
                                                         device_kind=device_obj.type, layers=fold_layers, fold=fold.name)
                fold_train = _runtime_settings(fold_train, device, workers, log_model and track)
                fold_explicit = explicit_model_keys(model, dataset, overrides, config, device_obj.type, fold=fold.name)
                fold_model = fill_data_fields(adapt_to_store(fold_model, store, fold_explicit, [], fold_train.window_steps), store)
                fold_configs[fold.name] = (fold_model, fold_train, fold_layers)
    return RunPlan(model, dataset, store, split, synthetic, protocol, fold_list, seeds, assigned, model_config,
                   train_config, resolved, layers, fold_configs, tuning, notes, device_obj, config=config,
                   options=options, name=name or model)


def _open(plan: RunPlan, *, tracking_uri, experiment_name, track, console, system_metrics, log_model) -> None:
    """Start the plan's MLflow parent run (its tags, params and artifacts), print its notes and
    header, and build its jobs, each tracked as a child of that parent."""
    model, dataset, store, split, protocol = plan.model, plan.dataset, plan.store, plan.split, plan.protocol
    fold_list, seeds, resolved, layers, tuning = plan.fold_list, plan.seeds, plan.resolved, plan.layers, plan.tuning
    fold_configs, synthetic = plan.fold_configs, plan.synthetic
    tracker, parent_id = None, None
    if track:
        from bench.tracking.runs import DatasetRecord, Tracker, environment_info

        tracker = Tracker(tracking_uri, experiment_name or f"bench/{model}/{dataset}", say=console.print)
        parent_id = tracker.start_run(
            f"{model}-{dataset}-{split.name}",
            tags={"model": model, "dataset": dataset, "store_key": store.key, "split_scheme": split.name,
                  "split_checksum": split.checksum, "synthetic": str(synthetic).lower(), **protocol,
                  "seeds": ",".join(map(str, seeds)), "folds": ",".join(f.name for f in fold_list),
                  **{f"env.{k}": v for k, v in environment_info().items()}},
        )
        plan.tracker, plan.parent_id = tracker, parent_id  # set now: a failure below still ends the run
        tracker.log_params(parent_id, {**resolved, "data": {"dataset": dataset, "store_key": store.key, **protocol,
                                                            "split_scheme": split.name, "split_checksum": split.checksum,
                                                            "options": dict(plan.options or {})}})
        tracker.log_json(parent_id, resolved, "config.json")
        tracker.log_json(parent_id, layers, "config_layers.json")  # which layer set each key
        if fold_configs:  # nested-tuned: each fold's own configuration, and who set each key
            tracker.log_json(parent_id, {name: {"model": to_dict(m), "train": to_dict(t), "layers": fold_layers}
                                         for name, (m, t, fold_layers) in fold_configs.items()}, "fold_configs.json")
        if tuning is not None:
            tracker.set_tags(parent_id, tuning.run_tags())
        tracker.log_text(parent_id, _as_toml(model, resolved), "config.toml")
        tracker.log_json(parent_id, environment_info(), "environment.json")
        tracker.log_datasets(parent_id, [DatasetRecord(
            name=f"{dataset}-manifest", digest=store.key, source=str(store.root), context="manifest",
            profile={"clips": len(store.clip_ids), split.group_by + "s": int(store.manifest.frame[split.group_by].nunique()),
                     "labels": list(store.manifest.labels), "store_key": store.key})])
        tracker.log_text(parent_id, store.manifest.frame.to_csv(index=False), "manifest.csv")
        tracker.describe(parent_id, "\n".join([
            f"**{model}** on **{dataset}**" + (" (SYNTHETIC corpus)" if synthetic else ""), "",
            f"- protocol `{protocol['protocol']}` (sha256 `{protocol['protocol_checksum'][:16]}…`)",
            f"- split scheme `{split.name}` (sha256 `{split.checksum}`), folds {', '.join(f.name for f in fold_list)}",
            f"- seeds {', '.join(map(str, seeds))}; feature store `{store.key}` ({len(store.clip_ids)} clips)",
            "- each fold trains on its training speakers, selects epoch and head on its validation speakers "
            "and scores its test speakers once; the fold runs below hold the details"]))

    for note in plan.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if fold_configs:
        console.print(f"[yellow]note:[/] {escape(str(plan.config))}: tuned per outer fold (bench sweep --nested); each fold "
                      f"runs its own configuration", highlight=False)
    if tuning is not None and tuning.message:
        console.print(f"[yellow]warning:[/] {escape(tuning.message)}", highlight=False, soft_wrap=True)
    console.print(
        f"[bold]{model}[/] on [bold]{dataset}[/] ({len(store.clip_ids)} clips, store {store.key}), "
        f"scheme {split.name} ({len(fold_list)} folds x {len(seeds)} seeds), device {plan.device}",
        highlight=False,
    )

    from bench.study import TrackingTarget

    target = (TrackingTarget(tracker.uri, tracker.experiment_id, parent_id, system_metrics, log_model)
              if tracker is not None else None)
    plan.jobs = build_jobs(plan, target)


def build_jobs(plan: RunPlan, target=None) -> list:
    """The plan's jobs, folds x seeds in order, each tracked under ``target`` (None: untracked)."""
    from bench.models.registry import get_model_entry
    from bench.study import Job

    entry = get_model_entry(plan.model)
    store, split, protocol, tuning = plan.store, plan.split, plan.protocol, plan.tuning
    jobs = []
    for fold in plan.fold_list:
        ids = plan.assigned[fold.name]
        fold_model, fold_train, _ = plan.fold_configs.get(fold.name, (plan.model_config, plan.train_config, None))
        for seed in plan.seeds:
            jobs.append(Job(plan.model, entry.model_class, entry.config_class, fold_model, fold_train, str(store.root),
                            store.key, plan.dataset, split.name, split.checksum, fold, ids, seed, str(plan.device),
                            fold_key(plan.model, fold_model, fold_train, store.key, split.checksum, fold.name, seed),
                            target, protocol=protocol["protocol"], protocol_checksum=protocol["protocol_checksum"],
                            tuning=tuning.mode if tuning is not None else "",
                            tags=tuning.fold_tags(fold.name) if tuning is not None else {}))
    return jobs


def plan_untracked(specs: Sequence["RunSpec"], *, console=None) -> list[tuple[str, list]]:
    """Each spec planned (settings checked, store opened) with untracked jobs, nothing trained:
    ``[(run name, its jobs)]``, for :func:`plan_status` and the stale records' check."""
    console = console if console is not None else _default_console()
    planned = []
    for spec in specs:
        kwargs = {"progress": False, **spec.kwargs}
        plan = _prepare(spec.model, spec.dataset, console=console, name=spec.name,
                        **{k: kwargs.get(k, v) for k, v in _PREPARE_DEFAULTS.items()})
        planned.append((plan.name, build_jobs(plan)))
    return planned


def plan_status(specs: Sequence["RunSpec"], *, console=None, verify_stale: int = 0):
    """What a grid of runs still needs, without tracking anything: its jobs looked up in the
    cache and the ledger (:func:`bench.study.status.grid_status`). ``verify_stale`` > 0 first
    retrains that many jobs of each stale configuration and restamps the configuration's stale
    records when they match bit for bit (:func:`bench.study.restamp.verify_stale`); it is the
    only training this does."""
    from bench.study.status import grid_status

    console = console if console is not None else _default_console()
    planned = plan_untracked(specs, console=console)
    outcome = None
    if verify_stale:
        from bench.study.restamp import verify_stale as verify

        outcome = verify(planned, sample=verify_stale, say=lambda line: console.print(escape(line), highlight=False))
    status = grid_status(planned)
    status.verified = outcome
    return status


def run_plans(plans: Sequence[RunPlan], executor, *, progress: bool = True, console=None) -> list[list[FoldResult]]:
    """Every plan's jobs in ONE grid on ``executor``: each plan's results, in its job order.

    One ``run_jobs`` call, so that the executor's workers stay busy across the plans'
    boundaries and a cluster sees the whole grid. Each job is tracked under its own plan's
    parent run. Two jobs with the same cache key (two ablation variants that resolve to the
    same configuration) train once: the repeats follow in a second call and read the cache.
    On an interruption (Ctrl-C, SIGTERM) what finished is cached, the runs of stopped workers
    are marked KILLED and the parent of every run with a job left ends KILLED (FAILED on any
    other error; a run whose jobs all came back ends as it would have) before the exception
    propagates; on success the parents stay open for :func:`finish_run`.
    """
    from bench.study import run_jobs

    console = console if console is not None else _default_console()
    grid = [(p, i) for p, plan in enumerate(plans) for i in range(len(plan.jobs))]
    first, repeats, seen = [], [], set()
    for p, i in grid:
        key = plans[p].jobs[i].key
        (repeats if key and key in seen else first).append((p, i))
        seen.add(key)
    labels = [f"{plan.name}: " if len(plans) > 1 else "" for plan in plans]
    partial: list[list[FoldResult]] = [[] for _ in plans]  # in finishing order, for an interruption
    ordered: list[list[FoldResult | None]] = [[None] * len(plan.jobs) for plan in plans]
    epochs = plans[0].train_config.epochs if plans else 0
    try:
        with terminate_as_interrupt(), _Progress(progress, console, len(grid), epochs) as bar:
            for part in (first, repeats):
                if not part:
                    continue
                jobs = [plans[p].jobs[i] for p, i in part]
                bar.label_jobs({id(job): labels[p] for job, (p, _) in zip(jobs, part)})

                def done(index: int, job, fold_result: FoldResult, part=part) -> None:
                    p, i = part[index]
                    bar.job_done(job, fold_result, labels[p])
                    partial[p].append(fold_result)
                    ordered[p][i] = fold_result

                run_jobs(jobs, executor, on_done=done, on_epoch=bar.on_epoch)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)  # Ctrl-C or SIGTERM: what finished is cached
        if interrupted:  # runs of workers the executor stopped
            from bench.tracking.runs import reap_dead_runs

            reaped = set()
            for plan in plans:
                if plan.tracker is not None and (plan.tracker.uri, plan.tracker.experiment_id) not in reaped:
                    reaped.add((plan.tracker.uri, plan.tracker.experiment_id))
                    reap_dead_runs(plan.tracker.client, [plan.tracker.experiment_id])
        for p, plan in enumerate(plans):  # a run whose every job came back ends as it would have
            complete = len(partial[p]) == len(plan.jobs)
            _end_parent(plan, partial[p], ("FINISHED" if any(r.finished for r in partial[p]) else "FAILED") if complete
                        else "KILLED" if interrupted else "FAILED")
        raise
    reused = [r for results in ordered for r in results if r is not None and r.cached]
    if grid and len(reused) == len(grid):
        ledger = sum(r.source.startswith("ledger") for r in reused)
        console.print(f"all {len(grid)} jobs reused ({ledger} from ledger records, {len(reused) - ledger} from the local "
                      "result cache): nothing was trained", highlight=False)
    return ordered  # type: ignore[return-value]


def _end_parent(plan: RunPlan, results: list[FoldResult], status: str) -> dict:
    """Log the aggregates (and results.csv) to the plan's parent run and end it; the aggregates."""
    from bench.eval.stats import aggregate

    aggregates = _ordered(aggregate(r.test for r in results if r.finished))
    if plan.tracker is not None and plan.parent_id is not None:
        finished = sum(r.finished for r in results)
        plan.tracker.log_aggregates(plan.parent_id, aggregates, finished, len(results) - finished)
        if results:
            plan.tracker.log_text(plan.parent_id, _tidy_frame(plan.model, plan.dataset, results).to_csv(index=False),
                                  "results.csv")
        plan.tracker.end_run(plan.parent_id, status)
    return aggregates


def finish_run(plan: RunPlan, results: list[FoldResult], console=None) -> ExperimentResult:
    """The plan's results (in its job order) as an ExperimentResult: aggregates logged, the parent
    run ended (FINISHED when any fold finished, FAILED otherwise), the summary printed."""
    console = console if console is not None else _default_console()
    results = list(results)
    aggregates = _end_parent(plan, results, "FINISHED" if any(r.finished for r in results) else "FAILED")
    tuning, fold_configs, split = plan.tuning, plan.fold_configs, plan.split
    result = ExperimentResult(plan.model, plan.dataset, results, aggregates, plan.parent_id, plan.resolved, split.name,
                              split.checksum, plan.store.key, plan.synthetic, plan.protocol["protocol"],
                              plan.protocol["protocol_checksum"],
                              tuning_leak=tuning.message if tuning is not None else "",
                              fold_configs={name: {"model": to_dict(m), "train": to_dict(t), "layers": dict(fold_layers)}
                                            for name, (m, t, fold_layers) in fold_configs.items()} or None,
                              layers=dict(plan.layers), config=str(plan.config) if plan.config is not None else "")
    print_summary(result, console, label=plan.name if plan.name != plan.model else "")
    return result


@dataclass
class RunSpec:
    """One run of a grid of several (:func:`run_many`): :func:`run`'s arguments under a name.

    ``kwargs`` are :func:`run`'s keyword arguments except ``console``, ``executor`` and
    ``jobs_in_parallel`` (the grid's own); ``intro`` is a line printed before the run's notes
    (an ablation variant's description)."""

    name: str
    model: str
    dataset: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    intro: str = ""


def run_many(specs: Sequence[RunSpec], *, executor=None, jobs_in_parallel: int = 1, progress: bool = True,
             console=None) -> dict[str, ExperimentResult]:
    """Several runs as ONE grid: every run planned first (a bad setting in any fails before
    anything trains or any parent run starts), all their jobs handed to ``executor`` at once
    (:func:`run_plans`: workers stay busy across the runs' boundaries, results arrive as they
    finish, each tracked under its own run's parent), then each run finished and summarised.
    ``{spec.name: ExperimentResult}`` in the specs' order; the numbers, cache keys and MLflow
    runs are those of :func:`run` called on each spec in turn."""
    console = console if console is not None else _default_console()
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"runs of one grid need distinct names, got {names}")
    run_options = {"tracking_uri", "experiment_name", "system_metrics"}
    for spec in specs:
        unknown = sorted(set(spec.kwargs) - set(_PREPARE_DEFAULTS) - set(_OPEN_DEFAULTS))
        if unknown:
            raise TypeError(f"run_many: run {spec.name!r} has arguments run() does not take here: {unknown}")
    prepared = []
    for spec in specs:
        kwargs = {"progress": progress, **spec.kwargs}
        prepared.append(_prepare(spec.model, spec.dataset, console=console, name=spec.name,
                                 **{k: kwargs.get(k, v) for k, v in _PREPARE_DEFAULTS.items()}))
    opened: list[RunPlan] = []
    try:
        for spec, plan in zip(specs, prepared):
            if spec.intro:
                console.print(spec.intro, highlight=False)
            opened.append(plan)
            kwargs = spec.kwargs
            _open(plan, console=console, track=kwargs.get("track", True), log_model=kwargs.get("log_model", False),
                  **{k: kwargs.get(k, _OPEN_DEFAULTS[k]) for k in run_options})
    except BaseException:  # their jobs will never run
        for plan in opened:
            _end_parent(plan, [], "FAILED")
        raise
    results = run_plans(prepared, _executor(executor, jobs_in_parallel), progress=progress, console=console)
    return {plan.name: finish_run(plan, plan_results, console) for plan, plan_results in zip(prepared, results)}


# run()'s keyword defaults, as _prepare and _open take them (run_many fills a spec's gaps).
_PREPARE_DEFAULTS: dict[str, Any] = {"root": None, "folds": None, "scheme": None, "seeds": (0,), "overrides": None,
                                     "config": None, "device": "auto", "progress": True, "workers": None,
                                     "store": None, "split": None, "track": True, "options": None, "log_model": False}
_OPEN_DEFAULTS: dict[str, Any] = {"tracking_uri": None, "experiment_name": None, "system_metrics": True}


def _runtime_settings(train_config, device: str | None, workers: int | None, keep_weights: bool):
    """The run's own settings over a resolved TrainConfig: device, loader workers, and kept weights
    (``--log-model``: the selected weights must outlive the fold; a runtime field, same cache key)."""
    if device not in (None, "auto"):
        train_config = apply_overrides(train_config, {"device": device})
    if workers is not None:
        train_config = apply_overrides(train_config, {"num_workers": int(workers)})
    if keep_weights:
        train_config = apply_overrides(train_config, {"save_state": True})
    return train_config


# -- output ---------------------------------------------------------------------------------
def _ordered(metrics: dict) -> dict:
    from bench.eval.metrics import ordered

    return ordered(metrics)


def _tidy_frame(model: str, dataset: str, results: Iterable[FoldResult]) -> pd.DataFrame:
    return ExperimentResult(model, dataset, list(results), {}, None, {}).tidy()


def _as_toml(model: str, resolved: dict) -> str:
    """The resolved config as a study file ``bench run --config`` reads back."""
    import tomli_w

    def clean(table: dict) -> dict:
        return {k: v for k, v in table.items() if v is not None}

    return tomli_w.dumps({"study": {"kind": "run", "model": model}, "model": clean(resolved["model"]),
                          "train": clean(resolved["train"])})


def print_summary(result: ExperimentResult, console, label: str = "") -> None:
    """Mean ± std and the 95% interval per test metric, over finished folds x seeds.

    ``label`` names the run where the model does not (an ablation variant: every variant's
    summary would otherwise have the same title)."""
    from rich.table import Table

    title = f"{result.model} on {result.dataset} ({result.scheme}): test metrics over folds x seeds"
    if label:
        title = f"{label}: {title}"
    if result.synthetic:
        title = f"{SYNTHETIC_BANNER}\n{title}"
    table = Table(title=title)
    for column in ("metric", "mean ± std", "95% CI", "n"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, s in result.aggregates.items():
        spread = f" ± {s['std']:.4f}" if math.isfinite(s["std"]) else ""
        interval = f"[{s['ci95_low']:.4f}, {s['ci95_high']:.4f}]" if math.isfinite(s["ci95_low"]) else "—"
        table.add_row(metric, f"{s['mean']:.4f}{spread}", interval, str(s["n"]))
    console.print(table)
    if result.failed:
        console.print(f"[red]{len(result.failed)} of {len(result.fold_results)} fold runs failed:[/]")
        for r in result.failed:
            console.print(f"  {escape(r.error)}", highlight=False)
    if result.parent_run_id:
        console.print(f"MLflow parent run: {result.parent_run_id}", highlight=False)


class _Progress:
    """Rich progress for folds and epochs (or plain lines when progress is off)."""

    def __init__(self, enabled: bool, console, total_folds: int, epochs: int):
        self.enabled, self.console, self.total, self.epochs = enabled, console, total_folds, epochs
        self.progress = None
        self.labels: dict[int, str] = {}  # id(job) -> its run's name and ": " in a grid of several runs

    def label_jobs(self, labels: dict[int, str]) -> None:
        """Name the runs of the jobs about to be run (by ``id(job)``), for the epoch bar."""
        self.labels = labels

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=self.console, transient=False)
            self.progress.__enter__()
            self.folds = self.progress.add_task("folds x seeds", total=self.total)
            self.epoch_task = self.progress.add_task("epochs", total=self.epochs)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def on_epoch(self, job, epoch: int, metrics: dict) -> None:
        """An epoch of ``job`` ended (executors that run jobs in this process report them)."""
        if self.progress is not None:
            label = escape(self.labels.get(id(job), ""))
            if job is not getattr(self, "current", None):
                self.current = job
                self.progress.reset(self.epoch_task, total=self._epochs(job),
                                    description=f"{label}fold {job.fold.name} seed {job.seed}")
            self.progress.update(self.epoch_task, completed=epoch,
                                 description=f"{label}epoch {epoch}: val selection {metrics.get('selection', float('nan')):.4f}")

    def _epochs(self, job) -> int:
        """The job's own epoch budget (runs of one grid may differ); the run's where it has none."""
        return getattr(job.train_config, "epochs", None) or self.epochs

    def job_done(self, job, result, label: str = "") -> None:
        """One line per finished job, in finishing order (parallel executors finish out of order);
        ``label`` ("deiii: ") says whose job it is in a grid of several runs."""
        fold, seed, label = job.fold.name, job.seed, escape(label)
        if result.cached:
            if result.source.startswith("ledger"):
                self.say(f"{label}fold {fold} seed {seed}: reusing the ledger record {job.key} "
                         f"(trained on {result.source.split(' ', 1)[1]}; no training)")
            else:
                self.say(f"{label}fold {fold} seed {seed}: reusing the cached result {job.key} (no training)")
        if result.finished:
            head = f", head {result.inference_head}" if result.inference_head else ""
            shown = ", ".join(f"{k} {v:.3f}" for k, v in _ordered(result.test).items())
            self.say(f"{label}fold {fold} seed {seed}: epoch {result.best_epoch}{head}: test {shown}")
        else:
            self.say(f"{label}[red]{escape(result.error)}[/] (recorded as failed; the other folds go on)")
        if self.progress is not None:
            self.progress.advance(self.folds)
            self.progress.update(self.epoch_task, completed=self._epochs(job))
