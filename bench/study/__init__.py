"""A study is a grid of jobs; one runner hands the missing ones to an executor.

    grid (jobs: model + resolved config, store, fold, seed)  ->  runner  ->  executor
         serial (in this process) | processes (N local workers) | ray (a cluster)

Each job is plain data (:class:`~bench.study.grid.Job`): a worker on any machine opens the
feature store by path, checks the content-addressed result cache, tracks its own MLflow child
run under the study's parent run, trains, and caches the result. Results come back as they
finish; the runner returns them in grid order, so every executor gives the same table.
"""

from bench.study.grid import Job, TrackingTarget
from bench.study.runner import execute, run_jobs

__all__ = ["Job", "TrackingTarget", "execute", "run_jobs"]
