"""Figures for reports: confusion matrices, per-fold scores, learning curves, IFE attention maps
(DE-III's Figure 2), robustness bars and the ablation's forest plot. Each ``plot_*`` function
saves PNG + PDF and returns the paths; the ``*_figure`` functions behind some of them return
the unsaved figure (for tests that measure what was drawn).

Conventions every figure follows, so that it can go into a paper as is:

- one colour per model or variant everywhere (:func:`model_color`: an explicit table for the
  built-in models, a stable hash of the name for the rest), never "the i-th colour of this
  figure", which changes with the set of models drawn;
- error bars and axes stay inside the metric's range (:func:`metric_range`, from
  :data:`bench.eval.metrics.METRICS`): a mean of 95% with a standard deviation of 20 points
  draws its bar up to 100%, not to 115%;
- long model or variant names are wrapped at ``_``/``-``/space and the figure widened, so tick
  labels never overlap.

Every figure is a :class:`matplotlib.figure.Figure` drawn on an Agg canvas directly, never through
``pyplot``: no global figure registry to leak into (a sweep that plots a thousand folds does not
pile up open figures), no backend switch that would disturb a user's notebook, and it works on
a machine without a display. Seaborn draws onto the axes it is given. Files are written
atomically (:mod:`bench.io`), so a killed report leaves no half-written PDF.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import re
import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.errors import ConfigError
from bench.eval.metrics import METRICS
from bench.io import atomic_path
from bench.report.tables import metric_format

from matplotlib.ticker import MaxNLocator

FORMATS: tuple[str, ...] = ("png", "pdf")
DPI = 150  # PNG resolution; the PDF is vector


def new_figure(width: float, height: float, **subplots: Any) -> tuple[Figure, Any]:
    """A pyplot-free figure on an Agg canvas, and its axes (``Figure.subplots`` arguments)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(**subplots)


def save_figure(fig: Figure, out_dir: str | Path, stem: str, formats: Sequence[str] = FORMATS) -> dict[str, Path]:
    """Write ``<out_dir>/<stem>.<fmt>`` for each format atomically; return {fmt: path}."""
    out: dict[str, Path] = {}
    for fmt in formats:
        path = Path(out_dir) / f"{stem}.{fmt}"
        with atomic_path(path, suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI, metadata={"Creator": "DE-III Bench"} if fmt == "png" else None)
        out[fmt] = path
    fig.clear()
    return out


