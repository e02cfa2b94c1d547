"""Face cropping: one square, temporally smooth face box per sampled frame.

Detection uses OpenCV's Haar cascade (``haarcascade_frontalface_default.xml``), loaded once
per process, on a grey, histogram-equalised copy of each frame downscaled to ``detect_width``
pixels: the cascade's cost grows with the pixel count and a face fills a good part of an
emotion-corpus frame, so a 160-px image finds it as well as the full one does at a fraction of
the cost. Per frame the largest detection wins (the speaker is the closest face).

``detect_every`` (default 1 in the functions here; prepare's default is 4) runs the cascade on
a subset of the sampled frames only (with T=16 over a 2-4 s clip: about every 0.5-1 s, plus the last frame):
in these corpora the speaker sits nearly still, the boxes are smoothed over several frames
anyway, and the frames in between get interpolated boxes. After the first detection, each
probe searches only near the previous box (see :func:`detect_largest`), ~4x cheaper.

Boxes then go through three steps, each for a reason:

1. Fallback: a frame without a detection takes the box of the nearest frame that has one, or
   the interpolation of the two detected boxes around it (blinks, motion blur and turned heads
   lose single frames). No detection in any frame is a
   :class:`~bench.errors.BadInputError` at stage ``"faces"``: cropping an arbitrary region
   would feed the model background and call it a face.
2. Smoothing: a running median over ``smooth_window`` frames of the box centre and side, so
   the crop does not jitter (jitter would show up as spurious optical flow).
3. Squaring with margin: the side is ``max(w, h) * (1 + margin)`` around the box centre;
   regions outside the frame are filled by replicating the border.

The crop is resized to ``crop_size`` (the full-resolution face, on which flow is computed);
``face_detector="none"`` skips detection for pre-cropped corpora and resizes the whole frame.
"""

from __future__ import annotations

import numpy as np

from bench.errors import BadInputError

CASCADE_FILE = "haarcascade_frontalface_default.xml"
_CASCADE = None  # one cv2.CascadeClassifier per process: loading the XML costs ~20 ms


def cascade():
    """This process's Haar cascade, loaded on first use."""
    global _CASCADE
    if _CASCADE is None:
        import cv2

        path = cv2.data.haarcascades + CASCADE_FILE
        classifier = cv2.CascadeClassifier(path)
        if classifier.empty():
            raise RuntimeError(f"{path}: OpenCV could not load the Haar cascade")
        _CASCADE = classifier
    return _CASCADE


def detect_largest(
    frame: np.ndarray,
    detect_width: int = 128,
    min_face_fraction: float = 0.2,
    prior: np.ndarray | None = None,
) -> np.ndarray | None:
    """The largest face in one RGB frame as ``[x, y, w, h]`` (float, full-resolution pixels), or None.

    With ``prior`` (the face box of a nearby frame) the cascade first searches only a window
    around it and only scales within ~30% of its size: a handful of pyramid levels on a small
    patch instead of the whole pyramid on the whole frame. A miss there falls back to the
    full search, so tracking can lose the face but never invent one.
    """
    if prior is not None:
        found = _search_near(frame, np.asarray(prior, dtype=np.float64))
        if found is not None:
            return found
    # The speaker's face is large in every emotion corpus: starting the scale pyramid at a fifth
    # of the frame and stepping 20% per scale skips most of the cascade's work (the local
    # searches that follow step 10%, so the track's size is refined from the next probe on).
    return _largest_face(frame, detect_width, min_face_fraction, min_px=12, equalize=True, scale_factor=1.2,
                         min_neighbors=3)


def detect_thorough(frame: np.ndarray, detect_width: int = 256, min_face_fraction: float = 0.15) -> np.ndarray | None:
    """The largest face with the cascade's careful settings (slow; used only as a fallback)."""
    return _largest_face(frame, detect_width, min_face_fraction, min_px=20, equalize=False, scale_factor=1.05,
                         min_neighbors=4)


def _largest_face(frame: np.ndarray, detect_width: int, min_face_fraction: float, *, min_px: int, equalize: bool,
                  scale_factor: float, min_neighbors: int) -> np.ndarray | None:
    """The cascade's largest face on a grey copy at most ``detect_width`` wide, in frame pixels."""
    import cv2

    height, width = frame.shape[:2]
    scale = min(1.0, detect_width / width)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    if equalize:
        grey = cv2.equalizeHist(grey)
    min_side = max(min_px, int(min_face_fraction * min(grey.shape)))
    found = cascade().detectMultiScale(grey, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                       minSize=(min_side, min_side))
    if len(found) == 0:
        return None
    best = max(found, key=lambda box: box[2] * box[3])
    return np.asarray(best, dtype=np.float64) / scale


PRIOR_FACE_PX = 30  # face side (px) the local search rescales to: 1.25x the cascade's 24-px window
PRIOR_MARGIN = 0.35  # the local window extends this fraction of the face side on each side
PRIOR_SCALE = 1.3  # and accepts faces within this factor of the prior's size


