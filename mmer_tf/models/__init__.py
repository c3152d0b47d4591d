"""Fusion models, one module each, registered by name (see :mod:`mmer_tf.models.registry`)."""

from mmer_tf.models.registry import available, build_model, get, model_inputs, register

__all__ = ["available", "build_model", "get", "model_inputs", "register"]
