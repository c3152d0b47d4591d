"""Recover the :class:`~mmer_tf.config.ExperimentConfig` a saved model was trained with.

``python -m mmer_tf evaluate`` re-scores a model on the exact test fold it was trained with, and
``compare`` bootstraps a single run's score from its saved predictions; both need the run's
configuration. Two sources, best first:

1. the config sidecar ``<model>.keras.config.json`` written beside the model at training time
   (every field, including where the data and caches were);
2. the run's ``model_ids.csv`` row, found by the model file it names (``model_file`` column): every
   parameter column, typed back by the dataclass field it came from. Tables of earlier versions lack
   the fields added since; those keep their defaults.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Mapping

from mmer_tf.config import ExperimentConfig
from mmer_tf.errors import MmerError
from mmer_tf.fileio import atomic_write_text

SIDECAR_SUFFIX = ".config.json"
SIDECAR_FORMAT = 1


def sidecar_path(model_path: str | os.PathLike) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + SIDECAR_SUFFIX)


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def save_config_sidecar(model_path: str | os.PathLike, config: ExperimentConfig) -> Path:
    """Write every field of ``config`` as JSON beside the model (atomically)."""
    payload = {"format": SIDECAR_FORMAT,
               "config": {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}}
    return atomic_write_text(sidecar_path(model_path), json.dumps(payload, indent=1), suffix=".partial")


def _known(values: Mapping[str, object]) -> dict[str, object]:
    names = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
    out = {}
    for key, value in values.items():
        if key not in names:
            continue  # a field a later version dropped
        if isinstance(value, list):
            value = tuple(value)
        out[key] = value
    return out


def load_config_sidecar(model_path: str | os.PathLike) -> ExperimentConfig | None:
    """The config in the sidecar beside ``model_path``, or None when there is none."""
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        values = dict(payload["config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MmerError(f"{path}: unreadable config sidecar ({exc})") from None
    return ExperimentConfig(**_known(values))


def _element_type(annotation: str, default) -> type:
    if default:
        return type(default[0])
    return float if "float" in annotation else int if "int" in annotation else str


def _convert(field: dataclasses.Field, text: str):
    """A model_ids cell (a string) back into ``field``'s type."""
    default = field.default if field.default is not dataclasses.MISSING else None
    annotation = str(field.type)
    if default is None:
        if field.name == "dataset_folder" and text == "builtin-sample":
            return None
        return text or None
    if isinstance(default, bool):
        if text.strip().lower() in ("true", "1", "yes"):
            return True
        if text.strip().lower() in ("false", "0", "no", ""):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if isinstance(default, tuple):
        kind = _element_type(annotation, default)
        return tuple(kind(part) for part in text.split(",") if part.strip() != "")
    if isinstance(default, (int, float)):
        return type(default)(float(text)) if isinstance(default, int) and "." in text else type(default)(text)
    return text


def _hparam_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(text, text)


def config_from_row(row: Mapping[str, str]) -> ExperimentConfig:
    """An ExperimentConfig from one ``model_ids.csv`` row read as strings (missing columns: defaults)."""
    values: dict[str, object] = {}
    hparams: dict[str, object] = {}
    for field in dataclasses.fields(ExperimentConfig):
        if field.name == "model_hparams" or field.name not in row:
            continue
        text = row[field.name]
        if text is None or (isinstance(text, float) and text != text):
            continue
        try:
            values[field.name] = _convert(field, str(text))
        except (TypeError, ValueError):
            raise MmerError(f"model_ids column {field.name}={text!r}: not a valid value") from None
    for key, text in row.items():
        if key.startswith("hp_") and text not in (None, ""):
            hparams[key[3:]] = _hparam_value(str(text))
    if hparams:
        values["model_hparams"] = hparams
    return ExperimentConfig(**values)


def find_model_row(model_path: str | os.PathLike) -> tuple[dict[str, str], Path] | None:
    """The ``model_ids.csv`` row (as strings) whose ``model_file`` is ``model_path``, searched in the
    model's folder and its sub-folders (the csv folders), and the table it came from."""
    import csv

    model_path = Path(model_path).resolve()
    folder = model_path.parent
    for table in sorted(folder.glob("*model_ids.csv")) + sorted(folder.glob("*/*model_ids.csv")):
        try:
            with open(table, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError):
            continue
        for row in reversed(rows):
            named = (row.get("model_file") or "").strip()
            if named and (Path(named).resolve() == model_path
                          or (not Path(named).is_absolute() and Path(named).name == model_path.name)):
                return row, table
    return None


def recover(model_path: str | os.PathLike) -> tuple[ExperimentConfig, dict[str, str] | None]:
    """The model's config (sidecar first, else its model_ids row) and its model_ids row when found."""
    found = find_model_row(model_path)
    row = found[0] if found else None
    config = load_config_sidecar(model_path)
    if config is None:
        if row is None:
            raise MmerError(f"--model {model_path}: neither a {sidecar_path(model_path).name} beside it nor a "
                            "model_ids.csv row naming it in its folder, so its configuration is unknown")
        config = config_from_row(row)
        table = found[1]
        model_dir = Path(model_path).resolve().parent
        prefix = table.name[: -len("model_ids.csv")]
        config = config.replace(model_folder=str(model_dir.parent), model_name=model_dir.name,
                                csv_folder=os.path.relpath(table.parent, model_dir),
                                csv_name=prefix[:-1] if prefix.endswith("_") else "")
    return config, row


__all__ = ["config_from_row", "find_model_row", "load_config_sidecar", "recover", "save_config_sidecar",
           "sidecar_path"]
