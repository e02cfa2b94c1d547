"""``bench compare``: several models on the same folds, one table and its figures.

    from bench.report.compare import compare
    out = compare(["deiii", "auxformer", "saf", "rja"], "synthetic", folds=5)
    out.paths["table"]["tex"]

Every model runs on the *same* feature store and the *same* split scheme, all of them as one
grid of jobs on the executor (:func:`bench.experiment.run_many`), so finished folds are reused,
only what is missing trains, and parallel workers stay busy across the models. The table
(LaTeX/Markdown/CSV, and a PDF when pdflatex exists) gives mean ± std per metric, the best in
bold, a paired test over (fold, seed) against the best model (named in the caption), the
parameter count and the inference time per clip. Numbers reported in papers come from the
study file's ``[[reported]]`` rows and sit in a block of their own, never compared.
Figures: confusion matrices, per-fold scores, learning curves, DE-III's IFE attention maps
and the robustness bars; each is also logged to the model's MLflow parent run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from rich.markup import escape

from bench.errors import ConfigError
from bench.report.provenance import command_line, provenance
from bench.study.tuning import TUNED_SUFFIX  # a model's nested-tuned row: "<model>-tuned" (a file-name-safe row name)
from bench.train.config import default_metric
from bench.io import ensure_writable
from bench.paths import reports_dir, safe_name


@dataclass
class ComparisonResult:
    results: dict[str, Any]  # model -> ExperimentResult
    out_dir: Path
    paths: dict[str, Any] = field(default_factory=dict)  # "table", "robustness", figures -> {format: path}
    tidy: pd.DataFrame = field(default_factory=pd.DataFrame)
    status: Any = None  # bench.study.status.GridStatus of a status_only call (nothing trained)
    # status_only with a budget: models whose tuning has not finished here -> their trial records in the ledger
    untuned: dict[str, int] = field(default_factory=dict)


def extras_frame(result) -> pd.DataFrame:
    """Rows of metric "parameters" and "inference_ms_per_clip" so tables pick them up."""
    rows = []
    for r in result.finished:
        rows.append({"model": result.model, "dataset": result.dataset, "fold": r.fold, "seed": r.seed, "metric": "parameters", "value": r.parameters})
        rows.append({"model": result.model, "dataset": result.dataset, "fold": r.fold, "seed": r.seed, "metric": "inference_ms_per_clip", "value": r.inference_ms_per_clip})
    return pd.DataFrame(rows)


def robustness_frame(result, metric: str, row_key: str = "model", row: str | None = None) -> pd.DataFrame:
    """Tidy rows ``<metric>@<condition>`` from each fold's robustness scores."""
    rows = []
    for r in result.finished:
        for condition, scores in (getattr(r, "robustness", None) or {}).items():
            if metric in scores:
                rows.append({row_key: row or result.model, "dataset": result.dataset, "fold": r.fold, "seed": r.seed,
                             "metric": f"{metric}@{condition}", "value": scores[metric],
                             "n_train": getattr(r, "n_train", 0), "n_test": getattr(r, "n_test", 0)})
    return pd.DataFrame(rows)


@dataclass
class TuneBudget:
    """The nested-tuning budget every model of a comparison gets alike (``[tune]``, ``--tune``).

    Each model's search space is its shipped sweep study (``studies/sweep_<model>.toml``); every
    outer fold is tuned in its own Optuna study (``trials`` finished trials, TPE, median pruning)
    on inner folds drawn only from that fold's non-test speakers (``inner_folds = 1``: the
    fold's own validation speakers), with the comparison's training budget; the tuned row then
    trains each fold with its own configuration at the comparison's seeds. Equal by
    construction: same trials, same inner split, same epochs and early stopping for every model.
    """

    trials: int
    inner_folds: int = 1
    seed: int = 0
    pruning: bool = True
    from_defaults: bool = True  # trial 0 is the model's own setting: the defaults are always among the candidates

    @classmethod
    def of(cls, table: dict[str, Any] | None, trials: int | None = None) -> "TuneBudget | None":
        """The study's ``[tune]`` with ``trials`` (``--tune-trials``) over it; None when neither gives trials."""
        table = {**(table or {}), **({"trials": trials} if trials else {})}
        return cls(**table) if table.get("trials") else None

    def describe(self) -> str:
        inner = ("each outer fold's own validation speakers" if self.inner_folds == 1
                 else f"{self.inner_folds} inner folds of each outer fold's non-test speakers")
        start = ", the first at the model's defaults" if self.from_defaults else ""
        return (f"nested per outer fold: {self.trials} trials{start} (TPE{', median pruning' if self.pruning else ''}, "
                f"seed {self.seed}) on {inner}; space: studies/sweep_<model>.toml")


