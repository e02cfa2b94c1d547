"""The training account of a report (bench.report.training): how each row was configured and
tuned, and whether it trained to convergence. Results are built by hand; nothing trains."""

import re
import textwrap
from types import SimpleNamespace

import pytest

import bench.experiment as experiment
import bench.report.bundle as bundle
import bench.splits as splits
from bench.experiment import ExperimentResult
from bench.report import training as TR
from bench.report.tables import to_latex, to_markdown
from bench.study.resolve import resolve_configs
from bench.study.tuning import TuningCheck
from bench.train.result import FoldResult
from tests.support.fake_runs import run_each

LABELS = ["angry", "sad"]
WARNING = ("auxformer: selected its last epoch in 12 of 15 runs (epochs 20, no early stop): likely undertrained; "
           "train longer (train.epochs / train.patience) before comparing")


def fold_result(fold: int, seed: int, *, ran: int, best: int, uar: float = 0.7, seconds: float = 10.0) -> FoldResult:
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_uar": min(0.9, 0.4 + 0.02 * e)} for e in range(1, ran + 1)]
    return FoldResult(best_epoch=best, history=history, test={"accuracy": uar, "uar": uar, "macro_f1": uar},
                      confusion=[[5, 1], [1, 5]], labels=LABELS, fold=f"fold{fold}", seed=seed, seconds=seconds,
                      n_train=120, n_test=40, parameters=1000, inference_ms_per_clip=1.0)


def experiment_result(model: str, runs: list[FoldResult], *, epochs: int = 20, patience: int = 0, layers=None,
                      **kwargs) -> ExperimentResult:
    train = {"optimizer": "adam", "lr": 1e-4, "batch_size": 16, "epochs": epochs, "patience": patience,
             "scheduler": "cosine", "warmup_epochs": 0, "warmup_lr": 0.0}
    return ExperimentResult(model, "synthetic", runs, {}, None, {"model": {"task": "classification"}, "train": train},
                            layers=dict(layers or {}), **kwargs)


