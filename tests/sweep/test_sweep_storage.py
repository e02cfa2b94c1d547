"""Parallel sweep workers never lose or duplicate a trial; a killed worker's trial fails and the
study goes on — on the journal file (one machine) and on PostgreSQL (many machines)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time

import optuna
import pytest
from optuna.trial import TrialState

from bench.sweep.driver import SweepSettings, default_study_name, run_workers, sweep, worker_loop
from bench.studies.loader import load_study

TOY = "bench.sweep.driver:StorageCheckObjective"


def _settings(study_path, storage, trials, sleep=0.02, name=None):
    study = load_study(study_path)
    return SweepSettings(
        study_path=str(study_path),
        study_name=name or default_study_name(study),
        storage=storage,
        trials=trials,
        objective=TOY,
        extra={"sleep": sleep, "track": False},
    )


def _trials(settings):
    from bench.sweep.storage import open_storage

    return optuna.load_study(study_name=settings.study_name, storage=open_storage(settings.storage)).get_trials()


def _assert_no_loss_no_duplicates(trials, budget):
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)), "a trial number was handed out twice"
    assert sorted(numbers) == list(range(len(numbers))), "a trial was lost"
    ids = [t._trial_id for t in trials]
    assert len(ids) == len(set(ids))
    assert not [t for t in trials if t.state == TrialState.RUNNING], "a trial was left running"
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert budget <= len(finished) <= budget + 1  # two workers may both start the last trial


def _storages(tmp_path, request):
    return f"journal:{tmp_path / 'sweep.journal'}"


def test_two_workers_share_a_journal(tmp_path, toy_study):
    settings = _settings(toy_study, f"journal:{tmp_path / 'sweep.journal'}", trials=12)
    codes = run_workers(settings, workers=2)
    assert codes == [0, 0]
    _assert_no_loss_no_duplicates(_trials(settings), 12)


def _kill_during_trial(settings):
    ctx = mp.get_context("spawn")
    victim = ctx.Process(target=worker_loop, args=(settings,))
    victim.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            # running *and* owned: killed before mark_owner, the trial is only failed after a grace
            if any(t.state == TrialState.RUNNING and "bench_pid" in t.user_attrs for t in _trials(settings)):
                break
        except KeyError:  # study not created yet
            pass
        time.sleep(0.1)
    else:
        victim.kill()
        pytest.fail("the worker never started a trial")
    os.kill(victim.pid, signal.SIGKILL)
    victim.join()
    return victim.pid


def test_killed_worker_trial_fails_and_study_goes_on_journal(tmp_path, toy_study):
    slow = _settings(toy_study, f"journal:{tmp_path / 'sweep.journal'}", trials=4, sleep=30, name="killed")
    _kill_during_trial(slow)
    fast = _settings(toy_study, slow.storage, trials=4, sleep=0.01, name="killed")
    worker_loop(fast)  # a new worker finds the orphan, fails it, and completes the budget
    trials = _trials(fast)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1 and "died" in failed[0].user_attrs["fail_reason"]
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == 4


@pytest.mark.postgres
def test_two_workers_share_postgres(postgres_url, toy_study):
    settings = _settings(toy_study, postgres_url, trials=10, name="pg-two-workers")
    codes = run_workers(settings, workers=2)
    assert codes == [0, 0]
    _assert_no_loss_no_duplicates(_trials(settings), 10)


@pytest.mark.postgres
def test_killed_worker_trial_fails_and_study_goes_on_postgres(postgres_url, toy_study):
    slow = _settings(toy_study, postgres_url, trials=3, sleep=30, name="pg-killed")
    _kill_during_trial(slow)
    fast = _settings(toy_study, postgres_url, trials=3, sleep=0.01, name="pg-killed")
    worker_loop(fast)
    trials = _trials(fast)
    assert len([t for t in trials if t.state == TrialState.FAIL]) == 1
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == 3


def test_sweep_writes_best_study_file(tmp_path, toy_study, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    result = sweep(
        toy_study,
        trials=5,
        storage=f"journal:{tmp_path / 's.journal'}",
        objective=TOY,
        extra={"track": False},
        out=tmp_path / "best.toml",
    )
    assert result.n_complete + result.n_pruned >= 5
    best = load_study(result.best_config_path)
    assert best.kind == "run" and best.model == "deiii"
    assert best.overrides["deiii"]["train.lr"] == pytest.approx(result.best_params["lr"])
