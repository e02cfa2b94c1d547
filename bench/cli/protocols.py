"""``bench protocols``: the shipped evaluation protocols, their checksums and sources."""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli import app
from bench.cli.common import console


@app.command("protocols")
def protocols_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON (every field, full checksums) instead of a table."),
    literature: bool = typer.Option(False, "--literature", help="List the ledger of reported results instead."),
) -> None:
    """List the shipped protocols: corpus, labels, classes, folds, checksum and source."""
    from bench.protocols import list_protocols, literature_path, load_literature

    if literature:
        rows = load_literature()
        if as_json:
            typer.echo(json.dumps([{**{k: v for k, v in vars(r).items() if k != "metrics"}, "metrics": dict(r.metrics)}
                                   for r in rows], indent=2))
            return
        table = Table(title=f"Reported results ({literature_path().name})")
        for column in ("model", "dataset", "protocol", "scores", "source"):
            table.add_column(column, overflow="fold")
        for r in rows:
            scores = ", ".join(f"{k} {v:g}" for k, v in r.metrics) or "–"
            table.add_row(escape(r.model), r.dataset, r.protocol, scores, escape(r.source))
        console.print(table)
        return
    protocols = [p.to_dict() for p in list_protocols()]
    if as_json:
        typer.echo(json.dumps(protocols, indent=2))
        return
    table = Table(title="Evaluation protocols (checksum: sha256 of corpus, labels, classes, clips, options and the split file)")
    for column in ("protocol", "labels", "classes", "clips", "folds", "checksum", "source"):
        table.add_column(column, overflow="fold")
    for p in protocols:
        table.add_row(p["id"], p["labels"], f"{len(p['classes'])}: {' '.join(p['classes'])}", escape(p["clips"]),
                      f"{p['folds']} by {p['group_by']}", p["checksum"][:16], escape(p["source"]))
    console.print(table)
