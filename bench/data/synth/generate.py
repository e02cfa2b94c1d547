"""The synthetic corpus: actors, clips and files, laid out exactly like RAVDESS or CREMA-D.

It proves the machinery and the ablations, not emotion recognition: its classes are drawn
faces and buzzing voices whose cues are split across channels by design
(:mod:`bench.data.synth.design`), so a pipeline that loses a channel, or loses the fine
motion that only full-resolution optical flow keeps, shows it in the numbers.

Everything random flows from ``SynthConfig.seed`` through generators keyed by
``(seed, purpose, actor, class, take)``, so a clip does not depend on the order in which
clips are made or on the number of worker processes: the same config gives the same files.

Layouts (``SynthConfig.layout``):

- ``ravdess``: ``Actor_XX/01-01-EE-II-SS-RR-XX.mp4`` (audio-video, speech; H.264 + AAC at
  48 kHz). Odd actor numbers are male, even female. Takes cycle through intensity
  (normal/strong), statement and repetition; neutral has no strong take, as in RAVDESS, so it
  has at most 4 takes per actor.
- ``cremad``: ``VideoFlash/<ActorID>_<SEN>_<EMO>_<LVL>.flv`` (H.264 + AAC at 16 kHz, which
  FLV carries natively), ``AudioWAV/<clip>.wav`` (16 kHz mono PCM), ``VideoDemographics.csv``
  and ``processedResults/summaryTable.csv`` (every "vote" is the intended class). Levels:
  MD (normal) and HI (strong), XX for neutral.

Both write ``synthetic_meta.csv`` (per-clip ground truth and nuisance parameters) and
``synthetic_config.json`` (the config, generator version and cue table) at the root.
"""

from __future__ import annotations

import csv
import io
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from bench.config import stable_hash, to_dict
from bench.data.synth.design import CLASSES, CREMAD_EMOTION_CODES, DESIGN, RAVDESS_EMOTION_CODES, design_table
from bench.data.synth.faces import FaceIdentity, animate, make_scene, render_frame, sample_face_identity
from bench.data.synth.voice import VoiceIdentity, sample_voice_identity, synthesize
from bench.data.synth.writer import write_av, write_wav
from bench.errors import ConfigError
from bench.io import atomic_folder, write_json, write_text

GENERATOR_VERSION = 1  # bump when the generator's output changes, so cached corpora are rebuilt
META_FILE = "synthetic_meta.csv"
CONFIG_FILE = "synthetic_config.json"
INTENSITY_MAGNITUDE = (0.7, 1.0)  # cue magnitude of a normal and a strong take
CREMAD_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
_PURPOSE_ACTOR, _PURPOSE_CLIP = 1, 2


@dataclass
class SynthConfig:
    """What to generate. Every field changes the files, so every field is in the corpus hash."""

    layout: Literal["ravdess", "cremad"] = "ravdess"  # whose file layout and naming to imitate
    actors: int = 10  # number of actors (speakers); half female, half male
    clips_per_class: int = 4  # takes per actor and class (RAVDESS: <= 8, neutral <= 4; CREMA-D: <= 12)
    seed: int = 0  # the one seed everything random flows from
    duration_s: float = 2.0  # mean clip length, seconds
    duration_jitter_s: float = 0.2  # clip length varies uniformly by +- this (timing nuisance)
    fps: int = 25  # video frame rate
    width: int = 256  # frame width, px (even)
    height: int = 192  # frame height, px (even)
    nuisance: float = 1.0  # scale of all nuisance variation (0: still heads, even light, clean sound)
    # Scale of the fine motion cue (0 makes sad and fearful identical: a negative control).
    # 2.0 by default, measured on 6 actors (forehead band, AUC of telling fearful from sad):
    # full-resolution DIS flow 0.82 / 0.90 / 0.97 at scales 1 / 1.5 / 2, while the 48 px frame
    # difference a frame model could exploit stays at 0.65 / 0.71 / 0.72. At 2 the cue is one
    # that flow resolves almost perfectly and downsampled frames mostly lose.
    flutter_scale: float = 2.0
    snr_db: tuple[float, float] = (10.0, 30.0)  # range of the background noise's SNR at neutral level, dB
    crf: int = 20  # H.264 quality (lower = better, larger files)
    sample_rate: int = 0  # audio rate; 0 = the layout's own (48 kHz RAVDESS, 16 kHz CREMA-D)

    def __post_init__(self) -> None:
        if self.layout not in ("ravdess", "cremad"):
            raise ConfigError(f"synth layout must be 'ravdess' or 'cremad', got {self.layout!r}")
        limit = 99 if self.layout == "ravdess" else 8999
        if not 1 <= self.actors <= limit:
            raise ConfigError(f"synth actors must be in 1..{limit} for the {self.layout} naming, got {self.actors}")
        takes = 8 if self.layout == "ravdess" else len(CREMAD_SENTENCES)
        if not 1 <= self.clips_per_class <= takes:
            raise ConfigError(
                f"synth clips_per_class must be in 1..{takes} for the {self.layout} naming, got {self.clips_per_class}"
            )
        if self.width % 2 or self.height % 2 or self.width < 128 or self.height < 128:
            raise ConfigError(f"synth frame size {self.width}x{self.height} must be even and at least 128x128")
        if self.duration_s - self.duration_jitter_s < 0.8:
            raise ConfigError("synth clips must be at least 0.8 s long (duration_s - duration_jitter_s)")
        self.snr_db = tuple(float(v) for v in self.snr_db)  # type: ignore[assignment]

    @property
    def audio_rate(self) -> int:
        return self.sample_rate or (48000 if self.layout == "ravdess" else 16000)