def tuned_config_path(name: str, model: str) -> Path:
    """Where a comparison's nested tuning writes ``model``'s per-fold configuration."""
    from bench.paths import bench_home

    return bench_home() / "studies" / f"{name}-{model}-nested.toml"


def tune_models(models: Sequence[str], budget: TuneBudget, overrides_of, *, store, dataset: str, scheme: str,
                folds: int | None, name: str, tracking_uri: str | None, device: str, workers: int, say) -> dict[str, Path]:
    """Nested-tune every model with the same ``budget``; ``{model: its per-fold configuration file}``.

    ``overrides_of(model)`` is the model's comparison settings (the shared ``[train]`` budget,
    its own overrides, ``--set``): laid under every trial and written into the file, so the
    tuned row trains as its trials did. The Optuna studies live in the default storage and are
    named from the budget, so a re-run resumes them and trains only what is missing.
    """
    from bench.studies.loader import shipped_study
    from bench.sweep.driver import sweep

    paths: dict[str, Path] = {}
    for model in models:
        say(f"tuning {model}: {budget.describe().replace('<model>', model)}")
        result = sweep(shipped_study("sweep", model), trials=budget.trials, workers=workers, pruning=budget.pruning,
                       tracking_uri=tracking_uri, device=device, sampler_seed=budget.seed, nested=True,
                       out=tuned_config_path(name, model), overrides=overrides_of(model),
                       inner_folds=budget.inner_folds, start_from_defaults=budget.from_defaults,
                       # metric "auto": trials are scored on the validation metric the rows early-stop on
                       extra={"store": str(store.root),
                              "study": {"dataset": dataset, "scheme": scheme, "folds": folds, "metric": "auto"}},
                       say=say)
        missing = [o.outer_fold for o in result.outer if o.best_value is None]
        if missing or result.best_config_path is None:
            raise ConfigError(f"tuning {model}: no trial completed for outer fold(s) {', '.join(missing) or 'any'}; "
                              "its tuned row cannot be trained (see the sweep's MLflow runs for the failures)")
        paths[model] = result.best_config_path
    return paths


def _device_kind(device: str) -> str:
    """The sweep's device for the rows' ``--device``: "auto" resolved as the trainer does
    (CUDA when torch sees a GPU), so trials and rows train on the same kind of device."""
    from bench.train.loop import resolve_device

    return resolve_device(device).type


def _sweep_workers(executor) -> int:
    """Local sweep processes for ``--tune``, from the grid's executor: ``--jobs N`` gives N,
    ``--jobs auto`` one per idle core; a Ray or serial grid tunes in one process."""
    jobs = getattr(executor, "jobs", None) or getattr(executor, "limit", None)
    if jobs:
        return max(1, int(jobs))
    if getattr(executor, "name", "") == "auto":
        from bench.cores import idle_cores

        return idle_cores()
    return 1


def _reported_rows(study, dataset: str) -> list:
    """The study's ``[[reported]]`` rows, then the ledger's rows for ``dataset`` (studies/
    literature.toml) for models the study does not already quote."""
    from bench.protocols import reported_rows

    rows = list(getattr(study, "reported", []) or [])
    quoted = {r.model for r in rows}
    return rows + [r for r in reported_rows(dataset) if r.model not in quoted]


def _log_to_mlflow(result, paths: dict[str, Path], tracking_uri: str | None) -> None:
    if not result.parent_run_id:
        return
    from mlflow.tracking import MlflowClient

    from bench.paths import default_tracking_uri

    client = MlflowClient(tracking_uri or default_tracking_uri())
    for path in paths.values():
        client.log_artifact(result.parent_run_id, str(path), "figures")


