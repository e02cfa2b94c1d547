"""``bench run``: train and score one model on the folds x seeds of a split scheme.

    bench run --model deiii                                   # built-in synthetic corpus
    bench run --model deiii --dataset cremad --root /data/CREMA-D --folds 2 --seeds 0 1 2
    bench run --model saf --set fusion=it --set train.lr=1e-3 --config studies/best.toml

Seeds may be written ``--seeds 0 1 2``, ``--seeds 0,1,2`` or ``--seeds 0 --seeds 1``.
Everything here is a thin wrapper over :func:`bench.experiment.run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from bench.cli import app
from bench.cli.common import console
from bench.cli.manifest import OPTION_HELP, parse_options
from bench.errors import ConfigError


def parse_seeds(values: list[str] | None, extra: list[str] | None = None) -> list[int]:
    """``["0,1", "2"]`` plus trailing bare integers (``--seeds 0 1 2``) -> ``[0, 1, 2]``."""
    seeds: list[int] = []
    for text in [*(values or []), *(extra or [])]:
        for part in str(text).replace(",", " ").split():
            try:
                seeds.append(int(part))
            except ValueError:
                raise ConfigError(f"--seeds: {part!r} is not an integer") from None
    return seeds or [0]


# Options shared by run, compare and ablate: one definition, one help text.
ROOT = typer.Option(None, "--root", help="Folder holding the corpus (or the manifest CSV).")
OPTIONS = typer.Option(None, "--option", help=OPTION_HELP)
FOLDS = typer.Option(None, "--folds", help="Use the first K folds of the scheme.")
SCHEME = typer.Option(None, "--scheme", help="Split scheme (default: the dataset's).")
SEEDS = typer.Option(None, "--seeds", help="Seeds: --seeds 0 1 2, --seeds 0,1,2 or repeated.")
TRACKING_URI = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (default: local SQLite).")
DEVICE = typer.Option("auto", "--device", help="auto, cpu or cuda.")
TEST = typer.Option("corrected_ttest", "--test", help="Paired test over (fold, seed): corrected_ttest (Nadeau & Bengio; default), ttest or wilcoxon.")
PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show progress bars.")

# Where the folds x seeds run (bench.study.executors); shared by run, compare and ablate.
JOBS = typer.Option("auto", "--jobs", "-j", envvar="BENCH_JOBS",
                    help="Folds x seeds trained at once in worker processes on this machine: a number, or auto "
                         "(default: one per idle core, a few more when that leaves no core idle at the end, serial when one "
                         "job or one core is left). Numbers do not "
                         "depend on it: each job trains with train.threads torch threads (1) wherever it runs.")
EXECUTOR = typer.Option("serial", "--executor", help="serial (with --jobs: auto or N processes), processes or ray.")
RAY_ADDRESS = typer.Option(None, "--ray-address", help="Ray cluster address (default: RAY_ADDRESS, else a local one).")
CPUS_PER_JOB = typer.Option(1.0, "--cpus-per-job", help="CPUs a Ray job reserves.")
GPUS_PER_JOB = typer.Option(0.0, "--gpus-per-job", help="GPUs a Ray job reserves (fractions share a GPU).")


def executor_from_options(kind: str, jobs: str | int, ray_address: str | None, cpus_per_job: float, gpus_per_job: float,
                          overrides: list[str] | None = None):
    """The executor the flags ask for (``bench.study.executors``).

    ``--cpus-per-job N`` reserves N CPUs per Ray task, but a job trains with ``train.threads``
    torch threads (1 unless set; part of the result's key, so numbers never depend on where a
    job ran): the note says so instead of leaving N - 1 reserved cores idle unannounced."""
    from bench.config import parse_overrides

    if kind == "ray" and cpus_per_job >= 2 and "train.threads" not in parse_overrides(overrides):
        console.print(f"[yellow]note:[/] --cpus-per-job {cpus_per_job:g} reserves {cpus_per_job:g} CPUs per job, but each "
                      "job trains with train.threads torch threads (1 unless set); add --set "
                      f"train.threads={int(cpus_per_job)} (or set it in the study's [train]) to use them")
    from bench.study.executors import make_executor
    from bench.study.executors.local import parse_jobs

    return make_executor(kind, parse_jobs(jobs), ray_address=ray_address, cpus_per_job=cpus_per_job,
                         gpus_per_job=gpus_per_job)


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
def run_command(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", "-m", help="Registered model name (see `bench models`)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="cremad, ravdess, mspimprov, manifest or synthetic (default)."),
    root: Optional[Path] = ROOT,
    option: Optional[List[str]] = OPTIONS,
    folds: Optional[int] = FOLDS,
    scheme: Optional[str] = SCHEME,
    seeds: Optional[List[str]] = SEEDS,
    overrides: Optional[List[str]] = typer.Option(None, "--set", help="Override key=value (train keys as train.key)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Study file (TOML) with \\[model] and \\[train] tables."),
    tracking_uri: Optional[str] = TRACKING_URI,
    device: str = DEVICE,
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes for generating and preparing the corpus (default: one per idle core, at most 4) and for loading batches (default: none)."),
    experiment_name: Optional[str] = typer.Option(None, "--experiment-name", help="MLflow experiment (default bench/<model>/<dataset>)."),
    track: bool = typer.Option(True, "--track/--no-track", help="Log to MLflow."),
    system_metrics: bool = typer.Option(True, "--system-metrics/--no-system-metrics",
                                        help="Log CPU / memory (and GPU) samples to each fold run."),
    log_model: bool = typer.Option(False, "--log-model", help="Log each fold's selected weights as an MLflow PyTorch model."),
    jobs: str = JOBS,
    executor: str = EXECUTOR,
    ray_address: Optional[str] = RAY_ADDRESS,
    cpus_per_job: float = CPUS_PER_JOB,
    gpus_per_job: float = GPUS_PER_JOB,
    progress: bool = PROGRESS,
) -> None:
    """Train MODEL on each fold x seed; select on validation speakers; score test speakers once."""
    from bench.config import parse_overrides
    from bench.experiment import run

    extra = list(ctx.args)
    if extra and not seeds:
        raise ConfigError(f"unexpected arguments {extra}")
    result = run(
        model,
        dataset,
        root=root,
        folds=folds,
        scheme=scheme,
        seeds=parse_seeds(seeds, extra),
        overrides=parse_overrides(overrides),
        config=config,
        tracking_uri=tracking_uri,
        device=device,
        experiment_name=experiment_name,
        progress=progress,
        workers=workers,
        track=track,
        system_metrics=system_metrics,
        log_model=log_model,
        executor=executor_from_options(executor, jobs, ray_address, cpus_per_job, gpus_per_job, overrides),
        console=console,
        options=parse_options(option),
    )
    if result.fold_results and not result.finished:
        raise typer.Exit(code=1)
