"""What a study still needs: each job done (and from where), missing, or stale, with the time
the missing ones should take, estimated from the records' own seconds.

    done     a result to reuse: this machine's cache, or a fresh ledger record (any platform)
    stale    no fresh result, but ledger records of the job trained by other code (they are
             listed, never reused: retrain, or ``--verify-stale`` after a refactor: bench.study.restamp)
    missing  nothing: the job trains
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Sequence

from bench.ledger import Ledger, default_ledger
from bench.study.cache import load_cached
from bench.study.grid import Job
from bench.study.recording import job_fingerprint, this_platform


@dataclass
class JobState:
    run: str  # the run's name in the grid (a model, a tuned row, an ablation variant)
    job: Job
    state: str  # "done", "missing" or "stale"
    source: str = ""  # done: "cache" or "ledger <platform>"; stale: the stale records' platforms


@dataclass
class GridStatus:
    jobs: list[JobState]
    seconds_per_job: dict[str, float | None] = field(default_factory=dict)  # model -> median wall seconds
    platform: str = ""  # the running platform's id (what an estimate is for)
    unreadable: list[str] = field(default_factory=list)  # ledger files that are not records
    verified: Any = None  # bench.study.restamp.VerifyOutcome when stale records were checked first

    def count(self, state: str, run: str | None = None) -> int:
        return sum(1 for j in self.jobs if j.state == state and (run is None or j.run == run))

    @property
    def runs(self) -> list[str]:
        return list(dict.fromkeys(j.run for j in self.jobs))

    def estimate(self, run: str | None = None) -> float | None:
        """Seconds to train the missing and stale jobs, one after another (None: no record to
        estimate a model from)."""
        total = 0.0
        for j in self.jobs:
            if j.state != "done" and (run is None or j.run == run):
                seconds = self.seconds_per_job.get(j.job.model)
                if seconds is None:
                    return None
                total += seconds
        return total

    @property
    def complete(self) -> bool:
        return all(j.state == "done" for j in self.jobs)

    def rows(self) -> list[dict]:
        """One row per run: done (cache / ledger), missing, stale, estimated seconds."""
        out = []
        for run in self.runs:
            mine = [j for j in self.jobs if j.run == run]
            done = [j for j in mine if j.state == "done"]
            out.append({"run": run, "model": mine[0].job.model, "jobs": len(mine), "done": len(done),
                        "from_cache": sum(j.source == "cache" for j in done),
                        "from_ledger": sum(j.source.startswith("ledger") for j in done),
                        "platforms": sorted({j.source.split(" ", 1)[1] for j in done if j.source.startswith("ledger")}),
                        "missing": self.count("missing", run), "stale": self.count("stale", run),
                        "estimate_s": self.estimate(run)})
        return out


def seconds_per_job(ledger: Ledger | None, models: Sequence[str], platform: str) -> dict[str, float | None]:
    """Median wall seconds of each model's fresh records, this platform's when it has any."""
    out: dict[str, float | None] = {m: None for m in models}
    if ledger is None:
        return out
    records, _ = ledger.records()
    for model in models:
        mine = [r for r in records if r.model == model]
        own = [r for r in mine if r.platform_id == platform] or mine
        seconds = [float(r.provenance.get("wall_seconds", 0.0)) for r in own if r.provenance.get("wall_seconds")]
        out[model] = statistics.median(seconds) if seconds else None
    return out


def grid_status(runs: Sequence[tuple[str, Sequence[Job]]], ledger: Ledger | None = None) -> GridStatus:
    """The state of every job of ``runs`` (``(run name, its jobs)``)."""
    ledger = ledger if ledger is not None else default_ledger()
    states, unreadable, platform = [], [], ""
    for name, jobs in runs:
        for job in jobs:
            platform = this_platform(job.device)["id"]
            fingerprint = job_fingerprint(job)
            if load_cached(job.key, fingerprint) is not None:
                states.append(JobState(name, job, "done", "cache"))
                continue
            found = ledger.lookup(job.key, fingerprint, platform) if ledger is not None else None
            if found is not None:
                unreadable += found.unreadable
            if found is not None and found.record is not None:
                states.append(JobState(name, job, "done", f"ledger {found.record.platform_id}"))
            elif found is not None and found.stale:
                states.append(JobState(name, job, "stale", ", ".join(sorted({r.platform_id for r in found.stale}))))
            else:
                states.append(JobState(name, job, "missing"))
    models = list(dict.fromkeys(s.job.model for s in states))
    return GridStatus(states, seconds_per_job(ledger, models, platform), platform, sorted(set(unreadable)))
