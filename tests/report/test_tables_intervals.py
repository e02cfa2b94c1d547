"""Tables name their test in the caption and show each difference with its 95% interval."""

import io

import pandas as pd
import pytest
from tests.support.tidy_frames import make_tidy

from bench.eval import significance as sig
from bench.errors import ConfigError
from bench.report import tables as T

DELTA = "Δ UAR vs best [95% CI]"


def cell(table, row, header):
    return table.rows[table.row_names.index(row)][table.header.index(header)]


def with_counts(df, n_train=160, n_test=40):
    return df.assign(n_train=n_train, n_test=n_test)


def test_comparison_caption_names_the_default_corrected_test_and_its_ratio(tidy):
    t = T.comparison_table(tidy)
    assert "corrected repeated k-fold t-test (Nadeau & Bengio 2003; Bouckaert & Frank 2004)" in t.caption
    assert "n2/n1\u00a0=\u00a00.25 (1/(k\u00a0−\u00a01) for k folds; these results carry no clip counts)" in t.caption
    assert "Holm-corrected" in t.caption and "corrected t interval" in t.caption
    counted = T.comparison_table(with_counts(tidy))
    assert "n2/n1\u00a0=\u00a00.25 (from the test and training clip counts of each fold" in counted.caption
    assert "no clip counts" not in counted.caption
    counted = T.comparison_table(with_counts(tidy, n_train=100, n_test=40))
    assert "n2/n1\u00a0=\u00a00.4 " in counted.caption
    for test, name in (("wilcoxon", "Wilcoxon signed-rank"), ("ttest", "two-sided paired t-test")):
        caption = T.comparison_table(tidy, test=test).caption
        assert name in caption and "Nadeau" not in caption and "n2/n1" not in caption
        assert "paired t interval" in caption


def test_comparison_delta_column_shows_the_interval_of_the_test(tidy):
    t = T.comparison_table(tidy)
    assert t.header[-1] == DELTA and "Δ UAR vs best: mean paired difference" in t.caption
    test = t.tests["uar"]["auxformer"]
    assert cell(t, "deiii", DELTA).text == "—"  # the best model is the reference
    expected = f"−{abs(test.mean_difference) * 100:.1f} [−{abs(test.ci_low) * 100:.1f}, −{abs(test.ci_high) * 100:.1f}]"
    assert cell(t, "auxformer", DELTA).text == expected
    assert test.ci_low < test.mean_difference < test.ci_high < 0
    row = pd.read_csv(io.StringIO(T.to_csv(t))).set_index("model").loc["auxformer"]
    assert row["uar_ci_low"] == pytest.approx(test.ci_low) and row["uar_ci_high"] == pytest.approx(test.ci_high)
    assert row["uar_delta"] == pytest.approx(test.mean_difference)
    # intervals=[] drops the column, intervals=["accuracy"] picks another metric
    assert DELTA not in T.comparison_table(tidy, intervals=[]).header
    assert "Δ Acc. vs best [95% CI]" in T.comparison_table(tidy, intervals=["accuracy"]).header
    with pytest.raises(ConfigError, match="not among the table's metrics"):
        T.comparison_table(tidy, intervals=["ccc_mean"])
    tex = T.to_latex(t)
    assert r"$\Delta$ UAR vs best [95\% CI]" in tex


def test_ablation_delta_cell_carries_the_interval_and_the_caption_names_the_test():
    df = make_tidy({"full": 0.7, "no_flow": 0.6, "no_ife": 0.7}, folds=5, seeds=3, noise=0.01)
    t = T.ablation_table(df, reference="full")
    test = t.tests["uar"]["no_flow"]
    delta = t.rows[1][t.header.index("UAR (%)") + 1].text
    assert delta == f"−{abs(test.mean_difference) * 100:.1f} [−{abs(test.ci_low) * 100:.1f}, −{abs(test.ci_high) * 100:.1f}]"
    assert "corrected repeated k-fold t-test" in t.caption and "n\u00a0=\u00a015" in t.caption
    assert "with its 95% interval in brackets" in t.caption
    assert "Wilcoxon" in T.ablation_table(df, reference="full", test="wilcoxon").caption
    with pytest.raises(ConfigError, match="unknown paired test 'anova'"):
        T.ablation_table(df, reference="full", test="anova")
    with pytest.raises(ConfigError, match="unknown paired test 'anova'"):
        T.comparison_table(df, test="anova")


def test_the_corrected_test_is_more_cautious_than_the_plain_t_test():
    # 5 folds x 3 seeds, a small effect: the plain paired t-test calls it, the corrected one does not
    df = make_tidy({"a": 0.700, "b": 0.692}, folds=5, seeds=3, noise=0.01, seed=1)
    plain = T.comparison_table(df, test="ttest").tests["uar"]["b"]
    corrected = T.comparison_table(df).tests["uar"]["b"]
    assert plain.significant and plain.p_value == pytest.approx(0.0105, abs=1e-3)
    assert not corrected.significant and corrected.p_value == pytest.approx(0.197, abs=1e-3)
    assert (corrected.ci_high - corrected.ci_low) > (plain.ci_high - plain.ci_low)
    assert corrected.test == sig.DEFAULT_TEST == "corrected_ttest"
