"""A study across machines: records written by every job, a fresh machine reuses them (and
trains nothing), a report rebuilds from records alone, and stale records are never reused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import bench.report.bundle as bundle
import bench.splits as splits
from bench.experiment import RunSpec, plan_status, run
from bench.ledger import Ledger
from bench.models.registry import unregister_model
from tests.support.console import LineConsole
from tests.support.study_models import OtherToy, register
from tests.support.toy import ToyModel, build_toy_store, toy_scheme

RECIPES = {"toy-a": {"epochs": 2, "batch_size": 8, "lr": 1e-2}, "toy-b": {"epochs": 2, "batch_size": 8, "lr": 3e-2}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_toy_store(tmp_path_factory.mktemp("ledger_store"), num_frames=4, image_size=16, n_mels=16,
                           audio_steps=20)


@pytest.fixture
def models():
    names = [register("toy-a", ToyModel, RECIPES["toy-a"]), register("toy-b", OtherToy, RECIPES["toy-b"])]
    yield names
    for name in names:
        unregister_model(name)


def _run(model, store, home: Path, monkeypatch, console=None):
    monkeypatch.setenv("BENCH_HOME", str(home))  # a machine of its own: its own cache and MLflow
    return run(model, store=store, split=toy_scheme(store, 2), seeds=(0,), progress=False, console=console or LineConsole(),
               system_metrics=False)


def test_a_fresh_machine_reuses_the_records_and_trains_nothing(models, store, tmp_path, monkeypatch):
    ledger = Ledger(tmp_path / "results")
    monkeypatch.setenv("BENCH_LEDGER", str(ledger.root))
    first = _run("toy-a", store, tmp_path / "machine1", monkeypatch)
    assert all(r.finished and not r.cached for r in first.fold_results)
    records, errors = ledger.records()
    assert errors == [] and sorted(r.key for r in records) == sorted(r.cache_key for r in first.fold_results)
    record = records[0]
    assert record.job["model"] == "toy-a" and record.job["protocol"] == first.protocol
    assert record.job["split_checksum"] == first.split_checksum and record.job["store"] == first.store_key
    assert record.provenance["cpu_seconds"] > 0 and record.provenance["threads"] == 1
    assert record.platform["torch"] and record.platform["cpu_capability"] and record.fingerprint["code"]
    assert len(record.result["predictions"]["rows"]) == record.result["n_test"]

    console = LineConsole()
    second = _run("toy-a", store, tmp_path / "machine2", monkeypatch, console)  # no cache there, no MLflow runs
    assert all(r.cached and r.source.startswith("ledger ") for r in second.fold_results)
    assert "all 2 jobs reused (2 from ledger records, 0 from the local result cache): nothing was trained" in console.lines
    assert sum("reusing the ledger record" in line for line in console.lines) == 2
    for a, b in zip(first.fold_results, second.fold_results):
        assert (a.test, a.val, a.history, a.best_epoch) == (b.test, b.val, b.history, b.best_epoch)
        # the same values exactly (float32 probabilities come back as the float64 that holds them)
        pd.testing.assert_frame_equal(a.predictions, b.predictions, check_dtype=False, check_exact=True)
    assert second.aggregates == first.aggregates
    assert len(ledger.files()) == 2  # reusing writes nothing


def test_status_says_done_missing_and_stale_and_stale_records_are_retrained(models, store, tmp_path, monkeypatch):
    ledger = Ledger(tmp_path / "results")
    monkeypatch.setenv("BENCH_LEDGER", str(ledger.root))
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "machine1"))
    specs = [RunSpec(m, m, None, {"store": store, "split": toy_scheme(store, 2), "seeds": (0,)}) for m in models]
    before = plan_status(specs, console=LineConsole())
    assert (before.count("missing"), before.count("done")) == (4, 0) and before.estimate() is None  # nothing to go by
    _run("toy-a", store, tmp_path / "machine1", monkeypatch)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "machine2"))
    status = plan_status(specs, console=LineConsole())
    assert [(r["run"], r["done"], r["from_ledger"], r["missing"]) for r in status.rows()] == [("toy-a", 2, 2, 0),
                                                                                           ("toy-b", 0, 0, 2)]
    assert status.estimate("toy-b") is None and status.estimate("toy-a") == 0.0

    # the trainer's code changes: toy-a's records are stale, listed, and retrained
    monkeypatch.setattr("bench.study.recording.job_fingerprint", lambda job: "changed")
    monkeypatch.setattr("bench.study.status.job_fingerprint", lambda job: "changed")
    stale = plan_status(specs[:1], console=LineConsole())
    assert stale.count("stale") == 2 and stale.count("done") == 0
    again = _run("toy-a", store, tmp_path / "machine3", monkeypatch)
    assert all(r.finished and not r.cached for r in again.fold_results)
    assert {r.fingerprint["code"] for r in ledger.records()[0]} == {"changed"}  # replaced by the fresh ones


@pytest.mark.slow
def test_a_comparison_report_rebuilds_from_records_alone(models, store, tmp_path, monkeypatch):
    from bench.report.compare import compare

    monkeypatch.setattr("bench.data.open.open_dataset", lambda *a, **k: (store, "toy", False))
    monkeypatch.setattr(splits, "get_scheme", lambda *a, **k: toy_scheme(store, 2))
    monkeypatch.setattr(bundle, "pdflatex_available", lambda: False)
    monkeypatch.setenv("BENCH_LEDGER", str(tmp_path / "results"))

    def report(machine: str, console=None):
        monkeypatch.setenv("BENCH_HOME", str(tmp_path / machine))
        return compare(models, "toy", seeds=[0], out_dir=tmp_path / machine / "report", progress=False,
                       console=console or LineConsole(), command="bench compare --models toy-a toy-b")

    first = report("machine1")
    assert all(not r.cached for result in first.results.values() for r in result.fold_results)
    console = LineConsole()
    second = report("fresh-clone", console)
    assert all(r.source.startswith("ledger") for result in second.results.values() for r in result.fold_results)
    assert any("nothing was trained" in line for line in console.lines)
    for name in ("comparison.csv", "comparison.md", "comparison.tex", "training.csv"):
        assert (tmp_path / "fresh-clone" / "report" / name).read_bytes() == (tmp_path / "machine1" / "report" / name).read_bytes(), name
    index = (tmp_path / "fresh-clone" / "report" / "index.md").read_text()
    assert "4 finished jobs: 0 trained by this command, 0 from the local result cache, 4 from ledger records (nothing was trained)" in index
    assert "platform (toy-a)" in index


def test_stale_records_that_the_code_still_reproduces_are_restamped_and_others_are_not(models, store, tmp_path,
                                                                                       monkeypatch):
    from bench.ledger.record import Record

    ledger = Ledger(tmp_path / "results")
    monkeypatch.setenv("BENCH_LEDGER", str(ledger.root))
    spec = [RunSpec("toy-a", "toy-a", None, {"store": store, "split": toy_scheme(store, 2), "seeds": (0, 1)})]
    fingerprint = {"code": "before"}
    for where in ("recording", "status", "restamp"):
        monkeypatch.setattr(f"bench.study.{where}.job_fingerprint", lambda job: fingerprint["code"])
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "machine1"))
    trained = plan_status(spec, console=LineConsole())
    assert trained.count("missing") == 4
    from bench.experiment import run_many

    run_many(spec, progress=False, console=LineConsole())  # 2 folds x 2 seeds, one configuration
    fingerprint["code"] = "after"  # a refactor: the code's fingerprint moves, its numbers should not
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "machine2"))
    status = plan_status(spec, console=LineConsole(), verify_stale=1)
    [check] = status.verified.checks
    assert len(check.verified) == 1 and check.differing == [] and len(check.restamped) == 3
    assert status.count("done") == 4 and status.count("stale") == 0
    restamped = [r for r in ledger.records()[0] if "restamped" in r.provenance]
    assert len(restamped) == 3 and all(r.provenance["restamped"]["from"] == "before" for r in restamped)
    assert all(r.provenance["restamped"]["verified_by"] == check.verified for r in restamped)

    # a change that does move the numbers (another seed stream) restamps nothing
    fingerprint["code"] = "moved"
    import bench.train.loop as loop

    real = loop.seed_everything
    monkeypatch.setattr(loop, "seed_everything", lambda seed: real(seed + 100))
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "machine3"))
    moved = plan_status(spec, console=LineConsole(), verify_stale=1)
    [check] = moved.verified.checks
    assert check.verified == [] and len(check.differing) == 1 and check.restamped == []
    assert moved.count("stale") == 3 and moved.count("done") == 1  # the retrained job's fresh record replaced its own
    assert isinstance(Record.read(ledger.files()[0]), Record)
