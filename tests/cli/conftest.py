"""CLI tests: the corpus replica helpers on the path, and a private bench home per test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "corpora"))  # corpus_replicas


@pytest.fixture(autouse=True)
def _bench_home(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENCH_REPORTS", str(tmp_path / "reports"))
