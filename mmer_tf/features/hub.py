"""Load TF Hub SavedModels by local path and call them whatever their output structure.

``hub.KerasLayer`` does not work inside Keras 3, and runs never download, so encoders are loaded with
``tensorflow_hub.load(<local folder>)`` (the same object ``tf.saved_model.load`` returns) and called
directly. Loaded models are cached per process: a worker featurizing a thousand clips loads each
encoder once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmer_tf.errors import MmerError

_CACHE: dict[str, Any] = {}


def load(path: Path, flag: str) -> Any:
    """The SavedModel at ``path`` (a folder with ``saved_model.pb``), loaded once per process."""
    path = Path(path)
    key = str(path.resolve())
    if key in _CACHE:
        return _CACHE[key]
    if not (path / "saved_model.pb").is_file():
        raise MmerError(f"{flag} hub:{path}: not a SavedModel folder (no saved_model.pb); download and unpack "
                        f"the model and pass its local folder")
    import tensorflow_hub as hub

    try:
        model = hub.load(str(path))
    except Exception as exc:
        raise MmerError(f"{flag} hub:{path}: cannot load the SavedModel ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    _CACHE[key] = model
    return model


def input_spec(model: Any):
    """The TensorSpec of the model's (single) positional input, or ``None`` when it is not declared."""
    fn = getattr(model, "__call__", None)
    for concrete in getattr(fn, "concrete_functions", ()) or ():
        args = concrete.structured_input_signature[0]
        if args:
            spec = args[0]
            return spec if hasattr(spec, "shape") else None
    sigs = getattr(model, "signatures", None)
    if sigs and "serving_default" in sigs:
        kwargs = sigs["serving_default"].structured_input_signature[1]
        if len(kwargs) == 1:
            return next(iter(kwargs.values()))
    return None


def call(model: Any, inputs: Any) -> Any:
    """Call a restored model: its ``__call__`` when it has one, else its ``serving_default`` signature."""
    if callable(model):
        return model(inputs)
    sigs = getattr(model, "signatures", None)
    if sigs and "serving_default" in sigs:
        sig = sigs["serving_default"]
        if isinstance(inputs, dict):
            return sig(**inputs)
        kwargs = sig.structured_input_signature[1]
        return sig(**{next(iter(kwargs)): inputs})
    raise MmerError("hub model is neither callable nor has a serving_default signature")


DICT_DEFAULT_KEYS = ("embedding", "embeddings", "default", "output_0", "pooled_output", "outputs")


def select_output(outputs: Any, key: str, flag: str, tuple_default: int = 0) -> np.ndarray:
    """Pick one output: a dict key, a tuple index (``"1"``), or by default the only/embedding output.

    The documented encoders disagree: YAMNet returns ``(scores, embeddings, spectrogram)``, VGGish a
    tensor, TRILLsson ``{"embedding": ...}``, image feature vectors a tensor; the default covers them
    all (``tuple_default`` is the index used for a tuple when ``key`` is empty).
    """
    if isinstance(outputs, dict):
        if key:
            if key not in outputs:
                raise MmerError(f"{flag}: output key '{key}' not among the model's outputs {sorted(outputs)}")
            value = outputs[key]
        elif len(outputs) == 1:
            value = next(iter(outputs.values()))
        else:
            found = [k for k in DICT_DEFAULT_KEYS if k in outputs]
            if not found:
                raise MmerError(f"{flag}: the model has outputs {sorted(outputs)}; choose one with the output key")
            value = outputs[found[0]]
    elif isinstance(outputs, (tuple, list)):
        if key:
            try:
                value = outputs[int(key)]
            except (ValueError, IndexError):
                raise MmerError(f"{flag}: output key '{key}' must be an index below {len(outputs)} for a model "
                                f"returning a tuple") from None
        else:
            value = outputs[tuple_default if len(outputs) > tuple_default else 0]
    else:
        if key and key not in ("0", "default"):
            raise MmerError(f"{flag}: output key '{key}' given but the model returns a single tensor")
        value = outputs
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float32)
