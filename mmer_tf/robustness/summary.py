"""One number per robustness curve, MultiBench's definitions (``eval_scripts/robustness.py``), kept raw.

* relative robustness: area under the metric-vs-level curve by the trapezoid rule with step 0.1 (the
  levels 0.0 ... 0.9), as ``relative_robustness_helper``.
* effective robustness: Σᵢ [(fᵢ − f₀) − (bᵢ − b₀)], the model's drop from its own clean score minus a
  baseline's drop on the same conditions (MultiBench uses its stored late-fusion curve; here any saved
  model given as ``--baseline``), as ``effective_robustness_helper``.

MultiBench then min-max normalises each number against the curves hard-coded in its script for the
methods it ran, so its published robustness depends on which methods were in that file; the raw values
here depend only on the two models compared.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

STEP = 0.1


def _curve(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"{name}: expected a curve of at least 2 levels, got shape {array.shape}")
    return array


def relative_robustness(curve: Sequence[float], step: float = STEP) -> float:
    """Trapezoid area under ``curve`` (one value per level, levels ``step`` apart)."""
    f = _curve(curve, "curve")
    return float(np.sum((f[:-1] + f[1:]) * step / 2.0))


def effective_robustness(curve: Sequence[float], baseline: Sequence[float]) -> float:
    """Σᵢ[(fᵢ − f₀) − (bᵢ − b₀)]: positive when the model loses less than the baseline as level grows."""
    f, b = _curve(curve, "curve"), _curve(baseline, "baseline")
    if f.shape != b.shape:
        raise ValueError(f"curve has {f.size} levels, baseline {b.size}")
    return float(np.sum((f - f[0]) - (b - b[0])))
