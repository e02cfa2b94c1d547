"""``bench ablate``: which parts of a model matter, measured on the same folds.

The variants come from an ablation study file (``studies/ablation_deiii.toml``): each is a set
of config overrides (no flow, O-V fusion by concatenation or addition, no IFE, IFE in one
direction, plain Transformer encoders, ...). Every variant runs on the same store and split, so
the paired test compares like with like, fold by fold; all variants' jobs go to the executor as
one grid (:func:`bench.experiment.run_many`). Head variants (video / audio / fused) need no retraining: the reference
runs score every head on the test speakers once (``FoldResult.test_by_head``), and the
reference row itself uses the head chosen on validation.

Named class pairs (``[pairs]`` in the study) add one column each: the accuracy on the clips of
the two classes, ``(C[a,a] + C[b,b]) / (clips of a + clips of b)`` from the confusion matrix
(at most 0.5 for a model that cannot tell them apart). On the synthetic corpus this is where a component has to show: the
motion-only pair needs optical flow, the voice-only pair needs audio. Two further rows score
the reference weights with audio, or video and flow, zeroed at test time.

Figures: ``forest-<model>`` (each variant's difference from the reference with its 95% interval,
one panel per metric and pair score, significance as in the table: same test, same Holm
family) and ``variants-*`` (the per-fold scores behind it, folds drawn as lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from rich.markup import escape

from bench.errors import ConfigError
from bench.io import ensure_writable
from bench.paths import reports_dir, safe_name

ROW_KEY = "variant"
ZEROED_ROWS = {"audio_missing": "test_audio_zeroed", "video_missing": "test_video_zeroed"}


@dataclass
class AblationResult:
    results: dict[str, Any]  # variant -> ExperimentResult
    tidy: pd.DataFrame
    out_dir: Path
    paths: dict[str, Any] = field(default_factory=dict)
    status: Any = None  # bench.study.status.GridStatus of a status_only call (nothing trained)


def pair_accuracy(confusion, labels: Sequence[str], pair: Sequence[str]) -> float:
    """Accuracy on the clips of the two classes of ``pair``, from a confusion matrix.

    ``(C[a,a] + C[b,b]) / (clips of a + clips of b)``: a model that cannot tell the two apart
    (it gives both the same label) scores at most 0.5; one that can scores near 1. Clips of the
    pair given a third label count as errors, so the score is defined whenever the pair is in
    the test set (NaN otherwise).
    """
    matrix = np.asarray(confusion, dtype=float)
    if matrix.size == 0:
        return float("nan")
    try:
        a, b = list(labels).index(pair[0]), list(labels).index(pair[1])
    except ValueError:
        raise ConfigError(f"pair {list(pair)}: classes not in the label vocabulary {list(labels)}") from None
    total = matrix[a].sum() + matrix[b].sum()
    return float((matrix[a, a] + matrix[b, b]) / total) if total else float("nan")


def _rows(variant: str, result, fold_result, metrics: dict, confusion, pairs: dict[str, list[str]]) -> list[dict]:
    base = {ROW_KEY: variant, "model": result.model, "dataset": result.dataset, "fold": fold_result.fold, "seed": fold_result.seed,
            "n_train": getattr(fold_result, "n_train", 0), "n_test": getattr(fold_result, "n_test", 0)}  # the corrected test's n2/n1
    rows = [{**base, "metric": k, "value": float(v)} for k, v in metrics.items() if isinstance(v, (int, float))]
    for name, pair in pairs.items():
        rows.append({**base, "metric": f"pair_{name}", "value": pair_accuracy(confusion, fold_result.labels, pair)})
    return rows


def ablation_frame(results: dict[str, Any], reference: str, heads: Sequence[str], pairs: dict[str, list[str]]) -> pd.DataFrame:
    """Tidy rows (variant, fold, seed, metric, value) for every variant, head and zeroed input."""
    rows: list[dict] = []
    for variant, result in results.items():
        for r in result.finished:
            rows += _rows(variant, result, r, r.test, r.confusion, pairs)
            if variant != reference:
                continue
            by_head = getattr(r, "test_by_head", {}) or {}
            for head in heads:
                if head not in by_head:
                    raise ConfigError(f"ablation: head {head!r} not among the reference model's heads {sorted(by_head)}")
                scores = by_head[head]
                rows += _rows(f"head_{head}", result, r, scores, scores.get("confusion", []), pairs)
            robustness = getattr(r, "robustness", {}) or {}
            for condition, label in ZEROED_ROWS.items():
                if condition in robustness:
                    scores = robustness[condition]
                    rows += _rows(label, result, r, scores, scores.get("confusion", []), pairs)
    return pd.DataFrame(rows)


def default_study(model: str) -> Path:
    """The shipped ``ablation_<model>.toml``, found inside the package (any working directory)."""
    from bench.studies.loader import shipped_study

    return shipped_study("ablation", model)


def ablate(
    model: str = "deiii",
    study: str | Path | None = None,
    dataset: str | None = None,
    *,
    root: str | Path | None = None,
    folds: int | None = None,
    scheme: str | None = None,
    seeds: Sequence[int] | None = None,
    variants: Sequence[str] | None = None,
    tracking_uri: str | None = None,
    device: str = "auto",
    out_dir: str | Path | None = None,
    test: str = "corrected_ttest",
    progress: bool = True,
    console=None,
    executor=None,
    command: str | None = None,
    options: dict[str, Any] | None = None,
    status_only: bool = False,
    verify_stale: int = 0,
) -> AblationResult:
    """Run every variant of the ablation study that is missing, then write table and figures.

    ``options`` are corpus adapter options, over the study's ``[study.options]``.
    ``status_only`` trains and writes nothing (but ``verify_stale`` jobs of each stale
    configuration, :func:`bench.experiment.plan_status`): the result's ``status`` says which jobs are done,
    missing or stale (:mod:`bench.study.status`).
    """
    from bench.report.provenance import command_line, display_path, provenance
    from bench.train.config import default_metric
    from bench.eval.metrics import METRICS
    from bench.data.open import open_dataset
    from bench.experiment import RunSpec, run_many
    from bench.report.plots import plot_fold_scores, plot_forest
    from bench.report.bundle import ReportBundle, pdflatex_available
    from bench.splits import get_scheme
    from bench.studies.loader import load_study
    from bench.report.tables import ablation_table

    from bench.eval.significance import check_test

    check_test(test)  # before any training: a typo in --test must not cost the benchmark
    if console is None:
        from bench.console import default_console

        console = default_console()
    spec = load_study(study or default_study(model))
    if spec.kind != "ablation":
        raise ConfigError(f"{spec.path}: bench ablate needs a study of kind 'ablation', got {spec.kind!r}")
    if spec.model != model:
        raise ConfigError(f"{spec.path}: the study ablates {spec.model!r}, not {model!r}")
    dataset = dataset or spec.dataset
    root = root or spec.root
    seeds = list(seeds or spec.seeds or [0])
    chosen = list(variants or spec.variants)
    unknown = sorted(set(chosen) - set(spec.variants))
    if unknown:
        raise ConfigError(f"unknown variants {unknown}; the study has {sorted(spec.variants)}")
    if spec.reference not in chosen:
        chosen.insert(0, spec.reference)
    out_dir = Path(out_dir) if out_dir else reports_dir() / f"ablation-{model}-{safe_name(dataset or 'synthetic', '--dataset')}"
    ensure_writable(out_dir, "report", "pass --out or set BENCH_REPORTS")

    options = {**(spec.options if dataset == spec.dataset else {}), **(options or {})}
    store, dataset, synthetic = open_dataset(dataset, root, options=options, progress=progress, say=console.print)
    split = get_scheme(dataset, scheme or spec.scheme, manifest=store.manifest)
    runs = [RunSpec(variant, model, dataset,
                    dict(folds=folds or spec.folds, seeds=seeds, overrides=spec.variants[variant], tracking_uri=tracking_uri,
                         device=device, store=store, split=split, experiment_name=f"bench/{model}/{dataset}/ablation"),
                    intro=f"[bold]variant {escape(variant)}[/]: "
                          f"{escape(str(spec.variants[variant] or 'reference configuration'))}")
            for variant in dict.fromkeys(chosen)]  # a variant named twice runs once
    if status_only:
        from bench.experiment import plan_status

        status = plan_status(runs, console=console, verify_stale=verify_stale)
        return AblationResult({}, pd.DataFrame(), out_dir, {}, status=status)
    results = run_many(runs, executor=executor, progress=progress, console=console)  # one grid, every variant's jobs

    tidy = ablation_frame(results, spec.reference, spec.heads, spec.pairs)
    task = results[spec.reference].resolved_config["model"]["task"]
    metric = default_metric(task)
    metrics = [m.name for m in METRICS.values() if m.headline and m.name in set(tidy["metric"])]
    metrics += [f"pair_{name}" for name in spec.pairs]
    order = chosen + [f"head_{h}" for h in spec.heads] + [v for v in ZEROED_ROWS.values() if v in set(tidy[ROW_KEY])]
    descriptions = {**{v: ", ".join(f"{k}={val}" for k, val in spec.variants[v].items()) or "reference" for v in chosen},
                    **{f"head_{h}": f"reference weights, {h} head" for h in spec.heads},
                    "test_audio_zeroed": "reference weights, audio zeroed at test time",
                    "test_video_zeroed": "reference weights, video and flow zeroed at test time", **spec.descriptions}
    title = f"Ablation of {model} on {dataset}" + (" (SYNTHETIC corpus)" if synthetic else "")
    bundle = ReportBundle(out_dir, title, command or command_line(), provenance(dataset, store, split, results, study=display_path(spec.path)))
    pair_note = "; ".join(f"{n} pair: accuracy on the {a} and {b} clips" for n, (a, b) in spec.pairs.items())
    table = ablation_table(tidy, metrics, reference=spec.reference, variants=order, descriptions=descriptions, dataset=dataset,
                           test=test, synthetic=synthetic, row_key=ROW_KEY, label=f"tab:ablation-{model}-{dataset}",
                           caption=f"Ablation of {model} on {dataset}" + (f" ({pair_note})" if pair_note else ""))
    paths: dict[str, Any] = {"table": bundle.table(table, "ablation", compile_pdf=pdflatex_available())}
    from bench.report.training import write_training_report

    paths["training"] = write_training_report(  # how each variant was configured and tuned; undertrained ones warned
        results, bundle, lambda line: console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False),
        row_key=ROW_KEY, label=f"tab:training-{model}-{dataset}")
    paths["forest"] = bundle.figure(
        plot_forest(table.tests, out_dir, f"forest-{safe_name(model, '--model')}", metrics=metrics, variants=order, reference=spec.reference),
        f"Forest plot: each variant's difference from {spec.reference} with its 95% interval, one panel per metric and "
        f"pair score; filled and marked: significant under the table's test (Holm-corrected)")
    scores = tidy[tidy["metric"] == metric].rename(columns={"model": "base_model"}).rename(columns={ROW_KEY: "model"})
    paths["fold_scores"] = bundle.figure(plot_fold_scores(scores, metric, out_dir, f"variants-{metric}", kind="point", models=order),
                                         f"Test {metric} per fold, per variant")
    for name in spec.pairs:
        pair_scores = tidy[tidy["metric"] == f"pair_{name}"].rename(columns={"model": "base_model"}).rename(columns={ROW_KEY: "model"})
        paths[f"pair_{name}"] = bundle.figure(plot_fold_scores(pair_scores, f"pair_{name}", out_dir, f"variants-pair-{name}", kind="point",
                                                               models=order),
                                              f"Pair accuracy '{name}' ({' vs '.join(spec.pairs[name])}) per fold, per variant")
    bundle.write_index()
    console.print(f"ablation report written to [bold]{escape(str(out_dir))}[/]", highlight=False)
    return AblationResult(results, tidy, out_dir, paths)
