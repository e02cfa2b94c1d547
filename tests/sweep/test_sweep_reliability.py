"""Sweep reliability: parallel workers draw different trials, one-worker sweeps stay reproducible,
names from study files cannot leave their folders, a missing database driver is named, the
printed reuse command is a valid command, and every tracked trial nests under one parent run."""

from __future__ import annotations

import shlex
import sys
import textwrap

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from bench.errors import ConfigError
from bench.sweep.driver import SweepSettings, run_workers, sweep, worker_loop
from bench.sweep.storage import OWNER_PID, open_storage, require_driver

TOY = "bench.sweep.driver:StorageCheckObjective"


def _settings(study_path, storage, trials, name, seed=0, sleep=0.02):
    return SweepSettings(study_path=str(study_path), study_name=name, storage=storage, trials=trials,
                         sampler_seed=seed, objective=TOY, extra={"sleep": sleep, "track": False})


def _trials(settings):
    return optuna.load_study(study_name=settings.study_name, storage=open_storage(settings.storage)).get_trials()


def _params(trial):
    return tuple(sorted(trial.params.items()))


@pytest.mark.slow
def test_parallel_workers_draw_different_trials(tmp_path, toy_study):
    # Trials long enough that both workers start their first trial before either finishes one
    # (as with real training), while the sampler still draws its random start-up trials.
    settings = _settings(toy_study, f"journal:{tmp_path / 'sweep.journal'}", trials=6, name="parallel", sleep=1.5)
    assert run_workers(settings, workers=2) == [0, 0]
    trials = [t for t in _trials(settings) if t.state == TrialState.COMPLETE]
    by_worker: dict[int, list] = {}
    for trial in sorted(trials, key=lambda t: t.number):
        by_worker.setdefault(trial.user_attrs[OWNER_PID], []).append(trial)
    assert len(by_worker) == 2, "both workers should have run trials"
    first = [runs[0] for runs in by_worker.values()]
    assert _params(first[0]) != _params(first[1]), "the two workers' first trials are copies"
    assert len({_params(t) for t in trials}) == len(trials), "two trials drew the same parameters"


def test_one_worker_sweep_is_reproducible_for_a_seed(tmp_path, toy_study):
    def drawn(name, seed):
        settings = _settings(toy_study, f"journal:{tmp_path / (name + '.journal')}", trials=4, name=name, seed=seed)
        worker_loop(settings)
        return [_params(t) for t in sorted(_trials(settings), key=lambda t: t.number)]

    first, again, other = drawn("a", 7), drawn("b", 7), drawn("c", 8)
    assert first == again
    assert first != other


def _study(tmp_path, name):
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(f"""
        [study]
        kind = "sweep"
        name = {name!r}
        model = "deiii"

        [space.lr]
        type = "float"
        low = 1e-5
        high = 1e-2
        target = "train.lr"
        """))
    return path


@pytest.mark.parametrize("name", ["../../escape", "/tmp/abs", "a\\b", ".."])
def test_hostile_sweep_study_name_is_refused(tmp_path, name):
    path = _study(tmp_path, name)
    with pytest.raises(ConfigError, match=r"study\.toml \[study\] name: .* cannot be used as a name"):
        sweep(path, trials=1, storage=f"journal:{tmp_path / 's.journal'}", objective=TOY, extra={"track": False})


def test_hostile_study_name_option_is_refused_before_any_trial(tmp_path, toy_study):
    journal = tmp_path / "s.journal"
    with pytest.raises(ConfigError, match=r"--study-name: '\.\./\.\./x' cannot be used as a name"):
        sweep(toy_study, trials=1, storage=f"journal:{journal}", objective=TOY, extra={"track": False},
              study_name="../../x")
    assert not journal.exists(), "no study should have been created"


def test_postgres_url_without_its_driver_names_the_extra(monkeypatch, tmp_path, toy_study):
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # `import psycopg2` now fails
    url = "postgresql://bench:secret@db-host/optuna"
    with pytest.raises(ConfigError) as caught:
        open_storage(url)
    message = str(caught.value)
    assert message.startswith("--storage postgresql://bench:***@db-host/optuna")
    assert "pip install 'deiii-bench[postgres]'" in message and "psycopg2-binary" in message
    assert "secret" not in message
    with pytest.raises(ConfigError, match=r"--tracking-uri postgresql\+psycopg2://db-host/mlflow: .*deiii-bench\[postgres\]"):
        sweep(toy_study, trials=1, storage=f"journal:{tmp_path / 's.journal'}", objective=TOY,
              tracking_uri="postgresql+psycopg2://db-host/mlflow")
    require_driver("sqlite:///x.db", "--tracking-uri")  # other URLs need nothing
    require_driver(f"journal:{tmp_path / 'j'}", "--storage")


