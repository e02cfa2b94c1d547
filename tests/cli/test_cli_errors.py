"""What a user sees when something goes wrong: one plain line, exit code 2, no traceback.

Messages are printed as text, not rich markup: ``[model]``, ``[[reported]]`` and paths with
brackets appear exactly as written.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
import typer

from bench.cli.common import run_app
from bench.errors import ConfigError
from bench.interrupt import Terminated


def _app(exc: BaseException) -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def go(flag: int = typer.Option(0, "--flag")) -> None:
        raise exc

    @app.command()
    def other() -> None:
        pass

    return app


def _run(exc, capsys, *argv):
    old = sys.argv
    sys.argv = ["bench", "go", *argv]
    try:
        with pytest.raises(SystemExit) as info:
            run_app(_app(exc))
    finally:
        sys.argv = old
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return info.value.code, " ".join(err.split())


def test_markup_like_text_and_bracketed_paths_print_as_written(capsys):
    message = "studies/x[1].toml: [model] table: unknown key 'd'; [[reported]] rows need 'source' ([bold]not bold[/])"
    code, err = _run(ConfigError(message), capsys)
    assert code == 2 and err == f"error: {message}"


def test_full_disk_gets_one_clear_message(capsys):
    code, err = _run(OSError(errno.ENOSPC, "No space left on device", "/data/.bench/results/abc/result.json"), capsys)
    assert code == 2
    assert err == ("error: /data/.bench/results/abc/result.json: No space left on device — free some space and run "
                   "the command again; finished work is kept and reused")


def test_permission_denied_names_the_file(capsys):
    code, err = _run(PermissionError(errno.EACCES, "Permission denied", "/srv/reports/compare"), capsys)
    assert (code, err) == (2, "error: /srv/reports/compare: Permission denied")


@pytest.mark.parametrize("exc,expected", [(KeyboardInterrupt(), 130), (Terminated("received signal 15"), 143)])
def test_interruptions_exit_quietly_with_the_signal_code(capsys, exc, expected):
    code, err = _run(exc, capsys)
    assert code == expected
    assert err == "interrupted: finished work is kept; run the same command again to resume"


def test_usage_errors_keep_clicks_message(capsys):
    code, err = _run(RuntimeError("unreached"), capsys, "--flag", "notanint")
    assert code == 2 and "Invalid value for '--flag'" in err


def test_typer_exit_code_passes_through(capsys):
    code, _ = _run(typer.Exit(code=1), capsys)
    assert code == 1


def test_a_bad_setting_fails_before_any_corpus_is_generated(tmp_path):
    env = {**os.environ, "BENCH_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--model", "deiii", "--set", "train.epochs=0",
                           "--no-track"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip() == "error: train.epochs must be at least 1, got 0"
    assert not (tmp_path / "home" / "corpora").exists()


def test_warnings_print_as_one_plain_line(capsys):
    import warnings

    old = sys.argv
    sys.argv = ["bench", "go"]
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def go() -> None:
        warnings.warn("corpus: 3 unrecognised files: a[1].wav", UserWarning)

    @app.command()
    def other() -> None:
        pass

    try:
        with warnings.catch_warnings(), pytest.raises(SystemExit) as info:
            warnings.simplefilter("always")
            run_app(app)
    finally:
        sys.argv = old
    assert info.value.code == 0
    assert capsys.readouterr().err.strip() == "warning: corpus: 3 unrecognised files: a[1].wav"
