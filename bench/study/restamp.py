"""Stale records that the current code still reproduces: verified by retraining a sample, then
moved to the current code's fingerprint.

The fingerprint is conservative (:mod:`bench.ledger.fingerprint`): a refactor that keeps every
number bit for bit still stales every record it touches. Retraining a whole study to prove
nothing changed would cost as much as the study, so :func:`verify_stale` retrains, for each
stale configuration (model and resolved config), ``sample`` of its jobs on this platform and
compares the new record with the stale one, every number as text. Only when all of them match
are that configuration's other stale records of this platform restamped: their fingerprint
becomes the current one and their provenance says from which fingerprint, when, and which
retrained jobs vouched for them. A mismatch restamps nothing (the retrained job's fresh record
replaces its stale one; the rest stay stale and retrain when a study asks for them). Records
of other platforms cannot be verified here and stay as they are.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Callable, Sequence

from bench.config import stable_hash
from bench.ledger import Ledger, Record, default_ledger
from bench.study.grid import Job
from bench.study.recording import job_fingerprint, this_platform


@dataclass
class ConfigCheck:
    model: str
    config: str  # stable hash of the resolved configuration
    verified: list[str] = field(default_factory=list)  # keys retrained and equal
    differing: list[str] = field(default_factory=list)  # keys retrained and different
    restamped: list[str] = field(default_factory=list)


@dataclass
class VerifyOutcome:
    checks: list[ConfigCheck]
    other_platforms: int = 0  # stale records of platforms other than this one (left stale)


def _without_fingerprint(record: Record) -> str:
    numbers = record.numbers()
    numbers.pop("fingerprint")
    return json.dumps(numbers, sort_keys=True, allow_nan=True)


def verify_stale(runs: Sequence[tuple[str, Sequence[Job]]], *, sample: int = 1, ledger: Ledger | None = None,
                 train: Callable[[Job], object] | None = None, say: Callable[[str], None] = lambda line: None) -> VerifyOutcome:
    """Verify and restamp the stale records of ``runs``' jobs (see the module doc)."""
    from bench.study.runner import execute

    ledger = ledger if ledger is not None else default_ledger()
    train = train or execute
    groups: dict[tuple[str, str], list[tuple[Job, Record]]] = {}
    other = 0
    for _, jobs in runs:
        for job in jobs:
            if ledger is None:
                break
            platform = this_platform(job.device)["id"]
            found = ledger.lookup(job.key, job_fingerprint(job), platform)
            if found.record is not None and found.record.platform_id == platform:
                continue
            mine = [r for r in found.stale if r.platform_id == platform]
            other += len(found.stale) - len(mine)
            if mine:
                config = stable_hash(mine[0].job.get("config", {}))
                groups.setdefault((job.model, config), []).append((job, mine[0]))
    checks = []
    for (model, config), members in groups.items():
        check = ConfigCheck(model, config)
        for job, stale in members[:sample]:
            say(f"{model}: retraining {job.label} to check its stale record")
            before = _without_fingerprint(stale)
            train(job)
            fresh = ledger.lookup(job.key, job_fingerprint(job), stale.platform_id).record
            (check.verified if fresh is not None and _without_fingerprint(fresh) == before else check.differing).append(job.key)
        if check.verified and not check.differing:
            for job, stale in members[sample:]:
                old = stale.fingerprint.get("code", "")
                stale.fingerprint = {**stale.fingerprint, "code": job_fingerprint(job)}
                stale.provenance = {**stale.provenance, "restamped": {
                    "from": old, "verified_by": list(check.verified),
                    "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}}
                ledger.write(stale)
                check.restamped.append(job.key)
        checks.append(check)
    return VerifyOutcome(checks, other)