def attention_figure(result, store, out_dir: Path, stem: str, clips: int = 3):
    """The model's declared cross-modal attention maps (``AVModel.report_attention``) on a few
    test clips of its first fold with saved weights; None when there is nothing to draw."""
    import torch

    from bench.data.dataset import ClipDataset, store_key_for, to_device
    from bench.paths import results_dir
    from bench.report.plots import plot_attention
    from bench.models.registry import create_model
    from bench.train.loop import fill_data_fields, store_targets

    for fold_result in result.finished:
        weights = results_dir() / fold_result.cache_key / "model.pt"
        if not fold_result.cache_key or not weights.exists():
            continue
        # a nested-tuned row's folds each have their own model settings (e.g. another fusion)
        settings = ((result.fold_configs or {}).get(fold_result.fold) or {}).get("model") or result.resolved_config["model"]
        config = fill_data_fields(create_model(result.model, settings).config, store)
        model = create_model(result.model, config)
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        model.eval()
        ids = list(dict.fromkeys(fold_result.predictions["clip_id"]))[:clips]  # frame task: one row per step
        arrays = {m: store_key_for(m, config) for m in model.required_inputs()}
        if config.task == "frame":  # long clips: the first window of each
            from bench.data.windows import FrameWindowDataset

            train = result.resolved_config.get("train", {})
            dataset = FrameWindowDataset(store, ids, arrays, window_steps=train.get("window_steps", 16),
                                         window_hop=train.get("window_hop", 8))
            positions = [i for i, start in enumerate(dataset.starts) if start == 0]
        else:
            dataset = ClipDataset(store, ids, arrays, task=config.task, targets=store_targets(store))
            positions = list(range(len(ids)))
        batch = to_device(dataset[positions], torch.device("cpu"))
        with torch.no_grad():
            output = model(batch)
        audio_key, video_key, _ = model.report_attention
        a2v, v2a = output.attention.get(audio_key), output.attention.get(video_key)
        if a2v is None or v2a is None:
            return None
        return plot_attention(a2v.numpy(), v2a.numpy(), out_dir, stem, clip_names=ids,
                              title=f"{result.model} attention ({audio_key}, {video_key}), fold {fold_result.fold} (test clips)")
    return None


def write_figures(results: dict[str, Any], tidy: pd.DataFrame, store, out_dir: Path, metric: str, tracking_uri: str | None, bundle) -> dict:
    """Confusion matrices, per-fold scores, learning curves and attention maps."""
    from bench.report.plots import plot_confusion, plot_fold_scores, plot_learning_curves
    from bench.models.registry import get_model_entry

    figures = {}
    scores = plot_fold_scores(tidy[tidy["metric"] == metric], metric, out_dir, f"fold-scores-{metric}", kind="point")
    figures["fold_scores"] = bundle.figure(scores, f"Test {metric} per fold and seed, per model")
    for model, result in results.items():
        finished = result.finished
        if not finished:
            continue
        own = {}
        if finished[0].confusion:
            stack = np.array([r.confusion for r in finished])
            own["confusion"] = plot_confusion(stack, finished[0].labels, out_dir, f"confusion-{model}")
            bundle.figure(own["confusion"], f"{model}: test confusion matrix summed over folds x seeds")
        histories = {f"{r.fold}/seed{r.seed}": r.history for r in finished}
        best = {f"{r.fold}/seed{r.seed}": r.best_epoch for r in finished}
        own["curves"] = plot_learning_curves(histories, out_dir, f"curves-{model}", val_metric=f"val_{metric}", best_epochs=best)
        bundle.figure(own["curves"], f"{model}: training loss and validation {metric} per epoch (selected epoch marked)")
        declared = get_model_entry(result.model).model_class.report_attention
        if declared:
            maps = attention_figure(result, store, out_dir, f"attention-{model}")
            if maps:
                own["attention"] = maps
                bundle.figure(maps, declared[2])
        for name, paths in own.items():
            _log_to_mlflow(result, paths, tracking_uri)
            figures[f"{name}-{model}"] = paths
    return figures


