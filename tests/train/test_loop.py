"""fit_fold: selection sees validation only, test is scored once with the chosen weights/head,
NaN fails cleanly, the same seed gives the same numbers on CPU."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from bench.models.contract import AVModel, ModelConfig, ModelOutput
from bench.models.registry import register_model, unregister_model
from bench.train.config import TrainConfig
from bench.train.loop import fit_fold

from tests.support.toy import speaker_fold

VAL_SPEAKER, TEST_SPEAKER = 1, 0


@dataclass
class _OracleConfig(ModelConfig):
    # "epoch": head "fused" is right on validation at epoch 1 only and right on test after;
    # "head": head "a" is right on validation and wrong on test, head "b" the reverse.
    mode: str = "epoch"


class _Oracle(AVModel):
    """Reads the answers from the batch so that what each choice would score is known.

    Trained with lr=1e-12 (a learning rate must be positive): its bias stays at zero in effect.
    """

    def __init__(self, config):
        super().__init__(config)
        self.bias = nn.Parameter(torch.zeros(config.num_outputs))
        self.register_buffer("epochs_seen", torch.zeros((), dtype=torch.long))

    def required_inputs(self):
        return ("audio",)

    def forward(self, batch):
        audio, _ = self.get_input(batch, "audio")
        if self.training:
            self.epochs_seen += 1  # one training batch per epoch in these tests
        label = batch["label"]
        n = self.config.num_outputs
        right = nn.functional.one_hot(label, n).float() * 10
        wrong = nn.functional.one_hot((label + 1) % n, n).float() * 20
        is_val = torch.tensor([int(c[1:3]) == VAL_SPEAKER for c in batch["clip_id"]])[:, None]
        epoch_one = bool(self.epochs_seen <= 1)
        zero = audio.sum() * 0
        if self.config.mode == "epoch":
            good = is_val if epoch_one else ~is_val
            return ModelOutput({"fused": torch.where(good, right, wrong) + self.bias + zero})
        return ModelOutput({"a": torch.where(is_val, right, wrong) + self.bias + zero,
                            "b": torch.where(is_val, wrong, right) + self.bias + zero})


@pytest.fixture
def oracle():
    register_model("oracle_test", _OracleConfig)(_Oracle)
    yield "oracle_test"
    unregister_model("oracle_test")


def test_epoch_is_chosen_on_validation_not_test(toy_store, oracle):
    fold = speaker_fold(toy_store)
    config = TrainConfig(epochs=3, batch_size=64, lr=1e-12, patience=0)
    result = fit_fold(oracle, {"mode": "epoch"}, config, toy_store, fold, seed=0, fold_name="f")
    assert result.status == "finished"
    assert [h["val_accuracy"] for h in result.history] == [1.0, 0.0, 0.0]
    assert result.best_epoch == 1
    # the test set would have preferred epochs 2-3 (all right there); it was not asked
    assert result.test["accuracy"] == 0.0
    assert len(result.predictions) == len(fold["test"])


def test_head_is_chosen_on_validation_not_test(toy_store, oracle):
    fold = speaker_fold(toy_store)
    config = TrainConfig(epochs=1, batch_size=64, lr=1e-12)
    result = fit_fold(oracle, {"mode": "head", "inference_head": "validation"}, config, toy_store, fold, seed=0)
    assert result.inference_head == "a"
    assert result.val["accuracy"] == 1.0 and result.test["accuracy"] == 0.0
    fixed = fit_fold(oracle, {"mode": "head", "inference_head": "b"}, config, toy_store, fold, seed=0)
    assert fixed.inference_head == "b" and fixed.test["accuracy"] == 1.0


def test_early_stopping_patience(toy_store, oracle):
    fold = speaker_fold(toy_store)
    result = fit_fold(oracle, {"mode": "epoch"}, TrainConfig(epochs=10, batch_size=64, lr=1e-12, patience=2), toy_store, fold, seed=0)
    assert len(result.history) == 3 and result.best_epoch == 1


def test_early_stopping_waits_for_min_epochs_and_selection_sees_every_epoch(toy_store, oracle):
    """Lightning's min_epochs: patience 2 would stop after epoch 3; min_epochs 5 runs 5 epochs
    and still selects epoch 1, the best on validation."""
    fold = speaker_fold(toy_store)
    config = TrainConfig(epochs=10, batch_size=64, lr=1e-12, patience=2, min_epochs=5)
    result = fit_fold(oracle, {"mode": "epoch"}, config, toy_store, fold, seed=0)
    assert len(result.history) == 5 and result.best_epoch == 1


def test_min_epochs_leaves_existing_cache_keys_alone():
    from bench.errors import ConfigError
    from bench.study.cache import fold_key

    key = fold_key("m", ModelConfig(), TrainConfig(epochs=3), "store", "split", "f", 0)
    assert fold_key("m", ModelConfig(), TrainConfig(epochs=3, min_epochs=0), "store", "split", "f", 0) == key
    assert fold_key("m", ModelConfig(), TrainConfig(epochs=3, min_epochs=2), "store", "split", "f", 0) != key
    with pytest.raises(ConfigError, match="min_epochs"):
        TrainConfig(min_epochs=-1)


def test_same_seed_same_numbers(small_store, toy_model):
    fold = speaker_fold(small_store)
    config = TrainConfig(epochs=2, batch_size=6, lr=1e-2, augment=True, rotation_deg=10, color_jitter=0.2)
    runs = [fit_fold(toy_model, {"inference_head": "validation"}, config, small_store, fold, seed=s) for s in (3, 3, 4)]
    assert runs[0].test == runs[1].test and runs[0].history == runs[1].history
    assert runs[0].predictions.equals(runs[1].predictions)
    assert not runs[0].predictions.equals(runs[2].predictions)


def test_nan_loss_fails_the_fold_with_a_clear_message(toy_store, toy_model):
    fold = speaker_fold(toy_store)
    result = fit_fold(toy_model, None, TrainConfig(epochs=2, batch_size=64, lr=1e30, optimizer="sgd"), toy_store, fold,
                      seed=7, fold_name="fold3")
    assert result.status == "failed"
    assert result.error.startswith("fold fold3 seed 7: loss became ")
    assert "at epoch 2 step 1" in result.error or "at epoch 1 step 1" in result.error


def test_regression_task_scores_ccc(toy_store, toy_model):
    fold = speaker_fold(toy_store)
    result = fit_fold(toy_model, {"task": "regression"}, TrainConfig(epochs=1, batch_size=8), toy_store, fold, seed=0)
    assert set(result.test) == {"ccc_arousal", "ccc_valence", "ccc_dominance", "ccc_mean"}
    assert {"arousal", "pred_arousal"} <= set(result.predictions.columns)


def test_warm_start_runs_its_epochs_at_warmup_lr_then_the_schedule_resumes(toy_store, oracle):
    """RJA's official start: the first warmup_epochs at warmup_lr, then the schedule's own rate,
    whose milestones still count from epoch 1."""
    fold = speaker_fold(toy_store)
    config = TrainConfig(epochs=6, batch_size=64, lr=1e-3, scheduler="multistep", milestones=[4], gamma=0.5,
                         warmup_epochs=2, warmup_lr=1e-4)
    result = fit_fold(oracle, {"mode": "epoch"}, config, toy_store, fold, seed=0)
    assert [h["lr"] for h in result.history] == pytest.approx([1e-4, 1e-4, 1e-3, 1e-3, 5e-4, 5e-4])


def test_warm_start_fields_leave_existing_cache_keys_alone():
    from bench.study.cache import fold_key

    base = TrainConfig(epochs=3)
    key = fold_key("m", ModelConfig(), base, "store", "split", "f", 0)
    assert fold_key("m", ModelConfig(), TrainConfig(epochs=3, warmup_epochs=0), "store", "split", "f", 0) == key
    assert fold_key("m", ModelConfig(), TrainConfig(epochs=3, warmup_epochs=2, warmup_lr=1e-4),
                    "store", "split", "f", 0) != key


def test_warm_start_needs_a_rate():
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="warmup_lr"):
        TrainConfig(warmup_epochs=2)
