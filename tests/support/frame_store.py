"""A tiny frame-level feature store (Aff-Wild2's arrays, no media) and per-step toy models.

The store is a real :class:`~bench.data.store.FeatureStore` on disk holding what ``prepare``
writes for a frame-level clip (bench/data/frame_clips.py): ``frames`` whose pixels all equal the
step index (so a model can read where it is), ``flow``, ``audio`` carrying the valence/arousal
trajectory (so a model can learn a little), ``frame_target``/``frame_valid`` and
``ann_target``/``ann_valid``, with each clip's record (fps, ann_fps, video_frames, steps).
By default the annotation rate equals the step rate, so step i *is* annotation frame i: a masked
step is exactly an unannotated frame, which is what the masking tests need.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from bench.models.contract import AVModel, ModelConfig, ModelOutput

# clip id -> (video / group, ABAW set); the last video has two tracks, as in Aff-Wild2
FRAME_CLIPS = {
    "v1": ("v1", "Validation_Set"), "v2": ("v2", "Validation_Set"),
    "v3": ("v3", "Train_Set"), "v4": ("v4", "Train_Set"), "v5": ("v5", "Train_Set"),
    "v6_left": ("v6", "Train_Set"), "v6_right": ("v6", "Train_Set"),
}
TARGETS = ("valence", "arousal")


def frame_manifest(clips=FRAME_CLIPS, corpus: str = "affwild2"):
    from bench.data.manifest import Manifest

    rows = [{"clip_id": c, "corpus": corpus, "speaker": video, "gender": "", "session": "", "label": "",
             "valence": float("nan"), "arousal": float("nan"), "video_path": f"videos/{video}.mp4", "audio_path": "",
             "annotation_path": f"annotations/{part}/{c}.txt", "faces_path": "", "partition": part,
             "subject": c.rpartition("_")[2] if "_" in c else ""}
            for c, (video, part) in clips.items()]
    return Manifest(pd.DataFrame(rows), corpus, (), TARGETS)


def build_frame_store(root: str | Path, *, fps: float = 5.0, ann_fps: float = 5.0, image_size: int = 8, n_mels: int = 8,
                      audio_rate: float = 20.0, seed: int = 0, garbage: float | None = None, clips=FRAME_CLIPS):
    """Write the store. ``garbage``: the value written into ``frame_target``/``ann_target`` at
    unannotated steps (default 0, as prepare writes); a store built with another value must train
    and score exactly the same (nothing may read those entries)."""
    from bench.data.store import FeatureStore

    manifest = frame_manifest(clips)
    meta = {"key": f"frame-toy-{fps}-{ann_fps}-{image_size}-{n_mels}-{seed}-{garbage}", "corpus": manifest.corpus,
            "labels": [], "targets": list(TARGETS), "fps": float(fps), "settings": {"image_size": image_size}}
    store = FeatureStore.create(root, meta, manifest)
    rng = np.random.default_rng(seed)
    for i, clip in enumerate(manifest.frame["clip_id"]):
        n_ann = int(rng.integers(60, 90)) + 7 * i  # annotation frames
        duration = n_ann / ann_fps
        steps = int(np.floor(n_ann * fps / ann_fps + 1e-9))
        t_ann = (np.arange(n_ann) + 0.5) / ann_fps
        ann = np.stack([np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t_ann + rng.uniform(0, 6)) * 0.8
                        for _ in TARGETS], axis=1).astype(np.float32)
        ann_valid = np.ones(n_ann, bool)
        gap = int(rng.integers(5, n_ann - 15))
        ann_valid[gap : gap + 8] = False  # an ABAW -5 stretch
        ann_valid[-2:] = False  # a short file's tail
        sources = np.clip(np.floor((np.arange(steps) + 0.5) * ann_fps / fps).astype(int), 0, n_ann - 1)
        frame_valid = ann_valid[sources]
        fill = 0.0 if garbage is None else garbage
        ann_target = np.where(ann_valid[:, None], ann, fill).astype(np.float32)
        frame_target = np.where(frame_valid[:, None], ann[sources], fill).astype(np.float32)
        frames = np.broadcast_to((np.arange(steps) % 256).astype(np.uint8)[:, None, None, None],
                                 (steps, 3, image_size, image_size)).copy()
        t_audio = (np.arange(int(round(duration * audio_rate))) + 0.5) / audio_rate
        cue = np.stack([np.interp(t_audio, t_ann, ann[:, k]) for k in range(len(TARGETS))], axis=1)
        audio = rng.normal(0, 0.3, (len(t_audio), n_mels)).astype(np.float32)
        audio[:, : len(TARGETS)] += cue.astype(np.float32)
        store.write_clip(clip, {
            "frames": frames,
            "flow": rng.normal(0, 1, (steps - 1, 2, image_size, image_size)).astype(np.float16),
            "audio": audio, "frame_target": frame_target, "frame_valid": frame_valid,
            "ann_target": ann_target, "ann_valid": ann_valid,
        }, info={"fps": float(fps), "ann_fps": float(ann_fps), "video_frames": n_ann, "steps": steps})
    return store.finalize()


def frame_fold(store):
    """Clip ids per part: Validation_Set is the test set, one Train_Set video validates."""
    parts = store.manifest.frame.set_index("clip_id")["speaker"]
    return {"test": [c for c, v in parts.items() if v in ("v1", "v2")], "val": [c for c, v in parts.items() if v == "v3"],
            "train": [c for c, v in parts.items() if v in ("v4", "v5", "v6")]}


@dataclass
class FrameToyConfig(ModelConfig):
    task: Literal["classification", "regression", "frame"] = "frame"
    num_outputs: int = 2
    hidden: int = 8
    oracle: bool = False  # predict each step's index (read from its pixels): checks stitching


class FrameToyModel(AVModel):
    """Per-step heads: ``fused`` from the audio at each step's time and the pixels, ``audio`` from
    the audio alone. With ``oracle`` the output of every step is its index in the clip (the
    frames' pixel value), whatever the weights: stitched predictions must give back 0, 1, 2..."""

    def __init__(self, config: FrameToyConfig):
        super().__init__(config)
        self.audio = nn.Sequential(nn.Linear(config.audio_dim, config.hidden), nn.Tanh())
        self.fused_head = nn.Linear(config.hidden + 1, config.num_outputs)
        self.audio_head = nn.Linear(config.hidden, config.num_outputs)

    def required_inputs(self):
        return ("video", "audio")

    def forward(self, batch) -> ModelOutput:
        from bench.models.contract import to_frame_steps

        audio, audio_mask = self.get_input(batch, "audio")
        video, video_mask = self.get_input(batch, "video")
        a = to_frame_steps(self.audio(audio), audio_mask, batch)  # (B, T, hidden)
        pixels = video.mean((2, 3, 4))[..., None]  # (B, T, 1)
        if self.config.oracle:
            index = (pixels * 255).round().expand(-1, -1, self.config.num_outputs)
            return ModelOutput(logits={"fused": index + 0 * self.fused_head.bias.sum()})
        return ModelOutput(logits={"fused": self.fused_head(torch.cat([a, pixels], -1)), "audio": self.audio_head(a)})


def register_frame_toy(name: str = "frame_toy") -> str:
    from bench.models.registry import _REGISTRY, register_model

    if not (name in _REGISTRY and _REGISTRY[name].model_class is FrameToyModel):
        register_model(name, FrameToyConfig, recipe={})(FrameToyModel)
    return name