def compare(
    models: Sequence[str] = (),
    dataset: str | None = None,
    *,
    root: str | Path | None = None,
    folds: int | None = None,
    scheme: str | None = None,
    seeds: Sequence[int] | None = None,
    study: str | Path | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    common: dict[str, Any] | None = None,
    tracking_uri: str | None = None,
    device: str = "auto",
    out_dir: str | Path | None = None,
    test: str = "corrected_ttest",
    progress: bool = True,
    console=None,
    executor=None,
    command: str | None = None,
    options: dict[str, Any] | None = None,
    tune: bool = False,
    tune_trials: int | None = None,
    status_only: bool = False,
    verify_stale: int = 0,
) -> ComparisonResult:
    """Run every model that is missing on the shared folds, then write the comparison report.

    ``overrides`` maps a model to its own overrides; ``common`` applies to every model (e.g. a
    shared training budget, ``{"train.epochs": 10}``), after the study's per-model overrides.
    ``options`` are corpus adapter options, over the study's ``[study.options]``.
    ``tune`` (or ``tune_trials``, over the study's ``[tune] trials``) nested-tunes every model
    with the same :class:`TuneBudget` first and adds its ``<model>-tuned`` row beside the
    default one, on the same folds and seeds. ``status_only`` trains and writes nothing (but
    ``verify_stale`` jobs of each stale configuration, :func:`bench.experiment.plan_status`): the
    result's ``status`` says which jobs are done, missing or stale (:mod:`bench.study.status`).
    """
    from bench.data.open import open_dataset
    from bench.experiment import RunSpec, run_many
    from bench.report.bundle import ReportBundle, pdflatex_available
    from bench.splits import get_scheme
    from bench.studies.loader import load_study
    from bench.report.tables import comparison_table

    from bench.eval.significance import check_test

    check_test(test)  # before any training: a typo in --test must not cost the benchmark
    if console is None:
        from bench.console import default_console

        console = default_console()
    spec = load_study(study) if study else None
    if spec is not None:
        models = list(models) or list(spec.models)
        dataset = dataset or spec.dataset
        root = root or spec.root
        scheme = scheme or spec.scheme
        folds = folds or spec.folds
        seeds = seeds or spec.seeds
    if not models:
        raise ConfigError("compare needs at least one model (--models or a comparison study)")
    budget = TuneBudget.of(spec.tune if spec is not None else None, tune_trials) if (tune or tune_trials) else None
    if (tune or tune_trials) and budget is None:
        raise ConfigError("--tune needs a budget: [tune] trials = N in the comparison study, or --tune-trials N")
    if budget is not None:
        from bench.studies.loader import shipped_study

        for model in dict.fromkeys(models):
            shipped_study("sweep", model)  # a model without a search space fails before anything trains
    seeds = list(seeds or [0])
    out_dir = Path(out_dir) if out_dir else reports_dir() / f"compare-{safe_name(dataset or 'synthetic', '--dataset')}"
    ensure_writable(out_dir, "report", "pass --out or set BENCH_REPORTS")

    options = {**(spec.options if spec is not None and dataset == spec.dataset else {}), **(options or {})}
    store, dataset, synthetic = open_dataset(dataset, root, options=options, progress=progress, say=console.print)
    split = get_scheme(dataset, scheme, manifest=store.manifest)

    def overrides_of(model: str) -> dict[str, Any]:
        return {**(spec.model_overrides(model) if spec else {}), **(common or {}), **(overrides or {}).get(model, {})}

    tuned: dict[str, Path] = {}
    if budget is not None and status_only:  # the tuned rows whose tuning has finished
        tuned = {m: p for m in dict.fromkeys(models) if (p := tuned_config_path(f"compare-{safe_name(dataset, '--dataset')}", m)).is_file()}
    elif budget is not None:  # every model tuned alike, before any row trains
        tuned = tune_models(list(dict.fromkeys(models)), budget, overrides_of, store=store, dataset=dataset,
                            scheme=split.name, folds=folds, name=f"compare-{safe_name(dataset, '--dataset')}",
                            tracking_uri=tracking_uri, device=_device_kind(device),
                            workers=_sweep_workers(executor),
                            say=lambda line: console.print(escape(line), highlight=False))
    runs = []
    for model in dict.fromkeys(models):  # a model named twice runs once
        common_kwargs = dict(folds=folds, seeds=seeds, tracking_uri=tracking_uri, device=device, store=store, split=split)
        runs.append(RunSpec(model, model, dataset, dict(overrides=overrides_of(model), **common_kwargs)))
        if model in tuned:  # its file already holds the comparison's settings, under each fold's tuned values
            runs.append(RunSpec(f"{model}{TUNED_SUFFIX}", model, dataset, dict(config=tuned[model], **common_kwargs),
                                intro=f"{model}, nested-tuned: {budget.describe().replace('<model>', model)}"))
    if status_only:
        from bench.experiment import plan_status

        from bench.ledger import default_ledger

        ledger = default_ledger()
        trials = [r for r in ledger.records()[0] if r.job.get("tuning") == "trial"] if ledger is not None else []
        untuned = {m: sum(r.model == m for r in trials) for m in dict.fromkeys(models) if budget is not None and m not in tuned}
        status = plan_status(runs, console=console, verify_stale=verify_stale)
        return ComparisonResult({}, out_dir, status=status, untuned=untuned)
    results = run_many(runs, executor=executor, progress=progress, console=console)  # one grid, every model's jobs
    rows = list(results)  # row names: the models, each tuned row after its model

    task = next(iter(results.values())).resolved_config["model"]["task"]
    metric = default_metric(task)
    tidy = pd.concat([r.tidy().assign(model=name) for name, r in results.items()]
                     + [extras_frame(r).assign(model=name) for name, r in results.items() if r.finished], ignore_index=True)
    title = f"Comparison on {dataset}" + (" (SYNTHETIC corpus)" if synthetic else "")
    tuning = {"tuned rows": f"<model>{TUNED_SUFFIX}, " + budget.describe()} if budget is not None else {}
    bundle = ReportBundle(out_dir, title, command or command_line(), provenance(dataset, store, split, results, **tuning))
    paths: dict[str, Any] = {}
    from bench.protocols import protocol_for

    protocol = protocol_for(dataset, split, options)  # named in the caption; same-protocol reported rows join ours
    table = comparison_table(tidy, dataset=dataset, models=rows, reported=_reported_rows(spec, dataset), test=test,
                             synthetic=synthetic, label=f"tab:compare-{dataset}",
                             protocol=protocol.id, protocol_checksum=protocol.checksum)
    paths["table"] = bundle.table(table, "comparison", compile_pdf=pdflatex_available())
    from bench.report.training import write_training_report

    paths["training"] = write_training_report(  # how each row was configured and tuned; undertrained rows warned
        results, bundle, lambda line: console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False),
        label=f"tab:training-{dataset}")

    robust = pd.concat([robustness_frame(r, metric, row=name) for name, r in results.items()], ignore_index=True)
    if not robust.empty:
        rtable = comparison_table(robust, dataset=dataset, models=rows, test=test, synthetic=synthetic,
                                  caption=f"Robustness on {dataset}: test {metric} with one modality missing (zeroed) or corrupted by noise",
                                  label=f"tab:robustness-{dataset}")
        paths["robustness"] = bundle.table(rtable, "robustness", compile_pdf=pdflatex_available())
        from bench.report.plots import plot_robustness

        bars = robust.assign(condition=robust["metric"].str.split("@").str[1]).drop(columns="metric")
        figure = plot_robustness(bars, out_dir, "robustness", title=f"Test {metric} by condition")
        paths["robustness_figure"] = bundle.figure(figure, f"Test {metric} with a modality missing or noisy, per model")
    paths.update(write_figures(results, tidy, store, out_dir, metric, tracking_uri, bundle))
    bundle.write_index()
    console.print(f"report written to [bold]{escape(str(out_dir))}[/] (index.md lists every file)", highlight=False)
    return ComparisonResult(results, out_dir, paths, tidy)
