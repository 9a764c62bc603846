"""Figures: predicted vs true, the valence-arousal plane with descriptor words, grids.

Reads nothing by itself; each function takes DataFrames and writes ``<out>.png`` and
``<out>.svg``, returning the PNG path. Uses matplotlib's non-interactive Agg backend, so
it works on machines without a screen.

Example::

    >>> from va_plotter import plot_va_plane
    >>> plot_va_plane(df, "figures/va_plane", color_by="corpus")   # df: valence, arousal, corpus
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from va_data_loader import load_descriptor_pairs, load_lexicon, word_coords  # noqa: E402
from va_evaluation import regression_metrics  # noqa: E402


def _save(fig, out) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out.with_suffix(".png"), dpi=120, bbox_inches="tight")
    fig.savefig(out.with_suffix(".svg"), bbox_inches="tight")
    plt.close(fig)
    return out.with_suffix(".png")


def _scatter_groups(ax, x, y, labels, *, s=10, alpha=0.6):
    labels = pd.Series(labels).astype(str).to_numpy() if labels is not None else np.array(["all"] * len(x))
    cmap = plt.get_cmap("tab10" if len(np.unique(labels)) <= 10 else "tab20")
    for i, lab in enumerate(sorted(np.unique(labels))):
        m = labels == lab
        ax.scatter(np.asarray(x)[m], np.asarray(y)[m], s=s, alpha=alpha, color=cmap(i % cmap.N),
                   label=f"{lab} ({int(m.sum())})", edgecolors="none")


def plot_pred_vs_true(tables: dict, out, *, title: str = "") -> Path:
    """One panel per target: out-of-fold predictions against truth, coloured by ``corpus``.

    ``tables`` maps a target name to a DataFrame with ``y``, ``yhat`` and optional ``corpus``.
    """
    fig, axes = plt.subplots(1, len(tables), figsize=(5 * len(tables), 4.6), squeeze=False)
    for ax, (name, t) in zip(axes[0], tables.items()):
        _scatter_groups(ax, t["y"], t["yhat"], t.get("corpus"))
        lo = float(min(t["y"].min(), t["yhat"].min())) - 0.05
        hi = float(max(t["y"].max(), t["yhat"].max())) + 0.05
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        m = regression_metrics(t["y"], t["yhat"])
        ax.set_title(f"{name}: pooled out-of-fold r={m['r']:.2f}, R²={m['r2']:.2f}")
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    return _save(fig, out)


def plot_va_plane(points: pd.DataFrame, out, *, color_by: str | None = "corpus", pairs=None,
                  lexicon=None, annotate: str | None = None, title: str = "Valence-arousal plane") -> Path:
    """Points in the valence-arousal plane, with the descriptor words linked in their pairs.

    Parameters
    ----------
    points : DataFrame with ``valence``, ``arousal`` (and ``color_by``, ``annotate`` columns)
    """
    lexicon = load_lexicon() if lexicon is None else lexicon
    pairs = load_descriptor_pairs(lexicon=lexicon) if pairs is None else pairs
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.axhline(0, color="0.85", lw=0.8)
    ax.axvline(0, color="0.85", lw=0.8)
    if len(points):
        _scatter_groups(ax, points["valence"], points["arousal"],
                        points[color_by] if color_by and color_by in points else None, s=14)
        if annotate and annotate in points:
            for _, r in points.iterrows():
                ax.annotate(str(r[annotate]), (r["valence"], r["arousal"]), fontsize=6, alpha=0.8,
                            xytext=(2, 2), textcoords="offset points")
    ca, cb = word_coords(lexicon, pairs["word_a"]), word_coords(lexicon, pairs["word_b"])
    for (wa, wb), a, b in zip(zip(pairs["word_a"], pairs["word_b"]), ca, cb):
        ax.plot([a[0], b[0]], [a[1], b[1]], color="0.55", lw=0.7, ls=":")
        for w, c in ((wa, a), (wb, b)):
            ax.plot(*c, "k^", ms=5)
            ax.annotate(w, c, fontsize=8, xytext=(3, -9), textcoords="offset points")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("valence (unpleasant → pleasant)")
    ax.set_ylabel("arousal (calm → eventful)")
    ax.set_title(title)
    if len(points) and color_by:
        ax.legend(fontsize=7, loc="lower left")
    ax.set_aspect("equal")
    return _save(fig, out)


def plot_descriptor_grid(tables: dict, out, *, title: str = "Descriptor models: out-of-fold predictions") -> Path:
    """A grid of predicted-vs-true panels, one per descriptor (``tables``: name -> DataFrame y, yhat)."""
    n = max(len(tables), 1)
    cols = min(5, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel()[len(tables):]:
        ax.axis("off")
    for ax, (name, t) in zip(axes.ravel(), tables.items()):
        ax.scatter(t["y"], t["yhat"], s=6, alpha=0.6, edgecolors="none")
        lo = float(min(t["y"].min(), t["yhat"].min()))
        hi = float(max(t["y"].max(), t["yhat"].max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.6)
        m = regression_metrics(t["y"], t["yhat"])
        ax.set_title(f"{name}\nr={m['r']:.2f} R²={m['r2']:.2f}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out)


def plot_timeline(segments: pd.DataFrame, out, *, title: str = "", faces: pd.DataFrame | None = None) -> Path:
    """Valence and arousal of one file over time, with a band of its top descriptor.

    ``segments`` holds one file's windows (``start, end, valence, arousal`` and
    optionally ``top_descriptor``), as ``predict_new_audio.py --segments`` writes them.
    Each window is drawn at its centre. The band under the curves shows the top
    descriptor of each window, one colour per word. With ``faces`` (the file's rows of
    ``new_audio_faces.csv``) two more lanes show the main face's expression and the
    voice's emotion per window (blank: no face, no speech), and the face valence is drawn
    dashed beside the sound's. Writes ``out`` as PNG and SVG.
    """
    seg = segments.sort_values("start")
    lanes = [("descriptor", "top_descriptor", seg)]
    if faces is not None and len(faces):
        fc = faces.sort_values("start")
        lanes += [("face", "face_label", fc), ("voice", "voice_label", fc)]
    fig, axes = plt.subplots(1 + len(lanes), 1, figsize=(10, 3.4 + 0.8 * len(lanes)), sharex=True,
                             gridspec_kw={"height_ratios": [5] + [1] * len(lanes), "hspace": 0.08})
    ax = axes[0]
    ax.axhline(0, color="0.8", lw=0.8)
    if len(seg):
        t = ((seg["start"] + seg["end"]) / 2).to_numpy(float)
        ax.plot(t, seg["valence"], color="tab:green", lw=1.8, label="valence")
        ax.plot(t, seg["arousal"], color="tab:red", lw=1.8, label="arousal")
    if len(lanes) > 1:
        tf = ((fc["start"] + fc["end"]) / 2).to_numpy(float)
        ax.plot(tf, fc["face_valence"].astype(float), color="tab:green", lw=1.2, ls="--", label="face valence")
        ax.plot(tf, fc["face_arousal"].astype(float), color="tab:red", lw=1.2, ls="--", label="face arousal")
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("prediction (-1..1)")
    ax.legend(loc="upper right", ncol=4, frameon=False, fontsize=8)
    ax.set_title(title or "valence and arousal over time")
    cmap = plt.get_cmap("tab10")
    words_all = []
    for band, (name, col, frame) in zip(axes[1:], lanes):
        band.set_yticks([0.5])
        band.set_yticklabels([name], fontsize=8)
        band.set_ylim(0, 1)
        if col not in frame.columns or not len(frame):
            continue
        t = ((frame["start"] + frame["end"]) / 2).to_numpy(float)
        step = np.diff(t).min() if len(t) > 1 else float(frame["end"].iloc[0] - frame["start"].iloc[0])
        for ti, w in zip(t, frame[col].fillna("").astype(str)):
            if w in ("", "no_face", "nan"):
                continue
            if w not in words_all:
                words_all.append(w)
            band.axvspan(ti - step / 2, ti + step / 2, color=cmap(words_all.index(w) % 10), lw=0)
    axes[-1].set_xlabel("time (s)")
    if words_all:
        handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i % 10)) for i in range(len(words_all))]
        axes[-1].legend(handles, words_all, loc="upper center", bbox_to_anchor=(0.5, -1.2), ncol=min(6, len(words_all)),
                        frameon=False, fontsize=8)
    return _save(fig, out)
