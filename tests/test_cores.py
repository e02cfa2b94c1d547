"""bench.cores: the cores a process may use, the idle ones, and the automatic data workers."""

from __future__ import annotations

from bench import cores


def test_idle_cores_is_between_one_and_the_cores_this_process_may_use():
    assert 1 <= cores.idle_cores(0.05) <= cores.free_cores()


def test_data_workers_take_the_given_count_else_the_idle_cores_capped(monkeypatch):
    assert cores.data_workers(3) == 3 and cores.data_workers(7, jobs=2) == 7  # given: as given
    monkeypatch.setattr(cores, "idle_cores", lambda *a, **k: 8)
    assert cores.data_workers(0) == cores.MAX_DATA_WORKERS == 4  # a big idle machine: capped
    assert cores.data_workers(0, jobs=3) == 3 and cores.data_workers(0, jobs=1) == 1  # no idle process
    assert cores.data_workers(0, jobs=100, min_jobs_per_worker=48) == 2  # each worker earns its start-up
    assert cores.data_workers(0, jobs=40, min_jobs_per_worker=48) == 1
    monkeypatch.setattr(cores, "idle_cores", lambda *a, **k: 1)
    assert cores.data_workers(0) == 1  # one busy neighbour on 2 cores: no pool