def _search_near(frame: np.ndarray, prior: np.ndarray) -> np.ndarray | None:
    """Search a window around the prior box, rescaled so the face is ~30 px, at nearby scales only."""
    import cv2

    height, width = frame.shape[:2]
    x, y, w, h = prior.tolist()
    side = max(w, h)
    pad = PRIOR_MARGIN * side
    x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
    x1, y1 = min(width, int(x + w + pad)), min(height, int(y + h + pad))
    factor = min(1.0, PRIOR_FACE_PX / side)
    patch = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    size = (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor)))
    lo, hi = max(24, int(side * factor / PRIOR_SCALE)), int(side * factor * PRIOR_SCALE) + 1
    if min(size) < lo:
        return None
    patch = cv2.equalizeHist(cv2.resize(patch, size, interpolation=cv2.INTER_AREA))
    found = cascade().detectMultiScale(patch, scaleFactor=1.1, minNeighbors=3, minSize=(lo, lo), maxSize=(hi, hi))
    if len(found) == 0:
        return None
    best = np.asarray(max(found, key=lambda b: b[2] * b[3]), dtype=np.float64) / factor
    best[:2] += (x0, y0)
    return best


def fill_missing(boxes: list[np.ndarray | None]) -> np.ndarray:
    """Fill frames without a box: the nearest detected box before the first / after the last
    detection, linear interpolation between two detected boxes. Returns ``(T, 4)``."""
    found = [i for i, box in enumerate(boxes) if box is not None]
    if not found:
        raise ValueError("no box to fall back on")
    known = np.stack([boxes[i] for i in found])
    frames = np.arange(len(boxes))
    return np.stack([np.interp(frames, found, known[:, k]) for k in range(4)], axis=1)


def smooth_boxes(boxes: np.ndarray, window: int = 5) -> np.ndarray:
    """Running median (edge-replicated) of box centre and side over ``window`` frames: ``(T, 3)`` cx, cy, side."""
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    sides = boxes[:, 2:].max(axis=1, keepdims=True)
    track = np.concatenate([centres, sides], axis=1)
    if window <= 1 or len(track) < 2:
        return track
    half = window // 2
    padded = np.pad(track, ((half, half), (0, 0)), mode="edge")
    return np.stack([np.median(padded[i : i + 2 * half + 1], axis=0) for i in range(len(track))])


def square_crop(frame: np.ndarray, cx: float, cy: float, side: float, out_size: int) -> np.ndarray:
    """Cut the square of ``side`` px centred at (cx, cy), replicating borders, resized to ``out_size``."""
    import cv2

    half = side / 2
    x0, y0 = int(round(cx - half)), int(round(cy - half))
    size = max(2, int(round(side)))
    height, width = frame.shape[:2]
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x0 + size - width), max(0, y0 + size - height)
    patch = frame[max(0, y0) : min(height, y0 + size), max(0, x0) : min(width, x0 + size)]
    if pad_l or pad_t or pad_r or pad_b:
        patch = cv2.copyMakeBorder(patch, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
    # Area averaging only where it matters (shrinking by more than 1.5x, where bilinear would
    # alias); it is ~3x slower than bilinear at the mild ratios typical of 112-px crops.
    interpolation = cv2.INTER_AREA if size > 1.5 * out_size else cv2.INTER_LINEAR
    return cv2.resize(patch, (out_size, out_size), interpolation=interpolation)


def crop_faces(
    frames: np.ndarray,
    *,
    detector: str = "haar",
    crop_size: int = 112,
    margin: float = 0.25,
    detect_width: int = 128,
    detect_every: int = 1,
    smooth_window: int = 5,
    path: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Face crops ``(T, crop_size, crop_size, 3)`` uint8 and the boxes used ``(T, 3)`` (cx, cy, side).

    ``detector="none"`` resizes each whole frame (for corpora that are already face crops).
    ``detect_every=k`` runs the cascade on every k-th frame (and the last) and interpolates
    the rest; when those frames have no face, every other frame is tried before giving up.
    """
    height, width = frames.shape[1:3]
    if detector == "none":
        track = np.tile([width / 2, height / 2, 0.0], (len(frames), 1))
        import cv2

        crops = np.stack([cv2.resize(f, (crop_size, crop_size), interpolation=cv2.INTER_AREA) for f in frames])
        track[:, 2] = max(width, height)
        return crops, track
    if detector != "haar":
        raise ValueError(f"unknown face detector {detector!r}; choose 'haar' or 'none'")
    step = max(1, detect_every)
    probe = sorted(set(range(0, len(frames), step)) | {len(frames) - 1})
    boxes: list[np.ndarray | None] = [None] * len(frames)
    last = None  # the most recent detection seeds a cheap local search in the next frame
    for i in probe:
        boxes[i] = detect_largest(frames[i], detect_width, prior=last)
        last = boxes[i] if boxes[i] is not None else last
    if all(box is None for box in boxes) and step > 1:
        for i in sorted(set(range(len(frames))) - set(probe)):
            boxes[i] = detect_largest(frames[i], detect_width)
    if all(box is None for box in boxes):
        # Last resort before declaring the clip faceless: the thorough search (finer pyramid,
        # no histogram equalisation, twice the resolution) on a few frames spread over the clip.
        for i in np.linspace(0, len(frames) - 1, num=min(4, len(frames))).round().astype(int):
            boxes[i] = detect_thorough(frames[i], 2 * detect_width)
    if all(box is None for box in boxes):
        raise BadInputError(path, "faces", f"no face found in any of the {len(frames)} sampled frames")
    track = smooth_boxes(fill_missing(boxes), smooth_window)
    track[:, 2] *= 1.0 + margin
    crops = np.stack([square_crop(f, cx, cy, side, crop_size) for f, (cx, cy, side) in zip(frames, track)])
    return crops, track
