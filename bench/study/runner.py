"""Run a grid of jobs on an executor; :func:`execute` is what a worker does with one job.

A worker, in this process or another or on another machine: opens the feature store (once
per process), takes the job's result from the cache or trains it (``fit_fold``), caches a
finished result, and tracks it as an MLflow child run under the study's parent (its train /
validation / test sets, system metrics, curves, test metrics, confusion matrix, and
optionally the selected weights as a model). The driver receives results as they finish.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Sequence

from bench.study.cache import save_result
from bench.study.recording import record, reusable, stamp
from bench.study.grid import Job
from bench.train.result import FoldResult

OnEpoch = Callable[[Job, int, dict], None]
OnDone = Callable[[int, Job, FoldResult], None]

_stores: dict[str, Any] = {}
_trackers: dict[tuple[str, str], Any] = {}


def _store(job: Job):
    """The job's feature store, opened once per process."""
    from bench.data.store import FeatureStore

    if job.store_root not in _stores:
        _stores[job.store_root] = FeatureStore.open(job.store_root)
    return _stores[job.store_root]


def _tracker(job: Job):
    from bench.tracking.runs import Tracker

    target = job.tracking
    key = (target.uri, target.experiment_id)
    if key not in _trackers:
        _trackers[key] = Tracker.attach(target.uri, target.experiment_id)
    return _trackers[key]


def _ensure_registered(job: Job) -> None:
    """A model registered only in the driver (a notebook, a test) is registered here too."""
    from bench.models.registry import _REGISTRY, get_model_entry, register_model

    try:
        get_model_entry(job.model)
    except KeyError:
        if job.model not in _REGISTRY:
            register_model(job.model, job.config_class)(job.model_class)


def fold_datasets(job: Job, store):
    """The job's train / validation / test sets as tracking records (speakers, clip counts).

    The digest is the feature store's key, the split's checksum, the fold and the part: equal
    digests mean the very same clips, in any run of any model.
    """
    from bench.config import stable_hash
    from bench.tracking.runs import DatasetRecord

    contexts = {"train": "training", "val": "validation", "test": "test"}
    group = job.fold.group_by
    return [DatasetRecord(name=f"{job.dataset}-{job.fold.name}-{part}",
                          digest=stable_hash({"store": job.store_key, "split": job.split_checksum, "fold": job.fold.name,
                                              "part": part}),
                          source=str(store.root), context=contexts[part],
                          profile={"clips": len(job.fold_ids[part]), group + "s": list(getattr(job.fold, part)),
                                   "scheme": job.split_name, "split_checksum": job.split_checksum, "store_key": job.store_key})
            for part in ("train", "val", "test") if part in job.fold_ids]


def describe(job: Job, result: FoldResult | None) -> str:
    """The fold run's description (Markdown): which speakers it tested, what it selected."""
    fold, ids, group = job.fold, job.fold_ids, job.fold.group_by
    lines = [f"**{job.model}** on **{job.dataset}**, fold **{fold.name}**, seed {job.seed}", "",
             f"- split scheme `{job.split_name}` (sha256 `{job.split_checksum[:16]}…`)",
             f"- test {group}s: {', '.join(map(str, fold.test))} ({len(ids.get('test', []))} clips)",
             f"- validation {group}s (epoch and head selection only): {', '.join(map(str, fold.val))} "
             f"({len(ids.get('val', []))} clips)",
             f"- training: {len(fold.train)} {group}s, {len(ids.get('train', []))} clips"]
    if result is not None and result.finished:
        head = f", head `{result.inference_head}`" if result.inference_head else ""
        lines.append(f"- selected epoch {result.best_epoch} of {len(result.history)}{head}"
                     + (f" (reused: {result.source or 'result cache'})" if result.cached else ""))
    elif result is not None:
        lines.append(f"- failed: {result.error}")
    return "\n".join(lines)


def log_fold_model(tracker, run_id: str, job: Job, store, result: FoldResult) -> str | None:
    """Log the fold's selected weights as an MLflow model (signature and example: 2 test clips).

    Returns the model URI, or None when the result came from a cache without weights.
    """
    import torch

    from bench.models.contract import ServingModel
    from bench.data.dataset import ClipDataset, make_loader, store_key_for, to_device
    from bench.paths import results_dir
    from bench.models.registry import get_model_entry
    from bench.train.loop import store_targets

    state = result.state_dict
    cached = results_dir() / job.key / "model.pt"
    if state is None and cached.is_file():
        state = torch.load(cached, map_location="cpu", weights_only=True)
    if state is None:
        return None
    net = get_model_entry(job.model).model_class(job.model_config)
    net.load_state_dict(state)
    net.eval()
    arrays = {m: store_key_for(m, job.model_config) for m in net.required_inputs()}
    if job.model_config.task == "frame":  # long clips: the example is their windows, as the model sees them
        from bench.data.windows import FrameWindowDataset

        clips = FrameWindowDataset(store, job.fold_ids["test"][:2], arrays, window_steps=job.train_config.window_steps,
                                   window_hop=job.train_config.window_hop)
    else:
        clips = ClipDataset(store, job.fold_ids["test"][:2], arrays, task=job.model_config.task, targets=store_targets(store))
    batch = to_device(next(iter(make_loader(clips, 2, shuffle=False))), torch.device("cpu"))  # as the model sees it
    names = tuple(k for m in net.required_inputs() for k in (m, f"{m}_mask"))
    if job.model_config.task == "frame":  # per-step outputs: the window's steps (T) come from frame_mask
        names += ("frame_mask",)
    uri = tracker.log_model(run_id, ServingModel(net, result.inference_head, names), {k: batch[k].numpy() for k in names})
    tracker.set_tags(run_id, {"bench.model_uri": uri})
    return uri


