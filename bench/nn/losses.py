"""Losses shared by every model: cross-entropy for classes, CCC loss for continuous targets.

The concordance correlation coefficient (Lin, 1989) is the standard score for arousal /
valence / dominance; ``1 - CCC`` is its loss. It is computed over the batch per dimension, as
in the recursive-joint-attention and DE-III papers, with the biased (population) variance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ccc(prediction: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Concordance correlation coefficient per column of (N, K) tensors -> (K,)."""
    if prediction.dim() == 1:
        prediction, target = prediction[:, None], target[:, None]
    prediction = prediction.float()
    target = target.float()
    mean_p, mean_t = prediction.mean(0), target.mean(0)
    var_p = prediction.var(0, unbiased=False)
    var_t = target.var(0, unbiased=False)
    cov = ((prediction - mean_p) * (target - mean_t)).mean(0)
    return 2 * cov / (var_p + var_t + (mean_p - mean_t) ** 2 + eps)


def ccc_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over dimensions of ``1 - CCC``."""
    return (1 - ccc(prediction, target)).mean()


def head_loss(logits: torch.Tensor, batch: dict, task: str) -> torch.Tensor:
    """The loss of one head for the batch's task."""
    if task == "classification":
        return F.cross_entropy(logits.float(), batch["label"])
    if task == "regression":
        return ccc_loss(logits, batch["target"])
    raise ValueError(f"unknown task {task!r}")
