import math

import numpy as np
import pandas as pd
import pytest
from tests.support.tidy_frames import make_tidy

from bench.eval import significance as sig
from bench.errors import ConfigError


def test_clearly_better_model_gives_small_p_and_marker(tidy):
    res = sig.compare_against(tidy, "uar", test="wilcoxon")
    assert set(res) == {"auxformer", "self_attn"}
    t = res["auxformer"]
    assert t.reference == "deiii" and t.n == 10 and t.test == "wilcoxon"
    # all 10 paired differences negative: the exact two-sided p is 2 / 2**10
    assert t.p_value == pytest.approx(2 / 1024)
    assert t.significant and t.marker == sig.DEFAULT_MARKER
    assert t.mean_difference == pytest.approx(-0.10, abs=0.01)
    tt = sig.compare_against(tidy, "uar", test="ttest")["auxformer"]
    assert tt.p_value < 1e-6 and tt.statistic < 0


def test_identical_models_give_p_one_and_no_marker():
    df = make_tidy({"a": 0.6})
    twin = df.assign(model="b")
    res = sig.compare_against(pd.concat([df, twin]), "uar", reference="a")["b"]
    assert res.p_value == 1.0 and res.p_adjusted == 1.0 and not res.significant and res.marker == ""
    for test in sig.TESTS:
        assert sig.paired_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7], test=test)[1] == 1.0


def test_pairing_is_by_fold_and_seed_not_row_order():
    # b = a + 0.01 on every (fold, seed), while fold difficulty spreads scores by 0.2
    df = make_tidy({"a": 0.6}, noise=0.0)
    b = df.assign(model="b", value=df["value"] + 0.01)
    shuffled = pd.concat([df, b.sample(frac=1.0, random_state=3)], ignore_index=True)
    pairs = sig.pair_scores(shuffled, "b", "a", "uar")
    np.testing.assert_allclose(pairs["model"] - pairs["reference"], 0.01)
    t = sig.compare_against(shuffled, "uar", reference="a", test="wilcoxon")["b"]
    assert t.p_value == pytest.approx(2 / 1024) and t.significant
    # the same values paired by position would be nowhere near significant
    a_vals = shuffled[(shuffled.model == "a") & (shuffled.metric == "uar")]["value"].to_numpy()
    b_vals = shuffled[(shuffled.model == "b") & (shuffled.metric == "uar")]["value"].to_numpy()
    assert sig.paired_test(b_vals, a_vals, test="wilcoxon")[1] > 0.05


def test_only_common_pairs_are_used():
    df = make_tidy({"a": 0.6, "b": 0.7})
    df = df[~((df.model == "b") & (df.fold == 0))]  # b lost fold 0 (e.g. a failed fold)
    assert sig.compare_against(df, "uar", reference="b")["a"].n == 8


def test_holm_matches_hand_computation():
    assert sig.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert sig.holm([0.5]) == [0.5]
    out = sig.holm([0.02, math.nan, 0.9])
    assert out[0] == pytest.approx(0.04) and math.isnan(out[1]) and out[2] == pytest.approx(0.9)


def test_wilcoxon_floor_with_five_pairs_is_reported():
    df = make_tidy({"a": 0.6, "b": 0.9}, seeds=1)
    t = sig.compare_against(df, "uar", test="wilcoxon")["a"]
    assert t.n == 5 and t.min_p == pytest.approx(0.0625)
    assert t.p_value == pytest.approx(0.0625) and not t.significant  # perfect separation, still no marker
    assert sig.compare_against(df, "uar", test="ttest")["a"].significant


def test_edge_cases():
    assert all(math.isnan(x) for x in sig.paired_test([0.5], [0.4]))
    stat, p, _ = sig.paired_test([0.5, 0.6, 0.7], [0.4, 0.5, 0.6], test="ttest")
    assert p == 0.0 and stat == math.inf
    with pytest.raises(ConfigError, match="unknown paired test"):
        sig.paired_test([1, 2], [1, 2], test="anova")
    two = pd.concat([make_tidy({"a": 0.6, "b": 0.7}), make_tidy({"a": 0.6, "b": 0.7}, dataset="cremad")])
    with pytest.raises(ConfigError, match="several"):
        sig.compare_against(two, "uar")


def test_best_model_and_lower_is_better():
    df = make_tidy({"a": 0.6, "b": 0.7})
    assert sig.best_model(df, "uar") == "b"
    assert sig.best_model(df, "uar", higher_is_better=False) == "a"
