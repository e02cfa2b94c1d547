"""End to end through the ``bench`` command on a tiny synthetic corpus: run (and its resume),
compare, ablate and sweep, each writing what a researcher would look at."""

from __future__ import annotations

import json
import textwrap

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from bench.cli import _load_commands, app

pytestmark = pytest.mark.slow
TINY = ["--set", "train.epochs=1", "--folds", "2", "--no-progress"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from bench.data.synth import SynthConfig, generate_corpus

    root = tmp_path_factory.mktemp("tiny_synth") / "corpus"
    return generate_corpus(root, SynthConfig(actors=4, clips_per_class=1, duration_s=1.2), progress=False)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENCH_REPORTS", str(tmp_path / "reports"))
    monkeypatch.chdir(tmp_path)
    _load_commands()
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_run_tracks_and_resumes(cli, corpus, tmp_path):
    first = cli("run", "--model", "deiii", "--dataset", "synthetic", "--root", str(corpus), *TINY)
    assert "SYNTHETIC" in first and "uar" in first
    second = cli("run", "--model", "deiii", "--dataset", "synthetic", "--root", str(corpus), *TINY)
    assert second.count("reusing the cached result") == 2  # no fold retrained
    client = MlflowClient(f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 2 and all(r.data.tags["split_checksum"] for r in parents)
    assert "uar_mean" in " ".join(parents[0].data.metrics) or any("uar" in k for k in parents[0].data.metrics)


def test_compare_writes_tables_and_figures(cli, corpus, tmp_path):
    cli("compare", "--models", "deiii", "auxformer", "--dataset", "synthetic", "--root", str(corpus), *TINY, "--seeds", "0")
    out = tmp_path / "reports" / "compare-synthetic"
    for name in ("comparison.tex", "comparison.md", "comparison.csv", "robustness.md", "index.md",
                 "confusion-deiii.png", "curves-auxformer.pdf", "attention-deiii.png"):
        assert (out / name).exists(), name
    table = (out / "comparison.md").read_text()
    assert "deiii" in table and "auxformer" in table and "synthetic" in table.lower()


def test_ablate_and_sweep(cli, corpus, tmp_path):
    study = tmp_path / "ablation.toml"
    study.write_text(textwrap.dedent(
        f"""
        [study]
        kind = "ablation"
        model = "deiii"
        dataset = "synthetic"
        root = "{corpus}"
        folds = 2
        heads = ["video", "audio"]
        [overrides.deiii]
        "train.epochs" = 1
        [variants.full]
        [variants.no_flow]
        use_flow = false
        [pairs]
        motion = ["sad", "fearful"]
        """
    ))
    cli("ablate", "--model", "deiii", "--study", str(study), "--no-progress")
    table = (tmp_path / "reports" / "ablation-deiii-synthetic" / "ablation.md").read_text()
    for row in ("full (reference)", "no_flow", "head_video", "motion pair"):
        assert row in table

    sweep_study = tmp_path / "sweep.toml"
    sweep_study.write_text(textwrap.dedent(
        f"""
        [study]
        kind = "sweep"
        model = "deiii"
        dataset = "synthetic"
        root = "{corpus}"
        inner_folds = 2
        [overrides.deiii]
        "train.epochs" = 1
        [space.lr]
        type = "float"
        low = 1e-4
        high = 1e-2
        log = true
        target = "train.lr"
        """
    ))
    best = tmp_path / "best.toml"
    output = cli("sweep", "--study", str(sweep_study), "--trials", "2", "--out", str(best))
    assert "best configuration written" in output and best.exists()
    cli("run", "--model", "deiii", "--dataset", "synthetic", "--root", str(corpus), "--config", str(best), *TINY)