def _legend_outside(ax: Any, title: str) -> None:
    """Legend to the right of the axes, so it never hides a bar or a point."""
    if ax.get_legend() is not None:
        ax.legend(title=title, fontsize="small", title_fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


# ---------------------------------------------------------------------------------------------
# shared conventions: colours, ranges, labels

_TAB10 = sns.color_palette("tab10").as_hex()
# The built-in models, in the registry's documented order (bench.models.registry: deiii, then the
# baselines): explicit, so a figure of two models and a figure of four agree.
MODEL_COLORS: dict[str, str] = {"deiii": _TAB10[0], "auxformer": _TAB10[1], "saf": _TAB10[2], "rja": _TAB10[3]}


def model_color(name: str) -> str:
    """The colour of a model (or ablation variant) in every figure, as ``#rrggbb``.

    The built-in models have fixed colours (:data:`MODEL_COLORS`; add to it to pin another), and
    a model's nested-tuned row (``<model>-tuned``) a lighter shade of its model's.
    Any other name gets a colour from a hash of the name (md5, not Python's per-process salted
    ``hash``): a hue anywhere on the colour circle and one of three lightness levels, so it is
    the same in every figure, process and run, and two names rarely look alike (a fixed list of
    a dozen colours would give 15 ablation variants several exact twins).
    """
    if name in MODEL_COLORS:
        return MODEL_COLORS[name]
    from bench.study.tuning import TUNED_SUFFIX

    base = str(name).removesuffix(TUNED_SUFFIX)
    if base != name and base in MODEL_COLORS:  # a model's nested-tuned row: its colour, lighter
        r, g, b = (int(MODEL_COLORS[base][i:i + 2], 16) for i in (1, 3, 5))
        return "#" + "".join(f"{round(c + (255 - c) * 0.45):02x}" for c in (r, g, b))
    digest = int(hashlib.md5(str(name).encode()).hexdigest(), 16)
    hue = (digest % 3600) / 3600.0
    lightness = (0.38, 0.50, 0.62)[(digest // 3600) % 3]
    r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.62)
    return f"#{round(255 * r):02x}{round(255 * g):02x}{round(255 * b):02x}"


def metric_range(metric: str) -> tuple[float, float] | None:
    """The values ``metric`` can take, in printed units (percent for percent metrics), or None
    when unknown. ``pair_*`` (pair accuracy) and ``<metric>@<condition>`` are covered."""
    if metric.startswith("pair_"):
        return (0.0, 100.0)
    base = metric.partition("@")[0]
    known = METRICS.get(base)
    if known is not None:
        return (known.low * known.scale, known.high * known.scale)
    if base.endswith("_f1") or base.startswith("acc"):
        return (0.0, 100.0)
    return None


def _clip_bars(centre: np.ndarray, low: np.ndarray, high: np.ndarray, bounds: tuple[float, float] | None) -> np.ndarray:
    """Asymmetric error-bar lengths (2, N) from ``low``..``high``, cut at ``bounds``."""
    centre, low, high = (np.asarray(a, dtype=float) for a in (centre, low, high))
    if bounds is not None:
        low, high = np.clip(low, *bounds), np.clip(high, *bounds)
    return np.vstack([np.maximum(centre - low, 0.0), np.maximum(high - centre, 0.0)])


def _limit(values: Sequence[float], bounds: tuple[float, float] | None, pad: float = 0.06) -> tuple[float, float]:
    """Axis limits around ``values`` with a margin, never past ``bounds``."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (bounds or (0.0, 1.0))
    margin = (hi - lo) * pad or (abs(hi) * pad or 1.0)
    lo, hi = lo - margin, hi + margin
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return lo, hi


def wrap_label(name: str, width: int = 14) -> str:
    """A tick label broken into lines of at most ``width`` characters at ``_``, ``-`` or spaces
    (a single longer word stays whole)."""
    parts = re.findall(r"[^_\-\s]+[_\-\s]?|[_\-\s]", str(name))
    lines, line = [], ""
    for part in parts:
        if line and len(line) + len(part.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += part
    lines.append(line.rstrip())
    return "\n".join(l for l in lines if l) or str(name)


def _label_size(labels: Sequence[str]) -> tuple[int, int]:
    """(longest line in characters, most lines) of a set of (wrapped) labels."""
    lines = [l for label in labels for l in label.split("\n")] or [""]
    return max(len(l) for l in lines), max(label.count("\n") + 1 for label in labels) if labels else 1


CHAR_WIDTH = 0.085  # inches per character of a 10-point tick label (generous, so labels never touch)
LINE_HEIGHT = 0.19  # inches per line of a 10-point tick label


def _as_array(x: Any) -> np.ndarray:
    """numpy from a numpy array, a nested list or a torch tensor (without importing torch)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=float)


# ---------------------------------------------------------------------------------------------
# confusion matrices


def plot_confusion(
    confusion: Any,
    labels: Sequence[str],
    out_dir: str | Path,
    stem: str,
    *,
    title: str | None = None,
) -> dict[str, Path]:
    """Counts and row-normalised (per-class recall) confusion matrices side by side.

    ``confusion`` is (C, C) with rows = true class, columns = predicted (FoldResult.confusion),
    or a stack (F, C, C) of per-fold matrices, which are summed (the pooled test set).
    """
    cm = _as_array(confusion)
    if cm.ndim == 3:
        cm = cm.sum(axis=0)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(labels):
        raise ConfigError(f"confusion matrix of shape {cm.shape} does not match {len(labels)} labels")
    totals = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    side = 2.2 + 0.55 * len(labels)
    fig, (ax_c, ax_n) = new_figure(2 * side + 1.0, side, ncols=2)
    kw = dict(xticklabels=labels, yticklabels=labels, square=True, linewidths=0.5, linecolor="white")
    sns.heatmap(cm, ax=ax_c, annot=True, fmt=".0f", cmap="Blues", cbar_kws={"label": "clips", "shrink": 0.8}, **kw)
    sns.heatmap(norm, ax=ax_n, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, cbar_kws={"label": "fraction of true class", "shrink": 0.8}, **kw)
    ax_c.set_title("counts")
    ax_n.set_title("row-normalised (recall)")
    for ax in (ax_c, ax_n):
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for tick in ax.get_xticklabels():
            tick.set(rotation=45, ha="right", rotation_mode="anchor")
        ax.tick_params(axis="y", labelrotation=0)
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_dir, stem)


