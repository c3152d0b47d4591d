"""The robustness figure: a metric against perturbation level, one panel per kind, one line per modality."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from mmer_tf.plots import _finish, _pyplot
from mmer_tf.robustness.noise import KINDS, LEVELS


def plot_robustness(curves: Mapping[tuple[str, str], Sequence[float]], path: str | os.PathLike, *, metric: str,
                    baseline: Mapping[tuple[str, str], Sequence[float]] | None = None, title: str = "",
                    display: bool = False) -> Path:
    """``curves``: {(kind, modality): metric per level}; ``baseline`` the same for the baseline model,
    drawn dashed in the modality's colour."""
    plt = _pyplot(display)
    kinds = [k for k in KINDS if any(key[0] == k for key in curves)]
    if not kinds:
        raise ValueError("no robustness curves to plot")
    modalities = list(dict.fromkeys(m for _, m in curves))
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(modalities)}
    # The legend gets its own narrow panel: inside a panel it hides the curves' right ends.
    fig, axes = plt.subplots(1, len(kinds) + 1, figsize=(4.4 * len(kinds) + 1.9, 3.6), squeeze=False,
                             gridspec_kw={"width_ratios": [4.4] * len(kinds) + [1.9]})
    legend_ax, axes = axes[0][-1], axes[:, :-1]
    for ax in axes[0][1:]:
        ax.sharey(axes[0][0])
    for ax, kind in zip(axes[0], kinds):
        for m in modalities:
            values = curves.get((kind, m))
            if values is None:
                continue
            levels = np.asarray(LEVELS[: len(values)])
            ax.plot(levels, values, marker="o", markersize=3, color=colours[m], label=m)
            if baseline and (kind, m) in baseline:
                ax.plot(levels, baseline[(kind, m)][: len(levels)], linestyle="--", color=colours[m],
                        label=f"{m} (baseline)")
        ax.set_title(kind.replace("_", " "))
        ax.set_xlabel("level")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric)
    handles, labels = axes[0][0].get_legend_handles_labels()
    legend_ax.axis("off")
    legend_ax.legend(handles, labels, fontsize=8, loc="center left", frameon=False)
    if title:
        fig.suptitle(title)
    return _finish(fig, path, display, plt)
