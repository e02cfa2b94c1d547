"""Losses shared by every model: cross-entropy for classes, CCC loss for continuous targets.

The concordance correlation coefficient (Lin, 1989) is the standard score for arousal /
valence / dominance; ``1 - CCC`` is its loss. It is computed over the batch per dimension, as
in the recursive-joint-attention and DE-III papers, with the biased (population) variance.

Frame-level targets (task ``"frame"``: per-step valence / arousal, e.g. Aff-Wild2) use the same
loss over the *valid* steps of the batch only: ``ccc_loss(pred (B, T, K), target (B, T, K),
mask (B, T))`` gathers the steps where the mask is True (padding and unannotated frames are
False) and computes one CCC per dimension over all of them together, as the recursive joint
attention code does over its flattened (batch x sub-sequence) outputs
(github.com/praveena2j/RecurrentJointAttentionwithLSTMs, ``train.py``). Whatever sits at a
masked step (ABAW's -5, NaN) never enters the value or the gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.errors import ConfigError


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


def masked_steps(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, K)`` prediction and target at the steps where ``mask`` is True.

    ``prediction`` and ``target`` are ``(..., K)`` with the same shape, ``mask`` is ``(...)``
    (e.g. ``(B, T)`` for ``(B, T, K)``); without a mask both are returned as given. Boolean
    indexing reads only the selected steps, so values at masked steps reach neither result
    nor gradient.
    """
    if mask is None:  # clip-level use: unchanged (no check, as before masks existed)
        return prediction, target
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ in shape")
    if tuple(mask.shape) != tuple(prediction.shape[:-1]):
        raise ValueError(f"mask {tuple(mask.shape)} does not match prediction steps {tuple(prediction.shape[:-1])}")
    mask = mask.to(device=prediction.device, dtype=torch.bool)
    return prediction[mask], target[mask]


def ccc_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over dimensions of ``1 - CCC``, over the steps where ``mask`` is True (all without one).

    ``(N, K)`` clip-level predictions as before, or ``(B, T, K)`` per-step predictions with a
    ``(B, T)`` mask. A constant prediction gives CCC = 0 (loss 1) and finite gradients (the
    ``eps`` in the denominator); a batch with no valid step gives a zero loss that still has a
    (zero) gradient, so a training step over it is a no-op instead of a NaN.
    """
    prediction, target = masked_steps(prediction, target, mask)
    if prediction.dim() > 2:  # (B, T, K) without a mask: every step of every window
        prediction, target = prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1, target.shape[-1])
    if prediction.dim() > 1 and prediction.shape[0] == 0:
        return prediction.float().sum() * 0.0
    return (1 - ccc(prediction, target)).mean()


def head_loss(logits: torch.Tensor, batch: dict, task: str) -> torch.Tensor:
    """The loss of one head for the batch's task."""
    if task == "classification":
        return F.cross_entropy(logits.float(), batch["label"])
    if task == "regression":
        return ccc_loss(logits, batch["target"])
    if task == "frame":
        target = batch["frame_target"]
        if logits.shape != target.shape:
            raise ConfigError(
                f"task 'frame' needs per-step predictions (B, T, K) = {tuple(target.shape)} like "
                f"'frame_target', but a head gave {tuple(logits.shape)}; the model does not support "
                f"frame-level targets (see bench/models/contract.py)"
            )
        return ccc_loss(logits, target, batch["frame_mask"])
    raise ValueError(f"unknown task {task!r}")
