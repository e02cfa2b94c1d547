"""``bench compare`` and ``bench ablate``: tables and figures for a paper, written to reports/.

    bench compare --models deiii auxformer saf rja                 # synthetic corpus
    bench compare --study studies/compare_synthetic.toml
    bench compare --study studies/compare_synthetic.toml --tune    # + a nested-tuned row per model, same budget
    bench ablate --model deiii --study studies/ablation_deiii.toml
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from bench.cli import app
from bench.cli.common import console
from bench.cli.manifest import parse_options
from bench.cli.run import (CPUS_PER_JOB, DEVICE, EXECUTOR, FOLDS, GPUS_PER_JOB, JOBS, OPTIONS, PROGRESS, RAY_ADDRESS, ROOT,
                           SCHEME, SEEDS, TEST, TRACKING_URI, executor_from_options, parse_seeds)
from bench.errors import ConfigError


STATUS = typer.Option(False, "--status", help="Train and write nothing: list the study's jobs done (from the "
                      "ledger or the local cache), missing and stale, with an estimate of the time left.")
VERIFY_STALE = typer.Option(0, "--verify-stale", metavar="N", help="With --status: retrain N jobs of each configuration "
                            "whose records are stale; where they reproduce their records bit for bit, move the "
                            "configuration's other stale records (this platform's) to the current code.")


def _names(values: list[str] | None, extra: list[str]) -> list[str]:
    names = []
    for text in [*(values or []), *extra]:
        names += [n for n in text.replace(",", " ").split() if n]
    return names


def _split_extra(extra: list[str]) -> tuple[list[str], list[str]]:
    """Trailing bare words -> (model names, seeds): ``--models a b --seeds 1 2`` leaves ``b``,
    ``2`` and the like to the command, and a whole number is a seed (no model is named one)."""
    seeds = [token for token in extra if token.strip().isdigit()]
    return [token for token in extra if token not in seeds], seeds


def _seeds(values: list[str] | None, extra: list[str]) -> list[int] | None:
    return parse_seeds(values, extra) if values or extra else None


@app.command("compare", context_settings={"allow_extra_args": True})
def compare_command(
    ctx: typer.Context,
    models: Optional[List[str]] = typer.Option(None, "--models", help="Models: --models deiii auxformer saf rja (or comma-separated)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset (default: synthetic)."),
    root: Optional[Path] = ROOT,
    option: Optional[List[str]] = OPTIONS,
    folds: Optional[int] = FOLDS,
    scheme: Optional[str] = SCHEME,
    seeds: Optional[List[str]] = SEEDS,
    study: Optional[Path] = typer.Option(None, "--study", help="Comparison study (models, overrides, reported rows)."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", help="Override key=value for every model (train keys as train.key)."),
    tracking_uri: Optional[str] = TRACKING_URI,
    device: str = DEVICE,
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default reports/compare-<dataset>)."),
    test: str = TEST,
    progress: bool = PROGRESS,
    jobs: str = JOBS,
    executor: str = EXECUTOR,
    ray_address: Optional[str] = RAY_ADDRESS,
    cpus_per_job: float = CPUS_PER_JOB,
    gpus_per_job: float = GPUS_PER_JOB,
    tune: bool = typer.Option(False, "--tune", help="Nested-tune every model alike first ([tune] budget of the study) "
                              "and add its <model>-tuned row beside the default one."),
    tune_trials: Optional[int] = typer.Option(None, "--tune-trials", help="Trials per outer fold for every model "
                                              "(implies --tune; over the study's [tune] trials)."),
    status: bool = STATUS,
    verify_stale: int = VERIFY_STALE,
) -> None:
    """Run what is missing for each model on the shared folds; write the comparison report."""
    from bench.report.compare import compare

    extra, extra_seeds = _split_extra(list(ctx.args))
    names = _names(models, extra)
    if not names and study is None:
        raise ConfigError("give --models or --study")
    from bench.config import parse_overrides

    result = compare(names, dataset, root=root, options=parse_options(option), folds=folds, scheme=scheme,
                     seeds=_seeds(seeds, extra_seeds), study=study, common=parse_overrides(overrides),
                     tracking_uri=tracking_uri, device=device, out_dir=out, test=test, progress=progress, console=console,
                     tune=tune, tune_trials=tune_trials, status_only=status or bool(verify_stale), verify_stale=verify_stale,
                     executor=executor_from_options(executor, jobs, ray_address, cpus_per_job, gpus_per_job, overrides))
    if status or verify_stale:
        from bench.cli.ledger import print_grid_status

        print_grid_status(result.status, console, result.untuned)


@app.command("ablate", context_settings={"allow_extra_args": True})
def ablate_command(
    ctx: typer.Context,
    model: str = typer.Option("deiii", "--model", "-m", help="Model to ablate."),
    study: Optional[Path] = typer.Option(None, "--study", help="Ablation study (default studies/ablation_<model>.toml)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset (default: the study's, else synthetic)."),
    root: Optional[Path] = ROOT,
    option: Optional[List[str]] = OPTIONS,
    folds: Optional[int] = FOLDS,
    scheme: Optional[str] = SCHEME,
    seeds: Optional[List[str]] = SEEDS,
    variant: Optional[List[str]] = typer.Option(None, "--variant", help="Run only these variants (repeatable)."),
    tracking_uri: Optional[str] = TRACKING_URI,
    device: str = DEVICE,
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default reports/ablation-<model>-<dataset>)."),
    test: str = TEST,
    progress: bool = PROGRESS,
    jobs: str = JOBS,
    executor: str = EXECUTOR,
    ray_address: Optional[str] = RAY_ADDRESS,
    cpus_per_job: float = CPUS_PER_JOB,
    gpus_per_job: float = GPUS_PER_JOB,
    status: bool = STATUS,
    verify_stale: int = VERIFY_STALE,
) -> None:
    """Train each ablation variant on the same folds; write the ablation table and figures."""
    from bench.report.ablation import ablate

    extra, extra_seeds = _split_extra(list(ctx.args))
    if extra:
        raise ConfigError(f"unexpected argument(s) {' '.join(extra)}: ablate takes one --model")
    result = ablate(model, study, dataset, root=root, options=parse_options(option), folds=folds, scheme=scheme,
                    seeds=_seeds(seeds, extra_seeds), variants=variant, tracking_uri=tracking_uri, device=device, out_dir=out,
                    test=test, progress=progress, console=console, status_only=status or bool(verify_stale),
                    verify_stale=verify_stale,
                    executor=executor_from_options(executor, jobs, ray_address, cpus_per_job, gpus_per_job))
    if status or verify_stale:
        from bench.cli.ledger import print_grid_status

        print_grid_status(result.status, console)
