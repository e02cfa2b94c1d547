"""Executors: the same grid gives the same numbers on any of them; killed work is redone once.

The end-to-end cases train tiny toy models (1-2 epochs on a 24-clip store at tiny shapes) so
that their cost is the executors' own: worker start-up, the store opened per process, MLflow.
The Ray cases use a private head node started by the test on 127.0.0.1
(:mod:`tests.support.ray_cluster`); where one cannot be started they are skipped, except in
CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.experiment import run
from bench.models.registry import unregister_model
from bench.study.executors import ProcessExecutor, SerialExecutor, make_executor
from bench.study.executors.ray import RayExecutor
from tests.support.console import LineConsole as Quiet
from tests.support.signals import default_sigint
from tests.support.toy import build_toy_store, toy_scheme
from tests.support.grid_run import RECIPE as SLOW_RECIPE
from tests.support.study_models import CRASH_MARKER, SLEEP_FILE, CrashOnceToy, OtherToy, SlowToy, register

ROOT = Path(__file__).resolve().parents[2]
RECIPES = {"toy-a": {"epochs": 2, "batch_size": 8, "lr": 1e-2}, "toy-b": {"epochs": 2, "batch_size": 8, "lr": 3e-2}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_toy_store(tmp_path_factory.mktemp("executor_store"), num_frames=4, image_size=16, n_mels=16,
                           audio_steps=20)


@pytest.fixture(scope="module")
def models():
    from tests.support.toy import ToyModel

    class_of = {"toy-a": ToyModel, "toy-b": OtherToy}
    names = [register(name, class_of[name], RECIPES[name]) for name in RECIPES]
    yield names
    for name in names:
        unregister_model(name)


@pytest.fixture(scope="module")
def ray_address():
    """A head node of 2 CPUs on 127.0.0.1 for this module, stopped afterwards."""
    from tests.support.ray_cluster import RayStartError, loopback_only, ray_head

    with loopback_only():
        try:
            head = ray_head(num_cpus=2)
            address = head.__enter__()
        except RayStartError as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI must run the Ray tests, but {exc}")
            pytest.skip(str(exc))
        try:
            yield address
        finally:
            head.__exit__(None, None, None)


def _grid(models, store, executor, experiment: str) -> dict:
    """Each model on 2 folds x 1 seed with ``executor``: {(model, fold, seed): FoldResult}."""
    out = {}
    for model in models:
        result = run(model, store=store, split=toy_scheme(store, 2), seeds=(0,), progress=False, console=Quiet(),
                     system_metrics=False, experiment_name=experiment, executor=executor)
        out.update({(model, r.fold, r.seed): r for r in result.fold_results})
    return out


def _numbers(result) -> tuple:
    """Everything the training produced that a table or a test could show."""
    return (result.status, result.best_epoch, result.inference_head, result.test, result.val,
            [{k: v for k, v in epoch.items() if "time" not in k and "second" not in k} for epoch in result.history],
            result.predictions.to_dict("list"))


def _children(home: Path, experiment: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


# -- settings (no cluster) -------------------------------------------------------------------
def test_ray_executor_refuses_impossible_settings():
    with pytest.raises(ConfigError, match=r"--cpus-per-job must be more than 0, got 0"):
        RayExecutor(cpus_per_job=0)
    with pytest.raises(ConfigError, match=r"--gpus-per-job must be 0 or more, got -1"):
        RayExecutor(gpus_per_job=-1)
    with pytest.raises(ConfigError, match=r"--gpus-per-job above 1 must be a whole number.*1\.5"):
        RayExecutor(gpus_per_job=1.5)
    executor = make_executor("ray", ray_address="head:6379", cpus_per_job=2, gpus_per_job=0.25)
    assert (executor.address, executor.cpus_per_job, executor.gpus_per_job, executor.threads) == ("head:6379", 2, 0.25, 2)
    assert RayExecutor(cpus_per_job=0.5).threads == 1 and RayExecutor(cpus_per_job=4, threads=3).threads == 3


def test_ray_executor_without_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ConfigError, match=r"--executor ray needs the Ray package.*pip install 'deiii-bench\[ray\]'"):
        RayExecutor()


def test_ray_executor_fails_fast_on_an_address_where_nothing_listens():
    from tests.support.ray_cluster import free_port

    port = free_port()  # bound and released: nothing listens there now
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=rf"--ray-address 127\.0\.0\.1:{port}: no Ray head answers there"):
        RayExecutor(address=f"127.0.0.1:{port}").run([_job()], lambda index, result: None)
    assert time.perf_counter() - started < 10  # ray.init alone would retry for minutes
    with pytest.raises(ConfigError, match=r"expected HOST:PORT .* got 'head:gcs'"):
        RayExecutor(address="head:gcs").run([_job()], lambda index, result: None)


def test_ray_executor_refuses_cuda_jobs_without_gpus():
    with pytest.raises(ConfigError, match=r"device cuda on Ray needs --gpus-per-job above 0"):
        RayExecutor(address="127.0.0.1:9").run([_job(device="cuda")], lambda index, result: None)


def _job(**changes):
    from bench.splits.scheme import Fold
    from bench.study.grid import Job
    from bench.train.config import TrainConfig
    from tests.support.toy import ToyConfig, ToyModel

    job = Job("toy", ToyModel, ToyConfig, ToyConfig(), TrainConfig(), "/nonexistent/store", "k", "toy", "toy", "c",
              Fold("fold1", train=["00"], val=["01"], test=["02"]), {"train": [], "val": [], "test": []})
    return dataclasses.replace(job, **changes)


# -- the same numbers everywhere -------------------------------------------------------------
def _grid_in_own_home(models, store, executor, home: Path, experiment: str, busy: bool = False) -> dict:
    """The grid with a BENCH_HOME (and so a ledger) of its own: with a shared result cache or
    ledger a later executor would only read back an earlier one's results and agree trivially.
    Every executor trains each job with its train.threads (1), so reductions run in the same
    order everywhere. ``busy``: another process keeps a core busy meanwhile."""
    from tests.support.busy import busy_core

    with pytest.MonkeyPatch.context() as patch, (busy_core() if busy else contextlib.nullcontext()):
        patch.setenv("BENCH_HOME", str(home))
        patch.setenv("BENCH_LEDGER", str(home / "ledger"))
        grid = _grid(models, store, executor, experiment)
    assert len(grid) == 4 and all(r.finished and not r.cached for r in grid.values()), "every job must train here"
    assert len(list((home / "results").iterdir())) == 4, "and be cached here"
    return grid


def _records(home: Path) -> dict[str, str]:
    """The grid's ledger records as canonical text of their numbers (everything but timings)."""
    from bench.ledger import Ledger

    records, errors = Ledger(home / "ledger").records()
    assert errors == [] and len(records) == 4
    return {r.key: r.numbers_text() for r in records}


