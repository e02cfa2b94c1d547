"""Media decoding: the sampled video frames (decord) and the sound as 16 kHz mono (PyAV).

Only the ``T`` frames the model will see are decoded (``VideoReader.get_batch`` on uniformly
spaced indices), never the whole clip. The sound comes from a separate file when the corpus
has one, else from the video's own track; it is mixed down to mono and resampled with PyAV's
``AudioResampler`` (libswresample), so no second resampling library is involved.

Every failure is a :class:`~bench.errors.BadInputError` naming the file, the stage
(``"decode"`` for frames, ``"audio"`` for sound) and the reason, so that ``prepare`` can record
it and move on to the next clip.

A file cut short (an interrupted download or copy) is named as such: MP4/MOV files are walked
box by box before decoding (a few small reads), and a box that runs past the end of the file,
or a missing ``moov`` index, gives "file truncated or damaged" with the number of frames that
remain, instead of a decoder message or, worse, a clip silently built from its first frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.errors import BadInputError


def sample_indices(num_available: int, num_frames: int) -> np.ndarray:
    """``num_frames`` indices spread uniformly over ``num_available`` frames (centres of equal bins).

    A clip shorter than ``num_frames`` repeats frames rather than failing: the model always
    sees ``T`` steps, and the repetition shows up as zero optical flow, which is honest.
    """
    if num_available <= 0:
        raise ValueError("a clip with no frames has nothing to sample")
    edges = (np.arange(num_frames) + 0.5) * num_available / num_frames
    return np.clip(np.floor(edges).astype(np.int64), 0, num_available - 1)


def read_frames(path: str | Path, num_frames: int) -> tuple[np.ndarray, float]:
    """Decode ``num_frames`` uniformly sampled RGB frames: ``(T, H, W, 3) uint8`` and the fps."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "decode", "file does not exist")
    import decord

    cut = mp4_truncation(path)
    try:
        # One decoding thread: parallelism comes from the process pool, one clip per worker.
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    except Exception as exc:  # decord raises DECORDError / RuntimeError with C++ text
        if cut:
            raise BadInputError(path, "decode", f"cannot open video: file truncated or damaged ({cut})") from None
        raise BadInputError(path, "decode", f"cannot open video: {_first_line(exc)}") from None
    count = len(reader)
    if cut:  # decord indexes only the frames whose data is present: say how many are left
        expected = _indexed_frames(path)
        of = f"{count} of {expected}" if expected > count else f"{count}"
        raise BadInputError(path, "decode", f"found {of} frames: file truncated or damaged ({cut})")
    if count == 0:
        raise BadInputError(path, "decode", "video stream has zero frames")
    indices = sample_indices(count, num_frames)
    try:
        frames = reader.get_batch(indices.tolist()).asnumpy()
    except Exception as exc:
        raise BadInputError(
            path, "decode", f"cannot decode frames {indices.tolist()}: {_first_line(exc)} (file truncated or damaged?)"
        ) from None
    fps = float(reader.get_avg_fps())
    del reader
    if frames.ndim != 4 or frames.shape[0] != num_frames or frames.shape[-1] != 3:
        raise BadInputError(path, "decode", f"decoder returned frames of shape {frames.shape}")
    return np.ascontiguousarray(frames, dtype=np.uint8), fps


def read_audio(path: str | Path, sample_rate: int = 16000, max_seconds: float | None = None) -> np.ndarray:
    """The first sound track of ``path`` as mono float32 at ``sample_rate``, at most ``max_seconds``.

    Cropping policy: a clip keeps its full length up to ``max_seconds``; anything beyond is
    cut from the end (emotional speech clips are short, and the onset carries the utterance).
    Nothing is padded here: batches pad with masks, so padding would only waste disk.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "audio", "file does not exist")
    import av

    limit = None if max_seconds is None else int(round(max_seconds * sample_rate))
    chunks: list[np.ndarray] = []
    have = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise BadInputError(path, "audio", "no sound track")
            stream = container.streams.audio[0]
            stream.thread_type = "AUTO"
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    have += chunks[-1].size
                if limit is not None and have >= limit:
                    break
            else:
                for out in resampler.resample(None):  # flush the resampler's delay line
                    chunks.append(out.to_ndarray().reshape(-1))
    except BadInputError:
        raise
    except Exception as exc:  # av.error.* (InvalidDataError, ...) and friends
        raise BadInputError(path, "audio", f"cannot decode sound: {_first_line(exc)}") from None
    wave = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    if limit is not None:
        wave = wave[:limit]
    if wave.size == 0:
        raise BadInputError(path, "audio", "sound track holds no samples")
    return wave


def mp4_truncation(path: str | Path) -> str | None:
    """Why an MP4/MOV (ISO base media) file is cut short or broken, or None (also for other formats).

    Walks the top-level boxes (size + type headers only): a box running past the end of the
    file, an impossible box size, or no ``moov`` box (the index, which plain MP4 writers put
    last) means the file is truncated or damaged.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8 or head[4:8] != b"ftyp":
                return None  # not ISO base media: nothing to say here
            offset, kinds = 0, set()
            while offset < size:
                handle.seek(offset)
                header = handle.read(16)
                kind = header[4:8].decode("latin1")
                if len(header) < 8 or not (kind.isascii() and kind.isprintable()):
                    break  # trailing padding or junk after the last box: judged by the moov check below
                length = int.from_bytes(header[:4], "big")
                if length == 1:  # 64-bit size follows the type
                    if len(header) < 16:
                        return f"the file ends inside the header of its {kind!r} box"
                    length = int.from_bytes(header[8:16], "big")
                elif length == 0:  # "extends to the end of the file"
                    length = size - offset
                if length < 8:
                    return f"invalid size {length} of the {kind!r} box at byte {offset}"
                if offset + length > size:
                    return f"its {kind!r} box needs {offset + length} bytes, the file has {size}"
                kinds.add(kind)
                offset += length
    except OSError:
        return None  # unreadable: decoding reports it
    if "moov" not in kinds and "moof" not in kinds:
        return f"no 'moov' index box in its {size} bytes"
    return None


def _indexed_frames(path: Path) -> int:
    """Frames the container's index announces for the first video stream (0 when unknown)."""
    try:
        import av

        with av.open(str(path)) as container:
            return int(container.streams.video[0].frames) if container.streams.video else 0
    except Exception:  # noqa: BLE001 - only used to word a message
        return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
