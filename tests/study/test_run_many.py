"""bench.experiment.run_many: several runs as ONE grid on one executor call.

``bench compare`` (models) and ``bench ablate`` (variants) plan every run first and hand all
their jobs to the executor at once, so that parallel workers stay busy across the runs'
boundaries. These cases use the serial executor behind a spy (fast, in this process); the
process executor's case is tests/report/test_compare_grid.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import bench.train.loop as loop
from bench.errors import ConfigError
from bench.experiment import RunSpec, run, run_many
from bench.models.registry import unregister_model
from bench.study.executors import SerialExecutor
from tests.support.console import LineConsole as Lines
from tests.support.study_models import OtherToy, register
from tests.support.toy import ToyModel, build_toy_store, toy_scheme

RECIPES = {"toy-a": {"epochs": 1, "batch_size": 8, "lr": 1e-2}, "toy-b": {"epochs": 1, "batch_size": 8, "lr": 3e-2}}


class Spy:
    """An executor that records each call's jobs, then runs them serially; optionally raises
    KeyboardInterrupt (as Ctrl-C would) after ``interrupt_after`` jobs finished."""

    def __init__(self, interrupt_after: int | None = None):
        self.calls: list[list[str]] = []
        self.interrupt_after = interrupt_after

    def run(self, jobs, done, on_epoch=None):
        self.calls.append([job.label for job in jobs])
        finished = 0

        def counted(index, result):
            nonlocal finished
            done(index, result)
            finished += 1
            if self.interrupt_after is not None and finished >= self.interrupt_after:
                raise KeyboardInterrupt

        SerialExecutor().run(jobs, counted, on_epoch)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_toy_store(tmp_path_factory.mktemp("many_store"), num_frames=4, image_size=16, n_mels=16, audio_steps=20)


@pytest.fixture(scope="module")
def models():
    class_of = {"toy-a": ToyModel, "toy-b": OtherToy}
    names = [register(name, class_of[name], RECIPES[name]) for name in RECIPES]
    yield names
    for name in names:
        unregister_model(name)


@pytest.fixture
def trained(monkeypatch):
    """(model, fold, seed) of every fold that actually trained."""
    calls = []
    real = loop.fit_fold

    def counting(model, *args, **kwargs):
        calls.append((model, kwargs.get("fold_name"), kwargs.get("seed")))
        return real(model, *args, **kwargs)

    monkeypatch.setattr(loop, "fit_fold", counting)
    return calls


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, so that a run and its repeat reduce in the same order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _specs(models, store, **kwargs) -> list[RunSpec]:
    return [RunSpec(model, model, None, dict(store=store, split=toy_scheme(store, 2), seeds=(0,), system_metrics=False,
                                             experiment_name="many", **kwargs)) for model in models]


def _runs(home: Path, experiment: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    return [] if exp is None else client.search_runs([exp.experiment_id], max_results=1000)


def _numbers(result) -> tuple:
    return (result.status, result.best_epoch, result.inference_head, result.test, result.val,
            result.predictions.to_dict("list"))


@pytest.mark.slow
def test_run_many_hands_every_runs_jobs_to_one_executor_call(models, store, trained, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "grid"))
    spy, console = Spy(), Lines()
    results = run_many(_specs(models, store), executor=spy, progress=False, console=console)
    assert spy.calls == [["toy-a fold fold1 seed 0", "toy-a fold fold2 seed 0", "toy-b fold fold1 seed 0",
                          "toy-b fold fold2 seed 0"]]
    assert list(results) == ["toy-a", "toy-b"] and len(trained) == 4
    # Each run's results in its own fold order, under its own parent run, one child per job.
    runs = _runs(tmp_path / "grid", "many")
    parents = {r.info.run_id: r for r in runs if "mlflow.parentRunId" not in r.data.tags}
    assert sorted(r.parent_run_id for r in results.values()) == sorted(parents)
    for name, result in results.items():
        assert [r.fold for r in result.fold_results] == ["fold1", "fold2"] and all(r.finished for r in result.fold_results)
        assert parents[result.parent_run_id].info.status == "FINISHED"
        assert parents[result.parent_run_id].data.tags["model"] == name
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == result.parent_run_id]
        assert sorted(c.data.tags["cache_key"] for c in children) == sorted(r.cache_key for r in result.fold_results)
        assert all(c.info.status == "FINISHED" for c in children)
    # In a grid of several runs each job's line names its run.
    assert any(line.startswith("toy-b: fold fold2 seed 0: epoch 1") for line in console.lines), console.lines

    # The same numbers and cache keys as run() on each model in turn (a fresh cache: both train).
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "one-by-one"))
    for name, result in results.items():
        alone = run(name, store=store, split=toy_scheme(store, 2), seeds=(0,), progress=False, console=Lines(),
                    track=False, executor=SerialExecutor())
        assert [r.cache_key for r in alone.fold_results] == [r.cache_key for r in result.fold_results]
        assert [_numbers(r) for r in alone.fold_results] == [_numbers(r) for r in result.fold_results]
        assert alone.aggregates == result.aggregates
    assert len(trained) == 8


def test_run_many_trains_a_configuration_two_runs_share_once(models, store, trained, tmp_path, monkeypatch):
    """Two ablation variants that resolve to the same configuration: the repeats wait for a
    second call and read the cache, instead of training the same folds twice at once."""
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    specs = [RunSpec(name, "toy-a", None, dict(store=store, split=toy_scheme(store, 2), seeds=(0,), track=False,
                                               overrides=overrides))
             for name, overrides in (("full", {}), ("same", {"train.lr": RECIPES["toy-a"]["lr"]}))]
    spy, console = Spy(), Lines()
    results = run_many(specs, executor=spy, progress=False, console=console)
    assert [len(call) for call in spy.calls] == [2, 2] and len(trained) == 2
    assert [r.cached for r in results["same"].fold_results] == [True, True]
    assert [(r.cache_key, r.test) for r in results["same"].fold_results] == \
        [(r.cache_key, r.test) for r in results["full"].fold_results]
    assert sum(line.startswith("same: fold fold") and "reusing the cached result" in line for line in console.lines) == 2


def test_a_bad_setting_in_any_run_fails_before_anything_trains_or_is_tracked(models, store, trained, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    specs = _specs(models, store)
    specs[1].kwargs["seeds"] = (0, 0)
    with pytest.raises(ConfigError, match=r"seeds repeat: \[0, 0\]"):
        run_many(specs, executor=Spy(), progress=False, console=Lines())
    assert trained == [] and not (tmp_path / "home" / "mlflow.db").exists(), "no parent run may have started"
    with pytest.raises(ConfigError, match="need distinct names"):
        run_many(_specs(models, store) + _specs(models[:1], store), executor=Spy(), progress=False, console=Lines())


@pytest.mark.slow
def test_an_interrupted_grid_ends_every_parent_killed_and_a_rerun_trains_only_what_is_missing(models, store, trained,
                                                                                             tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("BENCH_HOME", str(home))
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C as toy-a's second (last) job finished
        run_many(_specs(models, store), executor=Spy(interrupt_after=2), progress=False, console=Lines())
    runs = _runs(home, "many")
    parents = {r.data.tags["model"]: r.info.status for r in runs if "mlflow.parentRunId" not in r.data.tags}
    assert parents == {"toy-a": "FINISHED", "toy-b": "KILLED"}  # toy-a came back whole; toy-b never ran
    assert [r.info.status for r in runs if "mlflow.parentRunId" in r.data.tags] == ["FINISHED", "FINISHED"]
    assert len(trained) == 2

    results = run_many(_specs(models, store), executor=Spy(), progress=False, console=Lines())
    assert trained[2:] == [("toy-b", "fold1", 0), ("toy-b", "fold2", 0)], "the re-run trains what is missing only"
    assert [r.cached for result in results.values() for r in result.fold_results] == [True, True, False, False]
    assert all(r.finished for result in results.values() for r in result.fold_results)
