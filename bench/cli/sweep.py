"""``bench sweep``: tune a model with Optuna on validation speakers only.

    bench sweep --model deiii --trials 20                         # studies/sweep_deiii.toml
    bench sweep --model deiii --trials 20 --workers 2             # 2 local processes, journal file
    bench sweep --study studies/sweep_deiii.toml --trials 50 \\
        --storage postgresql://bench@db-host/optuna --tracking-uri http://mlflow-host:5000
    bench sweep --check-storage postgresql://bench@db-host/optuna # toy study: is the setup sound?
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from bench.cli import app
from bench.cli.common import console
from bench.errors import ConfigError

STUDIES_DIR = Path("studies")


def default_study(model: str) -> Path:
    path = STUDIES_DIR / f"sweep_{model}.toml"
    if not path.exists():
        raise ConfigError(f"no sweep study for {model!r} at {path}; pass --study FILE")
    return path


@app.command("sweep")
def sweep_command(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model to tune (uses studies/sweep_<model>.toml)."),
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
) -> None:
    """Optuna TPE sweep: objective = mean validation score over inner folds (never test)."""
    from bench.sweep import sweep

    if check_storage:
        toy = Path(__file__).with_name("toy_sweep.toml")
        result = sweep(toy, trials=10, workers=workers, storage=check_storage, objective="bench.sweep:ToyObjective",
                       extra={"sleep": 0.05, "track": False}, study_name=study_name, out=out or Path("/dev/null"))
        console.print(f"storage {check_storage}: {result.n_complete} complete, {result.n_pruned} pruned, "
                      f"{result.n_failed} failed in {result.seconds:.1f} s — OK")
        return
    if study is None:
        if model is None:
            raise ConfigError("give --model or --study")
        study = default_study(model)
    result = sweep(study, trials=trials, workers=workers, storage=storage, pruning=pruning, tracking_uri=tracking_uri,
                   device=device, study_name=study_name, out=out, sampler_seed=seed)
    table = Table(title=f"sweep {result.study_name} ({result.storage})")
    for column in ("complete", "pruned", "failed", "best value", "trials/hour"):
        table.add_column(column, justify="right")
    best = "-" if result.best_value is None else f"{result.best_value:.4f}"
    table.add_row(str(result.n_complete), str(result.n_pruned), str(result.n_failed), best, f"{result.trials_per_hour:.1f}")
    console.print(table)
    if result.best_params:
        console.print("best parameters: " + ", ".join(f"{k}={v}" for k, v in result.best_params.items()))
    if result.best_config_path:
        console.print(f"best configuration written to {result.best_config_path}; reuse it with "
                      f"[bold]bench run --model {model or ''} --config {result.best_config_path}[/]")
