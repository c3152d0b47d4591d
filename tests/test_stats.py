"""``mmer_tf.stats``: intervals and tests against SciPy's and hand-computed golden values."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from mmer_tf import stats

A = [0.61, 0.58, 0.64, 0.60, 0.63]
B = [0.55, 0.57, 0.59, 0.52, 0.58]
C = [0.50, 0.71, 0.44, 0.66, 0.58, 0.49, 0.62]


def test_summary_uses_sample_std_and_t_interval_hand_computed():
    s = stats.summarize([1, 2, 3, 4, 5])
    assert (s.n, s.mean) == (5, 3.0)
    assert s.std == pytest.approx(math.sqrt(2.5))  # ddof=1; the population std would be sqrt(2)
    # t_{0.975, 4} = 2.7764451; half width = 2.7764451 * sqrt(2.5) / sqrt(5)
    assert (s.ci_low, s.ci_high) == pytest.approx((3 - 1.9632432, 3 + 1.9632432), abs=1e-6)


def test_t_interval_matches_scipy():
    expected = sps.t.interval(0.95, len(C) - 1, loc=np.mean(C), scale=sps.sem(C))
    assert stats.t_interval(C) == pytest.approx(expected, rel=1e-12)
    expected90 = sps.t.interval(0.90, len(A) - 1, loc=np.mean(A), scale=sps.sem(A))
    assert stats.t_interval(A, 0.90) == pytest.approx(expected90, rel=1e-12)


def test_one_run_has_no_std_or_interval_and_none_is_empty():
    one = stats.summarize([0.7])
    assert (one.n, one.mean) == (1, 0.7) and math.isnan(one.std) and math.isnan(one.ci_low)
    assert stats.summarize([]).n == 0


@pytest.mark.parametrize("bad", [[1.0, float("nan")], [float("inf"), 1.0], [[1.0, 2.0]]])
def test_non_finite_or_nested_values_refused(bad):
    with pytest.raises(ValueError):
        stats.summarize(bad)


def test_confidence_outside_unit_interval_refused():
    with pytest.raises(ValueError, match="confidence"):
        stats.t_interval(A, 1.0)


def test_paired_t_matches_scipy_ttest_rel():
    got = stats.paired_t(A, B)
    ref = sps.ttest_rel(A, B)
    ci = ref.confidence_interval(0.95)
    assert got.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert got.mean_difference == pytest.approx(np.mean(np.subtract(A, B)))
    assert (got.ci_low, got.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_welch_matches_scipy_ttest_ind_unequal_variances():
    got = stats.welch_t(A, C)
    ref = sps.ttest_ind(A, C, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert got.test == "Welch's t-test"
    assert got.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert (got.ci_low, got.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert (got.n_a, got.n_b) == (5, 7)


def test_wilcoxon_exact_hand_value_and_scipy():
    # all five differences positive: W = 0, exact two-sided p = 2 / 2**5
    got = stats.wilcoxon([2, 3, 4, 5, 6], [1, 1, 1, 1, 1])
    assert (got.statistic, got.p_value) == (0.0, pytest.approx(0.0625))
    ref = sps.wilcoxon(A, B)
    got = stats.wilcoxon(A, B)
    assert (got.statistic, got.p_value) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))


def test_identical_groups_give_no_p_value_rather_than_a_crash():
    got = stats.wilcoxon(A, A)
    assert math.isnan(got.p_value) and got.mean_difference == 0.0


def test_compare_groups_pairs_by_seed_else_welch():
    # same seeds in a different order: paired after sorting by seed
    tests = stats.compare_groups(A, B[::-1], seeds_a=[1, 2, 3, 4, 5], seeds_b=[5, 4, 3, 2, 1])
    assert [t.test for t in tests] == ["Wilcoxon signed-rank", "paired t-test"]
    assert tests[1].statistic == pytest.approx(sps.ttest_rel(A, B).statistic)
    # different seeds: unpaired
    tests = stats.compare_groups(A, B, seeds_a=[1, 2, 3, 4, 5], seeds_b=[1, 2, 3, 4, 6])
    assert [t.test for t in tests] == ["Welch's t-test"]
    assert tests[0].statistic == pytest.approx(sps.ttest_ind(A, B, equal_var=False).statistic)
    assert [t.test for t in stats.compare_groups(A, C)] == ["Welch's t-test"]


def test_bootstrap_interval_of_the_mean_is_seeded_and_near_the_normal_interval():
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 1.0, size=400)
    low, high = stats.bootstrap_interval(lambda idx: float(x[idx].mean()), x.size, resamples=2000, seed=1)
    assert (low, high) == stats.bootstrap_interval(lambda idx: float(x[idx].mean()), x.size, resamples=2000, seed=1)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert low == pytest.approx(x.mean() - half, abs=0.02)
    assert high == pytest.approx(x.mean() + half, abs=0.02)


def test_bootstrap_refuses_too_few_items():
    with pytest.raises(ValueError, match="at least 2"):
        stats.bootstrap_interval(lambda idx: 0.0, 1)
