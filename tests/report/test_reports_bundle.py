import pandas as pd
import pytest
from tests.support.tidy_frames import make_tidy

from bench.report import plots as P
from bench.report import bundle as R
from bench.report import tables as T
from bench.errors import BenchError


def test_write_table_all_formats(tmp_path, tidy):
    paths = R.write_table(tidy, tmp_path, "compare", synthetic=True)
    assert set(paths) == {"tex", "standalone", "md", "csv"}
    assert paths["standalone"].name == "compare.standalone.tex"
    assert "\\documentclass" in paths["standalone"].read_text() and "\\documentclass" not in paths["tex"].read_text()
    assert "synthetic corpus" in paths["md"].read_text()
    assert list(pd.read_csv(paths["csv"])["model"]) == ["deiii", "auxformer", "self_attn"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())
    with pytest.raises(BenchError, match="unknown format"):
        R.write_table(tidy, tmp_path, "x", formats=["docx"])
    with pytest.raises(BenchError, match="only apply"):
        R.write_table(T.comparison_table(tidy), tmp_path, "x", synthetic=True)


def test_bundle_index_lists_everything_and_the_command(tmp_path, tidy):
    command = "bench compare --dataset synthetic --models deiii,auxformer --seeds 0,1"
    bundle = R.ReportBundle(tmp_path / "compare-synthetic", title="Synthetic comparison", command=command, provenance={"git commit": "abc123"})
    bundle.table(tidy, "compare", description="Models against baselines", synthetic=True)
    ablation = T.ablation_table(make_tidy({"full": 0.7, "no_flow": 0.65}), reference="full")
    bundle.table(ablation, "ablation")
    fig = P.plot_fold_scores(tidy, "uar", bundle.out_dir, "folds-uar")
    bundle.figure(fig, "UAR per fold")
    index = bundle.write_index(generated="2026-01-01 00:00 UTC")
    text = index.read_text()
    assert index == tmp_path / "compare-synthetic" / "index.md"
    assert f"```bash\n{command}\n```" in text and "abc123" in text and "2026-01-01" in text
    for name in ["compare.tex", "compare.standalone.tex", "compare.md", "compare.csv", "ablation.csv", "folds-uar.png", "folds-uar.pdf"]:
        assert f"]({name})" in text, name
        assert (bundle.out_dir / name).exists()
    assert "### Models against baselines" in text and "| deiii |" in text  # table shown inline
    assert "### Ablation of full" in text
    assert "![UAR per fold](folds-uar.png)" in text
    with pytest.raises(BenchError, match="do not exist"):
        bundle.figure({"png": tmp_path / "missing.png"}, "ghost")
