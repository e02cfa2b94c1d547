"""What every command shares: one console, and turning our own errors into clean messages."""

from __future__ import annotations

import errno
import functools
import sys
import warnings

from rich.console import Console
from rich.text import Text

console = Console()
err_console = Console(stderr=True)


def error_text(exc: BaseException) -> str:
    """The one-line message a user sees for an error we expect (ours, or the operating system's).

    An ``OSError`` names its file and the system's reason ("No space left on device"); a full
    disk gets a sentence of advice, since it is the user's to fix and every finished piece of
    work (cached folds, finished clips) survives it.
    """
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename or ""
        reason = exc.strerror
        text = f"{where}: {reason}" if where else reason
        if exc.errno == errno.ENOSPC:
            text += " — free some space and run the command again; finished work is kept and reused"
        return text
    return str(exc)


def print_error(exc: BaseException) -> None:
    """``error: <message>`` on stderr, the message as plain text (no rich markup: paths and
    names such as ``[model]`` or ``runs[1]`` appear exactly as written)."""
    err_console.print(Text.assemble(("error: ", "bold red"), error_text(exc)), highlight=False, soft_wrap=True)


class _Interrupted(Exception):
    """A command's KeyboardInterrupt, carried past typer (which would turn it into a silent 130)."""

    def __init__(self, exit_code: int):
        super().__init__(exit_code)
        self.exit_code = exit_code


def _interruptible(callback):
    if getattr(callback, "_bench_interruptible", False):
        return callback

    @functools.wraps(callback)
    def wrapper(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as bench.interrupt.Terminated
            raise _Interrupted(getattr(exc, "exit_code", 130)) from None

    wrapper._bench_interruptible = True
    return wrapper


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one plain line (``warning: ...``), not Python's file:line and source echo."""
    err_console.print(Text.assemble(("warning: ", "yellow"), str(message)), highlight=False, soft_wrap=True)


def run_app(app) -> None:
    """Run the typer app; an error the user can fix prints one message (no traceback), exit 2.

    Ctrl-C, or SIGTERM inside long work (:mod:`bench.interrupt`), prints one line and exits
    130 (143 for SIGTERM); usage errors keep click's own message and exit code.
    """
    from bench.errors import BenchError

    for command in app.registered_commands:
        command.callback = _interruptible(command.callback)
    warnings.showwarning = _show_warning
    try:
        code = app(standalone_mode=False)
    except (BenchError, OSError) as exc:
        print_error(exc)
        sys.exit(2)
    except _Interrupted as exc:
        err_console.print("interrupted: finished work is kept; run the same command again to resume", highlight=False)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if any(cls.__name__ == "ClickException" for cls in type(exc).__mro__):  # typer vendors click
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
