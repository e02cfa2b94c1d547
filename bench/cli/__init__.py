"""The ``bench`` command: thin wrappers that parse arguments, call the library and print.

Each command lives in its own module under ``bench/cli/`` and registers itself on ``app``;
the library functions they call are documented Python API that a notebook can use directly.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="bench",
    help="DE-III Bench: audio-visual emotion recognition on shared speaker-independent folds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """DE-III Bench: audio-visual emotion recognition on shared speaker-independent folds."""


# One module per command group; each does ``from bench.cli import app`` and decorates.
COMMAND_MODULES = ("models", "manifest", "splits", "run", "sweep", "prepare", "compare", "synth", "ui", "protocols", "ledger")


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"bench.cli.{name}")


def main() -> None:
    from bench.cli.common import run_app

    _load_commands()
    run_app(app)
