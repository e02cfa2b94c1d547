"""How many cores this process may use, and how many of them are idle now.

One definition for every layer that starts processes: the corpus generator and the feature
preparation (``workers=0``: automatic) and the fold executors (``--jobs auto``).
"""

from __future__ import annotations

import os

# Corpus generation and preparation are short and I/O-bound in part: beyond 4 processes their
# start-up costs more than they save on the corpora the suite makes itself.
MAX_DATA_WORKERS = 4
# A worker pays its start-up (~3 s) back after about this many short clips (prepare: ~60 ms a
# clip, synthesis ~130 ms, on one core): fewer clips, and one process is faster.
MIN_CLIPS_PER_WORKER = 48


def free_cores() -> int:
    """Cores this process may use (its CPU affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def idle_cores(sample_s: float = 0.5) -> int:
    """Cores of :func:`free_cores` that other processes are not using now: their count minus
    the load measured over ``sample_s`` seconds (psutil), rounded, at least 1. A shared machine
    with one busy neighbour on 2 cores gives 1, so --jobs auto trains one job at a time there
    instead of two that fight over one core."""
    cores = free_cores()
    try:
        import psutil

        usage = psutil.cpu_percent(interval=sample_s, percpu=True)
        allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else range(len(usage))
        busy = sum(usage[c] for c in allowed if c < len(usage)) / 100.0
    except Exception:  # no psutil, no per-CPU counters: trust the affinity
        return cores
    return max(1, min(cores, round(cores - busy)))


def data_workers(workers: int = 0, jobs: int | None = None, min_jobs_per_worker: int = 1) -> int:
    """Processes for generating or preparing a corpus: ``workers`` when given (>= 1), else one
    per idle core, at most :data:`MAX_DATA_WORKERS` and at most one per ``min_jobs_per_worker``
    of the ``jobs`` left (a worker process costs seconds to start: torch and OpenCV imports).
    The files and arrays do not depend on the count (tested), only the wall time does."""
    if workers:
        return workers
    cap = MAX_DATA_WORKERS if jobs is None else jobs // max(1, min_jobs_per_worker)
    return max(1, min(MAX_DATA_WORKERS, cap, idle_cores()))
