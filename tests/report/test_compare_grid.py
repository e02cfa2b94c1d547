"""``bench compare --jobs 2``: every model's jobs go to the worker processes as ONE grid.

Two toy models x 2 folds: the process executor is called once with all 4 jobs (so its two
workers stay busy across the models' boundary), and the comparison's numbers, cache keys and
MLflow runs (one parent per model, one child per job) are those of the serial executor.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.report.bundle as bundle
import bench.splits as splits
from bench.models.registry import unregister_model
from bench.report.compare import compare
from bench.study.executors import ProcessExecutor, SerialExecutor
from tests.support.console import LineConsole as Quiet
from tests.support.study_models import OtherToy, register
from tests.support.toy import ToyModel, build_toy_store, toy_scheme

RECIPES = {"toy-a": {"epochs": 2, "batch_size": 8, "lr": 1e-2}, "toy-b": {"epochs": 2, "batch_size": 8, "lr": 3e-2}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_toy_store(tmp_path_factory.mktemp("compare_store"), num_frames=4, image_size=16, n_mels=16,
                           audio_steps=20)


@pytest.fixture
def toy_compare(store, monkeypatch):
    """compare() over the toy store and 2 toy models (the store stands in for a prepared corpus)."""
    names = [register("toy-a", ToyModel, RECIPES["toy-a"]), register("toy-b", OtherToy, RECIPES["toy-b"])]
    monkeypatch.setattr("bench.data.open.open_dataset", lambda *a, **k: (store, "toy", False))
    monkeypatch.setattr(splits, "get_scheme", lambda *a, **k: toy_scheme(store, 2))
    monkeypatch.setattr(bundle, "pdflatex_available", lambda: False)

    def run(home: Path, executor):
        monkeypatch.setenv("BENCH_HOME", str(home))
        return compare(names, "toy", seeds=[0], out_dir=home / "report", progress=False, console=Quiet(),
                       executor=executor, command="bench compare --models toy-a toy-b --jobs 2")

    yield run
    for name in names:
        unregister_model(name)


def _numbers(result) -> tuple:
    return (result.cache_key, result.status, result.best_epoch, result.inference_head, result.test, result.val,
            result.predictions.to_dict("list"))


@pytest.mark.slow
def test_compare_hands_one_grid_to_the_worker_processes_and_matches_serial(toy_compare, tmp_path):
    from mlflow.tracking import MlflowClient

    executor = ProcessExecutor(2, threads=1)  # what --jobs 2 builds on a 2-core machine
    calls, real = [], executor.run

    def spy(jobs, done, on_epoch=None):
        calls.append([job.label for job in jobs])
        return real(jobs, done, on_epoch)

    executor.run = spy
    grid = toy_compare(tmp_path / "jobs2", executor)
    assert calls == [["toy-a fold fold1 seed 0", "toy-a fold fold2 seed 0", "toy-b fold fold1 seed 0",
                      "toy-b fold fold2 seed 0"]], calls
    assert all(r.finished and not r.cached for result in grid.results.values() for r in result.fold_results)
    assert (tmp_path / "jobs2" / "report" / "comparison.md").is_file()

    serial = toy_compare(tmp_path / "serial", SerialExecutor())  # one thread per job: train.threads
    assert list(grid.results) == list(serial.results) == ["toy-a", "toy-b"]
    for model in serial.results:
        assert [_numbers(r) for r in grid.results[model].fold_results] == \
            [_numbers(r) for r in serial.results[model].fold_results], f"{model} differs from serial"
    assert len({repr(_numbers(r)) for result in serial.results.values() for r in result.fold_results}) == 4

    # One parent run per model, one finished child per job under it.
    client = MlflowClient(f"sqlite:///{tmp_path / 'jobs2' / 'mlflow.db'}")
    for model, result in grid.results.items():
        experiment = client.get_experiment_by_name(f"bench/{model}/toy")
        runs = client.search_runs([experiment.experiment_id])
        assert [r.info.run_id for r in runs if "mlflow.parentRunId" not in r.data.tags] == [result.parent_run_id]
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == result.parent_run_id]
        assert sorted(c.data.tags["cache_key"] for c in children) == sorted(r.cache_key for r in result.fold_results)
        assert [c.info.status for c in children] == ["FINISHED", "FINISHED"]
        assert client.get_run(result.parent_run_id).info.status == "FINISHED"
