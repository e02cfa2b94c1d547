"""Fixed-length windows of long frame-level clips (Aff-Wild2), and their predictions stitched back.

A frame-level clip is minutes long, so training and evaluation see WINDOWS of it: ``window_steps``
consecutive video steps, the next window starting ``window_hop`` steps later. Windows start at
0, hop, 2 hop, ... until one reaches the clip's end; that last window (or the only one, for a
clip shorter than a window) is padded past the end, its padded steps masked. So every step of
every clip is inside at least one window (``window_hop <= window_steps`` is required), which is
what :func:`stitch_windows` needs to rebuild one prediction per step.

RJA's official code (praveena2j/RecurrentJointAttentionwithLSTMs, from its predecessor's
``datasets/dataset_new.py`` and ``config_file.json``): a window ("sequence") of 512 frames cut
into 16 sub-sequences of 32 frames (8 frames each after dilation 4), one target per
sub-sequence (its last frame's), windows sliding by 1 frame. At Aff-Wild2's 30 fps one
sub-sequence is ~1.07 s, so RJA's window is ``window_steps = 16`` steps at ~0.94 steps/s. Our
defaults (16 steps, hop 8) keep the 16 steps; the synthetic corpus is prepared at 5 steps/s, so a
window there is 3.2 s.

A batch (the interface of the frame task; ``arrays`` maps batch keys to store arrays as for
:class:`bench.data.dataset.ClipDataset`)::

    video        (B, T, 3, S, S) uint8 (or (B, T, D) features)   video_mask (B, T)
    flow         (B, T-1, 2, S, S) float16                      flow_mask  (B, T-1)
    audio        (B, T_a, F): the audio frames covering the window's time span   audio_mask (B, T_a)
    frame_target (B, T, K) float32   frame_mask (B, T) bool: False on padding AND unannotated steps
    clip_id      list[str]           window_start (B,) long: the window's first step in its clip

Audio is sliced by time: window ``[s, s+T)`` covers ``[s / fps, (s+T) / fps)`` seconds, i.e. a
fixed ``round(T / fps * rate)`` audio frames from ``round(s / fps * rate)`` (padded and masked
past the end). ``rate`` is ``1000 / hop_ms`` for the log-mel array (the store's settings), and
``T_a / duration`` for embedding arrays (``duration`` = the video's frame count over its frame
rate, from the clip's store record).

:func:`score_frame_predictions` finishes the path: stitched per-step predictions are brought to
the annotation frame rate (:func:`bench.eval.metrics.resample_to_annotation`) and scored with
ABAW's CCC (:func:`bench.eval.metrics.frame_metrics`).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch

from bench.errors import ConfigError

DEFAULT_WINDOW_STEPS = 16
DEFAULT_WINDOW_HOP = 8


def window_starts(length: int, window_steps: int, hop: int) -> list[int]:
    """First steps of the windows of a clip of ``length`` steps (see the module docstring)."""
    if window_steps < 1 or hop < 1:
        raise ConfigError(f"window_steps and window_hop must be >= 1, got {window_steps} and {hop}")
    if hop > window_steps:
        raise ConfigError(f"window_hop {hop} > window_steps {window_steps} would leave steps in no window")
    starts = [0]
    while starts[-1] + window_steps < length:
        starts.append(starts[-1] + hop)
    return starts


class FrameWindowDataset(torch.utils.data.Dataset):
    """The windows of some frame-level clips of a feature store; indexed by lists of window positions.

    Like :class:`~bench.data.dataset.ClipDataset` it returns a whole collated batch for a list of
    positions (a single int gives a batch of one), so :func:`bench.data.dataset.make_loader`
    works unchanged. ``clip_ids[i]`` and ``starts[i]`` describe window ``i``; ``clips`` lists the
    clips and ``lengths`` their step counts (what :func:`stitch_windows` needs).
    """

    def __init__(
        self,
        store,
        clip_ids: Sequence[str],
        arrays: Mapping[str, str],
        *,
        window_steps: int = DEFAULT_WINDOW_STEPS,
        window_hop: int = DEFAULT_WINDOW_HOP,
        preload: bool = False,
    ):
        self.store = store
        self.clips = [str(c) for c in clip_ids]
        self.arrays = dict(arrays)
        self.window_steps, self.window_hop = int(window_steps), int(window_hop)
        known = set(store.manifest.frame["clip_id"])
        missing = [c for c in self.clips if c not in known]
        if missing:
            raise ConfigError(f"feature store {store.root}: clips not in its manifest: {missing[:5]}")
        self._cache: dict[str, dict[str, np.ndarray]] = {}
        self.lengths: dict[str, int] = {}
        self.fps: dict[str, float] = {}
        self.audio_rate: dict[str, dict[str, float]] = {}
        self.clip_ids: list[str] = []
        self.starts: list[int] = []
        for clip in self.clips:
            loaded = self._load(clip)
            if "frame_target" not in loaded or "frame_valid" not in loaded:
                raise ConfigError(f"feature store {store.root}: clip {clip!r} has no per-frame targets (frame_target, "
                                  "frame_valid): windows need a frame-level corpus such as affwild2")
            length = int(loaded["frame_valid"].shape[0])
            info = store.clip_info(clip) if hasattr(store, "clip_info") else {}
            fps = float(info.get("fps") or store.meta.get("fps") or 0.0)
            if fps <= 0:
                raise ConfigError(f"feature store {store.root}: clip {clip!r} records no step rate (fps)")
            duration = (info["video_frames"] / info["ann_fps"]) if info.get("video_frames") and info.get("ann_fps") else length / fps
            self.lengths[clip], self.fps[clip] = length, fps
            self.audio_rate[clip] = {key: self._audio_rate(name, loaded[name].shape[0], duration)
                                     for key, name in self.arrays.items() if key == "audio" and name in loaded}
            for start in window_starts(length, self.window_steps, self.window_hop):
                self.clip_ids.append(clip)
                self.starts.append(start)
        if preload:
            self._cache = {c: {k: np.array(v) for k, v in self._cache[c].items()} for c in self.clips}

    def __len__(self) -> int:
        return len(self.starts)

    def _audio_rate(self, name: str, frames: int, duration: float) -> float:
        """Audio frames per second: the log-mel hop when the store says (exact: the encoder's
        padding at the start of the sound then shifts nothing), else frames over duration."""
        hop_ms = (getattr(self.store, "meta", {}).get("settings") or {}).get("hop_ms")
        if name == "audio" and hop_ms:
            return 1000.0 / float(hop_ms)
        return frames / duration

    def _load(self, clip: str) -> dict[str, np.ndarray]:
        if clip not in self._cache:
            self._cache[clip] = self.store.load(clip)  # memory-mapped: a window reads only its pages
        return self._cache[clip]

    def _array(self, clip: str, key: str) -> np.ndarray:
        name = self.arrays[key]
        loaded = self._load(clip)
        if name not in loaded:
            raise ConfigError(f"feature store {self.store.root}: clip {clip!r} has no array {name!r} (it has "
                              f"{sorted(loaded)}); prepare the store with that input or change the model config")
        return loaded[name]

    def _slice(self, clip: str, key: str, start: int) -> tuple[np.ndarray, int]:
        """The window's part of one array and the length it must be padded to."""
        array = self._array(clip, key)
        T = self.window_steps
        if key == "flow":
            return array[start : start + T - 1], T - 1
        if key == "audio":
            rate, fps = self.audio_rate[clip]["audio"], self.fps[clip]
            first = int(round(start / fps * rate))
            size = max(1, int(round(T / fps * rate)))
            return array[first : first + size], size
        return array[start : start + T], T

    def __getitem__(self, indices) -> dict[str, Any]:
        if isinstance(indices, (int, np.integer)):
            indices = [int(indices)]
        indices = list(indices)
        batch: dict[str, Any] = {}
        for key in self.arrays:
            parts = [self._slice(self.clip_ids[i], key, self.starts[i]) for i in indices]
            batch[key], batch[f"{key}_mask"] = _pad([p for p, _ in parts], max(size for _, size in parts))
        targets, masks = [], []
        for i in indices:
            clip, start = self.clip_ids[i], self.starts[i]
            loaded = self._load(clip)
            targets.append(loaded["frame_target"][start : start + self.window_steps])
            masks.append(loaded["frame_valid"][start : start + self.window_steps])
        batch["frame_target"], in_clip = _pad(targets, self.window_steps)
        valid, _ = _pad(masks, self.window_steps)
        batch["frame_target"] = batch["frame_target"].float()
        batch["frame_mask"] = valid.bool() & in_clip
        batch["clip_id"] = [self.clip_ids[i] for i in indices]
        batch["window_start"] = torch.tensor([self.starts[i] for i in indices], dtype=torch.long)
        return batch


