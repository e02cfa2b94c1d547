"""The corrected repeated k-fold t-test (Nadeau & Bengio 2003), its interval and its n2/n1."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.eval import significance as sig
from bench.errors import ConfigError

# 5 folds x 2 seeds of paired differences (model - reference), fixed by hand.
D = np.array([0.02, 0.05, -0.01, 0.04, 0.03, 0.00, 0.06, 0.01, 0.02, 0.03])
FOLDS, SEEDS = 5, 2


def frame(diffs=D, *, n_train=None, n_test=None) -> pd.DataFrame:
    """Tidy rows of a reference at 0.6 + fold difficulty and a model at reference + diff."""
    rows = []
    for i, d in enumerate(diffs):
        fold, seed = i // SEEDS, i % SEEDS
        base = 0.6 + 0.05 * fold
        extra = {} if n_train is None else {"n_train": n_train[i], "n_test": n_test[i]}
        rows.append(dict(model="ref", fold=fold, seed=seed, metric="uar", value=base, **extra))
        rows.append(dict(model="new", fold=fold, seed=seed, metric="uar", value=base + d, **extra))
    return pd.DataFrame(rows)


def hand_corrected(d: np.ndarray, ratio: float) -> tuple[float, float, float, float]:
    """t, p and the 95% interval written out: mean, ddof-1 variance, (1/n + n2/n1) correction."""
    n = len(d)
    mean = d.sum() / n
    var = ((d - mean) ** 2).sum() / (n - 1)
    se = math.sqrt((1.0 / n + ratio) * var)
    t = mean / se
    p = 2.0 * stats.t.sf(abs(t), df=n - 1)
    half = stats.t.ppf(0.975, df=n - 1) * se
    return t, p, mean - half, mean + half


def test_corrected_statistic_and_p_match_the_hand_computation():
    # no clip counts: n2/n1 falls back to 1/(k - 1) = 1/4 for k = 5 folds
    t_hand, p_hand, low_hand, high_hand = hand_corrected(D, 0.25)
    assert t_hand == pytest.approx(1.94461, abs=1e-4) and p_hand == pytest.approx(0.08369, abs=1e-4)
    res = sig.compare_against(frame(), "uar", reference="ref")["new"]
    assert res.test == "corrected_ttest" == sig.DEFAULT_TEST
    assert res.n == 10 and res.mean_difference == pytest.approx(0.025)
    assert res.statistic == pytest.approx(t_hand, rel=1e-9)
    assert res.p_value == pytest.approx(p_hand, rel=1e-9)
    assert res.ratio == pytest.approx(0.25) and res.ratio_source == sig.RATIO_FROM_FOLDS
    assert not res.significant and res.marker == ""
    # the interval: 0.025 ± 2.262 × sqrt((0.1 + 0.25) × 4.722e-4) = 0.025 ± 0.02908
    assert res.ci_low == pytest.approx(low_hand) and res.ci_high == pytest.approx(high_hand)
    assert res.ci_low == pytest.approx(0.025 - 0.029083, abs=1e-5) and res.ci_low < 0 < res.ci_high
    # the plain paired t-test on the same differences claims p = 0.0054: the correction matters
    plain = sig.compare_against(frame(), "uar", reference="ref", test="ttest")["new"]
    assert plain.p_value == pytest.approx(0.005417, abs=1e-5) and plain.significant
    half = stats.t.ppf(0.975, 9) * D.std(ddof=1) / math.sqrt(10)
    assert (plain.ci_low, plain.ci_high) == pytest.approx((0.025 - half, 0.025 + half))
    assert math.isnan(plain.ratio) and plain.ratio_source == ""


def test_ratio_from_clip_counts_is_averaged_over_the_pairs():
    n_train = [100] * 10
    n_test = [20, 30] * 5  # ratios 0.2 and 0.3: mean 0.25 would equal the fallback, so skew it
    n_test[0] = 10  # ratios: 0.1, then 0.3, 0.2, 0.3, ... -> mean 0.24
    ratio = float(np.mean(np.array(n_test) / np.array(n_train)))
    assert ratio == pytest.approx(0.24)
    res = sig.compare_against(frame(n_train=n_train, n_test=n_test), "uar", reference="ref")["new"]
    assert res.ratio == pytest.approx(0.24) and res.ratio_source == sig.RATIO_FROM_COUNTS
    t_hand, p_hand, low, high = hand_corrected(D, 0.24)
    assert res.statistic == pytest.approx(t_hand) and res.p_value == pytest.approx(p_hand)
    assert (res.ci_low, res.ci_high) == pytest.approx((low, high))


def test_old_results_without_counts_fall_back_to_one_over_k_minus_one():
    zeros = frame(n_train=[0] * 10, n_test=[0] * 10)  # FoldResult defaults of results cached before counts
    res = sig.compare_against(zeros, "uar", reference="ref")["new"]
    assert res.ratio == pytest.approx(1 / (FOLDS - 1)) and res.ratio_source == sig.RATIO_FROM_FOLDS
    three_folds = frame()[lambda df: df["fold"] < 3]
    assert sig.compare_against(three_folds, "uar", reference="ref")["new"].ratio == pytest.approx(0.5)
    one_fold = frame()[lambda df: df["fold"] == 0]  # seeds of one fold: n2/n1 unknown, untestable
    res = sig.compare_against(one_fold, "uar", reference="ref")["new"]
    assert math.isnan(res.ratio) and not res.testable and not res.significant
    assert sig.size_ratio(pd.DataFrame({"fold": [0, 1, 2, 3]})) == (pytest.approx(1 / 3), sig.RATIO_FROM_FOLDS)


def test_corrected_edge_cases():
    assert sig.corrected_ttest([0.0, 0.0, 0.0], 0.5) == (0.0, 1.0)
    assert sig.corrected_ttest([0.1, 0.1, 0.1], 0.5) == (math.inf, 0.0)
    assert sig.corrected_ttest([-0.1, -0.1], 0.5) == (-math.inf, 0.0)
    assert all(math.isnan(x) for x in sig.corrected_ttest([0.1], 0.5))
    assert sig.difference_interval([0.1, 0.1, 0.1]) == pytest.approx((0.1, 0.1))
    # an array without folds: its n pairs are taken as one n-fold CV (n2/n1 = 1/(n - 1))
    a, b = np.array([0.7, 0.8, 0.6, 0.75]), np.array([0.65, 0.8, 0.5, 0.7])
    t, p, min_p = sig.paired_test(a, b)
    assert (t, p) == pytest.approx(hand_corrected(a - b, 1 / 3)[:2]) and min_p == 0.0


def test_wilcoxon_and_ttest_remain_options_with_intervals(tidy):
    for test in ("wilcoxon", "ttest"):
        res = sig.compare_against(tidy, "uar", test=test)["auxformer"]
        assert res.test == test and res.significant and res.ci_high < 0
        d = sig.pair_scores(tidy, "auxformer", "deiii", "uar")
        diff = (d["model"] - d["reference"]).to_numpy()
        half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / math.sqrt(len(diff))
        assert (res.ci_low, res.ci_high) == pytest.approx((diff.mean() - half, diff.mean() + half))
    assert sig.compare_against(tidy, "uar", test="wilcoxon")["auxformer"].p_value == pytest.approx(2 / 1024)
    with pytest.raises(ConfigError, match=r"unknown paired test 'anova'; choose one of \['corrected_ttest', 'wilcoxon', 'ttest'\]"):
        sig.compare_against(tidy, "uar", test="anova")


def test_describe_names_the_test_and_the_ratio():
    tests = sig.compare_against(frame(), "uar", reference="ref")
    text = sig.describe("corrected_ttest", alpha=0.05, correction="holm", n_pairs=[10], marker="†", tests=tests.values())
    assert "corrected repeated k-fold t-test (Nadeau & Bengio 2003; Bouckaert & Frank 2004)" in text
    assert "n2/n1\u00a0=\u00a00.25" in text and "1/(k\u00a0−\u00a01)" in text and "Holm-corrected" in text
    counted = sig.compare_against(frame(n_train=[100] * 10, n_test=[25] * 10), "uar", reference="ref")
    text = sig.describe("corrected_ttest", alpha=0.05, correction="holm", n_pairs=[10], marker="†", tests=counted.values())
    assert "clip counts" in text and "1/(k" not in text
    assert "Wilcoxon" in sig.describe("wilcoxon", alpha=0.05, correction="holm", n_pairs=[10], marker="†")
    assert "sqrt(1/n + n2/n1)" in sig.describe_interval("corrected_ttest")
    assert "paired t interval" in sig.describe_interval("wilcoxon")


def test_cached_results_without_counts_still_load_and_fall_back(tmp_path):
    import json

    from bench.experiment import ExperimentResult
    from bench.train.result import FoldResult

    def results(model, shift, counts):
        out = []
        for fold in range(4):
            r = FoldResult(fold=f"f{fold}", seed=0, test={"uar": 0.6 + 0.05 * fold + shift + 0.01 * (fold % 2)},
                           n_train=150 if counts else 0, n_test=50 if counts else 0,
                           predictions=pd.DataFrame({"clip_id": ["c1"], "label": ["sad"], "predicted": ["sad"]}))
            folder = r.save(tmp_path / f"{model}-{fold}-{counts}")
            if not counts:  # a result.json written before the counts existed
                data = json.loads((folder / "result.json").read_text())
                del data["n_train"], data["n_test"]
                (folder / "result.json").write_text(json.dumps(data))
            out.append(FoldResult.load(folder))
        return ExperimentResult(model, "synthetic", out, {}, None, {})

    old = pd.concat([results("a", 0.0, False).tidy(), results("b", 0.02, False).tidy()])
    assert (old["n_train"] == 0).all()
    res = sig.compare_against(old, "uar", reference="a")["b"]
    assert res.ratio == pytest.approx(1 / 3) and res.ratio_source == sig.RATIO_FROM_FOLDS
    new = pd.concat([results("a", 0.0, True).tidy(), results("b", 0.02, True).tidy()])
    res = sig.compare_against(new, "uar", reference="a")["b"]
    assert res.ratio == pytest.approx(50 / 150) and res.ratio_source == sig.RATIO_FROM_COUNTS
