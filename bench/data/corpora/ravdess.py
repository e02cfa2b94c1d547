"""RAVDESS: 24 actors, 8 emotions, named ``Modality-Channel-Emotion-Intensity-Statement-Repetition-Actor``.

Layout read: ``<root>/Actor_XX/*.mp4`` (modality 01 audio-video, 02 video only) and, from the
audio archive, ``<root>/Actor_XX/03-*.wav`` (also found one folder down, as some unpackers
nest the archives).

The trap this adapter exists to avoid: the 01 and 02 files of one trial (same Channel,
Emotion, Intensity, Statement, Repetition and Actor), and the 03 wav of it, are recordings of
the *same take*. Each trial is one row, keyed by its six non-modality fields
(``clip_id = "01-06-01-02-01-12"``): video from the 01 file (the 02 file when only that exists),
sound from the 01 file's own track or the 03 wav (``audio_from``). Counting 01 and 02 files as
separate clips would put the same take in train and test and inflate results.

Speech (channel 01) is the benchmark; song takes are skipped with a note unless
``include_song=True``. Gender follows the corpus's convention: odd actors male, even female.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from bench.data.corpora.base import MEDIA_EXTENSIONS, Report, preview, relative
from bench.data.labels import CANONICAL, CorpusLabels
from bench.data.manifest import Manifest
from bench.errors import ConfigError

NAME_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
ACTOR_DIR_RE = re.compile(r"^Actor_(\d{2})$")
EXTENSION = {"01": ".mp4", "02": ".mp4", "03": ".wav"}



# RAVDESS: the two-digit emotion field of the file name.
LABELS = CorpusLabels(
    corpus="ravdess",
    vocabulary=CANONICAL,
    codes={
        "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
        "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
    },
)

# Odd actor numbers are male, even female (the corpus's documented convention).
GENDERS: dict[str, str] = {str(a): ("M" if a % 2 else "F") for a in range(1, 25)}


def describe_labels(options: dict) -> tuple[str, tuple[str, ...]]:
    return "acted", LABELS.vocabulary


@dataclass
class RavdessOptions:
    include_song: bool = False  # keep channel 02 (song) trials; speech only by default
    audio_from: Literal["auto", "video", "wav"] = "auto"  # auto: the 01 mp4's track if it exists, else the 03 wav
    corpus: str = "ravdess"  # name written to the manifest's corpus column (the synthetic adapter overrides it)


@dataclass(frozen=True)
class Trial:
    """The fields of one RAVDESS file name, minus the modality."""

    channel: str
    emotion: str
    intensity: str
    statement: str
    repetition: str
    actor: str

    @property
    def key(self) -> str:
        return "-".join((self.channel, self.emotion, self.intensity, self.statement, self.repetition, self.actor))


def parse_name(stem: str) -> tuple[str, Trial] | tuple[None, str]:
    """``(modality, Trial)`` for a valid RAVDESS name, else ``(None, reason)``."""
    match = NAME_RE.match(stem)
    if not match:
        return None, "not seven two-digit fields MM-CC-EE-II-SS-RR-AA"
    modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
    if modality not in EXTENSION:
        return None, f"modality {modality} is not 01, 02 or 03"
    if channel not in ("01", "02"):
        return None, f"channel {channel} is not 01 (speech) or 02 (song)"
    if emotion not in LABELS.codes:
        return None, f"emotion {emotion} is not 01-08"
    if intensity not in ("01", "02"):
        return None, f"intensity {intensity} is not 01 or 02"
    if statement not in ("01", "02") or repetition not in ("01", "02"):
        return None, "statement and repetition must be 01 or 02"
    if not 1 <= int(actor) <= 24:
        return None, f"actor {actor} outside 01-24"
    return modality, Trial(channel, emotion, intensity, statement, repetition, actor)


def actor_dirs(root: Path) -> list[Path]:
    """``Actor_XX`` folders directly under ``root`` or one level down."""
    dirs = [p for p in (*root.glob("Actor_*"), *root.glob("*/Actor_*")) if p.is_dir()]
    if not dirs:
        raise ConfigError(f"ravdess: no Actor_XX folders under {root} (expected <root>/Actor_01/01-01-01-01-01-01-01.mp4 ...)")
    return sorted(dirs)


def scan(root: Path, report: Report) -> dict[Trial, dict[str, Path]]:
    """``trial -> {modality: file}``; every file that is not a RAVDESS take is reported."""
    trials: dict[Trial, dict[str, Path]] = {}
    bad: list[tuple[str, str]] = []
    dirs = actor_dirs(root)
    for folder in dirs:
        folder_match = ACTOR_DIR_RE.match(folder.name)
        for path in sorted((p for p in folder.rglob("*") if p.is_file()), key=str):
            rel = f"{relative(folder, root)}/{path.relative_to(folder).as_posix()}"
            if not folder_match:
                bad.append((rel, f"folder {folder.name} is not Actor_XX"))
                continue
            modality, trial = parse_name(path.stem)
            if modality is None:
                bad.append((rel, trial))
                continue
            if path.suffix.lower() != EXTENSION[modality]:
                bad.append((rel, f"modality {modality} files are {EXTENSION[modality]}"))
                continue
            if trial.actor != folder_match.group(1):
                bad.append((rel, f"actor field {trial.actor} does not match folder {folder.name}"))
                continue
            slot = trials.setdefault(trial, {})
            if modality in slot:
                bad.append((rel, f"second copy of trial {trial.key} modality {modality} (first: {relative(slot[modality], root)})"))
                continue
            slot[modality] = path
    seen = set()
    for folder in dirs:
        seen.update(folder.rglob("*"))
    loose = [(relative(path, root), "media file outside the Actor_XX folders")
             for path in sorted(root.rglob("*"), key=str)
             if path.suffix.lower() in MEDIA_EXTENSIONS and path not in seen and path.is_file()]
    report.unrecognised(bad + loose)
    return trials


def build_frame(root: Path, options: RavdessOptions, report: Report) -> pd.DataFrame:
    """One row per trial (the synthetic adapter reuses this and relabels)."""
    trials = scan(root, report)
    song = [t.key for t in trials if t.channel == "02"]
    if song and not options.include_song:
        report.warn(f"skipped {len(song)} song trials (channel 02); include_song=True keeps them")
    rows, audio_only, silent, paired, fallback = [], [], [], 0, []
    for trial in sorted(trials, key=lambda t: (int(t.actor), t.key)):
        if trial.channel == "02" and not options.include_song:
            continue
        files = trials[trial]
        video = files.get("01") or files.get("02")
        if video is None:
            audio_only.append(trial.key)
            continue
        if "01" in files and "02" in files:
            paired += 1
        wav = files.get("03")
        if options.audio_from == "wav":
            audio = wav
            if wav is None:
                if "01" not in files:
                    silent.append(trial.key)
                    continue
                fallback.append(trial.key)
        elif options.audio_from == "video":
            audio = None
            if "01" not in files:
                if wav is None:
                    silent.append(trial.key)
                    continue
                audio = wav
                fallback.append(trial.key)
        else:  # auto
            audio = None if "01" in files else wav
            if "01" not in files and wav is None:
                silent.append(trial.key)
                continue
        rows.append({
            "clip_id": trial.key,
            "corpus": options.corpus,
            "speaker": str(int(trial.actor)),
            "gender": "M" if int(trial.actor) % 2 else "F",
            "session": "",
            "label": LABELS.decode(trial.emotion),
            "video_path": relative(video, root),
            "audio_path": relative(audio, root) if audio is not None else "",
            "channel": "speech" if trial.channel == "01" else "song",
            "intensity": "normal" if trial.intensity == "01" else "strong",
            "statement": trial.statement,
            "repetition": trial.repetition,
        })
    if paired:
        report.warn(f"{paired} trials have both a modality-01 and a modality-02 file (the same take): counted once each")
    report.excluded("only a 03 wav, no video of the take", audio_only)
    report.excluded("only a modality-02 (silent) video and no 03 wav", silent)
    if fallback:
        report.warn(f"audio_from={options.audio_from!r} unavailable for {len(fallback)} trials; used the other source ({preview(fallback)})")
    if not rows:
        raise ConfigError(f"ravdess: no usable trials under {root}")
    return pd.DataFrame(rows)


def build(root: Path, options: RavdessOptions, report: Report) -> Manifest:
    frame = build_frame(root, options, report)
    return Manifest(frame, options.corpus, LABELS.vocabulary, (), root, report.messages)
