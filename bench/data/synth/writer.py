"""Writing real media files: H.264 (yuv420p) video with an AAC sound track, and PCM WAV.

Settings are chosen for byte-identical output from the same input: x264 runs single-threaded
(its frame threads could otherwise reorder decisions) and no wall-clock metadata is written,
so the same seed gives the same file hashes.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf

from bench.errors import BenchError

_AUDIO_CHUNK = 1024  # samples per AAC frame


def write_av(
    path: Path,
    frames: np.ndarray,
    audio: np.ndarray,
    *,
    fps: int,
    sample_rate: int,
    container: str,
    crf: int = 20,
) -> Path:
    """Mux (n, H, W, 3) uint8 RGB ``frames`` and mono float ``audio`` into ``path``.

    ``container`` is a PyAV/FFmpeg format name: ``"mp4"`` (RAVDESS) or ``"flv"`` (CREMA-D).
    """
    n, height, width, _ = frames.shape
    if width % 2 or height % 2:
        raise BenchError(f"{path}: frame size {width}x{height} must be even for yuv420p")
    out = av.open(str(path), mode="w", format=container)
    try:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        video.codec_context.thread_count = 1
        sound = out.add_stream("aac", rate=sample_rate)
        sound.layout = "mono"
        sound.bit_rate = 64000
        sound.options = {"aac_coder": "fast"}  # the default two-loop search costs ~5x the time
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        samples = np.ascontiguousarray(audio, dtype=np.float32)
        for start in range(0, len(samples), _AUDIO_CHUNK):
            chunk = av.AudioFrame.from_ndarray(samples[None, start : start + _AUDIO_CHUNK], format="fltp", layout="mono")
            chunk.sample_rate = sample_rate
            chunk.pts = start
            for packet in sound.encode(chunk):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    finally:
        out.close()
    return path


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    """16-bit PCM mono WAV, like the corpora ship."""
    sf.write(str(path), np.asarray(audio, dtype=np.float32), sample_rate, subtype="PCM_16", format="WAV")
    return path
