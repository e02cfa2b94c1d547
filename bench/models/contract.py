"""The one contract every model honours, so trainer, sweeps and tables never special-case one.

Batch (a ``dict``; the dataset's collate function builds it, tests build it by hand):

========== ======================================= ==========================================
key        shape                                   meaning
========== ======================================= ==========================================
video      (B, T, 3, H, W) float in [0, 1]         face crops, ``video_input="frames"``
           (B, T, D_v) float                       precomputed per-frame embeddings,
                                                   ``video_input="features"``
video_mask (B, T) bool                             True on real steps, False on padding
flow       (B, T_f, 2, H, W) float (pixels/frame)  optical flow between consecutive sampled
                                                   crops (T_f = T - 1), ``flow_input="frames"``
           (B, T_f, D_f) float                     precomputed flow embeddings
flow_mask  (B, T_f) bool
audio      (B, T_a, F) float                       log-mel (F = n_mels) or precomputed
                                                   audio features (F = D_a)
audio_mask (B, T_a) bool
label      (B,) long                               class index (classification)
target     (B, K) float                            continuous targets (regression), e.g. A/V/D
clip_id    list[str]                               carried through for per-clip predictions
========== ======================================= ==========================================

A model declares the inputs it needs (``required_inputs``, which may depend on its config:
DE-III without flow does not ask for ``flow``); asking a batch for an input it lacks raises
:class:`~bench.errors.MissingInputError` naming the model, the key and what the batch has.

Output: :class:`ModelOutput` with one tensor per head in ``logits`` (class logits, or
predictions for continuous targets), and named attention maps in ``attention``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from bench.errors import MissingInputError

MODALITIES = ("video", "flow", "audio")
Batch = dict[str, Any]


@dataclass
class ModelConfig:
    """Fields every model config has; the trainer fills the data-dependent ones from the store.

    Model configs subclass this and add their own fields, each with a comment that says what
    it is and, where it is an interpretation of a paper, which source it follows.
    """

    task: Literal["classification", "regression"] = "classification"
    num_outputs: int = 6  # number of classes, or of continuous targets (e.g. 3 for A/V/D)
    video_input: Literal["frames", "features"] = "frames"  # face crops or precomputed embeddings
    video_dim: int = 512  # embedding size when video_input == "features"
    flow_input: Literal["frames", "features"] = "frames"  # 2-channel flow fields or embeddings
    flow_dim: int = 512  # embedding size when flow_input == "features"
    audio_input: Literal["logmel", "features"] = "logmel"  # log-mel frames or precomputed features
    audio_dim: int = 64  # log-mel bins, or feature size when audio_input == "features"
    image_size: int = 48  # side of the face crops (and flow fields) the model sees
    # Which output is the prediction at test time: a head name, "mean" (average of the heads'
    # probabilities, where the model defines it) or "validation" (the head that scores best on
    # the validation speakers; chosen by the trainer, never on test).
    inference_head: str = "fused"


@dataclass
class ModelOutput:
    logits: dict[str, torch.Tensor]
    attention: dict[str, torch.Tensor] = field(default_factory=dict)


class AVModel(nn.Module):
    """Base class of every registered model.

    Subclasses implement ``forward(batch) -> ModelOutput`` and, where the paper says so,
    override ``compute_loss`` (head weights, CCC), ``candidate_heads`` (e.g. AuxFormer's mean
    of three heads) and ``augment_batch`` (modality dropout recipes).
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    registered_name: ClassVar[str] = ""
    # Cross-modal attention a report may draw (audio->video map, video->audio map, caption),
    # named as in ``ModelOutput.attention``; None: nothing to draw. Reports read this instead
    # of knowing any model by name.
    report_attention: ClassVar[tuple[str, str, str] | None] = None

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    # -- inputs -------------------------------------------------------------------------------
    def required_inputs(self) -> tuple[str, ...]:
        """The batch keys among ``MODALITIES`` this model (as configured) reads."""
        return ("video", "audio")

    def get_input(self, batch: Batch, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tensor, mask)`` for one modality; a clear error if the batch lacks it."""
        if key not in batch or batch[key] is None:
            present = sorted(k for k in batch if k in MODALITIES)
            raise MissingInputError(
                f"model {self.registered_name or type(self).__name__!r} needs input {key!r}, "
                f"but the batch has only {present}; prepare the store with that modality "
                f"or change the model config (e.g. use_flow=false)"
            )
        x = batch[key]
        mask = batch.get(f"{key}_mask")
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        return x, mask

    # -- heads and losses ---------------------------------------------------------------------
    def candidate_heads(self, output: ModelOutput) -> dict[str, torch.Tensor]:
        """Every output the trainer may use as the prediction (heads and combinations)."""
        return dict(output.logits)

    def head_weights(self) -> dict[str, float]:
        """Loss weight of each head; equal by default."""
        return {}

    def compute_loss(self, output: ModelOutput, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted sum of per-head losses (cross-entropy, or CCC loss for regression)."""
        from bench.nn.losses import head_loss

        weights = self.head_weights()
        total = None
        parts: dict[str, float] = {}
        for name, logits in output.logits.items():
            loss = head_loss(logits, batch, self.config.task)
            parts[f"loss_{name}"] = float(loss.detach())
            weighted = weights.get(name, 1.0 / len(output.logits)) * loss
            total = weighted if total is None else total + weighted
        assert total is not None, "a model must produce at least one head"
        return total, parts

    def augment_batch(self, batch: Batch, generator: torch.Generator | None = None) -> Batch:
        """Training-only batch augmentation owned by the model's recipe (modality dropout)."""
        return batch


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class ServingModel(nn.Module):
    """A trained model behind positional tensors, one prediction out: what a model server calls.

    MLflow's PyTorch flavor (and most serving stacks) call ``forward(*tensors)``; the suite's
    models take a batch dict and return every head. This wrapper names the tensors
    (``inputs``, e.g. ``("video", "video_mask", "audio", "audio_mask")``) and returns the
    head (or head combination) that validation selected.
    """

    def __init__(self, model: AVModel, head: str, inputs: tuple[str, ...]):
        super().__init__()
        self.model, self.head, self.inputs = model, head, tuple(inputs)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        batch = dict(zip(self.inputs, tensors))
        return self.model.candidate_heads(self.model(batch))[self.head]
