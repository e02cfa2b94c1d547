"""Train one model on one fold: select on validation speakers, score test speakers once.

The loop, top to bottom:

1. seed everything from the run's seed; build the model (its data fields filled from the
   store) and the three loaders (train shuffled with a seeded generator);
2. each epoch: train (augmentation and the model's own ``augment_batch`` on training batches
   only; bf16 autocast on CUDA; a non-finite loss stops the fold with a clear message), then
   score every candidate head on the validation speakers;
3. keep the weights of the best epoch in memory (the head too, when the model's
   ``inference_head`` is ``"validation"``); stop after ``patience`` epochs without progress (not before ``min_epochs``);
4. restore those weights and score the test speakers once, with that head.

The test set is never looked at before step 4, so no choice can lean on it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import replace
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import torch

from bench.config import to_dict
from bench.models.contract import ModelConfig, count_parameters
from bench.data.dataset import ClipDataset, make_loader, to_device
from bench.data.fields import MODALITIES, store_key_for, uses_features
from bench.errors import BenchError, ConfigError
from bench.models.registry import get_model_entry, resolve_config
from bench.nn.kernels import use_kernels
from bench.train.augment import augment_batch
from bench.train.config import TrainConfig, higher_is_better, resolve_selection_metric
from bench.eval.metrics import classification_metrics, regression_metrics
from bench.train.result import FoldResult
from bench.seed import seed_everything

__all__ = ["FoldResult", "NonFiniteLossError", "fit_fold", "fill_data_fields", "resolve_device"]


class NonFiniteLossError(BenchError):
    """The training loss became NaN or infinite: this fold fails, the others go on."""


def resolve_device(name: str | torch.device | None) -> torch.device:
    """``"auto"`` is CUDA when torch sees a GPU, else CPU; asking for a missing GPU is an error."""
    if isinstance(name, torch.device):
        return name
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but torch sees no CUDA device (use --device cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r}: {exc}") from None


# -- data fields of the model config --------------------------------------------------------
def store_labels(store) -> list[str]:
    return list(store.meta.get("labels") or store.manifest.labels)


def store_targets(store) -> list[str]:
    return list(store.meta.get("targets") or store.manifest.targets)


def frame_level(store) -> bool:
    """Whether the store's clips carry per-frame targets (``frame_target``: Aff-Wild2), i.e. the
    store is for task ``"frame"``; read from its first clip's array names."""
    if not store.clip_ids:
        return False
    first = store.clip_ids[0]
    names = store.arrays(first) if hasattr(store, "arrays") else store.load(first)
    return "frame_target" in names


def fill_data_fields(config: ModelConfig, store) -> ModelConfig:
    """The config with its data-dependent fields taken from the store (task, sizes, classes).

    A classification config on a corpus without categorical labels becomes regression on its
    continuous targets, or task ``"frame"`` on a store of per-frame targets (Aff-Wild2; its
    targets then name the columns of ``frame_target``); sizes come from the arrays of the
    store's first clip.
    """
    labels, targets = store_labels(store), store_targets(store)
    task = config.task
    frame = frame_level(store)
    if frame and task == "classification" and not labels:
        task = "frame"
    if frame and task == "regression":
        raise ConfigError(f"feature store {store.root}: task=regression needs one target per clip, but this store "
                          "holds per-frame targets (frame_target); use task=frame")
    if task == "frame" and not frame:
        raise ConfigError(f"feature store {store.root}: task=frame needs per-frame targets (frame_target), which "
                          "this store's clips do not have; prepare a frame-level corpus such as --dataset affwild2")
    if task == "frame" and not targets:
        raise ConfigError(f"feature store {store.root}: task=frame but the corpus names no targets")
    if task == "classification" and not labels:
        if not targets:
            raise ConfigError(f"feature store {store.root}: the corpus has neither labels nor targets")
        task = "regression"
    if task == "regression" and not targets:
        raise ConfigError(f"feature store {store.root}: task=regression but the corpus has no continuous targets")
    if not store.clip_ids:
        raise ConfigError(f"feature store {store.root}: no prepared clips")
    arrays = store.load(store.clip_ids[0])
    changes: dict[str, Any] = {"task": task, "num_outputs": len(labels) if task == "classification" else len(targets)}
    if "frames" in arrays:
        changes["image_size"] = int(arrays["frames"].shape[-1])
    elif "flow" in arrays:
        changes["image_size"] = int(arrays["flow"].shape[-1])
    for m in MODALITIES.values():
        array = store_key_for(m.name, config)
        if array in arrays and (m.raw_sets_size or uses_features(m.name, config)):
            changes[m.size_field] = int(arrays[array].shape[-1])
    known = {k: v for k, v in changes.items() if hasattr(config, k)}
    return replace(config, **known)


