"""Preparing a clip with per-frame annotations (Aff-Wild2): steps at a fixed rate, targets per step.

A clip-level clip is ``num_frames`` frames spread over the clip; a frame-level clip is long
(minutes in Aff-Wild2) and its targets change every frame, so it is sampled at a fixed rate
instead: ``fps`` video steps per second (``PrepareConfig.fps``; :data:`DEFAULT_FPS` when 0),
over the whole video, with the whole sound (``audio_seconds`` does not apply).

Step ``i`` stands for the time ``(i + 0.5) / fps`` (its centre) and shows the source frame whose
interval contains that time, ``j = floor((i + 0.5) * src_fps / fps)``: the nearest frame in time.
Its target is that frame's annotation, ``frame_target[i] = annotation[j]``, and ``frame_valid[i]``
is False when that frame is unannotated (-5), so masking never borrows a neighbour's value.

Arrays written per clip (besides ``frames``, ``flow``, ``audio`` as for every clip):

``frame_target`` (T_v, 2) float32, ``frame_valid`` (T_v,) bool
    the annotation at the video steps (columns valence, arousal; 0 where not valid).
``ann_target`` (T_ann, 2) float32, ``ann_valid`` (T_ann,) bool
    the annotation at the source frame rate, fitted to the video's frame count
    (:func:`bench.data.annotations.fit_to_frames`): what scoring compares with.

and in the clip's store record (``store.clip_info(clip_id)``): ``fps`` (the step rate), ``ann_fps``
(the source video's frame rate, the annotation's rate), ``video_frames`` (T_ann) and ``steps`` (T_v).

Faces: when the manifest row names a ``faces_path`` (ABAW's ``cropped_aligned/<track>/``, files
``00001.jpg`` = frame 1), step ``i`` uses the crop of its frame ``j``; frames without a crop file
(ABAW leaves out frames where its detector found no face) take the nearest frame that has one.
Without crops, the face detector runs on the sampled frames; for a ``_left``/``_right`` track only
on that half of the frame (the two subjects sit side by side).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bench.errors import BadInputError

DEFAULT_FPS = 5.0  # video steps per second when PrepareConfig.fps is 0
FRAME_ARRAYS = ("frame_target", "frame_valid", "ann_target", "ann_valid")


class ClipArrays(dict):
    """A clip's arrays, plus ``info``: scalars for the clip's store record (not arrays)."""

    def __init__(self, arrays=(), info=None):
        super().__init__(arrays)
        self.info = dict(info or {})


def video_info(path: str | Path) -> tuple[int, float]:
    """(frame count, frame rate) of a video, without decoding frames."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "decode", "file does not exist")
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    except Exception as exc:  # decord's C++ errors
        raise BadInputError(path, "decode", f"cannot open video: {str(exc).strip().splitlines()[0][:300]}") from None
    count, fps = len(reader), float(reader.get_avg_fps())
    del reader
    if count == 0:
        raise BadInputError(path, "decode", "video stream has zero frames")
    if not math.isfinite(fps) or fps <= 0:
        raise BadInputError(path, "decode", f"video reports a frame rate of {fps}")
    return count, fps


def step_sources(num_frames: int, src_fps: float, fps: float) -> np.ndarray:
    """Source frame index of every step: ``floor((i + 0.5) * src_fps / fps)``, ``T_v = floor(N * fps / src_fps)`` (>= 1)."""
    steps = max(1, int(math.floor(num_frames * fps / src_fps + 1e-9)))
    return np.clip(np.floor((np.arange(steps) + 0.5) * src_fps / fps).astype(np.int64), 0, num_frames - 1)


def read_frames_at(path: str | Path, indices: np.ndarray) -> np.ndarray:
    """The RGB frames at ``indices``: (T, H, W, 3) uint8."""
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        frames = reader.get_batch(np.asarray(indices).tolist()).asnumpy()
    except Exception as exc:
        raise BadInputError(path, "decode", f"cannot decode frames: {str(exc).strip().splitlines()[0][:300]}") from None
    return np.ascontiguousarray(frames, dtype=np.uint8)