# ---------------------------------------------------------------------------------------------
# per-fold scores


def fold_scores_figure(
    tidy: pd.DataFrame,
    metric: str,
    *,
    kind: str = "strip",
    models: Sequence[str] | None = None,
    dataset: str | None = None,
    title: str | None = None,
) -> Figure:
    """The figure behind :func:`plot_fold_scores`, not yet saved."""
    if kind not in ("strip", "box", "point"):
        raise ConfigError(f"plot kind '{kind}' unknown; use 'strip', 'box' or 'point'")
    df = tidy[tidy["metric"] == metric]
    if dataset is not None and "dataset" in df.columns:
        df = df[df["dataset"] == dataset]
    if df.empty:
        raise ConfigError(f"no '{metric}' scores to plot" + (f" for dataset '{dataset}'" if dataset else ""))
    fmt = metric_format(metric)
    bounds = metric_range(metric)
    df = df.assign(score=df["value"] * fmt.scale, fold=df["fold"].astype(str) if "fold" in df else "0")
    present = list(dict.fromkeys(df["model"]))
    order = [m for m in models if m in present] if models is not None else present
    labels = [wrap_label(m) for m in order]
    chars, lines = _label_size(labels)
    column = max(1.1, CHAR_WIDTH * chars + 0.25)
    fig, ax = new_figure(1.6 + column * len(order), 3.2 + LINE_HEIGHT * lines)
    positions = {m: i for i, m in enumerate(order)}
    df = df[df["model"].isin(order)]
    extent = list(df["score"])
    if kind == "box":
        sns.boxplot(data=df, x="model", y="score", order=order, ax=ax, color="0.9", showfliers=False, width=0.5)
        sns.stripplot(data=df, x="model", y="score", order=order, ax=ax, hue="fold", jitter=0.12, size=5)
    elif kind == "strip":
        sns.stripplot(data=df, x="model", y="score", order=order, ax=ax, hue="fold", jitter=0.12, size=5)
        means = df.groupby("model")["score"].mean()
        for m in order:
            i = positions[m]
            ax.hlines(means[m], i - 0.3, i + 0.3, color=model_color(m), linewidth=2.0, gid=m)
    else:
        keys = [k for k in ("fold", "seed") if k in df.columns]
        wide = df.pivot_table(index=keys, columns="model", values="score").reindex(columns=order)
        for _, row in wide.iterrows():
            ax.plot(range(len(order)), row.to_numpy(), color="0.8", linewidth=0.8, zorder=1)
        stats = df.groupby("model")["score"].agg(["mean", "std"]).reindex(order)
        sd = stats["std"].fillna(0.0).to_numpy()
        centre = stats["mean"].to_numpy()
        errors = _clip_bars(centre, centre - sd, centre + sd, bounds)
        for i, m in enumerate(order):
            bar = ax.errorbar(i, centre[i], yerr=errors[:, i:i + 1], fmt="o", color=model_color(m), markersize=7,
                              capsize=5, linewidth=1.8, zorder=3, label=None)
            bar.lines[0].set_gid(m)
            bar.lines[0].set_clip_on(False)  # a mean at exactly 100% shows whole, not cut by the axes
        extent += list(centre - errors[0]) + list(centre + errors[1])
    ax.set_xticks(range(len(order)), labels)
    ax.set_xlim(-0.5, len(order) - 0.5)
    ax.set_ylim(*_limit(extent, bounds))
    ax.set_xlabel("")
    ax.set_ylabel(fmt.label)
    caption = "mean ± sd, folds as grey lines" if kind == "point" else "one point per fold and seed"
    ax.set_title(title or f"{fmt.label} per fold" + (f" ({dataset})" if dataset else "") + f" ({caption})", fontsize="medium")
    _legend_outside(ax, "fold")
    return fig


