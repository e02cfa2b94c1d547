"""Paired significance tests over folds: is model A's score really different from model B's?

Two models scored on the same speaker-independent folds with the same seeds give *paired*
observations: fold 3 may be hard for every model, so comparing the two lists as independent
samples throws away most of the power. Every test here first pairs the scores by
``(fold, seed)`` (never by row order: a results table may come back sorted any way), then tests
the paired differences d_1..d_n.

- ``"corrected_ttest"`` (default): the corrected repeated k-fold t-test (Nadeau & Bengio 2003,
  "Inference for the generalization error"; Bouckaert & Frank 2004, "Evaluating the
  replicability of significance tests for comparing learning algorithms"). Fold scores are not
  independent: every pair of folds shares most of its training speakers, and every seed reuses
  the same folds, so the plain paired t-test underestimates the variance of the mean difference
  and rejects far too often. With n = k·r differences (k folds x r seeds), mean d̄ and sample
  variance σ̂² (ddof = 1), the statistic is ``t = d̄ / sqrt((1/n + n2/n1) σ̂²)`` with n - 1
  degrees of freedom, where n2/n1 is the test/train size ratio. The ratio comes from the clip
  counts of each fold when the results carry them (columns ``n_train`` / ``n_test``, averaged
  over the pairs), else 1/(k - 1) (k-fold CV with equal folds); the caption says which.
- ``"wilcoxon"``: Wilcoxon signed-rank, two-sided, via :func:`scipy.stats.wilcoxon`
  with ``method="auto"`` (the exact null distribution for n <= 50 distinct non-zero
  differences, exhaustive permutations for n <= 13 with ties or zeros). It assumes no normality,
  but it does assume independent pairs. Its price: with n pairs the smallest two-sided
  p-value it can ever return is 2 / 2**n, i.e. 0.0625 for 5 folds x 1 seed. That floor is
  reported (``min_p``) so a table can say why no marker appears, instead of implying "no
  difference".
- ``"ttest"``: the plain paired t-test (:func:`scipy.stats.ttest_rel`), which treats the
  n differences as independent; kept for comparison with older reports.

Every test also reports the difference of means with a 95% interval (``ci_low``,
``ci_high``): for the corrected test ``d̄ ± t_{0.975, n-1} sqrt((1/n + n2/n1) σ̂²)``, the interval
that test inverts; for ``"ttest"`` and ``"wilcoxon"`` the plain paired t interval
``d̄ ± t_{0.975, n-1} σ̂ / sqrt(n)`` (the Wilcoxon test has no interval for a *mean*; the t
interval is given so that every table shows one, and its caption says so).

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

TestName = Literal["corrected_ttest", "wilcoxon", "ttest"]
TESTS: tuple[str, ...] = ("corrected_ttest", "wilcoxon", "ttest")
DEFAULT_TEST = "corrected_ttest"
PAIR_KEYS: tuple[str, ...] = ("fold", "seed")  # what makes two scores a pair
SIZE_KEYS: tuple[str, ...] = ("n_train", "n_test")  # optional clip counts per (fold, seed) row
DEFAULT_MARKER = "†"
CONFIDENCE = 0.95

TEST_DESCRIPTIONS = {
    "corrected_ttest": "two-sided corrected repeated k-fold t-test (Nadeau & Bengio 2003; Bouckaert & Frank 2004)",
    "wilcoxon": "two-sided Wilcoxon signed-rank test",
    "ttest": "two-sided paired t-test",
}
# What the 95% interval of the mean difference is, per test (printed in captions).
INTERVAL_DESCRIPTIONS = {
    "corrected_ttest": "the corrected t interval, mean difference ± t(0.975, n − 1) × s × sqrt(1/n + n2/n1), s the standard deviation of the differences",
    "ttest": "the paired t interval, mean difference ± t(0.975, n − 1) × s / sqrt(n), s the standard deviation of the differences",
    "wilcoxon": (
        "the paired t interval, mean difference ± t(0.975, n − 1) × s / sqrt(n), s the standard deviation of the differences (the signed-rank test has no "
        "interval for a mean; this one ignores that folds share training speakers)"
    ),
}
RATIO_FROM_COUNTS = "clip counts"  # PairedTest.ratio_source values
RATIO_FROM_FOLDS = "1/(k − 1)"


@dataclass(frozen=True)
class PairedTest:
    """One paired comparison of ``model`` against ``reference`` on one metric."""

    model: str  # the model (or ablation variant) being tested
    reference: str  # what it is compared against: the best model, or the full model
    metric: str  # e.g. "uar"
    test: str  # "corrected_ttest" | "wilcoxon" | "ttest"
    statistic: float  # t (corrected or plain) or W (sum of ranks of the smaller sign); nan when untestable
    p_value: float  # raw two-sided p-value; 1.0 when every difference is zero; nan if n < 2
    p_adjusted: float  # after Holm correction across the family (== p_value for a single test)
    n: int  # number of (fold, seed) pairs both models have
    mean_difference: float  # mean of (model - reference) over the pairs
    min_p: float  # smallest p-value this test could return with these n pairs
    significant: bool  # p_adjusted < alpha
    marker: str  # ``DEFAULT_MARKER`` when significant, else ""
    ci_low: float = math.nan  # the interval of mean_difference (INTERVAL_DESCRIPTIONS[test])
    ci_high: float = math.nan
    confidence: float = CONFIDENCE
    ratio: float = math.nan  # n2/n1 (test / train size) of the corrected test; nan for the others
    ratio_source: str = ""  # RATIO_FROM_COUNTS or RATIO_FROM_FOLDS ("" when not used)
    reference_mean: float = math.nan  # mean of the reference over the same pairs

    @property
    def testable(self) -> bool:
        """False when there were too few pairs to run the test at all."""
        return not math.isnan(self.p_value)


def check_test(test: str) -> str:
    """``test`` if it names a known test, else a ConfigError listing them (checked before any
    training starts, so a typo in ``--test`` does not cost a whole benchmark)."""
    if test not in TESTS:
        raise ConfigError(f"unknown paired test '{test}'; choose one of {list(TESTS)}")
    return test


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
    datasets mixed in one frame) is an error, since the pairing would be ambiguous. When the
    frame carries clip counts (``n_train``, ``n_test``), the result has them too: the mean of
    the two models' counts for that (fold, seed), NaN where neither has one.
    """
    missing = [c for c in (row_key, "metric", "value", *pair_keys) if c not in tidy.columns]
    if missing:
        raise ConfigError(f"paired test: the results frame lacks column(s) {missing}; it has {list(tidy.columns)}")
    keys = list(pair_keys)
    sizes = [c for c in SIZE_KEYS if c in tidy.columns]
    sub = tidy[tidy["metric"] == metric]

    def scores(name: str) -> pd.DataFrame:
        rows = sub[sub[row_key] == name][keys + ["value"] + sizes]
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

    a = scores(model).rename(columns={"value": "model", **{c: f"{c}_model" for c in sizes}})
    b = scores(reference).rename(columns={"value": "reference", **{c: f"{c}_reference" for c in sizes}})
    out = a.merge(b, on=keys, how="inner").sort_values(keys).reset_index(drop=True)
    for c in sizes:
        both = out[[f"{c}_model", f"{c}_reference"]].apply(pd.to_numeric, errors="coerce")
        out[c] = both.where(both > 0).mean(axis=1)  # 0 or missing: an old result without counts
        out = out.drop(columns=[f"{c}_model", f"{c}_reference"])
    return out


