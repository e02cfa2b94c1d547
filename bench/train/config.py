"""``TrainConfig``: how a model is trained, as data.

Defaults are deliberately plain (Adam, constant learning rate); each registered model's recipe
(``register_model(..., recipe={...})``) overrides them with its paper's settings, and a study
file or ``--set train.key=value`` overrides those. Fields under RUNTIME_FIELDS say *where* and
*how fast* to train, not *what* is trained, so they are left out of result cache keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bench.errors import ConfigError
from bench.nn.kernels import Kernels

# Fields that do not change the numbers a run produces (only where and how fast it runs).
RUNTIME_FIELDS = ("device", "num_workers", "pin_memory", "preload", "save_state")
# Fields read only by the frame-level task (model task "frame": windows of long clips). They
# are in a result's cache key only for that task (bench.study.cache.fold_key), so adding them
# changed no key of a clip-level result cached before they existed.
FRAME_FIELDS = ("window_steps", "window_hop")
# Fields added after results were first cached: in a cache key only when not at their default,
# so a result trained without them keeps its key (bench.study.cache.fold_key).
KEY_AT_DEFAULT_OMITTED = ("warmup_epochs", "warmup_lr", "min_epochs")


@dataclass
class TrainConfig:
    # -- optimisation ------------------------------------------------------------------------
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"  # torch.optim class
    lr: float = 1e-4  # peak learning rate
    weight_decay: float = 0.0  # L2 (adam/sgd) or decoupled (adamw) weight decay
    momentum: float = 0.9  # SGD momentum (ignored by adam/adamw)
    batch_size: int = 32  # clips per training step
    epochs: int = 20  # maximum number of epochs
    patience: int = 0  # stop after this many epochs without a better validation score; 0 = never
    # Early stopping never ends a run before this epoch (Lightning's ``min_epochs``): for a model
    # whose training loss sits on a plateau for longer than ``patience`` before it falls, where a
    # lucky validation score in the plateau would otherwise stop it untrained. Selection still
    # sees every epoch.
    min_epochs: int = 0
    scheduler: Literal["none", "cosine", "multistep"] = "none"  # per-epoch learning-rate schedule
    milestones: list[int] = field(default_factory=list)  # multistep: epochs at which lr *= gamma
    gamma: float = 0.1  # multistep decay factor
    grad_clip: float = 0.0  # clip the global gradient norm to this value; 0 = off
    # A constant-rate warm start: the first ``warmup_epochs`` epochs run at ``warmup_lr``, then
    # the schedule's own rate takes over (the schedule still counts epochs from 1, so milestones
    # keep their meaning). RJA's official train.py runs 6 epochs at its config's 1e-4 before its
    # decay rule sets 1e-3; without that start its LSTMs collapse to constant outputs.
    warmup_epochs: int = 0
    warmup_lr: float = 0.0
    # Metric that picks the epoch (and the head, for inference_head="validation") on the
    # validation speakers: "auto" = uar (classification) or ccc_mean (regression); a name
    # starting with "loss" is minimised, every other metric is maximised.
    selection_metric: str = "auto"
    # -- augmentation (training batches only, on the training device) ------------------------
    augment: bool = False  # flip / rotate / colour-jitter face crops (and flow consistently)
    flip_p: float = 0.5  # probability of a horizontal flip per clip
    rotation_deg: float = 10.0  # rotation angle drawn uniformly from [-deg, deg] per clip
    color_jitter: float = 0.2  # brightness / contrast / saturation strength per clip (0 = off)
    hue: float = 0.0  # hue shift strength in [0, 0.5] (fraction of a full turn)
    # -- frame-level task (task "frame", e.g. Aff-Wild2): windows of long clips ----------------
    # A window is ``window_steps`` consecutive video steps of a clip (at the feature store's
    # ``fps``); the next starts ``window_hop`` steps later (hop <= steps, so every step is in a
    # window; overlapping predictions are averaged when stitched back). RJA's official code
    # (praveena2j/RecurrentJointAttentionwithLSTMs): 16 sub-sequences of 32 frames (~1.07 s each
    # at 30 fps) per sample, one target per sub-sequence, samples shifted by 1 frame; so 16 steps
    # here, with RJA's seq_len kept equal to window_steps (step t is segment t).
    window_steps: int = 16  # video steps per training / evaluation window
    window_hop: int = 8  # steps between the starts of consecutive windows (1..window_steps)
    # -- evaluation ----------------------------------------------------------------------------
    robustness: bool = True  # also score the test set with a modality missing / noisy (bench.eval.robustness)
    # -- how a step is computed (part of a result's identity: these change the floats) --------
    # "fast": dropout masks from rand + compare instead of bernoulli_ (same distribution, other
    # random stream; bench.nn.dropout), convolution weights in channels_last (oneDNN's native
    # layout: no reorders around every conv and batch norm), Adam/AdamW fused into one kernel,
    # and bit-identical shortcuts (bench.nn.kernels lists them).
    # "reference": the path every result before the switch was trained with. Same method, same
    # hyper-parameters; the numbers for one seed differ (random stream, summation order).
    kernels: Kernels = "fast"
    # torch intra-op threads per training job on CPU. One thread per job and as many jobs at
    # once as there are idle cores (--jobs auto) uses the cores about as well as one job with
    # all of them (1.17-1.21x better on a 4-job DE-III grid on 2 quiet cores), does not collapse
    # when another process is busy, and, unlike threads chosen from the load, gives the same
    # floats on any machine: a
    # reduction split over 1 or 2 threads sums in another order (DE-III fold 1, one epoch:
    # train loss 5.424962679 at 2 threads vs 5.424963156 at 1). 0 = every core this process
    # may use (faster for one job alone on a big machine; numbers then depend on the machine).
    threads: int = 1
    # -- runtime (not part of a result's identity) -------------------------------------------
    num_workers: int = 0  # DataLoader worker processes
    pin_memory: bool = True  # pin host batches for faster copies (only takes effect on CUDA)
    preload: Literal["auto", "always", "never"] = "auto"  # read the fold's clips into memory once
    amp: Literal["auto", "bf16", "off"] = "auto"  # auto = bf16 autocast on CUDA, fp32 on CPU
    device: str = "auto"  # "auto", "cpu", "cuda" or "cuda:N"
    save_state: bool = False  # keep the selected epoch's weights (model.pt) with the result

    def __post_init__(self) -> None:
        # Checked here, not in the loop: a bad value fails before any data is read, with the
        # key the user typed (``--set train.epochs=0``), instead of a silent empty run.
        checks = {
            "epochs": (self.epochs >= 1, "at least 1"),
            "batch_size": (self.batch_size >= 1, "at least 1"),
            "lr": (self.lr > 0, "greater than 0"),
            "warmup_epochs": (self.warmup_epochs >= 0, "0 or more"),
            "warmup_lr": (self.warmup_lr > 0 or self.warmup_epochs == 0, "greater than 0 when warmup_epochs > 0"),
            "weight_decay": (self.weight_decay >= 0, "0 or more"),
            "patience": (self.patience >= 0, "0 (never stop early) or more"),
            "min_epochs": (self.min_epochs >= 0, "0 or more"),
            "gamma": (self.gamma > 0, "greater than 0"),
            "grad_clip": (self.grad_clip >= 0, "0 (off) or more"),
            "num_workers": (self.num_workers >= 0, "0 (load in the main process) or more"),
            "flip_p": (0 <= self.flip_p <= 1, "a probability in [0, 1]"),
            "hue": (0 <= self.hue <= 0.5, "in [0, 0.5]"),
            "milestones": (all(m >= 1 for m in self.milestones), "epochs of 1 or more"),
            "window_steps": (self.window_steps >= 1, "at least 1"),
            "threads": (self.threads >= 0, "0 (every core this process may use) or more"),
            "kernels": (self.kernels in ("fast", "reference"), "'fast' or 'reference'"),
            "window_hop": (1 <= self.window_hop <= max(self.window_steps, 1),
                           f"in 1..window_steps ({self.window_steps}), so that every step is in a window"),
        }
        for key, (ok, rule) in checks.items():
            if not ok:
                raise ConfigError(f"train.{key} must be {rule}, got {getattr(self, key)!r}")


def default_metric(task: str) -> str:
    """The headline metric of a task (:data:`bench.eval.metrics.METRICS` marks it)."""
    from bench.eval.metrics import primary_metric

    return primary_metric(task)


def resolve_selection_metric(config: TrainConfig, task: str) -> str:
    """The metric name the trainer maximises (or minimises, for loss) on validation.

    A metric of the table that the task does not produce (``uar`` for continuous targets, a
    sweep study written for CREMA-D run on Aff-Wild2) is an error naming the task's metrics,
    before any epoch trains, instead of a missing key after the first one."""
    from bench.eval.metrics import METRICS, metric_tasks

    if config.selection_metric == "auto":
        return default_metric(task)
    known = METRICS.get(config.selection_metric)
    tasks = metric_tasks(task)
    if known is not None and known.task not in tasks:
        options = [m.name for m in METRICS.values() if m.task in tasks]
        raise ConfigError(f"selection metric {config.selection_metric!r} is a {known.task} metric, but the model's task "
                          f"is {task!r}: use one of {', '.join(options)} (or 'auto', or a name starting with 'loss')")
    return config.selection_metric


def higher_is_better(metric: str) -> bool:
    from bench.eval.metrics import higher_is_better as better

    return better(metric)
