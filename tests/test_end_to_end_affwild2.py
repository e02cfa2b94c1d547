"""End to end on a tiny synthetic Aff-Wild2 corpus (``bench synth --layout affwild2``) through the
``bench`` command: run RJA on the frame-level task, compare it with DE-III, and run the shipped
RJA recursion study (1 fold, 1 seed, 1 epoch), each scored with ABAW's CCC.

Models run at test sizes (tests/models/test_all_models.TINY) and one epoch: the numbers mean
nothing, the path does. The corpus is prepared once for the module (shared bench home), and the
RJA configuration is the same in all three commands, so the later ones reuse its cached result.
"""

from __future__ import annotations

import json
import math
import tomllib

import pandas as pd
import pytest
import tomli_w
from typer.testing import CliRunner

from bench.cli import _load_commands, app
from tests.models.test_all_models import TINY

pytestmark = pytest.mark.slow
CCC_KEYS = {"ccc_valence", "ccc_arousal", "ccc_mean", "ccc_video_valence", "ccc_video_arousal", "ccc_video_mean"}
RJA_TINY = {k: v for k, v in TINY["rja"].items() if k != "video_dim"}  # video_dim: features only
DEIII_TINY = TINY["deiii"]
# one epoch, no robustness pass (the trainer tests cover it on task "frame"): what every command here trains
TRAIN = {"train.epochs": 1, "train.robustness": False}


def as_set(values: dict) -> list[str]:
    args = []
    for key, value in values.items():
        text = (f"[{','.join(map(str, value))}]" if isinstance(value, (list, tuple))
                else str(value).lower() if isinstance(value, bool) else str(value))
        args += ["--set", f"{key}={text}"]
    return args


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from bench.data.synth.affwild2 import AffWildSynthConfig, generate_affwild2

    config = AffWildSynthConfig(videos=4, validation_videos=1, duration_s=5.0, duration_jitter_s=0.5, fps=8)
    return generate_affwild2(tmp_path_factory.mktemp("affwild2") / "corpus", config, progress=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    import bench.report.bundle as bundle

    folder = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_HOME", str(folder / "home"))
        patch.setenv("BENCH_REPORTS", str(folder / "reports"))
        patch.setattr(bundle, "pdflatex_available", lambda: False)  # the LaTeX tests typeset; here it only costs
        patch.chdir(folder)
        yield folder


@pytest.fixture
def cli(home):
    _load_commands()
    runner = CliRunner()

    def invoke(*args):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def results(home) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "home" / "results").glob("*/result.json"))]


def test_run_rja_frame_level(cli, corpus, home):
    output = cli("run", "--model", "rja", "--dataset", "affwild2", "--root", str(corpus), *as_set(TRAIN),
                 *as_set(RJA_TINY), "--no-progress")
    assert "'task': 'frame'" in output and "scheme official" in output
    assert "ccc_mean" in output and "ccc_video_mean" in output
    [result] = results(home)
    assert result["status"] == "finished" and set(result["test"]) == CCC_KEYS
    assert all(math.isfinite(v) and -1 <= v <= 1 for v in result["test"].values())
    folder = next((home / "home" / "results").iterdir())
    predictions = pd.read_csv(folder / "predictions.csv")
    assert predictions["clip_id"].unique().tolist() == ["1-8-256x192"]  # Validation_Set is the test set
    assert predictions["step"].tolist() == list(range(len(predictions)))  # one row per video step
    assert predictions.loc[~predictions["valid"], "valence"].isna().all()  # -5 frames carry no target


def test_compare_rja_deiii(cli, corpus, home, tmp_path):
    # DE-III first on its own with its weights kept (and logged as an MLflow model): the comparison
    # reuses that result, and draws its attention maps from those weights on the first window of a clip
    cli("run", "--model", "deiii", "--dataset", "affwild2", "--root", str(corpus), *as_set(TRAIN), *as_set(DEIII_TINY),
        "--log-model", "--no-progress")
    study = tmp_path / "compare.toml"
    study.write_text(tomli_w.dumps({"study": {"kind": "comparison", "models": ["rja", "deiii"]},
                                    "overrides": {"rja": RJA_TINY, "deiii": DEIII_TINY}}))
    output = cli("compare", "--models", "rja", "deiii", "--dataset", "affwild2", "--root", str(corpus),
                 "--study", str(study), *as_set(TRAIN), "--no-progress")
    assert output.count("reusing the cached result") == 2  # rja and deiii: the runs above
    out = home / "reports" / "compare-affwild2"
    table = (out / "comparison.md").read_text()
    for label in ("CCC-V", "CCC-A", "CCC (mean)", "CCC (per-video avg, mean)", "rja", "deiii"):
        assert label in table, label
    assert not list(out.glob("confusion-*"))  # no classes: no confusion matrix
    assert (out / "attention-deiii.png").is_file() and (out / "curves-rja.png").is_file()
    scores = pd.read_csv(out / "comparison.csv").set_index("model")
    assert scores.loc[["rja", "deiii"], "ccc_mean_mean"].map(math.isfinite).all()


def test_shipped_recursion_study(cli, corpus, home, tmp_path):
    from bench.studies.loader import SHIPPED_STUDIES

    data = tomllib.loads((SHIPPED_STUDIES / "rja_recursion_affwild2.toml").read_text())
    data["study"]["seeds"] = [0]
    data.setdefault("overrides", {})["rja"] = {**RJA_TINY, **TRAIN}
    study = tmp_path / "recursion.toml"
    study.write_text(tomli_w.dumps(data))
    output = cli("ablate", "--model", "rja", "--study", str(study), "--root", str(corpus), "--folds", "1", "--no-progress")
    assert "reusing the cached result" in output  # the reference: the run above
    table = pd.read_csv(home / "reports" / "ablation-rja-affwild2" / "ablation.csv").set_index("variant")
    variants = [f"passes{n}_{w}" for n in (1, 2, 3) for w in ("shared", "separate")]
    assert set(variants) <= set(table.index)
    assert table.loc[variants, "ccc_mean_mean"].map(math.isfinite).all()
    # one pass has one joint-attention module either way: the same network, the same numbers
    assert table.loc["passes1_shared", "ccc_mean_mean"] == table.loc["passes1_separate", "ccc_mean_mean"]
