"""Paired significance tests over folds: is model A's score really different from model B's?

Two models scored on the same speaker-independent folds with the same seeds give *paired*
observations: fold 3 may be hard for every model, so comparing the two lists as independent
samples throws away most of the power. Every test here first pairs the scores by
``(fold, seed)`` (never by row order: a results table may come back sorted any way), then tests
the paired differences.

- ``"wilcoxon"`` (default): Wilcoxon signed-rank, two-sided, via :func:`scipy.stats.wilcoxon`
  with ``method="auto"`` (the exact null distribution for n <= 50 distinct non-zero
  differences, exhaustive permutations for n <= 13 with ties or zeros). It assumes no normality,
  which five or ten fold scores cannot justify. Its price: with n pairs the smallest two-sided
  p-value it can ever return is 2 / 2**n, i.e. 0.0625 for 5 folds x 1 seed. That floor is
  reported (``min_p``) so a table can say why no marker appears, instead of implying "no
  difference".
- ``"ttest"``: paired t-test (:func:`scipy.stats.ttest_rel`), for those who want the parametric
  test or have too few pairs for the signed-rank test to ever reject.

When several models are compared against the best one (or ablation variants against the full
model), the family of p-values is Holm-corrected (Holm 1979: uniformly more powerful than
Bonferroni and valid under any dependence between the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from bench.errors import ConfigError

TestName = Literal["wilcoxon", "ttest"]
TESTS: tuple[str, ...] = ("wilcoxon", "ttest")
PAIR_KEYS: tuple[str, ...] = ("fold", "seed")  # what makes two scores a pair
DEFAULT_MARKER = "†"

TEST_DESCRIPTIONS = {
    "wilcoxon": "two-sided Wilcoxon signed-rank test",
    "ttest": "two-sided paired t-test",
}


@dataclass(frozen=True)
class PairedTest:
    """One paired comparison of ``model`` against ``reference`` on one metric."""

    model: str  # the model (or ablation variant) being tested
    reference: str  # what it is compared against: the best model, or the full model
    metric: str  # e.g. "uar"
    test: str  # "wilcoxon" | "ttest"
    statistic: float  # W (sum of ranks of the smaller sign) or t; nan when untestable
    p_value: float  # raw two-sided p-value; 1.0 when every difference is zero; nan if n < 2
    p_adjusted: float  # after Holm correction across the family (== p_value for a single test)
    n: int  # number of (fold, seed) pairs both models have
    mean_difference: float  # mean of (model - reference) over the pairs
    min_p: float  # smallest p-value this test could return with these n pairs
    significant: bool  # p_adjusted < alpha
    marker: str  # ``DEFAULT_MARKER`` when significant, else ""

    @property
    def testable(self) -> bool:
        """False when there were too few pairs to run the test at all."""
        return not math.isnan(self.p_value)


def pair_scores(
    tidy: pd.DataFrame,
    model: str,
    reference: str,
    metric: str,
    *,
    row_key: str = "model",
    pair_keys: Sequence[str] = PAIR_KEYS,
) -> pd.DataFrame:
    """Return the scores of ``model`` and ``reference`` aligned on ``pair_keys``.

    The result has the pair keys plus columns ``model`` and ``reference`` (the two values),
    only for keys both have, sorted by key. A key that appears twice for one model (e.g. two
    datasets mixed in one frame) is an error, since the pairing would be ambiguous.
    """
    missing = [c for c in (row_key, "metric", "value", *pair_keys) if c not in tidy.columns]
    if missing:
        raise ConfigError(f"paired test: the results frame lacks column(s) {missing}; it has {list(tidy.columns)}")
    keys = list(pair_keys)
    sub = tidy[tidy["metric"] == metric]

    def scores(name: str) -> pd.DataFrame:
        rows = sub[sub[row_key] == name][keys + ["value"]]
        if rows.empty:
            raise ConfigError(f"paired test: no '{metric}' scores for {row_key} '{name}'")
        dup = rows.duplicated(subset=keys)
        if dup.any():
            first = rows[dup].iloc[0][keys].to_dict()
            raise ConfigError(
                f"paired test: {row_key} '{name}' has several '{metric}' scores for {first}; "
                "select one dataset (and one condition) before testing"
            )
        return rows

    a = scores(model).rename(columns={"value": "model"})
    b = scores(reference).rename(columns={"value": "reference"})
    return a.merge(b, on=keys, how="inner").sort_values(keys).reset_index(drop=True)


def paired_test(
    values: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    *,
    test: TestName = "wilcoxon",
) -> tuple[float, float, float]:
    """Test paired samples; return ``(statistic, p_value, min_p)``.

    Edge cases get an answer instead of scipy's warnings and NaNs: fewer than two pairs is
    untestable (nan, nan); all-zero differences mean "no evidence of any difference" (p = 1);
    a constant non-zero difference under the t-test has zero variance, t = ±inf and p = 0.
    """
    if test not in TESTS:
        raise ConfigError(f"unknown paired test '{test}'; choose one of {list(TESTS)}")
    a = np.asarray(values, dtype=float)
    b = np.asarray(reference, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ConfigError(f"paired test: need two 1-D arrays of equal length, got {a.shape} and {b.shape}")
    d = a - b
    n = len(d)
    if n < 2:
        return math.nan, math.nan, math.nan
    nonzero = int(np.count_nonzero(d))
    if test == "wilcoxon":
        min_p = min(1.0, 2.0 / 2.0**nonzero) if nonzero else 1.0
        if nonzero == 0:
            return 0.0, 1.0, min_p
        result = stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided", method="auto")
        return float(result.statistic), float(min(1.0, result.pvalue)), min_p
    # paired t-test
    if nonzero == 0:
        return 0.0, 1.0, 0.0
    if np.allclose(d, d[0]):
        return math.copysign(math.inf, d[0]), 0.0, 0.0
    result = stats.ttest_rel(a, b, alternative="two-sided")
    return float(result.statistic), float(result.pvalue), 0.0


def holm(p_values: Iterable[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order; NaNs stay NaN and are not counted.

    Sorted ascending, the k-th (0-based) of m p-values is multiplied by (m - k), clipped at 1,
    and made monotone so that a larger raw p never gets a smaller adjusted one.
    """
    p = list(p_values)
    valid = [i for i, v in enumerate(p) if not math.isnan(v)]
    m = len(valid)
    adjusted = [math.nan] * len(p)
    running = 0.0
    for k, i in enumerate(sorted(valid, key=lambda j: p[j])):
        running = max(running, min(1.0, (m - k) * p[i]))
        adjusted[i] = running
    return adjusted


