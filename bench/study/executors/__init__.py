"""Executors: where a study's jobs run. Each has ``run(jobs, done, on_epoch)``.

* :class:`SerialExecutor` — one job after another in this process (the default);
* :class:`ProcessExecutor` — N local worker processes, the cores' threads split between them;
* :class:`~bench.study.executors.ray.RayExecutor` — an existing Ray cluster (extra ``ray``).

``done(index, result)`` is called in the driver as each job finishes. A job's own failure
(NaN loss, bad clip) is a failed result, not an exception; an interruption (Ctrl-C,
SIGTERM) stops every worker and propagates.
"""

from __future__ import annotations

from bench.study.executors.local import ProcessExecutor, SerialExecutor, make_executor

__all__ = ["ProcessExecutor", "SerialExecutor", "make_executor"]
