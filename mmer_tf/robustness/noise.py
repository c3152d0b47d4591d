"""Seeded perturbations of a modality's test sequences (a list of ``[T, D]`` arrays, one per segment).

MultiBench's time-series perturbations (``robustness/timeseries_robust.py``), with two deliberate
differences, both so that one level means the same thing on every feature and corpus:

* Gaussian noise: σ = ``level`` × the feature's standard deviation over the training fold's real steps
  (MultiBench adds one scalar N(0, level) per time step to every feature, whatever its scale), drawn
  independently per entry.
* structured drop: each real time step is zeroed (all its features) with probability ``level``,
  independently (MultiBench zeroes windows of 3 consecutive steps chosen with probability ``level``).
  In the aligned view, perturbing all modalities at once drops the same steps in each, as a lost frame
  of the whole recording would.

Random drop is MultiBench's: every entry zeroed independently with probability ``level``. Padding is
never touched (it is added after these functions, by the pipeline), and masks keep marking the real
steps: a dropped step looks like a step whose sensor read zeros, not like a shorter segment.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: The perturbation levels of a robustness curve (0.0, 0.1, ..., 0.9).
LEVELS = tuple(round(0.1 * i, 1) for i in range(10))
KINDS = ("noise", "drop", "structured_drop")


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"level {level}: must be in [0, 1]")
    return level


def feature_std(sequences: Sequence[np.ndarray]) -> np.ndarray:
    """Per-feature standard deviation (ddof=0) over all steps of all segments, as float64 ``[D]``."""
    if not len(sequences):
        raise ValueError("feature_std: no sequences")
    stacked = np.concatenate([np.asarray(s, dtype=np.float64).reshape(len(s), -1) for s in sequences], axis=0)
    return stacked.std(axis=0)


def gaussian_noise(sequences: Sequence[np.ndarray], level: float, std: np.ndarray,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """Each entry plus N(0, (level · std[d])²), ``std`` the per-feature training std ``[D]``."""
    level = _check_level(level)
    std = np.asarray(std, dtype=np.float64)
    out = []
    for seq in sequences:
        seq = np.asarray(seq)
        if std.shape != seq.shape[-1:]:
            raise ValueError(f"std has shape {std.shape}, features have {seq.shape[-1:]}")
        noise = rng.standard_normal(seq.shape) * (level * std)
        out.append((seq + noise).astype(seq.dtype, copy=False))
    return out


def random_drop(sequences: Sequence[np.ndarray], level: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Each entry set to 0 independently with probability ``level``."""
    level = _check_level(level)
    return [np.where(rng.random(np.shape(seq)) < level, 0, seq).astype(np.asarray(seq).dtype, copy=False)
            for seq in sequences]


def step_drops(lengths: Sequence[int], level: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Per segment, a boolean ``[T]``: True where the whole time step is dropped (probability ``level``)."""
    level = _check_level(level)
    return [rng.random(int(n)) < level for n in lengths]


def structured_drop(sequences: Sequence[np.ndarray], level: float, rng: np.random.Generator,
                    drops: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """Whole time steps zeroed with probability ``level``; ``drops`` (from :func:`step_drops`) reuses one
    draw across modalities that share a time axis."""
    if drops is None:
        drops = step_drops([len(s) for s in sequences], level, rng)
    out = []
    for seq, drop in zip(sequences, drops):
        seq = np.array(seq, copy=True)
        if drop.shape != seq.shape[:1]:
            raise ValueError(f"step drops of length {drop.shape[0]} for a sequence of {seq.shape[0]} steps")
        seq[drop] = 0
        out.append(seq)
    return out


def perturb(features: dict[str, Sequence[np.ndarray]], kind: str, modalities: Sequence[str], level: float,
            std: dict[str, np.ndarray], seed: int, aligned: bool) -> dict[str, list[np.ndarray]]:
    """``features`` with ``modalities`` perturbed by ``kind`` at ``level``; the others untouched.

    Every (kind, modality, level) draws from its own stream derived from ``seed``, so a curve does not
    depend on which other conditions were evaluated.
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    out = {m: list(seqs) for m, seqs in features.items()}
    level_key = int(round(_check_level(level) * 1000))
    shared = None
    if kind == "structured_drop" and aligned and len(modalities) > 1:
        first = modalities[0]
        rng = np.random.default_rng([seed, KINDS.index(kind), level_key, 999])
        shared = step_drops([len(s) for s in features[first]], level, rng)
    for index, m in enumerate(sorted(modalities)):
        rng = np.random.default_rng([seed, KINDS.index(kind), level_key, index])
        if kind == "noise":
            out[m] = gaussian_noise(features[m], level, std[m], rng)
        elif kind == "drop":
            out[m] = random_drop(features[m], level, rng)
        else:
            out[m] = structured_drop(features[m], level, rng, drops=shared)
    return out
