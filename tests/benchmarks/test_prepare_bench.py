"""Throughput of ``bench prepare`` against decoding alone, and its scaling with workers.

Data: 32 generated clips in CREMA-D's format, the smallest of the three corpora (2.5 s, 75
frames at 30 fps, 480x360 H.264, a Haar-detectable drawn face drifting 1 px/frame, AAC sine
sound), written once per module with PyAV. RAVDESS (1280x720) costs more to decode, so its
prepare-to-decode ratio is lower still.

Measured in one run, in ``ROUNDS`` interleaved rounds (decode-only, 1 worker, 2 workers, so
the three see the same background load), each reported as its best round (the machine is
shared; the best round is the least disturbed one), every round preparing all N_CLIPS clips into a
fresh store:

* decode-only: what ``prepare`` cannot avoid, the decoding of the same clips as ``prepare``
  does it (``media.read_frames`` of the 16 sampled frames + ``media.read_audio`` at 16 kHz);
* full prepare, 1 worker (in process): decode + faces + flow + audio + write, default
  ``PrepareConfig``; per-stage ms/clip go to ``extra_info``;
* full prepare, 2 workers: the reusable spawn pool, warmed once before timing (its one-off
  start, ~2-3 s of torch/OpenCV imports, is reported apart as ``pool_start_s``).

Targets (asserted when measuring, i.e. with ``--benchmark-enable``; a plain test run executes
every path once and checks the store, since timing asserts on a shared CI core would be noise):
full prepare <= 3x decode-only per clip; 2 workers >= 1.6x the throughput of 1 worker.

The worker target presumes two free cores. The machine this suite is developed on has two
cores shared by several people, so the test also measures ``cpu_ceiling_2p``: the speed-up of
a pure-CPU task (PBKDF2, GIL-free) on 2 spawned processes over 1, taken just before and after
the worker measurements. The asserted bound is ``min(1.6, 0.85 * ceiling)``: on an idle
two-core machine (ceiling ~1.9-2.0) that is the 1.6x target; on a loaded one it asks prepare to
get 85% of what the cores can give at that moment. Both numbers are in ``extra_info``.

Run: ``python -m pytest -q -p no:cacheprovider tests/benchmarks/test_prepare_bench.py --benchmark-enable``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from bench.data import media
from bench.data.prepare import PrepareConfig, prepare

N_CLIPS = 32
ROUNDS = 3


def _media_helpers():
    path = Path(__file__).resolve().parents[1] / "data" / "prepare" / "prepare_media.py"
    spec = importlib.util.spec_from_file_location("prepare_media_for_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_manifest(tmp_path_factory):
    helpers = _media_helpers()
    root = tmp_path_factory.mktemp("prepare_bench_media")
    for i in range(N_CLIPS):
        helpers.write_clip(root / f"clip{i:02d}.mp4", frames=75, width=480, height=360, fps=30, seed=i, tone_hz=200 + 20 * i)
    return helpers.make_manifest(root, {f"clip{i:02d}": f"clip{i:02d}.mp4" for i in range(N_CLIPS)})


def _cpu_ceiling(tasks: int = 8) -> float:
    """Speed-up of a GIL-free CPU task on 2 spawned processes over 1: what the cores allow now."""
    work = ("sha256", b"bench", b"salt", 150_000)
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        list(pool.map(hashlib.pbkdf2_hmac, *zip(*[work] * 2)))  # start both processes
        start = time.perf_counter()
        for _ in range(tasks):
            hashlib.pbkdf2_hmac(*work)
        one = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(hashlib.pbkdf2_hmac, *zip(*[work] * tasks)))
        two = time.perf_counter() - start
    return one / two


def _best(fn, rounds):
    times, results = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - start)
    best = min(range(rounds), key=times.__getitem__)
    return times[best], results[best]


@pytest.mark.benchmark
def test_prepare_throughput(benchmark, bench_manifest, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    measuring = not benchmark.disabled
    rounds = ROUNDS if measuring else 1
    config = PrepareConfig()
    jobs = [(bench_manifest.media_path(v), bench_manifest.media_path(v)) for v in bench_manifest.frame["video_path"]]
    fresh = (tmp_path / f"store{i}" for i in itertools.count())

    def decode_only():
        import cv2
        import torch

        cv2.setNumThreads(1), torch.set_num_threads(1)  # as prepare's workers run
        for video, sound in jobs:
            media.read_frames(video, config.num_frames)
            media.read_audio(sound, config.sample_rate, config.audio_seconds)

    def full(workers):
        return lambda: prepare(bench_manifest, config, workers=workers, root=next(fresh), progress=False)

    # warm-up (imports, the librosa filterbank, the cascade, page cache), not timed
    decode_only()
    prepare(bench_manifest.subset(["clip00"]), config, root=next(fresh), progress=False)
    start = time.perf_counter()
    prepare(bench_manifest.subset(["clip00", "clip01"]), config, workers=2, root=next(fresh), progress=False)
    pool_start = time.perf_counter() - start

    # Interleaved rounds, so that the three measurements see the same background load; the
    # best round of each is the least disturbed one.
    ceiling_before = _cpu_ceiling() if measuring else float("nan")
    decode_s = one_s = two_s = float("inf")
    for _ in range(rounds):
        t, _ = _best(decode_only, 1)
        decode_s = min(decode_s, t)
        t, result = _best(full(1), 1)
        if t < one_s:
            one_s, one = t, result
        t, result = _best(full(2), 1)
        if t < two_s:
            two_s, two = t, result
    ceiling = (ceiling_before + _cpu_ceiling()) / 2 if measuring else float("nan")
    store = benchmark.pedantic(full(1), rounds=1, iterations=1)  # pytest-benchmark's own record

    for s in (one, two, store):
        assert s.summary.ok == N_CLIPS and s.summary.failed == 0
    per_clip_ms = {k: round(1000 * v / N_CLIPS, 2) for k, v in one.summary.stage_seconds.items()}
    full_over_decode = one_s / decode_s
    speedup = one_s / two_s
    benchmark.extra_info.update(
        {
            "clips": N_CLIPS,
            "rounds": rounds,
            "decode_only_clips_per_s": round(N_CLIPS / decode_s, 2),
            "prepare_1w_clips_per_s": round(N_CLIPS / one_s, 2),
            "prepare_2w_clips_per_s": round(N_CLIPS / two_s, 2),
            "full_over_decode": round(full_over_decode, 2),
            "speedup_2w": round(speedup, 2),
            "stage_ms_per_clip_1w": per_clip_ms,
            "pool_start_s": round(pool_start, 2),
            "cpu_ceiling_2p": round(ceiling, 2),
        }
    )
    print("\nprepare benchmark:", benchmark.extra_info)
    if measuring:
        assert full_over_decode <= 3.0, f"full prepare costs {full_over_decode:.2f}x decode-only per clip (target <= 3x)"
        bound = min(1.6, 0.85 * ceiling)
        assert speedup >= bound, (
            f"2 workers give {speedup:.2f}x the throughput of 1 (target >= 1.6x; bound {bound:.2f} = "
            f"min(1.6, 0.85 x the {ceiling:.2f}x that 2 processes of pure CPU work got on this machine now)"
        )
