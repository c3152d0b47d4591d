"""Intervals and tests over runs: what turns "many seeds" into a number a reviewer can check.

Pure functions on plain sequences, validated at the edge (like scikit-learn's metrics): non-finite
values are refused with a ``ValueError`` naming them, never silently dropped. Callers decide what a
missing value means and filter before calling.

* :func:`summarize`: n, mean, **sample** standard deviation (``ddof=1``; MMSA reports the population
  one, which understates the spread of a handful of seeds) and the Student-t 95% interval of the mean.
* :func:`bootstrap_interval`: a percentile bootstrap over test segments, for a single run whose
  per-segment predictions were saved (``-sp``): the interval says how much the score depends on
  which segments happened to be in the test fold, not on the seed.
* :func:`compare_groups`: paired tests (Wilcoxon signed-rank and paired t) when both groups ran the
  same seeds, Welch's t-test otherwise; each with the mean difference ``a - b`` and its interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

CONFIDENCE = 0.95


def _values(values: Sequence[float], name: str = "values") -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains non-finite values ({array[~np.isfinite(array)][:3].tolist()})")
    return array


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence}: must be in (0, 1)")


def _t_quantile(confidence: float, df: float) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2.0, df))


@dataclass(frozen=True)
class Summary:
    """n, mean, sample std (ddof=1) and the t interval of the mean; NaN where n is too small."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval of the mean: ``mean ± t_{(1+c)/2, n-1} · s / √n`` (NaN for n < 2)."""
    _check_confidence(confidence)
    array = _values(values)
    if array.size < 2:
        return math.nan, math.nan
    mean = float(array.mean())
    half = _t_quantile(confidence, array.size - 1) * float(array.std(ddof=1)) / math.sqrt(array.size)
    return mean - half, mean + half


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """:class:`Summary` of seed-level scores (one value per run)."""
    array = _values(values)
    if array.size == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    std = float(array.std(ddof=1)) if array.size > 1 else math.nan
    low, high = t_interval(array, confidence)
    return Summary(int(array.size), float(array.mean()), std, low, high)


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, *, resamples: int = 1000,
                       confidence: float = CONFIDENCE, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(indices)`` over ``n`` items resampled with replacement.

    ``statistic`` receives an index array of length ``n`` (a resample of ``range(n)``) and returns the
    score computed on those items. Resamples whose score is not finite (e.g. a class absent from the
    resample) are left out; fewer than half finite gives NaN. Seeded, so the interval is reproducible.
    """
    _check_confidence(confidence)
    if int(n) < 2:
        raise ValueError(f"bootstrap over {n} item(s): needs at least 2")
    if int(resamples) < 10:
        raise ValueError(f"resamples {resamples}: needs at least 10")
    rng = np.random.default_rng(seed)
    scores = np.empty(int(resamples), dtype=np.float64)
    for i in range(int(resamples)):
        scores[i] = float(statistic(rng.integers(0, n, size=n)))
    finite = scores[np.isfinite(scores)]
    if finite.size < resamples / 2:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


@dataclass(frozen=True)
class TestResult:
    """One test of ``a`` against ``b``: the statistic, two-sided p-value, mean difference and interval."""

    test: str
    statistic: float
    p_value: float
    mean_difference: float
    ci_low: float
    ci_high: float
    n_a: int
    n_b: int


def paired_t(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> TestResult:
    """Paired t-test on ``a[i] - b[i]`` (two-sided); interval: t interval of the mean difference."""
    from scipy.stats import t

    a, b = _values(a, "a"), _values(b, "b")
    if a.size != b.size or a.size < 2:
        raise ValueError(f"paired t-test needs two equal-length samples of at least 2 (got {a.size} and {b.size})")
    d = a - b
    mean = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(d.size)
    df = d.size - 1
    if se == 0.0:
        stat = math.nan if mean == 0.0 else math.copysign(math.inf, mean)
        p = math.nan if mean == 0.0 else 0.0
    else:
        stat = mean / se
        p = float(2.0 * t.sf(abs(stat), df))
    half = _t_quantile(confidence, df) * se
    return TestResult("paired t-test", float(stat), p, mean, mean - half, mean + half, a.size, b.size)


def wilcoxon(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> TestResult:
    """Wilcoxon signed-rank test on ``a[i] - b[i]`` (two-sided; SciPy's exact/normal choice and its
    default zero handling). The statistic is the smaller rank sum; the interval shown is the paired t
    interval of the mean difference (the signed-rank test makes no statement about the mean)."""
    from scipy.stats import wilcoxon as scipy_wilcoxon

    a, b = _values(a, "a"), _values(b, "b")
    if a.size != b.size or a.size < 2:
        raise ValueError(f"Wilcoxon test needs two equal-length samples of at least 2 (got {a.size} and {b.size})")
    paired = paired_t(a, b, confidence)
    if np.all(a == b):
        return TestResult("Wilcoxon signed-rank", math.nan, math.nan, 0.0, paired.ci_low, paired.ci_high,
                          a.size, b.size)
    result = scipy_wilcoxon(a, b, alternative="two-sided")
    return TestResult("Wilcoxon signed-rank", float(result.statistic), float(result.pvalue),
                      paired.mean_difference, paired.ci_low, paired.ci_high, a.size, b.size)


def welch_t(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> TestResult:
    """Welch's unequal-variance t-test (two-sided), Welch–Satterthwaite degrees of freedom; the interval
    is that of ``mean(a) - mean(b)`` with the same degrees of freedom."""
    from scipy.stats import t

    a, b = _values(a, "a"), _values(b, "b")
    if a.size < 2 or b.size < 2:
        raise ValueError(f"Welch's t-test needs at least 2 values per group (got {a.size} and {b.size})")
    va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    diff = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0.0:
        stat = math.nan if diff == 0.0 else math.copysign(math.inf, diff)
        return TestResult("Welch's t-test", stat, math.nan if diff == 0.0 else 0.0, diff, diff, diff,
                          a.size, b.size)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    stat = diff / se
    p = float(2.0 * t.sf(abs(stat), df))
    half = _t_quantile(confidence, df) * se
    return TestResult("Welch's t-test", float(stat), p, diff, diff - half, diff + half, a.size, b.size)


def compare_groups(a: Sequence[float], b: Sequence[float], seeds_a: Sequence | None = None,
                   seeds_b: Sequence | None = None, confidence: float = CONFIDENCE) -> list[TestResult]:
    """The tests that fit: paired (Wilcoxon signed-rank, paired t) when both groups ran exactly the same
    seeds, once each (``a`` and ``b`` are then reordered by seed), Welch's t-test otherwise."""
    a, b = _values(a, "a"), _values(b, "b")
    if seeds_a is not None and seeds_b is not None:
        seeds_a, seeds_b = [str(s) for s in seeds_a], [str(s) for s in seeds_b]
        if len(seeds_a) != a.size or len(seeds_b) != b.size:
            raise ValueError("one seed per value is needed")
        if (len(set(seeds_a)) == len(seeds_a) and sorted(seeds_a) == sorted(seeds_b)
                and len(seeds_a) >= 2):
            order_a, order_b = np.argsort(seeds_a, kind="stable"), np.argsort(seeds_b, kind="stable")
            a, b = a[order_a], b[order_b]
            return [wilcoxon(a, b, confidence), paired_t(a, b, confidence)]
    return [welch_t(a, b, confidence)]


__all__ = ["CONFIDENCE", "Summary", "TestResult", "bootstrap_interval", "compare_groups", "paired_t",
           "summarize", "t_interval", "welch_t", "wilcoxon"]
