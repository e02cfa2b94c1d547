"""DE-III Bench: audio-visual emotion recognition, compared honestly.

The package reads top to bottom as the data flows (see ``DESIGN.md`` in the steering repo):
corpus adapters -> manifest -> prepare -> feature store -> splits -> trainer -> tracking ->
results -> tables and figures. The public Python API is re-exported lazily here so that
``import bench`` stays cheap (no torch import until a model or trainer is needed).
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "register_model": "bench.models.registry",
    "create_model": "bench.models.registry",
    "list_models": "bench.models.registry",
    "get_model_entry": "bench.models.registry",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
