import io
import math

import pandas as pd
import pytest
from tests.support.tidy_frames import make_tidy

from bench.report import tables as T
from bench.errors import ConfigError


def fixed(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """Exact scores: (model, metric) -> one value per fold (seed 0)."""
    rows = [
        dict(model=m, dataset="ravdess", fold=f, seed=0, metric=metric, value=v)
        for (m, metric), vs in values.items()
        for f, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


def cell(table, row, header):
    return table.rows[table.row_names.index(row)][table.header.index(header)]


def test_cells_format_percent_and_ccc():
    df = fixed({("a", "uar"): [0.70, 0.72], ("a", "ccc_mean"): [-0.1234, -0.1], ("b", "uar"): [0.5, 0.5], ("b", "ccc_mean"): [0.2, 0.3]})
    t = T.comparison_table(df)
    assert t.header == ["Model", "UAR (%)", "CCC (mean)", "Δ UAR vs best [95% CI]"]
    assert cell(t, "a", "UAR (%)").text == "71.0 ± 1.4"
    assert cell(t, "a", "CCC (mean)").text == "−0.112 ± 0.017"  # std = 0.0234 / sqrt(2)
    assert cell(t, "b", "CCC (mean)").text == "0.250 ± 0.071"


def test_bold_best_per_column_and_ties():
    # a and b print as 65.4 (tie at printed precision), c is lower; on macro_f1 only c is best
    df = fixed({
        ("a", "uar"): [0.6543, 0.6543], ("b", "uar"): [0.6541, 0.6541], ("c", "uar"): [0.60, 0.60],
        ("a", "macro_f1"): [0.5, 0.5], ("b", "macro_f1"): [0.5, 0.5], ("c", "macro_f1"): [0.8, 0.8],
    })  # fmt: skip
    t = T.comparison_table(df)
    assert [cell(t, m, "UAR (%)").bold for m in "abc"] == [True, True, False]
    assert [cell(t, m, "Macro-F1 (%)").bold for m in "abc"] == [False, False, True]
    assert r"\textbf{\boldmath 65.4" in T.to_latex(t)
    assert t.data.set_index("model").loc["c", "macro_f1_best"]


def test_marker_on_significantly_worse_models_only(tidy):
    t = T.comparison_table(tidy, test="wilcoxon")
    assert cell(t, "auxformer", "UAR (%)").marker == "†"
    assert cell(t, "deiii", "UAR (%)").marker == ""
    assert cell(t, "deiii", "UAR (%)").bold
    assert "Wilcoxon signed-rank" in t.caption and "Holm" in t.caption and "n\u00a0=\u00a010" in t.caption
    assert "5 folds × 2 seeds" in t.caption
    d = t.data.set_index("model")
    assert d.loc["auxformer", "uar_significant"] and d.loc["auxformer", "uar_p_holm"] < 0.05


def test_caption_says_when_the_test_cannot_reject():
    t = T.comparison_table(make_tidy({"a": 0.6, "b": 0.9}, seeds=1), test="wilcoxon")
    assert "cannot reach p\u00a0<\u00a00.05" in t.caption
    assert all(c.marker == "" for row in t.rows for c in row)


def test_ablation_delta_and_marker():
    df = fixed({
        ("full", "uar"): [0.70, 0.72, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86, 0.88],
        ("no_flow", "uar"): [0.65, 0.67, 0.69, 0.71, 0.73, 0.75, 0.77, 0.79, 0.81, 0.83],
        ("no_ife", "uar"): [0.71, 0.71, 0.75, 0.75, 0.79, 0.79, 0.83, 0.83, 0.87, 0.87],
        ("full", "ccc_mean"): [0.5] * 10, ("no_flow", "ccc_mean"): [0.512] * 10, ("no_ife", "ccc_mean"): [0.5] * 10,
    })  # fmt: skip
    t = T.ablation_table(df, reference="full", descriptions={"no_flow": "without optical flow"})
    assert t.header == ["Variant", "Change", "UAR (%)", "Δ", "CCC (mean)", "Δ"]
    assert t.row_names == ["full (reference)", "no_flow", "no_ife"]
    uar_delta = t.header.index("Δ")
    assert t.rows[0][uar_delta].text == "—"
    # a constant difference: a zero-width interval
    assert t.rows[1][uar_delta].text == "−5.0 [−5.0, −5.0]" and t.rows[1][uar_delta - 1].marker == "†"
    assert t.rows[2][uar_delta].text.startswith("0.0 [−") and t.rows[2][uar_delta - 1].marker == ""
    assert t.rows[1][-1].text == "+0.012 [0.012, 0.012]"
    assert t.rows[1][1].text == "without optical flow"
    d = t.data.set_index("model")
    assert d.loc["no_flow", "uar_delta"] == pytest.approx(-0.05)
    assert d.loc["full", "block"] == "reference"
    assert "$\\Delta$" in T.to_latex(t)


def test_latex_escaping():
    assert T.latex_escape("a_b 50% & #1 $x {y} ~ ^") == r"a\_b 50\% \& \#1 \$x \{y\} \textasciitilde{} \textasciicircum{}"
    assert T.latex_escape("back\\slash") == r"back\textbackslash{}slash"
    assert T.latex_escape("p < 0.05 | 81.6 ± 1.2†") == r"p $<$ 0.05 \textbar{} 81.6 $\pm$ 1.2\dag{}"
    df = fixed({("self_attn&co #2", "uar"): [0.5, 0.6], ("x", "uar"): [0.4, 0.4]})
    tex = T.to_latex(T.comparison_table(df, caption="Scores in % on set_1"))
    assert r"self\_attn\&co \#2" in tex and "self_attn" not in tex
    assert r"Scores in \% on set\_1" in tex
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\begin{table}" in tex and r"\label{tab:compare-ravdess}" in tex and "\\caption{" in tex


def test_reported_rows_are_separate_and_never_compared(tidy):
    rep = T.ReportedRow("SAF (ia)", {"accuracy": 0.99, "uar": 0.99}, "Chumachenko et al., ICPR 2022", parameters=1_854_766, note="own folds")
    t = T.comparison_table(tidy, reported=[rep])
    assert len(t.rows) == 3 and len(t.reported) == 1
    assert all(not c.bold and not c.marker for c in t.reported[0])
    assert cell(t, "deiii", "UAR (%)").bold  # the measured best stays best despite the 99 %
    assert "SAF (ia)" not in {name for per in t.tests.values() for name in per}
    assert t.reported[0][1].text == "reported" and t.reported[0][1].note == "a"
    assert t.reported[0][t.header.index("Params (M)")].text == "1.855"
    tex = T.to_latex(t)
    measured_end = tex.index("self\\_attn")
    assert tex.index("Reported in the literature") > measured_end
    assert tex.index("SAF (ia)") > tex.index("Reported in the literature")
    assert "[a] Chumachenko et al., ICPR 2022" in tex and "not compared" in tex
    md = T.to_markdown(t)
    assert md.index("*Reported in the literature") < md.index("| SAF (ia)")
    assert "**99.0" not in md
    d = t.data.set_index("model")
    assert d.loc["SAF (ia)", "block"] == "reported" and d.loc["SAF (ia)", "citation"].startswith("Chumachenko")
    assert pd.isna(d.loc["SAF (ia)"].get("uar_best")) or not d.loc["SAF (ia)", "uar_best"]


def test_reported_percentages_are_rejected(tidy):
    with pytest.raises(ConfigError, match="looks like a percentage"):
        T.comparison_table(tidy, reported=[T.ReportedRow("X", {"accuracy": 81.58}, "Someone 2022")])
    with pytest.raises(ConfigError, match="none of the table's metrics"):
        T.comparison_table(tidy, reported=[T.ReportedRow("X", {"ccc_mean": 0.5}, "Someone 2022")])


def test_markdown_and_csv_content(tidy):
    t = T.comparison_table(tidy, parameters={"deiii": 12_345_678}, inference_ms={"deiii": 4.56})
    md = T.to_markdown(t)
    lines = md.splitlines()
    assert lines[0].startswith("**Table.**")
    assert "| Model | Acc. (%) | UAR (%) | Δ UAR vs best [95% CI] | Params (M) | ms / clip |" in md
    deiii = next(l for l in lines if l.startswith("| deiii"))
    assert "**" in deiii and "12.346" in deiii and "4.6" in deiii
    aux = next(l for l in lines if l.startswith("| auxformer"))
    assert "†" in aux and "| – | – |" in aux
    back = pd.read_csv(io.StringIO(T.to_csv(t)))
    assert list(back["model"]) == ["deiii", "auxformer", "self_attn"]
    expected = tidy[(tidy.model == "auxformer") & (tidy.metric == "uar")]["value"]
    row = back.set_index("model").loc["auxformer"]
    assert row["uar_mean"] == pytest.approx(expected.mean()) and row["uar_std"] == pytest.approx(expected.std(ddof=1))
    assert row["uar_n"] == 10 and bool(row["uar_significant"])
    assert back.set_index("model").loc["deiii", "parameters"] == 12_345_678


def test_extras_from_the_tidy_frame_and_synthetic_flag(tidy):
    extra = pd.DataFrame([dict(model="deiii", dataset="ravdess", fold=0, seed=0, metric="parameters", value=1_162_712.0)])
    t = T.comparison_table(pd.concat([tidy, extra]), synthetic=True)
    assert "Params (M)" in t.header and "parameters" not in t.header
    assert cell(t, "deiii", "Params (M)").text == "1.163"
    assert "synthetic corpus" in t.caption and T.SYNTHETIC_NOTE in t.notes
    assert "say nothing about recognising human emotion" in T.to_latex(t)


def test_dataset_selection_and_errors(tidy):
    both = pd.concat([tidy, tidy.assign(dataset="cremad")])
    with pytest.raises(ConfigError, match="mix datasets"):
        T.comparison_table(both)
    assert "cremad" in T.comparison_table(both, dataset="cremad").caption
    with pytest.raises(ConfigError, match="no scores for metric"):
        T.comparison_table(tidy, ["ccc_mean"])
    with pytest.raises(ConfigError, match="has no results"):
        T.ablation_table(tidy, reference="nope")


def test_single_score_prints_mean_only():
    t = T.comparison_table(fixed({("a", "uar"): [0.5], ("b", "uar"): [0.6]}))
    assert cell(t, "b", "UAR (%)").text == "60.0" and cell(t, "b", "UAR (%)").bold
    assert math.isnan(t.tests["uar"]["a"].p_value) and cell(t, "a", "UAR (%)").marker == ""
