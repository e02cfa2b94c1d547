"""``bench models``: every registered model with its parameter count at default settings."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from bench.cli import app
from bench.cli.common import console


@app.command("models")
def models_command(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the registered models and their parameter counts at default settings."""
    from bench.models.registry import describe_models

    rows = describe_models()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Registered models (parameters at default settings)")
    table.add_column("name", style="bold")
    table.add_column("parameters", justify="right")
    table.add_column("summary")
    for row in rows:
        table.add_row(row["name"], f"{row['parameters']:,}", row["summary"])
    console.print(table)
