"""Small constructed results frames for the reporting tests (no training involved)."""

from __future__ import annotations

import pandas as pd
import pytest

from tidy_frames import make_tidy


@pytest.fixture
def tidy() -> pd.DataFrame:
    return make_tidy({"deiii": 0.70, "auxformer": 0.60, "self_attn": 0.695})
