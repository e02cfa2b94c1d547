"""What every corpus adapter shares: a registry entry, and one way to report what it left out.

An adapter reads *names* only (folders, file names, label tables), never media content, so
building a manifest of a full corpus takes a second. Anything it cannot place is reported, not
dropped: a file whose name it does not recognise goes into :attr:`Manifest.warnings` (and
Python's ``warnings``), or, with ``strict=True``, stops the build with an error that names the
files. Clips left out on purpose by the protocol (song takes, no-majority votes) are counted in
a warning too, so the number of clips in a manifest can always be explained.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

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
    """A registered corpus adapter: its options dataclass and the function that builds."""

    name: str  # dataset name used by build_manifest / the CLI
    options: type  # dataclass of the adapter's options (unknown keys are rejected)
    build: Callable[..., Any]  # build(root: Path, options, report: Report) -> Manifest
    summary: str  # one line for listings
