"""Clip-level percentile bootstrap of one model's score."""

import numpy as np
import pytest

from bench.errors import ConfigError
from bench.eval.metrics import ccc, classification_metrics
from bench.eval.stats import _classification_scores, _confusion, bootstrap_interval


def predictions(n=300, classes=4, accuracy=0.7, seed=1):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, n)
    wrong = (truth + rng.integers(1, classes, n)) % classes
    return truth, np.where(rng.random(n) < accuracy, truth, wrong)


@pytest.mark.parametrize("metric", ["accuracy", "uar", "macro_f1", "weighted_f1"])
def test_fast_scores_equal_the_metric_table(metric):
    truth, pred = predictions()
    pred[pred == 3] = 0  # class 3 never predicted: F1 conventions matter
    expected = classification_metrics(truth, pred, ["a", "b", "c", "d"])[metric]
    fast = _classification_scores(_confusion(truth[None], pred[None], 4), metric)[0]
    assert fast == pytest.approx(expected)


def test_interval_contains_the_score_and_is_reproducible():
    truth, pred = predictions()
    out = bootstrap_interval(truth, pred, "accuracy", n_boot=500, seed=0)
    assert out["value"] == pytest.approx((truth == pred).mean())
    assert out["low"] < out["value"] < out["high"]
    # binomial standard error sqrt(p(1-p)/n) ~ 0.026: the 95% interval is about ± 0.05 wide
    assert 0.06 < out["high"] - out["low"] < 0.14
    assert bootstrap_interval(truth, pred, "accuracy", n_boot=500, seed=0) == out
    assert bootstrap_interval(truth, pred, "accuracy", n_boot=500, seed=1) != out
    # string labels work as well as indices
    labels = np.array(["neu", "hap", "sad", "ang"])
    assert bootstrap_interval(labels[truth], labels[pred], "accuracy", n_boot=500) == out


def test_more_clips_narrow_the_interval():
    small = bootstrap_interval(*predictions(n=100), "uar", n_boot=400)
    large = bootstrap_interval(*predictions(n=1600), "uar", n_boot=400)
    assert (large["high"] - large["low"]) < 0.5 * (small["high"] - small["low"])


def test_ccc_interval_and_errors():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(200, 2))
    pred = target + rng.normal(scale=0.5, size=(200, 2))
    out = bootstrap_interval(target, pred, "ccc_valence", names=["arousal", "valence"], n_boot=300)
    assert out["value"] == pytest.approx(ccc(pred, target)[1])
    assert out["low"] < out["value"] < out["high"] <= 1.0
    with pytest.raises(ConfigError, match="names="):
        bootstrap_interval(target, pred, "ccc_valence")
    with pytest.raises(ConfigError, match="unknown metric 'f2'"):
        bootstrap_interval([0, 1], [0, 1], "f2")
    with pytest.raises(ConfigError, match="equally many"):
        bootstrap_interval([0, 1], [0], "accuracy")
