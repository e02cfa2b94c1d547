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
    jobs_in_parallel: int = 1,
    executor=None,
) -> ExperimentResult:
    """Train and score ``model`` on every fold (the first ``folds``) x seed; see the module doc.

    ``store`` (a FeatureStore) and ``split`` (a SplitScheme) may be given directly instead of
    ``dataset``/``root``/``scheme`` (sweeps and tests do). ``options`` are the corpus adapter's
    options (``{"labels": "/data/msp_labels.csv"}``; see :func:`open_dataset`). ``workers`` sets the processes for
    preparing features and the DataLoader workers. ``track=False`` skips MLflow;
    ``system_metrics=False`` keeps MLflow but not the CPU / memory samples of each fold run;
    ``log_model=True`` logs each fold's selected weights as an MLflow PyTorch model.
    ``jobs_in_parallel`` > 1 trains that many folds x seeds at once in worker processes;
    ``executor`` (see :mod:`bench.study.executors`) picks any other executor, e.g. Ray.
    """
    from bench.models.registry import get_model_entry
    from bench.eval.stats import aggregate
    from bench.train.loop import fill_data_fields, resolve_device

    if console is None:
        from bench.console import default_console

        console = default_console()
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
                                                 workers=workers or 1, progress=progress, say=console.print)
    else:
        synthetic = dataset == "synthetic"
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
        tracker.log_params(parent_id, {**resolved, "data": {"dataset": dataset, "store_key": store.key, **protocol,
                                                            "split_scheme": split.name, "split_checksum": split.checksum,
                                                            "options": dict(options or {})}})
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

    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    if fold_configs:
        console.print(f"[yellow]note:[/] {escape(str(config))}: tuned per outer fold (bench sweep --nested); each fold "
                      f"runs its own configuration", highlight=False)
    if tuning is not None and tuning.message:
        console.print(f"[yellow]warning:[/] {escape(tuning.message)}", highlight=False, soft_wrap=True)
    console.print(
        f"[bold]{model}[/] on [bold]{dataset}[/] ({len(store.clip_ids)} clips, store {store.key}), "
        f"scheme {split.name} ({len(fold_list)} folds x {len(seeds)} seeds), device {device_obj}",
        highlight=False,
    )

    from bench.study import Job, TrackingTarget, run_jobs

    entry = get_model_entry(model)
    target = (TrackingTarget(tracker.uri, tracker.experiment_id, parent_id, system_metrics, log_model)
              if tracker is not None else None)
    jobs = []
    for fold in fold_list:
        ids = assigned[fold.name]
        fold_model, fold_train, _ = fold_configs.get(fold.name, (model_config, train_config, None))
        for seed in seeds:
            jobs.append(Job(model, entry.model_class, entry.config_class, fold_model, fold_train, str(store.root),
                            store.key, dataset, split.name, split.checksum, fold, ids, seed, str(device_obj),
                            fold_key(model, fold_model, fold_train, store.key, split.checksum, fold.name, seed),
                            target, protocol=protocol["protocol"],
                            tags=tuning.fold_tags(fold.name) if tuning is not None else {}))
    if executor is None:
        from bench.study.executors import make_executor

        executor = make_executor("serial", jobs_in_parallel)

    results: list[FoldResult] = []
    parent_status = "FAILED"
    try:
        with terminate_as_interrupt(), _Progress(progress, console, len(jobs), train_config.epochs) as bar:
            def done(index: int, job, fold_result: FoldResult) -> None:
                bar.job_done(job, fold_result)
                results.append(fold_result)

            results = run_jobs(jobs, executor, on_done=done, on_epoch=bar.on_epoch)
        parent_status = "FINISHED" if any(r.finished for r in results) else "FAILED"
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: what finished is cached; the runs say KILLED
        parent_status = "KILLED"
        if tracker is not None:  # runs of workers the executor stopped
            from bench.tracking.runs import reap_dead_runs

            reap_dead_runs(tracker.client, [tracker.experiment_id])
        raise
    finally:
        aggregates = _ordered(aggregate(r.test for r in results if r.finished))
        if tracker is not None and parent_id is not None:
            finished = sum(r.finished for r in results)
            tracker.log_aggregates(parent_id, aggregates, finished, len(results) - finished)
            if results:
                tracker.log_text(parent_id, _tidy_frame(model, dataset, results).to_csv(index=False), "results.csv")
            tracker.end_run(parent_id, parent_status)

    result = ExperimentResult(model, dataset, results, aggregates, parent_id, resolved, split.name, split.checksum,
                              store.key, synthetic, protocol["protocol"], protocol["protocol_checksum"],
                              tuning_leak=tuning.message if tuning is not None else "",
                              fold_configs={name: {"model": to_dict(m), "train": to_dict(t), "layers": dict(fold_layers)}
                                            for name, (m, t, fold_layers) in fold_configs.items()} or None,
                              layers=dict(layers), config=str(config) if config is not None else "")
    print_summary(result, console)
    return result


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


def print_summary(result: ExperimentResult, console) -> None:
    """Mean ± std and the 95% interval per test metric, over finished folds x seeds."""
    from rich.table import Table

    title = f"{result.model} on {result.dataset} ({result.scheme}): test metrics over folds x seeds"
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
            if job is not getattr(self, "current", None):
                self.current = job
                self.progress.reset(self.epoch_task, total=self.epochs, description=f"fold {job.fold.name} seed {job.seed}")
            self.progress.update(self.epoch_task, completed=epoch,
                                 description=f"epoch {epoch}: val selection {metrics.get('selection', float('nan')):.4f}")

    def job_done(self, job, result) -> None:
        """One line per finished job, in finishing order (parallel executors finish out of order)."""
        fold, seed = job.fold.name, job.seed
        if result.cached:
            self.say(f"fold {fold} seed {seed}: reusing the cached result {job.key} (no training)")
        if result.finished:
            head = f", head {result.inference_head}" if result.inference_head else ""
            shown = ", ".join(f"{k} {v:.3f}" for k, v in _ordered(result.test).items())
            self.say(f"fold {fold} seed {seed}: epoch {result.best_epoch}{head}: test {shown}")
        else:
            self.say(f"[red]{escape(result.error)}[/] (recorded as failed; the other folds go on)")
        if self.progress is not None:
            self.progress.advance(self.folds)
            self.progress.update(self.epoch_task, completed=self.epochs)