def load_face_crops(folder: str | Path, indices: np.ndarray, crop_size: int) -> np.ndarray:
    """Crops ``<folder>/<j+1:05d>.jpg`` for every source frame ``j`` (nearest existing file for missing ones)."""
    import cv2

    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(folder, "faces", "cropped-aligned face folder does not exist")
    available = sorted(int(p.stem) - 1 for p in folder.glob("*.jpg") if p.stem.isdigit())
    if not available:
        raise BadInputError(folder, "faces", "no cropped face frames (expected 00001.jpg, 00002.jpg, ...)")
    have = np.asarray(available)
    crops = []
    cache: dict[int, np.ndarray] = {}
    for j in np.asarray(indices):
        pos = int(np.clip(np.searchsorted(have, j), 0, len(have) - 1))
        if pos > 0 and abs(have[pos - 1] - j) <= abs(have[pos] - j):
            pos -= 1
        frame = int(have[pos])
        if frame not in cache:
            path = folder / f"{frame + 1:05d}.jpg"
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise BadInputError(path, "faces", "cannot read the face image")
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            if image.shape[:2] != (crop_size, crop_size):
                image = cv2.resize(image, (crop_size, crop_size), interpolation=cv2.INTER_AREA)
            cache[frame] = image
        crops.append(cache[frame])
    return np.stack(crops)


def compute_frame_clip(job, config, timer) -> ClipArrays:
    """All arrays of one frame-level clip (see the module docstring); raises :class:`BadInputError`."""
    import cv2

    from bench.data import audio, faces, flow, media
    from bench.data.annotations import AnnotationError, fit_to_frames, read_va_annotation

    fps = float(config.fps or DEFAULT_FPS)
    with timer("decode"):
        count, src_fps = video_info(job.video_path)
        sources = step_sources(count, src_fps, fps)
        try:
            annotation = fit_to_frames(read_va_annotation(job.annotation_path), count, job.video_path)
        except AnnotationError as exc:
            raise BadInputError(job.annotation_path, "annotation", f"{exc.reason}" + (f" (line {exc.line})" if exc.line else "")) from None
        frames = None if job.faces_path else read_frames_at(job.video_path, sources)
    with timer("faces"):
        if job.faces_path:
            crops = load_face_crops(job.faces_path, sources, config.crop_size)
        else:
            if job.subject in ("left", "right"):
                half = frames.shape[2] // 2
                frames = np.ascontiguousarray(frames[:, :, :half] if job.subject == "left" else frames[:, :, half:])
            crops, _ = faces.crop_faces(frames, detector=config.face_detector, crop_size=config.crop_size,
                                        margin=config.face_margin, detect_width=config.detect_width,
                                        detect_every=config.detect_every, smooth_window=config.smooth_window,
                                        path=job.video_path)
        size = config.image_size
        small = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
        arrays = ClipArrays({"frames": np.ascontiguousarray(small.transpose(0, 3, 1, 2))})
    if config.flow != "none":
        with timer("flow"):
            arrays["flow"] = flow.clip_flow(crops, size, config.flow, config.dis_preset)
    with timer("audio"):
        wave = media.read_audio(job.audio_path, config.sample_rate, None)  # the whole sound: the clip is long
        arrays["audio"] = audio.log_mel(wave, config.mel_spec)
    if config.audio_model or config.image_model:
        from bench.data import extractors

        with timer("extract"):
            if config.audio_model:
                arrays["audio_emb"] = extractors.audio_extractor(config.audio_model, config.audio_layer, config.sample_rate)(wave)
            if config.image_model:
                arrays["video_emb"] = extractors.image_extractor(config.image_model, config.image_model_norm)(crops)
    values = np.where(annotation.valid[:, None], annotation.values, 0.0).astype(np.float32)
    arrays["frame_target"] = np.ascontiguousarray(values[sources])
    arrays["frame_valid"] = np.ascontiguousarray(annotation.valid[sources])
    arrays["ann_target"] = values
    arrays["ann_valid"] = annotation.valid.copy()
    arrays.info = {"fps": fps, "ann_fps": src_fps, "video_frames": int(count), "steps": int(len(sources))}
    return arrays


__all__ = ["ClipArrays", "DEFAULT_FPS", "FRAME_ARRAYS", "compute_frame_clip", "load_face_crops", "step_sources", "video_info"]
