"""``mmer_tf.robustness``: the perturbations' statistics at every level, and the curve summaries' golden values."""

import numpy as np
import pytest

from mmer_tf.robustness import noise, summary

D = 8
STD = np.linspace(0.5, 3.0, D)


def _sequences(rng, n=60, steps=(20, 60)):
    return [rng.normal(0.0, STD, size=(int(rng.integers(*steps)), D)).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize("level", noise.LEVELS)
def test_gaussian_noise_std_is_level_times_training_std(level):
    rng = np.random.default_rng(0)
    seqs = _sequences(rng)
    noisy = noise.gaussian_noise(seqs, level, STD, np.random.default_rng(1))
    diff = np.concatenate([b - a for a, b in zip(seqs, noisy)])
    assert diff.dtype == np.float32
    assert np.allclose(diff.mean(axis=0), 0.0, atol=0.05 * max(level, 0.1) * STD.max())
    # ~2,400 draws per feature: the sample std is within 5% of sigma
    assert np.allclose(diff.std(axis=0), level * STD, rtol=0.05, atol=1e-6)


@pytest.mark.parametrize("level", noise.LEVELS)
def test_random_drop_zeroes_entries_at_the_level_rate(level):
    seqs = [np.ones((50, D), np.float32) for _ in range(40)]  # 16,000 entries
    dropped = np.concatenate(noise.random_drop(seqs, level, np.random.default_rng(2)))
    rate = float((dropped == 0).mean())
    assert rate == pytest.approx(level, abs=0.015)
    assert set(np.unique(dropped)) <= {0.0, 1.0}


@pytest.mark.parametrize("level", noise.LEVELS)
def test_structured_drop_zeroes_whole_steps_at_the_level_rate(level):
    seqs = [np.ones((50, D), np.float32) for _ in range(80)]  # 4,000 steps
    out = np.concatenate(noise.structured_drop(seqs, level, np.random.default_rng(3)))
    zero_rows = (out == 0).all(axis=1)
    assert ((out == 0).any(axis=1) == zero_rows).all()  # a step is dropped whole or not at all
    assert float(zero_rows.mean()) == pytest.approx(level, abs=0.025)


def test_perturbations_are_seeded_and_leave_other_modalities_alone():
    rng = np.random.default_rng(4)
    features = {"text": _sequences(rng, 5), "audio": _sequences(rng, 5)}
    std = {m: STD for m in features}
    a = noise.perturb(features, "noise", ["audio"], 0.5, std, seed=7, aligned=False)
    b = noise.perturb(features, "noise", ["audio"], 0.5, std, seed=7, aligned=False)
    c = noise.perturb(features, "noise", ["audio"], 0.5, std, seed=8, aligned=False)
    assert all(np.array_equal(x, y) for x, y in zip(a["audio"], b["audio"]))
    assert not all(np.array_equal(x, y) for x, y in zip(a["audio"], c["audio"]))
    assert all(x is y for x, y in zip(a["text"], features["text"]))
    zero = noise.perturb(features, "drop", ["text", "audio"], 0.0, std, seed=7, aligned=False)
    assert all(np.array_equal(x, y) for x, y in zip(zero["text"], features["text"]))


def test_structured_drop_of_all_aligned_modalities_drops_the_same_steps():
    steps = [np.ones((30, 3), np.float32) for _ in range(10)]
    features = {"text": steps, "audio": [s * 2 for s in steps], "vision": [s * 3 for s in steps]}
    out = noise.perturb(features, "structured_drop", ["text", "audio", "vision"], 0.4, {}, seed=1, aligned=True)
    for i in range(10):
        dropped = [(out[m][i] == 0).all(axis=1) for m in features]
        assert dropped[0].any() and all(np.array_equal(dropped[0], d) for d in dropped[1:])


def test_bad_levels_and_kinds_refused():
    with pytest.raises(ValueError, match="level"):
        noise.random_drop([np.ones((2, 2))], 1.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="kind"):
        noise.perturb({"text": []}, "blur", ["text"], 0.1, {}, 0, True)


def test_relative_robustness_is_multibench_trapezoid_area():
    curve = [0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.4, 0.3, 0.2, 0.2]
    # MultiBench: sum of (f_i + f_{i+1}) * 0.1 / 2 over consecutive levels
    hand = sum((curve[i] + curve[i + 1]) * 0.05 for i in range(9))
    assert summary.relative_robustness(curve) == pytest.approx(hand)
    assert summary.relative_robustness([1.0] * 10) == pytest.approx(0.9)


def test_effective_robustness_golden_value():
    f = [0.80, 0.75, 0.70]
    b = [0.90, 0.70, 0.50]
    # (0 - 0) + (-0.05 + 0.20) + (-0.10 + 0.40) = 0.45
    assert summary.effective_robustness(f, b) == pytest.approx(0.45)
    assert summary.effective_robustness(f, f) == 0.0
    with pytest.raises(ValueError, match="levels"):
        summary.effective_robustness(f, b[:2])