def usable_ids(store, ids, task: str, targets: list[str]) -> list[str]:
    """Clip ids that were prepared and carry what the task needs (a label, every target, or
    for task ``"frame"`` per-frame targets with at least one annotated step)."""
    prepared = set(store.clip_ids)
    frame = store.manifest.frame.set_index("clip_id")
    keep = []
    for clip_id in map(str, ids):
        if clip_id not in prepared or clip_id not in frame.index:
            continue
        if task == "frame":
            arrays = store.load(clip_id)
            if "frame_target" in arrays and "frame_valid" in arrays and bool(np.asarray(arrays["frame_valid"]).any()):
                keep.append(clip_id)
            continue
        row = frame.loc[clip_id]
        if task == "classification" and not str(row["label"]):
            continue
        if task == "regression" and any(not math.isfinite(float(row[t])) for t in targets):
            continue
        keep.append(clip_id)
    return keep


# -- optimisation ---------------------------------------------------------------------------
def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    # Fused Adam: the same update in one kernel over all parameters (2.8 ms vs 7.6 ms per DE-III
    # step on CPU, issue 10's profile). SGD stays unfused: fused SGD measured no faster here.
    fused = {"fused": True} if config.kernels == "fast" else {}
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, **fused)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, **fused)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    raise ConfigError(f"unknown optimizer {config.optimizer!r}")


def prepare_model(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.nn.Module:
    """The model on ``device``, its convolution weights in channels_last under ``kernels="fast"``.

    oneDNN computes convolutions and batch norm in channels_last; with NCHW weights every conv
    reorders its input and output (SAF's EfficientFace step: 1.4x faster in channels_last, issue
    10). Only 4-D weights change layout; values, names and the state dict stay as they are.
    """
    model = model.to(device)
    if config.kernels == "fast" and any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    return model


def build_scheduler(optimizer, config: TrainConfig):
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    if config.scheduler == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(config.milestones), gamma=config.gamma)
    return None


def autocast_context(device: torch.device, amp: str):
    """bf16 autocast on CUDA under ``amp="auto"``; everywhere under ``"bf16"``; never under ``"off"``."""
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


# -- prediction -----------------------------------------------------------------------------
def _as_probabilities(values: torch.Tensor) -> torch.Tensor:
    """Softmax of logits; a head that already gives probabilities (e.g. ``mean``) is kept."""
    values = values.float()
    if values.numel() and bool(((values >= 0) & (values <= 1)).all()) and torch.allclose(
        values.sum(-1), torch.ones(values.shape[0]), atol=1e-3
    ):
        return values
    return values.softmax(-1)


def candidate_outputs(model, output, task: str) -> dict[str, torch.Tensor]:
    """Every head the trainer may pick, plus ``mean`` of the heads when the model has none."""
    heads = dict(model.candidate_heads(output))
    if task == "classification" and "mean" not in heads and len(output.logits) > 1:
        heads["mean"] = torch.stack([v.float().softmax(-1) for v in output.logits.values()]).mean(0)
    if task in ("regression", "frame") and "mean" not in heads and len(output.logits) > 1:
        heads["mean"] = torch.stack([v.float() for v in output.logits.values()]).mean(0)
    return heads


