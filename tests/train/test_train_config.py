"""Training settings out of range fail at once, naming the key the user typed."""

from __future__ import annotations

import pytest

from bench.config import apply_overrides
from bench.errors import ConfigError
from bench.train.config import TrainConfig
from deiii.config import DEIIIConfig


@pytest.mark.parametrize("key,value,message", [
    ("epochs", 0, "train.epochs must be at least 1, got 0"),
    ("batch_size", 0, "train.batch_size must be at least 1, got 0"),
    ("lr", 0, "train.lr must be greater than 0, got 0.0"),
    ("lr", -1e-3, "train.lr must be greater than 0, got -0.001"),
    ("num_workers", -1, "train.num_workers must be 0 (load in the main process) or more, got -1"),
    ("patience", -2, "train.patience must be 0 (never stop early) or more, got -2"),
    ("weight_decay", -0.1, "train.weight_decay must be 0 or more, got -0.1"),
    ("flip_p", 1.5, "train.flip_p must be a probability in [0, 1], got 1.5"),
    ("milestones", [0, 5], "train.milestones must be epochs of 1 or more, got [0, 5]"),
])
def test_out_of_range_training_settings_are_refused(key, value, message):
    with pytest.raises(ConfigError) as info:
        apply_overrides(TrainConfig(), {key: value})
    assert str(info.value) == message


def test_in_range_settings_pass():
    config = apply_overrides(TrainConfig(), {"epochs": 1, "batch_size": 1, "lr": 1e-6, "num_workers": 0, "patience": 0})
    assert (config.epochs, config.batch_size, config.num_workers) == (1, 1, 0)


@pytest.mark.parametrize("key,value", [("dropout", 1.0), ("dropout", -0.1), ("head_dropout", 1.5)])
def test_dropout_outside_zero_one_is_refused_for_any_model(key, value):
    with pytest.raises(ConfigError) as info:
        apply_overrides(DEIIIConfig(), {key: value})
    assert str(info.value) == f"{key} is a drop probability and must be in [0, 1), got {float(value)!r}"


def test_dropout_zero_and_just_below_one_pass():
    assert apply_overrides(DEIIIConfig(), {"dropout": 0.0, "head_dropout": 0.99}).head_dropout == 0.99


def test_a_selection_metric_the_task_does_not_produce_is_named_before_training():
    """uar on continuous targets (a CREMA-D sweep study run on Aff-Wild2) fails with the task's
    metrics listed; the task's own metrics, loss names and 'auto' pass."""
    from bench.errors import ConfigError
    from bench.train.config import TrainConfig, resolve_selection_metric

    for task in ("regression", "frame"):
        with pytest.raises(ConfigError, match=r"'uar' is a classification metric.*ccc_mean"):
            resolve_selection_metric(TrainConfig(selection_metric="uar"), task)
    with pytest.raises(ConfigError, match=r"'ccc_mean' is a regression metric.*uar"):
        resolve_selection_metric(TrainConfig(selection_metric="ccc_mean"), "classification")
    assert resolve_selection_metric(TrainConfig(selection_metric="ccc_mean"), "frame") == "ccc_mean"
    assert resolve_selection_metric(TrainConfig(selection_metric="ccc_video_mean"), "frame") == "ccc_video_mean"
    assert resolve_selection_metric(TrainConfig(selection_metric="loss"), "classification") == "loss"
    assert resolve_selection_metric(TrainConfig(), "classification") == "uar"
    assert resolve_selection_metric(TrainConfig(), "frame") == "ccc_mean"
