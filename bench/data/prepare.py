"""``prepare``: turn a manifest into a feature store (face crops, optical flow, log-mel, embeddings).

One clip goes through six timed stages::

    decode   T uniformly sampled RGB frames (decord)          -> (T, H, W, 3) uint8
    faces    Haar face box, filled + smoothed + squared        -> (T, crop, crop, 3) uint8
    flow     DIS / Farneback / TV-L1 on the crop-size crops    -> (T-1, 2, S, S) float16
    audio    PyAV: mono, 16 kHz; torch.stft + librosa mel      -> (T_a, n_mels) float32
    extract  optional local wav2vec2 / TorchScript models      -> (T_a', D), (T, D) float32
    write    atomic .npy per array, then the clip's done-marker

The store's folder is keyed by a hash of the corpus, the manifest's content and these
settings, so the same inputs always land in the same folder and a re-run (after a kill, or
to add nothing) skips every clip whose done-marker exists. Clips run in a process pool (spawn
context: safe with torch and OpenCV); a worker writes its clip itself, so finished work is on
disk the moment it is done, and a bad clip only produces a :class:`~bench.errors.BadInput`
record (file, stage, reason) that is counted in the summary. ``strict=True`` stops at the
first bad clip and raises its error instead.

The pool is kept alive between calls in one process (like joblib's reusable executor): a
fresh spawn worker pays ~2-3 s importing torch, OpenCV and decord, which would dominate the
preparation of a few dozen clips in a notebook or a test session. ``workers=1`` runs in the
calling process, with no pool at all.

What can go wrong around the clips is handled as a whole, not clip by clip:

* On resume every finished clip gets a cheap check (headers and sizes against its record,
  see :meth:`FeatureStore.check_clip`), ``verify=True`` a full one (every array loaded, NaN or
  infinite values refused); damaged clips are recomputed and the summary says how many and why.
* A full disk (ENOSPC/EDQUOT) stops the run with one :class:`~bench.data.store.DiskFullError`
  rather than recording every following clip as a bad input.
* SIGTERM during ``prepare`` terminates the worker processes too (a spawn worker does not die
  with its parent and holds ~375 MB), then finalizes the store: finished clips are kept and a
  re-run resumes. The previous handler is restored afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import platform
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np

from bench.config import stable_hash, to_dict
from bench.data.audio import MelSpec
from bench.data.manifest import Manifest
from bench.data.store import NO_SPACE, DiskFullError, FeatureStore
from bench.errors import BadInput, BadInputError, BenchError, ConfigError

STAGES = ("decode", "faces", "flow", "audio", "extract", "write")
STORE_FORMAT = 1  # bump when the arrays' meaning changes, so old stores are not reused
LISTED = 20  # failed / rebuilt clips listed by name in the summary (the rest are counted)


class PrepareInterrupted(BenchError):
    """``prepare`` got SIGTERM: workers stopped, finished clips kept for the next run."""

    def __init__(self, root: str | Path = ""):
        self.root = str(root)
        where = f" in {root}" if root else ""
        super().__init__(f"prepare stopped by SIGTERM: the workers were stopped and the finished clips{where} are kept; "
                         "re-run the same command to resume")

    def __reduce__(self):
        return type(self), (self.root,)


@dataclass
class PrepareConfig:
    """Everything that determines a feature store's contents (hashed into its key)."""

    num_frames: int = 16  # T: frames sampled uniformly over each clip
    # Video steps per second for clips with per-frame annotations (Aff-Wild2), which are sampled
    # at a fixed rate over their whole length instead (bench.data.frame_clips); 0: its default (5).
    fps: float = 0.0
    image_size: int = 48  # S: side of the face crops (and flow fields) the model sees
    crop_size: int = 112  # side of the full-resolution face crop on which flow is computed
    face_detector: Literal["haar", "none"] = "haar"  # "none": frames are already face crops
    face_margin: float = 0.25  # fraction of the face box side added around it
    detect_width: int = 128  # frames are downscaled to this width (grey) for detection
    detect_every: int = 4  # run the cascade on every k-th sampled frame (and the last), interpolate the rest
    smooth_window: int = 5  # running-median length (frames) for the face box track
    flow: Literal["dis", "farneback", "tvl1", "none"] = "dis"  # optical-flow method
    # DIS preset: "fine" (default) = OpenCV's ultrafast preset refined to full resolution, which
    # keeps pixel-scale facial motion (see bench/data/flow.py for the measurement); the stock
    # "ultrafast" / "fast" / "medium" stop at 1/4 or 1/2 scale.
    dis_preset: Literal["ultrafast", "fast", "medium", "fine"] = "fine"
    sample_rate: int = 16000  # Hz the sound is resampled to
    n_mels: int = 64  # mel bands of the log-mel features
    n_fft: int = 512  # FFT size (the window is zero-padded to it)
    win_ms: float = 25.0  # analysis window, ms (400 samples at 16 kHz)
    hop_ms: float = 10.0  # hop between feature frames, ms
    log_eps: float = 1e-6  # log(mel + eps)
    audio_seconds: float = 20.0  # sound longer than this is cut at the end; shorter is kept whole
    audio_model: str | None = None  # folder of a local wav2vec2-style model -> "audio_emb"
    audio_layer: int = -1  # which hidden state of the audio model (0 = embeddings, -1 = last)
    image_model: str | None = None  # TorchScript file applied to each crop_size crop -> "video_emb"
    image_model_norm: Literal["imagenet", "unit"] = "imagenet"  # input scaling for the image model

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ConfigError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.image_size < 4 or self.crop_size < 4:
            raise ConfigError(f"image_size and crop_size must be >= 4, got {self.image_size}, {self.crop_size}")
        if self.face_detector not in ("haar", "none"):
            raise ConfigError(f"face_detector must be 'haar' or 'none', got {self.face_detector!r}")
        if self.flow not in ("dis", "farneback", "tvl1", "none"):
            raise ConfigError(f"flow must be one of dis, farneback, tvl1, none; got {self.flow!r}")
        if not self.fps >= 0:
            raise ConfigError(f"fps must be >= 0 (0: the default for frame-level clips), got {self.fps}")
        if self.audio_seconds <= 0:
            raise ConfigError(f"audio_seconds must be positive, got {self.audio_seconds}")

    @property
    def mel_spec(self) -> MelSpec:
        return MelSpec(
            sample_rate=self.sample_rate,
            n_fft=self.n_fft,
            win_length=round(self.win_ms * self.sample_rate / 1000),
            hop_length=round(self.hop_ms * self.sample_rate / 1000),
            n_mels=self.n_mels,
            eps=self.log_eps,
        )


