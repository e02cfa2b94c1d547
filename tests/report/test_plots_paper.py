"""Figures a paper can print: the forest plot, no overlapping tick labels, axes inside the
metric's range, one colour per model across figures, PNG and PDF."""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from tests.support.tidy_frames import make_tidy

from bench.errors import ConfigError
from bench.report import plots as P
from bench.report import tables as T

LONG = ["full", "no_flow", "ov_concat", "ov_add", "no_ife", "ife_audio_only", "ife_video_only", "transformer",
        "head_video", "head_audio", "head_fused", "test_audio_zeroed", "test_video_zeroed"]


def rendered_tick_boxes(fig):
    """Window extents of every visible, non-empty tick label of a drawn figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for locs, labels, limits in ((ax.get_xticks(), ax.get_xticklabels(), ax.get_xlim()),
                                     (ax.get_yticks(), ax.get_yticklabels(), ax.get_ylim())):
            lo, hi = sorted(limits)
            for loc, label in zip(locs, labels):  # the locator's ticks outside the view are not drawn
                if lo - 1e-9 <= loc <= hi + 1e-9 and label.get_visible() and label.get_text().strip():
                    boxes.append((label.get_text(), label.get_window_extent(renderer)))
    return boxes


def assert_no_overlap(fig):
    boxes = rendered_tick_boxes(fig)
    assert len(boxes) >= 2
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        # overlaps() is true for boxes that merely touch; demand a strictly positive overlap area
        w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert not (w > 0.5 and h > 0.5), f"tick labels {a!r} and {b!r} overlap"


def ablation_tests(variants=LONG, metrics=("uar", "pair_motion")):
    spec = {v: 0.7 - 0.03 * i for i, v in enumerate(variants)}
    spec["no_flow"] = 0.45  # a large, consistent drop: significant under the corrected test
    spec["ov_add"] = 0.70  # no change at all: only noise, not significant
    df = make_tidy(spec, metrics=metrics, folds=5, seeds=3, noise=0.01)
    return T.ablation_table(df, reference="full").tests


def test_the_tick_label_checker_can_fail():
    fig, ax = P.new_figure(2.0, 2.0)
    ax.set_xticks(range(4), ["a_long_variant_name"] * 4)
    with pytest.raises(AssertionError, match="overlap"):
        assert_no_overlap(fig)


def test_forest_plot_rows_intervals_zero_line_and_marks(tmp_path):
    tests = ablation_tests()
    fig = P.forest_figure(tests, variants=LONG, reference="full")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["UAR", "motion pair"]
    at = dict(zip(panels[0].get_yticks(), (t.get_text() for t in panels[0].get_yticklabels())))
    assert at[max(at)] == "no_flow" and at[min(at)] == "test_video_zeroed"  # first variant on top
    for ax in panels:
        # a dashed vertical line at zero
        assert any(np.allclose(line.get_xdata(), 0.0) and line.get_linestyle() == "--" for line in ax.get_lines())
        points = [line for line in ax.get_lines() if line.get_gid() in LONG]
        assert len(points) == len(LONG) - 1  # every variant but the reference
        lo, hi = ax.get_xlim()
        assert lo <= -25 < 0 < hi  # no_flow is 25 points down
    # no_flow is significant: a filled marker and the dagger; an insignificant row is hollow
    uar = panels[0]
    dot = {line.get_gid(): line for line in uar.get_lines() if line.get_gid() in LONG}
    assert to_hex(dot["no_flow"].get_markerfacecolor()) == P.model_color("no_flow")
    assert tests["uar"]["no_flow"].significant
    assert [t for t in uar.texts if t.get_gid() == "significant:no_flow"][0].get_text() == "†"
    hollow = [v for v, t in tests["uar"].items() if not t.significant]
    assert hollow and to_hex(dot[hollow[0]].get_markerfacecolor()) == "#ffffff"
    assert "corrected repeated k-fold t-test" in fig.get_suptitle()
    assert_no_overlap(fig)
    paths = P.plot_forest(tests, tmp_path, "forest", variants=LONG)
    assert set(paths) == {"png", "pdf"} and paths["pdf"].read_bytes().startswith(b"%PDF")
    assert paths["png"].read_bytes().startswith(b"\x89PNG") and plt.get_fignums() == []
    with pytest.raises(ConfigError, match="none of the variants"):
        P.forest_figure(tests, variants=["nope"])


def test_forest_interval_is_cut_at_what_the_metric_allows():
    # reference at 90%: a variant cannot be more than 10 points better, whatever the interval says
    df = pd.DataFrame([dict(model=m, fold=f, seed=0, metric="uar", value=v)
                       for f, (a, b) in enumerate([(0.9, 0.99), (0.9, 0.75), (0.9, 1.0)]) for m, v in (("full", a), ("x", b))])
    tests = T.ablation_table(df, reference="full").tests
    assert tests["uar"]["x"].ci_high * 100 > 10  # the raw interval passes 100%
    fig = P.forest_figure(tests)
    ax = fig.axes[0]
    assert ax.get_xlim()[1] <= 10 + 1e-9
    ends = [seg[:, 0] for coll in ax.collections for seg in coll.get_segments()]
    assert ends and max(float(e.max()) for e in ends) <= 10 + 1e-9


def test_fold_scores_with_long_names_do_not_overlap():
    df = make_tidy({v: 0.6 for v in LONG}, folds=3, seeds=1)
    for kind in ("point", "strip"):
        assert_no_overlap(P.fold_scores_figure(df, "uar", kind=kind, models=LONG))


def test_robustness_with_long_condition_names_do_not_overlap():
    rows = [dict(model=m, condition=c, fold=f, metric="uar", value=0.5 + 0.01 * f)
            for m in ("deiii", "saf") for c in ("clean", "audio_missing_entirely", "video_missing_entirely", "noise_0_db")
            for f in range(3)]  # fmt: skip
    assert_no_overlap(P.robustness_figure(pd.DataFrame(rows)))


def near_ceiling():
    """Scores with mean 0.95 and sd 0.1 (1, 1, 1, 0.8): mean + sd would be 105%."""
    values = [1.0, 1.0, 1.0, 0.8]
    assert np.mean(values) == pytest.approx(0.95) and np.mean(values) + np.std(values, ddof=1) > 1.0
    return values


def test_error_bars_and_axes_stay_within_100_percent():
    values = near_ceiling()
    df = pd.DataFrame([dict(model="deiii", dataset="d", fold=f, seed=0, metric="uar", value=v) for f, v in enumerate(values)]
                      + [dict(model="saf", dataset="d", fold=f, seed=0, metric="uar", value=0.5 + 0.05 * f) for f in range(4)])
    fig = P.fold_scores_figure(df, "uar", kind="point")
    ax = fig.axes[0]
    assert ax.get_ylim()[1] <= 100.0
    tops = [seg[:, 1].max() for coll in ax.collections for seg in coll.get_segments()]
    assert tops and max(tops) == pytest.approx(100.0)  # the deiii bar is cut at 100, not 105.5
    assert ax.get_ylim()[1] >= 100.0 - 1e-9  # and the axis shows it whole

    rows = [dict(model="deiii", condition=c, fold=f, metric="uar", value=v) for c in ("clean", "noisy") for f, v in enumerate(values)]
    fig = P.robustness_figure(pd.DataFrame(rows))
    ax = fig.axes[0]
    assert ax.get_ylim()[1] <= 100.0 and ax.get_ylim()[0] == 0.0
    tops = [seg[:, 1].max() for coll in ax.collections for seg in coll.get_segments()]
    assert tops and max(tops) == pytest.approx(100.0)
    # a fraction metric without percent scaling (CCC) is cut at 1
    ccc = pd.DataFrame([dict(model="a", condition="clean", fold=f, metric="ccc_mean", value=v) for f, v in enumerate(values)])
    ax = P.robustness_figure(ccc).axes[0]
    assert ax.get_ylim()[1] <= 1.0
    assert max(seg[:, 1].max() for coll in ax.collections for seg in coll.get_segments()) == pytest.approx(1.0)


def test_metric_range():
    assert P.metric_range("uar") == (0.0, 100.0)
    assert P.metric_range("ccc_mean") == (-1.0, 1.0)
    assert P.metric_range("pair_motion") == (0.0, 100.0)
    assert P.metric_range("uar@audio_missing") == (0.0, 100.0)
    assert P.metric_range("loss") is None


def colours_by_gid(fig, names):
    found = {}
    for artist in fig.findobj(lambda a: a.get_gid() in names):
        if hasattr(artist, "get_markerfacecolor"):
            found.setdefault(artist.get_gid(), to_hex(artist.get_color()))
        elif hasattr(artist, "get_facecolor"):
            found.setdefault(artist.get_gid(), to_hex(artist.get_facecolor()))
        else:
            found.setdefault(artist.get_gid(), to_hex(artist.get_color()))
    return found


def test_the_same_model_has_the_same_colour_in_every_figure():
    # two figures with different model sets and orders: a palette by position would disagree
    folds = make_tidy({"rja": 0.5, "deiii": 0.7, "my_model": 0.6}, folds=3, seeds=1)
    rows = [dict(model=m, condition=c, fold=f, metric="uar", value=0.5)
            for m in ("my_model", "saf", "deiii") for c in ("clean", "noisy") for f in range(2)]  # fmt: skip
    a = colours_by_gid(P.fold_scores_figure(folds, "uar", kind="point"), {"rja", "deiii", "my_model"})
    b = colours_by_gid(P.robustness_figure(pd.DataFrame(rows)), {"my_model", "saf", "deiii"})
    assert a["deiii"] == b["deiii"] == P.MODEL_COLORS["deiii"]
    assert a["my_model"] == b["my_model"] == P.model_color("my_model")
    assert len({a["rja"], a["deiii"], a["my_model"], b["saf"]}) == 4
    # the hash fallback is stable (md5, not the per-process salted hash()) and spreads names
    assert P.model_color("my_model") == P.model_color("my_model")
    assert len({P.model_color(v) for v in LONG}) == len(LONG)


def test_a_tuned_row_is_a_lighter_shade_of_its_models_colour():
    from matplotlib.colors import to_rgb

    for model in P.MODEL_COLORS:
        base, tuned = to_rgb(P.model_color(model)), to_rgb(P.model_color(f"{model}-tuned"))
        assert tuned != base and all(t >= b for t, b in zip(tuned, base))  # same hue, towards white
    assert len({P.model_color(f"{m}-tuned") for m in P.MODEL_COLORS}) == len(P.MODEL_COLORS)
