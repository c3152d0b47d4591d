"""A masked (Bi)LSTM that projects every step's input in one matrix product and scans only the recurrence.

Why not ``keras.layers.LSTM``: with a mask (every model here passes one) Keras runs its generic RNN loop on
both backends, and each step of that loop multiplies that step's input by the input kernel. The input
product does not depend on the state, so :class:`ProjectedLSTM` computes it for all steps and both
directions at once (``[B, T, D] x [D, 4u]``: one large product instead of ``T`` small ones, and in the
backward pass one product for the kernel's gradient instead of a sum of ``T``), then scans only
``h @ U``. A bidirectional layer runs both directions in the same scan (the backward one on the
time-reversed sequence), so a BiLSTM is ``T`` sequential steps, not ``2T``. PyTorch's CPU LSTM, which
MMSA's models use, computes the input projection the same way.

It computes what ``keras.layers.LSTM`` (tanh / sigmoid, bias with ``unit_forget_bias``, no dropout inside
the cell) computes with the same weights, in Keras' gate order ``i, f, c, o`` and weight layout per
direction (``kernel [D, 4u]``, ``recurrent_kernel [u, 4u]``, ``bias [4u]``), and honours the mask the way
Keras does: a masked step leaves the state unchanged, so the final state is the state at the last real
step (the backward direction starts from zeros through any right padding). With ``return_sequences``,
masked steps output zeros (what ``Bidirectional`` makes Keras output; a lone Keras LSTM repeats the
previous output there instead; a masked consumer reads neither).

Not used by the models yet: measured on the shared 2-core CPU against Keras' LSTM at the models' shapes
(``benchmarks/bench_recurrent.py``, benchmarks/README.md) it won no shape consistently on either backend and
lost BiLSTM training on TensorFlow, so the models keep Keras' layer until a GPU run decides.

Built from ``keras.ops`` only (TensorFlow and JAX) and registered under the package ``mmer_tf``, so a saved
model reloads in a fresh process. Models saved before this layer existed hold Keras' own ``LSTM`` /
``Bidirectional`` layers and load as they did.
"""

from __future__ import annotations

import keras
from keras import ops

_PACKAGE = "mmer_tf"


