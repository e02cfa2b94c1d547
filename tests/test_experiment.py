"""bench.experiment.run: k folds x seeds, cached fold results, failed folds retried, config layers."""

from dataclasses import dataclass

import pytest
import torch
from typer.testing import CliRunner

import bench.train.loop as loop
from bench.errors import ConfigError
from bench.experiment import fold_key, run
from bench.study.resolve import DATASET_PRESETS, resolve_configs
from bench.models.registry import register_model, unregister_model
from tests.support.toy import ToyConfig, ToyModel, build_toy_store, register_toy_model, toy_scheme

POISON = "s00_c00"  # a speaker-0 clip: trained on in fold2 only (fold1 tests speaker 0)


@dataclass
class _PoisonConfig(ToyConfig):
    poison: str = ""  # a clip id whose presence in a training batch makes the loss NaN


class _Poisoned(ToyModel):
    def forward(self, batch):
        output = super().forward(batch)
        if self.training and self.config.poison in batch["clip_id"]:
            output.logits["fused"] = output.logits["fused"] * float("nan")
        return output


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    register_toy_model("toy", recipe={"epochs": 1, "batch_size": 32, "lr": 1e-2})
    register_model("toy_poison", _PoisonConfig, recipe={"epochs": 1, "batch_size": 32})(_Poisoned)
    store = build_toy_store(tmp_path / "store", num_frames=4, image_size=16, n_mels=16, audio_steps=20)
    calls = []
    real = loop.fit_fold

    def counting(*args, **kwargs):
        calls.append((kwargs.get("fold_name"), kwargs.get("seed")))
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "fit_fold", counting)
    yield store, calls
    unregister_model("toy")
    unregister_model("toy_poison")


def test_second_run_reuses_finished_folds(env):
    store, calls = env
    kwargs = dict(store=store, split=toy_scheme(store, 2), seeds=(0, 1), track=False, progress=False)
    first = run("toy", **kwargs)
    assert len(calls) == 4 and len(first.finished) == 4
    assert set(first.tidy().columns) == {"model", "dataset", "fold", "seed", "metric", "value", "n_train", "n_test"}
    assert (first.tidy()["n_train"] > 0).all() and (first.tidy()["n_test"] > 0).all()
    assert first.aggregates["uar"]["n"] == 4
    second = run("toy", **kwargs)
    assert len(calls) == 4, "the second run must not train"
    assert all(r.cached for r in second.fold_results)
    assert [r.test for r in second.fold_results] == [r.test for r in first.fold_results]
    assert second.aggregates == first.aggregates
    run("toy", **{**kwargs, "seeds": (0,)}, folds=1, overrides={"train.lr": 1e-3})  # another config, another key
    assert len(calls) == 5


def test_nan_fold_fails_others_finish_and_failures_are_retried(env):
    store, calls = env
    kwargs = dict(store=store, split=toy_scheme(store, 2), overrides={"poison": POISON}, track=False, progress=False)
    result = run("toy_poison", **kwargs)
    status = {r.fold: r.status for r in result.fold_results}
    assert status == {"fold1": "finished", "fold2": "failed"}
    assert result.failed[0].error == "fold fold2 seed 0: loss became NaN at epoch 1 step 1"
    assert result.aggregates["uar"]["n"] == 1
    calls.clear()
    run("toy_poison", **kwargs)
    assert calls == [("fold2", 0)], "only the failed fold is retried"


def test_folds_beyond_the_scheme_is_an_error(env):
    store, _ = env
    with pytest.raises(ConfigError, match="has 2 folds"):
        run("toy", store=store, split=toy_scheme(store, 2), folds=3, track=False, progress=False)


def test_config_layers_recipe_preset_study_overrides(env, tmp_path, monkeypatch):
    monkeypatch.setitem(DATASET_PRESETS, "toy", {"*": {"train.epochs": 5, "hidden": 4}, "cpu": {"train.patience": 2, "nope": 1}})
    study = tmp_path / "study.toml"
    study.write_text('[model]\nhidden = 12\n[train]\nbatch_size = 16\nlr = 0.5\n')
    notes = []
    model_config, train_config = resolve_configs("toy", "toy", config=study, overrides={"train.lr": 0.25}, notes=notes)
    assert train_config.epochs == 5 and train_config.patience == 2  # preset over recipe (epochs=1)
    assert model_config.hidden == 12 and train_config.batch_size == 16  # study over preset and recipe
    assert train_config.lr == 0.25  # --set over study
    assert any("'nope' does not apply" in n for n in notes)
    with pytest.raises(ConfigError, match="did you mean"):
        resolve_configs("toy", "toy", overrides={"train.lrr": 1})


def test_fold_key_ignores_runtime_fields(env):
    from bench.train.config import TrainConfig

    config = ToyConfig()
    a = fold_key("toy", config, TrainConfig(), "store", "split", "fold1", 0)
    assert a == fold_key("toy", config, TrainConfig(device="cuda", num_workers=4), "store", "split", "fold1", 0)
    assert a != fold_key("toy", config, TrainConfig(lr=1.0), "store", "split", "fold1", 0)
    assert a != fold_key("toy", config, TrainConfig(), "store", "split", "fold1", 1)


def test_cli_passes_seeds_and_overrides(monkeypatch):
    import bench.experiment
    from bench.cli import _load_commands, app

    seen = {}

    def fake_run(model, dataset=None, **kwargs):
        seen.update(model=model, dataset=dataset, **kwargs)
        return bench.experiment.ExperimentResult(model, "x", [], {}, None, {})

    monkeypatch.setattr(bench.experiment, "run", fake_run)
    _load_commands()
    result = CliRunner().invoke(app, ["run", "--model", "toy", "--seeds", "0", "1", "2", "--set", "d=3", "--set", "train.lr=1e-4", "--folds", "2"])
    assert result.exit_code == 0, result.output
    assert seen["seeds"] == [0, 1, 2] and seen["overrides"] == {"d": 3, "train.lr": 1e-4} and seen["folds"] == 2
    result = CliRunner().invoke(app, ["run", "--model", "toy", "--seeds", "4,5", "--seeds", "6"])
    assert seen["seeds"] == [4, 5, 6]


def test_run_config_is_read_by_the_one_study_loader(env, tmp_path):
    """``bench run --config`` takes any study file: a best-trial file's [model]/[train] tables,
    or a comparison's [overrides.<model>]; the loader checks it like every other study file."""
    comparison = tmp_path / "cmp.toml"
    comparison.write_text('[study]\nkind = "comparison"\nmodels = ["toy"]\n[overrides.toy]\nhidden = 7\ntrain.lr = 0.3\n')
    model_config, train_config = resolve_configs("toy", "toy", config=comparison)
    assert model_config.hidden == 7 and train_config.lr == 0.3
    broken = tmp_path / "broken.toml"
    broken.write_text('[model]\nhidden = 7\n[trian]\nlr = 0.3\n')
    with pytest.raises(ConfigError, match=r"unknown top-level tables \['trian'\]"):
        resolve_configs("toy", "toy", config=broken)
