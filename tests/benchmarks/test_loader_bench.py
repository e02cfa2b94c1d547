"""Loader speed: an epoch read from an on-disk feature store vs the same tensors in memory.

64 clips at the default shapes (frames (16,3,48,48) uint8, flow (15,2,48,48) float16, audio
(~200,64) float32) in a real FeatureStore; the same tiny model step (a per-frame conv on the
crops and the flow plus a pooled audio projection, forward + backward + Adam) in both epochs.
The loader streams from disk (no preload) and must cost at most 10% over batches already in
memory. Run ``pytest tests/benchmarks/test_loader_bench.py --benchmark-enable`` to measure.
"""

import time

import pytest
import torch
from torch import nn

from bench.data.dataset import ClipDataset, make_loader, to_device
from bench.train.toy import build_toy_store

ARRAYS = {"video": "frames", "flow": "flow", "audio": "audio"}
BATCH = 16


class _Step(nn.Module):
    """A tiny model that touches every input the way a small real one would."""

    def __init__(self):
        super().__init__()
        self.frames = nn.Conv2d(3, 8, 3, stride=2)
        self.flow = nn.Conv2d(2, 8, 3, stride=2)
        self.audio = nn.Linear(64, 8)
        self.head = nn.Linear(24, 4)

    def forward(self, batch):
        b, t = batch["video"].shape[:2]
        v = self.frames(batch["video"].flatten(0, 1)).relu().mean((2, 3)).view(b, t, -1).mean(1)
        f = self.flow(batch["flow"].flatten(0, 1)).relu().mean((2, 3)).view(b, t - 1, -1).mean(1)
        m = batch["audio_mask"].unsqueeze(-1).float()
        a = self.audio((batch["audio"] * m).sum(1) / m.sum(1))
        return self.head(torch.cat([v, f, a], -1))


def _epoch(batches, model, optimizer) -> int:
    seen = 0
    for batch in batches:
        batch = to_device(batch, torch.device("cpu"))
        loss = nn.functional.cross_entropy(model(batch), batch["label"])
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
    torch.manual_seed(0)
    model = _Step()
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
