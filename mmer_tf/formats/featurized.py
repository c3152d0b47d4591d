"""The featurized folder: what a raw-media corpus becomes, written by ``features/`` and read by ``data/``.

A featurized folder (``<pickle_folder>/featurized_<corpus>_<key>/``, or what ``python -m mmer_tf featurize``
writes) holds:

- ``text.csd``, ``audio.csd``, ``vision.csd``: SDK-format computational sequences (:mod:`mmer_tf.formats.csd`),
  video id = clip id, intervals in seconds;
- ``recipe.json``: the recipe that produced them (:class:`mmer_tf.features.Recipe` as a dict);
- ``clips.csv``: every clip's id, media path (relative to the corpus root when inside it), transcript and
  per-clip metadata columns, from which labels and folds are derived at read time;
- ``featurized.json``: the marker, written last, so its presence means the folder is complete.

This module is the one definition of those names and of how each file is written and read.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Mapping, Sequence

from mmer_tf.data.segments import MODALITIES
from mmer_tf.errors import MmerError
from mmer_tf.fileio import atomic_write_text

MARKER = "featurized.json"
CLIPS_CSV = "clips.csv"
RECIPE_JSON = "recipe.json"


def is_featurized(path: Path, corpus: str | None = None) -> bool:
    marker = Path(path) / MARKER
    if not marker.is_file():
        return False
    if corpus is None:
        return True
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("corpus") == corpus
    except (OSError, ValueError):
        return False


def read_marker(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MmerError(f"{Path(folder) / MARKER}: unreadable featurized-folder marker ({exc})") from None


def write_clips_csv(path: Path, records: Sequence, root: Path) -> None:
    """``clips.csv``: id, media (relative to the corpus root when inside it), text, then the meta columns.

    ``records``: the adapters' ``ClipRecord`` (``id``, ``media``, ``text``, ``meta``)."""
    meta_columns: list[str] = []
    for record in records:
        for key in record.meta:
            if key not in meta_columns:
                meta_columns.append(key)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "media", "text", *meta_columns])
    for record in records:
        try:
            media = str(Path(record.media).resolve().relative_to(Path(root).resolve()))
        except ValueError:
            media = str(Path(record.media).resolve())
        writer.writerow([record.id, media, "" if record.text is None else record.text,
                         *[record.meta.get(c, "") for c in meta_columns]])
    atomic_write_text(path, buffer.getvalue())


def read_clips_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise MmerError(f"{path}: cannot read the clip table ({exc})") from None
    if rows and "id" not in rows[0]:
        raise MmerError(f"{path}: not a clip table (no 'id' column)")
    return rows


def failed_media(marker: Mapping) -> dict[str, str]:
    """``{clip id or file: reason}`` of media the featurizer could not read, from its summary.

    The featurizer lists them under ``failed``/``skipped``/``corrupt`` as a mapping or a list of
    ``{"id"|"file", "reason"}`` / ``[name, reason]`` items; all are accepted.
    """
    summary = marker.get("featurize_summary") or {}
    out: dict[str, str] = {}
    for key in ("failed", "skipped", "corrupt", "errors"):
        value = summary.get(key) if isinstance(summary, Mapping) else None
        if isinstance(value, Mapping):
            out.update({str(k): str(v) for k, v in value.items()})
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    name = item.get("id") or item.get("clip") or item.get("file") or item.get("media")
                    out[str(name)] = str(item.get("reason") or item.get("error") or key)
                elif isinstance(item, (list, tuple)) and len(item) >= 2:
                    out[str(item[0])] = str(item[1])
                else:
                    out[str(item)] = key
    return out


def modality_files(folder: Path) -> dict[str, Path]:
    return {m: csd_file(folder, m) for m in MODALITIES if csd_file(folder, m).is_file()}


def open_sequences(folder: Path) -> dict:
    """``{modality: CsdReader}`` of the folder's sequences (the caller closes them); a folder without any
    is a one-line error."""
    from mmer_tf.formats.csd import CsdReader

    files = modality_files(folder)
    if not files:
        raise MmerError(f"{folder}: no text.csd, audio.csd or vision.csd (featurizing wrote nothing?)")
    return {m: CsdReader(p) for m, p in files.items()}


def write_marker(folder: Path, marker: Mapping) -> None:
    """``featurized.json``, the last file written: the folder is complete once it exists."""
    atomic_write_text(Path(folder) / MARKER, json.dumps(dict(marker), indent=1, sort_keys=True, default=str))


def write_recipe(folder: Path, recipe_dict: Mapping) -> None:
    """``recipe.json``: the recipe that produced the folder's sequences."""
    atomic_write_text(Path(folder) / RECIPE_JSON, json.dumps(dict(recipe_dict), indent=2, sort_keys=True) + "\n")


def csd_file(folder: Path, modality: str) -> Path:
    """Where the folder keeps ``modality``'s computational sequence."""
    return Path(folder) / f"{modality}.csd"
