"""Ablation bookkeeping: pair accuracies from confusion matrices, head and zeroed-input rows."""

import math
from types import SimpleNamespace

import pytest

from bench.report.ablation import ZEROED_ROWS, ablation_frame, pair_accuracy
from bench.errors import ConfigError

LABELS = ["neutral", "sad", "fearful"]


def test_pair_accuracy_is_accuracy_on_the_pair_clips():
    confusion = [[9, 1, 0], [0, 6, 4], [5, 2, 3]]  # rows: true, cols: predicted
    # sad row 10 clips (6 right), fearful row 10 clips (3 right) -> 9 / 20
    assert pair_accuracy(confusion, LABELS, ("sad", "fearful")) == pytest.approx(9 / 20)


def test_a_model_that_merges_the_pair_scores_at_most_half():
    merged = [[5, 0, 0], [0, 5, 0], [0, 5, 0]]  # every fearful clip called sad
    assert pair_accuracy(merged, LABELS, ("sad", "fearful")) == 0.5


def test_pair_accuracy_unknown_class():
    with pytest.raises(ConfigError, match="not in the label vocabulary"):
        pair_accuracy([[1]], ["a"], ("a", "b"))


def test_pair_accuracy_without_pair_clips_is_nan():
    assert math.isnan(pair_accuracy([[3, 0, 0], [0, 0, 0], [0, 0, 0]], LABELS, ("sad", "fearful")))


def _fold(fold, uar, confusion, by_head=None, robustness=None):
    return SimpleNamespace(fold=fold, seed=0, test={"uar": uar}, confusion=confusion, labels=LABELS,
                           test_by_head=by_head or {}, robustness=robustness or {})


def _result(model, folds):
    return SimpleNamespace(model=model, dataset="synthetic", finished=folds)


def test_ablation_frame_adds_heads_and_zeroed_rows_for_the_reference_only():
    eye = [[5, 0, 0], [0, 5, 0], [0, 0, 5]]
    bad = [[5, 0, 0], [0, 0, 5], [0, 5, 0]]
    ref = _fold("f1", 0.9, eye, by_head={"video": {"uar": 0.5, "confusion": bad}},
                robustness={"audio_missing": {"uar": 0.4, "confusion": bad}})
    other = _fold("f1", 0.6, bad, by_head={"video": {"uar": 0.1, "confusion": bad}})
    frame = ablation_frame({"full": _result("deiii", [ref]), "no_flow": _result("deiii", [other])}, "full",
                           ["video"], {"motion": ["sad", "fearful"]})
    values = {(r.variant, r.metric): r.value for r in frame.itertuples()}
    assert values[("full", "pair_motion")] == 1.0
    assert values[("no_flow", "pair_motion")] == 0.0
    assert values[("head_video", "uar")] == 0.5
    assert values[(ZEROED_ROWS["audio_missing"], "uar")] == 0.4
    assert ("head_video", "uar") in values and len([k for k in values if k[0] == "head_video"]) == 2


def test_missing_head_is_an_error():
    ref = _fold("f1", 0.9, [[1]], by_head={"fused": {"uar": 0.5}})
    with pytest.raises(ConfigError, match="head 'video' not among"):
        ablation_frame({"full": _result("deiii", [ref])}, "full", ["video"], {})