def size_ratio(pairs: pd.DataFrame) -> tuple[float, str]:
    """The test/train size ratio n2/n1 of the corrected t-test, and where it came from.

    From the clip counts when the pairs carry them (the mean over pairs of n_test / n_train),
    else 1/(k − 1) with k the number of distinct folds among the pairs (k-fold CV with equal
    folds: each test fold is 1/k of the data, its training set the other (k − 1)/k; results
    cached before the counts were recorded). NaN when neither is known (one fold, no counts).
    """
    if all(c in pairs.columns for c in SIZE_KEYS):
        ratios = (pairs["n_test"] / pairs["n_train"]).replace([np.inf, -np.inf], np.nan).dropna()
        if len(ratios):
            return float(ratios.mean()), RATIO_FROM_COUNTS
    k = pairs["fold"].nunique() if "fold" in pairs.columns else len(pairs)
    return (1.0 / (k - 1), RATIO_FROM_FOLDS) if k >= 2 else (math.nan, RATIO_FROM_FOLDS)


def corrected_ttest(differences: Sequence[float] | np.ndarray, ratio: float) -> tuple[float, float]:
    """Nadeau & Bengio's corrected t statistic and two-sided p over n = k·r paired differences.

    ``t = mean / sqrt((1/n + ratio) · var)`` with ``var`` the sample variance (ddof = 1) and
    ``ratio`` = n2/n1 (test / train size); Student t with n − 1 degrees of freedom.
    """
    d = np.asarray(differences, dtype=float)
    n = len(d)
    if n < 2 or not math.isfinite(ratio) or ratio < 0:
        return math.nan, math.nan
    if not np.count_nonzero(d):
        return 0.0, 1.0
    var = float(d.var(ddof=1))
    mean = float(d.mean())
    if var == 0.0 or np.allclose(d, d[0]):
        return math.copysign(math.inf, mean), 0.0
    t = mean / math.sqrt((1.0 / n + ratio) * var)
    return float(t), float(min(1.0, 2.0 * stats.t.sf(abs(t), df=n - 1)))


