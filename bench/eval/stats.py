"""Summaries over folds x seeds: mean, sample standard deviation and a 95% t-interval.

Folds share speakers' neighbours and seeds share folds, so these runs are not independent
samples; the interval is the conventional one papers report, a description of spread rather
than a calibrated statement. With fewer than two runs the spread is undefined (NaN).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
from scipy import stats as _stats


def summarize(values: Iterable[float], confidence: float = 0.95) -> dict[str, float]:
    """``{"mean", "std", "ci95_low", "ci95_high", "n"}`` of the finite values."""
    array = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(array.size)
    if n == 0:
        nan = float("nan")
        return {"mean": nan, "std": nan, "ci95_low": nan, "ci95_high": nan, "n": 0}
    mean = float(array.mean())
    if n < 2:
        nan = float("nan")
        return {"mean": mean, "std": nan, "ci95_low": nan, "ci95_high": nan, "n": n}
    std = float(array.std(ddof=1))
    half = float(_stats.t.ppf(0.5 + confidence / 2, df=n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95_low": mean - half, "ci95_high": mean + half, "n": n}


def aggregate(rows: Iterable[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric name, :func:`summarize` over the rows (one dict of metrics per run)."""
    collected: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            collected.setdefault(key, []).append(float(value))
    return {key: summarize(values) for key, values in collected.items()}