@contextlib.contextmanager
def torch_threads(threads: int):
    """torch's intra-op threads set to ``threads`` (0: left alone) for the block, then restored:
    a serial study trains its jobs in the driver's process, which keeps its own setting."""
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads:
            torch.set_num_threads(previous)


def execute(job: Job, on_epoch: Callable[[int, dict], None] | None = None) -> FoldResult:
    """One job: from the cache, or trained (and then cached when it finished); tracked.

    Safe to call in any process: the store, the tracker and the model registration are set up
    here from the job's data. A KeyboardInterrupt (Ctrl-C, SIGTERM) ends the child run KILLED.
    """
    import torch

    from bench.train.loop import fit_fold

    _ensure_registered(job)
    store = _store(job)
    tracker = _tracker(job) if job.tracking is not None else None
    child, result, status = None, None, "FAILED"
    if tracker is not None:
        tracker.supersede(job.tracking.parent_run_id, job.key)  # a retried job's earlier, dead attempt
        child = tracker.start_run(f"{job.fold.name}-seed{job.seed}", {"fold": job.fold.name, "seed": job.seed,
                                                                       "cache_key": job.key, "model": job.model,
                                                                       **({"protocol": job.protocol} if job.protocol else {}),
                                                                       **job.tags},
                                  parent_id=job.tracking.parent_run_id)
        tracker.log_datasets(child, fold_datasets(job, store))
    try:
        result = reusable(job)  # the local cache, else a fresh ledger record (bench.study.recording)
        if result is None:
            def epoch_done(epoch: int, metrics: dict) -> None:
                if on_epoch is not None:
                    on_epoch(epoch, metrics)
                if tracker is not None:
                    tracker.heartbeat(child, job.tracking.parent_run_id)

            metrics = (tracker.system_metrics(child, job.tracking.system_metrics) if tracker is not None
                       else contextlib.nullcontext())
            with metrics, torch_threads(job.train_config.threads or job.threads):
                cpu = time.process_time()
                result = fit_fold(job.model, job.model_config, job.train_config, store, job.fold_ids, seed=job.seed,
                                  device=job.device, on_epoch=epoch_done, fold_name=job.fold.name)
                result.cpu_seconds = time.process_time() - cpu
                stamp(job, result, torch.get_num_threads())
            result.cache_key = job.key
            if result.finished:
                save_result(job.key, result)
        elif result.source.startswith("ledger") and job.key:
            save_result(job.key, result)  # a missing or damaged local cache entry is restored from the record
        if result.finished:
            record(job, result)  # the ledger's record, unless it holds this platform's already
        result.fold, result.seed = job.fold.name, job.seed
        if tracker is not None:
            tracker.log_fold(child, result)
            if job.tracking.log_model and result.finished and log_fold_model(tracker, child, job, store, result) is None:
                tracker.set_tags(child, {"bench.model_uri": "none: the cached result has no weights; retrain to log them"})
        status = "FINISHED" if result.finished else "FAILED"
        return result
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        if tracker is not None and child is not None:
            tracker.describe(child, describe(job, result))
            tracker.end_run(child, status)
        if result is not None:
            result.state_dict = None  # weights are cached on disk; never shipped back to the driver


def run_jobs(jobs: Sequence[Job], executor=None, on_done: OnDone | None = None,
             on_epoch: OnEpoch | None = None) -> list[FoldResult]:
    """Run ``jobs`` on ``executor`` (default: serial, in this process); results in job order.

    ``on_done(index, job, result)`` is called as each job finishes (in finishing order);
    ``on_epoch(job, epoch, metrics)`` only where the executor runs jobs in this process.
    """
    from bench.study.executors import SerialExecutor

    executor = executor or SerialExecutor()
    results: list[FoldResult | None] = [None] * len(jobs)

    def done(index: int, result: FoldResult) -> None:
        results[index] = result
        if on_done is not None:
            on_done(index, jobs[index], result)

    executor.run(list(jobs), done, on_epoch)
    missing = [jobs[i].label for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"the executor returned no result for {missing}")
    return results  # type: ignore[return-value]
