"""Executors on one study grid: how much faster N jobs at once are, and what Ray costs.

The grid: DE-III at its small preset (``deiii.config.SMALL``, the synthetic CPU preset) on a
24-clip toy store at the suite's default input sizes, 4 folds x 1 seed, 8 epochs, so a job
trains for a few seconds. Each executor runs the whole grid from nothing (its own
``BENCH_HOME``: no cached results; MLflow tracking on, as a user runs it), and the wall time
includes starting its workers:

* ``serial`` (this process, torch's default threads: ``train.threads = 0``), ``processes_1``
  (one worker process with all cores' threads), ``processes_2`` (two workers of one thread
  each, the default ``train.threads = 1``);
* ``ray_private``: :class:`~bench.study.executors.ray.RayExecutor` starting a private Ray on
  this machine (1 CPU per job), start-up and shutdown included;
* ``ray_cluster``: the same on a local cluster started beforehand (``ray start --head
  --num-cpus 2`` on 127.0.0.1, as a user runs one): connection and scheduling only.

``extra_info`` records the wall times and ``speedup_2_vs_1`` (processes_1 / processes_2),
``speedup_2_vs_serial``, ``ray_private_vs_processes_2`` and ``ray_cluster_vs_processes_2``
(Ray's wall time / processes_2: above 1 is Ray's overhead). The machine is shared, so timings are noisy: compare within one run only.

Without ``--benchmark-enable`` a 2-job, 1-epoch grid runs on 2 processes once, so the file
stays a quick check. Run:
``python -m pytest -q -s -p no:cacheprovider tests/benchmarks/test_executor_bench.py --benchmark-enable``.
"""

from __future__ import annotations

import time

import pytest

from bench.experiment import run
from bench.study.executors import ProcessExecutor, SerialExecutor
from tests.support.toy import build_toy_store, toy_scheme
from deiii.config import SMALL

FOLDS, EPOCHS = 4, 8


class Quiet:
    def print(self, *args, **kwargs):
        pass


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_toy_store(tmp_path_factory.mktemp("executor_bench_store"))


def _grid(store, executor, home, monkeypatch, folds: int, epochs: int, threads: int = 1):
    """The grid on ``executor`` in a fresh BENCH_HOME: (wall seconds, results). ``threads``:
    each job's ``train.threads`` (0: every core its process may use)."""
    monkeypatch.setenv("BENCH_HOME", str(home))
    started = time.perf_counter()
    result = run("deiii", store=store, split=toy_scheme(store, folds), seeds=(0,), progress=False, console=Quiet(),
                 overrides={**SMALL, "train.epochs": epochs, "train.batch_size": 8, "train.threads": threads},
                 experiment_name="executor-bench", executor=executor)
    seconds = time.perf_counter() - started
    assert all(r.finished and not r.cached for r in result.fold_results), [r.error for r in result.fold_results]
    return seconds, result.fold_results


@pytest.mark.benchmark
def test_executor_speedups(benchmark, store, tmp_path, monkeypatch):
    if benchmark.disabled:
        _, results = _grid(store, ProcessExecutor(2), tmp_path / "processes", monkeypatch, folds=2, epochs=1)
        assert [r.fold for r in results] == ["fold1", "fold2"] and all(len(r.history) == 1 for r in results)
        benchmark.pedantic(lambda: None, rounds=1, iterations=1)
        return

    from bench.study.executors.ray import RayExecutor
    from tests.support.ray_cluster import loopback_only

    wall = {}
    # serial and processes_1 with every core's threads (train.threads 0): what N processes of one
    # thread are measured against; processes_2 and Ray at the default train.threads = 1.
    wall["serial"], _ = _grid(store, SerialExecutor(), tmp_path / "serial", monkeypatch, FOLDS, EPOCHS, threads=0)
    wall["processes_1"], _ = _grid(store, ProcessExecutor(1), tmp_path / "p1", monkeypatch, FOLDS, EPOCHS, threads=0)
    wall["processes_2"], _ = _grid(store, ProcessExecutor(2), tmp_path / "p2", monkeypatch, FOLDS, EPOCHS)
    with loopback_only():  # a private Ray on 127.0.0.1 (and no token written to ~/.ray)
        wall["ray_private"], _ = _grid(store, RayExecutor(cpus_per_job=1), tmp_path / "ray", monkeypatch, FOLDS, EPOCHS)
        # A running local cluster (`ray start --head`, as the README's recipe has it): the grid
        # pays for connecting and scheduling, not for starting Ray.
        from tests.support.ray_cluster import ray_head

        with ray_head(num_cpus=2) as address:
            wall["ray_cluster"], _ = _grid(store, RayExecutor(address=address, cpus_per_job=1), tmp_path / "ray2",
                                           monkeypatch, FOLDS, EPOCHS)
    info = {
        "jobs": FOLDS,
        "epochs": EPOCHS,
        **{f"wall_{name}_s": round(seconds, 1) for name, seconds in wall.items()},
        "speedup_2_vs_1": round(wall["processes_1"] / wall["processes_2"], 2),
        "speedup_2_vs_serial": round(wall["serial"] / wall["processes_2"], 2),
        "ray_private_vs_processes_2": round(wall["ray_private"] / wall["processes_2"], 2),
        "ray_cluster_vs_processes_2": round(wall["ray_cluster"] / wall["processes_2"], 2),
    }
    benchmark.extra_info.update(info)
    print("\nexecutor benchmark:", info)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    assert info["speedup_2_vs_1"] > 1, info
