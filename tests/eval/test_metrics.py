"""Metrics against scikit-learn and hand-computed values; the t-interval of bench.eval.stats."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from bench.nn.losses import ccc as torch_ccc
from bench.eval.stats import aggregate, summarize
from bench.eval.metrics import ccc, classification_metrics, regression_metrics

LABELS = ["neutral", "happy", "sad", "angry"]


def test_classification_by_hand():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    m = classification_metrics(y_true, y_pred, LABELS)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recalls: neutral 2/3, happy 1/2, sad 1/1; angry absent -> NaN and not averaged
    assert m["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert m["per_class_recall"]["happy"] == pytest.approx(0.5)
    assert math.isnan(m["per_class_recall"]["angry"])
    assert m["confusion"] == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


def test_classification_matches_sklearn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, 200))
    m = classification_metrics(y_true, y_pred, LABELS)
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert m["weighted_f1"] == pytest.approx(f1_score(y_true, y_pred, average="weighted"))
    assert m["confusion"] == confusion_matrix(y_true, y_pred).tolist()


def test_ccc_by_hand_and_against_the_loss():
    target = np.array([1.0, 2.0, 3.0, 4.0])
    assert ccc(target, target)[0] == pytest.approx(1.0)
    assert ccc(-target, target)[0] < 0
    prediction = np.array([1.5, 2.0, 2.5, 5.0])
    mp, mt = prediction.mean(), target.mean()
    cov = ((prediction - mp) * (target - mt)).mean()
    expected = 2 * cov / (prediction.var() + target.var() + (mp - mt) ** 2)
    assert ccc(prediction, target)[0] == pytest.approx(expected)
    assert ccc(prediction, target)[0] == pytest.approx(float(torch_ccc(torch.tensor(prediction), torch.tensor(target))[0]), abs=1e-6)
    # a constant shift lowers CCC although the correlation stays 1
    assert ccc(target + 1, target)[0] < 1


def test_regression_metrics_names_and_mean():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(50, 3))
    prediction = target + rng.normal(scale=0.5, size=(50, 3))
    m = regression_metrics(prediction, target, ["arousal", "valence", "dominance"])
    assert set(m) == {"ccc_arousal", "ccc_valence", "ccc_dominance", "ccc_mean"}
    assert m["ccc_mean"] == pytest.approx(np.mean([m["ccc_arousal"], m["ccc_valence"], m["ccc_dominance"]]))


def test_summary_t_interval():
    s = summarize([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(1.0) and s["n"] == 3
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, df=2)
    assert s["ci95_low"] == pytest.approx(2 - half) and s["ci95_high"] == pytest.approx(2 + half)
    one = summarize([0.7])
    assert one["mean"] == 0.7 and math.isnan(one["std"]) and one["n"] == 1
    assert aggregate([{"uar": 0.5}, {"uar": 0.7}])["uar"]["mean"] == pytest.approx(0.6)
