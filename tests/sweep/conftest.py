"""Fixtures for sweep tests: a toy sweep study and a throw-away PostgreSQL server on 127.0.0.1.

The PostgreSQL test is skipped only where no server can be started *and* we are not in CI;
in CI (``CI=true``) a missing server is a failure, because CI installs and starts one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def toy_study(tmp_path: Path) -> Path:
    path = tmp_path / "toy_sweep.toml"
    path.write_text(
        textwrap.dedent(
            """
            [study]
            kind = "sweep"
            name = "toy"
            model = "deiii"
            metric = "uar"
            inner_folds = 2

            [space.lr]
            type = "float"
            low = 1e-5
            high = 1e-2
            log = true
            target = "train.lr"

            [space.dropout]
            type = "float"
            low = 0.0
            high = 0.5
            target = "dropout"
            """
        )
    )
    return path


def _skip_or_fail(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the PostgreSQL test, but {reason}")
    pytest.skip(reason)


def _postgres_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """Start a private PostgreSQL server on 127.0.0.1 and yield a SQLAlchemy URL to a fresh DB."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        _skip_or_fail("no PostgreSQL server binaries (initdb) are installed")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        _skip_or_fail("psycopg2 is not installed")

    data = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            _skip_or_fail("running as root and there is no 'postgres' user to run the server")
        os.chmod(data, 0o755)
        shutil.chown(data, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    db_dir = data / "db"
    log = data / "server.log"

    def run(*cmd: str) -> None:
        subprocess.run([*run_as, *cmd], check=True, capture_output=True, timeout=120)

    try:
        run(str(bin_dir / "initdb"), "-D", str(db_dir), "-A", "trust", "-U", "bench", "--no-sync")
        run(
            str(bin_dir / "pg_ctl"), "-D", str(db_dir), "-l", str(log), "-w", "-t", "60",
            "-o", f"-p {port} -h 127.0.0.1 -k {data} -c fsync=off", "start",
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        _skip_or_fail(f"the PostgreSQL server did not start: {detail.decode(errors='replace')[-400:]}")
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=port, user="bench", dbname="postgres")
    connection.autocommit = True
    connection.cursor().execute("CREATE DATABASE optuna")
    connection.close()
    try:
        yield f"postgresql+psycopg2://bench@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(db_dir), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
