"""The model registry: one name, one model class, one typed config, one training recipe.

In the spirit of timm's ``@register_model`` and fairseq's ``register_model(name, dataclass)``::

    @register_model("deiii", DEIIIConfig, recipe={"lr": 5e-5, "epochs": 20}, paper=..., code=...)
    class DEIII(AVModel): ...

    model = create_model("deiii", use_flow=False, num_outputs=6)

A duplicate name is an error (two models silently sharing a name would make tables lie); an
unknown name is answered with the closest registered names. Built-in models live in the
``deiii`` and ``baselines`` packages; third-party packages add theirs through the
``bench.models`` entry-point group, loaded on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping

from bench.config import apply_overrides, closest, from_dict, to_dict
from bench.errors import RegistryError

BUILTIN_MODEL_PACKAGES = ("deiii", "baselines")
ENTRY_POINT_GROUP = "bench.models"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    model_class: type
    config_class: type
    recipe: Mapping[str, Any] = field(default_factory=dict)  # TrainConfig overrides
    paper: str = ""
    code: str = ""
    # Named sets of config overrides the model ships (e.g. DE-III's "small"), and the ones it
    # applies on a dataset: dataset -> scope ("*", or a device kind "cpu"/"cuda") -> overrides
    # in ``--set`` form. The framework merges them with its model-agnostic dataset presets.
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    dataset_presets: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        doc = (self.model_class.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""

    def default_config(self):
        return self.config_class()


_REGISTRY: dict[str, ModelEntry] = {}
_loaded = False


def register_model(
    name: str,
    config_class: type,
    *,
    recipe: Mapping[str, Any] | None = None,
    paper: str = "",
    code: str = "",
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    dataset_presets: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> Callable[[type], type]:
    """Class decorator adding a model under ``name``."""

    def decorator(model_class: type) -> type:
        if name in _REGISTRY and _REGISTRY[name].model_class is not model_class:
            existing = _REGISTRY[name].model_class
            raise RegistryError(
                f"model name {name!r} is already registered by "
                f"{existing.__module__}.{existing.__qualname__}"
            )
        model_class.config_class = config_class
        model_class.registered_name = name
        _REGISTRY[name] = ModelEntry(name, model_class, config_class, dict(recipe or {}), paper, code,
                                     dict(presets or {}), dict(dataset_presets or {}))
        return model_class

    return decorator


def unregister_model(name: str) -> None:
    """Remove a model (for tests that register throw-away models)."""
    _REGISTRY.pop(name, None)


def load_builtin_models() -> None:
    """Import the built-in model packages and any ``bench.models`` entry points, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    modules = list(BUILTIN_MODEL_PACKAGES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value not in modules:
            modules.append(ep.value)
    for module in modules:
        importlib.import_module(module)


def list_models() -> list[str]:
    load_builtin_models()
    return sorted(_REGISTRY)


def get_model_entry(name: str) -> ModelEntry:
    load_builtin_models()
    try:
        return _REGISTRY[name]
    except KeyError:
        hint = closest(name, _REGISTRY)
        suggestion = f" Did you mean: {', '.join(hint)}?" if hint else ""
        raise RegistryError(
            f"unknown model {name!r}.{suggestion} Registered models: {', '.join(sorted(_REGISTRY))}"
        ) from None


def resolve_config(name: str, config: Any = None, **overrides: Any):
    """The model's config: defaults (or ``config``, a dataclass or dict) plus ``overrides``."""
    entry = get_model_entry(name)
    if config is None:
        config = entry.config_class()
    elif isinstance(config, Mapping):
        config = from_dict(entry.config_class, dict(config))
    return apply_overrides(config, overrides)


def create_model(name: str, config: Any = None, **overrides: Any):
    """Build a registered model from its default config plus keyword overrides."""
    entry = get_model_entry(name)
    return entry.model_class(resolve_config(name, config, **overrides))


def describe_models() -> list[dict[str, Any]]:
    """One row per model with its parameter count at default settings (for ``bench models``)."""
    from bench.models.contract import count_parameters

    rows = []
    for name in list_models():
        entry = _REGISTRY[name]
        model = entry.model_class(entry.config_class())
        rows.append(
            {
                "name": name,
                "parameters": count_parameters(model),
                "summary": entry.summary,
                "paper": entry.paper,
                "code": entry.code,
                "defaults": to_dict(entry.config_class()),
            }
        )
    return rows