def best_model(
    tidy: pd.DataFrame,
    metric: str,
    *,
    row_key: str = "model",
    higher_is_better: bool = True,
    models: Sequence[str] | None = None,
) -> str:
    """The model with the best mean ``metric``; ties go to the first in ``models`` order."""
    sub = tidy[tidy["metric"] == metric]
    means = sub.groupby(row_key, sort=False)["value"].mean()
    order = list(models) if models is not None else list(means.index)
    candidates = [(m, means[m]) for m in order if m in means.index and not math.isnan(means[m])]
    if not candidates:
        raise ConfigError(f"no '{metric}' scores to pick a best {row_key} from")
    sign = 1.0 if higher_is_better else -1.0
    best_value = max(sign * v for _, v in candidates)
    return next(m for m, v in candidates if sign * v == best_value)


def compare_against(
    tidy: pd.DataFrame,
    metric: str,
    *,
    reference: str | None = None,
    models: Sequence[str] | None = None,
    test: TestName = "wilcoxon",
    alpha: float = 0.05,
    correction: Literal["holm", "none"] = "holm",
    higher_is_better: bool = True,
    marker: str = DEFAULT_MARKER,
    row_key: str = "model",
    pair_keys: Sequence[str] = PAIR_KEYS,
) -> dict[str, PairedTest]:
    """Test every model against ``reference`` (default: the best by mean) on ``metric``.

    Returns one :class:`PairedTest` per *other* model, keyed by its name, with Holm-adjusted
    p-values across that family. This is the one call behind the "†" markers of both the
    comparison table (reference = best model per column) and the ablation table (reference =
    the full model).
    """
    if correction not in ("holm", "none"):
        raise ConfigError(f"unknown multiple-comparison correction '{correction}'; use 'holm' or 'none'")
    if models is None:
        models = list(dict.fromkeys(tidy.loc[tidy["metric"] == metric, row_key]))
    if reference is None:
        reference = best_model(tidy, metric, row_key=row_key, higher_is_better=higher_is_better, models=models)
    raw: dict[str, tuple[float, float, float, int, float]] = {}
    for name in models:
        if name == reference:
            continue
        pairs = pair_scores(tidy, name, reference, metric, row_key=row_key, pair_keys=pair_keys)
        statistic, p, min_p = paired_test(pairs["model"].to_numpy(), pairs["reference"].to_numpy(), test=test)
        diff = float((pairs["model"] - pairs["reference"]).mean()) if len(pairs) else math.nan
        raw[name] = (statistic, p, min_p, len(pairs), diff)
    names = list(raw)
    ps = [raw[n][1] for n in names]
    adjusted = holm(ps) if correction == "holm" else ps
    out: dict[str, PairedTest] = {}
    for name, p_adj in zip(names, adjusted):
        statistic, p, min_p, n, diff = raw[name]
        significant = bool(not math.isnan(p_adj) and p_adj < alpha)
        out[name] = PairedTest(
            model=name,
            reference=reference,
            metric=metric,
            test=test,
            statistic=statistic,
            p_value=p,
            p_adjusted=p_adj,
            n=n,
            mean_difference=diff,
            min_p=min_p,
            significant=significant,
            marker=marker if significant else "",
        )
    return out


def describe(test: TestName, *, alpha: float, correction: str, n_pairs: Sequence[int], marker: str) -> str:
    """One sentence for a caption naming the test, its pairs, its correction and its level."""
    ns = sorted({n for n in n_pairs if n})
    eq = "\u00a0=\u00a0"  # non-breaking spaces keep "n = 10" on one line of a caption
    n_text = f"n{eq}{ns[0]}" if len(ns) == 1 else (f"n{eq}{ns[0]}–{ns[-1]}" if ns else f"n{eq}0")
    corr = ", Holm-corrected" if correction == "holm" else ""
    return f"{marker}: {TEST_DESCRIPTIONS[test]} over {n_text} (fold, seed) pairs{corr}, p\u00a0<\u00a0{alpha:g}"
