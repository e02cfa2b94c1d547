"""Scores of a set of predictions: what the tables report and what selection maximises.

Classification: ``accuracy``; ``uar`` (unweighted average recall: the mean of the per-class
recalls over the classes present in the reference, robust to class imbalance); ``macro_f1``
and ``weighted_f1`` (scikit-learn, over the classes present in reference or prediction); the
per-class recall (NaN for a class absent from the reference) and the confusion matrix (rows =
reference, columns = prediction, over the whole vocabulary).

Regression: the concordance correlation coefficient (Lin, 1989) per dimension, with
population variances (as :func:`bench.nn.losses.ccc`), and their mean ``ccc_mean``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score



@dataclass(frozen=True)
class Metric:
    """What one score is: how it is printed, which way is better, its range and task.

    The one table of metrics (:data:`METRICS`, in the order tables show them): the trainer's
    selection, run summaries, tables, figures and the ledger of reported results read it.
    """

    name: str
    label: str  # column header
    task: str  # "classification" or "regression"
    scale: float = 1.0  # multiply the stored value by this before printing (100: percent)
    decimals: int = 3  # digits after the point, as printed
    higher_is_better: bool = True
    low: float = 0.0  # the values it can take
    high: float = 1.0
    headline: bool = False  # a column of compact tables (ablation)
    primary: bool = False  # the task's headline metric (selection default, figures)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", "Acc. (%)", "classification", 100.0, 1, headline=True),
    Metric("uar", "UAR (%)", "classification", 100.0, 1, headline=True, primary=True),
    Metric("macro_f1", "Macro-F1 (%)", "classification", 100.0, 1, headline=True),
    Metric("weighted_f1", "W-F1 (%)", "classification", 100.0, 1),
    Metric("ccc_arousal", "CCC-A", "regression", low=-1.0),
    Metric("ccc_valence", "CCC-V", "regression", low=-1.0),
    Metric("ccc_dominance", "CCC-D", "regression", low=-1.0),
    Metric("ccc_mean", "CCC (mean)", "regression", low=-1.0, headline=True, primary=True),
)}
CLASSIFICATION_METRICS = tuple(m.name for m in METRICS.values() if m.task == "classification")


def primary_metric(task: str) -> str:
    """The headline metric of a task: UAR for classes, mean CCC for continuous targets."""
    return next(m.name for m in METRICS.values() if m.task == task and m.primary)


def higher_is_better(metric: str) -> bool:
    """Known metrics say; a name starting with "loss" is minimised, anything else maximised."""
    known = METRICS.get(metric)
    return known.higher_is_better if known else not metric.startswith("loss")


def ordered(metrics: dict) -> dict:
    """``metrics`` in the table's order (the known ones first, then the rest by name)."""
    rank = {name: i for i, name in enumerate(METRICS)}
    return {k: metrics[k] for k in sorted(metrics, key=lambda k: (rank.get(k, len(rank)), k))}


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]) -> dict:
    """``{"accuracy", "uar", "macro_f1", "weighted_f1", "per_class_recall", "confusion"}``."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if len(y_true) == 0:
        raise ValueError("cannot score an empty set of predictions")
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(labels))))
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, np.diag(matrix) / np.maximum(support, 1), np.nan)
    present = support > 0
    return {
        "accuracy": float((y_true == y_pred).mean()),
        "uar": float(recall[present].mean()),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "per_class_recall": {name: float(recall[i]) for i, name in enumerate(labels)},
        "confusion": matrix.astype(int).tolist(),
    }


def ccc(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Concordance correlation coefficient per column of (N, K) arrays -> (K,)."""
    prediction = np.asarray(prediction, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if prediction.ndim == 1:
        prediction, target = prediction[:, None], target[:, None]
    mean_p, mean_t = prediction.mean(0), target.mean(0)
    var_p, var_t = prediction.var(0), target.var(0)
    cov = ((prediction - mean_p) * (target - mean_t)).mean(0)
    denominator = var_p + var_t + (mean_p - mean_t) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * cov / np.where(denominator > 0, denominator, 1), 0.0)


def regression_metrics(prediction: np.ndarray, target: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """``{"ccc_<name>": ..., "ccc_mean": ...}`` for (N, K) predictions and targets."""
    values = ccc(prediction, target)
    result = {f"ccc_{name}": float(v) for name, v in zip(names, values)}
    result["ccc_mean"] = float(values.mean())
    return result


def scalar_metrics(metrics: dict) -> dict[str, float]:
    """The float-valued entries of a metrics dict (drops per-class dicts and matrices)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
