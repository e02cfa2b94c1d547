"""``bench ui``: MLflow's own web UI over this suite's runs, on the loopback address.

    bench ui                                   # the local store: sqlite:///.bench/mlflow.db
    bench ui --tracking-uri sqlite:////data/team/mlflow.db --port 5001

Binds 127.0.0.1 only: the UI has no login, and a tracking database may hold unpublished
results. To share runs, use a tracking server with authentication (README, "Sweeps on many
machines"). Ctrl-C stops the server and its workers.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Optional

import typer

from bench.cli import app
from bench.cli.common import console
from bench.errors import ConfigError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ui_command_line(tracking_uri: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``mlflow ui`` invocation (the same executable as this Python's MLflow)."""
    exe = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or shutil.which("mlflow") or "mlflow"
    return [exe, "ui", "--backend-store-uri", tracking_uri, "--host", host, "--port", str(port), "--workers", "1"]


def ui_url(base: str, experiment_id: str | None = None) -> str:
    """The page to open: the runs table, in MLflow's model-training view.

    MLflow 3's sidebar switches between a GenAI and a model-training view; the switch follows
    ``workflowType`` (remembered by the browser once set), not only the experiment's kind tag.
    """
    page = f"experiments/{experiment_id}/runs" if experiment_id else "experiments"
    return f"{base}/#/{page}?workflowType=machine_learning"


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    """Poll MLflow's /health until it answers; the server's own exit is an error."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise ConfigError(f"mlflow ui exited with code {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise ConfigError(f"mlflow ui did not answer at {url} within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (uvicorn and its workers), then SIGKILL if needed."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


@app.command("ui")
def ui_command(
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="Tracking store (default: the local SQLite file)."),
    port: int = typer.Option(0, "--port", help="Port on 127.0.0.1 (default: a free one)."),
) -> None:
    """Start MLflow's UI on 127.0.0.1 over the suite's runs; Ctrl-C stops it."""
    from bench.paths import default_tracking_uri
    from bench.tracking.runs import make_client
    from bench.urls import redact_url

    uri = tracking_uri or default_tracking_uri()
    make_client(uri)  # a fresh local store is created (and a missing driver named) before the server starts
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(ui_command_line(uri, port), start_new_session=True)
    try:
        wait_until_up(url, process)
        console.print(f"MLflow UI for {redact_url(uri)} at {ui_url(url)} (Ctrl-C to stop)", highlight=False, soft_wrap=True)
        process.wait()
    except KeyboardInterrupt:
        console.print("stopping the MLflow UI", highlight=False)
    finally:
        stop(process)
