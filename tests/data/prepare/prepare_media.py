"""Tiny real media for the prepare tests, written with PyAV: H.264 video, AAC sound.

A uniquely named module (not conftest) so that `from prepare_media import ...` cannot pick up
another folder's conftest when the whole suite runs.

The face is a drawn cartoon (skin ellipse, dark brows and eyes, nose, mouth, hair) that
OpenCV's frontal-face Haar cascade does detect; it drifts right by ``dx`` px per frame so that
optical flow has something to see.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd

from bench.data.manifest import Manifest


def draw_face(img: np.ndarray, cx: int, cy: int, r: int) -> None:
    """Draw a Haar-detectable cartoon face of radius ``r`` centred at (cx, cy), in place (RGB)."""
    cv2.ellipse(img, (cx, cy), (int(r * 0.8), r), 0, 0, 360, (220, 180, 150), -1)
    for side in (-1, 1):
        ex = cx + side * int(r * 0.35)
        cv2.ellipse(img, (ex, cy - int(r * 0.35)), (int(r * 0.22), int(r * 0.06)), 0, 0, 360, (60, 40, 40), -1)
        cv2.ellipse(img, (ex, cy - int(r * 0.18)), (int(r * 0.16), int(r * 0.09)), 0, 0, 360, (30, 30, 30), -1)
    cv2.line(img, (cx, cy - int(r * 0.1)), (cx - int(r * 0.05), cy + int(r * 0.2)), (170, 130, 110), max(1, r // 20))
    cv2.ellipse(img, (cx, cy + int(r * 0.45)), (int(r * 0.3), int(r * 0.08)), 0, 0, 360, (140, 60, 60), -1)
    cv2.ellipse(img, (cx, cy - int(r * 0.8)), (int(r * 0.85), int(r * 0.4)), 0, 180, 360, (50, 40, 30), -1)


def face_frame(width: int, height: int, cx: int, cy: int, r: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 90, np.uint8)
    img += rng.integers(0, 12, size=img.shape, dtype=np.uint8)  # a little texture for the encoder
    draw_face(img, cx, cy, r)
    return img


def write_clip(
    path: Path,
    *,
    frames: int = 12,
    width: int = 160,
    height: int = 120,
    fps: int = 25,
    face: bool = True,
    dx: int = 1,
    audio: bool = True,
    sample_rate: int = 22050,
    tone_hz: float = 440.0,
    seed: int = 0,
    faststart: bool = False,
) -> Path:
    """An MP4 with ``frames`` H.264 frames (a drifting face or plain noise) and an AAC sine track.

    ``faststart`` puts the ``moov`` index before the data (as web-ready files have it), so that
    a copy cut short still opens and shows its first frames.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    r = int(min(width, height) * 0.3)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "tune": "zerolatency"}
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=sample_rate)
            sound.layout = "stereo"
        for i in range(frames):
            cx = width // 2 - dx * frames // 2 + dx * i
            img = face_frame(width, height, cx, height // 2, r, seed + i) if face else np.random.default_rng(i).integers(
                0, 255, (height, width, 3), dtype=np.uint8
            )
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            n = int(sample_rate * frames / fps)
            t = np.arange(n) / sample_rate
            wave = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            stereo = np.stack([wave, wave])
            step = 1024
            for start in range(0, n, step):
                chunk = np.ascontiguousarray(stereo[:, start : start + step])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate = sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, sample_rate)
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path


def make_manifest(root: Path, clips: dict[str, str], audio: dict[str, str] | None = None) -> Manifest:
    """A manifest over ``clips`` (clip_id -> video path relative to ``root``)."""
    rows = []
    for i, (clip_id, video) in enumerate(clips.items()):
        rows.append(
            {
                "clip_id": clip_id,
                "corpus": "tiny",
                "speaker": f"s{i % 2}",
                "gender": "F" if i % 2 else "M",
                "session": "",
                "label": ("happy", "sad")[i % 2],
                "video_path": video,
                "audio_path": (audio or {}).get(clip_id, ""),
            }
        )
    return Manifest(pd.DataFrame(rows), "tiny", ("happy", "sad"), (), root)