def corpus_key(config: SynthConfig) -> str:
    """The hash that names a generated corpus: the config plus the generator's version."""
    return stable_hash({"generator": GENERATOR_VERSION, "config": to_dict(config)})


@dataclass(frozen=True)
class Actor:
    """One synthetic actor: an id as the corpus spells it, a gender, a face and a voice."""

    index: int  # 0-based position, keys the random generators
    number: int  # RAVDESS actor number (1..) or CREMA-D ActorID (1001..)
    gender: str  # "F" or "M"
    age: int
    face: FaceIdentity
    voice: VoiceIdentity


def make_actor(config: SynthConfig, index: int) -> Actor:
    number = index + 1 if config.layout == "ravdess" else 1001 + index
    gender = "M" if (index + 1) % 2 else "F"  # RAVDESS: odd numbers male, even female
    base = (config.seed, _PURPOSE_ACTOR, index)
    face = sample_face_identity(np.random.default_rng([*base, 0]), gender)
    voice = sample_voice_identity(np.random.default_rng([*base, 1]), gender)
    age = int(np.random.default_rng([*base, 2]).integers(20, 75))
    return Actor(index, number, gender, age, face, voice)


@dataclass(frozen=True)
class ClipSpec:
    """One clip to make: who, which class, which take, and where its files go."""

    actor: int  # actor index
    cls: str
    take: int  # 0-based take index within (actor, class)
    strong: bool  # intensity: strong (True) or normal take
    clip_id: str  # the file stem
    video_path: str  # relative to the corpus root
    audio_path: str  # separate WAV (CREMA-D) or "" (sound track of the video)

    @property
    def key(self) -> tuple[int, ...]:
        return (self.actor, CLASSES.index(self.cls), self.take)


def plan_corpus(config: SynthConfig) -> list[ClipSpec]:
    """Every clip of the corpus, in a fixed order (actor, class, take)."""
    specs = []
    for a in range(config.actors):
        for cls in CLASSES:
            for take in range(config.clips_per_class):
                spec = _name_clip(config, a, cls, take)
                if spec is not None:
                    specs.append(spec)
    return specs