def plot_fold_scores(
    tidy: pd.DataFrame,
    metric: str,
    out_dir: str | Path,
    stem: str,
    *,
    kind: str = "strip",
    models: Sequence[str] | None = None,
    dataset: str | None = None,
    title: str | None = None,
) -> dict[str, Path]:
    """One point per (fold, seed) per model; ``kind`` "strip" (points + mean bar), "box"
    (box + points) or "point" (mean ± sd with the folds as faint lines, to show pairing).
    Means are drawn in the model's colour; the sd bars stop at the metric's range."""
    fig = fold_scores_figure(tidy, metric, kind=kind, models=models, dataset=dataset, title=title)
    return save_figure(fig, out_dir, stem)


# ---------------------------------------------------------------------------------------------
# learning curves


def history_frame(histories: Mapping[str, Sequence[Mapping[str, float]]] | pd.DataFrame) -> pd.DataFrame:
    """{fold name: FoldResult.history} -> long frame (fold, epoch, key, value)."""
    if isinstance(histories, pd.DataFrame):
        wide = histories
    else:
        wide = pd.DataFrame([{"fold": str(fold), **row} for fold, rows in histories.items() for row in rows])
    if wide.empty or "epoch" not in wide.columns or "fold" not in wide.columns:
        raise ConfigError("learning curves need per-epoch rows with 'fold' and 'epoch'")
    return wide.melt(id_vars=["fold", "epoch"], var_name="key", value_name="value").dropna(subset=["value"])


def plot_learning_curves(
    histories: Mapping[str, Sequence[Mapping[str, float]]] | pd.DataFrame,
    out_dir: str | Path,
    stem: str,
    *,
    val_metric: str = "val_uar",
    loss_key: str = "train_loss",
    best_epochs: Mapping[str, int] | None = None,
    title: str | None = None,
) -> dict[str, Path]:
    """Training loss and one validation metric per epoch, one line per fold; a dot marks the
    epoch each fold kept (``best_epochs``, fold -> epoch) if given."""
    long = history_frame(histories)
    missing = [k for k in (loss_key, val_metric) if k not in set(long["key"])]
    if missing:
        raise ConfigError(f"histories lack {missing}; they have {sorted(set(long['key']))}")
    fmt = metric_format(val_metric.removeprefix("val_"))
    fig, (ax_l, ax_v) = new_figure(9.8, 3.4, ncols=2)
    loss = long[long["key"] == loss_key]
    val = long[long["key"] == val_metric].assign(value=lambda d: d["value"] * fmt.scale)
    folds = list(dict.fromkeys(long["fold"]))
    palette = dict(zip(folds, sns.color_palette("tab10", len(folds))))
    sns.lineplot(data=loss, x="epoch", y="value", hue="fold", hue_order=folds, palette=palette, ax=ax_l, legend=False)
    sns.lineplot(data=val, x="epoch", y="value", hue="fold", hue_order=folds, palette=palette, ax=ax_v)
    for fold, epoch in (best_epochs or {}).items():
        hit = val[(val["fold"] == str(fold)) & (val["epoch"] == epoch)]
        if len(hit):
            ax_v.scatter(hit["epoch"], hit["value"], color=palette.get(str(fold), "black"), edgecolor="black", zorder=3, s=30)
    ax_l.set_ylabel(loss_key.replace("_", " "))
    ax_v.set_ylabel(f"validation {fmt.label}")
    ax_l.set_title("training loss")
    ax_v.set_title(f"validation {fmt.label}" + (" (dot: kept epoch)" if best_epochs else ""))
    _legend_outside(ax_v, "fold")
    for ax in (ax_l, ax_v):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_dir, stem)


# ---------------------------------------------------------------------------------------------
# IFE attention maps (DE-III, Figure 2)


def _attention_maps(attn: Any, head: int | str, name: str) -> np.ndarray:
    """(B, heads, Tq, Tk) or (B, Tq, Tk) -> (B, Tq, Tk), averaging heads or taking one."""
    a = _as_array(attn)
    if a.ndim == 4:
        if head == "mean":
            a = a.mean(axis=1)
        elif isinstance(head, int) and -a.shape[1] <= head < a.shape[1]:
            a = a[:, head]
        else:
            raise ConfigError(f"{name}: head must be 'mean' or an index below {a.shape[1]}, got {head!r}")
    if a.ndim != 3:
        raise ConfigError(f"{name}: expected (B, heads, Tq, Tk) or (B, Tq, Tk) attention, got shape {a.shape}")
    return a


