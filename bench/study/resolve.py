"""Resolve a job's configuration once: the layers, lowest precedence first, and who set what.

    model config defaults -> the model's registry recipe (its paper's training settings)
    -> dataset presets (the framework's, then the model's own) -> the study file ([model],
    [train]) -> the fold's own table of a nested-tuned study file ([folds."<fold>"], written by
    ``bench sweep --nested``) -> overrides (``--set``; training keys under ``train.``)

Data fields of the model config (task, classes, sizes) come from the feature store
(:func:`bench.train.loop.fill_data_fields`), and a model's *default* input kinds are fitted
to what the store holds (:func:`adapt_to_store`). ``bench run``, ``compare``, ``ablate`` and
the sweep objective all resolve through here; :func:`resolve_configs` also records, in
``layers``, which layer set each key, so a run can log where every setting came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.config import apply_overrides
from bench.errors import ConfigError


# Per dataset, overrides in ``--set`` form ("d_model": 64, "train.epochs": 3) keyed by the
# scope they apply to, applied in this order: "*" (any model, any device), a device kind
# ("cpu", "cuda"), a model name ("deiii") and "model/device" ("deiii/cpu"). Model keys a model
# does not have are skipped (and reported). Every applied preset is printed and logged with
# the resolved config, so no table hides it.
def preset_scopes(model: str, device_kind: str) -> tuple[str, ...]:
    """The ``DATASET_PRESETS`` scopes that apply to a run, lowest precedence first."""
    return ("*", device_kind, model, f"{model}/{device_kind}")


# Model-agnostic presets; a model adds its own at registration (``dataset_presets``).
DATASET_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "synthetic": {
        # Every model gets the same short schedule on the synthetic corpus on CPU (fair, and
        # it keeps `bench run --model deiii --folds 5` within minutes on 2 cores).
        "cpu": {"train.epochs": 20, "train.batch_size": 16, "train.scheduler": "cosine", "train.grad_clip": 1.0},
    },
}


def dataset_presets(model: str, dataset: str) -> dict[str, dict[str, Any]]:
    """Every preset scope for ``model`` on ``dataset``: the framework's ("*", device kind) and
    the model's own, under "<model>" and "<model>/<device kind>"."""
    from bench.models.registry import get_model_entry

    presets = dict(DATASET_PRESETS.get(dataset, {}))
    for scope, values in get_model_entry(model).dataset_presets.get(dataset, {}).items():
        presets[model if scope == "*" else f"{model}/{scope}"] = dict(values)
    return presets


