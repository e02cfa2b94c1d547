"""MSP-IMPROV: 12 actors in 6 dyadic sessions, clips named ``MSP-IMPROV-S08A-M04-S-FM16``.

From the name: ``S08A`` target sentence 08 and target emotion A (A/H/S/N); ``M04`` the
speaker's gender and session 04; ``S`` the condition (R read, S, P, T as in the corpus); ``FM16``
the pair and a running number. Each session has one female and one male actor, so the
``M04`` token identifies an actor and is used as the speaker id; the session column holds the
session number without padding (``"4"``), the ids the leave-one-session-out folds use.

Media are found anywhere under ``root`` (``*.avi``/``*.mp4`` video, ``*.wav`` sound of the same
clip id). Labels are not in the file names: the corpus's evaluation file holds a consensus
category and mean arousal/valence/dominance ratings (1-5), and its exact layout is in
documentation we do not have. So the user supplies them as a CSV (``labels=path``), with these
accepted column names (case-insensitive, first match wins):

============ ==========================================================================
clip id      ``clip_id``, ``FileName``, ``file_name``, ``file``, ``name`` (an extension is stripped)
label        ``label``, ``emotion``, ``EmoClass``, ``consensus``, ``category``
arousal      ``arousal``, ``EmoAct``, ``activation``, ``act``
valence      ``valence``, ``EmoVal``, ``val``
dominance    ``dominance``, ``EmoDom``, ``dom``
============ ==========================================================================

Label values may be letters (A, H, S, N) or names (angry, anger, ...). The categorical
protocol has four classes; a clip whose consensus is anything else (O for other, X for no
agreement, ...) is excluded with a count, or kept unlabelled for the dimensional protocol with
``keep_unlabelled=True``. ``label_source="target"`` instead labels each clip with the target
emotion of its name (the acted emotion, no label file needed). The generic ``manifest``
dataset accepts MSP-IMPROV as well, for any other layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from bench.data.corpora.base import MEDIA_EXTENSIONS, Report, preview, read_csv_table, relative
from bench.data.labels import ALIASES, CorpusLabels
from bench.data.manifest import Manifest
from bench.errors import ConfigError

NAME_RE = re.compile(r"^MSP-IMPROV-S(\d{2})([AHSN])-([FM])(0[1-6])-([RSPT])-([FM]{2})(\d+)$")
VIDEO_EXTENSIONS = (".avi", ".mp4")
AUDIO_EXTENSIONS = (".wav",)
COLUMN_NAMES = {
    "clip_id": ("clip_id", "filename", "file_name", "file", "name"),
    "label": ("label", "emotion", "emoclass", "consensus", "category"),
    "arousal": ("arousal", "emoact", "activation", "act"),
    "valence": ("valence", "emoval", "val"),
    "dominance": ("dominance", "emodom", "dom"),
}



# MSP-IMPROV, 4-class protocol: the target-emotion letter of the file name and the letters of
# the consensus labels (other consensus codes, e.g. O "other" or X "no agreement", are outside).
LABELS = CorpusLabels(
    corpus="mspimprov",
    vocabulary=("neutral", "happy", "sad", "angry"),
    codes={"N": "neutral", "H": "happy", "S": "sad", "A": "angry"},
)

# Folds are drawn over the six recording sessions.
SESSIONS: tuple[str, ...] = tuple(str(s) for s in range(1, 7))


def describe_labels(options: dict) -> tuple[str, tuple[str, ...]]:
    return ("acted" if options.get("label_source") == "target" else "perceived consensus"), LABELS.vocabulary


@dataclass
class MspImprovOptions:
    labels: str = field(default="", metadata={"path": True})  # path of the label CSV (see the module docstring); made absolute
    label_source: Literal["file", "target"] = "file"  # consensus from the label CSV, or the target emotion in the name
    keep_unlabelled: bool = False  # keep clips whose consensus is outside the 4 classes (label "") for regression


def parse_name(stem: str) -> dict[str, str] | None:
    match = NAME_RE.match(stem)
    if not match:
        return None
    sentence, target, gender, session, condition, pair, number = match.groups()
    return {"sentence": sentence, "target": target, "gender": gender, "session": str(int(session)),
            "speaker": f"{gender}{session}", "condition": condition, "pair": f"{pair}{number}"}


def pick_columns(table: pd.DataFrame, path: Path) -> dict[str, str]:
    """Our column name -> the label file's column name, by the accepted spellings."""
    lower = {c.strip().lower(): c for c in table.columns}
    chosen = {}
    for ours, spellings in COLUMN_NAMES.items():
        for spelling in spellings:
            if spelling in lower:
                chosen[ours] = lower[spelling]
                break
    if "clip_id" not in chosen:
        raise ConfigError(f"{path}: no clip id column; accepted names {list(COLUMN_NAMES['clip_id'])}, has {list(table.columns)}")
    if "label" not in chosen and not any(t in chosen for t in ("arousal", "valence", "dominance")):
        raise ConfigError(f"{path}: neither a label column {list(COLUMN_NAMES['label'])} nor arousal/valence/dominance")
    return chosen


