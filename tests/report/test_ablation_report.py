"""``bench ablate``'s report, without training: the runs are replaced by made-up fold results,
so this checks what the report writes (table with intervals, forest plot, index) in a second."""

import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

import bench.experiment as experiment
import bench.report.bundle as bundle
import bench.splits as splits
from bench.errors import ConfigError
from bench.report.ablation import ablate
from tests.support.fake_runs import run_each

LABELS = ["angry", "disgust", "sad", "fearful"]
EFFECT = {"full": 0.0, "no_flow": -0.25, "ov_add": 0.0}


def fold_result(variant: str, fold: int, seed: int):
    rng = np.random.default_rng(100 * fold + seed)
    uar = 0.7 + 0.03 * fold + EFFECT[variant] + rng.normal(0, 0.01)
    good = np.diag([10, 10, 10, 10])
    scores = {"accuracy": uar, "uar": uar, "macro_f1": uar}
    return SimpleNamespace(fold=f"fold{fold}", seed=seed, test=scores, confusion=good.tolist(), labels=LABELS,
                           n_train=120, n_test=40, test_by_head={"video": {**scores, "confusion": good.tolist()}},
                           robustness={})


@pytest.fixture
def fake_runs(monkeypatch):
    store = SimpleNamespace(manifest=None, key="store")
    monkeypatch.setattr("bench.data.open.open_dataset", lambda *a, **k: (store, "synthetic", True))
    monkeypatch.setattr(splits, "get_scheme", lambda *a, **k: SimpleNamespace(name="kfold", checksum="c" * 64))
    monkeypatch.setattr(bundle, "pdflatex_available", lambda: False)

    def run(model, dataset, *, overrides=None, seeds=(0,), folds=None, **kwargs):
        variant = "no_flow" if overrides.get("use_flow") is False else ("ov_add" if overrides else "full")
        finished = [fold_result(variant, f, s) for f in range(folds) for s in seeds]
        return SimpleNamespace(model=model, dataset=dataset, finished=finished, parent_run_id=None, protocol="",
                               resolved_config={"model": {"task": "classification"}})

    monkeypatch.setattr(experiment, "run_many", run_each(run))


def study(tmp_path):
    path = tmp_path / "ablation.toml"
    path.write_text(textwrap.dedent("""
        [study]
        kind = "ablation"
        model = "deiii"
        dataset = "synthetic"
        folds = 5
        seeds = [0, 1]
        heads = ["video"]
        [variants.full]
        [variants.no_flow]
        use_flow = false
        [variants.ov_add]
        ov_fusion = "add"
        [pairs]
        voice = ["angry", "disgust"]
    """))
    return path


class Quiet:
    def print(self, *args, **kwargs):
        pass


def test_ablation_report_writes_the_forest_plot_and_intervals(tmp_path, fake_runs):
    out = tmp_path / "report"
    result = ablate("deiii", study(tmp_path), out_dir=out, progress=False, console=Quiet(), command="bench ablate --model deiii")
    for fmt in ("png", "pdf"):
        assert (out / f"forest-deiii.{fmt}").stat().st_size > 1000
        assert (out / f"variants-uar.{fmt}").exists()
    assert result.paths["forest"]["pdf"] == out / "forest-deiii.pdf"
    index = (out / "index.md").read_text()
    assert "(forest-deiii.png)" in index and "Forest plot" in index
    table = (out / "ablation.md").read_text()
    # the default test, named with its ratio from the clip counts (40 / 120)
    assert "corrected repeated k-fold t-test (Nadeau & Bengio 2003" in table
    assert "n2/n1\u00a0=\u00a00.333 (from the test and training clip counts" in table
    no_flow = next(line for line in table.splitlines() if line.startswith("| no_flow"))
    assert "† | −25.0 [" in no_flow  # the marker on the mean and the interval in the Δ cell


def test_ablation_report_with_wilcoxon_and_a_bad_test_name(tmp_path, fake_runs):
    out = tmp_path / "report"
    ablate("deiii", study(tmp_path), out_dir=out, progress=False, console=Quiet(), test="wilcoxon")
    table = (out / "ablation.md").read_text()
    assert "Wilcoxon signed-rank" in table and "paired t interval" in table and "Nadeau" not in table
    with pytest.raises(ConfigError, match=r"unknown paired test 'anova'; choose one of"):
        ablate("deiii", study(tmp_path), out_dir=out, progress=False, console=Quiet(), test="anova")