@pytest.fixture(scope="module")
def serial_grid(models, store, tmp_path_factory):
    home = tmp_path_factory.mktemp("serial_home")
    grid = _grid_in_own_home(models, store, SerialExecutor(), home, "agree-serial")
    assert len({repr(_numbers(r)) for r in grid.values()}) == 4  # the jobs differ, so a comparison can fail
    return grid, _records(home)


def _assert_same(grid: dict, home: Path, serial, name: str) -> None:
    serial_grid, serial_records = serial
    assert sorted(grid) == sorted(serial_grid)
    for key in serial_grid:
        assert _numbers(grid[key]) == _numbers(serial_grid[key]), f"{name} differs from serial on {key}"
    records = _records(home)
    assert sorted(records) == sorted(serial_records)
    for key, text in serial_records.items():  # the ledger records, bit for bit (NaN included)
        assert records[key] == text, f"{name}: the record of {key} differs from the serial run's"


@pytest.mark.slow
def test_processes_give_the_serial_numbers_with_a_busy_neighbour(models, store, serial_grid, tmp_path):
    """--jobs 2 on a machine where another process keeps a core busy: the records are the serial
    run's, bit for bit (only their timings differ)."""
    grid = _grid_in_own_home(models, store, ProcessExecutor(2), tmp_path / "home", "agree-processes", busy=True)
    _assert_same(grid, tmp_path / "home", serial_grid, "ProcessExecutor(2)")


