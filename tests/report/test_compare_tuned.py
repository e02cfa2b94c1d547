"""``bench compare --tune``: every model nested-tuned with the same budget, its tuned row beside
the default one on the same folds and seeds, and no trial of any outer fold trained or
validated on a clip of that fold's test speakers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import bench.report.bundle as bundle
import bench.splits as splits
from bench.errors import ConfigError
from bench.models.registry import unregister_model
from bench.report.compare import TuneBudget, compare
from bench.studies.loader import load_study
from bench.study.executors import SerialExecutor
from bench.train import loop
from tests.support.console import LineConsole as Quiet
from tests.support.study_models import OtherToy, register
from tests.support.toy import ToyModel, build_toy_store, toy_scheme

RECIPES = {"toy-ta": {"epochs": 2, "batch_size": 8, "lr": 1e-2}, "toy-tb": {"epochs": 2, "batch_size": 8, "lr": 3e-2}}
SPACE = """
    [study]
    kind = "sweep"
    name = "{model}-sweep"
    model = "{model}"
    metric = "uar"

    [space.lr]
    type = "float"
    low = 1e-3
    high = 1e-1
    log = true
    target = "train.lr"
    """


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_toy_store(tmp_path_factory.mktemp("tuned_store"), num_frames=4, image_size=16, n_mels=16, audio_steps=20)


@pytest.fixture
def tuned_compare(store, monkeypatch, tmp_path):
    """compare(tune=...) over the toy store, 2 toy models and 3 folds, with a spy on every
    training: (fold name, clip ids) of each fit, trials' ("inner1") and rows' alike."""
    names = [register("toy-ta", ToyModel, RECIPES["toy-ta"]), register("toy-tb", OtherToy, RECIPES["toy-tb"])]
    scheme = toy_scheme(store, 3)
    monkeypatch.setattr("bench.data.open.open_dataset", lambda *a, **k: (store, "toy", False))
    monkeypatch.setattr(splits, "get_scheme", lambda *a, **k: scheme)
    monkeypatch.setattr(bundle, "pdflatex_available", lambda: False)
    spaces = tmp_path / "spaces"
    spaces.mkdir()
    for name in names:
        (spaces / f"sweep_{name}.toml").write_text(textwrap.dedent(SPACE.format(model=name)))
    monkeypatch.setattr("bench.studies.loader.SHIPPED_STUDIES", spaces)
    fits: list[tuple[str, dict[str, list[str]]]] = []
    real_fit = loop.fit_fold

    def spy(*args, **kwargs):
        fits.append((kwargs.get("fold_name", ""), {part: list(ids) for part, ids in args[4].items()}))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(loop, "fit_fold", spy)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))

    def run(**kwargs):
        return compare(names, "toy", seeds=[0], out_dir=tmp_path / "report", progress=False, console=Quiet(),
                       executor=SerialExecutor(), common={"train.epochs": 2}, **kwargs)

    yield run, fits, scheme, store
    for name in names:
        unregister_model(name)


@pytest.mark.slow
def test_tuned_rows_stand_beside_the_defaults_with_the_same_budget_and_no_test_speaker(tuned_compare, tmp_path):
    run, fits, scheme, store = tuned_compare
    result = run(tune_trials=2)
    assert list(result.results) == ["toy-ta", "toy-ta-tuned", "toy-tb", "toy-tb-tuned"]

    # Every trial trained on one outer fold's own train/val clips; no test clip of that fold.
    trials = [ids for name, ids in fits if name.startswith("inner")]
    assert len(trials) == 2 * 2 * len(scheme.folds)  # trials x models x outer folds, one training each
    splits_of = [fold.assign(store.manifest) for fold in scheme.folds]
    for ids in trials:
        owner = [parts for parts in splits_of if parts["train"] == ids["train"] and parts["val"] == ids["val"]]
        assert len(owner) == 1 and ids["test"] == [] and not set(owner[0]["test"]) & set(ids["train"] + ids["val"])

    # Equal budget, and each tuned row ran each fold with that fold's own tuned lr.
    for model in ("toy-ta", "toy-tb"):
        tuned = result.results[f"{model}-tuned"]
        written = load_study(tuned.config)
        assert written.tuning["trials"] == 2 and written.tuning["inner_folds"] == 1
        assert written.tuning["metric"] == "auto"  # the rows' own selection metric, not the space file's
        assert written.overrides[model]["train.epochs"] == 2
        for fold in scheme.folds:
            assert tuned.fold_configs[fold.name]["train"]["lr"] == written.fold_overrides[fold.name]["train.lr"]
        assert [r.fold for r in tuned.finished] == [f.name for f in scheme.folds]

    table = (tmp_path / "report" / "comparison.md").read_text()
    assert "toy-ta-tuned" in table and "toy-tb-tuned" in table
    training = (tmp_path / "report" / "training.md").read_text()
    assert "nested-tuned per outer fold, 2 trials per fold, hold-out inner split" in training
    assert "| toy-ta-tuned |" in training and "| toy-ta |" in training  # the row's name, not its model
    index = (tmp_path / "report" / "index.md").read_text()
    assert "<model>-tuned, nested per outer fold: 2 trials, the first at the model's defaults (TPE" in index

    # A second invocation resumes: the sweeps are finished and every row is cached.
    fits.clear()
    again = run(tune_trials=2)
    assert fits == [] and list(again.results) == list(result.results)


def test_tune_without_a_budget_or_space_fails_before_anything_trains(tuned_compare, monkeypatch):
    run, fits, _, _ = tuned_compare
    with pytest.raises(ConfigError, match=r"\[tune\] trials"):
        run(tune=True)
    monkeypatch.setattr("bench.studies.loader.SHIPPED_STUDIES", Path("/nonexistent"))
    with pytest.raises(ConfigError, match="no shipped sweep study for model 'toy-ta'"):
        run(tune_trials=1)
    assert fits == []


def test_tune_budget_reads_the_study_table_under_the_cli_trials(tmp_path):
    assert TuneBudget.of({"trials": 4, "inner_folds": 2}) == TuneBudget(4, 2)
    assert TuneBudget.of({"trials": 4, "from_defaults": False}).from_defaults is False
    assert TuneBudget.of({"trials": 4}, trials=6) == TuneBudget(6)
    assert TuneBudget.of(None) is None
    study = tmp_path / "c.toml"
    study.write_text('[study]\nkind = "comparison"\nmodels = ["deiii"]\n[tune]\ntrials = "four"\n')
    with pytest.raises(ConfigError, match=r"\[tune\]: trials must be an integer"):
        load_study(study)
    study.write_text('[study]\nkind = "sweep"\nmodel = "deiii"\n[tune]\ntrials = 4\n')
    with pytest.raises(ConfigError, match=r"\[tune\] belongs to a comparison"):
        load_study(study)


def test_attention_maps_of_a_nested_tuned_row_use_the_folds_own_model_settings(tmp_path, monkeypatch):
    """A tuned fold may have another fusion (other parameters): its saved weights load only into
    the model built from that fold's settings, not the row's base configuration."""
    from types import SimpleNamespace

    import torch

    import bench.models.registry as registry
    from bench.report.compare import attention_figure

    (tmp_path / "key").mkdir()
    torch.save({}, tmp_path / "key" / "model.pt")
    monkeypatch.setattr("bench.paths.results_dir", lambda: tmp_path)
    built = []

    class Built(Exception):
        pass

    def create_model(name, settings):
        built.append(settings)
        raise Built

    monkeypatch.setattr(registry, "create_model", create_model)
    fold = SimpleNamespace(cache_key="key", fold="fold1", predictions={"clip_id": []})
    result = SimpleNamespace(model="deiii", finished=[fold], resolved_config={"model": {"ov_fusion": "attention"}},
                             fold_configs={"fold1": {"model": {"ov_fusion": "concat"}}})
    with pytest.raises(Built):
        attention_figure(result, store=None, out_dir=tmp_path, stem="a")
    assert built == [{"ov_fusion": "concat"}]


def test_tuning_uses_the_grids_processes(monkeypatch):
    from bench.report.compare import _sweep_workers
    from bench.study.executors import ProcessExecutor, SerialExecutor
    from bench.study.executors.local import AutoExecutor

    monkeypatch.setattr("bench.cores.idle_cores", lambda *a, **k: 3)
    assert _sweep_workers(ProcessExecutor(2)) == 2
    assert _sweep_workers(AutoExecutor(limit=4)) == 4
    assert _sweep_workers(AutoExecutor()) == 3
    assert _sweep_workers(SerialExecutor()) == 1
