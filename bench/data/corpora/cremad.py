"""CREMA-D: 7,442 clips of 91 actors (1001-1091), six emotions, named ``1001_DFA_ANG_XX``.

Layout read (see ``shared/reference/corpora.md``)::

    <root>/VideoFlash/<clip>.flv              audio-visual take (``.mp4`` accepted too)
    <root>/AudioWAV/<clip>.wav                optional: the same take's speech as a file
    <root>/VideoDemographics.csv              ActorID, Age, Sex, Race, Ethnicity
    <root>/processedResults/summaryTable.csv  raters' votes (only for label_source="perceived")

Two labelings exist. ``intended`` is the acted emotion in the file name. ``perceived`` is the
crowd's multimodal majority vote (``MultiModalVote``), the labeling of the AuxFormer/VAVL line
(5,820 clips): a vote that is not one of the six letters (``X``, ties written as ``A:N``, empty)
has no majority and the clip is excluded, with a count in the manifest's warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from bench.data.corpora.base import MEDIA_EXTENSIONS, Report, preview, read_csv_table, relative, require_dir
from bench.data.labels import CorpusLabels
from bench.data.manifest import Manifest
from bench.errors import ConfigError

SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
LEVELS = ("LO", "MD", "HI", "XX")
CLIP_RE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
VIDEO_EXTENSIONS = (".flv", ".mp4")  # preference order when both exist for a clip
PERCEIVED_CODES = ("A", "D", "F", "H", "N", "S")



# CREMA-D: file-name codes (intended emotion) and the raters' one-letter codes (perceived).
LABELS = CorpusLabels(
    corpus="cremad",
    vocabulary=("neutral", "happy", "sad", "angry", "fearful", "disgust"),
    codes={
        "NEU": "neutral", "HAP": "happy", "SAD": "sad", "ANG": "angry", "FEA": "fearful", "DIS": "disgust",
        "N": "neutral", "H": "happy", "S": "sad", "A": "angry", "F": "fearful", "D": "disgust",
    },
)

# Who the actors are: actor 1001 + i has sex _SEX[i] (M/F), transcribed from the corpus's own
# VideoDemographics.csv (github.com/CheyneyComputerScience/CREMA-D): 48 male and 43 female
# actors, the counts the corpus paper reports. Generated k-folds balance over them.
_SEX = (
    "MFFFMFFFFFMFF"  # 1001-1013
    "MMMMFMFFMMFFM"  # 1014-1026
    "MFFFMMMMMMFMM"  # 1027-1039
    "MMMFMMFFMFMMF"  # 1040-1052
    "FFFFMFMFFMFMM"  # 1053-1065
    "MMMMMMFFFFFMF"  # 1066-1078
    "FMMFMFMMMMFMF"  # 1079-1091
)
GENDERS: dict[str, str] = {str(1001 + i): sex for i, sex in enumerate(_SEX)}


def describe_labels(options: dict) -> tuple[str, tuple[str, ...]]:
    """(label source, classes) of a protocol under these adapter options."""
    return ("perceived consensus" if options.get("label_source") == "perceived" else "acted"), LABELS.vocabulary


@dataclass
class CremadOptions:
    label_source: Literal["intended", "perceived"] = "intended"  # file-name emotion, or raters' multimodal vote
    use_wav: bool = True  # use AudioWAV/<clip>.wav when present; False: always the video's own track
    corpus: str = "cremad"  # name written to the manifest's corpus column (the synthetic adapter overrides it)


def parse_clip(stem: str) -> tuple[dict[str, str] | None, str]:
    """Fields of a CREMA-D clip id, or ``(None, reason)`` when the name does not follow the scheme."""
    match = CLIP_RE.match(stem)
    if not match:
        return None, "not ActorID_Sentence_Emotion_Level"
    actor, sentence, emotion, level = match.groups()
    if not 1001 <= int(actor) <= 1091:
        return None, f"actor {actor} outside 1001-1091"
    if sentence not in SENTENCES:
        return None, f"unknown sentence {sentence}"
    if emotion not in EMOTIONS:
        return None, f"unknown emotion {emotion}"
    if level not in LEVELS:
        return None, f"unknown level {level}"
    return {"actor": actor, "sentence": sentence, "emotion": emotion, "level": level}, ""


def scan_media(folder: Path, root: Path, extensions, report: Report, kind: str, bad: list) -> dict[str, Path]:
    """``clip id -> file`` for the media in one folder; everything else is appended to ``bad``."""
    found: dict[str, Path] = {}
    duplicates: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() not in extensions:
            bad.append((relative(path, root), f"not a {'/'.join(extensions)} {kind} file"))
            continue
        fields, reason = parse_clip(path.stem)
        if fields is None:
            bad.append((relative(path, root), reason))
            continue
        if path.stem in found:
            duplicates.append(relative(path, root))
            # keep the preferred extension (earlier in ``extensions``)
            if extensions.index(path.suffix.lower()) < extensions.index(found[path.stem].suffix.lower()):
                found[path.stem] = path
            continue
        found[path.stem] = path
    if duplicates:
        report.warn(f"{len(duplicates)} {kind} files repeat a clip in another format; kept one per clip ({preview(duplicates)})")
    return found


def read_genders(root: Path, report: Report) -> dict[str, str]:
    """``actor -> "F"|"M"`` from VideoDemographics.csv (Sex column); empty (with a warning) if absent."""
    path = root / "VideoDemographics.csv"
    if not path.exists():
        report.warn(f"{path.name} not found: gender left empty (gender-balanced folds will not be possible)")
        return {}
    table = read_csv_table(path, "CREMA-D demographics table").frame
    if "ActorID" not in table.columns or "Sex" not in table.columns:
        raise ConfigError(f"{path}: needs columns ActorID and Sex, has {list(table.columns)}")
    sexes = {"male": "M", "female": "F", "m": "M", "f": "F"}
    genders, odd = {}, []
    for actor, sex in zip(table["ActorID"].str.strip(), table["Sex"].str.strip()):
        if sex.lower() in sexes:
            genders[actor] = sexes[sex.lower()]
        else:
            odd.append(f"{actor}={sex!r}")
    if odd:
        report.warn(f"{path.name}: unrecognised Sex values, gender left empty: {preview(odd)}")
    return genders


def read_perceived(root: Path) -> dict[str, str]:
    """``clip id -> MultiModalVote`` (raw string) from processedResults/summaryTable.csv."""
    path = root / "processedResults" / "summaryTable.csv"
    if not path.exists():
        raise ConfigError(f"label_source='perceived' needs {path} (CREMA-D's processedResults/summaryTable.csv)")
    table = read_csv_table(path, "CREMA-D summary table", required=("FileName", "MultiModalVote")).frame
    return dict(zip(table["FileName"].str.strip(), table["MultiModalVote"].str.strip()))


def nothing_usable(root: Path, videos: dict, bad: list, options: CremadOptions, no_vote: list, no_majority: dict) -> str:
    """Why no clip is left: what was found, what the labeling accepts, how many rows went where."""
    head = f"cremad: no usable clips under {root}"
    if not videos:
        found = f" ({len(bad)} files there do not follow it, e.g. {bad[0][0]}: {bad[0][1]})" if bad else ""
        return f"{head}: no take in VideoFlash/ named ActorID_Sentence_Emotion_Level{found}"
    summary = root / "processedResults" / "summaryTable.csv"
    parts = [f"{len(videos)} VideoFlash takes found, all excluded by label_source='perceived'"]
    if no_vote:
        parts.append(f"{len(no_vote)} have no row in {summary} (its FileName values must be clip ids such as {preview(sorted(videos), 2)})")
    if no_majority:
        kinds = pd.Series(list(no_majority.values())).value_counts().head(8).to_dict()
        parts.append(f"{len(no_majority)} have a MultiModalVote that is not one of the accepted majority letters "
                     f"{list(PERCEIVED_CODES)} (values found {kinds})")
    parts.append("label_source='intended' labels every take with the emotion in its name")
    return f"{head}: " + "; ".join(parts)


def build(root: Path, options: CremadOptions, report: Report) -> Manifest:
    video_dir = require_dir(root / "VideoFlash", "cremad", "CREMA-D keeps its audio-visual takes in VideoFlash/")
    bad: list[tuple[str, str]] = []
    videos = scan_media(video_dir, root, VIDEO_EXTENSIONS, report, "video", bad)
    wavs: dict[str, Path] = {}
    if (root / "AudioWAV").is_dir():
        wavs = scan_media(root / "AudioWAV", root, (".wav",), report, "audio", bad)
        orphans = sorted(set(wavs) - set(videos))
        report.excluded("AudioWAV file without a VideoFlash take (an audio-visual benchmark needs the video)", orphans)
        if options.use_wav:
            no_wav = sorted(set(videos) - set(wavs))
            if no_wav:
                report.warn(f"{len(no_wav)} clips have no AudioWAV file; their sound is the video's own track ({preview(no_wav)})")
    bad += [(relative(p, root), "media file outside VideoFlash/ and AudioWAV/")
            for p in sorted(root.iterdir()) if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS]
    report.unrecognised(bad)
    genders = read_genders(root, report)
    votes = read_perceived(root) if options.label_source == "perceived" else {}

    rows, unknown_actor, no_vote, no_majority = [], set(), [], {}
    for clip_id, video in sorted(videos.items()):
        fields, _ = parse_clip(clip_id)
        intended = LABELS.decode(fields["emotion"])
        label = intended
        if options.label_source == "perceived":
            if clip_id not in votes:
                no_vote.append(clip_id)
                continue
            vote = votes[clip_id]
            if vote not in PERCEIVED_CODES:
                no_majority[clip_id] = vote
                continue
            label = LABELS.decode(vote)
        if genders and fields["actor"] not in genders:
            unknown_actor.add(fields["actor"])
        wav = wavs.get(clip_id) if options.use_wav else None
        rows.append({
            "clip_id": clip_id,
            "corpus": options.corpus,
            "speaker": fields["actor"],
            "gender": genders.get(fields["actor"], ""),
            "session": "",
            "label": label,
            "video_path": relative(video, root),
            "audio_path": relative(wav, root) if wav else "",
            "sentence": fields["sentence"],
            "intensity": fields["level"],
            "intended": intended,
        })
    if unknown_actor:
        report.warn(f"actors {sorted(unknown_actor)} are not in VideoDemographics.csv: gender left empty")
    report.excluded("not in summaryTable.csv (no perceived label)", no_vote)
    if no_majority:
        kinds = pd.Series(list(no_majority.values())).value_counts().head(5).to_dict()
        report.excluded(f"MultiModalVote has no single majority emotion (values seen: {kinds})", no_majority)
    if not rows:
        raise ConfigError(nothing_usable(root, videos, bad, options, no_vote, no_majority))
    frame = pd.DataFrame(rows)
    return Manifest(frame, options.corpus, LABELS.vocabulary, (), root, report.messages)
