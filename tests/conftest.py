"""Fixtures shared across test packages: a small constructed results frame (no training)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from tests.support.tidy_frames import make_tidy

# The CLI's --jobs defaults to auto (worker processes when cores are idle). Tests run the CLI
# serially unless they pass --jobs themselves (tests/study/test_auto_executor.py covers auto),
# so a test's output does not depend on how busy the machine is; subprocesses inherit this.
os.environ.setdefault("BENCH_JOBS", "1")
# No test writes the repository's results/ ledger: each BENCH_HOME keeps its own (like its result
# cache), so a test that trains in a fresh home trains there; subprocesses inherit this.
os.environ["BENCH_LEDGER"] = "@home"


@pytest.fixture
def tidy() -> pd.DataFrame:
    return make_tidy({"deiii": 0.70, "auxformer": 0.60, "self_attn": 0.695})
