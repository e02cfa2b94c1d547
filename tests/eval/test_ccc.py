"""Frame-level CCC (ABAW's definition) and resampling to the annotation frame rate."""

from __future__ import annotations

import numpy as np
import pytest

from bench.eval.metrics import METRICS, frame_metrics, masked_ccc, primary_metric, resample_to_annotation, step_times


def reference_ccc(x, y):
    """Lin (1989) with population moments, written out."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    mx, my = x.sum() / len(x), y.sum() / len(y)
    vx, vy = ((x - mx) ** 2).sum() / len(x), ((y - my) ** 2).sum() / len(y)
    cov = ((x - mx) * (y - my)).sum() / len(x)
    return 2 * cov / (vx + vy + (mx - my) ** 2)


def test_masked_ccc_matches_reference_and_ignores_masked_rows():
    rng = np.random.default_rng(0)
    target = rng.uniform(-1, 1, (50, 2))
    prediction = 0.7 * target + rng.normal(0, 0.3, (50, 2)) + 0.1
    mask = rng.uniform(size=50) > 0.3
    garbage = prediction.copy()
    garbage[~mask] = 100.0  # masked rows must not count at all
    got = masked_ccc(garbage, target, mask)
    expected = [reference_ccc(prediction[mask, k], target[mask, k]) for k in range(2)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert masked_ccc(prediction, target, np.zeros(50, bool)).tolist() == [pytest.approx(np.nan, nan_ok=True)] * 2


def test_ccc_special_cases():
    x = np.linspace(-1, 1, 20)
    assert masked_ccc(x, x)[0] == pytest.approx(1.0)
    assert masked_ccc(-x, x)[0] == pytest.approx(-1.0)
    assert masked_ccc(x + 0.5, x)[0] < 1.0  # a bias costs concordance (not correlation)


def test_concatenated_differs_from_mean_of_per_video():
    """Two videos, each perfectly tracked up to an offset: per video the CCC is high, but the
    offsets differ, so over the concatenation the predictions disagree with the targets."""
    t = np.linspace(0, 2 * np.pi, 40)
    target_a, target_b = 0.3 * np.sin(t), 0.3 * np.sin(t) + 0.5
    pred_a, pred_b = target_a + 0.5, target_b - 0.5  # swapped levels
    stacked = lambda v, a: np.stack([v, a], 1)  # noqa: E731
    predictions = [stacked(pred_a, target_a), stacked(pred_b, target_b)]  # arousal perfect
    targets = [stacked(target_a, target_a), stacked(target_b, target_b)]
    masks = [np.ones(40, bool), np.r_[np.ones(30, bool), np.zeros(10, bool)]]
    result = frame_metrics(predictions, targets, masks)
    cat_p = np.r_[pred_a, pred_b[:30]]
    cat_t = np.r_[target_a, target_b[:30]]
    assert result["ccc_valence"] == pytest.approx(reference_ccc(cat_p, cat_t))
    per_video = np.mean([reference_ccc(pred_a, target_a), reference_ccc(pred_b[:30], target_b[:30])])
    assert result["ccc_video_valence"] == pytest.approx(per_video)
    assert abs(result["ccc_valence"] - result["ccc_video_valence"]) > 0.3
    assert result["ccc_arousal"] == pytest.approx(1.0) and result["ccc_video_arousal"] == pytest.approx(1.0)
    assert result["ccc_mean"] == pytest.approx((result["ccc_valence"] + 1.0) / 2)
    assert result["ccc_video_mean"] == pytest.approx((per_video + 1.0) / 2)


def test_frame_metrics_are_in_the_metrics_table():
    for name in ("ccc_video_valence", "ccc_video_arousal", "ccc_video_mean"):
        assert METRICS[name].task == "frame" and METRICS[name].higher_is_better and METRICS[name].low == -1.0
        assert "per-video" in METRICS[name].label
    assert primary_metric("frame") == "ccc_mean"


def test_resample_linear_and_nearest():
    fps, ann_fps = 5.0, 30.0
    steps = step_times(4, fps)  # 0.1, 0.3, 0.5, 0.7
    np.testing.assert_allclose(steps, [0.1, 0.3, 0.5, 0.7])
    pred = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    ann_times = (np.arange(24) + 0.5) / ann_fps
    linear = resample_to_annotation(pred, steps, ann_times)
    expected = np.interp(ann_times, steps, pred[:, 0])  # held at the ends
    np.testing.assert_allclose(linear[:, 0], expected)
    np.testing.assert_allclose(linear[:, 1], 1.0)
    assert linear[0, 0] == 0.0 and linear[-1, 0] == 3.0
    nearest = resample_to_annotation(pred, steps, ann_times, method="nearest")
    reference = pred[np.abs(ann_times[:, None] - steps[None, :]).argmin(axis=1)]
    np.testing.assert_allclose(nearest, reference)
    with pytest.raises(ValueError, match="linear' or 'nearest"):
        resample_to_annotation(pred, steps, ann_times, method="cubic")
    with pytest.raises(ValueError, match="4 step predictions but 3 step times"):
        resample_to_annotation(pred, steps[:3], ann_times)


def test_linear_resampling_scores_a_smooth_target_better_than_nearest():
    ann_times = (np.arange(300) + 0.5) / 30.0
    target = np.sin(2 * np.pi * 0.2 * ann_times)
    steps = step_times(50, 5.0)
    pred = np.sin(2 * np.pi * 0.2 * steps)
    linear = masked_ccc(resample_to_annotation(pred, steps, ann_times), target)[0]
    nearest = masked_ccc(resample_to_annotation(pred, steps, ann_times, "nearest"), target)[0]
    assert linear > nearest > 0.9
