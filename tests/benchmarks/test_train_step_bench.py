"""Training-step cost of every registered model on CPU: throughput and peak memory.

One step = forward + loss + backward + Adam step on a batch of 8 clips at the suite's default
input sizes: 16 face crops of 3x48x48, 15 flow fields of 2x48x48, 200 log-mel frames x 64
(2 s at a 10 ms hop); where a model's config asks for precomputed features, (16, D) per-frame
video/flow embeddings and (100, D) audio embeddings (50 Hz, as wav2vec2) of its default widths.

Cases: every model at its registered defaults; the same model on raw inputs (frames + log-mel,
what the synthetic corpus feeds) where its defaults expect features; DE-III's small preset.

``extra_info`` records:
* ``samples_per_s``: batch size / median step time over the timed rounds (with
  ``--benchmark-disable``, the single call the test makes);
* ``peak_step_mib``: peak of live torch CPU allocations during one step, above the level at
  its start (gradients freed before it), from ``torch.profiler`` memory records
  (``profile_memory=True``): activations + gradients + optimizer transients. tracemalloc does
  not see torch's allocator and RSS keeps freed pages, so neither is used;
* ``parameters`` and ``threads``: torch intra-op threads, the default when measuring (or
  ``BENCH_TORCH_THREADS``), 1 in a plain test run (where the test only checks that a step
  runs: on a loaded shared CPU, OpenMP workers of small ops spin and one thread is faster).
  The machine is shared, so timings are noisy: compare within one run only.

Without ``--benchmark-enable`` each case runs a single profiled step (plus the benchmark
fixture's one call), so the file stays a quick test.

Run: ``python -m pytest -q -p no:cacheprovider tests/benchmarks/test_train_step_bench.py --benchmark-enable``.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from bench.config import to_dict
from bench.models.contract import count_parameters
from bench.models.registry import create_model, list_models, resolve_config
from deiii import SMALL

BATCH, FRAMES, LOGMEL_STEPS, FEATURE_AUDIO_STEPS, N_MELS, IMAGE = 8, 16, 200, 100, 64, 48
RAW = {"video_input": "frames", "flow_input": "frames", "audio_input": "logmel", "audio_dim": N_MELS}


def _cases() -> list:
    """(model, variant) pairs; full-size models take seconds per step on CPU, so they are slow."""
    cases = []
    for name in list_models():
        cases.append(pytest.param(name, "default", marks=pytest.mark.slow))
        defaults = to_dict(resolve_config(name))
        if any(defaults.get(k) != v for k, v in RAW.items() if k != "audio_dim"):
            cases.append(pytest.param(name, "raw", marks=pytest.mark.slow))
    cases.append(pytest.param("deiii", "small"))
    return cases


def _config(name: str, variant: str):
    overrides = {"raw": RAW, "small": SMALL}.get(variant, {})
    return resolve_config(name, None, image_size=IMAGE, **overrides)


def _batch(config, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    b, t = BATCH, FRAMES
    if config.video_input == "frames":
        video = torch.rand(b, t, 3, IMAGE, IMAGE, generator=g)
    else:
        video = torch.randn(b, t, config.video_dim, generator=g)
    if config.flow_input == "frames":
        flow = torch.randn(b, t - 1, 2, IMAGE, IMAGE, generator=g)
    else:
        flow = torch.randn(b, t - 1, config.flow_dim, generator=g)
    t_a = LOGMEL_STEPS if config.audio_input == "logmel" else FEATURE_AUDIO_STEPS
    audio = torch.randn(b, t_a, config.audio_dim, generator=g)
    batch = {
        "video": video, "video_mask": torch.ones(b, t, dtype=torch.bool),
        "flow": flow, "flow_mask": torch.ones(b, t - 1, dtype=torch.bool),
        "audio": audio, "audio_mask": torch.ones(b, t_a, dtype=torch.bool),
    }
    if config.task == "classification":
        batch["label"] = torch.arange(b) % config.num_outputs
    else:
        batch["target"] = torch.randn(b, config.num_outputs, generator=g)
    return batch


def peak_step_memory(step) -> float:
    """Peak live torch CPU allocation (bytes) during ``step()``, above its starting level."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    current = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        current += event.cpu_memory_usage if event.name == "[memory]" else event.self_cpu_memory_usage
        peak = max(peak, current)
    return float(peak)


@pytest.mark.benchmark
@pytest.mark.parametrize("name, variant", _cases())
def test_train_step(benchmark, name, variant):
    measuring = not getattr(benchmark, "disabled", False)
    threads = int(os.environ.get("BENCH_TORCH_THREADS", "0")) or (torch.get_num_threads() if measuring else 1)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _run(benchmark, name, variant, measuring)
    finally:
        torch.set_num_threads(previous_threads)


def _run(benchmark, name, variant, measuring):
    torch.manual_seed(0)
    config = _config(name, variant)
    model = create_model(name, config).train()
    batch = _batch(model.config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    durations: list[float] = []
    losses: list[float] = []

    def step():
        optimizer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        loss, _ = model.compute_loss(model(batch), batch)
        loss.backward()
        optimizer.step()
        durations.append(time.perf_counter() - start)
        losses.append(float(loss.detach()))

    if measuring:
        step()  # warm-up: allocates Adam state, initialises the oneDNN kernels
        optimizer.zero_grad(set_to_none=True)
    peak = peak_step_memory(step)  # without --benchmark-enable this is the test's one step
    optimizer.zero_grad(set_to_none=True)
    if measuring:
        durations.clear()
    benchmark.pedantic(step, rounds=3, iterations=1)
    assert all(torch.isfinite(torch.tensor(losses)))
    benchmark.extra_info.update(
        model=name,
        variant=variant,
        parameters=count_parameters(model),
        batch_size=BATCH,
        seconds_per_step=statistics.median(durations),
        samples_per_s=BATCH / statistics.median(durations),
        peak_step_mib=peak / 2**20,
        threads=torch.get_num_threads(),
    )
