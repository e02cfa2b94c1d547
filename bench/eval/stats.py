"""Summaries over folds x seeds (mean, sample standard deviation, a 95% t-interval) and a
clip-level bootstrap interval of one model's score (:func:`bootstrap_interval`).

Folds share speakers' neighbours and seeds share folds, so these runs are not independent
samples; the interval is the conventional one papers report, a description of spread rather
than a calibrated statement. With fewer than two runs the spread is undefined (NaN).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
from scipy import stats as _stats

from bench.errors import ConfigError


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


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """(B, N) reference and prediction indices -> (B, C, C) confusion matrices, one bincount."""
    rows = np.arange(y_true.shape[0])[:, None] * classes * classes
    flat = (rows + y_true * classes + y_pred).ravel()
    return np.bincount(flat, minlength=y_true.shape[0] * classes * classes).reshape(-1, classes, classes)


def _classification_scores(matrices: np.ndarray, metric: str) -> np.ndarray:
    """``metric`` of each (C, C) confusion matrix, as :func:`bench.eval.metrics.classification_metrics`
    defines it: UAR over the classes present in the reference, F1 over the classes present in
    reference or prediction (scikit-learn's convention)."""
    diag = np.diagonal(matrices, axis1=1, axis2=2).astype(np.float64)
    support = matrices.sum(axis=2).astype(np.float64)  # per true class
    predicted = matrices.sum(axis=1).astype(np.float64)
    total = support.sum(axis=1)
    if metric == "accuracy":
        return diag.sum(axis=1) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "uar":
            recall = np.where(support > 0, diag / np.maximum(support, 1), np.nan)
            return np.nanmean(recall, axis=1)
        f1 = np.where(support + predicted > 0, 2 * diag / np.maximum(support + predicted, 1), 0.0)
    if metric == "macro_f1":
        present = (support + predicted) > 0
        return (f1 * present).sum(axis=1) / present.sum(axis=1)
    if metric == "weighted_f1":
        return (f1 * support).sum(axis=1) / total
    raise ValueError(metric)


def bootstrap_interval(
    y_true: Sequence,
    y_pred: Sequence,
    metric: str = "uar",
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """Percentile bootstrap interval of one model's score over its test clips.

    Resamples the clips with replacement ``n_boot`` times (a fixed ``seed``: the same interval
    on every run) and scores each resample; returns ``{"value", "low", "high", "n_boot",
    "confidence"}``, ``value`` being the score of the clips as given. It describes how much
    the score depends on *which clips* were tested, for one trained model; it says nothing
    about training variance (that is what folds x seeds are for), so it complements the
    paired tests of :mod:`bench.eval.significance` and never replaces them.

    ``metric`` is a classification metric of :data:`bench.eval.metrics.METRICS` (``accuracy``,
    ``uar``, ``macro_f1``, ``weighted_f1``; ``y_true`` / ``y_pred`` are class indices or
    labels) or a CCC (``ccc_mean``, or ``ccc_<name>`` with ``names`` naming the columns of
    (N, K) continuous ``y_true`` / ``y_pred``).
    """
    from bench.eval.metrics import CLASSIFICATION_METRICS, METRICS, ccc

    if metric not in METRICS:
        raise ConfigError(f"bootstrap: unknown metric '{metric}'; choose one of {list(METRICS)}")
    if n_boot < 1 or not 0 < confidence < 1:
        raise ConfigError(f"bootstrap: need n_boot >= 1 and 0 < confidence < 1, got {n_boot} and {confidence}")
    rng = np.random.default_rng(seed)
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(truth)
    if n == 0 or len(pred) != n:
        raise ConfigError(f"bootstrap: need equally many references and predictions (> 0), got {n} and {len(pred)}")
    index = rng.integers(0, n, size=(n_boot, n))
    if metric in CLASSIFICATION_METRICS:
        classes, codes = np.unique(np.concatenate([truth.ravel(), pred.ravel()]), return_inverse=True)
        t_codes, p_codes = codes[:n], codes[n:]
        k = len(classes)
        value = float(_classification_scores(_confusion(t_codes[None], p_codes[None], k), metric)[0])
        scores = np.concatenate([
            _classification_scores(_confusion(t_codes[chunk], p_codes[chunk], k), metric)
            for chunk in np.array_split(index, max(1, n_boot // 200))  # bounded memory per bincount
        ])  # fmt: skip
    else:
        truth, pred = truth.astype(np.float64), pred.astype(np.float64)
        if truth.ndim == 1:
            truth, pred = truth[:, None], pred[:, None]
        if metric == "ccc_mean":
            column = None
        else:
            wanted = metric.removeprefix("ccc_")
            if names is None or wanted not in list(names):
                raise ConfigError(f"bootstrap: '{metric}' needs names= listing the columns (got {names})")
            column = list(names).index(wanted)
        pick = (lambda c: c.mean()) if column is None else (lambda c: c[column])
        value = float(pick(ccc(pred, truth)))
        scores = np.array([pick(ccc(pred[i], truth[i])) for i in index])
    alpha = (1.0 - confidence) / 2
    low, high = np.nanquantile(scores, [alpha, 1.0 - alpha])
    return {"value": value, "low": float(low), "high": float(high), "n_boot": int(n_boot), "confidence": float(confidence)}
