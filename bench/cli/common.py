"""What every command shares: one console, and turning our own errors into clean messages."""

from __future__ import annotations

import sys

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def run_app(app) -> None:
    """Run the typer app; a :class:`BenchError` prints its message (no traceback) and exits 2."""
    from bench.errors import BenchError

    try:
        app(standalone_mode=True)
    except BenchError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