def difference_interval(
    differences: Sequence[float] | np.ndarray,
    *,
    test: TestName = DEFAULT_TEST,
    ratio: float | None = None,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """The ``confidence`` interval of the mean paired difference matching ``test``.

    Corrected test: ``mean ± t_{(1+c)/2, n−1} sqrt((1/n + ratio) var)``; the others: the plain
    paired t interval ``mean ± t_{(1+c)/2, n−1} sqrt(var / n)``. (nan, nan) with fewer than two
    differences; a zero-width interval when every difference is the same.
    """
    check_test(test)
    d = np.asarray(differences, dtype=float)
    n = len(d)
    if n < 2:
        return math.nan, math.nan
    if test == "corrected_ttest":
        ratio = 1.0 / (n - 1) if ratio is None else ratio
        if not math.isfinite(ratio):
            return math.nan, math.nan
        factor = 1.0 / n + ratio
    else:
        factor = 1.0 / n
    mean = float(d.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, df=n - 1)) * math.sqrt(factor * float(d.var(ddof=1)))
    return mean - half, mean + half


def paired_test(
    values: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    *,
    test: TestName = DEFAULT_TEST,
    ratio: float | None = None,
) -> tuple[float, float, float]:
    """Test paired samples; return ``(statistic, p_value, min_p)``.

    Edge cases get an answer instead of scipy's warnings and NaNs: fewer than two pairs is
    untestable (nan, nan); all-zero differences mean "no evidence of any difference" (p = 1);
    a constant non-zero difference under a t-test has zero variance, t = ±inf and p = 0.
    ``ratio`` is the corrected test's n2/n1; without it the n pairs are taken to be the n folds
    of one k-fold cross-validation (n2/n1 = 1/(n − 1)).
    """
    check_test(test)
    a = np.asarray(values, dtype=float)
    b = np.asarray(reference, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ConfigError(f"paired test: need two 1-D arrays of equal length, got {a.shape} and {b.shape}")
    d = a - b
    n = len(d)
    if n < 2:
        return math.nan, math.nan, math.nan
    nonzero = int(np.count_nonzero(d))
    if test == "corrected_ttest":
        statistic, p = corrected_ttest(d, 1.0 / (n - 1) if ratio is None else ratio)
        return statistic, p, 0.0
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
    test: TestName = DEFAULT_TEST,
    alpha: float = 0.05,
    correction: Literal["holm", "none"] = "holm",
    higher_is_better: bool = True,
    marker: str = DEFAULT_MARKER,
    row_key: str = "model",
    pair_keys: Sequence[str] = PAIR_KEYS,
    ratio: float | None = None,
    confidence: float = CONFIDENCE,
) -> dict[str, PairedTest]:
    """Test every model against ``reference`` (default: the best by mean) on ``metric``.

    Returns one :class:`PairedTest` per *other* model, keyed by its name, with Holm-adjusted
    p-values across that family and the interval of each mean difference. This is the one call
    behind the "†" markers and the Δ intervals of both the comparison table (reference = best
    model per column) and the ablation table and forest plot (reference = the full model).
    ``ratio`` overrides the corrected test's n2/n1 (default: :func:`size_ratio` of each pair set).
    """
    check_test(test)
    if correction not in ("holm", "none"):
        raise ConfigError(f"unknown multiple-comparison correction '{correction}'; use 'holm' or 'none'")
    if models is None:
        models = list(dict.fromkeys(tidy.loc[tidy["metric"] == metric, row_key]))
    if reference is None:
        reference = best_model(tidy, metric, row_key=row_key, higher_is_better=higher_is_better, models=models)
    raw: dict[str, dict] = {}
    for name in models:
        if name == reference:
            continue
        pairs = pair_scores(tidy, name, reference, metric, row_key=row_key, pair_keys=pair_keys)
        d = (pairs["model"] - pairs["reference"]).to_numpy(dtype=float)
        r, source = (ratio, "given") if ratio is not None else size_ratio(pairs)
        if test != "corrected_ttest":
            r, source = math.nan, ""
        statistic, p, min_p = paired_test(pairs["model"].to_numpy(), pairs["reference"].to_numpy(), test=test,
                                          ratio=r if test == "corrected_ttest" else None)
        low, high = difference_interval(d, test=test, ratio=r if test == "corrected_ttest" else None, confidence=confidence)
        raw[name] = dict(statistic=statistic, p_value=p, min_p=min_p, n=len(pairs),
                         mean_difference=float(d.mean()) if len(d) else math.nan, ci_low=low, ci_high=high,
                         ratio=r, ratio_source=source,
                         reference_mean=float(pairs["reference"].mean()) if len(pairs) else math.nan)
    names = list(raw)
    ps = [raw[n]["p_value"] for n in names]
    adjusted = holm(ps) if correction == "holm" else ps
    out: dict[str, PairedTest] = {}
    for name, p_adj in zip(names, adjusted):
        significant = bool(not math.isnan(p_adj) and p_adj < alpha)
        out[name] = PairedTest(
            model=name, reference=reference, metric=metric, test=test, p_adjusted=p_adj,
            significant=significant, marker=marker if significant else "", confidence=confidence, **raw[name],
        )
    return out


