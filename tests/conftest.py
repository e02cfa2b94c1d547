"""Fixtures shared across test packages: a small constructed results frame (no training)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.tidy_frames import make_tidy


@pytest.fixture
def tidy() -> pd.DataFrame:
    return make_tidy({"deiii": 0.70, "auxformer": 0.60, "self_attn": 0.695})