def split_overrides(overrides: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``{"d": 1, "train.lr": 2}`` -> ``({"d": 1}, {"lr": 2})``."""
    model, train = {}, {}
    for key, value in (overrides or {}).items():
        if key.startswith("train."):
            train[key[len("train."):]] = value
        else:
            model[key] = value
    return model, train


def read_study_config(path: str | Path, model: str | None = None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A study file's model settings and training settings for ``model``, and its ``[study]`` head.

    Read by the one study loader (:func:`bench.studies.loader.load_study`), so a run's
    ``--config`` file is checked like every other study file: ``[model]``/``[train]`` tables
    (what ``bench sweep`` writes), or a comparison's ``[overrides.<model>]``.
    """
    from bench.studies.loader import load_study

    study = load_study(path, model=model)
    subject = study.model or model
    model_settings, train_settings = split_overrides(study.overrides.get(subject, {}))
    return model_settings, train_settings, ({"model": study.model} if study.model else {})


def read_fold_config(path: str | Path, model: str | None, fold: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A nested-tuned study file's own settings for ``fold`` (model, training); empty for a file
    that is not tuned per fold. A per-fold file without the fold is an error naming both: running
    that fold with another fold's (or no) tuning would quietly break the protocol."""
    from bench.studies.loader import load_study

    study = load_study(path, model=model)
    if not study.nested:
        return {}, {}
    if fold not in study.fold_overrides:
        raise ConfigError(f"{path}: has no configuration for fold {fold!r} (it was tuned per outer fold for "
                          f"{', '.join(study.fold_overrides) or 'no fold'}); tune this fold with bench sweep --nested "
                          "on the same split scheme")
    return split_overrides(study.fold_overrides[fold])


def nested_layer(fold: str) -> str:
    """The name of the per-fold layer in ``config_layers`` (see :func:`resolve_configs`)."""
    return f"nested-tuned (fold {fold})"


def resolve_configs(
    model: str,
    dataset: str,
    *,
    overrides: dict[str, Any] | None = None,
    config: str | Path | None = None,
    device_kind: str = "cpu",
    notes: list[str] | None = None,
    layers: dict[str, str] | None = None,
    fold: str | None = None,
):
    """The model config and TrainConfig after recipe, dataset preset, study file and overrides.

    ``layers`` (a dict, filled in place) records for each key that any layer set the last
    layer that set it: ``recipe``, ``preset <dataset>/<scope>``, ``study <file>``,
    ``nested-tuned (fold <fold>)`` or ``override`` (training keys as ``train.<key>``).
    ``fold``: the fold being configured; a nested-tuned ``config`` then adds that fold's own
    table (and lacking it is an error). Without ``fold`` such a file gives its shared settings.
    """
    layers = layers if layers is not None else {}

    def record(keys, layer: str, train: bool = False) -> None:
        for key in keys:
            layers[f"train.{key}" if train else key] = layer

    from bench.models.registry import get_model_entry
    from bench.train.config import TrainConfig

    notes = notes if notes is not None else []
    entry = get_model_entry(model)
    model_config = entry.config_class()
    recipe_model, recipe_train = split_overrides(dict(entry.recipe))
    recipe_train.update(recipe_model)  # a recipe is training settings, with or without "train."
    try:
        train_config = apply_overrides(TrainConfig(), recipe_train)
    except ConfigError as exc:
        raise ConfigError(f"recipe of model {model!r}: {exc}") from None
    record(recipe_train, "recipe", train=True)

    preset = dataset_presets(model, dataset)
    for scope in preset_scopes(model, device_kind):
        preset_model, preset_train = split_overrides(preset.get(scope, {}))
        train_config = apply_overrides(train_config, preset_train)
        record(preset_train, f"preset {dataset}/{scope}", train=True)
        for key, value in preset_model.items():
            try:
                model_config = apply_overrides(model_config, {key: value})
                record([key], f"preset {dataset}/{scope}")
            except ConfigError:
                notes.append(f"dataset preset {dataset}/{scope}: {key!r} does not apply to model {model!r}; skipped")
        if preset.get(scope):
            notes.append(f"dataset preset {dataset}/{scope} applied: {preset[scope]}")

    if config is not None:
        study_model, study_train, study = read_study_config(config, model)
        if study.get("model") and study["model"] != model:
            notes.append(f"{config}: written for model {study['model']!r}, used for {model!r}")
        try:
            model_config = apply_overrides(model_config, study_model)
            train_config = apply_overrides(train_config, study_train)
        except ConfigError as exc:
            raise ConfigError(f"{config}: {exc}") from None
        record(study_model, f"study {config}")
        record(study_train, f"study {config}", train=True)
        if fold is not None:
            fold_model, fold_train = read_fold_config(config, model, fold)
            try:
                model_config = apply_overrides(model_config, fold_model)
                train_config = apply_overrides(train_config, fold_train)
            except ConfigError as exc:
                raise ConfigError(f'{config} [folds."{fold}"]: {exc}') from None
            record(fold_model, nested_layer(fold))
            record(fold_train, nested_layer(fold), train=True)

    set_model, set_train = split_overrides(overrides)
    model_config = apply_overrides(model_config, set_model)
    train_config = apply_overrides(train_config, set_train)
    record(set_model, "override")
    record(set_train, "override", train=True)
    return model_config, train_config


def adapt_to_store(model_config, store, explicit: set[str], notes: list[str], window_steps: int | None = None):
    """Fit the model's *default* task and input kinds to what the store holds.

    Baselines default to their official setting (AuxFormer and RJA on precomputed features,
    RJA on regression). On a store without those features, or a corpus with categorical
    labels, the defaults are switched to raw inputs / the corpus's task, with a note; a store
    of per-frame targets (Aff-Wild2) gets task ``"frame"``, and there a model with a fixed
    sequence length (RJA's ``seq_len``) gets ``window_steps`` (the training config's window),
    so that its segment t is the window's step t. A value the user set explicitly (``--set``,
    a study file, a preset) is never changed: if it does not fit the store, the dataset raises
    a clear error instead.
    """
    from dataclasses import replace

    from bench.data.fields import FEATURES, MODALITIES
    from bench.train.loop import frame_level, store_labels

    changes = {}
    frame = frame_level(store)
    if "task" not in explicit and hasattr(model_config, "task"):
        task = "frame" if frame else "classification" if store_labels(store) else "regression"
        if model_config.task != task:
            changes["task"] = task
    if (frame and window_steps and "seq_len" not in explicit
            and getattr(model_config, "seq_len", window_steps) != window_steps):
        changes["seq_len"] = int(window_steps)
    if store.clip_ids:
        arrays = set(store.load(store.clip_ids[0]))
        for m in MODALITIES.values():
            if (m.kind_field not in explicit and getattr(model_config, m.kind_field, None) == FEATURES
                    and m.features_array not in arrays):
                changes[m.kind_field] = m.raw_kind
    if changes:
        notes.append(f"fitted the model's defaults to the feature store: {changes}")
        model_config = replace(model_config, **changes)
    return model_config


def explicit_model_keys(model: str, dataset: str, overrides: dict | None, config, device_kind: str,
                        fold: str | None = None) -> set[str]:
    """Model keys set by the user or a preset rather than left at the model's defaults."""
    keys = set(split_overrides(overrides)[0])
    preset = dataset_presets(model, dataset)
    for scope in preset_scopes(model, device_kind):
        keys |= set(split_overrides(preset.get(scope, {}))[0])
    if config is not None:
        keys |= set(read_study_config(config, model)[0])
        if fold is not None:
            keys |= set(read_fold_config(config, model, fold)[0])
    return keys


