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
    Metric("ccc_arousal", "CCC-A", "regression", low=-1.0, headline=True),
    Metric("ccc_valence", "CCC-V", "regression", low=-1.0, headline=True),
    Metric("ccc_dominance", "CCC-D", "regression", low=-1.0, headline=True),
    Metric("ccc_mean", "CCC (mean)", "regression", low=-1.0, headline=True, primary=True),
    # Frame-level task (Aff-Wild2 / ABAW VA): ccc_valence, ccc_arousal and ccc_mean above are then
    # the CCC over all valid annotation frames of the evaluation set concatenated (ABAW's
    # definition, see frame_metrics); these are the per-video CCC averaged over videos, reported
    # separately and labelled as such.
    Metric("ccc_video_valence", "CCC-V (per-video avg)", "frame", low=-1.0),
    Metric("ccc_video_arousal", "CCC-A (per-video avg)", "frame", low=-1.0),
    Metric("ccc_video_mean", "CCC (per-video avg, mean)", "frame", low=-1.0),
)}
CLASSIFICATION_METRICS = tuple(m.name for m in METRICS.values() if m.task == "classification")


def metric_tasks(task: str) -> tuple[str, ...]:
    """The :data:`METRICS` tasks whose metrics a model task produces: the frame-level task
    scores the regression metrics (over concatenated frames) and its own per-video ones."""
    return ("regression", "frame") if task == "frame" else (task,)


def primary_metric(task: str) -> str:
    """The headline metric of a task: UAR for classes, mean CCC for continuous targets.

    The frame-level task shares the regression headline ``ccc_mean`` (there: over all valid
    annotation frames concatenated, as ABAW ranks).
    """
    return next(m.name for m in METRICS.values() if m.task in metric_tasks(task) and m.primary)


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


# ---------------------------------------------------------------------------------------------
# frame-level continuous emotion (Aff-Wild2, the ABAW VA challenge)
# ---------------------------------------------------------------------------------------------
FRAME_TARGETS = ("valence", "arousal")  # the frame task's dimensions, in this order


def masked_ccc(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """CCC per column over the rows where ``mask`` is True: (N, K), (N, K), (N,) -> (K,).

    Lin (1989): ``2 cov / (var_p + var_t + (mean_p - mean_t)^2)`` with population moments
    (divided by N, as ABAW's evaluation script and :func:`ccc` use). No valid row gives NaN
    (there is nothing to score, and a 0 would pass for a score).
    """
    prediction = np.asarray(prediction, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if prediction.ndim == 1:
        prediction, target = prediction[:, None], target[:, None]
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {prediction.shape} and target {target.shape} differ in shape")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != prediction.shape[:1]:
            raise ValueError(f"mask {mask.shape} does not match {prediction.shape[0]} rows")
        prediction, target = prediction[mask], target[mask]
    if len(prediction) == 0:
        return np.full(prediction.shape[1], np.nan)
    return ccc(prediction, target)


def frame_metrics(predictions, targets, masks=None, names: Sequence[str] = FRAME_TARGETS) -> dict[str, float]:
    """ABAW's scores of per-frame predictions of several videos (at the annotation frame rate).

    ``predictions``, ``targets``: one (N_v, K) array per video; ``masks``: one (N_v,) bool array
    per video (False: unannotated, -5), or None. Returns

    - ``ccc_<name>`` and ``ccc_mean``: CCC per dimension over ALL valid frames of all videos
      concatenated (the challenge's definition; long videos weigh more), and their mean;
    - ``ccc_video_<name>`` and ``ccc_video_mean``: CCC per video, averaged over the videos that
      have at least two valid frames (another number: every video weighs the same).
    """
    predictions = [np.asarray(p, dtype=np.float64).reshape(len(p), -1) for p in predictions]
    targets = [np.asarray(t, dtype=np.float64).reshape(len(t), -1) for t in targets]
    if not predictions:
        raise ValueError("cannot score an empty set of videos")
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predicted videos but {len(targets)} targets")
    if masks is None:
        masks = [np.ones(len(t), dtype=bool) for t in targets]
    masks = [np.asarray(m, dtype=bool) for m in masks]
    for i, (p, t, m) in enumerate(zip(predictions, targets, masks)):
        if p.shape != t.shape or m.shape != (len(t),):
            raise ValueError(f"video {i}: prediction {p.shape}, target {t.shape} and mask {m.shape} do not match")
    concatenated = masked_ccc(np.concatenate(predictions), np.concatenate(targets), np.concatenate(masks))
    per_video = [masked_ccc(p, t, m) for p, t, m in zip(predictions, targets, masks) if m.sum() >= 2]
    averaged = np.mean(per_video, axis=0) if per_video else np.full(len(names), np.nan)
    result = {f"ccc_{name}": float(v) for name, v in zip(names, concatenated)}
    result["ccc_mean"] = float(np.mean(concatenated))
    result.update({f"ccc_video_{name}": float(v) for name, v in zip(names, averaged)})
    result["ccc_video_mean"] = float(np.mean(averaged))
    return result


def step_times(num_steps: int, fps: float) -> np.ndarray:
    """Centre times (s) of ``num_steps`` steps sampled at ``fps``: ``(i + 0.5) / fps``."""
    return (np.arange(num_steps, dtype=np.float64) + 0.5) / float(fps)


def resample_to_annotation(pred_steps: np.ndarray, step_times: np.ndarray, ann_times: np.ndarray,
                           method: str = "linear") -> np.ndarray:
    """Per-step predictions (T, K) at ``step_times`` brought to the annotation frames' times -> (N, K).

    ``linear`` (default): linear interpolation between the step centres, held constant before
    the first and after the last step (``np.interp``). The targets are smooth trajectories and
    the steps are several annotation frames apart (e.g. 5 steps/s against 30 frames/s), so
    ``nearest`` would score a staircase of plateaus against a smooth curve, which costs CCC
    for no reason the model can do anything about; linear interpolation is the least
    assumption that does not. ``nearest`` is kept for comparison with pipelines that repeat
    each prediction over its frames.
    """
    pred_steps = np.asarray(pred_steps, dtype=np.float64)
    squeeze = pred_steps.ndim == 1
    if squeeze:
        pred_steps = pred_steps[:, None]
    step_times = np.asarray(step_times, dtype=np.float64)
    ann_times = np.asarray(ann_times, dtype=np.float64)
    if len(step_times) != len(pred_steps) or len(step_times) == 0:
        raise ValueError(f"{len(pred_steps)} step predictions but {len(step_times)} step times")
    if np.any(np.diff(step_times) <= 0):
        raise ValueError("step_times must be strictly increasing")
    if method == "linear":
        out = np.stack([np.interp(ann_times, step_times, pred_steps[:, k]) for k in range(pred_steps.shape[1])], axis=1)
    elif method == "nearest":
        right = np.clip(np.searchsorted(step_times, ann_times), 0, len(step_times) - 1)
        left = np.clip(right - 1, 0, len(step_times) - 1)
        closer_left = np.abs(ann_times - step_times[left]) <= np.abs(step_times[right] - ann_times)
        out = pred_steps[np.where(closer_left, left, right)]
    else:
        raise ValueError(f"resample method must be 'linear' or 'nearest', got {method!r}")
    return out[:, 0] if squeeze else out
