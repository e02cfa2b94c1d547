"""``bench compare`` and ``bench ablate``: tables and figures for a paper, written to reports/.

    bench compare --models deiii auxformer saf rja                 # synthetic corpus
    bench compare --study studies/compare_synthetic.toml
    bench ablate --model deiii --study studies/ablation_deiii.toml
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from bench.cli import app
from bench.cli.common import console
from bench.cli.manifest import OPTION_HELP, parse_options
from bench.cli.run import CPUS_PER_JOB, EXECUTOR, GPUS_PER_JOB, JOBS, RAY_ADDRESS, executor_from_options, parse_seeds
from bench.errors import ConfigError


def _names(values: list[str] | None, extra: list[str]) -> list[str]:
    names = []
    for text in [*(values or []), *extra]:
        names += [n for n in text.replace(",", " ").split() if n]
    return names


@app.command("compare", context_settings={"allow_extra_args": True})
def compare_command(
    ctx: typer.Context,
    models: Optional[List[str]] = typer.Option(None, "--models", help="Models: --models deiii auxformer saf rja (or comma-separated)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset (default: synthetic)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder holding the corpus."),
    option: Optional[List[str]] = typer.Option(None, "--option", help=OPTION_HELP),
    folds: Optional[int] = typer.Option(None, "--folds", help="Use the first K folds of the scheme."),
    scheme: Optional[str] = typer.Option(None, "--scheme", help="Split scheme (default: the dataset's)."),
    seeds: Optional[List[str]] = typer.Option(None, "--seeds", help="Seeds, e.g. --seeds 0,1,2."),
    study: Optional[Path] = typer.Option(None, "--study", help="Comparison study (models, overrides, reported rows)."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", help="Override key=value for every model (train keys as train.key)."),
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="MLflow tracking URI."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default reports/compare-<dataset>)."),
    test: str = typer.Option("corrected_ttest", "--test", help="Paired test over (fold, seed): corrected_ttest (Nadeau & Bengio; default), ttest or wilcoxon."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    jobs: str = JOBS,
    executor: str = EXECUTOR,
    ray_address: Optional[str] = RAY_ADDRESS,
    cpus_per_job: float = CPUS_PER_JOB,
    gpus_per_job: float = GPUS_PER_JOB,
) -> None:
    """Run what is missing for each model on the shared folds; write the comparison report."""
    from bench.report.compare import compare

    names = _names(models, list(ctx.args))
    if not names and study is None:
        raise ConfigError("give --models or --study")
    from bench.config import parse_overrides

    compare(names, dataset, root=root, options=parse_options(option), folds=folds, scheme=scheme, seeds=parse_seeds(seeds) if seeds else None, study=study,
            common=parse_overrides(overrides), tracking_uri=tracking_uri, device=device, out_dir=out, test=test,
            progress=progress, console=console,
            executor=executor_from_options(executor, jobs, ray_address, cpus_per_job, gpus_per_job))


@app.command("ablate")
def ablate_command(
    model: str = typer.Option("deiii", "--model", "-m", help="Model to ablate."),
    study: Optional[Path] = typer.Option(None, "--study", help="Ablation study (default studies/ablation_<model>.toml)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset (default: the study's, else synthetic)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder holding the corpus."),
    option: Optional[List[str]] = typer.Option(None, "--option", help=OPTION_HELP),
    folds: Optional[int] = typer.Option(None, "--folds", help="Use the first K folds of the scheme."),
    scheme: Optional[str] = typer.Option(None, "--scheme", help="Split scheme."),
    seeds: Optional[List[str]] = typer.Option(None, "--seeds", help="Seeds, e.g. --seeds 0,1,2."),
    variant: Optional[List[str]] = typer.Option(None, "--variant", help="Run only these variants (repeatable)."),
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="MLflow tracking URI."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default reports/ablation-<model>-<dataset>)."),
    test: str = typer.Option("corrected_ttest", "--test", help="Paired test over (fold, seed): corrected_ttest (Nadeau & Bengio; default), ttest or wilcoxon."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    jobs: str = JOBS,
    executor: str = EXECUTOR,
    ray_address: Optional[str] = RAY_ADDRESS,
    cpus_per_job: float = CPUS_PER_JOB,
    gpus_per_job: float = GPUS_PER_JOB,
) -> None:
    """Train each ablation variant on the same folds; write the ablation table and figures."""
    from bench.report.ablation import ablate

    ablate(model, study, dataset, root=root, options=parse_options(option), folds=folds, scheme=scheme, seeds=parse_seeds(seeds) if seeds else None,
           variants=variant, tracking_uri=tracking_uri, device=device, out_dir=out, test=test, progress=progress, console=console,
           executor=executor_from_options(executor, jobs, ray_address, cpus_per_job, gpus_per_job))
