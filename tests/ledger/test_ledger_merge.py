"""Ledgers of several machines merge by copying files; a real conflict is named, never hidden."""

from __future__ import annotations

import shutil

from bench.ledger import Ledger
from bench.ledger.summary import merge, summarize
from tests.ledger.test_ledger_records import PLATFORM, _record

GPU = {**PLATFORM, "id": "cuda-h100-11111111", "device": "cuda"}


def test_two_machines_records_merge_by_copying_and_both_platforms_are_kept(tmp_path):
    ours, theirs = Ledger(tmp_path / "ours"), Ledger(tmp_path / "theirs")
    ours.write(_record("a" * 24))
    theirs.write(_record("a" * 24, platform=GPU, test={"uar": 0.75}))  # the same job on a GPU
    theirs.write(_record("b" * 24, platform=GPU))
    outcome = merge(ours, [theirs.root])
    assert (outcome.copied, outcome.same, outcome.conflicts) == (2, 0, [])
    assert len(ours.lookup("a" * 24, "abc").fresh) == 2  # both platforms' records of job a
    again = merge(ours, [theirs.root])
    assert (again.copied, again.same) == (0, 2)  # idempotent
    # plain copying gives the same tree: no index to rebuild
    copied = tmp_path / "copied"
    shutil.copytree(ours.root, copied)
    shutil.copytree(theirs.root, copied, dirs_exist_ok=True)
    assert sorted(p.name for p in Ledger(copied).files()) == sorted(p.name for p in ours.files())


def test_the_same_job_and_platform_with_other_numbers_is_a_conflict(tmp_path):
    ours, theirs = Ledger(tmp_path / "ours"), Ledger(tmp_path / "theirs")
    ours.write(_record())
    theirs.write(_record(test={"uar": 0.25}))
    outcome = merge(ours, [theirs.root])
    assert outcome.copied == 0 and len(outcome.conflicts) == 1
    assert ours.lookup("k" * 24, "abc").record.result["test"]["uar"] == 0.5  # ours kept


def test_summary_counts_records_by_model_and_platform_and_flags_stale_ones(tmp_path, monkeypatch):
    ledger = Ledger(tmp_path)
    ledger.write(_record("a" * 24))
    ledger.write(_record("b" * 24, fingerprint="old"))
    ledger.write(_record("a" * 24, platform=GPU))
    monkeypatch.setattr("bench.ledger.summary.current_fingerprints", lambda records: {"toy": "abc"})
    summary = summarize(ledger)
    assert summary.total == 3 and summary.stale == 1
    assert [(r.platform, r.fresh, r.stale) for r in summary.rows] == [(PLATFORM["id"], 1, 1), (GPU["id"], 1, 0)]