def test_printed_reuse_command_is_a_valid_command(tmp_path, toy_study, monkeypatch):
    from typer.testing import CliRunner

    import bench.sweep.driver as sweep_module
    from bench.cli import _load_commands, app

    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    real = sweep_module.sweep
    monkeypatch.setattr(sweep_module, "sweep", lambda *a, **k: real(*a, **{**k, "objective": TOY, "extra": {"track": False}}))
    out = tmp_path / "a folder with spaces" / "best [1].toml"
    _load_commands()
    result = CliRunner().invoke(app, ["sweep", "--study", str(toy_study), "--trials", "3", "--out", str(out),
                                      "--storage", f"journal:{tmp_path / 's.journal'}"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    command = lines[lines.index(next(l for l in lines if l.endswith("reuse it with:"))) + 1]
    argv = shlex.split(command)
    assert argv == ["bench", "run", "--model", "deiii", "--config", str(out)]
    assert out.exists()
    assert f"# Reuse it with: {command}" in out.read_text()


@pytest.mark.slow
def test_two_worker_tracked_sweep_nests_every_trial_under_one_parent(tmp_path, toy_study, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    journal = f"journal:{tmp_path / 's.journal'}"
    result = sweep(toy_study, trials=6, workers=2, storage=journal, tracking_uri=uri, objective=TOY,
                   extra={"sleep": 0.05}, study_name="tracked", out=tmp_path / "best.toml")
    trials = optuna.load_study(study_name="tracked", storage=open_storage(journal)).get_trials()
    assert len({t.user_attrs[OWNER_PID] for t in trials}) == 2, "both workers should have run trials"
    client = MlflowClient(uri)
    parent = client.get_run(result.parent_run_id)
    runs = client.search_runs([parent.info.experiment_id], "tags.`bench.kind` = 'trial'", max_results=1000)
    assert {r.data.tags.get("mlflow.parentRunId") for r in runs} == {result.parent_run_id}
    assert len(runs) == len(trials)
    assert sorted(int(r.data.tags["optuna.trial"]) for r in runs) == sorted(t.number for t in trials)
    sweeps = client.search_runs([parent.info.experiment_id], "tags.`bench.kind` = 'sweep'")
    assert [r.info.run_id for r in sweeps] == [result.parent_run_id]


def test_trial_whose_worker_died_before_recording_its_pid_fails_after_the_grace(tmp_path):
    from bench.sweep.storage import fail_orphaned_trials

    study = optuna.create_study(study_name="unowned", storage=open_storage(f"journal:{tmp_path / 'u.journal'}"))
    trial = study.ask()  # RUNNING, and no owner recorded: as if killed right after creating it
    assert fail_orphaned_trials(study) == []  # within the grace its worker may still record itself
    assert fail_orphaned_trials(study, unowned_grace=0) == [trial.number]
    frozen = study.get_trials()[0]
    assert frozen.state == TrialState.FAIL and "before recording" in frozen.user_attrs["fail_reason"]


def test_check_storage_runs_the_toy_study_and_writes_no_best_file(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import bench.sweep.driver as sweep_module
    from bench.cli import _load_commands, app

    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    written = []
    monkeypatch.setattr(sweep_module, "write_best_study", lambda *a, **k: written.append(a))
    _load_commands()
    result = CliRunner().invoke(app, ["sweep", "--check-storage", f"journal:{tmp_path / 'check.journal'}"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "10 complete" in result.output and "OK" in result.output
    assert written == []  # (it used to write to /dev/null, atomically: a rename over the device)


def test_out_that_is_not_a_regular_file_is_refused_before_any_trial(tmp_path, toy_study):
    journal = tmp_path / "s.journal"
    with pytest.raises(ConfigError, match=r"--out .*: not a regular file"):
        sweep(toy_study, trials=1, storage=f"journal:{journal}", objective=TOY, extra={"track": False}, out=tmp_path)
    assert not journal.exists()
