"""Torch threads follow the cores that are actually free (bench.study.executors.local)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from bench.study.executors import local


@pytest.mark.parametrize("busy, cores, expected", [(0.0, 2, 2), (0.2, 2, 2), (1.0, 2, 1), (1.9, 2, 1), (6.0, 2, 1),
                                                    (1.0, 8, 7), (2.6, 8, 5)])
def test_idle_cores_gives_threads_only_to_free_cores(monkeypatch, busy, cores, expected):
    monkeypatch.setattr(local, "free_cores", lambda: cores)
    monkeypatch.setattr(local, "busy_elsewhere", lambda interval=0.25: busy)
    assert local.idle_cores() == expected


def test_busy_elsewhere_sees_another_busy_process():
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 5\nwhile time.time() < end: pass"])
    try:
        import time

        time.sleep(0.5)  # let it start spinning
        assert local.busy_elsewhere(0.5) >= 0.6
    finally:
        spinner.kill()
        spinner.wait()


def test_a_serial_job_takes_the_idle_cores(monkeypatch):
    """execute() sets torch's thread count from idle_cores() when the job fixes none."""
    from bench.study import runner

    monkeypatch.setattr(local, "idle_cores", lambda: 1)
    before = torch.get_num_threads()

    class Stop(Exception):
        pass

    def stop(job):
        raise Stop

    monkeypatch.setattr(runner, "_ensure_registered", stop)
    job = type("J", (), {"threads": 0})()
    try:
        torch.set_num_threads(2)
        with pytest.raises(Stop):
            runner.execute(job)
        assert torch.get_num_threads() == 1
        job.threads = 2
        with pytest.raises(Stop):
            runner.execute(job)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
