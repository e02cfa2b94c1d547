"""One table: which feature-store array feeds each modality, and which config fields choose it.

A model config picks, per modality, raw inputs or precomputed features (``video_input`` =
"frames" | "features", ...); each choice reads one array of a prepared clip, and a
features array's width is a config size (``video_dim``). Everything that maps a modality to
an array (the loader, the trainer filling sizes, the run fitting a model's defaults to a
store) reads this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.errors import ConfigError


@dataclass(frozen=True)
class Modality:
    name: str  # the batch key: "video", "flow" or "audio"
    kind_field: str  # the model config field that chooses the input kind
    raw_kind: str  # its value for raw inputs
    raw_array: str  # the store array of raw inputs
    features_array: str  # the store array of precomputed features (kind "features")
    size_field: str  # the config field holding the chosen array's last dimension
    raw_sets_size: bool = False  # raw arrays fix the size too (log-mel bins); frames do not


MODALITIES: dict[str, Modality] = {m.name: m for m in (
    Modality("video", "video_input", "frames", "frames", "video_emb", "video_dim"),
    Modality("flow", "flow_input", "frames", "flow", "flow_emb", "flow_dim"),
    Modality("audio", "audio_input", "logmel", "audio", "audio_emb", "audio_dim", raw_sets_size=True),
)}
FEATURES = "features"  # the kind value of precomputed features, for every modality


def modality(name: str) -> Modality:
    try:
        return MODALITIES[name]
    except KeyError:
        raise ConfigError(f"unknown modality {name!r}; known: {sorted(MODALITIES)}") from None


def uses_features(name: str, config: Any) -> bool:
    m = modality(name)
    return getattr(config, m.kind_field, m.raw_kind) == FEATURES


def store_key_for(name: str, config: Any) -> str:
    """The store array that feeds batch key ``name`` under a model config."""
    m = modality(name)
    return m.features_array if uses_features(name, config) else m.raw_array
