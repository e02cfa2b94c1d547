"""A grid of toy jobs on an executor in its own process, slow enough to be interrupted.

    BENCH_TEST_SLEEP=0.5 python -m tests.support.grid_run STORE_DIR FOLDS EXECUTOR

EXECUTOR is ``processes:N`` (N worker processes of one thread) or ``ray:HOST:PORT`` (a Ray
cluster, one CPU per job). Trains :class:`~tests.support.study_models.SlowToy` ("toy-slow",
2 epochs; ``$BENCH_TEST_SLEEP`` s per step) on FOLDS folds of the toy store, tracked under
``$BENCH_HOME``, and prints ``JOB-DONE <fold>`` as each job finishes, so a test can
interrupt the grid part-way.
"""

from __future__ import annotations

import os
import sys

from bench.data.store import FeatureStore
from bench.experiment import run
from bench.paths import bench_home
from tests.support.console import MarkerConsole
from tests.support.toy import toy_scheme
from tests.support.study_models import SLEEP_FILE, SlowToy, register

RECIPE = {"epochs": 2, "batch_size": 8, "lr": 1e-2}


def make(spec: str):
    kind, _, arg = spec.partition(":")
    if kind == "processes":
        from bench.study.executors import ProcessExecutor

        return ProcessExecutor(int(arg), threads=1)
    if kind == "ray":
        from bench.study.executors.ray import RayExecutor

        return RayExecutor(address=arg, cpus_per_job=1)
    raise SystemExit(f"unknown executor {spec!r}")


def main(store_dir: str, folds: int, executor: str) -> None:
    home = bench_home()
    home.mkdir(parents=True, exist_ok=True)
    (home / SLEEP_FILE).write_text(os.environ.get("BENCH_TEST_SLEEP", "0"))
    register("toy-slow", SlowToy, RECIPE)
    store = FeatureStore.open(store_dir)

    run("toy-slow", store=store, split=toy_scheme(store, folds), seeds=(0,), progress=False, system_metrics=False,
        experiment_name="grid-kill", console=MarkerConsole("JOB-DONE"), executor=make(executor))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
