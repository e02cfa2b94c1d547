"""Aff-Wild2 (the ABAW valence-arousal track): one clip per annotated face track of a video.

Layout read (the ABAW release; the synthetic corpus ``bench synth --layout affwild2`` writes the
same)::

    <root>/annotations/VA_Estimation_Challenge/Train_Set/<track>.txt
    <root>/annotations/VA_Estimation_Challenge/Validation_Set/<track>.txt
    <root>/<any folder>/<video>.mp4|.avi|...            (ABAW: batch1/, batch2/, new_vids/, ...)
    <root>/cropped_aligned/<track>/00001.jpg ...         (optional: the released face crops)

The annotation folder may also be ``<root>/VA_Estimation_Challenge`` or the older ``VA_Set``.
A track is a video's stem, or ``<video>_left`` / ``<video>_right`` for the videos that show two
subjects (one annotation file each, as ABAW names them). Each track becomes one manifest row:

- ``clip_id`` = the track; ``video_path`` = its video (the ``_left``/``_right`` suffix removed);
  ``annotation_path`` = its ABAW file; ``faces_path`` = ``cropped_aligned/<track>`` when that
  folder exists (prepare then uses those crops instead of running a face detector; a two-subject
  track without crops is detected in its half of the frame), else empty; ``partition`` = the
  ABAW set (Train_Set / Validation_Set); ``subject`` = left / right / empty.
- ``speaker`` = the video's stem. Aff-Wild2 has no speaker ids across videos, so the video is
  the only group that is known; both tracks of a two-subject video share one group on purpose:
  they share the sound track, and putting one in training and the other in testing would leak it.
- ``label`` is empty and the manifest's targets are ``("valence", "arousal")``; their clip-level
  columns stay NaN: the per-frame targets live in the annotation files and reach the feature
  store as ``frame_target``/``frame_valid``/``ann_target``/``ann_valid`` (see
  :mod:`bench.data.frame_clips`).

The adapter reads names only (no annotation file is opened here): a malformed file is reported
by ``prepare`` for its clip, with the file and line, and that clip is skipped.

Test_Set folders (the challenge's test labels are not public) are noted and skipped. The
official partition is the split scheme ``affwild2/official`` (:mod:`bench.splits.official`):
Validation_Set is the test set, validation videos are drawn from Train_Set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.data.corpora.base import MEDIA_EXTENSIONS, Report, relative
from bench.data.manifest import Manifest
from bench.errors import ConfigError

CORPUS = "affwild2"
FRAME_TARGETS = ("valence", "arousal")  # the per-frame targets, in the order of frame_target's columns
SETS = ("Train_Set", "Validation_Set")
TEST_SETS = ("Test_Set", "TestSet")
ANNOTATION_DIRS = ("annotations/VA_Estimation_Challenge", "VA_Estimation_Challenge", "annotations/VA_Set", "VA_Set")
CROPS_DIR = "cropped_aligned"
SUBJECTS = ("left", "right")
VIDEO_EXTENSIONS = tuple(e for e in MEDIA_EXTENSIONS if e not in (".wav", ".flac", ".m4a"))


@dataclass
class AffWild2Options:
    use_cropped: bool = True  # use cropped_aligned/<track>/ frames when present (else detect faces)
    corpus: str = CORPUS  # name written to the manifest's corpus column


def annotation_root(root: Path) -> Path:
    for name in ANNOTATION_DIRS:
        folder = root / name
        if any((folder / s).is_dir() for s in SETS):
            return folder
    raise ConfigError(f"affwild2: no VA annotation folder under {root} (expected "
                      f"{root}/annotations/VA_Estimation_Challenge/Train_Set/<video>.txt and Validation_Set/)")


def split_track(track: str) -> tuple[str, str]:
    """``("<video>", "left"|"right"|"")`` of a track name."""
    for subject in SUBJECTS:
        if track.endswith(f"_{subject}"):
            return track[: -len(subject) - 1], subject
    return track, ""


def scan_videos(root: Path, skip: tuple[Path, ...], report: Report) -> dict[str, Path]:
    """Video stem -> file, for every video file under ``root`` outside the annotation/crop folders."""
    videos: dict[str, Path] = {}
    duplicated: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*"), key=str):
        if path.suffix.lower() not in VIDEO_EXTENSIONS or not path.is_file():
            continue
        if any(path.is_relative_to(s) for s in skip):
            continue
        if path.stem in videos:
            duplicated.append((relative(path, root), f"second video named {path.stem} (first: {relative(videos[path.stem], root)})"))
            continue
        videos[path.stem] = path
    report.unrecognised(duplicated)
    return videos


def build(root: Path, options: AffWild2Options, report: Report) -> Manifest:
    annotations = annotation_root(root)
    crops_root = root / CROPS_DIR
    videos = scan_videos(root, (annotations, crops_root), report)
    for name in TEST_SETS:
        if (annotations / name).is_dir():
            report.warn(f"skipped {annotations.name}/{name}: the challenge's test labels are not public "
                        "(the official scheme tests on Validation_Set)")
    rows, no_video, bad = [], [], []
    seen: dict[str, str] = {}
    for partition in SETS:
        folder = annotations / partition
        if not folder.is_dir():
            report.warn(f"no {partition} folder in {relative(annotations, root)}")
            continue
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            rel = relative(path, root)
            if not path.is_file() or path.suffix.lower() != ".txt":
                bad.append((rel, "not a .txt annotation file"))
                continue
            track = path.stem
            if track in seen:
                bad.append((rel, f"track {track} is annotated in both {seen[track]} and {partition}"))
                continue
            seen[track] = partition
            video_name, subject = split_track(track)
            video = videos.get(video_name) or videos.get(track)
            if video is None:
                no_video.append(track)
                continue
            faces = crops_root / track
            rows.append({
                "clip_id": track,
                "corpus": options.corpus,
                "speaker": video.stem,
                "gender": "",
                "session": "",
                "label": "",
                "video_path": relative(video, root),
                "audio_path": "",
                "annotation_path": rel,
                "faces_path": relative(faces, root) if options.use_cropped and faces.is_dir() else "",
                "partition": partition,
                "subject": subject,
            })
    report.unrecognised(bad, "unrecognised annotation file")
    report.excluded("annotation without a video of that name under the corpus root", no_video)
    if not rows:
        raise ConfigError(f"affwild2: no annotated track under {root} has its video "
                          f"({len(seen)} annotation files, {len(videos)} videos found)")
    frame = pd.DataFrame(rows)
    return Manifest(frame, options.corpus, (), FRAME_TARGETS, root, report.messages)


__all__ = ["AffWild2Options", "FRAME_TARGETS", "build", "split_track"]