def _pad(values: list[np.ndarray], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (t_i, ...) arrays into (B, length, ...) zero-padded, with the mask of real steps."""
    rest = values[0].shape[1:]
    out = np.zeros((len(values), length, *rest), dtype=values[0].dtype)
    lengths = []
    for i, value in enumerate(values):
        n = min(len(value), length)
        out[i, :n] = value[:n]
        lengths.append(n)
    mask = np.arange(length)[None, :] < np.asarray(lengths)[:, None]
    return torch.from_numpy(out), torch.from_numpy(mask)


def stitch_windows(predictions, clip_ids: Sequence[str], window_starts: Sequence[int],
                   lengths: Mapping[str, int]) -> dict[str, np.ndarray]:
    """One (T_v, K) prediction per clip from per-window (N, T, K) predictions: overlaps averaged.

    Window ``n`` of clip ``clip_ids[n]`` starting at step ``window_starts[n]`` covers steps
    ``start .. start + T - 1``; positions past the clip's end (padding) are ignored. A step that
    no window covers is an error (its prediction would be invented), as is a clip with no window.
    """
    if isinstance(predictions, torch.Tensor):
        predictions = predictions.detach().float().cpu().numpy()
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.ndim == 2:
        predictions = predictions[..., None]
    if len(predictions) != len(clip_ids) or len(clip_ids) != len(window_starts):
        raise ValueError(f"{len(predictions)} window predictions, {len(clip_ids)} clip ids, {len(window_starts)} starts")
    K = predictions.shape[2]
    sums = {c: np.zeros((int(n), K)) for c, n in lengths.items()}
    counts = {c: np.zeros(int(n)) for c, n in lengths.items()}
    for prediction, clip, start in zip(predictions, clip_ids, window_starts):
        if clip not in sums:
            raise ValueError(f"window of clip {clip!r}, whose length is not given")
        start = int(start)
        stop = min(start + len(prediction), len(counts[clip]))
        if stop <= start:
            continue
        sums[clip][start:stop] += prediction[: stop - start]
        counts[clip][start:stop] += 1
    out = {}
    for clip in lengths:
        uncovered = np.flatnonzero(counts[clip] == 0)
        if len(uncovered):
            raise ValueError(f"clip {clip!r}: steps {uncovered[:5].tolist()}{'...' if len(uncovered) > 5 else ''} "
                             f"of {len(counts[clip])} are in no window")
        out[clip] = sums[clip] / counts[clip][:, None]
    return out


def score_frame_predictions(store, stitched: Mapping[str, np.ndarray], method: str = "linear",
                            names: Sequence[str] = ("valence", "arousal")) -> dict[str, float]:
    """ABAW's scores of stitched per-step predictions: resampled to the annotation frames, then CCC.

    Every clip's (T_v, K) prediction is brought to its annotation frames' times
    ((j + 0.5) / ann_fps) from its steps' times ((i + 0.5) / fps) and compared with its
    ``ann_target`` where ``ann_valid``: :func:`bench.eval.metrics.frame_metrics` (concatenated and
    per-video CCC).
    """
    from bench.eval.metrics import frame_metrics, resample_to_annotation, step_times

    predictions, targets, masks = [], [], []
    for clip, steps in stitched.items():
        info = store.clip_info(clip)
        loaded = store.load(clip)
        fps = float(info.get("fps") or store.meta.get("fps"))
        ann_fps = float(info["ann_fps"])
        n_ann = int(loaded["ann_valid"].shape[0])
        ann_times = (np.arange(n_ann) + 0.5) / ann_fps
        predictions.append(resample_to_annotation(np.asarray(steps), step_times(len(steps), fps), ann_times, method))
        targets.append(np.asarray(loaded["ann_target"], dtype=np.float64))
        masks.append(np.asarray(loaded["ann_valid"], dtype=bool))
    return frame_metrics(predictions, targets, masks, names)


__all__ = ["DEFAULT_WINDOW_HOP", "DEFAULT_WINDOW_STEPS", "FrameWindowDataset", "score_frame_predictions",
           "stitch_windows", "window_starts"]
