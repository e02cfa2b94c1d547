"""One seed per run: Python, NumPy, torch and the DataLoader's workers all draw from it.

The same seed gives the same numbers on CPU. On CUDA some kernels are non-deterministic
unless ``torch.use_deterministic_algorithms`` is set, which costs speed; we do not force it.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed every global generator and return a fresh CPU generator for the DataLoader."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def worker_init_fn(worker_id: int) -> None:
    """Give each DataLoader worker its own, reproducible NumPy / random state.

    torch seeds each worker's torch generator from the loader's generator; NumPy and random
    are derived from that so that worker processes never share a stream.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
