"""Executors on this machine: serial (in this process) and N worker processes."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable

from bench.cores import free_cores, idle_cores
from bench.errors import ConfigError
from bench.study.grid import Job


class SerialExecutor:
    """Jobs one after another in this process; epoch progress is reported."""

    name = "serial"

    def run(self, jobs: list[Job], done: Callable, on_epoch=None) -> None:
        from bench.study.runner import execute

        for index, job in enumerate(jobs):
            callback = (lambda epoch, metrics, job=job: on_epoch(job, epoch, metrics)) if on_epoch else None
            done(index, execute(job, callback))


def _worker_init() -> None:
    """A worker leaves SIGINT to its driver (which stops it), so Ctrl-C prints one message."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _execute(job: Job):
    from bench.interrupt import terminate_as_interrupt
    from bench.study.runner import execute

    with terminate_as_interrupt():  # SIGTERM from the driver ends the job's run as KILLED
        return execute(job)


class ProcessExecutor:
    """``jobs`` worker processes on this machine.

    Each job trains with its ``train.threads`` torch threads (1 by default: the numbers a
    serial run gives, and no oversubscribed cores); a job with ``train.threads = 0`` gets
    ``threads``, by default an even share of the cores this process may use. Measured on 2
    quiet cores (tests/benchmarks/test_executor_bench.py): 2 processes of 1 thread finish a
    4-job DE-III grid 1.17-1.21x faster than 1 process of 2 threads. Workers are started with
    ``spawn`` (no inherited CUDA or thread-pool state) and live for the whole grid, so each
    opens the feature store once.
    """

    name = "processes"

    def __init__(self, jobs: int, threads: int = 0):
        if jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self.threads = threads or max(1, free_cores() // jobs)

    def run(self, jobs: list[Job], done: Callable, on_epoch=None) -> None:
        jobs = [dataclasses.replace(job, threads=job.threads or self.threads) for job in jobs]
        pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(jobs)) or 1, mp_context=mp.get_context("spawn"),
                                   initializer=_worker_init)
        pending = {pool.submit(_execute, job): index for index, job in enumerate(jobs)}
        try:
            while pending:
                # A timeout, so that Ctrl-C / SIGTERM (delivered to this thread) act at once
                # instead of after the next job finishes.
                finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    done(pending.pop(future), future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            for process in list(getattr(pool, "_processes", {}).values()):  # stop running jobs now
                if process.is_alive():
                    process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


# Wall-time cost of sharing cores between more one-thread jobs than cores, over perfect time
# slicing: 3 DE-III folds (synthetic preset, one thread each) on 2 quiet cores took 114-117 s,
# against 1.5 x 69 s = 104 s for perfect sharing (the README's main job, measured 2026-12-06).
OVERSUBSCRIPTION_COST = 0.10


def balanced_width(jobs: int, cores: int) -> int:
    """How many one-thread worker processes finish ``jobs`` similar jobs soonest on ``cores``.

    One process per core leaves cores idle in the last wave when the jobs do not divide evenly:
    5 folds on 2 cores run as 2 + 2 + 1, three fold-times, while 3 processes (3 sharing the 2
    cores, then 2) take 1.5 x 1.10 + 1 = 2.65. Each wave of ``w`` jobs takes one job-time when
    ``w <= cores`` and ``w / cores`` job-times (plus :data:`OVERSUBSCRIPTION_COST`) otherwise;
    the fewest processes with the least predicted time win, at most twice the cores. Numbers do
    not depend on it: every job trains with its own ``train.threads`` wherever it runs.
    """
    def makespan(width: int) -> float:
        total, left = 0.0, jobs
        while left > 0:
            wave = min(width, left)
            total += 1.0 if wave <= cores else wave / cores * (1.0 + OVERSUBSCRIPTION_COST)
            left -= wave
        return total

    if jobs <= 1 or cores <= 1:
        return max(1, min(jobs, cores))
    return min(range(1, min(jobs, 2 * cores) + 1), key=lambda width: (round(makespan(width), 9), width))


class AutoExecutor:
    """``--jobs auto``: worker processes for the jobs to train on the idle cores, chosen when the
    grid runs (:func:`balanced_width`: one per idle core, or a few more when that leaves no core
    idle in the last wave); one job (or one idle core) trains serially in this process, with no
    worker start-up. Numbers do not depend on the choice: every job trains with its own
    ``train.threads`` (1 by default) wherever it runs."""

    name = "auto"

    def __init__(self, limit: int = 0):
        self.limit = limit  # this many processes instead of the idle cores (0: the idle cores)
        self.chosen: int | None = None  # how many ran at once (after run)

    def run(self, jobs: list[Job], done: Callable, on_epoch=None) -> None:
        from bench.study.recording import has_result

        to_train = sum(1 for job in jobs if not has_result(job))
        width = min(to_train, self.limit) if self.limit else balanced_width(to_train, idle_cores())
        self.chosen = max(1, width)
        if width <= 1:
            return SerialExecutor().run(jobs, done, on_epoch)
        return ProcessExecutor(width).run(jobs, done, on_epoch)


def parse_jobs(value: str | int) -> int:
    """``--jobs``: a number of processes, or ``auto`` (0)."""
    text = str(value).strip().lower()
    if text == "auto":
        return 0
    try:
        jobs = int(text)
    except ValueError:
        raise ConfigError(f"--jobs must be a number or 'auto', got {value!r}") from None
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1 (or 'auto'), got {value!r}")
    return jobs


def make_executor(kind: str = "serial", jobs: int = 1, *, ray_address: str | None = None, cpus_per_job: float = 1.0,
                  gpus_per_job: float = 0.0, threads: int = 0):
    """An executor from the CLI's words: ``serial`` (``jobs`` > 1 means ``processes``, ``jobs``
    0 means ``auto``), ``processes``, ``auto`` or ``ray``."""
    if kind == "ray":
        from bench.study.executors.ray import RayExecutor

        return RayExecutor(address=ray_address, cpus_per_job=cpus_per_job, gpus_per_job=gpus_per_job, threads=threads)
    if kind == "auto" or (kind == "serial" and jobs == 0):
        return AutoExecutor()
    if kind == "processes" or (kind == "serial" and jobs > 1):
        return ProcessExecutor(jobs, threads=threads)
    if kind == "serial":
        return SerialExecutor()
    raise ConfigError(f"--executor must be serial, processes, auto or ray, got {kind!r}")
