"""MLflow state tells the truth: killed work is KILLED, never RUNNING forever, and resumes.

A run's owner (host, PID, PID start time) and heartbeat are tags; a process that opens the
experiment later ends the runs of dead owners as KILLED. SIGTERM is handled (KILLED at once);
kill -9 is found on the next run. Finished folds are reused, only the interrupted one retrains.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bench.tracking.runs import HEARTBEAT, KILLED_REASON, OWNER_HOST, OWNER_PID, OWNER_START, Tracker, make_client, owner_tags
from tests.support.toy import build_toy_store

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "support" / "slow_run.py"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _status(client, run_id):
    return client.get_run(run_id).info.status


def test_runs_of_dead_owners_are_marked_killed_and_live_ones_kept(home):
    tracker = Tracker(None, "reap")
    client = tracker.client
    here = platform.node()
    dead = client.create_run(tracker.experiment_id, tags={OWNER_HOST: here, OWNER_PID: str(_dead_pid())}).info.run_id
    live = tracker.start_run("live")  # this process: alive
    reused = client.create_run(tracker.experiment_id, tags={**owner_tags(), OWNER_START: "1"}).info.run_id  # PID reused
    old = str(int(time.time()) - 3 * 3600)
    remote_dead = client.create_run(tracker.experiment_id, tags={OWNER_HOST: "node-7", OWNER_PID: "12", HEARTBEAT: old}).info.run_id
    remote_live = client.create_run(tracker.experiment_id, tags={OWNER_HOST: "node-7", OWNER_PID: "12",
                                                                 HEARTBEAT: str(int(time.time()))}).info.run_id
    foreign = client.create_run(tracker.experiment_id).info.run_id  # no owner tags: not ours to judge

    said = []
    Tracker(None, "reap", say=said.append)
    assert _status(client, dead) == "KILLED" and _status(client, reused) == "KILLED"
    assert _status(client, remote_dead) == "KILLED"
    assert {_status(client, r) for r in (live, remote_live, foreign)} == {"RUNNING"}
    assert "ended without closing the run" in client.get_run(dead).data.tags[KILLED_REASON]
    assert said == ["marked 3 run(s) left RUNNING by a dead process as KILLED"]


def test_two_first_runs_on_a_fresh_home_both_open_the_database(home):
    code = "from bench.tracking.runs import Tracker; Tracker(None, 'race'); print('ok')"
    env = {**os.environ, "BENCH_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in outputs]
    assert len(MlflowClient(f"sqlite:///{home / 'mlflow.db'}").search_experiments(filter_string="name = 'race'")) == 1


def _start_driver(store, home, sleep):
    env = {**os.environ, "BENCH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(DRIVER), str(store), str(sleep)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(proc, marker: str, timeout: float = 120.0) -> list[str]:
    lines, deadline = [], time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    proc.kill()
    pytest.fail(f"{marker!r} not seen:\n{''.join(lines)[-3000:]}")


def _runs(home):
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    exp = client.get_experiment_by_name("kill-test")
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_killed_run_is_marked_killed_and_resumes_only_the_interrupted_fold(tmp_path, home, sig):
    store = build_toy_store(tmp_path / "store", num_frames=4, image_size=16, n_mels=16, audio_steps=20)
    proc = _start_driver(store.root, home, sleep=0.05)
    _wait_for(proc, "FOLD-DONE fold1")
    time.sleep(0.3)  # inside fold2's training
    proc.send_signal(sig)
    proc.wait(timeout=60)

    parents, children = _runs(home)
    expected = "KILLED" if sig == signal.SIGTERM else "RUNNING"  # kill -9 cannot say anything
    assert [r.info.status for r in parents] == [expected]
    assert [(r.data.tags["fold"], r.info.status) for r in children] == [("fold1", "FINISHED"), ("fold2", expected)]

    # The next run of the same experiment: the dead runs become KILLED, fold1 comes from the
    # cache, and only fold2 trains (the result cache says which: cached=true / false).
    again = _start_driver(store.root, home, sleep=0.0)
    out, _ = again.communicate(timeout=180)
    assert again.returncode == 0, out[-3000:]
    assert "reusing the cached result" in out and out.count("reusing the cached result") == 1
    parents, children = _runs(home)
    assert [r.info.status for r in parents] == ["KILLED", "FINISHED"]
    assert [(r.data.tags["fold"], r.info.status, r.data.tags.get("cached")) for r in children] == [
        ("fold1", "FINISHED", "false"), ("fold2", "KILLED", None), ("fold1", "FINISHED", "true"), ("fold2", "FINISHED", "false")]
    if sig == signal.SIGKILL:
        assert "ended without closing the run" in children[1].data.tags[KILLED_REASON]


@pytest.mark.slow
def test_truncated_cached_result_and_leftover_temporary_folder_retrain(tmp_path, home):
    store = build_toy_store(tmp_path / "store", num_frames=4, image_size=16, n_mels=16, audio_steps=20)
    first = _start_driver(store.root, home, sleep=0.0)
    out, _ = first.communicate(timeout=180)
    assert first.returncode == 0, out[-3000:]
    results = home / "results"
    keys = sorted(p for p in results.iterdir() if not p.name.startswith("."))
    assert len(keys) == 2
    text = (keys[0] / "result.json").read_text()
    (keys[0] / "result.json").write_text(text[: len(text) // 2])  # truncated
    (results / f".{keys[1].name}.tmp-leftover").mkdir()  # a killed save's temporary folder
    (results / f".{keys[1].name}.tmp-leftover" / "result.json").write_text("{")

    again = _start_driver(store.root, home, sleep=0.0)
    out, _ = again.communicate(timeout=180)
    assert again.returncode == 0, out[-3000:]
    assert out.count("reusing the cached result") == 1  # the intact fold only
    assert json.loads((keys[0] / "result.json").read_text())["status"] == "finished"  # rewritten whole


SWEEP = """
import sys
from pathlib import Path
import bench.cli
from bench.sweep.driver import sweep
sweep(Path(bench.cli.__file__).with_name("toy_sweep.toml"), trials=40, workers=int(sys.argv[1]), tracking_uri=sys.argv[2],
      objective="bench.sweep.driver:StorageCheckObjective", extra={"sleep": 3.0}, write_best=False)
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_to_a_sweep_ends_parent_and_running_trials_as_killed(tmp_path, home, workers):
    uri = f"sqlite:///{tmp_path / 'sweep.db'}"
    env = {**os.environ, "BENCH_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-c", SWEEP, str(workers), uri], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    client, deadline, trials = None, time.time() + 120, []
    while time.time() < deadline and len(trials) < workers:
        time.sleep(0.5)
        if (tmp_path / "sweep.db").exists():
            client = make_client(uri)  # under the creation lock: the sweep may be creating the schema
            exp = client.get_experiment_by_name("sweep/deiii")
            if exp is not None:
                trials = client.search_runs([exp.experiment_id], "tags.`bench.kind` = 'trial'")
    assert len(trials) >= workers, proc.communicate(timeout=30)[0][-3000:]
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode != 0

    runs = client.search_runs([exp.experiment_id])
    parent = [r for r in runs if r.data.tags.get("bench.kind") == "sweep"]
    trials = [r for r in runs if r.data.tags.get("bench.kind") == "trial"]
    assert [r.info.status for r in parent] == ["KILLED"], out[-3000:]
    assert "RUNNING" not in {r.info.status for r in trials}
    assert "KILLED" in {r.info.status for r in trials}
    for pid in {int(r.data.tags[OWNER_PID]) for r in trials}:  # no worker left behind
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_an_interrupted_sweep_ends_its_runs_and_the_trials_of_dead_workers_killed(tmp_path, monkeypatch):
    """kill_sweep_runs: the parent KILLED, a trial run whose worker is gone KILLED too (a worker
    stopped between creating its trial's run and guarding it), a live owner's run left alone;
    and create_trial_run ends its own run KILLED when SIGTERM lands while it logs the params."""
    from types import SimpleNamespace

    from bench.tracking import sweep as track

    uri = f"sqlite:///{tmp_path / 'sweep.db'}"
    client = make_client(uri)
    exp = client.create_experiment("sweep/toy")
    parent = client.create_run(exp, tags={**owner_tags(), "bench.kind": "sweep"}).info.run_id
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = {**owner_tags(), OWNER_PID: str(dead.pid), OWNER_START: "gone"}
    orphan = client.create_run(exp, tags={**gone, "mlflow.parentRunId": parent, "bench.kind": "trial"}).info.run_id
    alive = client.create_run(exp, tags={**owner_tags(), "mlflow.parentRunId": parent, "bench.kind": "trial"}).info.run_id
    settings = SimpleNamespace(tracking_uri=uri)
    track.kill_sweep_runs(settings, [None, parent])
    status = {r: client.get_run(r).info.status for r in (parent, orphan, alive)}
    assert status == {parent: "KILLED", orphan: "KILLED", alive: "RUNNING"}

    class Stopped(MlflowClient):
        def log_batch(self, *args, **kwargs):
            raise KeyboardInterrupt

    monkeypatch.setattr(track, "client_for", lambda _uri: Stopped(uri))
    with pytest.raises(KeyboardInterrupt):
        track.create_trial_run(settings, SimpleNamespace(), alive, 7, {"lr": 0.1})
    trial = [r for r in client.search_runs([exp]) if r.data.tags.get("optuna.trial") == "7"]
    assert [r.info.status for r in trial] == ["KILLED"]
