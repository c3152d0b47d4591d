"""Ranger: RAdam with Lookahead, the optimiser of seed 003's MERC2020 recipe (``-opt ranger``).

Keras 3 ships neither RAdam nor Lookahead, so this is both, on ``keras.optimizers.Optimizer`` with
``keras.ops`` only (TensorFlow and JAX). Per variable and step ``t`` (Liu et al. 2020, RAdam; Zhang et al.
2019, Lookahead; combined as in Wright's Ranger, whose defaults these are):

    m = b1 m + (1 - b1) g                  v = b2 v + (1 - b2) g^2
    rho_inf = 2 / (1 - b2) - 1             rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
    if rho_t > threshold (5):  w -= lr * r_t / (1 - b1^t) * m / (sqrt(v) + eps),
        r_t = sqrt((1 - b2^t) (rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    else (variance not yet tractable):  w -= lr / (1 - b1^t) * m
    every k steps:  slow += alpha (w - slow);  w = slow

The slow weights start as the weights at the first update. ``weight_decay`` is Keras' decoupled decay
(``w -= lr * wd * w`` before the step), which is Ranger's own rule. Not included: the gradient
centralisation of later Ranger releases (docs/SEED_COMPAT.md).
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mmer_tf")
class Ranger(keras.optimizers.Optimizer):
    """RAdam + Lookahead (defaults: lr 1e-3, betas 0.95/0.999, eps 1e-5, k 6, alpha 0.5, threshold 5)."""

    def __init__(self, learning_rate=1e-3, beta_1=0.95, beta_2=0.999, epsilon=1e-5, lookahead_steps=6,
                 lookahead_alpha=0.5, sma_threshold=5.0, name="ranger", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if int(lookahead_steps) < 1:
            raise ValueError(f"Ranger: lookahead_steps must be >= 1, got {lookahead_steps}")
        if not 0.0 < float(lookahead_alpha) <= 1.0:
            raise ValueError(f"Ranger: lookahead_alpha must be in (0, 1], got {lookahead_alpha}")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.lookahead_steps = int(lookahead_steps)
        self.lookahead_alpha = float(lookahead_alpha)
        self.sma_threshold = float(sma_threshold)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities, self._slow = self.add_optimizer_variables(
            var_list, ["momentum", "velocity", "slow"])

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m, v, slow = self._momentums[index], self._velocities[index], self._slow[index]
        step_int = ops.cast(self.iterations + 1, "int64")
        step = ops.cast(step_int, dtype)
        b1, b2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        one = ops.cast(1.0, dtype)

        # the slow weights start from the weights met at the first update
        current = ops.convert_to_tensor(variable)  # JAX's where takes arrays, not Keras variables
        self.assign(slow, ops.where(ops.equal(step_int, 1), current, ops.convert_to_tensor(slow)))
        self.assign(m, b1 * m + (one - b1) * gradient)
        self.assign(v, b2 * v + (one - b2) * ops.square(gradient))

        # 1 - beta^t through expm1: in float32, 1 - 0.999^t loses the digits the rectifier is sensitive to
        one_minus_b1_t = -ops.expm1(step * ops.cast(math.log(self.beta_1), dtype))
        one_minus_b2_t = -ops.expm1(step * ops.cast(math.log(self.beta_2), dtype))
        b2_t = one - one_minus_b2_t
        rho_inf = ops.cast(2.0 / (1.0 - self.beta_2) - 1.0, dtype)
        rho_t = rho_inf - 2.0 * step * b2_t / one_minus_b2_t
        tractable = ops.greater(rho_t, ops.cast(self.sma_threshold, dtype))
        # keep the square root's argument positive on the branch that is not taken
        safe_rho = ops.where(tractable, rho_t, ops.cast(5.0, dtype) + one)
        rectifier = ops.sqrt(one_minus_b2_t * (safe_rho - 4.0) * (safe_rho - 2.0) * rho_inf
                             / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe_rho))
        adaptive = rectifier / one_minus_b1_t * m / (ops.sqrt(v) + ops.cast(self.epsilon, dtype))
        plain = m / one_minus_b1_t
        fast = current - lr * ops.where(tractable, adaptive, plain)

        sync = ops.equal(ops.mod(step_int, ops.cast(self.lookahead_steps, "int64")), 0)
        slow_now = ops.convert_to_tensor(slow)
        merged = slow_now + ops.cast(self.lookahead_alpha, dtype) * (fast - slow_now)
        self.assign(slow, ops.where(sync, merged, slow_now))
        self.assign(variable, ops.where(sync, merged, fast))

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                      lookahead_steps=self.lookahead_steps, lookahead_alpha=self.lookahead_alpha,
                      sma_threshold=self.sma_threshold)
        return config
