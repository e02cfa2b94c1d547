"""A neighbour that keeps a core busy (matrix products, one thread), for tests whose numbers
must not depend on the machine's load."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Iterator

SPIN = ("import numpy as np\n"
        "a = np.random.default_rng(0).standard_normal((256, 256))\n"
        "while True:\n"
        "    a = np.tanh(a @ a.T / 256.0)\n")


@contextlib.contextmanager
def busy_core() -> Iterator[subprocess.Popen]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", SPIN], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)
