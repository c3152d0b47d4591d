"""Every serialisable layer and shared sub-network the models are built from.

A saved ``.keras`` file names its custom layers (``mmer_tf>TensorFusion``); a fresh process can only
rebuild them once their classes are registered. Keeping every such class here (and the mask layers in
:mod:`mmer_tf.models.layers`) means one import registers them all, whatever model a file holds:
:func:`register_all` is what :func:`mmer_tf.train.load_model` calls. Model files import from here and
from ``layers`` inside their builders, never from another model file, so a model is one file.

Importing this package imports no Keras (:func:`register_all` does): ``main.py`` reads every model's
hyper-parameters to define and check its flags, and a typo or ``--help`` should not pay for the backend.

- ``attention``: position embedding, key-padding masks, last-real-step and token pooling (MulT,
  attention fusion);
- ``fusion``: tensor fusion (TFN) and low-rank fusion with its initialiser (LMF);
- ``recurrent``: ``ProjectedLSTM``, Keras' masked (Bi)LSTM with every step's input projected in one product;
- ``encoders``: shared functional sub-networks (masked mean-pooled DNN, masked (Bi)LSTM stack, the dense
  output head, TFN/LMF's modality embeddings); functions, not layers, so nothing to register;
- ``hparams``: the hyper-parameters of those shared sub-networks, declared without Keras.
"""

from __future__ import annotations

import importlib
import pkgutil


def register_all() -> None:
    """Import ``layers`` and every module of this package, so each custom class is registered."""
    importlib.import_module("mmer_tf.models.layers")
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


__all__ = ["register_all"]
