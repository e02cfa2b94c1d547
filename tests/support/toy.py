"""A tiny feature store and a tiny model: the trainer's machinery without the cost.

Tests, benchmarks and demos of the experiment core use these instead of the real corpora and
models. The store is a real :class:`~bench.data.store.FeatureStore` on disk with random arrays
at the default shapes whose audio carries a weak class signal (so a model can learn a little
and metrics move); the model reads all three inputs cheaply and has two heads (``fused`` and
``audio``) so that head selection has something to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from bench.models.contract import AVModel, ModelConfig, ModelOutput

TOY_LABELS = ("neutral", "happy", "sad", "angry")


def toy_manifest(speakers: int = 6, clips_per_speaker: int = 4, labels=TOY_LABELS, corpus: str = "toy", seed: int = 0):
    """A manifest of fake clips (no media: the store is written directly)."""
    from bench.data.manifest import Manifest

    rng = np.random.default_rng(seed)
    rows = []
    for s in range(speakers):
        for c in range(clips_per_speaker):
            label = labels[(s + c) % len(labels)]
            rows.append(
                {
                    "clip_id": f"s{s:02d}_c{c:02d}", "corpus": corpus, "speaker": f"{s:02d}",
                    "gender": "F" if s % 2 else "M", "session": "", "label": label,
                    "arousal": float(rng.uniform(-1, 1)), "valence": float(rng.uniform(-1, 1)),
                    "dominance": float(rng.uniform(-1, 1)),
                    "video_path": f"s{s:02d}_c{c:02d}.mp4", "audio_path": "",
                }
            )
    return Manifest(pd.DataFrame(rows), corpus, tuple(labels), ("arousal", "valence", "dominance"))


def build_toy_store(
    root: str | Path,
    *,
    speakers: int = 6,
    clips_per_speaker: int = 4,
    num_frames: int = 16,
    image_size: int = 48,
    n_mels: int = 64,
    audio_steps: int = 200,
    vary_audio: bool = True,
    seed: int = 0,
):
    """Write a toy FeatureStore with frames (T,3,S,S) u8, flow (T-1,2,S,S) f16, audio (T_a,F) f32."""
    from bench.data.store import FeatureStore

    manifest = toy_manifest(speakers, clips_per_speaker, seed=seed)
    meta = {
        "key": f"toy-{speakers}-{clips_per_speaker}-{num_frames}-{image_size}-{n_mels}-{audio_steps}-{int(vary_audio)}-{seed}",
        "corpus": manifest.corpus,
        "labels": list(manifest.labels),
        "targets": list(manifest.targets),
        "prepare": {"num_frames": num_frames, "image_size": image_size, "n_mels": n_mels},
    }
    store = FeatureStore.create(root, meta, manifest)
    rng = np.random.default_rng(seed)
    for row in manifest.frame.itertuples():
        if store.is_done(row.clip_id):
            continue
        label = manifest.label_index(row.label)
        steps = audio_steps - int(rng.integers(0, audio_steps // 4)) if vary_audio else audio_steps
        audio = rng.normal(0, 1, (steps, n_mels)).astype(np.float32)
        audio[:, label :: len(manifest.labels)] += 0.3  # a weak class signal
        store.write_clip(
            row.clip_id,
            {
                "frames": rng.integers(0, 256, (num_frames, 3, image_size, image_size), dtype=np.uint8),
                "flow": rng.normal(0, 1, (num_frames - 1, 2, image_size, image_size)).astype(np.float16),
                "audio": audio,
            },
        )
    return store.finalize()


@dataclass
class ToyConfig(ModelConfig):
    hidden: int = 16  # width of the hidden layer


class ToyModel(AVModel):
    """Pooled audio, pixel and motion statistics into two small heads (fused, audio)."""

    def __init__(self, config: ToyConfig):
        super().__init__(config)
        self.audio = nn.Sequential(nn.Linear(config.audio_dim, config.hidden), nn.ReLU())
        self.visual = nn.Linear(3 + 2, config.hidden)
        self.fused_head = nn.Linear(2 * config.hidden, config.num_outputs)
        self.audio_head = nn.Linear(config.hidden, config.num_outputs)

    def required_inputs(self):
        return ("video", "flow", "audio")

    def forward(self, batch) -> ModelOutput:
        audio, audio_mask = self.get_input(batch, "audio")
        video, _ = self.get_input(batch, "video")
        flow, _ = self.get_input(batch, "flow")
        weights = audio_mask.unsqueeze(-1).float()
        pooled = (audio * weights).sum(1) / weights.sum(1).clamp(min=1)
        a = self.audio(pooled)
        v = self.visual(torch.cat([video.mean((1, 3, 4)), flow.abs().mean((1, 3, 4))], dim=-1))
        return ModelOutput(logits={"fused": self.fused_head(torch.cat([a, v], -1)), "audio": self.audio_head(a)})


def register_toy_model(name: str = "toy", recipe: dict | None = None) -> type:
    """Register :class:`ToyModel` under ``name`` (tests unregister it afterwards)."""
    from bench.models.registry import _REGISTRY, register_model

    if name in _REGISTRY and _REGISTRY[name].model_class is ToyModel:
        return ToyModel
    return register_model(name, ToyConfig, recipe=recipe or {})(ToyModel)


def toy_scheme(store, folds: int = 3, dataset: str = "toy"):
    """A speaker-disjoint scheme over the toy store: fold i tests speaker i, validates on i+1."""
    from bench.splits.scheme import Fold, SplitScheme

    speakers = store.manifest.speakers
    out = []
    for i in range(folds):
        test = speakers[i % len(speakers)]
        val = speakers[(i + 1) % len(speakers)]
        train = [s for s in speakers if s not in (test, val)]
        out.append(Fold(f"fold{i + 1}", train=train, val=[val], test=[test]))
    return SplitScheme("toy", dataset, out, source="tests.support.toy.toy_scheme")


def speaker_fold(store, train=(2, 3, 4, 5), val=(1,), test=(0,)):
    """Clip ids per part by speaker number (toy clip ids are s<speaker>_c<clip>)."""
    number = lambda c: int(c[1:3])  # noqa: E731
    ids = store.clip_ids
    return {part: [c for c in ids if number(c) in set(groups)] for part, groups in (("train", train), ("val", val), ("test", test))}
