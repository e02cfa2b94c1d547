"""What every corpus adapter shares: a registry entry, and one way to report what it left out.

An adapter reads *names* only (folders, file names, label tables), never media content, so
building a manifest of a full corpus takes a second. Anything it cannot place is reported, not
dropped: a file whose name it does not recognise goes into :attr:`Manifest.warnings` (and
Python's ``warnings``), or, with ``strict=True``, stops the build with an error that names the
files. Clips left out on purpose by the protocol (song takes, no-majority votes) are counted in
a warning too, so the number of clips in a manifest can always be explained.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from bench.errors import BenchError, ConfigError

# Extensions a media file of any supported corpus may have; other files in media folders are
# reported as unrecognised like any misnamed media file.
MEDIA_EXTENSIONS = (".flv", ".mp4", ".avi", ".mkv", ".mov", ".webm", ".wav", ".flac", ".m4a")
# How many names one warning or error lists before summarising the rest as a count.
SHOWN = 20


class CorpusWarning(UserWarning):
    """A corpus adapter left something out or could not place a file."""


class UnrecognisedFilesError(BenchError):
    """``strict=True``: files in the corpus folder do not follow the corpus's naming scheme."""

    def __init__(self, corpus: str, root: Path, files: list[tuple[str, str]], what: str = "unrecognised file"):
        self.files = files  # (path relative to root, reason)
        super().__init__(f"{corpus} at {root}: {describe_files(files, what)}")


def describe_files(files: list[tuple[str, str]], what: str = "unrecognised file") -> str:
    shown = "; ".join(f"{path} ({reason})" for path, reason in files[:SHOWN])
    more = f"; and {len(files) - SHOWN} more" if len(files) > SHOWN else ""
    plural = "s" if len(files) != 1 else ""
    return f"{len(files)} {what}{plural}: {shown}{more}"


def preview(items, n: int = 5) -> str:
    items = list(items)
    head = ", ".join(str(i) for i in items[:n])
    return head + (f", ... (+{len(items) - n})" if len(items) > n else "")


@dataclass
class Report:
    """Collects an adapter's warnings; raises on unrecognised files when strict."""

    corpus: str  # corpus name, for messages
    root: Path  # corpus root, for messages
    strict: bool = False  # raise instead of warning on files the adapter cannot place
    messages: list[str] = field(default_factory=list)  # what ends up in Manifest.warnings

    def warn(self, message: str) -> None:
        self.messages.append(message)
        warnings.warn(f"{self.corpus}: {message}", CorpusWarning, stacklevel=3)

    def unrecognised(self, files: list[tuple[str, str]], what: str = "unrecognised file", action: str = "left out") -> None:
        """Files the adapter cannot place: an error when strict, else one warning naming them."""
        if not files:
            return
        files = sorted(files)
        if self.strict:
            raise UnrecognisedFilesError(self.corpus, self.root, files, what)
        self.warn(describe_files(files, what) + f" ({action}; strict=True makes this an error)")

    def excluded(self, reason: str, clip_ids) -> None:
        """Clips the protocol leaves out on purpose, counted with a few examples."""
        clip_ids = sorted(clip_ids)
        if clip_ids:
            self.warn(f"excluded {len(clip_ids)} clips: {reason} (e.g. {preview(clip_ids)})")


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form (manifests travel between machines)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def require_dir(path: Path, corpus: str, hint: str) -> Path:
    if not path.is_dir():
        raise ConfigError(f"{corpus}: expected folder {path} ({hint})")
    return path


@dataclass(frozen=True)
class Adapter:
    """A registered corpus adapter: everything the framework knows about one corpus.

    Adding a corpus is writing one adapter module and registering it: its options, how it
    builds a manifest, its label vocabulary, who its speakers (or sessions) are, its default
    split scheme and which options define a protocol. Splits, protocols and reports read these
    fields and never name a corpus.
    """

    name: str  # dataset name used by build_manifest / the CLI
    options: type  # dataclass of the adapter's options (unknown keys are rejected)
    build: Callable[..., Any]  # build(root: Path, options, report: Report) -> Manifest
    summary: str  # one line for listings
    labels: Any = None  # bench.data.labels.CorpusLabels: vocabulary in class order, corpus codes
    default_scheme: str = "kfold"  # the split scheme used when none is named
    group_by: str = "speaker"  # the manifest column folds are drawn over ("session": MSP-IMPROV)
    groups: Mapping[str, str] = field(default_factory=dict)  # known group ids -> gender M/F ("" unknown)
    kfold: bool = True  # whether generated k-fold schemes over its groups make sense
    # Options that change which clips or labels a run sees, hence its protocol (None: every
    # option except paths and the corpus name).
    protocol_options: tuple[str, ...] | None = None
    # (label source, classes) under given options, e.g. ("perceived consensus", (...)).
    describe_labels: Callable[[dict], tuple[str, tuple[str, ...]]] | None = None