def decode_label(value: str) -> str | None:
    """A 4-class name for a consensus value, or ``None`` when it is outside the protocol."""
    value = str(value).strip()
    name = LABELS.decode(value.upper()) if len(value) == 1 else ALIASES.get(value.lower())
    return name if name in LABELS.vocabulary else None


def read_labels(path: Path) -> tuple[pd.DataFrame, tuple[str, ...], bool]:
    """The label file as ``clip_id, label?, arousal?, ...``; which targets; whether it has labels."""
    csv_table = read_csv_table(path, "MSP-IMPROV label file (labels=...)")
    table = csv_table.frame
    chosen = pick_columns(table, path)
    if table.empty:
        raise ConfigError(f"{path}: the label file has a header but no rows")
    out = pd.DataFrame({ours: table[theirs].str.strip() for ours, theirs in chosen.items()})
    out["clip_id"] = out["clip_id"].map(lambda s: Path(s).stem if Path(s).suffix.lower() in MEDIA_EXTENSIONS else s)
    duplicated = out["clip_id"].duplicated(keep=False)
    if duplicated.any():
        lines = csv_table.line_of(out.index[duplicated])
        shown = [f"{c} (line {n})" for c, n in zip(out.loc[duplicated, "clip_id"], lines)]
        raise ConfigError(f"{path}: clips listed twice: {preview(shown, 6)}")
    targets = tuple(t for t in ("arousal", "valence", "dominance") if t in out.columns)
    for t in targets:
        values = pd.to_numeric(out[t].replace("", float("nan")), errors="coerce")
        bad = values.isna() & (out[t] != "")
        if bad.any():
            shown = [f"line {n}: {v!r}" for n, v in zip(csv_table.line_of(out.index[bad]), out.loc[bad, t])]
            raise ConfigError(f"{path}: column {chosen[t]} has non-numeric values ({preview(shown)})")
        out[t] = values
    return out, targets, "label" in out.columns


def nothing_usable(root: Path, videos: dict, bad: list, label_path: Path | None, by_clip, unlabelled: list,
                   outside: dict) -> str:
    """Why no clip is left: what was found, what the task accepts, and how many rows went where."""
    head = f"mspimprov: no usable clips under {root}"
    if not videos:
        found = f" ({len(bad)} media files there do not follow the MSP-IMPROV naming scheme, e.g. {bad[0][0]})" if bad else ""
        return (f"{head}: no video named MSP-IMPROV-S<nn><A|H|S|N>-<F|M><session>-<R|S|P|T>-<pair><n> "
                f"with extension {'/'.join(VIDEO_EXTENSIONS)}{found}")
    accepted = f"{list(LABELS.vocabulary)} (codes {', '.join(LABELS.codes)} or their names)"
    label_ids = sorted(by_clip.index) if by_clip is not None else []
    matched = len(videos) - len(unlabelled)
    parts = [f"{len(videos)} videos found; the label file {label_path} has {len(label_ids)} rows, "
             f"{matched} of which name one of those videos"]
    if unlabelled:
        ids = (f" (label file ids look like {preview(label_ids, 3)}; video ids like {preview(sorted(videos), 2)})"
               if not matched else "")
        parts.append(f"{len(unlabelled)} videos excluded as not in the label file{ids}")
    if outside:
        kinds = pd.Series(list(outside.values())).value_counts().head(8).to_dict()
        parts.append(f"{len(outside)} videos have a label outside the task's classes {accepted}: labels found {kinds}")
    parts.append("use label_source=target for the acted (target) emotion of each file name, or "
                 "keep_unlabelled=true with arousal/valence/dominance columns for the dimensional protocol")
    return f"{head}: " + "; ".join(parts)


