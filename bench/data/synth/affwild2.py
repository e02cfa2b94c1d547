"""The synthetic corpus in Aff-Wild2's layout (``bench synth --layout affwild2``): long videos
whose face and voice follow smooth per-frame valence and arousal trajectories.

It proves the frame-level path (annotation reader, masking, windows, stitching, resampling,
ABAW's CCC), not emotion recognition. What it writes, following the ABAW release::

    videos/<name>.mp4                                          H.264 + AAC (16 kHz), fps = config.fps
    annotations/VA_Estimation_Challenge/Train_Set/<track>.txt  'valence,arousal' + one line per frame
    annotations/VA_Estimation_Challenge/Validation_Set/<track>.txt
    cropped_aligned/<track>/00001.jpg ...                      face crops (some tracks only), 1-based
                                                               frame numbers, frames without a face absent
    synthetic_affwild2.json                                    the config and every video's parameters

Names imitate Aff-Wild2's ``<n>-<fps>-<W>x<H>``. The last video has two subjects side by side
and two annotation files, ``<name>_left.txt`` and ``<name>_right.txt``, as ABAW names them.

The ground truth is designed, per video frame (``t`` in seconds):

- valence(t), arousal(t): each a sum of three sinusoids of 0.04-0.2 Hz (periods of 5-25 s) with drawn phases and
  amplitudes, scaled to peak at 0.6-0.95 in absolute value: smooth, spanning both signs.
- face (from :mod:`bench.data.synth.faces`, drawn with a neutral expression and the usual head
  motion, blinks and talking, then posed per frame): valence -> lip-corner curvature
  (``0.14 w * v``), cheek raise for v > 0, inner-brow tilt for v < 0; arousal -> eye opening
  (``1 + 0.35 a``), brow lift, and the talking mouth's amplitude.
- voice (from :mod:`bench.data.synth.voice`, synthesised in 1 s segments cross-faded over
  50 ms, each segment's cue from the trajectories at its centre): arousal -> pitch (x1 +/- 0.25),
  loudness (+/- 6 dB), speaking rate (4 +/- 1 syllables/s), brightness; valence -> pitch range
  and (for v < 0) breathiness. The two-subject video's sound is the mix of both voices.
- annotation gaps: 1-2 stretches of 0.5-2 s (at most a tenth of the video each) per track written
  as ``-5,-5`` (unannotated); one
  track's file is 2 frames shorter than its video (inside the reader's tolerance).

Everything random flows from ``seed`` through generators keyed by (seed, purpose, video, subject).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.config import stable_hash, to_dict
from bench.data.annotations import write_va_annotation
from bench.data.synth.design import FaceCue, VoiceCue
from bench.data.synth.faces import animate, make_scene, render_frame, sample_face_identity
from bench.data.synth.voice import sample_voice_identity, synthesize
from bench.data.synth.writer import write_av
from bench.errors import ConfigError
from bench.io import atomic_folder, write_json

GENERATOR_VERSION = 1
CONFIG_FILE = "synthetic_affwild2.json"  # written last: its presence marks a finished corpus
ANNOTATION_DIR = Path("annotations") / "VA_Estimation_Challenge"
SETS = ("Train_Set", "Validation_Set")
CROP_SIZE = 112  # side of the cropped-aligned faces (ABAW ships 112 x 112)
_SEGMENT_S, _FADE_S = 1.0, 0.05
_P_TRAJ, _P_FACE, _P_VOICE, _P_GAPS, _P_SCENE = 1, 2, 3, 4, 5


@dataclass
class AffWildSynthConfig:
    """What to generate. Every field changes the files, so every field is in the corpus hash."""

    videos: int = 7  # videos in all; the last has two subjects (so tracks = videos + 1)
    validation_videos: int = 2  # how many (the first ones) go to Validation_Set
    seed: int = 0
    duration_s: float = 16.0  # mean video length, s
    duration_jitter_s: float = 3.0  # lengths vary uniformly by +- this
    fps: int = 10  # video (and annotation) frame rate
    width: int = 256  # frame size of a one-subject video (the two-subject one is twice as wide)
    height: int = 192
    sample_rate: int = 16000
    cropped_every: int = 3  # every k-th one-subject video (and the two-subject one) gets cropped_aligned/ frames
    nuisance: float = 1.0  # head motion, lighting and noise scale (as the RAVDESS-layout corpus)
    crf: int = 23
    layout: str = field(default="affwild2", init=False)  # for callers that print config.layout

    def __post_init__(self) -> None:
        if self.videos < 3:
            raise ConfigError(f"affwild2 synth needs at least 3 videos (train, validation, two-subject), got {self.videos}")
        if not 1 <= self.validation_videos <= self.videos - 2:
            raise ConfigError(f"affwild2 synth validation_videos must be in 1..{self.videos - 2}, got {self.validation_videos}")
        if self.duration_s - self.duration_jitter_s < 4.0:
            raise ConfigError("affwild2 synth videos must be at least 4 s long (duration_s - duration_jitter_s)")
        if self.fps < 2 or self.width % 2 or self.height % 2 or min(self.width, self.height) < 128:
            raise ConfigError(f"affwild2 synth needs fps >= 2 and an even frame size of at least 128x128, "
                              f"got {self.fps} fps, {self.width}x{self.height}")


def corpus_key(config: AffWildSynthConfig) -> str:
    return stable_hash({"generator": f"affwild2-{GENERATOR_VERSION}", "config": to_dict(config)})


@dataclass(frozen=True)
class VideoSpec:
    index: int
    name: str  # file stem, e.g. "3-10-256x192"
    subjects: tuple[str, ...]  # ("",) one subject, ("left", "right") two
    partition: str  # Train_Set or Validation_Set
    cropped: bool  # whether cropped_aligned/ frames are written for its tracks

    def track(self, subject: str) -> str:
        return f"{self.name}_{subject}" if subject else self.name


def plan_videos(config: AffWildSynthConfig) -> list[VideoSpec]:
    specs = []
    for i in range(config.videos):
        two = i == config.videos - 1
        width = config.width * (2 if two else 1)
        partition = SETS[1] if i < config.validation_videos else SETS[0]
        cropped = two or (config.cropped_every > 0 and i % config.cropped_every == config.cropped_every - 1)
        specs.append(VideoSpec(i, f"{i + 1}-{config.fps}-{width}x{config.height}", ("left", "right") if two else ("",),
                               partition, cropped))
    return specs


def trajectory(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """A smooth signal in [-1, 1] over times ``t``: three slow sinusoids, peak 0.6-0.95."""
    signal = np.zeros_like(t)
    for _ in range(3):
        signal += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(0.04, 0.2) * t + rng.uniform(0, 2 * np.pi))
    signal -= rng.uniform(-0.3, 0.3) * signal.mean()
    peak = np.abs(signal).max() or 1.0
    return np.clip(signal / peak * rng.uniform(0.6, 0.95), -1.0, 1.0)


def gaps(rng: np.random.Generator, n_frames: int, fps: float) -> np.ndarray:
    """(n,) bool: False on 1-2 stretches of 0.5-2 s, each at most a tenth of the video (written as -5)."""
    valid = np.ones(n_frames, bool)
    for _ in range(int(rng.integers(1, 3))):
        length = min(int(round(rng.uniform(0.5, 2.0) * fps)), max(1, n_frames // 10))
        start = int(rng.integers(0, max(1, n_frames - length)))
        valid[start : start + length] = False
    return valid


def _voice(config, voice, valence, arousal, duration, rng) -> np.ndarray:
    """Segments of 1 s, each with the cue of the trajectories at its centre, cross-faded."""
    sr = config.sample_rate
    n = int(round(duration * sr))
    fade = int(_FADE_S * sr)
    out = np.zeros(n + fade, np.float32)
    weight = np.zeros(n + fade, np.float32)
    frames = np.arange(len(valence)) / config.fps
    start = 0.0
    while start < duration - 1e-6:
        seg = min(_SEGMENT_S, duration - start)
        centre = start + seg / 2
        v, a = float(np.interp(centre, frames, valence)), float(np.interp(centre, frames, arousal))
        cue = VoiceCue(f0_scale=1.0 + 0.25 * a, f0_range_st=2.0 + 2.0 * v, rate_sps=4.0 + 1.0 * a,
                       energy_db=6.0 * a, tilt=0.6 * a, breathiness=0.05 + 0.2 * max(-v, 0.0))
        audio, _ = synthesize(voice, cue, 1.0, seg + _FADE_S, sr, rng, config.nuisance, (15.0, 30.0))
        i = int(round(start * sr))
        ramp = np.ones(len(audio), np.float32)
        ramp[:fade] = np.linspace(0, 1, fade, dtype=np.float32)
        ramp[-fade:] = np.linspace(1, 0, fade, dtype=np.float32)
        end = min(i + len(audio), len(out))
        out[i:end] += (audio * ramp)[: end - i]
        weight[i:end] += ramp[: end - i]
        start += seg
    return (out[:n] / np.maximum(weight[:n], 1e-3)).astype(np.float32)


def _subject(config: AffWildSynthConfig, spec: VideoSpec, s: int, n_frames: int, duration: float):
    """One subject's frames (n, H, W, 3), voice, trajectories and face boxes."""
    base = (config.seed, spec.index, s)
    t = np.arange(n_frames) / config.fps
    valence = trajectory(np.random.default_rng([*base, _P_TRAJ, 0]), t)
    arousal = trajectory(np.random.default_rng([*base, _P_TRAJ, 1]), t)
    gender = "F" if (spec.index + s) % 2 else "M"
    face = sample_face_identity(np.random.default_rng([*base, _P_FACE, 0]), gender)
    voice = sample_voice_identity(np.random.default_rng([*base, _P_VOICE, 0]), gender)
    scene, _ = make_scene(np.random.default_rng([*base, _P_SCENE]), config.width, config.height, n_frames, config.nuisance)
    states, _ = animate(face, FaceCue(), 0.0, n_frames, config.fps, config.width, config.height,
                        np.random.default_rng([*base, _P_FACE, 1]), config.nuisance)
    frames, boxes = [], []
    for i, state in enumerate(states):
        v, a = float(valence[i]), float(arousal[i])
        state.mouth_curve = 0.14 * face.w * v
        state.cheek = 0.3 * max(v, 0.0)
        state.brow_tilt = 0.08 * face.w * max(-v, 0.0)
        state.eye_open *= 1.0 + 0.35 * a
        state.brow_raise = 0.05 * face.w * a
        state.mouth_open *= 0.7 + 0.3 * a
        frames.append(render_frame(face, state, scene, i))
        boxes.append((state.cx, state.cy, 2.7 * face.w * state.scale))
    audio = _voice(config, voice, valence, arousal, duration, np.random.default_rng([*base, _P_VOICE, 1]))
    return np.stack(frames), audio, valence, arousal, boxes


