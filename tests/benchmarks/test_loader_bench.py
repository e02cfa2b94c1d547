"""Loader speed: a training epoch read from an on-disk feature store vs the same tensors in memory.

64 clips at the default shapes (frames (16,3,48,48) uint8, flow (15,2,48,48) float16, audio
(~200,64) float32) in a real FeatureStore; the model is the one ``bench run --model deiii``
trains on this machine (DE-III at the synthetic CPU preset, ``deiii.SMALL``), with its own
loss, forward + backward + Adam, in both epochs. The loader streams from disk (no preload)
and must cost at most 10% over batches already in memory. Run
``pytest tests/benchmarks/test_loader_bench.py --benchmark-enable`` to measure; without it the
test runs one epoch of each path as a check.
"""

import time

import pytest
import torch

from bench.data.dataset import ClipDataset, make_loader, to_device
from bench.models.registry import create_model
from tests.support.toy import build_toy_store

ARRAYS = {"video": "frames", "flow": "flow", "audio": "audio"}
BATCH = 16


def _epoch(batches, model, optimizer) -> int:
    seen = 0
    for batch in batches:
        batch = to_device(batch, torch.device("cpu"))
        loss, _ = model.compute_loss(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(batch["clip_id"])
    return seen


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    store = build_toy_store(tmp_path_factory.mktemp("bench_store"), speakers=8, clips_per_speaker=8)
    dataset = ClipDataset(store, store.clip_ids, ARRAYS)
    memory = list(make_loader(dataset, BATCH, shuffle=False))  # the same tensors, already in RAM
    from deiii.config import SMALL

    torch.manual_seed(0)
    model = create_model("deiii", **SMALL, num_outputs=len(store.meta["labels"]), image_size=48, audio_dim=64)
    model.train()
    return dataset, memory, model, torch.optim.Adam(model.parameters(), 1e-3)


def _best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return min(times)


@pytest.mark.benchmark
def test_loader_epoch_vs_memory(benchmark, setup):
    dataset, memory, model, optimizer = setup
    generator = torch.Generator().manual_seed(0)

    def from_disk():
        return _epoch(make_loader(dataset, BATCH, shuffle=True, generator=generator), model, optimizer)

    def from_memory():
        return _epoch(memory, model, optimizer)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: far less scheduling noise on a shared machine
    try:
        assert from_disk() == from_memory() == len(dataset)  # warm both paths (page cache, allocator)
        if benchmark.disabled:  # a plain test run: both paths work, no timing
            return
        pairs = []
        for _ in range(5):  # interleaved pairs, so that load on a shared machine hits both alike
            pairs.append((_best_of(from_disk, 2), _best_of(from_memory, 2)))
        ratios = sorted(d / m for d, m in pairs)
        ratio = ratios[len(ratios) // 2]  # the median pair: robust to a spike in either
        disk, ram = min(p[0] for p in pairs), min(p[1] for p in pairs)
        benchmark.extra_info.update(disk_epoch_s=disk, memory_epoch_s=ram, ratio=ratio)
        print(f"loader epoch {disk:.3f}s, in-memory epoch {ram:.3f}s, median ratio {ratio:.3f} (all: {ratios})")
        benchmark.pedantic(from_disk, rounds=3, iterations=1)
    finally:
        torch.set_num_threads(threads)
    assert ratio <= 1.1, f"a loader epoch costs {ratio:.2f}x the in-memory epoch ({disk:.3f}s vs {ram:.3f}s)"
