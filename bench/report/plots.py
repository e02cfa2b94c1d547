"""Figures for reports: confusion matrices, per-fold scores, learning curves, IFE attention maps
(DE-III's Figure 2) and robustness bars. Each function saves PNG + PDF and returns the paths.

Every figure is a :class:`matplotlib.figure.Figure` drawn on an Agg canvas directly, never through
``pyplot``: no global figure registry to leak into (a sweep that plots a thousand folds does not
pile up open figures), no backend switch that would disturb a user's notebook, and it works on
a machine without a display. Seaborn draws onto the axes it is given. Files are written
atomically (:mod:`bench.io`), so a killed report leaves no half-written PDF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.errors import ConfigError
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
    (box + points) or "point" (mean ± sd with the folds as faint lines, to show pairing)."""
    if kind not in ("strip", "box", "point"):
        raise ConfigError(f"plot kind '{kind}' unknown; use 'strip', 'box' or 'point'")
    df = tidy[tidy["metric"] == metric]
    if dataset is not None and "dataset" in df.columns:
        df = df[df["dataset"] == dataset]
    if df.empty:
        raise ConfigError(f"no '{metric}' scores to plot" + (f" for dataset '{dataset}'" if dataset else ""))
    fmt = metric_format(metric)
    df = df.assign(score=df["value"] * fmt.scale, fold=df["fold"].astype(str) if "fold" in df else "0")
    order = list(models) if models is not None else list(dict.fromkeys(df["model"]))
    fig, ax = new_figure(2.4 + 1.1 * len(order), 3.6)
    if kind == "box":
        sns.boxplot(data=df, x="model", y="score", order=order, ax=ax, color="0.9", showfliers=False, width=0.5)
        sns.stripplot(data=df, x="model", y="score", order=order, ax=ax, hue="fold", jitter=0.12, size=5)
    elif kind == "strip":
        sns.stripplot(data=df, x="model", y="score", order=order, ax=ax, hue="fold", jitter=0.12, size=5)
        means = df.groupby("model")["score"].mean()
        for i, m in enumerate(order):
            if m in means:
                ax.hlines(means[m], i - 0.3, i + 0.3, color="black", linewidth=1.5)
    else:
        keys = [k for k in ("fold", "seed") if k in df.columns]
        wide = df.pivot_table(index=keys, columns="model", values="score").reindex(columns=order)
        for _, row in wide.iterrows():
            ax.plot(range(len(order)), row.to_numpy(), color="0.75", linewidth=0.8, zorder=1)
        sns.pointplot(data=df, x="model", y="score", order=order, ax=ax, errorbar="sd", color="black", linestyle="none", capsize=0.15)
    ax.set_xlabel("")
    ax.set_ylabel(fmt.label)
    ax.set_title(title or f"{fmt.label} per fold" + (f" ({dataset})" if dataset else ""))
    _legend_outside(ax, "fold")
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
    """Grouped bars: condition on x, one bar per model, height = mean, error bar = sd over the
    (fold, seed) scores. ``results`` has columns model, condition, value (and metric if mixed)."""
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
    df = df.assign(score=df["value"] * fmt.scale)
    order = list(conditions) if conditions is not None else list(dict.fromkeys(df["condition"]))
    hue_order = list(models) if models is not None else list(dict.fromkeys(df["model"]))
    fig, ax = new_figure(max(5.5, 2.0 + 0.45 * len(order) * len(hue_order)), 3.6)
    sns.barplot(data=df, x="condition", y="score", hue="model", order=order, hue_order=hue_order, errorbar="sd", capsize=0.1, err_kws={"linewidth": 1}, ax=ax)
    ax.set_xlabel("condition")
    ax.set_ylabel(fmt.label if metric else "score")
    ax.set_title(title or f"Robustness: {fmt.label if metric else 'score'} under each condition (mean ± sd)")
    ax.tick_params(axis="x", labelrotation=20 if max(len(str(o)) for o in order) > 10 else 0)
    _legend_outside(ax, "model")
    return save_figure(fig, out_dir, stem)
