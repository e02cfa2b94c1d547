"""ABAW valence/arousal annotation files (Aff-Wild2's VA track): read, check, fit to the video.

The format, as the challenge ships it (``annotations/VA_Estimation_Challenge/<Set>/<video>.txt``)::

    valence,arousal
    0.215,0.431
    -5,-5
    ...

The first line is the header ``valence,arousal``; then one line per *video frame* (line 2 is
frame 1), two floats in [-1, 1]. ``-5`` marks a frame nobody annotated (the face is absent or
the annotators skipped it): such frames are masked, never trained on or scored. A frame counts
as annotated only when *both* values are annotated (the RJA preprocessing drops a frame when
either is -5; a file with one -5 and one real value on a line is accepted and that frame masked).

Every defect is an :class:`AnnotationError` naming the file, the line and the reason: a wrong
header, a malformed line (not two comma-separated numbers), a value outside [-1, 1] that is not
-5, a NaN or infinity.

Length against the video (:func:`fit_to_frames`): ABAW files are sometimes a few frames
shorter or longer than the video they describe (the annotation tool and the decoder count the
last frames differently). Up to :data:`LENGTH_TOLERANCE` frames of difference are absorbed:
a shorter file gets its tail padded as unannotated (never invented values), a longer one has
its extra lines dropped (they describe frames that do not exist). Beyond that the file does not
belong to the video, and the error names both the file and the video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError

HEADER = ("valence", "arousal")  # the ABAW VA header, in this column order
UNANNOTATED = -5.0  # ABAW's marker of an unannotated frame
# Frames of difference between an annotation file and its video that are absorbed (see module doc).
# 5 frames is 1/6 s at Aff-Wild2's usual 30 fps: the off-by-a-few counts seen in the corpus, while
# a file of another video (thousands of frames apart, or tens) is still refused.
LENGTH_TOLERANCE = 5


class AnnotationError(BenchError, ValueError):
    """An annotation file is malformed or does not fit its video: names the file (and line)."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None):
        self.path, self.reason, self.line = str(path), reason, line
        where = f": line {line}" if line is not None else ""
        super().__init__(f"{path}{where}: {reason}")

    def __reduce__(self):  # picklable across the prepare pool
        return type(self), (self.path, self.reason, self.line)


@dataclass
class Annotation:
    """One track's per-frame annotation: ``values`` (N, 2) float32 [valence, arousal], ``valid`` (N,)."""

    path: str
    values: np.ndarray  # (N, 2) float32; unannotated frames hold UNANNOTATED
    valid: np.ndarray  # (N,) bool: both values annotated

    def __len__(self) -> int:
        return len(self.valid)


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(path, f"{column} {text.strip()!r} is not a number (expected two numbers "
                                    "'valence,arousal' in [-1, 1], or -5 for unannotated)", line) from None
    if not math.isfinite(value):
        raise AnnotationError(path, f"{column} is {text.strip()!r}; values must be finite numbers in [-1, 1] or -5", line)
    if value != UNANNOTATED and not -1.0 <= value <= 1.0:
        raise AnnotationError(path, f"{column} {value:g} is outside [-1, 1] (and is not -5, the unannotated marker)", line)
    return value


def read_va_annotation(path: str | Path) -> Annotation:
    """Read one ABAW VA file; every defect is an :class:`AnnotationError` with file and line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AnnotationError(path, "annotation file not found") from None
    except IsADirectoryError:
        raise AnnotationError(path, "is a folder, not an annotation file") from None
    except OSError as exc:
        raise AnnotationError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AnnotationError(path, f"byte 0x{data[exc.start]:02x} is not text (UTF-8)", line) from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise AnnotationError(path, "empty; expected the header 'valence,arousal' and one line per video frame", 1)
    header = tuple(part.strip().lower() for part in lines[0].split(","))
    if header != HEADER:
        raise AnnotationError(path, f"header is {lines[0].strip()!r}, expected 'valence,arousal' "
                                    "(an ABAW VA file; expression or action-unit files have other headers)", 1)
    body = lines[1:]
    while body and not body[-1].strip():  # trailing blank lines
        body.pop()
    values = np.empty((len(body), 2), dtype=np.float32)
    for i, raw in enumerate(body):
        line = i + 2
        parts = raw.split(",")
        if len(parts) != 2:
            shown = raw.strip() or "an empty line"
            raise AnnotationError(path, f"{shown!r} has {len(parts)} field{'s' if len(parts) != 1 else ''}; "
                                        "expected 'valence,arousal'", line)
        values[i, 0] = _number(parts[0], path, line, "valence")
        values[i, 1] = _number(parts[1], path, line, "arousal")
    valid = (values != UNANNOTATED).all(axis=1)
    values[~valid] = UNANNOTATED
    return Annotation(str(path), values, valid)


def fit_to_frames(annotation: Annotation, num_frames: int, video: str | Path, tolerance: int = LENGTH_TOLERANCE) -> Annotation:
    """The annotation with exactly ``num_frames`` lines (see the module docstring for the rule).

    Shorter by at most ``tolerance``: the tail is padded as unannotated; longer by at most
    ``tolerance``: the extra lines are dropped; beyond: :class:`AnnotationError` naming the file
    and the video.
    """
    have = len(annotation)
    if have == num_frames:
        return annotation
    if abs(have - num_frames) > tolerance:
        side = "fewer" if have < num_frames else "more"
        raise AnnotationError(annotation.path, f"{have} annotated frames, but video {video} has {num_frames} frames "
                                               f"({abs(have - num_frames)} {side}; up to {tolerance} are tolerated): "
                                               "is this the annotation of another video?")
    if have > num_frames:
        return Annotation(annotation.path, annotation.values[:num_frames].copy(), annotation.valid[:num_frames].copy())
    pad = num_frames - have
    values = np.concatenate([annotation.values, np.full((pad, 2), UNANNOTATED, np.float32)])
    valid = np.concatenate([annotation.valid, np.zeros(pad, bool)])
    return Annotation(annotation.path, values, valid)


def write_va_annotation(path: str | Path, values: np.ndarray, valid: np.ndarray | None = None) -> Path:
    """Write an ABAW VA file (the synthetic corpus's); frames not ``valid`` are written as -5."""
    from bench.io import write_text

    values = np.asarray(values, dtype=np.float64)
    valid = np.ones(len(values), bool) if valid is None else np.asarray(valid, bool)
    rows = ["valence,arousal"]
    for (v, a), ok in zip(values, valid):
        rows.append(f"{v:.4f},{a:.4f}" if ok else "-5,-5")
    return write_text(Path(path), "\n".join(rows) + "\n")


__all__ = ["Annotation", "AnnotationError", "HEADER", "LENGTH_TOLERANCE", "UNANNOTATED", "fit_to_frames",
           "read_va_annotation", "write_va_annotation"]
