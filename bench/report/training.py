"""How each row of a report was configured, tuned and trained, and whether it converged.

A comparison table is only fair when every row was trained to convergence under a schedule the
reader can see: a baseline whose selected epoch is its last was still improving when training
stopped, and a table built on it misleads. ``bench compare`` and ``bench ablate`` therefore
write, next to their score tables, one row per model (or ablation variant) with

- the training settings that decide the numbers (optimizer, lr, batch size, epochs, patience,
  scheduler, warm-up) and the configuration layer that set each (``recipe``, ``preset
  <dataset>/<scope>``, ``study <file>``, ``nested-tuned (fold X)``, ``override``, or
  ``default``: :class:`~bench.train.config.TrainConfig`'s own value);
- how it was tuned: not at all (recipe + presets), nested per outer fold (``bench sweep
  --nested``), or with a configuration whose tuning saw some folds' test speakers (leakage);
- the epochs each fold x seed ran, the epoch it selected, how many runs selected their last
  epoch without stopping early, and the wall time per run;
- the model settings that differ from the model's own defaults (a preset's sizes, a study's
  or a sweep's values) and the layer that set each, so a row's configuration is never hidden;
- ``undertrained``: more than :data:`UNDERTRAINED_SHARE` of the runs selected their last epoch;
- ``not_fitted`` (classification rows): the mean training loss of the last epoch each run
  trained is above :data:`NOT_FITTED_SHARE` of the loss of predicting the uniform
  distribution (ln C per head the loss sums): the model had not fitted its own training clips
  when training stopped, which the selected-epoch rule misses when early stopping ends a slow
  learner during a plateau.

    frame = training_frame(results)               # results: {row: ExperimentResult}
    bundle.table(training_table(frame), "training")
    for line in undertrained_warnings(frame):
        say(line)

Library code: it returns data and text; callers print.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any, Mapping

import numpy as np
import pandas as pd

from bench.report.tables import Cell, Table

# The fixed rule for "undertrained": a row is flagged when MORE than this share of its
# fold x seed runs selected the last epoch they trained without having stopped early. A run
# that has converged picks its last epoch only by chance (its validation score has
# plateaued, so any of the final epochs may win); a third of the runs doing so means the score
# was still rising when the schedule ended. Fixed here, in advance, never fitted to the runs it
# judges.
UNDERTRAINED_SHARE = Fraction(1, 3)

# The fixed rule for "not fitted" (classification rows): the mean over runs of the last epoch's
# training loss (cross-entropy) is above this share of ln C, the loss of a model that predicts
# the uniform distribution over C classes. A model that has fitted its training clips sits far
# below it; one above it had barely left the prior. Fixed here, never fitted to the runs it judges.
NOT_FITTED_SHARE = Fraction(1, 2)

# The training settings shown, in order (TrainConfig fields; "warmup" stands for
# warmup_epochs and warmup_lr together; "patience" shows min_epochs beside it when set).
SETTINGS = ("optimizer", "lr", "batch_size", "epochs", "patience", "scheduler", "warmup")
_LAYER_KEY = {"warmup": "warmup_epochs"}  # the layer that set warm-up is the one that set its length
_NESTED = re.compile(r"nested-tuned \(fold (.+)\)$")

COLUMNS = (*SETTINGS,
           "set_by", "model_settings", "tuning", "runs", "epochs_run_mean", "epochs_run_min", "epochs_run_max",
           "selected_mean", "selected_min", "selected_max", "selected_last", "final_loss_mean", "final_loss_min",
           "final_loss_max", "chance_loss", "seconds_mean", "undertrained", "not_fitted")


# ---------------------------------------------------------------------------------------------
# how each row was configured


def _configs(result, part: str = "train") -> list[tuple[dict, dict]]:
    """(``part`` settings: "train" or "model", layers) of every configuration the row ran: one
    per fold for a nested-tuned run, else the run's single resolved configuration."""
    fold_configs = getattr(result, "fold_configs", None) or {}
    base_layers = dict(getattr(result, "layers", {}) or {})
    if fold_configs:
        return [(dict(c.get(part, {})), dict(c.get("layers") or base_layers)) for c in fold_configs.values()]
    return [(dict((getattr(result, "resolved_config", {}) or {}).get(part, {})), base_layers)]