def _direction_blocks(initializer_name: str, directions: int):
    """An initialiser for ``directions`` side-by-side blocks, each drawn as Keras' LSTM draws its own.

    The weights of both directions share one variable (one product for both); a single Glorot draw over
    the combined width would use a different fan-out than Keras' per-direction draw.
    """

    def initialize(shape, dtype=None):
        block = (*shape[:-1], shape[-1] // directions)
        parts = [keras.initializers.get(initializer_name)(block, dtype=dtype) for _ in range(directions)]
        return parts[0] if directions == 1 else ops.concatenate(parts, axis=-1)

    return initialize


def _lstm_bias(units: int, directions: int):
    """Zeros, with the forget gate's quarter at 1 (Keras' ``unit_forget_bias=True``), per direction."""

    def initialize(shape, dtype=None):
        one = ops.concatenate([ops.zeros((units,)), ops.ones((units,)), ops.zeros((2 * units,))])
        return ops.cast(ops.tile(one, (directions,)), dtype or "float32")

    return initialize


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ProjectedLSTM(keras.layers.Layer):
    """``(x [B, T, D], mask=[B, T] bool) -> [B, dirs * u]`` (final state) or ``[B, T, dirs * u]``.

    Weights: ``kernel [D, dirs * 4u]`` (direction blocks side by side), ``recurrent_kernel [dirs, u, 4u]``,
    ``bias [dirs * 4u]``; the forward direction first, as ``Bidirectional`` concatenates.
    """

    def __init__(self, units: int, bidirectional: bool = False, return_sequences: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.bidirectional = bool(bidirectional)
        self.return_sequences = bool(return_sequences)
        self.directions = 2 if self.bidirectional else 1
        self.supports_masking = True

    def build(self, input_shape):
        width, dirs, units = int(input_shape[-1]), self.directions, self.units
        self.kernel = self.add_weight(shape=(width, dirs * 4 * units), name="kernel",
                                      initializer=_direction_blocks("glorot_uniform", dirs))
        self.recurrent_kernel = self.add_weight(shape=(dirs, units, 4 * units), name="recurrent_kernel",
                                                initializer=self._orthogonal_per_direction)
        self.bias = self.add_weight(shape=(dirs * 4 * units,), name="bias", initializer=_lstm_bias(units, dirs))

    def _orthogonal_per_direction(self, shape, dtype=None):
        blocks = [keras.initializers.get("orthogonal")(shape[1:], dtype=dtype) for _ in range(shape[0])]
        return ops.stack(blocks, axis=0)

    def call(self, inputs, mask=None):
        dtype = self.compute_dtype
        units, dirs = self.units, self.directions
        # every step's input projection at once, time-major for the scan: [T, B, dirs * 4u]; a plain 2-D
        # product (XLA's CPU backend runs other contractions, and their gradients, far slower)
        steps, batch, width_in = ops.shape(inputs)[1], ops.shape(inputs)[0], ops.shape(inputs)[2]
        time_major = ops.reshape(ops.transpose(inputs, (1, 0, 2)), (-1, width_in))
        projected = ops.matmul(time_major, ops.cast(self.kernel, dtype)) + ops.cast(self.bias, dtype)
        projected = ops.reshape(projected, (steps, batch, dirs * 4 * units))
        if mask is None:
            real = ops.ones((steps, batch), dtype="bool")
        else:
            real = ops.transpose(ops.cast(mask, "bool"), (1, 0))                      # [T, B]
        real = ops.expand_dims(real, -1)                                              # [T, B, 1]
        width = 4 * units
        # per direction: its projected inputs and mask in the order it reads them (backward: time-reversed)
        xs = []
        for d in range(dirs):
            z, keep = projected[..., d * width:(d + 1) * width], real
            if d == 1:
                z, keep = ops.flip(z, axis=0), ops.flip(keep, axis=0)
            xs += [z, keep]
        # plain 2-D products per direction: XLA's CPU backend runs a batched product far slower
        recurrent = [ops.cast(self.recurrent_kernel[d], dtype) for d in range(dirs)]
        zeros = ops.zeros((batch, units), dtype=dtype)

        def step(carry, x):
            new_carry, outputs = [], []
            for d in range(dirs):
                h, c = carry[2 * d], carry[2 * d + 1]
                z, keep = x[2 * d], x[2 * d + 1]
                i, f, g, o = ops.split(z + ops.matmul(h, recurrent[d]), 4, axis=-1)
                c_new = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
                h_new = ops.sigmoid(o) * ops.tanh(c_new)
                new_carry += [ops.where(keep, h_new, h), ops.where(keep, c_new, c)]
                # TensorFlow's ``scan`` wants each step's output shaped like the carry: the cell state rides along
                outputs += [ops.where(keep, h_new, ops.zeros_like(h_new)), new_carry[-1]]
            return tuple(new_carry), (tuple(outputs) if self.return_sequences else None)

        carry, outputs = ops.scan(step, (zeros, zeros) * dirs, tuple(xs), length=steps)
        if not self.return_sequences:
            return carry[0] if dirs == 1 else ops.concatenate([carry[0], carry[2]], axis=-1)
        sequences = outputs[0] if dirs == 1 else ops.concatenate([outputs[0], ops.flip(outputs[2], axis=0)],
                                                                  axis=-1)
        return ops.transpose(sequences, (1, 0, 2))                                    # [B, T, dirs * u]

    def compute_output_shape(self, input_shape):
        width = self.directions * self.units
        if self.return_sequences:
            return (input_shape[0], input_shape[1], width)
        return (input_shape[0], width)

    def compute_mask(self, inputs, mask=None):
        # the models hand every layer its mask explicitly; nothing implicit travels downstream
        return None

    def get_config(self):
        return {**super().get_config(), "units": self.units, "bidirectional": self.bidirectional,
                "return_sequences": self.return_sequences}


__all__ = ["ProjectedLSTM"]
