"""``bench manifest``: scan a corpus folder, save its manifest, and say what was left out."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli import app
from bench.cli.common import console

# The help of the repeatable ``--option key=value`` that every data-reading command takes.
OPTION_HELP = "Corpus adapter option, e.g. --option labels=/data/labels.csv or --option label_source=perceived"


def parse_options(pairs: list[str] | None) -> dict:
    """``["labels=/data/l.csv", "keep_unlabelled=true"]`` -> a dict (values read as TOML literals, else text).

    The adapter checks the names and types (``bench.data.corpora.adapter_options``).
    """
    from bench.config import parse_overrides
    from bench.errors import ConfigError

    try:
        return parse_overrides(pairs)
    except ConfigError as exc:
        raise ConfigError(f"--option: {exc}; write --option key=value, e.g. --option label_source=perceived") from None


@app.command("manifest")
def manifest_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="cremad, ravdess, mspimprov, manifest or synthetic."),
    root: Path = typer.Option(..., "--root", help="Corpus folder (for 'manifest': the CSV file)."),
    out: Path = typer.Option(None, "--out", help="Where to save the manifest CSV (default <BENCH_HOME>/manifests/<dataset>.csv)."),
    strict: bool = typer.Option(False, "--strict", help="Stop on files the adapter cannot place instead of warning."),
    option: list[str] = typer.Option(None, "--option", "-o", help=OPTION_HELP),
) -> None:
    """Build a corpus manifest (one row per clip) and print a summary per label and speaker."""
    from bench.data.corpora import CorpusWarning, build_manifest
    from bench.paths import bench_home

    options = parse_options(option)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorpusWarning)  # printed below from manifest.warnings
        manifest = build_manifest(dataset, root, strict=strict, **options)
    out = out or bench_home() / "manifests" / f"{dataset}.csv"
    manifest.save(out)

    frame = manifest.frame
    console.print(f"[bold]{manifest.corpus}[/]: {len(frame)} clips, {frame['speaker'].nunique()} speakers, "
                  f"labels {list(manifest.labels)}" + (f", targets {list(manifest.targets)}" if manifest.targets else ""))
    if manifest.labels:
        table = Table(title="clips per label")
        table.add_column("index", justify="right")
        table.add_column("label")
        table.add_column("clips", justify="right")
        counts = frame["label"].value_counts()
        for index, label in enumerate(manifest.labels):
            table.add_row(str(index), label, str(int(counts.get(label, 0))))
        if "" in counts:
            table.add_row("-", "(none)", str(int(counts[""])))
        console.print(table)
    table = Table(title="clips per speaker")
    for column in ("speaker", "gender", "session", "clips"):
        table.add_column(column, justify="right" if column == "clips" else "left")
    grouped = frame.groupby("speaker").agg(gender=("gender", "first"), session=("session", "first"), clips=("clip_id", "size"))
    from bench.splits.scheme import id_sort_key

    for speaker in sorted(grouped.index, key=id_sort_key):
        row = grouped.loc[speaker]
        table.add_row(str(speaker), row["gender"], row["session"], str(int(row["clips"])))
    console.print(table)
    for message in manifest.warnings:
        console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)
    console.print(f"saved {out} (+ {out.name}.json)")
