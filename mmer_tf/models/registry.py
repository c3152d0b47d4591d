"""Model registry: a name (the ``-mn`` flag) -> a builder and its hyper-parameters.

A model is one module in ``mmer_tf/models/`` that decorates its builder with :func:`register`. The
builder receives the feature dimension of each modality in the run, the number of outputs, the run
config and its resolved hyper-parameters, and returns an uncompiled ``keras.Model`` whose inputs are
the dict the pipeline yields (see :func:`model_inputs`). Builders use ``keras.ops`` only, so every
model runs on the TensorFlow and the JAX backends.

Layer names are part of the contract: every layer that reads one modality only is named ``<modality>_...``
and the output head starts with ``head_dense`` (``blocks.encoders.dense_head``). ``mmer_tf.staged`` finds a
model's per-modality branches and fused embedding by those names alone (staged fusion with ``--init_from``,
``--freeze_branches``, ``--aux_loss``; the triplet loss); docs/MODELS.md lists them per model.

Hyper-parameters are declared once, with the paper's defaults; ``main.py`` turns each into a flag
``--<model>_<name>`` and the chosen model's values land in ``model_ids.csv`` as ``hp_<name>`` columns.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Mapping

from mmer_tf.errors import MmerError


@dataclass(frozen=True)
class HParam:
    """One hyper-parameter: its paper default (whose type is the flag's type) and its help.

    ``minimum``: the smallest valid value of a number (``None``: 0, as no count, size or rate is negative).
    """

    default: object
    help: str
    minimum: float | None = None
    # the seed's own flag name for it (``tcn_kernel_size``): main.py accepts it as an alias of --<model>_<name>
    alias: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable
    hparams: Mapping[str, HParam] = field(default_factory=dict)
    paper: str = ""
    # True when the model needs every modality on one time axis (word-aligned view).
    needs_aligned: bool = False
    # True when the builder accepts ``per_step=True`` and then returns ``[B, T, outputs]`` (one prediction
    # per step of its first input's time axis): what a corpus with per-frame labels needs.
    per_step: bool = False
    # ``check(hp)``: relations between hyper-parameters the builder needs (raise ``MmerError`` naming the
    # flag, see :func:`flag_of`); single values are checked from ``hparams`` alone (:func:`validate`).
    check: Callable | None = None


_REGISTRY: dict[str, ModelSpec] = {}


def register(name: str, *, hparams: Mapping[str, HParam] | None = None, paper: str = "",
             needs_aligned: bool = False, per_step: bool = False, check: Callable | None = None):
    """Decorator registering ``builder(dims, num_outputs, config, hp) -> keras.Model`` as ``name``
    (``per_step=True``: the builder also takes ``per_step=`` and can predict every step)."""

    def wrap(builder):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(name, builder, dict(hparams or {}), paper, needs_aligned, per_step, check)
        return builder

    return wrap


def _load_all() -> None:
    """Import every module of this package so their ``@register`` calls run."""
    import mmer_tf.models as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg and info.name not in ("registry", "layers"):
            importlib.import_module(f"mmer_tf.models.{info.name}")
    from mmer_tf import plugins

    plugins.plugin_modules()  # a model module named in MMER_PLUGINS registers itself when imported


def available() -> dict[str, ModelSpec]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> ModelSpec:
    models = available()
    if name not in models:
        raise MmerError(f"-mn/--model_name: unknown model {name!r}; choose one of {', '.join(models)}")
    return models[name]


def resolve_hparams(name: str, overrides: Mapping[str, object] | None = None) -> dict[str, object]:
    """The model's hyper-parameters: paper defaults, updated with ``overrides``."""
    spec = get(name)
    values = {key: hp.default for key, hp in spec.hparams.items()}
    for key, value in (overrides or {}).items():
        if key not in spec.hparams:
            raise MmerError(f"model {name!r} has no hyper-parameter {key!r}; it has {sorted(spec.hparams)}")
        values[key] = value
    return values


def flag_of(model: str, key: str) -> str:
    """The command-line flag of a model's hyper-parameter: ``--<model>_<name>``."""
    return f"--{model}_{key}"


def _check_value(model: str, key: str, hp: HParam, value) -> None:
    flag = flag_of(model, key)
    kind = type(hp.default)
    if kind is bool:
        if not isinstance(value, bool):
            raise MmerError(f"{flag}: expected true or false, got {value!r}")
        return
    if kind is str:
        if not isinstance(value, str):
            raise MmerError(f"{flag}: expected text, got {value!r}")
        return
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise MmerError(f"{flag}: expected a whole number, got {value!r}")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
        raise MmerError(f"{flag}: expected a finite number, got {value!r}")
    lowest = 0 if hp.minimum is None else hp.minimum
    if value < lowest:
        raise MmerError(f"{flag}: must be >= {lowest}, got {value}")
    if kind is float and "dropout" in key and value >= 1:
        raise MmerError(f"{flag}: a dropout rate must be below 1, got {value}")


def validate(name: str, values: Mapping[str, object]) -> None:
    """Check a model's hyper-parameters before any work: types, ranges, then the model's own ``check``.

    Every failure is one ``MmerError`` naming the flag (``--mult_heads``), so a run never reaches its
    data only to die in the builder.
    """
    spec = get(name)
    for key, hp in spec.hparams.items():
        if key in values:
            _check_value(name, key, hp, values[key])
    if spec.check is not None:
        spec.check({**{k: hp.default for k, hp in spec.hparams.items()}, **values})


def model_inputs(dims: Mapping[str, int], steps: int | None = None) -> dict:
    """The ``keras.Input`` dict matching the pipeline's batches.

    For each modality ``m``: ``m`` is ``[B, T, D_m]`` float32 and ``m_mask`` is ``[B, T]`` float32 (1.0 on
    real steps, 0.0 on padding). ``steps`` fixes T (``-s N``); ``None`` means variable length.
    """
    import keras

    inputs = {}
    for modality, dim in dims.items():
        inputs[modality] = keras.Input(shape=(steps, dim), name=modality, dtype="float32")
        inputs[f"{modality}_mask"] = keras.Input(shape=(steps,), name=f"{modality}_mask", dtype="float32")
    return inputs


def build_model(config, dims: Mapping[str, int], num_outputs: int, per_step: bool = False):
    """Build the model named by ``config.model_name`` for the given modality dimensions.

    ``per_step=True`` (a corpus labelled per frame) asks for ``[B, T, outputs]`` predictions; a model that
    predicts one output per segment is refused in one line.
    """
    spec = get(config.model_name)
    hp = resolve_hparams(config.model_name, config.model_hparams)
    validate(config.model_name, hp)
    if per_step and not spec.per_step:
        steppers = ", ".join(n for n, s in available().items() if s.per_step) or "none"
        raise MmerError(f"-mn {config.model_name}: predicts one output per segment, but this corpus is labelled "
                        f"per frame; use a model that predicts every step ({steppers})")
    try:
        if per_step:
            return spec.builder(dict(dims), int(num_outputs), config, hp, per_step=True)
        return spec.builder(dict(dims), int(num_outputs), config, hp)
    except (ValueError, TypeError) as exc:
        # What no check foresaw (a value the layers refuse for these inputs): one line naming the flags
        # the user changed. With the defaults it is the model's own bug, and keeps its traceback.
        changed = [flag_of(spec.name, k) + f"={v}" for k, v in hp.items() if v != spec.hparams[k].default]
        if not changed:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise MmerError(f"-mn {spec.name}: cannot be built with {', '.join(changed)}: {message}") from None
