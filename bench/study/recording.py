"""A job's ledger record: written when the job finishes, read instead of training it.

The runner (:func:`bench.study.runner.execute`) asks :func:`reusable` before it trains: the
local cache first (this machine's own results, with weights), then the ledger (records from
any machine, this platform's first; :mod:`bench.ledger`), and only a fresh record counts: one
whose code fingerprint is the current code's. After a job finishes, :func:`record` writes its
record unless the ledger already holds this platform's record of it.
"""

from __future__ import annotations

import datetime as _dt
import functools

from bench.ledger import Ledger, Record, default_ledger, fingerprint_of, platform_info
from bench.study.cache import RESULTS_SALT, key_fields, load_cached
from bench.study.grid import Job


def job_fingerprint(job: Job) -> str:
    return fingerprint_of(job.model_class, job.config_class)


def job_fields(job: Job) -> dict:
    """The record's ``job``: the key's fields and what the key is in (dataset, scheme, protocol)."""
    fields = key_fields(job.model, job.model_config, job.train_config, job.store_key, job.split_checksum,
                        job.fold.name, job.seed)
    return {"model": job.model, "dataset": job.dataset, "fold": job.fold.name, "seed": int(job.seed),
            "tuning": job.tuning or "none", "protocol": job.protocol, "protocol_checksum": job.protocol_checksum,
            "split_scheme": job.split_name, "split_checksum": job.split_checksum, "store": job.store_key,
            "config": {"model": fields["model_config"], "train": fields["train_config"]}}


def reusable(job: Job, ledger: Ledger | None = None, platform: str | None = None):
    """The job's finished result without training (a FoldResult with ``source`` set), or None."""
    fingerprint = job_fingerprint(job)
    result = load_cached(job.key, fingerprint) if job.key else None
    if result is not None:
        return result
    ledger = ledger if ledger is not None else default_ledger()
    if ledger is None or not job.key:
        return None
    found = ledger.lookup(job.key, fingerprint, platform if platform is not None else this_platform(job.device)["id"])
    return found.record.to_result() if found.record is not None else None


def has_result(job: Job) -> bool:
    """Whether the job has a result to reuse (cheap, for sizing a grid's workers: a cached
    folder counts without being read; a ledger record only when it is fresh)."""
    from bench.study.cache import is_cached

    return bool(job.key) and (is_cached(job.key) or reusable(job) is not None)


@functools.lru_cache(maxsize=8)
def this_platform(device: str) -> dict:
    return platform_info(device)


@functools.lru_cache(maxsize=1)
def _commit() -> str:
    from bench.tracking.runs import git_commit

    return git_commit()


def stamp(job: Job, result, threads: int) -> None:
    """Mark a result just trained here: its platform and the code's fingerprint."""
    result.platform = this_platform(job.device)
    result.code_fingerprint = job_fingerprint(job)
    result.threads = threads


def record(job: Job, result, ledger: Ledger | None = None) -> Record | None:
    """Write the finished ``result``'s record unless the ledger has this platform's already."""
    ledger = ledger if ledger is not None else default_ledger()
    if ledger is None or not result.finished or not job.key or result.source.startswith("ledger"):
        return None
    if not result.platform or not result.code_fingerprint:
        return None  # cached before results carried their platform: nothing honest to write
    entry = Record.of(job.key, job_fields(job), result, {"code": result.code_fingerprint, "salt": RESULTS_SALT},
                      {"threads": int(result.threads), "commit": _commit(),
                       "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                       "origin": "local cache" if result.source == "cache" else "trained"})
    if result.source == "cache" and ledger.path_for(entry).is_file():
        return None
    ledger.write(entry)
    return entry
