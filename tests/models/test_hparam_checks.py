"""Model hyper-parameters are checked before any work, and a refusal is one line naming the flag.

Every registered model's every hyper-parameter is tried with values of the wrong type or out of range
(the registry is iterated, so a new model is covered); the relations a builder needs (attention heads
dividing the width) are refused by the model's ``check`` hook; and whatever a builder still raises for
values the user changed becomes one ``MmerError`` naming those flags.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmer_tf.config import ExperimentConfig
from mmer_tf.errors import MmerError
from mmer_tf.models import registry

ROOT = Path(__file__).resolve().parents[2]
MODELS = registry.available()


def invalid_values(key: str, hp: registry.HParam) -> list:
    kind = type(hp.default)
    if kind is bool:
        return ["yes", 1]
    if kind is str:
        return [3, None]
    lowest = 0 if hp.minimum is None else hp.minimum
    bad = [lowest - 1, "8", None, True]
    if kind is float:
        bad += [float("nan"), float("inf")]
        if "dropout" in key:
            bad.append(1.0)
    else:
        bad.append(2.5)
    return bad


CASES = [(model, key, value) for model, spec in MODELS.items() for key, hp in spec.hparams.items()
         for value in invalid_values(key, hp)]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_models_defaults_pass(model):
    registry.validate(model, registry.resolve_hparams(model))


@pytest.mark.parametrize("model,key,value", CASES, ids=[f"{m}-{k}-{v!r}" for m, k, v in CASES])
def test_every_hyper_parameter_refuses_invalid_values_naming_its_flag(model, key, value):
    with pytest.raises(MmerError) as refused:
        registry.validate(model, {**registry.resolve_hparams(model), key: value})
    message = str(refused.value)
    assert message.startswith(f"--{model}_{key}:") and "\n" not in message


@pytest.mark.parametrize("model,hp,flag", [("mult", {"heads": 7}, "--mult_heads"),
                                           ("attn_fusion", {"heads": 3}, "--attn_fusion_heads")])
def test_heads_that_do_not_divide_the_width_are_refused_by_the_models_check(model, hp, flag):
    with pytest.raises(MmerError, match=f"^{flag}:"):
        registry.validate(model, {**registry.resolve_hparams(model), **hp})
    config = ExperimentConfig(model_name=model, model_hparams=hp)
    with pytest.raises(MmerError, match=f"^{flag}:"):
        registry.build_model(config, {"text": 4, "audio": 3}, 2)


def test_a_build_error_from_changed_values_names_their_flags(monkeypatch):
    def builder(dims, num_outputs, config, hp):
        raise ValueError(f"width {hp['width']} is not\nsupported")

    spec = registry.ModelSpec("toy", builder, {"width": registry.HParam(3, "a width", minimum=1)})
    monkeypatch.setitem(registry._REGISTRY, "toy", spec)
    with pytest.raises(MmerError) as refused:
        registry.build_model(ExperimentConfig(model_name="toy", model_hparams={"width": 5}), {"text": 2}, 1)
    assert str(refused.value) == "-mn toy: cannot be built with --toy_width=5: width 5 is not supported"
    with pytest.raises(ValueError):  # with the defaults it is the model's bug: the traceback stays
        registry.build_model(ExperimentConfig(model_name="toy"), {"text": 2}, 1)


def test_main_refuses_mult_heads_7_in_one_line_before_reading_data(tmp_path):
    pickles = tmp_path / "pickle_files"
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "-mn", "mult", "--mult_heads", "7",
                           "-pf", str(pickles), "-mf", str(tmp_path / "models")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: --mult_heads: 7 heads do not divide the width --mult_d=30")
    assert "Traceback" not in done.stderr
    assert not pickles.exists() or not any(pickles.iterdir())  # no sample generated, nothing cached
