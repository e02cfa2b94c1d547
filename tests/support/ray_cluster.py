"""A private Ray head node on 127.0.0.1 for tests, stopped by the ids of its own processes.

``ray stop`` stops every Ray process of the user on the machine (other test runs' clusters
too), so the head is started with ``ray start --block`` and stopped by signalling the process
tree under it only. Its temporary folder is private as well, it listens on 127.0.0.1 only
and has no token authentication (:data:`LOOPBACK`); a driver must use the same settings
(:func:`loopback_only`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

READY = "Ray runtime started"
# Ray's own switches for a cluster that only this machine uses: node addresses stay 127.0.0.1
# (on Linux Ray otherwise swaps 127.0.0.1 for the machine's network address), and no token
# authentication (a driver connecting by address would need the token exported explicitly).
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """This process's Ray (a driver) uses the settings of :data:`LOOPBACK`, as the head does.

    Ray reads the address switch into a constant when it is imported, so the constant is set
    too; everything is restored afterwards.
    """
    from ray._private import ray_constants

    saved_env = {key: os.environ.get(key) for key in LOOPBACK}
    saved = ray_constants.ENABLE_RAY_CLUSTER
    os.environ.update(LOOPBACK)
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class RayStartError(RuntimeError):
    """The head node did not start (the message holds the end of its output)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def ray_head(num_cpus: int = 2, timeout: float = 120.0, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``ray start --head`` on 127.0.0.1 and yield its address (``127.0.0.1:PORT``)."""
    ray = Path(sys.executable).with_name("ray")
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must fit in 107 bytes
    command = [str(ray), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
               f"--num-cpus={num_cpus}", "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats",
               f"--temp-dir={temp}", "--object-store-memory=100000000", "--min-worker-port=0", "--max-worker-port=0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, env={**os.environ, **LOOPBACK, **(env or {}), "RAY_USAGE_STATS_ENABLED": "0"})
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if READY in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while not ready.wait(0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RayStartError(f"`ray start --head` did not start: {''.join(lines)[-2000:]}")
        yield f"127.0.0.1:{port}"
    finally:
        stop(process)
        shutil.rmtree(temp, ignore_errors=True)


def stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop the head's process tree: SIGTERM to each process (by id), SIGKILL after ``grace``.

    The tree is found from ``ray start``'s pid (the raylet and its workers start sessions of
    their own, so the process group alone would miss them).
    """
    import psutil

    try:
        root = psutil.Process(process.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for member in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(alive, timeout=grace)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)