@torch.no_grad()
def predict(
    model, loader, device, amp: str, task: str, transform: Callable[[dict], dict] | None = None,
    window_starts: list[int] | None = None,
) -> tuple[dict[str, np.ndarray], float, list[str]]:
    """Outputs of every candidate head over a loader (probabilities / predictions), mean loss.

    ``transform`` (optional) changes each batch on the device before the forward pass, e.g. a
    robustness condition (noise, a missing modality). Task ``"frame"``: outputs are per window
    and step, (N_windows, T, K) per head, ``clip_ids`` one per window, and ``window_starts``
    (a list, when given) is extended with each window's first step, for stitching.
    """
    model.eval()
    collected: dict[str, list[torch.Tensor]] = {}
    clip_ids: list[str] = []
    loss_sum, count = 0.0, 0
    for batch in loader:
        batch = to_device(batch, device, non_blocking=True)
        if transform is not None:
            batch = transform(batch)
        with autocast_context(device, amp):
            output = model(batch)
            loss, _ = model.compute_loss(output, batch)
        size = len(batch["clip_id"])
        loss_sum += float(loss) * size
        count += size
        for name, values in candidate_outputs(model, output, task).items():
            values = _as_probabilities(values.cpu()) if task == "classification" else values.float().cpu()
            collected.setdefault(name, []).append(values)
        clip_ids.extend(batch["clip_id"])
        if window_starts is not None and "window_start" in batch:
            window_starts.extend(int(v) for v in batch["window_start"].tolist())
    outputs = {name: torch.cat(parts).numpy() for name, parts in collected.items()}
    return outputs, loss_sum / max(count, 1), clip_ids


def score(outputs: np.ndarray, dataset: ClipDataset, task: str, labels: list[str], targets: list[str],
          windows: tuple[list[str], list[int]] | None = None) -> dict:
    if task == "frame":
        return score_frames(outputs, dataset, targets, windows)
    if task == "classification":
        return classification_metrics(dataset.labels, outputs.argmax(-1), labels)
    return regression_metrics(outputs, dataset.targets, targets)


def stitch_frames(outputs: np.ndarray, dataset, windows: tuple[list[str], list[int]] | None = None) -> dict[str, np.ndarray]:
    """Per-window (N, T, K) predictions -> one (T_v, K) per clip (overlaps averaged).

    ``windows``: the (clip id, first step) of each predicted window, as :func:`predict`
    collected them; by default the dataset's own order (the loaders of val/test keep it).
    """
    from bench.data.windows import stitch_windows

    clip_ids, starts = windows if windows is not None else (dataset.clip_ids, dataset.starts)
    return stitch_windows(outputs, clip_ids, starts, dataset.lengths)


def score_frames(outputs: np.ndarray, dataset, targets: list[str],
                 windows: tuple[list[str], list[int]] | None = None) -> dict[str, float]:
    """ABAW's scores of per-window predictions: stitched per clip, brought to the annotation frame
    rate, CCC over every valid (annotated) frame of the set concatenated, and per video averaged
    (:func:`bench.data.windows.score_frame_predictions`). Unannotated (-5) frames are never read."""
    from bench.data.windows import score_frame_predictions

    return score_frame_predictions(dataset.store, stitch_frames(outputs, dataset, windows), names=tuple(targets))


def _with_confusion(metrics: dict) -> dict:
    """Scalar metrics plus the confusion matrix (for pair accuracies in ablation tables)."""
    return {**_scalars(metrics), **({"confusion": metrics["confusion"]} if "confusion" in metrics else {})}


