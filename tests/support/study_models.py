"""Toy models for the executor tests, importable by worker processes and Ray workers.

A model registered only in a test's process is registered again in a worker from the job's
class reference, so these classes live in an importable module (``tests.support``: Ray adds
the driver's working directory to its workers' path; spawned processes inherit it).

* :class:`OtherToy`: a second model for grids of two models (its own class, so registering it
  does not rename :class:`~tests.support.toy.ToyModel`);
* :class:`SlowToy`: sleeps the seconds written in ``$BENCH_HOME/test-sleep`` per training
  step, so a test can interrupt a grid while a job trains (a file under ``BENCH_HOME``, which
  every executor passes on: the workers of a running Ray cluster do not see the driver's
  other environment variables);
* :class:`CrashOnceToy`: on its first training step anywhere, kills its own process with
  SIGKILL (as the OOM killer or a lost node would); the marker file
  ``$BENCH_HOME/crashed-once`` makes every later attempt train normally.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from bench.models.registry import register_model
from tests.support.toy import ToyConfig, ToyModel

CRASH_MARKER = "crashed-once"


class OtherToy(ToyModel):
    """The toy model under another name and class."""


SLEEP_FILE = "test-sleep"


class SlowToy(ToyModel):
    def forward(self, batch):
        if self.training:
            setting = Path(os.environ["BENCH_HOME"]) / SLEEP_FILE
            time.sleep(float(setting.read_text()) if setting.is_file() else 0.0)
        return super().forward(batch)


class CrashOnceToy(ToyModel):
    def forward(self, batch):
        if self.training:
            marker = Path(os.environ["BENCH_HOME"]) / CRASH_MARKER
            try:
                with open(marker, "x") as handle:  # exactly one process wins, once
                    handle.write(str(os.getpid()))
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(batch)


def register(name: str, model_class: type, recipe: dict | None = None) -> str:
    register_model(name, ToyConfig, recipe=recipe or {})(model_class)
    return name
