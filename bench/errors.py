"""Errors the suite raises on purpose, each naming what went wrong and where.

A researcher should never see a bare ``KeyError`` from deep inside a loader: every error a
user can cause carries the file (or setting) and the reason, and the bad-input kind carries
the pipeline stage so that it can be recorded in a summary and skipped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


class BenchError(Exception):
    """Base class of every error the suite raises deliberately."""


class ConfigError(BenchError, ValueError):
    """A configuration value, override or study file is invalid."""


class RegistryError(BenchError, KeyError):
    """A model name is unknown or registered twice."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0]) if self.args else ""


class MissingInputError(BenchError, KeyError):
    """A model asked for an input (video, flow, audio, ...) that the batch does not carry."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class BadInput:
    """One recorded failure of one input file: what, where in the pipeline, and why."""

    path: str
    stage: str
    reason: str
    clip_id: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class BadInputError(BenchError):
    """A single input file cannot be used. Recorded and skipped unless ``--strict``."""

    def __init__(self, path: str | Path, stage: str, reason: str, clip_id: str = ""):
        self.record = BadInput(str(path), stage, reason, clip_id)
        super().__init__(f"{path}: [{stage}] {reason}")
