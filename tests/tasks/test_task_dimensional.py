"""``-lt dimensional``: Lin's CCC and the table row on golden values, column lookup by name (``arousal``
accepted for ``activation``), refusals in one line."""

from __future__ import annotations

import numpy as np
import pytest

from mmer_tf.config import ExperimentConfig
from mmer_tf.errors import MmerError
from mmer_tf.tasks.base import LabelSchema
from mmer_tf.metrics.dimensional import ccc
from mmer_tf.tasks.dimensional import TASK


def test_ccc_golden_values():
    t = np.array([1.0, 2.0, 3.0])
    assert ccc(t, t) == pytest.approx(1.0)
    # shifted by one: 2 cov / (var_t + var_p + 1) = (4/3) / (7/3)
    assert ccc(t, t + 1.0) == pytest.approx(4 / 7)
    # doubled around the mean: cov 4/3, var_p 8/3 -> (8/3) / (2/3 + 8/3) = 0.8
    assert ccc(t, 2 * t - 2.0) == pytest.approx(0.8)
    assert ccc(t, 4.0 - t) == pytest.approx(-1.0)  # mirrored about the shared mean
    assert np.isnan(ccc(np.ones(3), np.ones(3)))


def test_row_targets_and_refusals():
    schema = LabelSchema(("category", "valence", "arousal", "dominance"), ("a", "b"))
    assert TASK.supports(schema) and TASK.num_outputs(ExperimentConfig(), schema) == 3
    labels = np.array([[0, 1.0, 2.0, 3.0], [1, 2.0, 3.0, 3.5], [0, 3.0, 4.0, 2.0]], np.float32)
    np.testing.assert_array_equal(TASK.targets(ExperimentConfig(), labels, schema), labels[:, 1:])
    pred = labels[:, 1:] + np.array([1.0, 0.0, 0.0], np.float32)
    row = TASK.evaluate(ExperimentConfig(), labels, pred, schema)["dimensional"][0]
    assert row["valence_ccc"] == pytest.approx(4 / 7, abs=1e-3) and row["valence_mae"] == pytest.approx(1.0)
    assert row["activation_ccc"] == pytest.approx(1.0) and row["dominance_pearson"] == pytest.approx(1.0)
    assert row["mae"] == pytest.approx(1 / 3, abs=1e-3) and row["ccc"] == pytest.approx((4 / 7 + 2) / 3, abs=1e-3)
    assert not TASK.supports(LabelSchema(("category",), ("a", "b")))
    with pytest.raises(MmerError, match="-lt dimensional: 1 segments have no dimensional score"):
        TASK.targets(ExperimentConfig(), np.array([[0, np.nan, 2.0, 3.0]], np.float32), schema)
    with pytest.raises(ValueError, match="must be \\[3, 3\\]"):
        TASK.evaluate(ExperimentConfig(), labels, pred[:, :2], schema)
