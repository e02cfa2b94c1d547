"""The Ray executor: a study's jobs as tasks on a Ray cluster (extra ``ray``).

    bench run --model deiii --folds 5 --seeds 0,1,2 --executor ray --ray-address HEAD:6379 \\
        --cpus-per-job 4 --gpus-per-job 0.5

Each job is one Ray task that calls :func:`bench.study.runner.execute` on a worker, so a
worker does exactly what a local worker process does: opens the feature store *by path*,
checks the result cache under ``$BENCH_HOME``, trains, caches, and tracks its own MLflow child
run. Both paths must therefore be readable by every node (a shared file system); the driver's
absolute ``BENCH_HOME`` and ``BENCH_LEDGER`` are passed to the workers so that the cache, the
default SQLite tracking database and the results ledger resolve to the same files.

A task whose worker dies (a node lost, the OOM killer, a crash in native code) is retried by
Ray up to ``max_retries`` times; the retry's :func:`~bench.study.runner.execute` marks the
dead attempt's MLflow run KILLED, so each job ends with one finished run. An exception raised
*by* a job is not retried (``retry_exceptions=False``): training failures are already failed
results, and anything else is a bug or bad input that a retry would only repeat.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

from bench.errors import BenchError, ConfigError
from bench.study.grid import Job

INSTALL_HINT = "pip install 'deiii-bench[ray]'"
CANCEL_WAIT_SECONDS = 10.0  # for killed workers to be gone before their runs are checked


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray needs the Ray package, which is not installed: {INSTALL_HINT}") from None
    return ray


def _check_reachable(address: str, where: str, timeout: float = 5.0) -> None:
    """Fail at once when nothing listens at a ``HOST:PORT`` address (Ray itself retries for minutes)."""
    import socket

    if "://" in address or address in ("auto", "local") or ":" not in address:
        return  # a Ray client address, or Ray's own lookup: leave it to ray.init
    host, _, port = address.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"{where}: expected HOST:PORT (the head's GCS port, 6379 by default), got {address!r}") from None
    try:
        socket.create_connection((host.strip("[]"), number), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"{where}: no Ray head answers there ({exc.strerror or exc}); start one with "
                          f"`ray start --head --port {number}` or pass the address it printed") from None


def _worker_env() -> dict[str, str]:
    """The driver's folders, absolute, for every worker: the result cache and tracking database
    (``BENCH_HOME``) and the results ledger (``BENCH_LEDGER``; ``none`` when it has none)."""
    from bench.paths import bench_home, ledger_dir

    ledger = ledger_dir()
    return {"BENCH_HOME": str(bench_home()), "BENCH_LEDGER": str(ledger) if ledger is not None else "none"}


def _run_job(job: Job, gpus: float):
    """What a Ray task does with one job (module level, so workers import it by reference)."""
    import torch

    from bench.study.runner import execute

    if gpus > 0 and torch.cuda.is_available():
        # Ray makes the GPUs it reserved for this task the only visible ones (cuda:0, ...), so
        # the driver's device (its own "cuda:1", or "cpu" on a head node without a GPU) is
        # replaced by the task's own.
        job = dataclasses.replace(job, device="cuda")
    return execute(job)


class RayExecutor:
    """Jobs as Ray tasks, ``cpus_per_job`` CPUs and ``gpus_per_job`` GPUs (fractions allowed) each.

    ``address``: a running cluster (``HEAD:6379``, ``ray://HEAD:10001``, or ``auto``); None
    connects to ``$RAY_ADDRESS`` when it is set and otherwise starts a private Ray instance on
    this machine with the cores this process may use. Each job's torch threads are ``threads``,
    or its whole CPUs, so jobs that share a node never oversubscribe it. The connection is
    made when the jobs run and closed afterwards only if this executor made it.
    """

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_job: float = 1.0, gpus_per_job: float = 0.0,
                 threads: int = 0, max_retries: int = 2):
        if not cpus_per_job > 0:
            raise ConfigError(f"--cpus-per-job must be more than 0, got {cpus_per_job}")
        if not gpus_per_job >= 0:
            raise ConfigError(f"--gpus-per-job must be 0 or more, got {gpus_per_job}")
        if gpus_per_job > 1 and gpus_per_job != int(gpus_per_job):
            raise ConfigError(f"--gpus-per-job above 1 must be a whole number (Ray's rule), got {gpus_per_job}")
        if threads < 0:
            raise ConfigError(f"--threads must be 0 (automatic) or more, got {threads}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {max_retries}")
        _import_ray()  # a missing package fails when the executor is chosen, not after the data work
        self.address = address
        self.cpus_per_job, self.gpus_per_job = float(cpus_per_job), float(gpus_per_job)
        self.threads = threads or max(1, int(cpus_per_job))
        self.max_retries = max_retries

    # -- the cluster ---------------------------------------------------------------------------
    def connect(self) -> bool:
        """Connect to (or start) the cluster; True when this call made the connection."""
        ray = _import_ray()
        if ray.is_initialized():  # the caller's own connection (a notebook, a script): keep it
            return False
        address = self.address or os.environ.get("RAY_ADDRESS")
        where = f"--ray-address {address}" if self.address else f"RAY_ADDRESS={address}"
        if address:
            _check_reachable(address, where)
        try:
            if address:
                ray.init(address=address, log_to_driver=True)
            else:
                from bench.cores import free_cores

                ray.init(address="local", num_cpus=free_cores(), include_dashboard=False, log_to_driver=True)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = where if address else "a local Ray instance"
            hint = ("; a cluster with token authentication also needs RAY_AUTH_MODE=token and its token "
                    "(RAY_AUTH_TOKEN, or ~/.ray/auth_token) here" if address else "")
            raise ConfigError(f"{where}: could not connect to a Ray cluster: {exc}{hint}") from None
        return True

    def check_jobs(self, jobs: list[Job]) -> None:
        """Settings that cannot work for these jobs, found before any connection is made."""
        cuda = sorted({job.device for job in jobs if job.device.startswith("cuda")})
        if cuda and self.gpus_per_job == 0:
            raise ConfigError(f"device {cuda[0]} on Ray needs --gpus-per-job above 0: Ray gives a task only the "
                              "GPUs it reserves")

    def check_cluster(self) -> None:
        """Refuse a job size that no node of the connected cluster can hold (it would wait forever)."""
        ray = _import_ray()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        most_cpus = max((n.get("Resources", {}).get("CPU", 0.0) for n in nodes), default=0.0)
        most_gpus = max((n.get("Resources", {}).get("GPU", 0.0) for n in nodes), default=0.0)
        if self.cpus_per_job > most_cpus or self.gpus_per_job > most_gpus:
            # Ray would wait forever for a node that fits (an autoscaler may add one, but this
            # suite starts none): say so instead of hanging.
            raise ConfigError(f"--cpus-per-job {self.cpus_per_job:g} --gpus-per-job {self.gpus_per_job:g}: no node of "
                              f"the Ray cluster has that much (the largest has {most_cpus:g} CPUs, {most_gpus:g} GPUs)")

    # -- the jobs ------------------------------------------------------------------------------
    def run(self, jobs: list[Job], done: Callable, on_epoch=None) -> None:
        """Submit every job, call ``done(index, result)`` as each finishes (epochs are not reported)."""
        if not jobs:
            return
        ray = _import_ray()
        self.check_jobs(jobs)
        started = self.connect()
        try:
            self.check_cluster()
            task = ray.remote(_run_job).options(
                num_cpus=self.cpus_per_job, num_gpus=self.gpus_per_job, max_retries=self.max_retries,
                retry_exceptions=False, runtime_env={"env_vars": _worker_env()})
            pending = {task.remote(dataclasses.replace(job, threads=job.threads or self.threads), self.gpus_per_job): index
                       for index, job in enumerate(jobs)}
            try:
                while pending:
                    ready, _ = ray.wait(list(pending), num_returns=1)
                    for ref in ready:
                        index = pending.pop(ref)
                        done(index, self._result(ray, ref, jobs[index]))
            except BaseException:
                self._cancel(ray, list(pending))
                raise
        finally:
            if started:
                ray.shutdown()

    def _result(self, ray, ref, job: Job):
        """The job's result; a worker that died on every attempt gives a failed result."""
        from bench.train.result import FoldResult

        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # raised by the job itself
            if isinstance(exc.cause, BenchError):  # bad input: the CLI prints it without a traceback
                raise exc.cause from None
            raise
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError,
                ray.exceptions.LocalRayletDiedError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return FoldResult(status="failed", fold=job.fold.name, seed=job.seed,
                              error=f"{job.label}: its Ray worker died on all {self.max_retries + 1} attempts "
                                    f"({type(exc).__name__}: {reason})")

    @staticmethod
    def _cancel(ray, refs: list) -> None:
        """Kill the pending and running jobs, and wait (briefly) until their workers are gone.

        The workers are killed (``force=True``), not interrupted: Ray 2.60's driver aborts
        when an interrupted task's reply arrives after its cancellation. Their MLflow runs are
        then ended KILLED by the driver's check for runs of dead processes.
        """
        for ref in refs:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # already finished, or the cluster is gone
                pass
        if refs:
            try:
                ray.wait(refs, num_returns=len(refs), timeout=CANCEL_WAIT_SECONDS)
            except Exception:
                pass
