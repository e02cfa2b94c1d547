"""The results ledger: a folder of records, one JSON file per job and platform.

    results/<dataset>/<model>/<key>.<platform id>.json

The key is the job's content key (:func:`bench.study.cache.fold_key`: model, resolved config,
feature store, split checksum, fold, seed, results salt), so the file name says which job it
is and which platform trained it. Because every record has its own name, records from many
machines merge by copying files (``bench ledger merge``, or ``cp -r``, or git): two platforms'
records of one job sit side by side and are both kept. A write goes to a temporary file in
the same folder, then ``os.replace``: concurrent writers of the same record leave one whole
record, never a mix.

Reading picks, for a job, the record of the running platform when there is one, else the
first other platform by name, and always one whose fingerprint is the current code's; the
others are listed as stale by ``bench ledger status``, never silently reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from bench.io import write_text
from bench.ledger.record import Record, RecordError
from bench.paths import safe_name


@dataclass
class Lookup:
    """What the ledger holds for one key."""

    record: Record | None  # the fresh record chosen (None: train the job)
    fresh: list[Record]  # every record of the key with the current fingerprint
    stale: list[Record]  # records of the key trained by other code
    unreadable: list[str]  # files of the key that are not records (named, with the reason)


class Ledger:
    """The records under ``root`` (``results/`` by default; ``$BENCH_LEDGER`` moves it)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Ledger({str(self.root)!r})"

    def path_for(self, record: Record) -> Path:
        dataset = safe_name(record.job.get("dataset", "unknown"), "record dataset")
        model = safe_name(record.model, "record model")
        return self.root / dataset / model / f"{record.key}.{safe_name(record.platform_id, 'record platform')}.json"

    def write(self, record: Record) -> Path:
        """Write ``record`` atomically; an existing record of the same job and platform is replaced."""
        path = self.path_for(record)
        write_text(path, record.to_json())  # a temporary file beside it, fsynced, renamed over it
        record.path = path
        return path

    def files(self, key: str = "*") -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob(f"*/*/{key}.*.json") if not p.name.startswith("."))

    def records(self, key: str = "*") -> tuple[list[Record], list[str]]:
        """Every readable record (of ``key``), and the unreadable files with their reasons."""
        records, errors = [], []
        for path in self.files(key):
            try:
                records.append(Record.read(path))
            except RecordError as exc:
                errors.append(str(exc))
        return records, errors

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records()[0])

    def lookup(self, key: str, fingerprint: str, platform: str = "") -> Lookup:
        """The record to reuse for ``key``: current ``fingerprint``, ``platform``'s own first."""
        records, errors = self.records(key)
        fresh = [r for r in records if r.key == key and r.fingerprint.get("code") == fingerprint]
        stale = [r for r in records if r.key == key and r.fingerprint.get("code") != fingerprint]
        fresh.sort(key=lambda r: (r.platform_id != platform, r.platform_id))
        return Lookup(fresh[0] if fresh else None, fresh, stale, errors)


def default_ledger() -> Ledger | None:
    """The ledger at ``$BENCH_LEDGER`` (``none`` or ``off``: no ledger), else ``./results``."""
    from bench.paths import ledger_dir

    root = ledger_dir()
    return Ledger(root) if root is not None else None
