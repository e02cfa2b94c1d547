"""Small constructed results frames for the reporting tests (no training involved)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_tidy(spec: dict[str, float], *, folds: int = 5, seeds: int = 2, metrics=("accuracy", "uar"), dataset="ravdess", noise=0.005, seed=0) -> pd.DataFrame:
    """Model -> base score; every fold has its own difficulty (shared by all models), so the
    paired differences are far cleaner than the raw spread: the case pairing exists for."""
    rng = np.random.default_rng(seed)
    difficulty = {(f, s): 0.04 * f - 0.01 * s for f in range(folds) for s in range(seeds)}
    rows = []
    for model, base in spec.items():
        for (f, s), d in difficulty.items():
            for m in metrics:
                rows.append(dict(model=model, dataset=dataset, fold=f, seed=s, metric=m, value=base + d + rng.normal(0, noise)))
    return pd.DataFrame(rows)