def plot_attention(
    audio_to_video: Any,
    video_to_audio: Any,
    out_dir: str | Path,
    stem: str,
    *,
    clips: Sequence[int] | None = None,
    clip_names: Sequence[str] | None = None,
    head: int | str = "mean",
    audio_lengths: Sequence[int] | None = None,
    video_lengths: Sequence[int] | None = None,
    max_clips: int = 3,
    title: str | None = None,
) -> dict[str, Path]:
    """IFE attention heat maps in the style of DE-III's Figure 2: one row per clip, two columns.

    ``audio_to_video`` is IFE-Audio's attention, audio frames (queries) over video frames
    (keys): shape (B, heads, T_a, T_v). ``video_to_audio`` is IFE-Video's: (B, heads, T_v, T_a).
    Heads are averaged unless ``head`` picks one. ``audio_lengths`` / ``video_lengths`` crop the
    padding of each clip. Query time runs down the y axis, key time along x; each panel has its
    own colorbar (rows of attention sum to 1, so the scale depends on the number of keys).
    """
    av = _attention_maps(audio_to_video, head, "audio_to_video")
    va = _attention_maps(video_to_audio, head, "video_to_audio")
    if av.shape[0] != va.shape[0] or av.shape[1:] != va.shape[1:][::-1]:
        raise ConfigError(
            f"attention shapes disagree: audio_to_video {av.shape} should be (B, T_a, T_v) and "
            f"video_to_audio {va.shape} (B, T_v, T_a)"
        )
    chosen = list(clips) if clips is not None else list(range(min(max_clips, av.shape[0])))
    if not chosen or any(not 0 <= c < av.shape[0] for c in chosen):
        raise ConfigError(f"clips {chosen} out of range for a batch of {av.shape[0]}")
    n = len(chosen)
    fig, axes = new_figure(9.5, 3.3 * n, nrows=n, ncols=2, squeeze=False)
    head_text = "mean over heads" if head == "mean" else f"head {head}"
    for row, c in enumerate(chosen):
        ta = int(audio_lengths[c]) if audio_lengths is not None else av.shape[1]
        tv = int(video_lengths[c]) if video_lengths is not None else av.shape[2]
        name = clip_names[c] if clip_names is not None else f"clip {c}"
        panels = (
            (av[c, :ta, :tv], "audio → video", "video frames", "audio frames"),
            (va[c, :tv, :ta], "video → audio", "audio frames", "video frames"),
        )
        for col, (m, direction, xlabel, ylabel) in enumerate(panels):
            ax = axes[row, col]
            # imshow, not sns.heatmap: heatmap's automatic tick density redraws the whole figure
            # once per panel (20 s for six panels); origin="lower" puts time 0 at the origin.
            image = ax.imshow(m, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest")
            fig.colorbar(image, ax=ax, label="attention weight")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{name}: {direction} ({ylabel.split()[0]} queries)", fontsize="medium")
    fig.suptitle(title or f"IFE cross-modal attention ({head_text})")
    return save_figure(fig, out_dir, stem)


# ---------------------------------------------------------------------------------------------
# robustness


def robustness_figure(
    results: pd.DataFrame,
    *,
    metric: str | None = None,
    conditions: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """The figure behind :func:`plot_robustness`, not yet saved."""
    df = results.dropna(subset=["value"]) if "value" in results.columns else results
    if "metric" in df.columns:
        metrics = list(dict.fromkeys(df["metric"]))
        if metric is None:
            if len(metrics) > 1:
                raise ConfigError(f"robustness results mix metrics {metrics}; pass metric=")
            metric = metrics[0]
        df = df[df["metric"] == metric]
    missing = [c for c in ("model", "condition", "value") if c not in df.columns]
    if missing or df.empty:
        raise ConfigError(f"robustness plot needs rows with model, condition, value; missing {missing or 'rows'}")
    fmt = metric_format(metric or "score")
    bounds = metric_range(metric) if metric else None
    df = df.assign(score=df["value"] * fmt.scale)
    order = list(conditions) if conditions is not None else list(dict.fromkeys(df["condition"]))
    hue_order = list(models) if models is not None else list(dict.fromkeys(df["model"]))
    labels = [wrap_label(c) for c in order]
    chars, lines = _label_size(labels)
    group = max(0.45 * len(hue_order) + 0.3, CHAR_WIDTH * chars + 0.25)
    fig, ax = new_figure(max(5.5, 1.8 + group * len(order)), 3.2 + LINE_HEIGHT * lines)
    stats = df.groupby(["condition", "model"])["score"].agg(["mean", "std"])
    width = 0.8 / max(len(hue_order), 1)
    extent: list[float] = []
    for j, model in enumerate(hue_order):
        xs, means, sds = [], [], []
        for i, condition in enumerate(order):
            if (condition, model) in stats.index:
                xs.append(i - 0.4 + width * (j + 0.5))
                means.append(stats.loc[(condition, model), "mean"])
                sds.append(0.0 if pd.isna(stats.loc[(condition, model), "std"]) else stats.loc[(condition, model), "std"])
        if not xs:
            continue
        means, sds = np.array(means), np.array(sds)
        bars = ax.bar(xs, means, width=width * 0.95, color=model_color(model), label=model, gid=model)
        errors = _clip_bars(means, means - sds, means + sds, bounds)
        ax.errorbar(xs, means, yerr=errors, fmt="none", ecolor="0.15", elinewidth=1, capsize=3)
        extent += list(means + errors[1]) + list(means - errors[0]) + list(bars.datavalues)
    ax.set_ylim(*_limit(extent + [0.0], bounds))  # bars start at 0: keep it in view
    ax.set_xticks(range(len(order)), labels)
    ax.set_xlabel("condition")
    ax.set_ylabel(fmt.label if metric else "score")
    ax.set_title(title or f"Robustness: {fmt.label if metric else 'score'} under each condition (mean ± sd)", fontsize="medium")
    ax.legend(title="model", fontsize="small", title_fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_robustness(
    results: pd.DataFrame,
    out_dir: str | Path,
    stem: str,
    *,
    metric: str | None = None,
    conditions: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    title: str | None = None,
) -> dict[str, Path]:
    """Grouped bars: condition on x, one bar per model (in its colour), height = mean, error bar =
    sd over the (fold, seed) scores, cut at the metric's range. ``results`` has columns model,
    condition, value (and metric if mixed)."""
    fig = robustness_figure(results, metric=metric, conditions=conditions, models=models, title=title)
    return save_figure(fig, out_dir, stem)


# ---------------------------------------------------------------------------------------------
# ablation: forest plot of differences from the full model


def _difference_bounds(metric: str, reference_mean: float, scale: float) -> tuple[float, float] | None:
    """The values a difference from the reference can take: [low − ref, high − ref] in printed units."""
    bounds = metric_range(metric)
    if bounds is None:
        return None
    ref = reference_mean * scale if math.isfinite(reference_mean) else None
    if ref is None:
        return (bounds[0] - bounds[1], bounds[1] - bounds[0])
    return (bounds[0] - ref, bounds[1] - ref)


def forest_figure(
    tests: Mapping[str, Mapping[str, Any]],
    *,
    metrics: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    reference: str | None = None,
    title: str | None = None,
    columns: int = 3,
) -> Figure:
    """The figure behind :func:`plot_forest`, not yet saved."""
    from bench.eval.significance import TEST_DESCRIPTIONS

    metrics = [m for m in (metrics or list(tests)) if tests.get(m)]
    if not metrics:
        raise ConfigError("forest plot: no paired tests to draw (every metric's family is empty)")
    present = list(dict.fromkeys(v for m in metrics for v in tests[m]))
    rows = [v for v in variants if v in present] if variants is not None else present
    if not rows:
        raise ConfigError(f"forest plot: none of the variants {list(variants or [])} has a paired test; tested: {present}")
    any_test = next(iter(tests[metrics[0]].values()))
    reference = reference or any_test.reference
    labels = [wrap_label(v, 22) for v in rows]
    chars, lines = _label_size(labels)
    ncols = min(columns, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    row_height = max(0.34, LINE_HEIGHT * lines + 0.14)
    fig, axes = new_figure(CHAR_WIDTH * chars + 0.6 + 2.9 * ncols, nrows * (row_height * len(rows) + 1.1) + 0.7,
                           nrows=nrows, ncols=ncols, squeeze=False, sharey=True)
    y = np.arange(len(rows))[::-1]  # first variant on top
    for k, ax in enumerate(axes.flat):
        if k >= len(metrics):
            ax.set_visible(False)
            continue
        metric = metrics[k]
        fmt = metric_format(metric)
        extent = [0.0]
        ref_means = [t.reference_mean for t in tests[metric].values() if math.isfinite(getattr(t, "reference_mean", math.nan))]
        bounds = _difference_bounds(metric, ref_means[0] if ref_means else math.nan, fmt.scale)
        for yi, variant in zip(y, rows):
            t = tests[metric].get(variant)
            if t is None or not math.isfinite(t.mean_difference):
                continue
            centre = t.mean_difference * fmt.scale
            low, high = t.ci_low * fmt.scale, t.ci_high * fmt.scale
            color = model_color(variant)
            if math.isfinite(low) and math.isfinite(high):
                errors = _clip_bars([centre], [low], [high], bounds)
                bar = ax.errorbar(centre, yi, xerr=errors, fmt="none", ecolor=color, elinewidth=1.8, capsize=4, zorder=2)
                for artist in (*bar.lines[1], *bar.lines[2]):
                    artist.set_clip_on(False)  # a cap at the metric's limit shows whole
                extent += [centre - errors[0, 0], centre + errors[1, 0]]
            extent.append(centre)
            point = ax.plot(centre, yi, "o", markersize=7, color=color, markerfacecolor=color if t.significant else "white",
                            markeredgewidth=1.6, zorder=3, gid=variant)[0]
            point.set_clip_on(False)
            if t.significant:
                ax.annotate(t.marker or "*", (centre, yi), xytext=(0, 5), textcoords="offset points", ha="center",
                            va="bottom", fontsize="large", color="black", gid=f"significant:{variant}")
        ax.axvline(0.0, color="0.35", linewidth=0.9, linestyle="--", zorder=1)
        lo, hi = _limit(extent, bounds, pad=0.1)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        unit = " (pp)" if fmt.scale == 100.0 else ""
        name = fmt.label.removesuffix(" (%)")
        ax.set_xlabel(f"Δ {name} vs {reference}{unit}")
        ax.set_title(name, fontsize="medium")
        ax.grid(axis="x", color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[0, 0].set_yticks(y, labels)
    for ax in axes[:, 0]:
        ax.tick_params(axis="y", labelleft=True)
    tests_used = {t.test for m in metrics for t in tests[m].values()}
    named = "; ".join(TEST_DESCRIPTIONS.get(t, t) for t in sorted(tests_used))
    marker = any_test.marker or "†"
    caption = (
        f"Difference from {reference}: mean over (fold, seed) pairs and its 95% interval. "
        f"Filled, {marker}: significant ({named}, Holm-corrected across the variants of each panel; "
        "the intervals are not adjusted for multiplicity)."
    )
    fig.suptitle(title or "\n".join(textwrap.wrap(caption, width=int(12 * (CHAR_WIDTH * chars + 0.6 + 2.9 * ncols)))),
                 fontsize="medium")
    return fig


def plot_forest(
    tests: Mapping[str, Mapping[str, Any]],
    out_dir: str | Path,
    stem: str,
    *,
    metrics: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    reference: str | None = None,
    title: str | None = None,
) -> dict[str, Path]:
    """The ablation as a forest plot: one row per variant, one panel per metric (or pair score).

    ``tests`` is ``{metric: {variant: PairedTest}}`` (:attr:`bench.report.tables.Table.tests` of
    the ablation table, so the figure shows the same test, the same Holm correction and the
    same intervals as the table). Each row: the mean difference from the reference (a dot,
    filled and marked when significant) with its 95% interval (cut at what the metric allows:
    a variant cannot score above 100%); a dashed line at zero.
    """
    fig = forest_figure(tests, metrics=metrics, variants=variants, reference=reference, title=title)
    return save_figure(fig, out_dir, stem)
