"""Whole-ledger views: counts by model and platform, and merging another ledger in."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from bench.ledger.ledger import Ledger
from bench.ledger.record import Record, RecordError


@dataclass
class SummaryRow:
    dataset: str
    model: str
    platform: str
    fresh: int = 0
    stale: int = 0
    walls: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0

    @property
    def median_wall(self) -> float:
        return statistics.median(self.walls) if self.walls else 0.0


@dataclass
class Summary:
    rows: list[SummaryRow]
    unreadable: list[str]

    @property
    def total(self) -> int:
        return sum(r.fresh + r.stale for r in self.rows)

    @property
    def stale(self) -> int:
        return sum(r.stale for r in self.rows)


def current_fingerprints(records: Iterable[Record]) -> dict[str, str | None]:
    """Each recorded model's fingerprint under the code of this checkout (None: not registered here)."""
    from bench.ledger.fingerprint import fingerprint_of
    from bench.models.registry import get_model_entry

    out: dict[str, str | None] = {}
    for record in records:
        if record.model not in out:
            try:
                entry = get_model_entry(record.model)
            except KeyError:
                out[record.model] = None
                continue
            out[record.model] = fingerprint_of(entry.model_class, entry.config_class)
    return out


def summarize(ledger: Ledger) -> Summary:
    records, unreadable = ledger.records()
    current = current_fingerprints(records)
    rows: dict[tuple, SummaryRow] = {}
    for r in records:
        key = (str(r.job.get("dataset", "")), r.model, r.platform_id)
        row = rows.setdefault(key, SummaryRow(*key))
        if r.fingerprint.get("code") == current.get(r.model):
            row.fresh += 1
        else:
            row.stale += 1
        row.walls.append(float(r.provenance.get("wall_seconds", 0.0) or 0.0))
        row.cpu_seconds += float(r.provenance.get("cpu_seconds", 0.0) or 0.0)
    return Summary([rows[k] for k in sorted(rows)], unreadable)


@dataclass
class MergeOutcome:
    copied: int = 0
    same: int = 0
    conflicts: list[tuple[Path, Path]] = field(default_factory=list)  # (ours, theirs)
    unreadable: list[str] = field(default_factory=list)


def merge(ledger: Ledger, sources: Iterable[str | Path]) -> MergeOutcome:
    """Copy every record of ``sources`` that ``ledger`` lacks (atomically, through
    :meth:`Ledger.write`); equal numbers are the same record, other numbers a conflict (kept)."""
    outcome = MergeOutcome()
    for source in sources:
        records, errors = Ledger(source).records()
        outcome.unreadable += errors
        for record in records:
            target = ledger.path_for(record)
            if target.is_file():
                try:
                    ours = Record.read(target)
                except RecordError as exc:
                    outcome.unreadable.append(str(exc))
                    continue
                if ours.numbers_text() == record.numbers_text():
                    outcome.same += 1
                else:
                    outcome.conflicts.append((target, record.path))
                continue
            ledger.write(record)
            outcome.copied += 1
    return outcome


__all__ = ["MergeOutcome", "Summary", "merge", "summarize"]