def _write_crops(folder: Path, frames: np.ndarray, boxes, valid: np.ndarray) -> int:
    """``00001.jpg``... square crops around the known face; a few frames (in gaps) left out."""
    import cv2

    from bench.data.faces import square_crop

    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for i, (frame, (cx, cy, side)) in enumerate(zip(frames, boxes)):
        if not valid[i] and i % 3 == 0:  # "no face found" on some unannotated frames, as in ABAW
            continue
        crop = square_crop(frame, cx, cy, side, CROP_SIZE)
        cv2.imwrite(str(folder / f"{i + 1:05d}.jpg"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        written += 1
    return written


def make_video(config: AffWildSynthConfig, spec: VideoSpec, root: Path) -> dict[str, object]:
    """Render, write and annotate one video; returns its parameters for the config file."""
    rng = np.random.default_rng([config.seed, spec.index, 99])
    duration = config.duration_s + config.nuisance * rng.uniform(-1, 1) * config.duration_jitter_s
    n_frames = int(round(duration * config.fps))
    duration = n_frames / config.fps
    parts = [_subject(config, spec, s, n_frames, duration) for s in range(len(spec.subjects))]
    frames = np.concatenate([p[0] for p in parts], axis=2) if len(parts) > 1 else parts[0][0]
    audio = np.mean([p[1] for p in parts], axis=0).astype(np.float32)
    video = root / "videos" / f"{spec.name}.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    write_av(video, frames, audio, fps=config.fps, sample_rate=config.sample_rate, container="mp4", crf=config.crf)
    tracks = []
    for s, subject in enumerate(spec.subjects):
        _, _, valence, arousal, boxes = parts[s]
        track = spec.track(subject)
        valid = gaps(np.random.default_rng([config.seed, spec.index, s, _P_GAPS]), n_frames, config.fps)
        values = np.stack([valence, arousal], axis=1)
        lines = n_frames - 2 if spec.index == config.videos - 2 else n_frames  # one file a bit short
        write_va_annotation(root / ANNOTATION_DIR / spec.partition / f"{track}.txt", values[:lines], valid[:lines])
        crops = 0
        if spec.cropped:
            shift = config.width * s  # the subject's half of a two-subject frame
            boxes = [(cx + shift, cy, side) for cx, cy, side in boxes]
            crops = _write_crops(root / "cropped_aligned" / track, frames, boxes, valid)
        tracks.append({"track": track, "annotated_lines": lines, "unannotated": int((~valid[:lines]).sum()),
                       "cropped_frames": crops})
    return {"video": spec.name, "partition": spec.partition, "frames": n_frames, "duration_s": round(duration, 3),
            "subjects": len(spec.subjects), "tracks": tracks}


def generate_affwild2(root: str | Path, config: AffWildSynthConfig = AffWildSynthConfig(), *, progress: bool = True,
                      workers: int = 0, overwrite: bool = False) -> Path:
    """Write the corpus to ``root`` (built in a temporary folder beside it, renamed at the end).
    ``workers``: processes, one video each (0: one per idle core, at most 4 and at most one per
    video); the files do not depend on it."""
    from bench.cores import data_workers

    root = Path(root).resolve()
    with atomic_folder(root, overwrite=overwrite) as tmp:
        specs = plan_videos(config)
        workers = data_workers(workers, len(specs))
        if workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=workers) as pool:
                videos = list(pool.map(make_video, [config] * len(specs), specs, [tmp] * len(specs)))
        else:
            videos = [make_video(config, spec, tmp) for spec in specs]
        write_json(tmp / CONFIG_FILE, {"generator": GENERATOR_VERSION, "key": corpus_key(config), "layout": "affwild2",
                                       "config": to_dict(config), "videos": videos})
    return root


def ensure_affwild2_corpus(config: AffWildSynthConfig = AffWildSynthConfig(), *, progress: bool = True, workers: int = 0) -> Path:
    """The corpus for ``config`` under ``bench_home()/corpora``, generated once and then reused."""
    from bench.paths import corpora_dir

    root = corpora_dir() / f"synthetic-affwild2-{corpus_key(config)}"
    if (root / CONFIG_FILE).is_file():
        return root
    try:
        return generate_affwild2(root, config, progress=progress, workers=workers, overwrite=root.exists())
    except OSError:
        if (root / CONFIG_FILE).is_file():
            return root
        raise


__all__ = ["ANNOTATION_DIR", "AffWildSynthConfig", "CONFIG_FILE", "SETS", "corpus_key", "ensure_affwild2_corpus",
           "generate_affwild2", "make_video", "plan_videos", "trajectory"]