def grid(last: int, *, total: int = 15, ran: int = 20, best_otherwise: int = 11) -> list[FoldResult]:
    """``total`` fold x seed runs, the first ``last`` of which selected epoch ``ran`` (their last)."""
    return [fold_result(i // 3 + 1, i % 3, ran=ran, best=ran if i < last else best_otherwise) for i in range(total)]


# -- undertrained ---------------------------------------------------------------------------------


def test_a_row_that_selects_its_last_epoch_in_most_runs_is_flagged():
    results = {
        "auxformer": experiment_result("auxformer", grid(12)),
        "deiii": experiment_result("deiii", grid(0, best_otherwise=9)),
        # exactly a third at the last epoch: the rule is "more than a third", so not flagged
        "saf": experiment_result("saf", grid(5)),
        # early stopping: 13 of 20 epochs ran, the selected epoch 8 is not the last
        "rja": experiment_result("rja", [fold_result(f, 0, ran=13, best=8) for f in range(1, 6)], patience=5),
    }
    frame = TR.training_frame(results).set_index("model")
    assert frame.loc["auxformer", "selected_last"] == 12 and frame.loc["auxformer", "runs"] == 15
    assert frame["undertrained"].to_dict() == {"auxformer": True, "deiii": False, "saf": False, "rja": False}
    assert frame.loc["saf", "selected_last"] == 5
    assert frame.loc["rja", "selected_last"] == 0 and frame.loc["rja", "epochs_run_max"] == 13
    assert frame.loc["deiii", ["selected_mean", "selected_min", "selected_max"]].tolist() == [9.0, 9.0, 9.0]
    assert frame.loc["auxformer", "selected_min"] == 11 and frame.loc["auxformer", "selected_max"] == 20
    assert frame.loc["auxformer", "seconds_mean"] == pytest.approx(10.0)
    assert TR.undertrained_warnings(frame.reset_index()) == [WARNING]


def test_the_last_epoch_of_a_shorter_run_than_scheduled_is_not_counted():
    # 10 of 20 scheduled epochs ran and the last one was selected: training did not run its
    # schedule (stopped early), so it is not the "ran out of epochs" case the rule counts
    results = {"m": experiment_result("m", [fold_result(1, s, ran=10, best=10) for s in range(3)])}
    frame = TR.training_frame(results)
    assert frame.loc[0, "selected_last"] == 0 and not frame.loc[0, "undertrained"]
    # without a known schedule, best == len(history) counts (early stopping never gives it)
    unknown = ExperimentResult("m", "synthetic", [fold_result(1, s, ran=10, best=10) for s in range(3)], {}, None, {})
    assert TR.training_frame({"m": unknown}).loc[0, "undertrained"]


def test_results_without_histories_are_not_flagged():
    # e.g. an old cached run without history, or a failed run: nothing to judge
    runs = [SimpleNamespace(fold="fold1", seed=0, best_epoch=0, history=[], seconds=1.0)]
    result = SimpleNamespace(model="x", finished=runs, resolved_config={"model": {}})
    frame = TR.training_frame({"x": result})
    assert frame.loc[0, "runs"] == 1 and frame.loc[0, "selected_last"] == 0 and not frame.loc[0, "undertrained"]
    assert TR.undertrained_warnings(frame) == []


# -- how configured and tuned ---------------------------------------------------------------------


def test_default_rows_say_where_each_setting_came_from_and_that_they_were_not_tuned():
    layers: dict = {}
    _, train = resolve_configs("auxformer", "synthetic", device_kind="cpu", layers=layers)
    result = ExperimentResult("auxformer", "synthetic", grid(0), {}, None, {"model": {}, "train": vars(train)}, layers=layers)
    row = TR.training_frame({"auxformer": result}).iloc[0]
    assert row["tuning"] == "defaults: the model's recipe + dataset preset, not tuned"
    assert row["epochs"] == train.epochs and row["lr"] == train.lr
    assert re.search(r"recipe: optimizer, lr\b", row["set_by"]), row["set_by"]
    assert "default: patience" in row["set_by"]

    layers = {}
    _, train = resolve_configs("auxformer", "synthetic", device_kind="cpu", layers=layers, overrides={"train.epochs": 40})
    result = ExperimentResult("auxformer", "synthetic", grid(0), {}, None, {"model": {}, "train": vars(train)}, layers=layers)
    row = TR.training_frame({"auxformer": result}).iloc[0]
    assert row["tuning"] == "defaults: the model's recipe + dataset preset, with overrides of epochs; not tuned"
    assert "override: epochs" in row["set_by"] and row["epochs"] == 40


def test_nested_tuned_rows_show_their_per_fold_settings():
    def fold_config(fold: str, lr: float) -> dict:
        return {"model": {}, "train": {"optimizer": "adam", "lr": lr, "batch_size": 16, "epochs": 20, "patience": 0,
                                       "scheduler": "cosine", "warmup_epochs": 0, "warmup_lr": 0.0},
                "layers": {"train.optimizer": "recipe", "train.lr": f"nested-tuned (fold {fold})", "train.epochs": "preset synthetic/cpu"}}

    result = experiment_result("deiii", grid(0), config="studies/tuned.toml",
                               fold_configs={"fold1": fold_config("fold1", 1e-4), "fold2": fold_config("fold2", 3e-4)})
    row = TR.training_frame({"deiii": result}).iloc[0]
    assert row["tuning"] == "nested-tuned per outer fold (studies/tuned.toml)"
    assert row["lr"] == "0.0001/0.0003" and row["epochs"] == 20
    assert "nested-tuned (per fold): lr" in row["set_by"] and "preset synthetic/cpu: epochs" in row["set_by"]


def test_a_leaky_tuned_row_names_the_folds_whose_test_speakers_the_tuning_saw():
    single = TuningCheck("sweeps/best.toml", "single", tuned_on_fold="fold1", leaks={"fold2": ["s3"], "fold3": ["s5"]})
    result = experiment_result("saf", grid(0), tuning_leak=single.message, config="sweeps/best.toml",
                               layers={"train.lr": "study sweeps/best.toml"})
    assert TR.tuning_text(result) == "tuned on fold fold1's non-test speakers (sweeps/best.toml): TEST LEAKAGE for folds fold2, fold3"
    one = TuningCheck("best.toml", "single", tuned_on_fold="fold1", leaks={"fold2": ["s3"]})
    assert TR.tuning_text(experiment_result("saf", [], tuning_leak=one.message)).endswith("(best.toml): TEST LEAKAGE for folds fold2")
    nested = TuningCheck("other.toml", "nested", leaks={"fold2": ["s3"], "fold4": ["s9"]})
    text = TR.tuning_text(experiment_result("saf", [], tuning_leak=nested.message, fold_configs={"fold2": {}}))
    assert text == "nested-tuned on another split (other.toml): TEST LEAKAGE for folds fold2, fold4"
    # a hand-written study file, no tuning record
    clean = experiment_result("saf", [], config="mine.toml", layers={"train.lr": "study mine.toml"})
    assert TR.tuning_text(clean) == "set by the study file mine.toml (no test leakage found)"
    frame = TR.training_frame({"saf": result})
    assert TR.leakage_warnings(frame) == [f"saf: {TR.tuning_text(result)}"]


# -- the table ------------------------------------------------------------------------------------


def test_the_table_renders_to_markdown_latex_and_csv(tmp_path):
    results = {"deiii": experiment_result("deiii", grid(0, best_otherwise=9)), "auxformer": experiment_result("auxformer", grid(12))}
    table = TR.training_table(TR.training_frame(results), label="tab:training-synthetic")
    md = to_markdown(table)
    assert "more than 1/3 of the runs selected their last epoch (a fixed rule)" in md
    assert ("| Model | Settings | Set by | Model settings | Tuning | Runs | Epochs run | Selected epoch | Selected = last "
            "| Final train loss | s / run |") in md
    aux = next(line for line in md.splitlines() if line.startswith("| auxformer"))
    assert "| **12/15**‡ |" in aux and "| 18.2 (11–20) |" in aux and "adam, lr 0.0001, batch 16, 20 epochs, patience 0" in aux
    deiii = next(line for line in md.splitlines() if line.startswith("| deiii"))
    assert "| 0/15 |" in deiii and "| 9 |" in deiii and "‡" not in deiii
    assert f"> ‡ {WARNING}" in md
    tex = to_latex(table, standalone=True)
    assert r"\textbf{\boldmath 12/15}\textsuperscript{\ddag{}}" in tex and r"\label{tab:training-synthetic}" in tex
    if bundle.pdflatex_available():
        paths = bundle.write_table(table, tmp_path, "training", compile_pdf=True)
        assert paths["pdf"].stat().st_size > 1000
    csv = table.data.to_csv(index=False)
    assert "selected_last" in csv and "undertrained" in csv


# -- compare() and ablate() write it ----------------------------------------------------------------


class Lines:
    def __init__(self):
        self.lines: list[str] = []

    def print(self, text="", *args, **kwargs):
        self.lines.append(str(text))


@pytest.fixture
def fake_data(monkeypatch):
    store = SimpleNamespace(manifest=None, key="store")
    monkeypatch.setattr("bench.data.open.open_dataset", lambda *a, **k: (store, "synthetic", True))
    monkeypatch.setattr(splits, "get_scheme", lambda *a, **k: SimpleNamespace(name="kfold", checksum="c" * 64))
    monkeypatch.setattr("bench.protocols.protocol_for", lambda *a, **k: SimpleNamespace(id="synthetic/kfold", checksum="p" * 64))
    monkeypatch.setattr("bench.protocols.reported_rows", lambda *a, **k: [])
    monkeypatch.setattr(bundle, "pdflatex_available", lambda: False)


def _index_warning(index: str) -> None:
    head, _, rest = index.partition("## Regenerate")
    assert "## Read this first" in head and f"- **warning:** {WARNING}" in head, head
    assert "### How each row was configured, tuned and trained" in rest


def test_compare_writes_the_training_table_and_warns_in_the_index(tmp_path, fake_data, monkeypatch):
    from bench.report import compare as C

    def run(model, dataset, *, seeds=(0,), folds=None, **kwargs):
        last = 12 if model == "auxformer" else 0
        return experiment_result(model, grid(last, total=5 * len(seeds)))

    monkeypatch.setattr(experiment, "run_many", run_each(run))
    monkeypatch.setattr(C, "write_figures", lambda *a, **k: {})  # the figures have their own tests
    console = Lines()
    out = tmp_path / "report"
    result = C.compare(["deiii", "auxformer"], "synthetic", folds=5, seeds=[0, 1, 2], out_dir=out, progress=False,
                       console=console, command="bench compare --models deiii auxformer")
    assert result.paths["training"]["md"] == out / "training.md"
    training = (out / "training.md").read_text()
    assert "| auxformer |" in training and "| deiii |" in training
    assert f"[yellow]warning:[/] {WARNING}" in console.lines
    _index_warning((out / "index.md").read_text())


def test_ablate_writes_the_training_table_and_warns_in_the_index(tmp_path, fake_data, monkeypatch):
    from bench.report.ablation import ablate

    def run(model, dataset, *, overrides=None, seeds=(0,), folds=None, **kwargs):
        last = 4 if overrides.get("use_flow") is False else 0  # 4 of 5 runs at their last epoch
        return experiment_result(model, grid(last, total=folds * len(seeds)), layers={"use_flow": "override"} if overrides else {})

    monkeypatch.setattr(experiment, "run_many", run_each(run))
    path = tmp_path / "ablation.toml"
    path.write_text(textwrap.dedent("""
        [study]
        kind = "ablation"
        model = "deiii"
        dataset = "synthetic"
        folds = 5
        seeds = [0]
        [variants.full]
        [variants.no_flow]
        use_flow = false
    """))
    console = Lines()
    out = tmp_path / "report"
    result = ablate("deiii", path, out_dir=out, progress=False, console=console, command="bench ablate --model deiii")
    training = (out / "training.md").read_text()
    assert result.paths["training"]["csv"] == out / "training.csv"
    assert "| Variant | Settings |" in training and "| **4/5**‡ |" in training
    warning = ("no_flow: selected its last epoch in 4 of 5 runs (epochs 20, no early stop): likely undertrained; "
               "train longer (train.epochs / train.patience) before comparing")
    assert f"[yellow]warning:[/] {warning}" in console.lines
    assert not any(line.startswith("[yellow]warning:[/] full:") for line in console.lines)
    head = (out / "index.md").read_text().partition("## Regenerate")[0]
    assert f"- **warning:** {warning}" in head and "full:" not in head



# -- model settings and the not-fitted rule ---------------------------------------------------------


def _losses(name: str, final: list[float], *, task="classification", labels=None) -> ExperimentResult:
    runs = []
    for i, loss in enumerate(final):
        r = fold_result(i + 1, 0, ran=12, best=6)
        r.history[-1]["train_loss"] = loss
        r.labels = labels or ["a", "b", "c", "d", "e", "f"]
        runs.append(r)
    result = experiment_result(name, runs, patience=6)
    result.resolved_config["model"]["task"] = task
    return result


def test_a_classification_row_that_never_fitted_its_training_clips_is_flagged():
    """ln 6 = 1.79; the fixed rule marks a mean final training loss above half of it (0.896)."""
    results = {name: _losses(name, final, **kw) for name, final, kw in [
        ("slow", [1.68, 1.55, 1.43, 1.07, 1.21], {}), ("fit", [0.77, 0.64, 0.06, 0.06, 0.01], {}),
        ("edge", [0.89] * 5, {}), ("regression", [1.7] * 5, {"task": "regression"})]}
    frame = TR.training_frame(results).set_index("model")
    assert frame["not_fitted"].to_dict() == {"slow": True, "fit": False, "edge": False, "regression": False}
    assert frame.loc["slow", "final_loss_mean"] == pytest.approx(1.388)
    assert frame.loc["slow", "chance_loss"] == pytest.approx(1.7918, abs=1e-4)
    assert frame.loc["slow", "undertrained"] == False  # noqa: E712 - early stopping hid it from the epoch rule
    md = to_markdown(TR.training_table(frame.reset_index()))
    slow = next(line for line in md.splitlines() if line.startswith("| slow"))
    assert "| **1.388 (1.070–1.680)**§ |" in slow
    assert ("> § slow: mean final training loss 1.39 is above 1/2 of 1.79, its loss when predicting the uniform "
            "distribution: it had not fitted its training clips") in md


def test_a_loss_that_sums_three_heads_is_judged_against_three_times_ln_c():
    """DE-III sums its video, audio and fused losses (3 ln 6 = 5.38 at chance): a final 2.0
    (about 0.67 a head) is fitted there, while one head's loss of 2.0 would be above chance."""
    summed = _losses("deiii", [2.0] * 5)
    one_head = _losses("rja", [2.0] * 5)
    frame = TR.training_frame({"deiii": summed, "rja": one_head}).set_index("model")
    assert frame.loc["deiii", "chance_loss"] == pytest.approx(3 * 1.7918, abs=1e-3)
    assert frame.loc["rja", "chance_loss"] == pytest.approx(1.7918, abs=1e-4)
    assert frame["not_fitted"].to_dict() == {"deiii": False, "rja": True}
    summed.resolved_config["model"]["loss_weights"] = {"video": 1.0, "audio": 0.5, "fused": 0.5}
    assert TR.training_frame({"deiii": summed}).iloc[0]["chance_loss"] == pytest.approx(2 * 1.7918, abs=1e-3)


def test_model_settings_name_every_non_default_value_and_its_layer():
    result = experiment_result("rja", grid(0), layers={"hidden": "preset synthetic/rja/cpu",
                                                       "feature_norm": "preset synthetic/rja/cpu",
                                                       "num_passes": "override", "train.lr": "recipe"})
    result.resolved_config["model"].update({"hidden": 128, "feature_norm": "rms", "num_passes": 2,
                                            "frontend_channels": (16, 32)})
    assert TR.model_settings_text(result) == ("preset synthetic/rja/cpu: hidden 128, feature_norm rms; "
                                             "override: num_passes 2")
    result.layers["frontend_channels"] = "preset synthetic/rja/cpu"
    assert "frontend_channels (16, 32)" in TR.model_settings_text(result)
    assert TR.model_settings_text(experiment_result("deiii", grid(0))) == "the model's defaults"


def test_patience_shows_the_epoch_early_stopping_waits_for_and_who_set_it():
    """AuxFormer's synthetic CPU preset holds early stopping off until epoch 20 (train.min_epochs):
    the patience column says so, and "set by" names the preset for min_epochs."""
    layers: dict = {}
    _, train = resolve_configs("auxformer", "synthetic", device_kind="cpu", layers=layers, overrides={"train.patience": 10})
    result = ExperimentResult("auxformer", "synthetic", grid(0), {}, None, {"model": {}, "train": vars(train)}, layers=layers)
    row = TR.training_frame({"auxformer": result}).iloc[0]
    assert row["patience"] == "10 (from epoch 20)"
    assert "preset synthetic/auxformer/cpu: min_epochs" in row["set_by"] and "override: patience" in row["set_by"]
    plain = TR.training_frame({"deiii": experiment_result("deiii", grid(0), patience=10)}).iloc[0]
    assert plain["patience"] == 10 and "min_epochs" not in plain["set_by"]
