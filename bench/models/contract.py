"""The one contract every model honours, so trainer, sweeps and tables never special-case one.

Batch (a ``dict``; the dataset's collate function builds it, tests build it by hand):

============ ======================================= ============================================
key          shape                                   meaning
============ ======================================= ============================================
video        (B, T, 3, H, W) float in [0, 1]         face crops, ``video_input="frames"``
             (B, T, D_v) float                       precomputed per-frame embeddings,
                                                     ``video_input="features"``
video_mask   (B, T) bool                             True on real steps, False on padding
flow         (B, T_f, 2, H, W) float (pixels/frame)  optical flow between consecutive sampled
                                                     crops (T_f = T - 1), ``flow_input="frames"``
             (B, T_f, D_f) float                     precomputed flow embeddings
flow_mask    (B, T_f) bool
audio        (B, T_a, F) float                       log-mel (F = n_mels) or precomputed
                                                     audio features (F = D_a)
audio_mask   (B, T_a) bool
label        (B,) long                               class index (classification)
target       (B, K) float                            continuous targets (regression), e.g. A/V/D
frame_target (B, T, K) float                         per-step continuous targets (task "frame"),
                                                     e.g. Aff-Wild2 valence, arousal; step t is
                                                     the window's ``video`` step t
frame_mask   (B, T) bool                             task "frame": True where ``frame_target`` is
                                                     valid; False on padding *and* unannotated
                                                     steps (ABAW's -5), which no loss reads
window_start (B,) long                               task "frame": first video step of the window
                                                     in its clip (for stitching windows back)
clip_id      list[str]                               carried through for per-clip predictions
============ ======================================= ============================================

Tasks (``ModelConfig.task``): ``"classification"`` (``label``), ``"regression"`` (one target
vector per clip, ``target``) and ``"frame"`` (one target vector per video step of a window,
``frame_target`` / ``frame_mask``; the batch is a fixed-length window of a long clip, as in
the recursive joint attention code for Aff-Wild2).

A model declares the inputs it needs (``required_inputs``, which may depend on its config:
DE-III without flow does not ask for ``flow``); asking a batch for an input it lacks raises
:class:`~bench.errors.MissingInputError` naming the model, the key and what the batch has.

Output: :class:`ModelOutput` with one tensor per head in ``logits`` (class logits, or
predictions for continuous targets), and named attention maps in ``attention``. Head shapes:
``(B, C)`` for classification, ``(B, K)`` for regression and ``(B, T, K)`` for task "frame",
where T = ``frame_mask.shape[1]`` and step t is the batch's video step t. A model whose
internal time axis differs (audio steps, resampled segments) brings its per-step predictions
back to those T steps with :func:`to_frame_steps` (linear interpolation within each clip's real
steps); a model without video input aligns to the window's T the same way.

Loss of task "frame": 1 - CCC per dimension over the batch's valid steps (``frame_mask``),
averaged over dimensions (:func:`bench.nn.losses.ccc_loss`); a model may override it (RJA sums
over dimensions, as its official code does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping

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

    # "frame": per-step continuous targets (B, T, K); heads then predict per step (see above).
    task: Literal["classification", "regression", "frame"] = "classification"
    num_outputs: int = 6  # number of classes, or of continuous targets (e.g. 3 for A/V/D, 2 for V/A)
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

    @classmethod
    def chance_loss_scale(cls, config: Mapping[str, Any]) -> float:
        """The training loss at uniform predictions, in units of one head's (ln C when
        classifying): 1 for the default mean over heads; a model whose :meth:`head_weights`
        sum its heads returns their sum. Reports judge a run's final loss against it
        (bench.report.training), so a summed three-head loss is not read as one head's."""
        return 1.0

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