# -- CSV input --------------------------------------------------------------------------------
# Every table an adapter reads (a user's manifest, a label file, CREMA-D's summaryTable.csv and
# VideoDemographics.csv, synthetic_meta.csv) comes through ``read_csv_table``, so that a broken
# file always stops with its name, the line and the reason instead of a parser traceback, or,
# worse, a shifted column that silently becomes data.


@dataclass
class CsvTable:
    """A CSV file read as text: every cell a ``str``, and the file line each row starts on."""

    path: Path
    frame: pd.DataFrame  # columns as written (stripped), cells as written; short rows padded with ""
    lines: list[int]  # lines[i]: the line of the file (1 = first line) on which row i starts

    def line_of(self, positions) -> list[int]:
        """File lines of the rows at these positions (for messages)."""
        return [self.lines[int(i)] for i in positions]


def read_csv_table(path: str | Path, what: str = "CSV file", required: tuple[str, ...] = ()) -> CsvTable:
    """Read ``path`` as a UTF-8 CSV with a header line; every defect is a :class:`ConfigError`.

    ``required``: columns the header must name (a missing one is an error naming the file, the
    missing columns and the ones it has).

    Named defects: the file is missing, a folder or unreadable; empty; binary (NUL bytes) or
    not UTF-8; a quote that is never closed, or text after a closing quote; a row with more
    fields than the header (the line is named: usually a comma inside an unquoted value).
    Rows with fewer fields are padded with empty strings (as pandas does) and blank lines are
    skipped; a row whose extra fields are all empty (trailing commas) is accepted.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: {what} is a folder, not a file") from None
    except PermissionError:
        raise ConfigError(f"{path}: {what} cannot be read (permission denied)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {what} cannot be read ({exc.strerror or exc})") from None
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: NUL byte; the {what} must be a text CSV file "
                          "(is it binary, a spreadsheet, or saved as UTF-16?)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8; "
                          f"save the {what} as UTF-8 CSV") from None
    if not text.strip():
        raise ConfigError(f"{path}: the {what} is empty (expected a header line naming the columns)")

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record:
                continue  # blank line
            if header is None:
                header = [name.strip() for name in record]
                continue
            if len(record) > len(header):
                extra = record[len(header):]
                if any(value.strip() for value in extra):
                    raise ConfigError(
                        f"{path}: line {line}: {len(record)} fields, but the header has {len(header)} "
                        f"(extra {preview(repr(v) for v in extra)}); a comma inside a value needs the value in double quotes"
                    )
                record = record[: len(header)]
            rows.append(record + [""] * (len(header) - len(record)))
            lines.append(line)
    except csv.Error as exc:
        reason = str(exc)
        if "unexpected end of data" in reason or "EOF" in reason:
            raise ConfigError(f"{path}: line {start}: a double quote opened here is never "
                              "closed (unterminated quote); the rest of the file was read as one value") from None
        if "expected after" in reason:
            raise ConfigError(f"{path}: line {reader.line_num}: text after a closing double quote ({reason}); "
                              'write a quote inside a quoted value as ""') from None
        raise ConfigError(f"{path}: line {reader.line_num}: malformed CSV ({reason})") from None
    assert header is not None  # text is not blank, so some record came first
    names = [name or f"Unnamed: {i}" for i, name in enumerate(header)]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"{path}: line 1: columns {duplicated} appear more than once in the header")
    frame = pd.DataFrame(rows, columns=names, dtype=str) if rows else pd.DataFrame({n: pd.Series(dtype=str) for n in names})
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: lacks columns {missing}; has {list(frame.columns)}")
    return CsvTable(path, frame, lines)
