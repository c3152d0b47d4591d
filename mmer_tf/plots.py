"""Figures a run and ``python -m mmer_tf compare`` leave behind: training history, confusion matrices, rankings.

Matplotlib runs on the non-interactive Agg backend (cluster nodes have no display) unless a figure is
explicitly shown (``display=True``, the ``display_fig`` option). Every PNG is written to a temporary
file and renamed into place, like the tables, so a half-drawn figure never replaces a good one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from mmer_tf.fileio import atomic_write


def _pyplot(display: bool):
    import matplotlib

    if not display:
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, path: str | os.PathLike, display: bool, plt) -> Path:
    fig.tight_layout()
    written = atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=110))
    if display:
        plt.show()
    plt.close(fig)
    return written


def best_epoch(history: Mapping[str, Sequence[float]], monitor: str = "val_loss") -> int | None:
    """0-based epoch of the best ``monitor`` value (min for losses/errors, max otherwise), or None."""
    values = np.asarray(history.get(monitor, ()), dtype=float)
    if values.size == 0 or np.all(np.isnan(values)):
        return None
    lower_is_better = any(word in monitor for word in ("loss", "error", "mae", "mse"))
    return int(np.nanargmin(values) if lower_is_better else np.nanargmax(values))


def plot_history(history: Mapping[str, Sequence[float]], path: str | os.PathLike, *,
                 monitor: str = "val_loss", title: str = "", display: bool = False) -> Path:
    """One panel per quantity (``loss``, then each metric), training and ``val_`` curves per epoch.

    ``history`` is Keras' ``History.history``. The epoch with the best ``monitor`` value (the one
    early stopping restores) is marked by a dashed line in every panel.
    """
    plt = _pyplot(display)
    from matplotlib.ticker import MaxNLocator

    names = [key for key in history if not key.startswith("val_")]
    names += [key[4:] for key in history if key.startswith("val_") and key[4:] not in history]
    names.sort(key=lambda name: (name != "loss", name))
    if not names:
        raise ValueError("history has no series to plot")
    best = best_epoch(history, monitor)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, style in ((name, "-"), (f"val_{name}", "--")):
            if key in history:
                values = np.asarray(history[key], dtype=float)
                ax.plot(np.arange(1, values.size + 1), values, style, marker="o", markersize=3,
                        label="validation" if key.startswith("val_") else "training")
        if best is not None:
            ax.axvline(best + 1, color="grey", linestyle=":", label=f"best epoch ({best + 1})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, path, display, plt)


def plot_confusion(matrices, class_names: Sequence[str], path: str | os.PathLike, *,
                            title: str = "", display: bool = False) -> Path:
    """Multilabel confusion matrices ``[C, 2, 2]`` (scikit-learn's layout: rows true 0/1, columns
    predicted 0/1): one panel per class, coloured by the row-normalised rate, annotated with the count
    and that rate."""
    plt = _pyplot(display)
    matrices = np.asarray(matrices)
    if matrices.ndim != 3 or matrices.shape[1:] != (2, 2) or matrices.shape[0] != len(class_names):
        raise ValueError(f"expected [{len(class_names)}, 2, 2] confusion matrices, got {matrices.shape}")
    rows = matrices.sum(axis=2, keepdims=True)
    rates = np.divide(matrices, rows, out=np.zeros(matrices.shape, dtype=float), where=rows > 0)
    columns = min(len(class_names), 3 if len(class_names) <= 6 else 4)
    lines = -(-len(class_names) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(2.9 * columns, 2.8 * lines), squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= len(class_names):
            ax.axis("off")
            continue
        ax.imshow(rates[index], cmap="Blues", vmin=0.0, vmax=1.0)
        for (i, j), count in np.ndenumerate(matrices[index]):
            ax.text(j, i, f"{count}\n{rates[index, i, j]:.2f}", ha="center", va="center",
                    color="white" if rates[index, i, j] > 0.6 else "black", fontsize=9)
        ax.set_xticks([0, 1], ["absent", "present"])
        ax.set_yticks([0, 1], ["absent", "present"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(class_names[index])
    if title:
        fig.suptitle(title)
    return _finish(fig, path, display, plt)


def plot_compare(labels: Sequence[str], values: Sequence[float], path: str | os.PathLike, *,
                 metric: str, errors: Sequence[float] | None = None,
                 points: Sequence[Sequence[float]] | None = None, title: str = "",
                 display: bool = False) -> Path:
    """Ranking chart: one horizontal bar per entry (best at the top), optional ``errors`` (std over
    seeds) as error bars and ``points`` (the individual runs of each group) as a scatter on top."""
    plt = _pyplot(display)
    values = np.asarray(values, dtype=float)
    positions = np.arange(values.size)[::-1]
    fig, ax = plt.subplots(figsize=(8.0, 1.2 + 0.38 * max(values.size, 1)))
    xerr = None if errors is None else np.nan_to_num(np.asarray(errors, dtype=float))
    ax.barh(positions, values, xerr=xerr, color="#4c72b0", alpha=0.75, capsize=3)
    if points is not None:
        for position, group in zip(positions, points):
            group = np.asarray(group, dtype=float)
            ax.scatter(group, np.full(group.shape, position), color="black", s=12, zorder=3)
    ax.set_yticks(positions, list(labels))
    ax.set_xlabel(metric)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    return _finish(fig, path, display, plt)


def plot_class_confusion(matrix, class_names: Sequence[str], path: str | os.PathLike, *,
                         title: str = "", display: bool = False) -> Path:
    """A single-label ``[K, K]`` confusion matrix (rows true, columns predicted), coloured by the
    row-normalised rate (each class's recall on the diagonal) and annotated with the counts."""
    plt = _pyplot(display)
    matrix = np.asarray(matrix)
    k = len(class_names)
    if matrix.shape != (k, k):
        raise ValueError(f"expected a [{k}, {k}] confusion matrix, got {matrix.shape}")
    rows = matrix.sum(axis=1, keepdims=True)
    rates = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    size = 1.2 + 0.7 * k
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                color="white" if rates[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _finish(fig, path, display, plt)