@pytest.mark.slow
def test_ray_gives_the_serial_numbers_with_a_busy_neighbour(models, store, serial_grid, ray_address, tmp_path):
    grid = _grid_in_own_home(models, store, RayExecutor(address=ray_address, cpus_per_job=1), tmp_path / "home",
                             "agree-ray", busy=True)
    _assert_same(grid, tmp_path / "home", serial_grid, "RayExecutor")


@pytest.mark.slow
def test_ray_surfaces_a_jobs_bad_input_as_the_suites_error(ray_address, tmp_path, monkeypatch):
    """A job that raises (here: its store is missing on the worker) is not retried, and the
    driver gets the suite's own error, which the CLI prints as one line."""
    from bench.errors import BenchError

    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    with pytest.raises(BenchError, match="/nonexistent/store") as caught:
        RayExecutor(address=ray_address).run([_job()], lambda index, result: None)
    assert "RayTaskError" not in type(caught.value).__name__


# -- a killed worker -------------------------------------------------------------------------
@pytest.mark.slow
def test_ray_retries_a_killed_worker_and_tracks_one_finished_run_per_job(store, ray_address, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("BENCH_HOME", str(home))
    register("toy-crash", CrashOnceToy, RECIPES["toy-a"])
    try:
        result = run("toy-crash", store=store, split=toy_scheme(store, 2), seeds=(0,), progress=False, console=Quiet(),
                     system_metrics=False, experiment_name="crash", executor=RayExecutor(address=ray_address))
    finally:
        unregister_model("toy-crash")
    assert (home / CRASH_MARKER).is_file(), "no worker was killed: the test proves nothing"
    assert [r.finished for r in result.fold_results] == [True, True]
    children = _children(home, "crash")
    by_key: dict[str, list[str]] = {}
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == result.parent_run_id
        by_key.setdefault(child.data.tags["cache_key"], []).append(child.info.status)
    assert len(by_key) == 2
    assert sorted(sorted(statuses) for statuses in by_key.values()) == [["FINISHED"], ["FINISHED", "KILLED"]], by_key
    killed = [c for c in children if c.info.status == "KILLED"]
    assert "superseded by a retry" in killed[0].data.tags["bench.killed_reason"]


# -- an interrupted grid ---------------------------------------------------------------------
def _interrupt_grid(store, home: Path, executor: str, folds: int, sig: int, sleep: float, env: dict | None = None,
                    delay: float = 0.0):
    """Run ``tests.support.grid_run`` in a process, send it ``sig`` ``delay`` s after a job finished.

    Returns (folds seen done, the driver's exit code, its output); asserts that every process
    it started (workers, a local Ray) is gone within 15 s.
    """
    import psutil

    env = {**os.environ, **(env or {}), "BENCH_HOME": str(home), "BENCH_TEST_SLEEP": str(sleep), "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen([sys.executable, "-m", "tests.support.grid_run", str(store.root), str(folds), executor],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=default_sigint)
    done, output, workers = [], [], []
    try:
        deadline = time.monotonic() + 120
        for line in driver.stdout:
            output.append(line)
            if line.startswith("JOB-DONE"):
                done.append(line.split()[1])
                time.sleep(delay)
                workers = psutil.Process(driver.pid).children(recursive=True)
                driver.send_signal(sig)
                break
            assert time.monotonic() < deadline, "".join(output)
        output.append(driver.communicate(timeout=60)[0])
    finally:
        if driver.poll() is None:
            driver.kill()
    assert done, "".join(output)
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, f"processes outlived the grid: {[' '.join(p.cmdline()) for p in alive]}"
    return done, driver.returncode, "".join(output)


@pytest.mark.slow
def test_an_interrupted_grid_trains_only_what_is_missing(store, tmp_path, monkeypatch):
    home = tmp_path / "home"
    # SIGTERM, as a scheduler stops a job: the grid is interrupted, not finished.
    done, code, output = _interrupt_grid(store, home, "processes:1", 3, signal.SIGTERM, sleep=0.4)
    assert code != 0, output
    # What finished before the interruption took effect is cached (at least the job seen
    # done; the job then running may finish first), and not everything: the grid was cut short.
    before = {path.name for path in (home / "results").iterdir()}
    assert len(done) <= len(before) < 3, (done, before)

    (home / SLEEP_FILE).unlink()  # the re-run trains at full speed
    monkeypatch.setenv("BENCH_HOME", str(home))
    register("toy-slow", SlowToy, SLOW_RECIPE)  # as grid_run registers it: the same cache keys
    try:
        console = Quiet()
        result = run("toy-slow", store=store, split=toy_scheme(store, 3), seeds=(0,), progress=False, console=console,
                     system_metrics=False, experiment_name="grid-kill", executor=SerialExecutor())
    finally:
        unregister_model("toy-slow")
    cached = {r.cache_key for r in result.fold_results if r.cached}
    trained = {r.cache_key for r in result.fold_results if not r.cached}
    assert cached == before and len(trained) == 3 - len(before), (cached, trained, before)
    assert set(done) <= {r.fold for r in result.fold_results if r.cached}
    assert all(r.finished for r in result.fold_results)
    assert sum("reusing the cached result" in line for line in console.lines) == len(before)


@pytest.mark.slow
def test_ctrl_c_on_ray_kills_the_running_jobs_and_ends_every_run(store, ray_address, tmp_path):
    """Ctrl-C in the driver: Ray's running tasks are killed (their workers gone), and no MLflow
    run is left RUNNING: the finished jobs' runs are FINISHED, the killed ones' KILLED."""
    from tests.support.ray_cluster import LOOPBACK

    home = tmp_path / "home"
    # 4 jobs of ~4 s, 2 at a time: Ctrl-C 2 s after the first finished comes mid-training.
    _, code, output = _interrupt_grid(store, home, f"ray:{ray_address}", 4, signal.SIGINT, sleep=1.0, env=LOOPBACK,
                                      delay=2.0)
    assert code != 0 and "KeyboardInterrupt" in output, output
    assert "bug in Ray" not in output, output  # Ray 2.60's driver aborts on an interrupt-then-kill cancel
    cached = len(list((home / "results").iterdir()))
    runs = _children(home, "grid-kill")
    statuses = sorted(r.info.status for r in runs)
    assert "RUNNING" not in statuses and statuses.count("FINISHED") == cached < 4, (statuses, cached)
    assert "KILLED" in statuses, statuses  # the jobs that were training when Ctrl-C came
    import psutil

    from bench.tracking.runs import OWNER_PID

    killed = [psutil.Process(int(r.data.tags[OWNER_PID])) for r in runs if r.info.status == "KILLED"
              if psutil.pid_exists(int(r.data.tags[OWNER_PID]))]
    _, alive = psutil.wait_procs(killed, timeout=15)
    assert not alive, f"the killed jobs' Ray workers still run: {alive}"
    parent = {r.data.tags["mlflow.parentRunId"] for r in runs}
    from mlflow.tracking import MlflowClient

    assert [MlflowClient(f"sqlite:///{home / 'mlflow.db'}").get_run(p).info.status for p in parent] == ["KILLED"]


# -- --jobs auto -----------------------------------------------------------------------------
def test_parse_jobs_reads_numbers_and_auto():
    from bench.study.executors.local import AutoExecutor, parse_jobs

    assert parse_jobs("auto") == 0 and parse_jobs(" AUTO ") == 0 and parse_jobs("3") == 3 and parse_jobs(2) == 2
    for bad in ("0", "-1", "two"):
        with pytest.raises(ConfigError, match="--jobs"):
            parse_jobs(bad)
    assert isinstance(make_executor("serial", 0), AutoExecutor)
    assert isinstance(make_executor("auto", 1), AutoExecutor)


def _width_chosen(monkeypatch, jobs: list, idle: int, limit: int = 0) -> tuple[str, int]:
    """Which executor AutoExecutor hands ``jobs`` to when ``idle`` cores are idle (nothing trains)."""
    from bench.study.executors import local

    chosen: list[tuple[str, int]] = []
    monkeypatch.setattr(local, "idle_cores", lambda *a, **k: idle)
    monkeypatch.setattr(local.SerialExecutor, "run", lambda self, jobs, done, on_epoch=None: chosen.append(("serial", 1)))
    monkeypatch.setattr(local.ProcessExecutor, "run",
                        lambda self, jobs, done, on_epoch=None: chosen.append(("processes", self.jobs)))
    executor = local.AutoExecutor(limit)
    executor.run(jobs, lambda *a: None)
    assert executor.chosen == chosen[0][1]
    return chosen[0]


def test_auto_uses_one_process_per_idle_core_and_never_more_than_the_jobs_to_train(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    jobs = [_job(key=f"key{i}", seed=i) for i in range(5)]
    assert _width_chosen(monkeypatch, jobs, idle=2) == ("processes", 3)  # 3 + 2 beats 2 + 2 + 1 (balanced_width)
    assert _width_chosen(monkeypatch, jobs[:4], idle=2) == ("processes", 2)
    assert _width_chosen(monkeypatch, jobs, idle=8) == ("processes", 5)
    assert _width_chosen(monkeypatch, jobs, idle=8, limit=3) == ("processes", 3)
    assert _width_chosen(monkeypatch, jobs, idle=1) == ("serial", 1)  # a busy neighbour: one at a time
    assert _width_chosen(monkeypatch, jobs[:1], idle=4) == ("serial", 1)  # one job: no worker start-up


def test_balanced_width_fills_the_last_wave_only_when_that_is_predicted_faster():
    from bench.study.executors.local import balanced_width

    # (jobs, cores) -> processes: one per core when the jobs divide evenly or are many
    assert [balanced_width(n, 2) for n in (1, 2, 3, 4, 5, 6, 15)] == [1, 2, 3, 2, 3, 2, 2]
    assert balanced_width(5, 1) == 1 and balanced_width(3, 4) == 3 and balanced_width(20, 4) == 4
    assert all(balanced_width(n, c) <= 2 * c for n in range(1, 40) for c in (1, 2, 4))


def test_auto_counts_only_the_jobs_the_cache_lacks(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    jobs = [_job(key=f"key{i}", seed=i) for i in range(3)]
    for job in jobs[:2]:  # two already finished: only one left to train
        (tmp_path / "results" / job.key).mkdir(parents=True)
        (tmp_path / "results" / job.key / "result.json").write_text("{}")
    assert _width_chosen(monkeypatch, jobs, idle=4) == ("serial", 1)


@pytest.mark.slow
def test_auto_gives_the_serial_numbers(models, store, serial_grid, tmp_path):
    from bench.study.executors.local import AutoExecutor

    executor = AutoExecutor(limit=2)
    grid = _grid_in_own_home(models, store, executor, tmp_path / "home", "agree-auto")
    assert executor.chosen == 2  # two folds to train per model: two processes
    _assert_same(grid, tmp_path / "home", serial_grid, "AutoExecutor")