def _ratio_text(tests: Iterable[PairedTest]) -> str:
    """", test/train size ratio n2/n1 = 0.25 (from the clip counts of each fold)" or ""."""
    used = [t for t in tests if t.test == "corrected_ttest" and t.ratio_source]
    if not used:
        return ""
    values = sorted({round(t.ratio, 3) for t in used if math.isfinite(t.ratio)})
    eq = "\u00a0=\u00a0"
    number = f"{values[0]:.3g}" if len(values) == 1 else (f"{values[0]:.3g}–{values[-1]:.3g}" if values else "unknown")
    sources = {t.ratio_source for t in used}
    why = {
        RATIO_FROM_COUNTS: "from the test and training clip counts of each fold, averaged over the pairs",
        RATIO_FROM_FOLDS: "1/(k\u00a0−\u00a01) for k folds; these results carry no clip counts",
        "given": "given",
    }
    reason = "; ".join(why.get(s, s) for s in sorted(sources))
    return f", test/train size ratio n2/n1{eq}{number} ({reason})"


def describe(
    test: TestName,
    *,
    alpha: float,
    correction: str,
    n_pairs: Sequence[int],
    marker: str,
    tests: Iterable[PairedTest] = (),
) -> str:
    """One sentence for a caption naming the test, its pairs, its correction and its level.

    ``tests`` (the PairedTests behind the caption) add the corrected test's n2/n1 and its source.
    """
    ns = sorted({n for n in n_pairs if n})
    eq = "\u00a0=\u00a0"  # non-breaking spaces keep "n = 10" on one line of a caption
    n_text = f"n{eq}{ns[0]}" if len(ns) == 1 else (f"n{eq}{ns[0]}–{ns[-1]}" if ns else f"n{eq}0")
    corr = ", Holm-corrected" if correction == "holm" else ""
    ratio = _ratio_text(tests) if test == "corrected_ttest" else ""
    return f"{marker}: {TEST_DESCRIPTIONS[test]} over {n_text} (fold, seed) pairs{ratio}{corr}, p\u00a0<\u00a0{alpha:g}"


def describe_interval(test: TestName, confidence: float = CONFIDENCE) -> str:
    """The caption's sentence on what the bracketed interval of a difference is."""
    return f"Brackets: {100 * confidence:g}% interval of the mean paired difference, {INTERVAL_DESCRIPTIONS[test]}."
