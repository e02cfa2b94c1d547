"""``bench ledger``: the committed results ledger (``results/``; :mod:`bench.ledger`).

    bench ledger status                       # records by model and platform: fresh, stale, unreadable
    bench ledger merge ../other-clone/results # copy another machine's records in (conflicts reported)
    bench compare --study studies/compare_synthetic.toml --status   # what a study still needs

The status of one study (done / missing / stale jobs, estimated time) is ``--status`` on
``bench compare`` and ``bench ablate``, which know the study's jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli import app
from bench.cli.common import console
from bench.errors import ConfigError

ledger_app = typer.Typer(name="ledger", help="The results ledger: one record per finished job (results/).",
                         no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")

LEDGER = typer.Option(None, "--ledger", help="Ledger folder (default: $BENCH_LEDGER, else ./results).")


def _ledger(path: Path | None):
    from bench.ledger import Ledger, default_ledger

    ledger = Ledger(path) if path is not None else default_ledger()
    if ledger is None:
        raise ConfigError("no ledger: BENCH_LEDGER is 'none'; pass --ledger DIR")
    return ledger


@ledger_app.command("status")
def status_command(ledger_path: Optional[Path] = LEDGER) -> None:
    """Every record of the ledger, counted by model and platform: fresh (trained by the current
    code, reused by any study that asks for its job) or stale (other code: never reused)."""
    from bench.ledger.summary import summarize

    ledger = _ledger(ledger_path)
    summary = summarize(ledger)
    table = Table(title=f"ledger {escape(str(ledger.root))}: {summary.total} records")
    for column in ("dataset", "model", "platform", "fresh", "stale", "wall s (median)", "CPU h (sum)"):
        table.add_column(column, justify="left" if column in ("dataset", "model", "platform") else "right")
    for row in summary.rows:
        table.add_row(row.dataset, row.model, row.platform, str(row.fresh), str(row.stale),
                      f"{row.median_wall:.0f}", f"{row.cpu_seconds / 3600:.2f}")
    console.print(table)
    for line in summary.unreadable:
        console.print(f"[red]unreadable:[/] {escape(line)}", highlight=False)
    if summary.stale:
        console.print(f"{summary.stale} stale records (trained by other code than this checkout's): listed, never "
                      "reused; retrain them, or check them with `bench compare|ablate --study S --verify-stale 1` after a "
                      "change that should keep the numbers",
                      highlight=False)


@ledger_app.command("merge")
def merge_command(sources: List[Path] = typer.Argument(..., help="Ledger folders to copy records from."),
                  ledger_path: Optional[Path] = LEDGER) -> None:
    """Copy the records of other ledgers (other clones, machines, a cluster) into this one.

    A record this ledger lacks is copied; one it holds with the same numbers is skipped; one it
    holds with other numbers (the same job on the same platform trained twice, differently) is
    a conflict: both files are named, this ledger's is kept, and the command exits 1.
    """
    from bench.ledger.summary import merge

    ledger = _ledger(ledger_path)
    outcome = merge(ledger, sources)
    console.print(f"merged into {escape(str(ledger.root))}: {outcome.copied} copied, {outcome.same} already here",
                  highlight=False)
    for line in outcome.unreadable:
        console.print(f"[red]unreadable, skipped:[/] {escape(line)}", highlight=False)
    for ours, theirs in outcome.conflicts:
        console.print(f"[red]conflict:[/] {escape(str(theirs))} differs from {escape(str(ours))} (kept)", highlight=False)
    if outcome.conflicts:
        raise typer.Exit(1)


def duration(seconds: float) -> str:
    """``3 h 05 min``, ``12 min``, ``40 s``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def print_grid_status(status, console, untuned: dict[str, int] | None = None) -> None:
    """A study's status (:class:`bench.study.status.GridStatus`) as a table and a closing line."""
    if status.verified is not None:
        for check in status.verified.checks:
            verdict = (f"reproduced bit for bit by {len(check.verified)} retrained jobs: {len(check.restamped)} records "
                       "restamped to the current code") if check.verified and not check.differing else (
                f"{len(check.differing)} retrained jobs differ from their records: nothing restamped")
            console.print(f"{check.model} configuration {check.config}: {verdict}", highlight=False)
        if status.verified.other_platforms:
            console.print(f"{status.verified.other_platforms} stale records of other platforms: verify them there",
                          highlight=False)
    table = Table(title="what the study still needs")
    for column in ("run", "jobs", "done", "from ledger", "from cache", "missing", "stale", "estimate"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for row in status.rows():
        estimate = "-" if not (row["missing"] or row["stale"]) else (
            duration(row["estimate_s"]) if row["estimate_s"] is not None else "unknown (no record of the model)")
        table.add_row(escape(row["run"]), str(row["jobs"]), str(row["done"]), str(row["from_ledger"]),
                      str(row["from_cache"]), str(row["missing"]), str(row["stale"]), estimate)
    console.print(table)
    platforms = sorted({p for row in status.rows() for p in row["platforms"]})
    if platforms:
        console.print(f"ledger records used were trained on: {', '.join(platforms)}", highlight=False)
    for model, trials in (untuned or {}).items():
        console.print(f"{model}-tuned: not planned yet: its nested tuning has not finished on this machine; --tune runs "
                      f"it first, replaying the ledger's {trials} trial records of {model} without training them",
                      highlight=False)
    if status.complete and not untuned:
        console.print("complete: the report rebuilds from these results without training", highlight=False)
    else:
        total = status.estimate()
        when = duration(total) if total is not None else "unknown"
        console.print(f"{status.count('missing')} missing and {status.count('stale')} stale jobs to train: about {when} "
                      f"one after another on {status.platform} (median wall seconds of the models' records; "
                      "an estimate, divide by the jobs run at once)", highlight=False)
    for line in status.unreadable:
        console.print(f"[red]unreadable record:[/] {escape(line)}", highlight=False)