@dataclass(frozen=True)
class ClipJob:
    """What a worker needs to prepare one clip (paths already resolved against the manifest root)."""

    clip_id: str
    video_path: str
    audio_path: str  # separate sound file, or the video itself
    annotation_path: str = ""  # per-frame annotation file (Aff-Wild2): a frame-level clip, see bench.data.frame_clips
    faces_path: str = ""  # folder of ready face crops (cropped_aligned/<track>), used instead of detection
    subject: str = ""  # "left" / "right": the track's half of a two-subject video


@dataclass
class ClipOutcome:
    """What a worker reports back: never the arrays (they are on disk already)."""

    clip_id: str
    failure: BadInput | None
    seconds: dict[str, float]


@dataclass
class PrepareSummary:
    """The account of one ``prepare`` call, returned (``store.summary``) and printed."""

    root: str
    total: int  # clips in the manifest
    ok: int  # clips in the store after this call (done earlier or now)
    computed: int  # clips prepared by this call
    skipped: int  # clips already done before this call (resumed)
    failed: int  # bad clips, recorded and skipped
    failures_by_stage: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # summed over clips and workers
    wall_seconds: float = 0.0
    workers: int = 1
    failed_clips: list[dict[str, str]] = field(default_factory=list)  # the first LISTED failures
    failures_file: str = ""  # every failure: the store's failures.json
    rebuilt: int = 0  # finished clips found damaged in the store and prepared again
    rebuilt_clips: list[dict[str, str]] = field(default_factory=list)  # the first LISTED: clip_id, reason
    verified: bool = False  # whether the store got the full check (``verify=True``) or the cheap one
    repairs: list[str] = field(default_factory=list)  # store files rewritten (damaged meta.json, manifest)

    @property
    def clips_per_second(self) -> float:
        return self.computed / self.wall_seconds if self.wall_seconds > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "clips_per_second": self.clips_per_second}