# --------------------------------------------------------------------------------------------
# task "frame": per-step predictions on the batch's video steps
# --------------------------------------------------------------------------------------------
def frame_steps_mask(batch: Batch) -> torch.Tensor:
    """``(B, T)`` real steps of a frame-task window, T = ``frame_mask.shape[1]``.

    The window's real steps are the batch's ``video_mask`` (True on real video steps, whether
    annotated or not); without a video mask of that length (a model or batch without video),
    every one of the T steps counts as real.
    """
    if "frame_mask" not in batch or batch["frame_mask"] is None:
        present = sorted(k for k in batch if not k.startswith("_"))
        raise MissingInputError(
            f"task 'frame' needs the batch key 'frame_mask' (and 'frame_target'), but the batch has "
            f"only {present}; build the batch with the frame-window dataset"
        )
    frame_mask = batch["frame_mask"]
    b, t = frame_mask.shape[:2]
    video_mask = batch.get("video_mask")
    if video_mask is not None and tuple(video_mask.shape) == (b, t):
        return video_mask.to(device=frame_mask.device, dtype=torch.bool)
    return torch.ones(b, t, dtype=torch.bool, device=frame_mask.device)


def linear_step_positions(src_mask: torch.Tensor, dst_mask: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Linear interpolation between two time grids of one window: ``(low, high, frac, keep)``, each (B, T_dst).

    Both grids cover the same time span: a clip's n real source steps and its m real
    destination steps are each spread evenly over it (real steps first, padding after, as the
    collate builds them). Destination step t sits at source position
    ``p = (t + 0.5) n / m - 0.5``, clamped to ``[0, n - 1]``, and takes ``1 - frac`` of source
    step ``low = floor(p)`` and ``frac`` of ``high = min(low + 1, n - 1)``. With n == m this is
    the identity. ``keep`` is False at padded destination steps and for clips with no real
    source step (their values are 0).
    """
    src_mask, dst_mask = src_mask.bool(), dst_mask.to(device=src_mask.device, dtype=torch.bool)
    n = src_mask.sum(1).to(torch.float64)[:, None]  # (B, 1)
    m = dst_mask.sum(1).to(torch.float64)[:, None]
    last = (n - 1).clamp_min(0.0)
    t = torch.arange(dst_mask.shape[1], device=src_mask.device, dtype=torch.float64)[None, :]
    p = torch.minimum(((t + 0.5) * n / m.clamp_min(1.0) - 0.5).clamp_min(0.0), last)
    low = p.floor()
    frac = p - low
    high = torch.minimum(low + 1, last)
    keep = dst_mask & (n > 0)
    return low.long(), high.long(), frac, keep


def linear_step_weights(src_mask: torch.Tensor, dst_mask: torch.Tensor) -> torch.Tensor:
    """The interpolation of :func:`linear_step_positions` as a dense ``(B, T_dst, T_src)`` matrix."""
    low, high, frac, keep = linear_step_positions(src_mask, dst_mask)
    weights = torch.zeros(*low.shape, src_mask.shape[1], dtype=torch.float64, device=low.device)
    weights.scatter_add_(2, low[..., None], (1 - frac)[..., None])
    weights.scatter_add_(2, high[..., None], frac[..., None])
    return weights * keep[..., None]


def to_frame_steps(x: torch.Tensor, src_mask: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Per-step values ``(B, T_src, D)`` on a model's own time axis -> ``(B, T, D)`` on the window's steps.

    T and the window's real steps come from :func:`frame_steps_mask`. When the source grid is
    already those steps (same length, same mask) the values are returned unchanged; otherwise
    they are linearly interpolated within each clip (:func:`linear_step_positions`; two
    gathers, no dense T x T_src matrix) and padded destination steps get 0. Values at padded
    steps carry no meaning either way (the loss and the scoring read valid steps only).
    """
    dst_mask = frame_steps_mask(batch).to(x.device)
    src_mask = src_mask.to(device=x.device, dtype=torch.bool)
    if tuple(src_mask.shape) == tuple(dst_mask.shape) and bool(torch.equal(src_mask, dst_mask)):
        return x
    if x.shape[1] == 0:  # no source step at all (e.g. audio shorter than a model's receptive field)
        return x.new_zeros(dst_mask.shape[0], dst_mask.shape[1], x.shape[-1])
    low, high, frac, keep = linear_step_positions(src_mask, dst_mask)

    def rows(index: torch.Tensor) -> torch.Tensor:
        return x.gather(1, index[..., None].expand(*index.shape, x.shape[-1]))

    frac = (frac * keep).to(x.dtype)[..., None]
    base = keep.to(x.dtype)[..., None] - frac  # 1 - frac where kept, 0 elsewhere
    return rows(low) * base + rows(high) * frac


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
