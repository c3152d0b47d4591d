"""``ProjectedLSTM`` computes what Keras' masked LSTM / Bidirectional(LSTM) computes with the same weights.

The oracle is ``keras.layers.LSTM`` itself: its weights are copied into the block (direction blocks side by
side) and both read the same right-padded batch, one row of which is all padding and one a single step.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import ops

from mmer_tf.models.blocks.recurrent import ProjectedLSTM

BATCH, STEPS, WIDTH, UNITS = 5, 7, 6, 4
LENGTHS = np.array([7, 3, 1, 5, 0])


def padded_batch():
    rng = np.random.default_rng(3)
    mask = np.arange(STEPS)[None, :] < LENGTHS[:, None]
    return (rng.normal(size=(BATCH, STEPS, WIDTH)).astype("float32") * mask[..., None]), mask


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("sequences", [False, True])
def test_matches_keras_lstm_with_the_same_weights(bidirectional, sequences):
    x, mask = padded_batch()
    keras.utils.set_random_seed(0)
    reference = keras.layers.LSTM(UNITS, return_sequences=sequences)
    if bidirectional:
        reference = keras.layers.Bidirectional(reference)
    expected = ops.convert_to_numpy(reference(x, mask=mask))
    cells = [reference.forward_layer.cell, reference.backward_layer.cell] if bidirectional else [reference.cell]
    block = ProjectedLSTM(UNITS, bidirectional=bidirectional, return_sequences=sequences)
    block.build(x.shape)
    weights = [[ops.convert_to_numpy(w) for w in (c.kernel, c.recurrent_kernel, c.bias)] for c in cells]
    block.kernel.assign(np.concatenate([w[0] for w in weights], axis=-1))
    block.recurrent_kernel.assign(np.stack([w[1] for w in weights]))
    block.bias.assign(np.concatenate([w[2] for w in weights], axis=-1))

    got = ops.convert_to_numpy(block(x, mask=mask))

    if sequences and not bidirectional:
        # a lone Keras LSTM repeats its last output on padded steps; the block outputs zeros there
        expected = expected * mask[..., None]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-6)
    # the all-padding row: zero state, zero outputs
    assert not np.any(got[4])


def test_padding_beyond_the_real_steps_changes_nothing_and_the_config_round_trips():
    x, mask = padded_batch()
    keras.utils.set_random_seed(1)
    block = ProjectedLSTM(UNITS, bidirectional=True)
    longer = np.concatenate([x, np.full((BATCH, 3, WIDTH), 9.0, "float32")], axis=1)
    longer_mask = np.concatenate([mask, np.zeros((BATCH, 3), bool)], axis=1)
    short = ops.convert_to_numpy(block(x, mask=mask))
    np.testing.assert_allclose(ops.convert_to_numpy(block(longer, mask=longer_mask)), short, atol=1e-6)

    clone = ProjectedLSTM.from_config(block.get_config())
    clone.build(x.shape)
    clone.set_weights(block.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(clone(x, mask=mask)), short, atol=1e-6)
    # Keras' initialisation per direction: the forget gate's bias starts at 1, the others at 0
    bias = ops.convert_to_numpy(block.bias).reshape(2, 4, UNITS)
    assert np.all(bias[:, 1] == 1) and not np.any(bias[:, [0, 2, 3]])