# ---------------------------------------------------------------------------------------------
# one clip
# ---------------------------------------------------------------------------------------------
class StageTimer:
    """Accumulates seconds per stage and remembers which stage was running when something broke."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.current = ""

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        self.current = stage
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


def compute_clip(job: ClipJob, config: PrepareConfig, timer: StageTimer | None = None) -> dict[str, np.ndarray]:
    """All arrays of one clip (no writing). Raises :class:`BadInputError` for a bad input."""
    import cv2

    from bench.data import audio, faces, flow, media

    timer = timer or StageTimer()
    if job.annotation_path:
        from bench.data.frame_clips import compute_frame_clip

        return compute_frame_clip(job, config, timer)
    with timer("decode"):
        frames, _fps = media.read_frames(job.video_path, config.num_frames)
    with timer("faces"):
        crops, _track = faces.crop_faces(
            frames,
            detector=config.face_detector,
            crop_size=config.crop_size,
            margin=config.face_margin,
            detect_width=config.detect_width,
            detect_every=config.detect_every,
            smooth_window=config.smooth_window,
            path=job.video_path,
        )
        size = config.image_size
        small = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
        arrays: dict[str, np.ndarray] = {"frames": np.ascontiguousarray(small.transpose(0, 3, 1, 2))}
    if config.flow != "none":
        with timer("flow"):
            arrays["flow"] = flow.clip_flow(crops, size, config.flow, config.dis_preset)
    with timer("audio"):
        wave = media.read_audio(job.audio_path, config.sample_rate, config.audio_seconds)
        arrays["audio"] = audio.log_mel(wave, config.mel_spec)
    if config.audio_model or config.image_model:
        from bench.data import extractors

        with timer("extract"):
            if config.audio_model:
                model = extractors.audio_extractor(config.audio_model, config.audio_layer, config.sample_rate)
                arrays["audio_emb"] = model(wave)
            if config.image_model:
                arrays["video_emb"] = extractors.image_extractor(config.image_model, config.image_model_norm)(crops)
    return arrays


def prepare_clip(job: ClipJob, config: PrepareConfig, store: FeatureStore) -> ClipOutcome:
    """Compute and write one clip; a bad input becomes a failure record, never an exception.

    Unexpected errors from the media libraries (OpenCV asserting on a degenerate frame, say)
    are recorded under the stage that raised them: they concern this clip's file, and the
    next clip deserves its chance. Setting errors (:class:`ConfigError`) still propagate.
    """
    timer = StageTimer()
    try:
        arrays = compute_clip(job, config, timer)
        with timer("write"):
            store.write_clip(job.clip_id, arrays, info=getattr(arrays, "info", None))
    except BadInputError as exc:
        record = exc.record
        return ClipOutcome(job.clip_id, BadInput(record.path, record.stage, record.reason, job.clip_id), timer.seconds)
    except (ConfigError, DiskFullError, PrepareInterrupted):  # about the run, not this clip
        raise
    except Exception as exc:  # noqa: BLE001 - recorded with its type, stage and file
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:  # the disk, not this clip: stop everything
            raise DiskFullError(getattr(exc, "filename", None) or store.clip_dir(job.clip_id)) from None
        reason = f"unexpected {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        return ClipOutcome(job.clip_id, BadInput(job.video_path, timer.current or "decode", reason, job.clip_id), timer.seconds)
    return ClipOutcome(job.clip_id, None, timer.seconds)


# ---------------------------------------------------------------------------------------------
# the worker side of the pool
# ---------------------------------------------------------------------------------------------
_WORKER_STORES: dict[str, FeatureStore] = {}


def _init_worker() -> None:
    """Each worker is one clip at a time on one core: no nested thread pools fighting for it."""
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _run_chunk(jobs: list[ClipJob], config: PrepareConfig, root: str, filterbank: np.ndarray) -> list[ClipOutcome]:
    from bench.data.audio import install_filterbank

    install_filterbank(config.mel_spec, filterbank)  # the parent's: no librosa import here
    if root not in _WORKER_STORES:
        _WORKER_STORES[root] = FeatureStore.open(root, allow_damaged=True)
    store = _WORKER_STORES[root]
    return [prepare_clip(job, config, store) for job in jobs]


_POOL: tuple[int, Any] | None = None


def _pool(workers: int):
    """A spawn-context process pool of ``workers`` processes, reused across ``prepare`` calls."""
    global _POOL
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    if _POOL is not None and _POOL[0] == workers and not getattr(_POOL[1], "_broken", False):
        return _POOL[1]
    shutdown_pool()
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker)
    _POOL = (workers, executor)
    return executor


def shutdown_pool(terminate: bool = False) -> None:
    """Stop the reusable worker pool (also done at interpreter exit).

    ``terminate=True`` kills the workers mid-clip (SIGTERM, then SIGKILL after 5 s) instead of
    letting them finish: what ``prepare`` does when it is itself stopped. Their unfinished clips
    have no done-marker, so they are simply prepared again next time.
    """
    global _POOL
    if _POOL is None:
        return
    executor = _POOL[1]
    _POOL = None
    if not terminate:
        executor.shutdown(wait=True, cancel_futures=True)
        return
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(1)


def _worker_pids() -> list[int]:
    executor = _POOL[1] if _POOL is not None else None
    return [p.pid for p in (getattr(executor, "_processes", None) or {}).values() if p.pid]


@contextlib.contextmanager
def _sigterm_stops_prepare(root: Path) -> Iterator[None]:
    """While ``prepare`` runs: SIGTERM kills the workers at once and raises :class:`PrepareInterrupted`.

    Only in the main thread (where Python delivers signals); the previous handler comes back
    afterwards. A second SIGTERM during the clean-up only repeats the kill.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def on_sigterm(signum, frame):
        nonlocal fired
        for pid in _worker_pids():  # now, not after the clean-up: they may be mid-clip for seconds
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        if not fired:
            fired = True
            raise PrepareInterrupted(root)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