def _setting(train: Mapping[str, Any], key: str) -> Any:
    if key == "warmup":
        epochs = train.get("warmup_epochs")
        return None if epochs is None else (int(epochs), train.get("warmup_lr", 0.0))
    if key == "patience" and train.get("min_epochs"):  # early stopping held off until an epoch
        return f"{train.get('patience')} (from epoch {train['min_epochs']})"
    return train.get(key)


def _show(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    if key == "warmup" and isinstance(value, tuple):
        epochs, lr = value
        return "none" if not epochs else f"{epochs} ep at {lr:g}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _layer_rank(layer: str) -> int:
    """Precedence order of the layers (bench.study.resolve), lowest first; for display."""
    for rank, prefix in enumerate(("default", "recipe", "preset", "study", "nested-tuned", "override")):
        if layer.startswith(prefix):
            return rank
    return 6


def _source(layer_sets: list[str]) -> str:
    """One key's layer over the row's configurations: nested layers of several folds collapse."""
    distinct = list(dict.fromkeys(layer_sets))
    nested = [layer for layer in distinct if _NESTED.match(layer)]
    if len(nested) > 1:
        distinct = [layer for layer in distinct if layer not in nested] + ["nested-tuned (per fold)"]
    return " / ".join(distinct)


def _settings(result) -> tuple[dict[str, Any], str]:
    """The shown settings ({key: value, or the per-fold values joined by "/"}) and the "set by"
    text: keys grouped by the layer that set them, lowest precedence first."""
    configs = _configs(result, "train")
    values: dict[str, Any] = {}
    by_layer: dict[str, list[str]] = {}
    for key in SETTINGS:
        seen = list(dict.fromkeys(_setting(train, key) for train, _ in configs))
        values[key] = seen[0] if len(seen) == 1 else "/".join(_show(key, v) for v in seen)
    held_off = any(train.get("min_epochs") for train, _ in configs)
    for key in (*SETTINGS, *(("min_epochs",) if held_off else ())):
        layer_key = f"train.{_LAYER_KEY.get(key, key)}"
        source = _source([layers.get(layer_key, "default") for _, layers in configs])
        by_layer.setdefault(source, []).append(key)
    ordered = sorted(by_layer.items(), key=lambda item: _layer_rank(item[0]))
    return values, "; ".join(f"{layer}: {', '.join(keys)}" for layer, keys in ordered)


def _value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_value_text(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


def model_settings_text(result) -> str:
    """The model settings some layer set (not the model's own defaults), grouped by that layer,
    lowest precedence first: ``preset synthetic/rja/cpu: hidden 128, feature_norm rms``. Values
    that differ between a nested-tuned row's folds are joined by "/"."""
    configs = _configs(result, "model")
    keys = list(dict.fromkeys(k for _, layers in configs for k in layers if not k.startswith("train.")))
    by_layer: dict[str, list[str]] = {}
    for key in keys:
        values = list(dict.fromkeys(_value_text(model.get(key, "?")) for model, _ in configs))
        source = _source([layers.get(key, "default") for _, layers in configs])
        by_layer.setdefault(source, []).append(f"{key} {'/'.join(values)}")
    ordered = sorted(by_layer.items(), key=lambda item: _layer_rank(item[0]))
    return "; ".join(f"{layer}: {', '.join(items)}" for layer, items in ordered) or "the model's defaults"


def _config_name(result) -> str:
    config = str(getattr(result, "config", "") or "")
    if config:
        return config
    for layer in (getattr(result, "layers", {}) or {}).values():
        if str(layer).startswith("study "):
            return str(layer)[len("study "):]
    return ""


def _tuning_budget(config: str) -> str:
    """``", 4 trials, hold-out inner split"``: the budget a nested-tuned file records in its
    ``[tuning]`` table ("" when the file cannot be read: the row still says it was tuned)."""
    if not config:
        return ""
    from bench.errors import ConfigError
    from bench.studies.loader import load_study

    try:
        tuning = load_study(config).tuning
    except (ConfigError, OSError):
        return ""
    parts = []
    if tuning.get("trials"):
        parts.append(f"{tuning['trials']} trials per fold")
    inner = tuning.get("inner_folds")
    if inner:
        parts.append("hold-out inner split (the fold's own validation speakers)" if inner == 1 else f"{inner} inner folds")
    return "".join(f", {part}" for part in parts)


def tuning_text(result) -> str:
    """How the row was tuned, in one line (see the module doc)."""
    leak = str(getattr(result, "tuning_leak", "") or "")
    config = _config_name(result) or (leak.split(": ", 1)[0] if leak else "")
    if leak:
        single = re.search(r"non-test speakers of fold '([^']*)'; folds? (.+?) tests? speakers the tuning saw", leak)
        if single:
            return f"tuned on fold {single.group(1)}'s non-test speakers ({config}): TEST LEAKAGE for folds {single.group(2)}"
        nested = re.search(r"configurations? of folds? (.+?) (?:were|was) tuned on speakers", leak)
        if nested:
            return f"nested-tuned on another split ({config}): TEST LEAKAGE for folds {nested.group(1)}"
        return f"TEST LEAKAGE: {leak}"
    if getattr(result, "fold_configs", None):
        budget = _tuning_budget(config)
        return f"nested-tuned per outer fold{budget} ({config})" if config else f"nested-tuned per outer fold{budget}"
    if config:
        return f"set by the study file {config} (no test leakage found)"
    overridden = sorted(k[len("train."):] for k, layer in (getattr(result, "layers", {}) or {}).items()
                        if k.startswith("train.") and layer == "override")
    if overridden:
        return f"defaults: the model's recipe + dataset preset, with overrides of {', '.join(overridden)}; not tuned"
    return "defaults: the model's recipe + dataset preset, not tuned"


# ---------------------------------------------------------------------------------------------
# how each row trained


def _scheduled_epochs(result, fold: str) -> int | None:
    fold_configs = getattr(result, "fold_configs", None) or {}
    train = (fold_configs.get(fold) or {}).get("train") or (getattr(result, "resolved_config", {}) or {}).get("train", {})
    epochs = train.get("epochs") if train else None
    return int(epochs) if epochs is not None else None


def selected_last(result, fold_result) -> bool:
    """Whether a finished run selected the last epoch it trained while training was not stopped
    early: ``best_epoch == len(history) == train.epochs`` (without a known schedule,
    ``best_epoch == len(history)``, which early stopping never gives, since it stops
    ``patience`` epochs after the best)."""
    history = getattr(fold_result, "history", None) or []
    best = int(getattr(fold_result, "best_epoch", 0) or 0)
    if not history or best < 1 or best != len(history):
        return False
    scheduled = _scheduled_epochs(result, str(getattr(fold_result, "fold", "")))
    return scheduled is None or len(history) == scheduled


def _stats(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return math.nan, math.nan, math.nan
    return float(np.mean(values)), float(min(values)), float(max(values))


def _chance_loss(result, runs) -> float:
    """The training loss of uniform predictions for a classification row: ln C (C = the runs'
    class count) times the model's :meth:`~bench.models.contract.AVModel.chance_loss_scale`
    (3 for a loss that sums three heads); NaN for other tasks."""
    model = (getattr(result, "resolved_config", {}) or {}).get("model", {}) or {}
    classes = max((len(getattr(r, "labels", None) or []) for r in runs), default=0)
    if model.get("task") != "classification" or classes <= 1:
        return math.nan
    from bench.errors import ConfigError
    from bench.models.registry import get_model_entry

    try:
        scale = get_model_entry(getattr(result, "model", "")).model_class.chance_loss_scale(model)
    except (ConfigError, KeyError):  # a row of a model no longer registered: one head
        scale = 1.0
    return float(scale) * math.log(classes)


def training_frame(results: Mapping[str, Any], row_key: str = "model") -> pd.DataFrame:
    """One row per entry of ``results`` ({row name: ExperimentResult}): the settings that decide
    its numbers and the layer that set each, how it was tuned, the epochs its finished
    fold x seed runs trained and selected, how many selected their last epoch without stopping
    early, the mean wall seconds per run, and ``undertrained`` (:data:`UNDERTRAINED_SHARE`)."""
    rows = []
    for name, result in results.items():
        values, set_by = _settings(result)
        finished = list(getattr(result, "finished", []) or [])
        trained = [r for r in finished if getattr(r, "history", None)]
        ran = _stats([float(len(r.history)) for r in trained])
        chosen = _stats([float(r.best_epoch) for r in trained if getattr(r, "best_epoch", 0)])
        last = sum(selected_last(result, r) for r in finished)
        final = _stats([float(r.history[-1]["train_loss"]) for r in trained if "train_loss" in r.history[-1]])
        chance = _chance_loss(result, trained)
        seconds = [float(getattr(r, "seconds", math.nan)) for r in finished]
        seconds = [s for s in seconds if not math.isnan(s)]
        values = {key: (_show(key, value) if key == "warmup" else value) for key, value in values.items()}
        # the row's name after its model, so that a compare row "deiii-tuned" keeps its name
        rows.append({"model": getattr(result, "model", name), row_key: name, **values, "set_by": set_by,
                     "model_settings": model_settings_text(result), "tuning": tuning_text(result), "runs": len(finished),
                     "epochs_run_mean": ran[0], "epochs_run_min": ran[1], "epochs_run_max": ran[2],
                     "selected_mean": chosen[0], "selected_min": chosen[1], "selected_max": chosen[2],
                     "selected_last": int(last), "final_loss_mean": final[0], "final_loss_min": final[1],
                     "final_loss_max": final[2], "chance_loss": chance,
                     "seconds_mean": float(np.mean(seconds)) if seconds else math.nan,
                     "undertrained": bool(finished) and last > UNDERTRAINED_SHARE * len(finished),
                     "not_fitted": not math.isnan(chance) and not math.isnan(final[0])
                                   and final[0] > float(NOT_FITTED_SHARE) * chance})
    columns = [row_key] + (["model"] if row_key != "model" else []) + list(COLUMNS)
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------------------------
# the table and the warnings


def _row_key(frame: pd.DataFrame) -> str:
    return str(frame.columns[0])


def _range(mean: float, low: float, high: float) -> str:
    if math.isnan(mean):
        return "–"
    if low == high:
        return f"{low:g}"
    return f"{mean:.1f} ({low:g}–{high:g})"


def _settings_text(row: Mapping[str, Any]) -> str:
    parts = [_show("optimizer", row["optimizer"]), f"lr {_show('lr', row['lr'])}", f"batch {_show('batch_size', row['batch_size'])}",
             f"{_show('epochs', row['epochs'])} epochs", f"patience {_show('patience', row['patience'])}",
             f"{_show('scheduler', row['scheduler'])} schedule", f"warm-up {row['warmup']}"]
    return ", ".join(parts)


UNDERTRAINED_MARKER = "‡"
NOT_FITTED_MARKER = "§"


def caption(row_label: str = "model") -> str:
    share = UNDERTRAINED_SHARE
    return (f"How each {row_label} was configured, tuned and trained. Settings: the training settings that decide the "
            "numbers (values of a nested-tuned row differ per outer fold and are joined by '/'). Set by: the "
            "configuration layer that set each setting (default = the trainer's own default, recipe = the model's "
            "registered recipe, preset = the dataset preset, study = a study file, nested-tuned = the outer fold's own "
            "tuned table, override = the command's or the study's overrides). Tuning: how the settings were chosen. "
            "Epochs run and Selected epoch: over the finished fold × seed runs, the mean with (min–max). Selected = "
            "last: runs whose selected epoch is the last epoch trained without early stopping, out of the runs. "
            f"{UNDERTRAINED_MARKER}: likely undertrained, marked when more than {share.numerator}/{share.denominator} "
            "of the runs selected their last epoch (a fixed rule); its scores may rise with a longer schedule. Model "
            "settings: the model's settings that a layer changed from the model's own defaults (sizes of a preset, "
            "values of a study or a sweep). Final train loss: the training loss of the last epoch each run trained, "
            f"mean (min–max); {NOT_FITTED_MARKER}: not fitted, marked on a classification row when that mean is above "
            f"{NOT_FITTED_SHARE.numerator}/{NOT_FITTED_SHARE.denominator} of the loss of predicting the uniform "
            "distribution over C classes (ln C, times the number of heads a loss sums, e.g. 3 ln C for DE-III's summed "
            "video, audio and fused losses; a fixed rule): the model had not fitted its own training clips. s / run: "
            "mean wall seconds per fold × seed run (as first trained, also for cached runs).")


def training_table(frame: pd.DataFrame, *, label: str = "tab:training") -> Table:
    """The frame as a :class:`~bench.report.tables.Table` (LaTeX / Markdown / CSV writers)."""
    row_key = _row_key(frame)
    rows = []
    for _, row in frame.iterrows():
        flagged = bool(row["undertrained"])
        last = f"{int(row['selected_last'])}/{int(row['runs'])}"
        seconds = "–" if math.isnan(row["seconds_mean"]) else f"{row['seconds_mean']:.1f}"
        unfit = bool(row["not_fitted"])
        rows.append([Cell(str(row[row_key])), Cell(_settings_text(row)), Cell(str(row["set_by"])),
                     Cell(str(row["model_settings"])), Cell(str(row["tuning"])),
                     Cell(str(int(row["runs"]))),
                     Cell(_range(row["epochs_run_mean"], row["epochs_run_min"], row["epochs_run_max"])),
                     Cell(_range(row["selected_mean"], row["selected_min"], row["selected_max"])),
                     Cell(last, bold=flagged, marker=UNDERTRAINED_MARKER if flagged else ""),
                     Cell(_loss_range(row), bold=unfit, marker=NOT_FITTED_MARKER if unfit else ""), Cell(seconds)])
    header = [row_key.capitalize(), "Settings", "Set by", "Model settings", "Tuning", "Runs", "Epochs run", "Selected epoch",
              "Selected = last", "Final train loss", "s / run"]
    notes = ([f"{UNDERTRAINED_MARKER} {line}" for line in undertrained_warnings(frame)]
             + [f"{NOT_FITTED_MARKER} {line}" for line in not_fitted_warnings(frame)])
    return Table(kind="training", header=header, align="l" + "p{4.2cm}" * 4 + "rrrrrr", rows=rows, reported=[],
                 caption=caption(row_key), label=label, notes=notes, data=frame.reset_index(drop=True))


def undertrained_warnings(frame: pd.DataFrame) -> list[str]:
    """One line per flagged row, naming the evidence and the fix."""
    row_key = _row_key(frame)
    lines = []
    for _, row in frame[frame["undertrained"].astype(bool)].iterrows():
        lines.append(f"{row[row_key]}: selected its last epoch in {int(row['selected_last'])} of {int(row['runs'])} runs "
                     f"(epochs {_show('epochs', row['epochs'])}, no early stop): likely undertrained; train longer "
                     "(train.epochs / train.patience) before comparing")
    return lines


def _loss_range(row: Mapping[str, Any]) -> str:
    mean, low, high = row["final_loss_mean"], row["final_loss_min"], row["final_loss_max"]
    if math.isnan(mean):
        return "–"
    return f"{mean:.3f}" if low == high else f"{mean:.3f} ({low:.3f}–{high:.3f})"


def not_fitted_warnings(frame: pd.DataFrame) -> list[str]:
    """One line per classification row that had not fitted its training clips (see the module doc)."""
    row_key = _row_key(frame)
    share = NOT_FITTED_SHARE
    return [f"{row[row_key]}: mean final training loss {row['final_loss_mean']:.2f} is above {share.numerator}/"
            f"{share.denominator} of {row['chance_loss']:.2f}, its loss when predicting the uniform distribution: it had not "
            "fitted its training clips when training stopped; likely undertrained (a longer schedule, or a recipe that "
            "converges on this data) before comparing"
            for _, row in frame[frame["not_fitted"].astype(bool)].iterrows()]


def leakage_warnings(frame: pd.DataFrame) -> list[str]:
    """One line per row whose tuning saw some folds' test speakers (already warned by the run;
    repeated here so the report's index carries it)."""
    row_key = _row_key(frame)
    return [f"{row[row_key]}: {row['tuning']}" for _, row in frame.iterrows() if "TEST LEAKAGE" in str(row["tuning"])]


def write_training_report(results: Mapping[str, Any], bundle, say, *, row_key: str = "model", label: str = "tab:training") -> dict:
    """The training table into ``bundle`` as ``training``; each undertrained row's warning to
    ``say`` (one line, without a "warning:" prefix) and, with any test-leakage line, to the top of
    the bundle's index. Returns the table's {format: path}."""
    frame = training_frame(results, row_key=row_key)
    paths = bundle.table(training_table(frame, label=label), "training", description="How each row was configured, tuned and trained")
    for line in undertrained_warnings(frame) + not_fitted_warnings(frame):
        say(line)
        bundle.note(line)
    for line in leakage_warnings(frame):
        bundle.note(line)
    return paths
