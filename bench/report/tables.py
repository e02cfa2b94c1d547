"""Result tables: models x metrics, "mean ± std" per cell, best in bold, paired-test markers.

The last step of the pipeline: a tidy results frame (``ExperimentResult.tidy()``: model,
dataset, fold, seed, metric, value) goes in, a :class:`Table` comes out, and three writers
typeset it as LaTeX (booktabs), Markdown or CSV. A table is plain data (strings with bold and
marker flags, plus the numbers behind them) so that every writer shows the same thing and a
test can check the content without parsing LaTeX.

Conventions, each stated in the caption so that a reader of the PDF needs nothing else:

- accuracy, UAR and F1 in percent with one decimal; CCC with three decimals;
- standard deviation with ddof = 1 over all (fold, seed) scores of a model;
- best per column in bold, judged at the printed precision (printed ties are all bold);
- a marker (default "†") on models whose scores differ from the best model of that column by a
  paired test over (fold, seed) (:mod:`bench.eval.significance`, Holm-corrected; by default the
  corrected repeated k-fold t-test, since folds share training speakers), the test named in
  the caption;
- the difference from the best model (comparison: a "Δ … vs best [95% CI]" column for the
  primary metric) or from the reference row (ablation: every Δ cell) with the 95% interval of
  that paired difference, the interval's formula in the caption;
- numbers reported in the literature are a separate block under a rule, labelled "reported"
  with a citation note and the protocol they were obtained under, and are never bolded, tested
  or used to pick the best: their protocols (splits, labels, clip filters) differ from ours, so
  a comparison would be dishonest. A reported row whose protocol id equals the table's
  (``protocol=``, see :mod:`bench.protocols`) sits in the measured block instead, still marked
  "reported" and still never bolded or tested: same folds and labels, so it may stand beside
  ours, but it was not re-run here.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from bench.eval import significance as sig
from bench.errors import ConfigError
from bench.io import write_text
from bench.protocols import ReportedRow  # noqa: F401  (the reported block's rows; re-exported)
from bench.eval.metrics import METRICS

# ---------------------------------------------------------------------------------------------
# metric formatting

# The order, labels and scales of the known metrics: bench.eval.metrics.METRICS.
METRIC_ORDER = tuple(METRICS)
# Metrics in a tidy frame that are model properties, not scores: they become the extra columns.
PARAMETER_METRICS = ("parameters", "params")
LATENCY_METRICS = ("inference_ms_per_clip", "inference_ms")

SYNTHETIC_NOTE = (
    "Synthetic corpus: these scores show that the pipeline runs end to end and learns a "
    "planted signal; they say nothing about recognising human emotion."
)
REPORTED_NOTE = (
    "Reported rows are copied from the cited papers, obtained under their own protocols "
    "(splits, preprocessing, features); they were not re-run here and are not compared with "
    "the measured rows."
)

SAME_PROTOCOL_NOTE = (
    "Reported rows are copied from the cited papers, obtained under the same protocol (test folds, "
    "labels and clips) as the measured rows; they were not re-run here and are not tested against them."
)


@dataclass(frozen=True)
class MetricFormat:
    """How one metric is printed."""

    label: str  # column header
    scale: float  # multiply the stored value by this before printing (100 for percent)
    decimals: int  # digits after the point


def metric_format(metric: str) -> MetricFormat:
    """Percent with one decimal for accuracy/UAR/F1 scores, three decimals for CCC and the rest.

    ``"<metric>@<condition>"`` (the robustness study's columns, e.g. ``uar@audio_missing``) is
    printed like ``<metric>`` with the condition as the header.
    """
    if metric.startswith("pair_"):  # the ablation's accuracy on the clips of a class pair
        return MetricFormat(f"{metric[len('pair_'):]} pair (%)", 100.0, 1)
    if "@" in metric:
        base, _, condition = metric.partition("@")
        fmt = metric_format(base)
        unit = " (%)" if fmt.scale == 100.0 else ""
        return MetricFormat(condition.replace("_", " ") + unit, fmt.scale, fmt.decimals)
    known = METRICS.get(metric)
    if known is not None:
        return MetricFormat(known.label, known.scale, known.decimals)
    if metric.endswith("_f1") or metric.startswith("acc"):  # a score of the same kind, e.g. acc_top2
        return MetricFormat(f"{metric} (%)", 100.0, 1)
    return MetricFormat(metric, 1.0, 3)


def _rounded(value: float, fmt: MetricFormat) -> float:
    """The value as printed (the same string formatting as the cells), for ties and bolding."""
    return float(f"{value * fmt.scale:.{fmt.decimals}f}")


def _number(value: float, fmt: MetricFormat) -> str:
    if value is None or math.isnan(value):
        return "–"
    text = f"{value * fmt.scale:.{fmt.decimals}f}"
    return text.replace("-", "−") if not re.fullmatch(r"-0\.0*", text) else text[1:]


def _mean_std(mean: float, std: float, fmt: MetricFormat) -> str:
    if std is None or math.isnan(std):
        return _number(mean, fmt)
    return f"{_number(mean, fmt)} ± {_number(std, fmt)}"


def _signed(delta: float, fmt: MetricFormat) -> str:
    if math.isnan(delta):
        return "–"
    text = f"{abs(delta) * fmt.scale:.{fmt.decimals}f}"
    if float(text) == 0.0:
        return text
    return ("+" if delta > 0 else "−") + text


# ---------------------------------------------------------------------------------------------
# the table as data


@dataclass
class Cell:
    """One printed cell: plain Unicode text plus flags the writers typeset their own way."""

    text: str  # e.g. "81.6 ± 1.2"; Unicode ±, †, −, Δ are mapped to LaTeX by the writer
    bold: bool = False  # best in its column
    marker: str = ""  # significance marker, printed as a superscript ("†")
    note: str = ""  # footnote letter pointing at a citation ("a")


@dataclass
class Table:
    """A typeset-ready table; writers: :func:`to_latex`, :func:`to_markdown`, :func:`to_csv`."""

    kind: str  # "comparison" | "ablation"
    header: list[str]  # column titles
    align: str  # LaTeX column spec, one letter per column
    rows: list[list[Cell]]  # the measured block
    reported: list[list[Cell]]  # the literature block (may be empty)
    caption: str  # full caption, naming the statistics and the test
    label: str  # LaTeX label, e.g. "tab:compare-ravdess"
    notes: list[str]  # printed under the table: citations, synthetic-corpus note
    data: pd.DataFrame  # the numbers behind the cells, one row per table row (the CSV)
    tests: dict[str, dict[str, sig.PairedTest]] = field(default_factory=dict)  # metric -> row -> test

    @property
    def row_names(self) -> list[str]:
        return [r[0].text for r in self.rows]


# ---------------------------------------------------------------------------------------------
# building


def _select(tidy: pd.DataFrame, dataset: str | None, row_key: str) -> tuple[pd.DataFrame, str | None]:
    needed = {row_key, "metric", "value"}
    if not needed <= set(tidy.columns):
        raise ConfigError(
            f"results frame lacks column(s) {sorted(needed - set(tidy.columns))}; it has {list(tidy.columns)}"
        )
    df = tidy.dropna(subset=["value"])
    if "dataset" in df.columns:
        names = list(dict.fromkeys(df["dataset"]))
        if dataset is None:
            if len(names) > 1:
                raise ConfigError(f"results mix datasets {names}; pass dataset= to pick the one to tabulate")
            dataset = names[0] if names else None
        else:
            if dataset not in names:
                raise ConfigError(f"no results for dataset '{dataset}'; the frame has {names}")
            df = df[df["dataset"] == dataset]
    return df, dataset


def _split_extras(
    df: pd.DataFrame, row_key: str, parameters: Mapping[str, float] | None, inference_ms: Mapping[str, float] | None
) -> tuple[pd.DataFrame, dict[str, float], dict[str, float]]:
    """Pull parameter counts / latencies out of the scores (explicit arguments win)."""

    def pick(names: Sequence[str], given: Mapping[str, float] | None) -> dict[str, float]:
        rows = df[df["metric"].isin(names)]
        found = rows.groupby(row_key, sort=False)["value"].mean().to_dict() if len(rows) else {}
        return {**found, **(dict(given) if given else {})}

    params = pick(PARAMETER_METRICS, parameters)
    latency = pick(LATENCY_METRICS, inference_ms)
    scores = df[~df["metric"].isin(PARAMETER_METRICS + LATENCY_METRICS)]
    return scores, params, latency


def _metrics(df: pd.DataFrame, metrics: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(df["metric"]))
    if metrics is None:
        return [m for m in METRIC_ORDER if m in present] + [m for m in present if m not in METRIC_ORDER]
    missing = [m for m in metrics if m not in present]
    if missing:
        raise ConfigError(f"no scores for metric(s) {missing}; the results have {present}")
    return list(metrics)


def _rows(df: pd.DataFrame, row_key: str, rows: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(df[row_key]))
    if rows is None:
        return present
    missing = [r for r in rows if r not in present]
    if missing:
        raise ConfigError(f"no results for {row_key}(s) {missing}; the results have {present}")
    return list(rows)


def _summary(df: pd.DataFrame, row_key: str) -> pd.DataFrame:
    """Mean, sample std (ddof=1) and n per (row, metric)."""
    g = df.groupby([row_key, "metric"], sort=False)["value"]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.count()})


def _scope_text(df: pd.DataFrame, row_key: str) -> str:
    """"over 5 folds × 2 seeds" (or "over 8–10 (fold, seed) scores" when models differ)."""
    counts = df.groupby([row_key, "metric"])["value"].count()
    folds = df["fold"].nunique() if "fold" in df.columns else None
    seeds = df["seed"].nunique() if "seed" in df.columns else None
    if folds and seeds and counts.min() == counts.max() == folds * seeds:
        return f"over {folds} fold{'s' * (folds != 1)} × {seeds} seed{'s' * (seeds != 1)}"
    lo, hi = int(counts.min()), int(counts.max())
    return f"over {lo} (fold, seed) scores" if lo == hi else f"over {lo}–{hi} (fold, seed) scores per model"


def _frame(records: list[dict], row_key: str, metrics: Sequence[str]) -> pd.DataFrame:
    """Records -> the CSV frame: one row per table row, each metric's columns side by side."""
    df = pd.DataFrame.from_records(records)
    stats = ("mean", "std", "n", "delta", "ci_low", "ci_high", "best", "p", "p_holm", "significant")
    order = ["block", row_key] + [f"{m}_{s}" for m in metrics for s in stats]
    order += ["parameters", "inference_ms_per_clip", "citation", "protocol", "reported_note"]
    df = df[[c for c in order if c in df.columns]]
    for c in df.columns:
        if c.endswith("_n") or c == "parameters":
            df[c] = pd.to_numeric(df[c], errors="coerce").round().astype("Int64")
    return df


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "table"


def _floor_note(tests: Mapping[str, Mapping[str, sig.PairedTest]], alpha: float) -> str:
    """Say so when the test cannot reach alpha with this few pairs (Wilcoxon with n = 5)."""
    floors = [t for per in tests.values() for t in per.values() if t.testable and t.min_p >= alpha]
    if not floors:
        return ""
    t = min(floors, key=lambda t: t.n)
    return (
        f" With n\u00a0=\u00a0{t.n} pairs the {sig.TEST_DESCRIPTIONS[t.test]} cannot reach p\u00a0<\u00a0{alpha:g} "
        f"(its smallest p is {t.min_p:.3g}), so the absence of a marker is not evidence of equality."
    )


def _interval(t: sig.PairedTest | None, fmt: MetricFormat, delta: float | None = None) -> str:
    """"−5.0 [−6.1, −3.9]": the difference (``delta``, else the test's mean paired difference) in
    printed units with the test's interval; "–" when there is no test or no interval."""
    if t is None:
        return "–"
    centre = t.mean_difference if delta is None else delta
    if math.isnan(t.ci_low) or math.isnan(t.ci_high):
        return _signed(centre, fmt)
    return f"{_signed(centre, fmt)} [{_number(t.ci_low, fmt)}, {_number(t.ci_high, fmt)}]"


def _interval_metrics(metrics: Sequence[str], given: Sequence[str] | None) -> list[str]:
    """The metrics that get a "Δ vs best [95% CI]" column: ``given``, else the first primary one."""
    if given is not None:
        unknown = [m for m in given if m not in metrics]
        if unknown:
            raise ConfigError(f"interval column(s) for {unknown}: not among the table's metrics {list(metrics)}")
        return list(given)
    primary = [m for m in metrics if m in METRICS and METRICS[m].primary]
    return primary[:1]


def _delta_label(metric: str) -> str:
    label = metric_format(metric).label.removesuffix(" (%)")
    return f"Δ {label} vs best [95% CI]"


def _statistics_text(tests: Mapping[str, Mapping[str, sig.PairedTest]], test: str, alpha: float, marker: str, against: str) -> str:
    """The caption's sentences on the test (named, with n, n2/n1, Holm) and on the intervals."""
    flat = [t for per in tests.values() for t in per.values()]
    named = sig.describe(test, alpha=alpha, correction="holm", n_pairs=[t.n for t in flat], marker=marker, tests=flat)
    return f"{named}, against {against}.{_floor_note(tests, alpha)} {sig.describe_interval(test)}"


def _check_reported(row: ReportedRow, metrics: Sequence[str]) -> None:
    for metric, value in row.values.items():
        if metric_format(metric).scale == 100.0 and value > 1.0:
            raise ConfigError(
                f"reported row '{row.model}': {metric}={value} looks like a percentage; give a "
                f"fraction ({value / 100:g}) like the measured scores"
            )
    if not set(row.values) & set(metrics):
        raise ConfigError(
            f"reported row '{row.model}' has none of the table's metrics {list(metrics)} (it has {list(row.values)})"
        )


def _extras_cells(name: str, params: Mapping[str, float], latency: Mapping[str, float], with_p: bool, with_ms: bool) -> list[Cell]:
    cells = []
    if with_p:
        cells.append(Cell(f"{params[name] / 1e6:.3f}" if name in params else "–"))
    if with_ms:
        cells.append(Cell(f"{latency[name]:.1f}" if name in latency else "–"))
    return cells


def comparison_table(
    tidy: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    dataset: str | None = None,
    models: Sequence[str] | None = None,
    parameters: Mapping[str, float] | None = None,
    inference_ms: Mapping[str, float] | None = None,
    reported: Sequence[ReportedRow] = (),
    test: sig.TestName = sig.DEFAULT_TEST,
    alpha: float = 0.05,
    marker: str = sig.DEFAULT_MARKER,
    synthetic: bool = False,
    caption: str | None = None,
    label: str | None = None,
    row_key: str = "model",
    protocol: str = "",
    protocol_checksum: str = "",
    intervals: Sequence[str] | None = None,
) -> Table:
    """Models (rows) against metrics (columns) on one dataset; see the module docstring.

    ``parameters`` / ``inference_ms`` map model -> parameter count / milliseconds per clip; if
    omitted they are read from the frame when it has rows with metric "parameters" /
    "inference_ms_per_clip". ``reported`` rows go in their own block and are never compared.
    ``protocol`` / ``protocol_checksum``: the protocol the measured rows were scored under; the
    caption names it, and reported rows with that protocol id join the measured block
    (marked "reported", never bolded or tested).
    ``caption`` replaces the first sentence; the statistical description is always appended.
    ``intervals``: the metrics that get a "Δ vs best [95% CI]" column (default: the primary
    metric, UAR or mean CCC, when the table has it; ``[]`` for none).
    """
    sig.check_test(test)
    df, dataset = _select(tidy, dataset, row_key)
    df, params, latency = _split_extras(df, row_key, parameters, inference_ms)
    metrics = _metrics(df, metrics)
    names = _rows(df, row_key, models)
    df = df[df[row_key].isin(names) & df["metric"].isin(metrics)]
    summary = _summary(df, row_key)
    with_p = bool(params) or any(r.parameters is not None for r in reported)
    with_ms = bool(latency)
    for r in reported:
        _check_reported(r, metrics)

    deltas = _interval_metrics(metrics, intervals)
    header = ["Model"] + (["Source"] if reported else []) + [metric_format(m).label for m in metrics]
    header += [_delta_label(m) for m in deltas]
    header += (["Params (M)"] if with_p else []) + (["ms / clip"] if with_ms else [])
    align = "l" + ("l" if reported else "") + "c" * (len(metrics) + len(deltas)) + "r" * (with_p + with_ms)

    # Per column: the printed best (bold, ties included) and the paired tests against the best.
    bold: dict[str, set[str]] = {}
    tests: dict[str, dict[str, sig.PairedTest]] = {}
    for m in metrics:
        fmt = metric_format(m)
        means = {n: summary.loc[(n, m), "mean"] for n in names if (n, m) in summary.index}
        if not means:
            continue
        top = max(_rounded(v, fmt) for v in means.values())
        bold[m] = {n for n, v in means.items() if _rounded(v, fmt) == top}
        reference = sig.best_model(df, m, row_key=row_key, models=names)
        tests[m] = sig.compare_against(
            df, m, reference=reference, models=[n for n in names if n in means],
            test=test, alpha=alpha, marker=marker, row_key=row_key,
        )  # fmt: skip

    rows: list[list[Cell]] = []
    records: list[dict] = []
    for n in names:
        cells = [Cell(n)] + ([Cell("measured")] if reported else [])
        record: dict = {"block": "measured", row_key: n}
        for m in metrics:
            fmt = metric_format(m)
            if (n, m) not in summary.index:
                cells.append(Cell("–"))
                continue
            s = summary.loc[(n, m)]
            t = tests.get(m, {}).get(n)
            cells.append(Cell(_mean_std(s["mean"], s["std"], fmt), bold=n in bold.get(m, ()), marker=t.marker if t else ""))
            record.update({f"{m}_mean": s["mean"], f"{m}_std": s["std"], f"{m}_n": int(s["n"])})
            record.update({f"{m}_best": n in bold.get(m, ())})
            if t:
                record.update({f"{m}_p": t.p_value, f"{m}_p_holm": t.p_adjusted, f"{m}_significant": t.significant,
                               f"{m}_delta": t.mean_difference, f"{m}_ci_low": t.ci_low, f"{m}_ci_high": t.ci_high})
        for m in deltas:
            t = tests.get(m, {}).get(n)
            is_best = m in tests and n not in tests[m] and (n, m) in summary.index
            cells.append(Cell("—" if is_best else _interval(t, metric_format(m))))
        cells += _extras_cells(n, params, latency, with_p, with_ms)
        record.update({"parameters": params.get(n), "inference_ms_per_clip": latency.get(n)})
        rows.append(cells)
        records.append(record)

    reported_rows: list[list[Cell]] = []
    notes: list[str] = []
    citations: dict[str, str] = {}
    same = [r for r in reported if protocol and r.protocol == protocol]
    for r in same + [r for r in reported if r not in same]:
        letter = citations.setdefault(r.citation, "abcdefghijklmnopqrstuvwxyz"[len(citations) % 26])
        named = r.protocol if r.protocol and r in same else (f"protocol {r.protocol}" if r.protocol else "")
        cells = [Cell(r.model), Cell(f"reported ({named})" if named and r not in same else "reported", note=letter)]
        record = {"block": "reported", row_key: r.model, "citation": r.citation, "protocol": r.protocol,
                  "reported_note": r.note}
        for m in metrics:
            fmt = metric_format(m)
            value = r.values.get(m, math.nan)
            cells.append(Cell(_mean_std(value, r.std.get(m, math.nan), fmt)))
            record.update({f"{m}_mean": value, f"{m}_std": r.std.get(m, math.nan)})
        cells += [Cell("–") for _ in deltas]
        if with_p:
            cells.append(Cell(f"{r.parameters / 1e6:.3f}" if r.parameters is not None else "–"))
        if with_ms:
            cells.append(Cell("–"))
        record["parameters"] = r.parameters
        (rows if r in same else reported_rows).append(cells)
        records.append(record)
    if reported:
        cited = "; ".join(f"[{letter}] {c}" for c, letter in citations.items())
        details = "; ".join(f"{r.model}: {r.note}" for r in reported if r.note)
        lead = REPORTED_NOTE if len(same) < len(reported) else SAME_PROTOCOL_NOTE
        notes.append(f"{lead} {cited}." + (f" Protocol: {details}." if details else ""))
    if synthetic:
        notes.append(SYNTHETIC_NOTE)

    first = caption or (f"Comparison on {dataset}" if dataset else "Comparison of models")
    if protocol:
        first = f"{first.rstrip('.')}, protocol {protocol}" + (f" (sha256 {protocol_checksum[:12]})" if protocol_checksum else "")
    text = (
        f"{first.rstrip('.')}{' (synthetic corpus)' if synthetic else ''}. "
        f"Mean ± standard deviation {_scope_text(df, row_key)}, speaker-independent test folds; "
        f"best per column in bold (ties at the printed precision all bold). "
        + "".join(f"{_delta_label(m).split(' [')[0]}: mean paired difference from the model with the best mean "
                  f"{metric_format(m).label.removesuffix(' (%)')}{' in percentage points' if metric_format(m).scale == 100.0 else ''}, "
                  "with its 95% interval in brackets. " for m in deltas)
        + _statistics_text(tests, test, alpha, marker, "the best model of that column")
    )
    if same:
        text += (" Rows marked reported are copied from the cited papers under the same protocol; "
                 "they were not re-run here and are never bolded or tested.")
    if len(same) < len(reported):
        text += " Reported rows: numbers from the literature, not compared."
    return Table(
        kind="comparison",
        header=header,
        align=align,
        rows=rows,
        reported=reported_rows,
        caption=text,
        label=label or f"tab:compare-{_slug(dataset or 'results')}",
        notes=notes,
        data=_frame(records, row_key, metrics),
        tests=tests,
    )


def ablation_table(
    tidy: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    reference: str,
    variants: Sequence[str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    dataset: str | None = None,
    test: sig.TestName = sig.DEFAULT_TEST,
    alpha: float = 0.05,
    marker: str = sig.DEFAULT_MARKER,
    synthetic: bool = False,
    caption: str | None = None,
    label: str | None = None,
    row_key: str = "model",
) -> Table:
    """Ablation variants (rows) against the full model: mean ± std, Δ, and a paired-test marker.

    ``reference`` names the full model's row; Δ = variant mean − reference mean in printed units
    (percentage points for percent metrics). ``descriptions`` (variant -> what changed) adds a
    column. ``row_key`` names the column that identifies variants (e.g. "variant"). Each Δ cell
    carries the 95% interval of the paired difference from the same test as the marker.
    """
    sig.check_test(test)
    df, dataset = _select(tidy, dataset, row_key)
    df, _, _ = _split_extras(df, row_key, None, None)
    metrics = _metrics(df, metrics)
    names = _rows(df, row_key, variants)
    if reference not in set(df[row_key]):
        raise ConfigError(f"ablation reference '{reference}' has no results; rows are {list(dict.fromkeys(df[row_key]))}")
    if reference not in names:
        names = [reference] + names
    df = df[df[row_key].isin(names) & df["metric"].isin(metrics)]
    summary = _summary(df, row_key)
    with_desc = bool(descriptions)

    header = ["Variant"] + (["Change"] if with_desc else [])
    for m in metrics:
        header += [metric_format(m).label, "Δ"]
    align = "l" + ("l" if with_desc else "") + "cr" * len(metrics)

    tests = {
        m: sig.compare_against(df, m, reference=reference, models=names, test=test, alpha=alpha, marker=marker, row_key=row_key)
        for m in metrics
    }
    rows: list[list[Cell]] = []
    records: list[dict] = []
    for n in names:
        is_ref = n == reference
        cells = [Cell(f"{n} (reference)" if is_ref else n)]
        if with_desc:
            cells.append(Cell(descriptions.get(n, "")))
        record: dict = {"block": "reference" if is_ref else "variant", row_key: n}
        for m in metrics:
            fmt = metric_format(m)
            if (n, m) not in summary.index or (reference, m) not in summary.index:
                cells += [Cell("–"), Cell("–")]
                continue
            s = summary.loc[(n, m)]
            delta = s["mean"] - summary.loc[(reference, m), "mean"]
            t = tests[m].get(n)
            cells.append(Cell(_mean_std(s["mean"], s["std"], fmt), marker=t.marker if t else ""))
            cells.append(Cell("—" if is_ref else _interval(t, fmt, delta) if t else _signed(delta, fmt)))
            record.update({f"{m}_mean": s["mean"], f"{m}_std": s["std"], f"{m}_n": int(s["n"]), f"{m}_delta": delta})
            if t:
                record.update({f"{m}_p": t.p_value, f"{m}_p_holm": t.p_adjusted, f"{m}_significant": t.significant,
                               f"{m}_ci_low": t.ci_low, f"{m}_ci_high": t.ci_high})
        rows.append(cells)
        records.append(record)

    first = caption or (f"Ablation of {reference} on {dataset}" if dataset else f"Ablation of {reference}")
    text = (
        f"{first.rstrip('.')}{' (synthetic corpus)' if synthetic else ''}. "
        f"Mean ± standard deviation {_scope_text(df, row_key)}; Δ: difference of means from the "
        f"reference row (percentage points for percent metrics), with its 95% interval in brackets. "
        + _statistics_text(tests, test, alpha, marker, "the reference")
    )
    return Table(
        kind="ablation",
        header=header,
        align=align,
        rows=rows,
        reported=[],
        caption=text,
        label=label or f"tab:ablation-{_slug(reference)}-{_slug(dataset or 'results')}",
        notes=[SYNTHETIC_NOTE] if synthetic else [],
        data=_frame(records, row_key, metrics),
        tests=tests,
    )


# ---------------------------------------------------------------------------------------------
# writers

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_SYMBOLS = {
    "±": r"$\pm$",
    "†": r"\dag{}",
    "‡": r"\ddag{}",
    "−": r"$-$",
    "–": "--",
    "—": "---",
    "Δ": r"$\Delta$",
    "×": r"$\times$",
    "α": r"$\alpha$",
    "→": r"$\rightarrow$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "<": r"$<$",  # OT1 fonts (no lmodern) print "<" as "¡"
    ">": r"$>$",
    "|": r"\textbar{}",
    "\u00a0": "~",  # non-breaking space, e.g. inside "n = 10"
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in (*_LATEX_SPECIALS, *_LATEX_SYMBOLS)))


def latex_escape(text: str) -> str:
    """Escape LaTeX specials (\\ & % $ # _ { } ~ ^) and map the Unicode symbols tables use."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIALS.get(m.group(0)) or _LATEX_SYMBOLS[m.group(0)], text)


def _latex_cell(cell: Cell) -> str:
    text = latex_escape(cell.text)
    if cell.bold:
        text = rf"\textbf{{\boldmath {text}}}"  # \boldmath: the $\pm$ and $-$ go bold too
    sup = latex_escape(cell.marker) + ("," if cell.marker and cell.note else "") + latex_escape(cell.note)
    return text + (rf"\textsuperscript{{{sup}}}" if sup else "")


def to_latex(table: Table, *, standalone: bool = False) -> str:
    """booktabs tabular in a table environment with caption and label; ``standalone`` wraps it
    in a minimal article so that ``pdflatex`` compiles it as is (how the tests check it)."""
    ncol = len(table.header)
    line = lambda cells: " & ".join(_latex_cell(c) for c in cells) + r" \\"  # noqa: E731
    body = [
        "% Generated by DE-III Bench (bench.report.tables). Needs \\usepackage{booktabs,graphicx}.",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(table.caption)}}}",
        rf"\label{{{table.label}}}",
        r"\smallskip",  # a caption above a booktabs rule needs a little air
        # Shrunk to the line width only when wider than it (\width is the natural width).
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
        rf"\begin{{tabular}}{{{table.align}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in table.header) + r" \\",
        r"\midrule",
        *(line(r) for r in table.rows),
    ]
    if table.reported:
        body += [
            r"\midrule",
            rf"\multicolumn{{{ncol}}}{{l}}{{\emph{{Reported in the literature (other protocols; not compared)}}}} \\",
            *(line(r) for r in table.reported),
        ]
    body += [r"\bottomrule", r"\end{tabular}}"]
    if table.notes:
        notes = r" \\ ".join(latex_escape(n) for n in table.notes)
        body += [r"\par\smallskip", rf"\parbox{{\linewidth}}{{\footnotesize {notes}}}"]
    body.append(r"\end{table}")
    tex = "\n".join(body) + "\n"
    if not standalone:
        return tex
    return (
        "\\documentclass{article}\n"
        "% Latin Modern (vector) where installed; T1 without it would fall back to bitmap fonts.\n"
        "\\IfFileExists{lmodern.sty}{\\usepackage[T1]{fontenc}\\usepackage{lmodern}}{}\n"
        "\\usepackage[utf8]{inputenc}\n"
        f"\\usepackage[margin=1.5cm{',landscape' if ncol > 8 else ''}]{{geometry}}\n"
        "\\usepackage{booktabs,graphicx}\n"
        "\\pagestyle{empty}\n"
        "\\makeatletter\\setlength{\\@fptop}{0pt}\\makeatother % a lone float sits at the top\n"
        "\\begin{document}\n" + tex + "\\end{document}\n"
    )


def _md_escape(text: str) -> str:
    return text.replace("|", r"\|")


def _md_cell(cell: Cell) -> str:
    text = _md_escape(cell.text)
    if cell.bold:
        text = f"**{text}**"
    return text + cell.marker + (f" [{cell.note}]" if cell.note else "")


def _md_grid(header: Sequence[str], rows: Sequence[Sequence[Cell]], align: str) -> list[str]:
    rule = {"l": ":--", "c": ":-:", "r": "--:"}
    out = ["| " + " | ".join(_md_escape(h) for h in header) + " |"]
    columns = re.findall(r"[a-zA-Z](?:\{[^}]*\})?", align)  # "p{3cm}" (a wrapped LaTeX column) is one column
    out.append("|" + "|".join(rule.get(a, ":--" if a.startswith("p") else "---") for a in columns) + "|")
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return out


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown: caption, the measured table, the reported block as its own
    table under its own heading (Markdown has no mid-table rules), then the notes."""
    out = [f"**Table.** {_md_escape(table.caption)}", ""]
    out += _md_grid(table.header, table.rows, table.align)
    if table.reported:
        out += ["", "*Reported in the literature (other protocols; not compared):*", ""]
        out += _md_grid(table.header, table.reported, table.align)
    for note in table.notes:
        out += ["", f"> {note}"]
    return "\n".join(out) + "\n"


def to_csv(table: Table) -> str:
    """The numbers behind the cells, unrounded and in stored units (fractions, not percent)."""
    buf = io.StringIO()
    table.data.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def write_latex(table: Table, path: str | Path, *, standalone: bool = False) -> Path:
    return write_text(path, to_latex(table, standalone=standalone))


def write_markdown(table: Table, path: str | Path) -> Path:
    return write_text(path, to_markdown(table))


def write_csv(table: Table, path: str | Path) -> Path:
    return write_text(path, to_csv(table))
