"""fit_fold extras: every head scored in the one test pass, robustness conditions, and
validation-only folds (a sweep's inner folds) that never touch a test set."""

import torch

from bench.eval.robustness import CONDITIONS
from bench.train.config import TrainConfig
from bench.train import loop
from bench.train.loop import fit_fold

from tests.support.toy import speaker_fold


def test_heads_and_robustness_are_scored(small_store, toy_model):
    result = fit_fold(toy_model, None, TrainConfig(epochs=1, batch_size=8), small_store, speaker_fold(small_store), seed=0, device="cpu")
    assert result.finished
    assert result.inference_head in result.test_by_head
    chosen = result.test_by_head[result.inference_head]
    assert chosen["accuracy"] == result.test["accuracy"] and chosen["confusion"] == result.confusion
    assert set(result.robustness) == set(CONDITIONS[1:])
    for scores in result.robustness.values():
        assert 0.0 <= scores["accuracy"] <= 1.0 and scores["confusion"]


def test_robustness_can_be_switched_off(small_store, toy_model):
    config = TrainConfig(epochs=1, batch_size=8, robustness=False)
    result = fit_fold(toy_model, None, config, small_store, speaker_fold(small_store), seed=0, device="cpu")
    assert result.robustness == {}


def test_validation_only_fold_reads_no_test_clip(small_store, toy_model, monkeypatch):
    ids = speaker_fold(small_store)
    test_ids = set(ids["test"])
    ids["test"] = []
    served = []  # every clip a dataset of the fold is built over (the only path to the model)
    original = loop.ClipDataset

    def recording(store, clip_ids, *args, **kwargs):
        served.extend(clip_ids)
        return original(store, clip_ids, *args, **kwargs)

    monkeypatch.setattr(loop, "ClipDataset", recording)
    result = fit_fold(toy_model, None, TrainConfig(epochs=2, batch_size=8), small_store, ids, seed=0, device="cpu")
    assert result.finished and result.test == {} and result.val
    assert served and not test_ids & set(served)
    assert torch.is_grad_enabled()
