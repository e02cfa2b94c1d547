"""Where Optuna keeps a sweep, and how a killed worker's trial is found and marked failed.

* One machine: Optuna's journal file storage (``<bench_home>/optuna.journal`` by default);
  several local worker processes append to the same file under a file lock.
* Many machines: ``postgresql://user@host/db`` (any SQLAlchemy URL) through ``RDBStorage``
  with heartbeats, so a worker that vanishes has its running trial failed by the others.

The journal backend has no heartbeat, so each trial records the host and PID of the process
running it; before a worker starts (and when the supervisor sees a worker die) every RUNNING
trial whose process no longer exists on this host is marked FAIL. The study then goes on: the
budget counts finished trials, so the failed one is replaced.
"""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from bench.errors import ConfigError
from bench.paths import bench_home
from bench.urls import database_url, require_driver  # noqa: F401  (require_driver re-exported: the storage's driver check)

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30
OWNER_HOST = "bench_host"
OWNER_PID = "bench_pid"


def default_storage_url() -> str:
    return f"journal:{bench_home() / 'optuna.journal'}"


def open_storage(url: str | None):
    """``None`` or ``journal:<path>`` -> journal file storage; anything else -> RDBStorage."""
    url = url or default_storage_url()
    require_driver(url, "--storage")
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = Path(url[len("journal:"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    import sqlalchemy.exc

    try:
        with warnings.catch_warnings():  # heartbeats are what we want; Optuna calls them experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                database_url(url),
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                engine_kwargs={"pool_pre_ping": True},
            )
    except sqlalchemy.exc.SQLAlchemyError as exc:  # unreachable server, wrong password, no such database
        from bench.urls import redact_text, redact_url

        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(f"--storage {redact_url(url)}: cannot open the database: {redact_text(reason, url)}") from None


def mark_owner(trial: optuna.Trial) -> None:
    """Record which process runs this trial (for stale-trial detection without heartbeats)."""
    trial.set_user_attr(OWNER_HOST, socket.gethostname())
    trial.set_user_attr(OWNER_PID, os.getpid())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphaned_trials(study: optuna.Study, dead_pids: set[int] | None = None,
                         unowned_grace: float = GRACE_SECONDS) -> list[int]:
    """Mark FAIL every RUNNING trial whose owning process on this host is gone.

    ``dead_pids`` lets a supervisor name processes it knows have died (a PID can be reused,
    so a supervisor's knowledge beats a liveness probe). Without heartbeats (journal), a
    trial that has recorded no owner ``unowned_grace`` seconds after it started belongs to a
    worker killed between creating it and :func:`mark_owner` (milliseconds apart); it is
    failed too, or it would stay RUNNING and count towards the budget for ever.
    Returns the failed trial numbers.
    """
    from datetime import datetime

    from optuna.storages._heartbeat import is_heartbeat_enabled

    host = socket.gethostname()
    failed = []
    storage = study._storage
    heartbeat = is_heartbeat_enabled(storage)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = trial.user_attrs.get(OWNER_PID)
        if pid is None:
            started = trial.datetime_start
            if not heartbeat and started is not None and (datetime.now() - started).total_seconds() >= unowned_grace:
                storage.set_trial_user_attr(trial._trial_id, "fail_reason", "its worker died before recording its process id")
                storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
                failed.append(trial.number)
            continue
        if trial.user_attrs.get(OWNER_HOST) != host:
            continue
        if (dead_pids and pid in dead_pids) or not _pid_alive(int(pid)):
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", f"worker process {pid} on {host} died")
            storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            failed.append(trial.number)
    return failed


def count_trials(study: optuna.Study, states=(TrialState.COMPLETE, TrialState.PRUNED)) -> int:
    return len(study.get_trials(deepcopy=False, states=states))