atexit.register(shutdown_pool)


# ---------------------------------------------------------------------------------------------
# the whole manifest
# ---------------------------------------------------------------------------------------------
def store_key(manifest: Manifest, config: PrepareConfig) -> str:
    """The hash that names a store: corpus, the manifest's content and root, the settings."""
    content = manifest.frame.to_csv(index=False)
    return stable_hash(
        {
            "format": STORE_FORMAT,
            "corpus": manifest.corpus,
            "labels": list(manifest.labels),
            "targets": list(manifest.targets),
            "root": str(Path(manifest.root).resolve()),
            "manifest": stable_hash(content, length=64),
            "settings": _hashed_settings(config),
        }
    )


def _hashed_settings(config: PrepareConfig) -> dict[str, Any]:
    """The settings that name a store; ``fps`` only when set, so stores made before it existed keep their key."""
    settings = to_dict(config)
    if not settings.get("fps"):
        settings.pop("fps", None)
    return settings


def package_versions() -> dict[str, str]:
    """Versions of everything that shapes the arrays, for the store's meta.json."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for dist in ("numpy", "opencv-contrib-python-headless", "av", "decord2", "decord", "torch", "librosa", "transformers"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def clip_jobs(manifest: Manifest) -> list[ClipJob]:
    jobs = []
    for row in manifest.frame.itertuples(index=False):
        video = str(manifest.media_path(row.video_path)) if row.video_path else ""
        sound = str(manifest.media_path(row.audio_path)) if row.audio_path else video
        annotation = str(getattr(row, "annotation_path", "") or "")
        faces_path = str(getattr(row, "faces_path", "") or "")
        jobs.append(ClipJob(row.clip_id, video, sound,
                            str(manifest.media_path(annotation)) if annotation else "",
                            str(manifest.media_path(faces_path)) if faces_path else "",
                            str(getattr(row, "subject", "") or "")))
    return jobs


def _check_extractors(config: PrepareConfig) -> None:
    """Fail before decoding anything when an extractor path is wrong (a setting, not a clip)."""
    if config.audio_model:
        path = Path(config.audio_model).expanduser()
        if not path.exists():
            raise ConfigError(f"audio model {path}: no such folder")
        if not (path / "config.json").is_file():
            raise ConfigError(f"audio model {path}: not a saved transformers model (needs a folder with config.json)")
    if config.image_model:
        path = Path(config.image_model).expanduser()
        if not path.is_file():
            raise ConfigError(f"image model {path}: no such file")


def prepare(
    manifest: Manifest,
    config: PrepareConfig | None = None,
    *,
    workers: int = 1,
    strict: bool = False,
    root: str | Path | None = None,
    progress: bool = True,
    verify: bool = False,
) -> FeatureStore:
    """Prepare every clip of ``manifest`` into a feature store and return it (``.summary`` attached).

    ``workers``: processes (0: one per idle core, at most 4); the arrays do not depend on it.
    ``root`` defaults to ``bench_home()/stores/<key>``. Clips already done there are skipped,
    once they pass the cheap check (``verify=True``: the full check); damaged ones are redone.
    """
    from bench.data.audio import mel_filterbank
    from bench.paths import stores_dir

    config = config or PrepareConfig()
    if workers < 0:
        raise ConfigError(f"workers must be >= 1, or 0 for one per idle core; got {workers}")
    _check_extractors(config)
    key = store_key(manifest, config)
    root = Path(root) if root is not None else stores_dir() / key
    meta = {
        "key": key,
        "format": STORE_FORMAT,
        "corpus": manifest.corpus,
        "labels": list(manifest.labels),
        "targets": list(manifest.targets),
        "settings": to_dict(config),
        "versions": package_versions(),
    }
    if "annotation_path" in manifest.frame.columns:  # frame-level clips: the steps' rate (bench.data.frame_clips)
        from bench.data.frame_clips import DEFAULT_FPS

        meta["fps"] = float(config.fps or DEFAULT_FPS)
    store = FeatureStore.create(root, meta, manifest)
    rebuilt = check_store(store, full=verify)
    jobs = [job for job in clip_jobs(manifest) if not store.is_done(job.clip_id)]
    skipped = len(manifest) - len(jobs)
    filterbank = mel_filterbank(config.mel_spec)

    seconds = dict.fromkeys(STAGES, 0.0)
    failures: list[BadInput] = []
    start = time.perf_counter()
    if jobs and not workers:  # automatic, decided only when there is work (sampling the load takes 0.5 s)
        from bench.cores import MIN_CLIPS_PER_WORKER, data_workers

        workers = data_workers(0, len(jobs), MIN_CLIPS_PER_WORKER)
    if not jobs:
        outcomes: Iterator[ClipOutcome] = iter(())
    elif workers == 1 or len(jobs) == 1:  # one clip is not worth a pool's start-up
        outcomes = _run_inline(jobs, config, store)
    else:
        outcomes = _run_pool(jobs, config, store, workers, filterbank)
    with _sigterm_stops_prepare(store.root), _progress_bar(progress, len(jobs), manifest.corpus, workers) as advance:
        stopped: BaseException | None = None
        try:
            for outcome in outcomes:
                for stage, value in outcome.seconds.items():
                    seconds[stage] += value
                if outcome.failure is not None:
                    store.record_failure(outcome.failure)
                    failures.append(outcome.failure)
                    if strict:
                        f = outcome.failure
                        raise BadInputError(f.path, f.stage, f.reason, f.clip_id)
                advance()
        except BaseException as exc:
            stopped = exc
            if not isinstance(exc, BadInputError):  # SIGTERM, Ctrl-C, full disk, a bug: workers go too
                shutdown_pool(terminate=True)
            raise
        finally:
            wall = time.perf_counter() - start
            _close(outcomes)
            try:
                summary = _summarise(store, manifest, len(jobs), skipped, seconds, wall, workers)
                summary.rebuilt, summary.verified, summary.repairs = len(rebuilt), verify, list(store.repairs)
                summary.rebuilt_clips = [{"clip_id": c, "reason": r} for c, r in list(rebuilt.items())[:LISTED]]
                store.finalize({"prepare_summary": summary.to_dict()})
                store.summary = summary  # type: ignore[attr-defined]
            except (BenchError, OSError):
                if stopped is None:
                    raise
                # already stopping (a full disk, most likely): the first error is the one to report;
                # the next run rebuilds index and meta from the done-markers
    if progress:
        from rich.console import Console

        err = Console(stderr=True)
        for line in [summary_line(summary), *summary_details(summary)]:
            err.print(line, highlight=False, markup=False, soft_wrap=True)
    return store


def check_store(store: FeatureStore, full: bool = False) -> dict[str, str]:
    """Check every finished clip (cheaply, or ``full``y) and discard the damaged ones: clip id -> reason."""
    damaged = dict(store.damaged)
    for clip_id in store.clip_ids:
        problem = store.check_clip(clip_id, full=full)
        if problem is not None:
            damaged[clip_id] = problem
    order = {c: i for i, c in enumerate(store.full_manifest.frame["clip_id"])}
    damaged = dict(sorted(damaged.items(), key=lambda item: order.get(item[0], len(order))))
    for clip_id in damaged:
        store.discard(clip_id)
    return damaged


def _summarise(store, manifest, computed_jobs, skipped, seconds, wall, workers) -> PrepareSummary:
    store.refresh()
    by_stage: dict[str, int] = {}
    for failure in store.failures:
        by_stage[failure.stage] = by_stage.get(failure.stage, 0) + 1
    failed_now = sum(by_stage.values())
    return PrepareSummary(
        root=str(store.root),
        total=len(manifest),
        ok=len(store.clip_ids),
        computed=len(store.clip_ids) - skipped,
        skipped=skipped,
        failed=failed_now,
        failures_by_stage=by_stage,
        stage_seconds={k: round(v, 4) for k, v in seconds.items()},
        wall_seconds=round(wall, 4),
        workers=workers,
        failed_clips=[f.to_dict() for f in store.failures[:LISTED]],
        failures_file=str(store.failures_file),
    )


def _run_inline(jobs: list[ClipJob], config: PrepareConfig, store: FeatureStore) -> Iterator[ClipOutcome]:
    """``workers=1``: this process, with OpenCV and torch held to one thread as in a worker."""
    import cv2
    import torch

    cv2_threads, torch_threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    try:
        for job in jobs:
            yield prepare_clip(job, config, store)
    finally:
        cv2.setNumThreads(cv2_threads)
        torch.set_num_threads(torch_threads)


def _run_pool(jobs, config, store, workers, filterbank) -> Iterator[ClipOutcome]:
    """Chunks of a few clips over the pool, yielded as they finish.

    A worker that dies (a decoder segfault on a corrupt file) breaks the pool and fails every
    chunk in flight. Those clips are then retried one at a time in a fresh pool, so that the
    culprit is known exactly: it is recorded as bad at stage "worker" and the others finish.
    Everything finished before stays on disk.
    """
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    chunk = max(1, min(4, len(jobs) // (workers * 8)))
    root = str(store.root)
    retry: list[ClipJob] = []
    executor = _pool(workers)
    parts = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    pending = {executor.submit(_run_chunk, part, config, root, filterbank): part for part in parts}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                part = pending.pop(future)
                try:
                    outcomes = future.result()
                except BrokenProcessPool:
                    retry.extend(part)
                    continue
                yield from outcomes
    finally:
        for future in pending:
            future.cancel()
    deaths = 0
    for job in retry:  # the slow, exact path after a crash
        if store.is_done(job.clip_id):  # finished before its chunk's result was lost
            yield ClipOutcome(job.clip_id, None, {})
            continue
        try:
            yield from _pool(workers).submit(_run_chunk, [job], config, root, filterbank).result()
            deaths = 0
        except BrokenProcessPool:
            shutdown_pool()
            deaths += 1
            if deaths >= 3:
                raise BenchError(
                    "prepare: worker processes die on every clip; they cannot start (a script that calls "
                    "prepare(workers>1) must guard its entry point with `if __name__ == '__main__':`)"
                ) from None
            reason = "the worker process died while preparing this clip (crashed decoder?)"
            yield ClipOutcome(job.clip_id, BadInput(job.video_path, "worker", reason, job.clip_id), {})


def _close(outcomes) -> None:
    close = getattr(outcomes, "close", None)
    if close is not None:
        close()


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int, corpus: str, workers: int):
    if not enabled or total == 0:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (
        TextColumn("[bold]prepare[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(f"{corpus} ({workers} worker{'s' if workers > 1 else ''})", total=total)
        yield lambda: bar.advance(task)


def summary_line(summary: PrepareSummary) -> str:
    """One line: counts, failures by stage, per-stage seconds."""
    failed = ", ".join(f"{k} {v}" for k, v in sorted(summary.failures_by_stage.items()))
    stages = " ".join(f"{k} {v:.1f}s" for k, v in summary.stage_seconds.items() if v > 0)
    rebuilt = f" ({summary.rebuilt} damaged in the store, redone)" if summary.rebuilt else ""
    return (
        f"prepared {summary.computed} clips{rebuilt}, {summary.skipped} already done, {summary.failed} failed"
        f"{f' ({failed})' if failed else ''} in {summary.wall_seconds:.1f}s [{stages}] -> {summary.root}"
    )


def summary_details(summary: PrepareSummary) -> list[str]:
    """What a user must look at: store files rewritten, clips rebuilt, and the failed clips by name.

    At most :data:`LISTED` clips of each kind are named ("... and N more" after them); every
    failure is in the failures file, whose path ends the list.
    """
    lines = [f"repaired store file {repair}" for repair in summary.repairs]
    if summary.rebuilt:
        check = "the full check (--verify)" if summary.verified else "the resume check"
        lines.append(f"rebuilt {summary.rebuilt} damaged clip{'s' if summary.rebuilt != 1 else ''} found by {check}:")
        lines += [f"  {r['clip_id']}: {r['reason']}" for r in summary.rebuilt_clips]
        if summary.rebuilt > len(summary.rebuilt_clips):
            lines.append(f"  ... and {summary.rebuilt - len(summary.rebuilt_clips)} more")
    if summary.failed:
        lines.append(f"failed clips ({summary.failed}):")
        lines += [f"  {f['clip_id'] or f['path']} [{f['stage']}] {f['reason']} ({f['path']})" for f in summary.failed_clips]
        if summary.failed > len(summary.failed_clips):
            lines.append(f"  ... and {summary.failed - len(summary.failed_clips)} more")
        lines.append(f"all failures: {summary.failures_file}")
    return lines


def summary_table(summary: PrepareSummary):
    """A rich table of a prepare summary: clips ok / failed by stage, per-stage seconds."""
    from rich.table import Table

    table = Table(title="prepare summary", show_header=True)
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("clips in manifest", str(summary.total))
    table.add_row("clips ok", str(summary.ok))
    table.add_row("  prepared now", str(summary.computed))
    table.add_row("  already done (resumed)", str(summary.skipped))
    if summary.rebuilt:
        table.add_row("  rebuilt (damaged in the store)", str(summary.rebuilt))
    table.add_row("clips failed", str(summary.failed))
    for stage, count in sorted(summary.failures_by_stage.items()):
        table.add_row(f"  failed at {stage}", str(count))
    for stage in STAGES:
        table.add_row(f"seconds {stage}", f"{summary.stage_seconds.get(stage, 0.0):.2f}")
    table.add_row("wall seconds", f"{summary.wall_seconds:.2f}")
    table.add_row("clips / second", f"{summary.clips_per_second:.2f}")
    return table
