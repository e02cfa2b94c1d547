"""``bench splits``: the folds of a split scheme, with the checksum every run records."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import typer
from rich.table import Table

from bench.cli import app
from bench.cli.common import console
from bench.cli.manifest import OPTION_HELP, parse_options


@app.command("splits")
def splits_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="cremad, ravdess, mspimprov, manifest or synthetic."),
    scheme: str = typer.Option(None, "--scheme", "-s", help="Scheme name (default per dataset; see --list)."),
    root: Path = typer.Option(None, "--root", help="Corpus folder: generated schemes are drawn from its manifest."),
    k: int = typer.Option(None, "--k", help="Number of folds of a generated k-fold scheme."),
    seed: int = typer.Option(0, "--seed", help="Seed of a generated k-fold scheme."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with the checksum) instead of a table."),
    list_only: bool = typer.Option(False, "--list", help="List the dataset's schemes and exit."),
    option: list[str] = typer.Option(None, "--option", help=OPTION_HELP),
) -> None:
    """Print the train/val/test speakers (or sessions) of every fold of a split scheme."""
    from bench.data.corpora import CorpusWarning, build_manifest
    from bench.splits import get_scheme, list_schemes

    if list_only:
        names = list_schemes(dataset)
        typer.echo(json.dumps(names) if as_json else "\n".join(names))
        return
    manifest = None
    if root is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CorpusWarning)
            manifest = build_manifest(dataset, root, **parse_options(option))
    result = get_scheme(dataset, scheme, manifest=manifest, k=k, seed=seed)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=f"{dataset} / {result.name}: {len(result.folds)} folds by {result.group_by}")
    for column in ("fold", "train", "val", "test"):
        table.add_column(column, overflow="fold")
    for fold in result.folds:
        table.add_row(fold.name, f"({len(fold.train)}) " + " ".join(fold.train),
                      f"({len(fold.val)}) " + " ".join(fold.val), f"({len(fold.test)}) " + " ".join(fold.test))
    console.print(table)
    if result.description:
        console.print(result.description, highlight=False)
    console.print(f"source: {result.source}\nsha256: {result.checksum}", highlight=False)