def build(root: Path, options: MspImprovOptions, report: Report) -> Manifest:
    videos: dict[str, Path] = {}
    wavs: dict[str, Path] = {}
    bad: list[tuple[str, str]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS):
        rel = relative(path, root)
        fields = parse_name(path.stem)
        if fields is None:
            bad.append((rel, "not MSP-IMPROV-S<nn><A|H|S|N>-<F|M><session 01-06>-<R|S|P|T>-<pair><n>"))
        elif path.suffix.lower() in VIDEO_EXTENSIONS:
            if path.stem in videos:
                bad.append((rel, f"second video of {path.stem}"))
            else:
                videos[path.stem] = path
        elif path.suffix.lower() in AUDIO_EXTENSIONS:
            if path.stem in wavs:
                bad.append((rel, f"second wav of {path.stem}"))
            else:
                wavs[path.stem] = path
        else:
            bad.append((rel, f"extension {path.suffix} is neither video {VIDEO_EXTENSIONS} nor audio {AUDIO_EXTENSIONS}"))
    report.unrecognised(bad)
    report.excluded("a wav without a video of the clip", sorted(set(wavs) - set(videos)))

    if options.label_source == "file":
        if not options.labels:
            raise ConfigError(
                "mspimprov: labels are not in the file names; pass --option labels=<CSV> (clip_id/FileName, label, "
                "arousal, valence, dominance) or --option label_source=target for the acted target emotion"
            )
        label_path = Path(options.labels).expanduser()
        label_path = label_path if label_path.is_absolute() else (Path.cwd() / label_path)
        table, targets, has_labels = read_labels(label_path)
        by_clip = table.set_index("clip_id")
        no_media = sorted(set(by_clip.index) - set(videos))
        if no_media:
            report.warn(f"{len(no_media)} clips in {label_path.name} have no video under {root}: {preview(no_media)}")
    else:
        by_clip, targets, has_labels = None, (), True

    rows, unlabelled, outside = [], [], {}
    for clip_id, video in sorted(videos.items()):
        fields = parse_name(clip_id)
        row = {
            "clip_id": clip_id, "corpus": "mspimprov", "speaker": fields["speaker"], "gender": fields["gender"],
            "session": fields["session"], "label": "", "video_path": relative(video, root),
            "audio_path": relative(wavs[clip_id], root) if clip_id in wavs else "",
            "sentence": fields["sentence"], "target": LABELS.decode(fields["target"]),
            "condition": fields["condition"], "pair": fields["pair"],
        }
        if by_clip is None:
            row["label"] = row["target"]
        else:
            if clip_id not in by_clip.index:
                unlabelled.append(clip_id)
                continue
            entry = by_clip.loc[clip_id]
            for t in targets:
                row[t] = entry[t]
            if has_labels:
                name = decode_label(entry["label"])
                if name is None:
                    outside[clip_id] = entry["label"]
                    if not options.keep_unlabelled:
                        continue
                row["label"] = name or ""
        rows.append(row)
    report.excluded("not in the label file", unlabelled)
    if outside:
        kinds = pd.Series(list(outside.values())).value_counts().head(6).to_dict()
        action = "kept with an empty label" if options.keep_unlabelled else "excluded"
        report.warn(f"{len(outside)} clips have a consensus outside the 4 classes {kinds}: {action} ({preview(sorted(outside))})")
    if not rows or (not targets and all(not row["label"] for row in rows)):  # nothing to learn from
        raise ConfigError(nothing_usable(root, videos, bad, label_path if by_clip is not None else None,
                                         by_clip, unlabelled, outside))
    vocabulary = LABELS.vocabulary if has_labels else ()
    return Manifest(pd.DataFrame(rows), "mspimprov", vocabulary, targets, root, report.messages)