def _scalars(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


# -- the fold -------------------------------------------------------------------------------
def fit_fold(
    model_name: str,
    model_config: ModelConfig | Mapping[str, Any] | None,
    train_config: TrainConfig,
    store,
    fold_ids: Mapping[str, list[str]],
    *,
    seed: int,
    device: str | torch.device | None = None,
    on_epoch: Callable[[int, dict], None] | None = None,
    fold_name: str = "",
) -> FoldResult:
    """Train ``model_name`` on ``fold_ids["train"]``, select on ``"val"``, score ``"test"`` once.

    ``on_epoch(epoch, val_metrics)`` is called after each epoch's validation with the chosen
    head's validation metrics (``accuracy``/``uar``/... or ``ccc_*``, ``loss``, and
    ``selection``: the value being maximised, negated loss for loss metrics); it may raise
    (``optuna.TrialPruned``) to stop the fold, and that exception propagates. A NaN/inf
    training loss returns a ``FoldResult`` with ``status="failed"`` and the reason.
    """
    started = time.perf_counter()
    generator = seed_everything(seed)
    device = resolve_device(device if device is not None else train_config.device)
    config = fill_data_fields(resolve_config(model_name, model_config), store)
    task, labels, targets = config.task, store_labels(store), store_targets(store)
    metric = resolve_selection_metric(train_config, task)
    sign = 1.0 if higher_is_better(metric) else -1.0
    where = f"fold {fold_name or '?'} seed {seed}"

    model = prepare_model(get_model_entry(model_name).model_class(config), train_config, device)
    arrays = {m: store_key_for(m, config) for m in model.required_inputs()}
    splits = {}
    # A fold without test clips is a validation-only fold (a sweep's inner fold): it trains and
    # selects as usual and scores no test set at all.
    parts = ("train", "val", "test") if fold_ids.get("test") else ("train", "val")
    for part in parts:
        ids = usable_ids(store, fold_ids.get(part, []), task, targets)
        if not ids:
            raise ConfigError(f"{where}: no usable {part} clips in feature store {store.root}")
        if task == "frame":  # long clips: fixed-length windows of them (bench.data.windows)
            from bench.data.windows import FrameWindowDataset

            splits[part] = FrameWindowDataset(store, ids, arrays, window_steps=train_config.window_steps,
                                              window_hop=train_config.window_hop)
        else:
            splits[part] = ClipDataset(store, ids, arrays, task=task, targets=targets)
    if task != "frame":  # windows read their clips memory-mapped, a window's pages at a time
        _maybe_preload(splits, train_config.preload)

    pin = bool(train_config.pin_memory and device.type == "cuda")
    workers = train_config.num_workers
    train_loader = make_loader(splits["train"], train_config.batch_size, shuffle=True, generator=generator, num_workers=workers, pin_memory=pin)
    val_loader = make_loader(splits["val"], train_config.batch_size, shuffle=False, num_workers=workers, pin_memory=pin)
    test_loader = make_loader(splits["test"], train_config.batch_size, shuffle=False, num_workers=0, pin_memory=pin) if "test" in splits else None
    augment_generator = torch.Generator().manual_seed(seed + 1)
    optimizer = build_optimizer(model, train_config)
    scheduler = build_scheduler(optimizer, train_config)

    best = {"score": -math.inf, "epoch": 0, "head": "", "val": {}, "state": None}
    history: list[dict] = []
    stale = 0
    for epoch in range(1, train_config.epochs + 1):
        warm = epoch <= train_config.warmup_epochs
        if warm:  # a constant warm start; the schedule's own rate is restored after the epoch
            scheduled = [group["lr"] for group in optimizer.param_groups]
            for group in optimizer.param_groups:
                group["lr"] = train_config.warmup_lr
        try:
            train_loss = _train_epoch(model, train_loader, optimizer, train_config, device, augment_generator, epoch)
        except NonFiniteLossError as exc:
            return FoldResult(
                status="failed", error=f"{where}: {exc}", history=history, parameters=count_parameters(model),
                seconds=time.perf_counter() - started, fold=fold_name, seed=seed, labels=labels,
            )
        lr = optimizer.param_groups[0]["lr"]
        if warm:
            for group, rate in zip(optimizer.param_groups, scheduled):
                group["lr"] = rate
        if scheduler is not None:
            scheduler.step()
        val_starts: list[int] = []
        outputs, val_loss, val_ids = predict(model, val_loader, device, train_config.amp, task, window_starts=val_starts)
        val_windows = (val_ids, val_starts) if task == "frame" else None
        per_head = {name: {**_scalars(score(values, splits["val"], task, labels, targets, val_windows)), "loss": val_loss}
                    for name, values in outputs.items()}
        head = _choose_head(config.inference_head, per_head, metric, sign, model_name)
        val_metrics = dict(per_head[head])
        value = sign * val_metrics[metric]
        val_metrics["selection"] = value
        entry = {"epoch": epoch, "train_loss": train_loss, "lr": lr, **{f"val_{k}": v for k, v in val_metrics.items()}, "val_head": head}
        if len(per_head) > 1:
            entry.update({f"val_{name}_{metric}": m[metric] for name, m in per_head.items()})
        history.append(entry)
        if value > best["score"]:
            state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            best.update(score=value, epoch=epoch, head=head, val=val_metrics, state=state)
            stale = 0
        else:
            stale += 1
        if on_epoch is not None:
            on_epoch(epoch, dict(val_metrics))
        if train_config.patience > 0 and stale >= train_config.patience and epoch >= train_config.min_epochs:
            break

    if best["state"] is None:  # every validation score was NaN
        return FoldResult(
            status="failed", error=f"{where}: no epoch produced a finite validation {metric}", history=history,
            parameters=count_parameters(model), seconds=time.perf_counter() - started, fold=fold_name, seed=seed, labels=labels,
        )
    model.load_state_dict(best["state"])
    if test_loader is None:
        return FoldResult(
            status="finished", best_epoch=best["epoch"], inference_head=best["head"],
            val={k: v for k, v in best["val"].items() if k != "selection"}, history=history,
            parameters=count_parameters(model), seconds=time.perf_counter() - started, fold=fold_name, seed=seed,
            labels=labels, state_dict=best["state"] if train_config.save_state else None,
        )
    tic = time.perf_counter()
    test_starts: list[int] = []
    outputs, _, clip_ids = predict(model, test_loader, device, train_config.amp, task, window_starts=test_starts)
    # per clip, or for task "frame" per window (a clip there is a whole video track)
    inference_ms = 1000 * (time.perf_counter() - tic) / max(len(clip_ids), 1)
    windows = (clip_ids, test_starts) if task == "frame" else None
    chosen = outputs[best["head"]]
    metrics = score(chosen, splits["test"], task, labels, targets, windows)
    test_by_head = {name: _with_confusion(score(values, splits["test"], task, labels, targets, windows)) for name, values in outputs.items()}
    robustness = {}
    if train_config.robustness:
        from bench.eval.robustness import CONDITIONS, condition_transform

        for condition in CONDITIONS[1:]:
            noisy, _, _ = predict(model, test_loader, device, train_config.amp, task, transform=condition_transform(condition, seed))
            robustness[condition] = _with_confusion(score(noisy[best["head"]], splits["test"], task, labels, targets, windows))
    return FoldResult(
        status="finished",
        best_epoch=best["epoch"],
        inference_head=best["head"],
        val={k: v for k, v in best["val"].items() if k != "selection"},
        test=_scalars(metrics),
        per_class_recall=metrics.get("per_class_recall", {}),
        confusion=metrics.get("confusion", []),
        history=history,
        predictions=(_frame_prediction_frame(splits["test"], chosen, targets, windows) if task == "frame"
                     else _prediction_frame(splits["test"], chosen, task, labels, targets)),
        test_by_head=test_by_head,
        robustness=robustness,
        parameters=count_parameters(model),
        inference_ms_per_clip=inference_ms,
        seconds=time.perf_counter() - started,
        fold=fold_name,
        seed=seed,
        labels=labels,
        n_train=len(splits["train"]),
        n_test=len(splits["test"]),
        state_dict=best["state"] if train_config.save_state else None,
    )


def _train_epoch(model, loader, optimizer, config: TrainConfig, device, generator, epoch: int) -> float:
    with use_kernels(config.kernels):
        return _train_steps(model, loader, optimizer, config, device, generator, epoch)


def _train_steps(model, loader, optimizer, config: TrainConfig, device, generator, epoch: int) -> float:
    model.train()
    total, count = 0.0, 0
    for step, batch in enumerate(loader, start=1):
        batch = to_device(batch, device, non_blocking=True)
        if config.augment:
            batch = augment_batch(batch, generator, config)
        batch = model.augment_batch(batch, generator)
        with autocast_context(device, config.amp):
            output = model(batch)
            loss, _ = model.compute_loss(output, batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            kind = "NaN" if math.isnan(value) else "inf"
            raise NonFiniteLossError(f"loss became {kind} at epoch {epoch} step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        size = len(batch["clip_id"])
        total += value * size
        count += size
    return total / max(count, 1)


def _choose_head(inference_head: str, per_head: dict[str, dict], metric: str, sign: float, model_name: str) -> str:
    if metric not in next(iter(per_head.values())):
        raise ConfigError(f"selection metric {metric!r} is not one of {sorted(next(iter(per_head.values())))}")
    if inference_head == "validation":
        finite = {n: m for n, m in per_head.items() if math.isfinite(m[metric])}
        pool = finite or per_head
        return max(pool, key=lambda n: sign * pool[n][metric])
    if inference_head not in per_head:
        raise ConfigError(
            f"model {model_name!r}: inference_head {inference_head!r} is not one of its heads {sorted(per_head)} "
            f"(or 'validation')"
        )
    return inference_head


def _maybe_preload(splits: dict[str, ClipDataset], mode: str) -> None:
    if mode == "never":
        return
    if mode == "auto":
        needed = sum(d.nbytes_estimate() for d in splits.values())
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = 0
        if needed > min(8 * 2**30, available // 4):
            return
    for dataset in splits.values():
        dataset.preload()


def _prediction_frame(dataset: ClipDataset, outputs: np.ndarray, task: str, labels: list[str], targets: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({"clip_id": dataset.clip_ids, "speaker": dataset.speakers})
    if task == "classification":
        frame["label"] = [labels[i] for i in dataset.labels]
        frame["predicted"] = [labels[i] for i in outputs.argmax(-1)]
        for i, name in enumerate(labels):
            frame[f"prob_{name}"] = outputs[:, i]
    else:
        for i, name in enumerate(targets):
            frame[name] = dataset.targets[:, i]
            frame[f"pred_{name}"] = outputs[:, i]
    return frame


def _frame_prediction_frame(dataset, outputs: np.ndarray, targets: list[str],
                            windows: tuple[list[str], list[int]] | None) -> pd.DataFrame:
    """Task "frame": one row per video step of every test clip (windows stitched back): clip_id,
    speaker, step, time (s, the step's centre), valid (annotated), then per target its value
    (NaN where not annotated) and ``pred_<target>``. Scores are computed at the annotation frame
    rate from these steps (linear interpolation), so they are not exactly CCCs of these rows."""
    stitched = stitch_frames(outputs, dataset, windows)
    speakers = dataset.store.manifest.frame.set_index("clip_id")["speaker"].astype(str)
    parts = []
    for clip, steps in stitched.items():
        arrays = dataset.store.load(clip)
        valid = np.asarray(arrays["frame_valid"], dtype=bool)
        truth = np.where(valid[:, None], np.asarray(arrays["frame_target"], dtype=np.float64), np.nan)
        part = pd.DataFrame({"clip_id": clip, "speaker": speakers.get(clip, ""), "step": np.arange(len(steps)),
                             "time": (np.arange(len(steps)) + 0.5) / dataset.fps[clip], "valid": valid})
        for i, name in enumerate(targets):
            part[name] = truth[:, i]
            part[f"pred_{name}"] = steps[:, i]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def config_dict(config: Any) -> dict:
    """A config (dataclass) as a plain dict, for logging and hashing."""
    return to_dict(config)
