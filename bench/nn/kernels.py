"""The kernel set a training step runs with (``train.kernels``): "fast" or "reference".

"reference" is the code path every result before the switch was trained with, kept selectable
for two reasons: it reproduces those results bit for bit, and it is the baseline the kernels
benchmark (``tests/benchmarks/test_kernels_bench.py``) measures "fast" against. "fast" is the
default. What it changes, and whether the numbers for a given seed change with it:

* dropout masks from ``rand`` + compare instead of ``bernoulli_`` (:mod:`bench.nn.dropout`):
  another random stream, so other numbers (why ``train.kernels`` is in a result's cache key);
* channels_last convolution weights and a fused Adam step (:mod:`bench.train.loop`), and the
  bit-identical layout fixes that follow from them (:func:`bench.nn.frontends.channels_last_grad`,
  :func:`bench.nn.frontends.in_weight_layout`);
* bit-identical shortcuts, gated on :func:`fast_kernels` so that "reference" stays the path as
  it was: real frames folded into the batch as a view when no frame is padding
  (:func:`bench.nn.frontends.fold_real`), and, in the models themselves, each documented where
  it is, products scaled, masked or squashed in place instead of copied (every one tested
  against the plain formula, bit for bit).

A context variable, not a global flag, so that two trainings in one process (threads, a Ray
actor) never see each other's setting. Outside :func:`use_kernels` (evaluation, inference) the
"reference" path runs.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Iterator, Literal

Kernels = Literal["fast", "reference"]
_KERNELS: ContextVar[str] = ContextVar("bench_kernels", default="reference")


@contextlib.contextmanager
def use_kernels(kernels: Kernels) -> Iterator[None]:
    """Within the block, the suite's layers run the ``kernels`` path ("fast" or "reference")."""
    if kernels not in ("fast", "reference"):
        raise ValueError(f"kernels must be 'fast' or 'reference', got {kernels!r}")
    token = _KERNELS.set(kernels)
    try:
        yield
    finally:
        _KERNELS.reset(token)


def current_kernels() -> str:
    return _KERNELS.get()


def fast_kernels() -> bool:
    """Whether the active kernel set is "fast"."""
    return _KERNELS.get() == "fast"
