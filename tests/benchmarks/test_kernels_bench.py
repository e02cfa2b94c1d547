"""``train.kernels``: every model's training step, "fast" against "reference", side by side.

"reference" is the path every result before the switch was trained with (torch's bernoulli
dropout, NCHW convolution weights, Adam's foreach update), kept selectable. Each case builds
the model twice from one seed and times one full training step of each, alternately, on the
same batch: forward, loss, backward, gradient clipping, optimiser step, with the model's own
batch augmentation (SAF's modality dropout quadruples the batch) as ``fit_fold`` runs it.

Setting: the synthetic corpus on CPU as ``bench compare`` trains it: raw inputs (16 faces of
3x48x48, 15 flow fields, 200 log-mel frames x 64), 6 classes, batch 16, each model's recipe
and the synthetic presets (DE-III's small preset), one torch thread (``train.threads``).
``extra_info``: median seconds per step of each path and ``speedup`` = reference / fast.

Without ``--benchmark-enable`` each case runs one step of each path and checks that "fast"
really is another path (fewer ``bernoulli_`` calls, channels_last weights where convolutions
are, a fused optimiser where the recipe is Adam), so the file stays a quick test.

Run: ``python -m pytest -q -p no:cacheprovider tests/benchmarks/test_kernels_bench.py --benchmark-enable``.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from bench.models.registry import create_model, list_models
from bench.study.resolve import resolve_configs
from bench.train.loop import _train_epoch, build_optimizer, prepare_model

BATCH, FRAMES, LOGMEL_STEPS, N_MELS, IMAGE, CLASSES = 16, 16, 200, 64, 48, 6
# Interleaved steps of each path per model: with 3, the median moved by 0.05 between two runs on
# a loaded machine (DE-III 1.18 / 1.23 for one code); 7 halve that.
ROUNDS = 7
RAW = {"video_input": "frames", "flow_input": "frames", "audio_input": "logmel", "audio_dim": N_MELS,
       "image_size": IMAGE, "task": "classification", "num_outputs": CLASSES}


def _setup(name: str, kernels: str):
    model_config, train_config = resolve_configs(name, "synthetic", device_kind="cpu")
    fields = {f.name for f in dataclasses.fields(model_config)}
    model_config = dataclasses.replace(model_config, **{k: v for k, v in RAW.items() if k in fields})
    train_config = dataclasses.replace(train_config, kernels=kernels, batch_size=BATCH)
    torch.manual_seed(0)
    model = prepare_model(create_model(name, model_config), train_config, torch.device("cpu"))
    return model, build_optimizer(model, train_config), train_config


def _batch(model) -> dict:
    """A batch of the inputs ``model`` reads, as ``fit_fold`` loads only those (a model that
    reads no flow gets none, so its step does not augment one)."""
    g = torch.Generator().manual_seed(0)
    b, t = BATCH, FRAMES
    full = {
        "clip_id": [f"clip{i}" for i in range(b)],
        "video": torch.rand(b, t, 3, IMAGE, IMAGE, generator=g), "video_mask": torch.ones(b, t, dtype=torch.bool),
        "flow": torch.randn(b, t - 1, 2, IMAGE, IMAGE, generator=g), "flow_mask": torch.ones(b, t - 1, dtype=torch.bool),
        "audio": torch.randn(b, LOGMEL_STEPS, N_MELS, generator=g),
        "audio_mask": torch.ones(b, LOGMEL_STEPS, dtype=torch.bool),
        "label": torch.arange(b) % CLASSES,
    }
    kept = {"clip_id", "label"} | {k for m in model.required_inputs() for k in (m, f"{m}_mask")}
    return {k: v for k, v in full.items() if k in kept}


def _bernoulli_calls(step) -> int:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    return sum(e.count for e in prof.key_averages() if e.key == "aten::bernoulli_")


@pytest.mark.benchmark
@pytest.mark.parametrize("name", list_models())
def test_kernels_fast_against_reference(benchmark, name):
    measuring = not getattr(benchmark, "disabled", False)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        paths = {k: _setup(name, k) for k in ("reference", "fast")}
        batch = _batch(paths["fast"][0])
        times: dict[str, list[float]] = {k: [] for k in paths}

        def step(kernels: str) -> None:
            model, optimizer, config = paths[kernels]
            start = time.perf_counter()
            loss = _train_epoch(model, [batch], optimizer, config, torch.device("cpu"), torch.Generator().manual_seed(1), 1)
            times[kernels].append(time.perf_counter() - start)
            assert loss == loss and abs(loss) < float("inf")

        calls = {k: _bernoulli_calls(lambda k=k: step(k)) for k in paths}
        # The fast path draws its dropout masks otherwise (SAF's dropouts are off in this setting).
        assert calls["fast"] < calls["reference"] or calls["reference"] == 0, calls
        fast_model, fast_optimizer, fast_config = paths["fast"]
        if any(isinstance(m, torch.nn.Conv2d) for m in fast_model.modules()):
            conv = next(m for m in fast_model.modules() if isinstance(m, torch.nn.Conv2d))
            assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        if fast_config.optimizer in ("adam", "adamw"):
            assert fast_optimizer.defaults.get("fused") is True
        if measuring:
            for kernels in times:
                times[kernels].clear()
            for _ in range(ROUNDS):  # interleaved, so both paths see the same load
                step("reference")
                step("fast")
        benchmark.pedantic(step, args=("fast",), rounds=1, iterations=1)
        if measuring:
            step("reference")
        reference, fast = statistics.median(times["reference"]), statistics.median(times["fast"])
        benchmark.extra_info.update(model=name, batch_size=BATCH, threads=1, reference_s_per_step=reference,
                                    fast_s_per_step=fast, speedup=reference / fast)
    finally:
        torch.set_num_threads(previous)