def _name_clip(config: SynthConfig, actor: int, cls: str, take: int) -> ClipSpec | None:
    neutral = cls == "neutral"
    if config.layout == "ravdess":
        if neutral:  # RAVDESS has no strong neutral take: statement x repetition only
            if take >= 4:
                return None
            strong, statement, repetition = False, take % 2 + 1, take // 2 + 1
        else:
            strong, statement, repetition = bool(take % 2), (take // 2) % 2 + 1, take // 4 + 1
        number = actor + 1
        stem = f"01-01-{RAVDESS_EMOTION_CODES[cls]:02d}-{2 if strong else 1:02d}-{statement:02d}-{repetition:02d}-{number:02d}"
        return ClipSpec(actor, cls, take, strong, stem, f"Actor_{number:02d}/{stem}.mp4", "")
    strong = (not neutral) and bool(take % 2)
    level = "XX" if neutral else ("HI" if strong else "MD")
    stem = f"{1001 + actor}_{CREMAD_SENTENCES[take]}_{CREMAD_EMOTION_CODES[cls]}_{level}"
    return ClipSpec(actor, cls, take, strong, stem, f"VideoFlash/{stem}.flv", f"AudioWAV/{stem}.wav")


@dataclass
class Clip:
    """One synthesised clip in memory: frames, sound and its row of ground truth."""

    frames: np.ndarray  # (n, H, W, 3) uint8 RGB
    audio: np.ndarray  # (samples,) float32 mono
    sample_rate: int
    meta: dict[str, object] = field(default_factory=dict)


def synthesize_clip(config: SynthConfig, actor: Actor, cls: str, strong: bool, key: tuple[int, ...]) -> Clip:
    """Render one clip. Two classes given the same ``key`` share every nuisance draw, so
    their clips differ exactly in the classes' cues (the channel-split tests rely on this)."""
    design = DESIGN[cls]
    base = (config.seed, _PURPOSE_CLIP, *key)
    rngs = [np.random.default_rng([*base, purpose]) for purpose in range(5)]
    magnitude = INTENSITY_MAGNITUDE[int(strong)] * rngs[0].uniform(0.9, 1.1)
    duration = config.duration_s + config.nuisance * rngs[0].uniform(-1, 1) * config.duration_jitter_s
    n_frames = max(2, int(round(duration * config.fps)))
    duration = n_frames / config.fps

    face_cue = design.face
    if config.flutter_scale != 1.0:
        face_cue = type(face_cue)(**{**face_cue.__dict__, "flutter_px": face_cue.flutter_px * config.flutter_scale})
    scene, light = make_scene(rngs[1], config.width, config.height, n_frames, config.nuisance)
    states, pose = animate(actor.face, face_cue, magnitude, n_frames, config.fps, config.width, config.height, rngs[2], config.nuisance)
    frames = np.stack([render_frame(actor.face, s, scene, i) for i, s in enumerate(states)])
    audio, voice = synthesize(
        actor.voice, design.voice, magnitude, duration, config.audio_rate, rngs[3], config.nuisance, config.snr_db
    )
    noise = rngs[4].normal(0.0, 0.1, 3)
    avd = [float(np.clip(3.0 + magnitude * (p - 3.0) + e, 1.0, 5.0)) for p, e in zip(design.avd, noise)]
    meta: dict[str, object] = {
        "class": cls,
        "arousal": round(avd[0], 4),
        "valence": round(avd[1], 4),
        "dominance": round(avd[2], 4),
        "intensity": "strong" if strong else "normal",
        "magnitude": round(float(magnitude), 4),
        "n_frames": n_frames,
        "fps": config.fps,
        "duration_s": round(duration, 4),
        "sample_rate": config.audio_rate,
        "flutter_px": face_cue.flutter_px,
        **pose,
        **light,
        **voice,
    }
    return Clip(frames, audio, config.audio_rate, meta)


def _make_clip(args: tuple[SynthConfig, ClipSpec, str]) -> dict[str, object]:
    """Synthesise and write one clip; returns its metadata row (runs in worker processes)."""
    config, spec, root = args
    actor = make_actor(config, spec.actor)
    clip = synthesize_clip(config, actor, spec.cls, spec.strong, spec.key)
    video = Path(root) / spec.video_path
    video.parent.mkdir(parents=True, exist_ok=True)
    container = "mp4" if config.layout == "ravdess" else "flv"
    write_av(video, clip.frames, clip.audio, fps=config.fps, sample_rate=clip.sample_rate, container=container, crf=config.crf)
    if spec.audio_path:
        wav = Path(root) / spec.audio_path
        wav.parent.mkdir(parents=True, exist_ok=True)
        write_wav(wav, clip.audio, clip.sample_rate)
    head = {
        "clip_id": spec.clip_id,
        "actor": actor.number,
        "gender": actor.gender,
        "video_path": spec.video_path,
        "audio_path": spec.audio_path,
    }
    return {**head, **clip.meta}


def _csv_text(rows: list[dict[str, object]], columns: list[str] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write_cremad_tables(root: Path, config: SynthConfig, rows: list[dict[str, object]]) -> None:
    """VideoDemographics.csv and processedResults/summaryTable.csv, as CREMA-D ships them."""
    demographics = []
    for a in range(config.actors):
        actor = make_actor(config, a)
        sex = "Female" if actor.gender == "F" else "Male"
        demographics.append({"ActorID": actor.number, "Age": actor.age, "Sex": sex, "Race": "Unknown", "Ethnicity": "Not Hispanic"})
    write_text(root / "VideoDemographics.csv", _csv_text(demographics))
    letters = {"angry": "A", "disgust": "D", "fearful": "F", "happy": "H", "neutral": "N", "sad": "S"}
    summary = []
    for i, row in enumerate(rows):
        vote, level = letters[str(row["class"])], round(100 * float(row["magnitude"]), 1)  # type: ignore[arg-type]
        summary.append(
            {
                "": i,
                "FileName": row["clip_id"],
                "VoiceVote": vote,
                "VoiceLevel": level,
                "FaceVote": vote,
                "FaceLevel": level,
                "MultiModalVote": vote,
                "MultiModalLevel": level,
            }
        )
    write_text(root / "processedResults" / "summaryTable.csv", _csv_text(summary))


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from bench.console import default_console

    return Progress(
        TextColumn("[bold]synth[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=default_console(),
        disable=not enabled,
        transient=False,
    )


def generate_corpus(
    root: str | Path,
    config: SynthConfig = SynthConfig(),
    *,
    progress: bool = True,
    workers: int = 1,
    overwrite: bool = False,
) -> Path:
    """Write the synthetic corpus to ``root`` and return it.

    The corpus is built in a hidden temporary folder beside ``root`` and renamed into place
    at the end, so ``root`` is either absent, the old corpus or the complete new one, never
    half a corpus. An existing non-empty ``root`` is an error unless ``overwrite``.
    ``workers`` > 1 uses that many processes (0: one per idle core, at most 4); the files do
    not depend on it.
    """
    from bench.cores import MIN_CLIPS_PER_WORKER, data_workers

    root = Path(root).resolve()
    with atomic_folder(root, overwrite=overwrite) as tmp:
        specs = plan_corpus(config)
        workers = data_workers(workers, len(specs), MIN_CLIPS_PER_WORKER)
        jobs = [(config, spec, str(tmp)) for spec in specs]
        rows: list[dict[str, object]] = []
        with _progress(progress) as bar:
            task = bar.add_task("synth", total=len(jobs))
            if workers > 1:
                with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
                    for row in pool.map(_make_clip, jobs, chunksize=4):
                        rows.append(row)
                        bar.advance(task)
            else:
                for job in jobs:
                    rows.append(_make_clip(job))
                    bar.advance(task)
        if config.layout == "cremad":
            _write_cremad_tables(tmp, config, rows)
        write_json(
            tmp / CONFIG_FILE,
            {"generator": GENERATOR_VERSION, "key": corpus_key(config), "config": to_dict(config), "design": design_table()},
        )
        write_text(tmp / META_FILE, _csv_text(rows))  # written last: its presence marks a finished corpus
    return root


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would fight them


def ensure_synthetic_corpus(config: SynthConfig = SynthConfig(), *, progress: bool = True, workers: int = 0) -> Path:
    """The corpus for ``config`` under ``bench_home()/corpora``, generated once and then reused."""
    from bench.paths import corpora_dir

    root = corpora_dir() / f"synthetic-{config.layout}-{corpus_key(config)}"
    if (root / META_FILE).is_file():
        return root
    try:
        return generate_corpus(root, config, progress=progress, workers=workers, overwrite=root.exists())
    except OSError:
        if (root / META_FILE).is_file():  # another process finished the same corpus first
            return root
        raise


def read_meta(root: str | Path) -> list[dict[str, str]]:
    """The rows of a generated corpus's ``synthetic_meta.csv`` (strings, as written)."""
    path = Path(root) / META_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; is {root} a synthetic corpus (bench synth)?")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def describe(config: SynthConfig) -> dict[str, object]:
    """A one-line-summary's worth of numbers about what ``config`` generates."""
    specs = plan_corpus(config)
    return {"clips": len(specs), "actors": config.actors, "classes": len(CLASSES), "layout": config.layout}


__all__ = [
    "Actor",
    "Clip",
    "ClipSpec",
    "SynthConfig",
    "corpus_key",
    "describe",
    "ensure_synthetic_corpus",
    "generate_corpus",
    "make_actor",
    "plan_corpus",
    "read_meta",
    "synthesize_clip",
]
