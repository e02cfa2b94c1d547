"""SIGTERM as an interruption: a process asked to stop cleans up as it would on Ctrl-C.

Schedulers, ``kill`` and container runtimes stop a process with SIGTERM, whose default action
ends it at once: MLflow runs stay RUNNING forever and worker processes are orphaned. Inside
:func:`terminate_as_interrupt` a SIGTERM raises :class:`Terminated`, a ``KeyboardInterrupt``,
so every ``except KeyboardInterrupt`` / ``finally`` that handles Ctrl-C (ending runs as
KILLED, stopping workers) handles it too.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""

    exit_code = 128 + signal.SIGTERM


def _raise_terminated(signum, frame) -> None:
    raise Terminated(f"received signal {signum}")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` for the duration (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
