"""``bench sweep``: tune a model with Optuna on validation speakers only.

    bench sweep --model deiii --trials 20                         # studies/sweep_deiii.toml
    bench sweep --model deiii --trials 20 --workers 2             # 2 local processes, journal file
    bench sweep --model deiii --trials 20 --nested                # one study per outer fold (leak-free)
    bench sweep --model saf --trials 6 --nested --inner-folds 1 \
        --set train.epochs=40 --set train.patience=10             # a comparison's budget, hold-out inner split
    bench sweep --study studies/sweep_deiii.toml --trials 50 \\
        --storage postgresql://bench@db-host/optuna --tracking-uri http://mlflow-host:5000
    bench sweep --check-storage postgresql://bench@db-host/optuna # toy study: is the setup sound?
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli import app
from bench.cli.common import console
from bench.errors import ConfigError
from bench.urls import redact_url

def default_study(model: str) -> Path:
    """The shipped ``sweep_<model>.toml``, found inside the package (any working directory)."""
    from bench.studies.loader import shipped_study

    return shipped_study("sweep", model)


@app.command("sweep")
def sweep_command(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model to tune (uses the shipped sweep_<model>.toml)."),
    study: Optional[Path] = typer.Option(None, "--study", help="Sweep study file (kind = \"sweep\")."),
    trials: int = typer.Option(20, "--trials", "-n", help="Finished (complete or pruned) trials to reach."),
    workers: int = typer.Option(1, "--workers", help="Local worker processes sharing the storage."),
    storage: Optional[str] = typer.Option(None, "--storage", help="journal:<file> (default) or postgresql://... for many machines."),
    pruning: bool = typer.Option(True, "--pruning/--no-pruning", help="Median pruner fed per-epoch validation scores."),
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (default: local SQLite)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    study_name: Optional[str] = typer.Option(None, "--study-name", help="Optuna study name (default: from the study file)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the best configuration (a study file)."),
    seed: int = typer.Option(0, "--seed", help="Sampler and inner-fold seed."),
    check_storage: Optional[str] = typer.Option(None, "--check-storage", help="Run a 10-trial toy study against this storage and exit."),
    option: Optional[list[str]] = typer.Option(None, "--option", help="Corpus adapter option, e.g. --option labels=/data/labels.csv or --option label_source=perceived"),
    nested: bool = typer.Option(False, "--nested", help="Tune every outer fold in its own study (--trials each) on its "
                                "own non-test speakers; writes one configuration per fold (leak-free)."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="Override key=value for every trial, over the study's "
                                                  "own (train keys as train.key); written into the configuration file."),
    start_from_defaults: bool = typer.Option(False, "--start-from-defaults", help="Trial 0 of every study is the "
                                             "model's own setting (recipe, presets, --set) where it lies in the space."),
    inner_folds: Optional[int] = typer.Option(None, "--inner-folds", help="Inner folds per trial, over the study's "
                                              "inner_folds; 1 = the outer fold's own validation speakers (one training a trial)."),
) -> None:
    """Optuna TPE sweep: objective = mean validation score over inner folds (never test)."""
    from bench.cli.manifest import parse_options
    from bench.config import parse_overrides
    from bench.sweep.driver import sweep

    if check_storage:
        toy = Path(__file__).with_name("toy_sweep.toml")
        result = sweep(toy, trials=10, workers=workers, storage=check_storage, objective="bench.sweep.driver:StorageCheckObjective",
                       extra={"sleep": 0.05, "track": False}, study_name=study_name, out=out, write_best=out is not None)
        # (never out=/dev/null: the atomic writer would rename a temporary file over the device)
        console.print(f"storage {redact_url(check_storage)}: {result.n_complete} complete, {result.n_pruned} pruned, "
                      f"{result.n_failed} failed in {result.seconds:.1f} s — OK", markup=False, soft_wrap=True)
        return
    if study is None:
        if model is None:
            raise ConfigError("give --model or --study")
        study = default_study(model)
    result = sweep(study, trials=trials, workers=workers, storage=storage, pruning=pruning, tracking_uri=tracking_uri,
                   device=device, study_name=study_name, out=out, sampler_seed=seed, options=parse_options(option),
                   nested=nested, overrides=parse_overrides(overrides), inner_folds=inner_folds,
                   start_from_defaults=start_from_defaults,
                   say=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
    if result.nested:
        _print_nested(result)
        return
    table = Table(title=escape(f"sweep {result.study_name} ({redact_url(result.storage)})"))
    for column in ("complete", "pruned", "failed", "best value", "trials/hour"):
        table.add_column(column, justify="right")
    best = "-" if result.best_value is None else f"{result.best_value:.4f}"
    table.add_row(str(result.n_complete), str(result.n_pruned), str(result.n_failed), best, f"{result.trials_per_hour:.1f}")
    console.print(table)
    if result.best_params:
        console.print("best parameters: " + ", ".join(f"{k}={v}" for k, v in result.best_params.items()))
    if result.best_config_path:
        # Plain text, never wrapped: the second line must paste into a shell as it is.
        console.print(f"best configuration written to {result.best_config_path}; reuse it with:", markup=False, highlight=False, soft_wrap=True)
        console.print(result.reuse_command, markup=False, highlight=False, soft_wrap=True)


def _print_nested(result) -> None:
    """One row per outer fold, then where the per-fold configurations went and how to run them."""
    table = Table(title=escape(f"nested sweep {result.study_name} ({redact_url(result.storage)})"))
    for column in ("outer fold", "complete", "pruned", "failed", "best value", "best parameters"):
        table.add_column(column, justify="left" if column in ("outer fold", "best parameters") else "right")
    for outer in result.outer:
        best = "-" if outer.best_value is None else f"{outer.best_value:.4f}"
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in outer.best_params.items()) or "-"
        name = outer.outer_fold + (" (finished before; skipped)" if outer.skipped else "")
        table.add_row(escape(name), str(outer.n_complete), str(outer.n_pruned), str(outer.n_failed), best, escape(params))
    console.print(table)
    missing = [o.outer_fold for o in result.outer if o.best_value is None]
    if missing:
        console.print(f"no trial completed for outer fold(s) {', '.join(missing)}: the configuration file has no table "
                      "for them, and bench run refuses those folds", markup=False, highlight=False, soft_wrap=True)
    if result.best_config_path:
        console.print(f"per-fold configurations written to {result.best_config_path}; run each fold with its own:",
                      markup=False, highlight=False, soft_wrap=True)
        console.print(result.reuse_command, markup=False, highlight=False, soft_wrap=True)
