"""A safe on-disk cache of segment sets: ``.npz`` arrays + a JSON manifest, never pickle.

The seed pickled its mmdataset (``-pnd``) and folds (``-pnf``). Pickle executes code on load and
silently serves a stale result when the inputs change, so here:

* a cache entry is ``<pickle_folder>/<name>_<fingerprint[:16]>.npz`` plus ``.json`` beside it, where
  ``name`` is ``config.pickle_name_dataset`` or ``config.pickle_name_fold``;
* the fingerprint is a SHA-256 over every input file's (resolved path, size, mtime_ns) and every
  parameter that shapes the result, so a changed file or parameter gets a new name and a stale entry can
  never be served;
* the ``.npz`` holds, per set and modality, the packed ``[sum T_i, D]`` float32 features and
  ``offsets [N + 1]``, plus ``ids`` (a unicode array) and ``labels``; it is read with
  ``allow_pickle=False``;
* both files are written to a temporary name and renamed into place (the manifest last, and the manifest
  records the ``.npz`` size), so a crash never leaves an entry that looks complete; a failed write (full
  disk, read-only folder) is one :class:`MmerError` and leaves no temporary file; temporaries of a
  killed run are removed by the next save;
* an entry that fails to load (truncated, corrupt, inconsistent) is reported with a warning, deleted, and
  treated as a miss -- the caller rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import zipfile
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from mmer_tf.data.normalization import pack, unpack
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError
from mmer_tf.fileio import atomic_write, process_alive

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
_SEP = "__"
FRAME_LABELS = "frame_labels"  # the per-frame label arrays of a set (not a modality name)


def file_signature(path: str | os.PathLike) -> list:
    """``[resolved path, size, mtime_ns]`` of one input file."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return [str(resolved), int(stat.st_size), int(stat.st_mtime_ns)]


def fingerprint(files: Iterable[str | os.PathLike], params: Mapping[str, object]) -> str:
    """SHA-256 hex digest over the input files' signatures and the (JSON-serialisable) parameters."""
    payload = {
        "cache_format": CACHE_FORMAT,
        "files": sorted(file_signature(f) for f in files),
        "params": params,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(pickle_folder: str | os.PathLike, name: str, digest: str) -> Path:
    """``<pickle_folder>/<name>_<digest[:16]>.npz``."""
    return Path(pickle_folder) / f"{name}_{digest[:16]}.npz"


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(handle)`` to a hidden ``.<name>.<pid>.*.partial`` file, then rename it into
    place. Any failure (full disk, read-only folder) removes the temporary file and becomes one
    :class:`MmerError` naming the cache file."""
    try:
        atomic_write(path, write, prefix=f".{path.name}.{os.getpid()}.", suffix=".partial", fsync=False)
    except OSError as exc:
        raise MmerError(f"{path}: cannot write the cache ({exc.strerror or exc}); free space or point -pf "
                        f"at another folder") from None


def remove_stale_partials(folder: Path) -> None:
    """Remove hidden ``.<name>.<pid>.*.partial`` files whose writing process is gone (killed mid-write)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = re.fullmatch(r"\..+\.(\d+)\.[^.]+\.partial", name)
        if match and not process_alive(int(match.group(1))):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def save_segment_sets(
    path: str | os.PathLike, sets: Mapping[str, SegmentSet], digest: str, extra: Mapping | None = None
) -> Path:
    """Write ``sets`` (e.g. ``{"train", "valid", "test"}``) to ``path`` (.npz) and its manifest."""
    path = Path(path)
    if path.parent.exists() and not path.parent.is_dir():
        raise MmerError(f"{path.parent}: the cache folder (-pf) is a file, expected a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MmerError(f"{path.parent}: cannot create the cache folder (-pf) ({exc.strerror or exc})") from None
    remove_stale_partials(path.parent)
    arrays: dict[str, np.ndarray] = {}
    described = {}
    for name, segments in sets.items():
        if _SEP in name:
            raise ValueError(f"set name {name!r} must not contain {_SEP!r}")
        arrays[f"{name}{_SEP}ids"] = np.asarray(segments.ids, dtype=str) if len(segments) else np.zeros(0, dtype="<U1")
        arrays[f"{name}{_SEP}labels"] = np.asarray(segments.labels, dtype=np.float32)
        dims = {}
        for modality, seqs in segments.features.items():
            dim = int(seqs[0].shape[-1]) if len(seqs) else 0
            flat, offsets = pack(seqs, dim)
            arrays[f"{name}{_SEP}{modality}{_SEP}data"] = flat
            arrays[f"{name}{_SEP}{modality}{_SEP}offsets"] = offsets
            dims[modality] = dim
        if segments.frame_labels is not None:  # per-frame labels (NaN = unlabelled) travel like a modality
            flat, offsets = pack(segments.frame_labels, int(segments.labels.shape[-1]))
            arrays[f"{name}{_SEP}{FRAME_LABELS}{_SEP}data"] = flat
            arrays[f"{name}{_SEP}{FRAME_LABELS}{_SEP}offsets"] = offsets
        described[name] = {
            "n": len(segments),
            "frame_labels": segments.frame_labels is not None,
            "modalities": list(segments.features),
            "dims": dims,
            "aligned": bool(segments.aligned),
            "info": segments.info,
        }
    _atomic_write(path, lambda handle: np.savez(handle, **arrays))
    # The manifest goes last: an entry without one is a miss. If it cannot be written, the .npz is
    # removed too, so a full disk leaves no orphan behind.
    manifest = {
        "cache_format": CACHE_FORMAT,
        "fingerprint": digest,
        "npz": path.name,
        "npz_size": path.stat().st_size,
        "sets": described,
        "extra": dict(extra or {}),
    }
    text = json.dumps(manifest, indent=1, sort_keys=True, default=_jsonable).encode("utf-8")
    try:
        _atomic_write(_manifest_path(path), lambda handle: handle.write(text))
    except MmerError:
        path.unlink(missing_ok=True)
        raise
    return path


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def read_manifest(path: str | os.PathLike) -> dict | None:
    try:
        return json.loads(_manifest_path(Path(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_segment_sets(path: str | os.PathLike, digest: str) -> tuple[dict[str, SegmentSet], dict] | None:
    """The cached sets and their manifest, or ``None`` on a miss.

    A missing entry is a plain miss. An entry that exists but does not load cleanly (manifest unreadable
    or for another fingerprint, size mismatch, truncated or corrupt ``.npz``, missing arrays) is logged
    as a warning, deleted, and reported as a miss so the caller rebuilds it.
    """
    path = Path(path)
    manifest_file = _manifest_path(path)
    if not path.exists() and not manifest_file.exists():
        return None
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        if manifest.get("cache_format") != CACHE_FORMAT or manifest.get("fingerprint") != digest:
            raise ValueError("manifest is for another cache format or fingerprint")
        if path.stat().st_size != manifest["npz_size"]:
            raise ValueError(f"size {path.stat().st_size} != {manifest['npz_size']} recorded (truncated?)")
        sets = {}
        with np.load(path, allow_pickle=False) as npz:
            for name, desc in manifest["sets"].items():
                ids = [str(s) for s in npz[f"{name}{_SEP}ids"]]
                labels = npz[f"{name}{_SEP}labels"]
                features = {}
                for modality in desc["modalities"]:
                    flat = npz[f"{name}{_SEP}{modality}{_SEP}data"]
                    offsets = npz[f"{name}{_SEP}{modality}{_SEP}offsets"]
                    if offsets.shape != (len(ids) + 1,) or offsets[-1] != len(flat):
                        raise ValueError(f"set {name!r} modality {modality!r}: offsets do not match data")
                    features[modality] = unpack(flat, offsets)
                frame_labels = None
                if desc.get("frame_labels"):
                    frame_labels = unpack(npz[f"{name}{_SEP}{FRAME_LABELS}{_SEP}data"],
                                          npz[f"{name}{_SEP}{FRAME_LABELS}{_SEP}offsets"])
                sets[name] = SegmentSet(
                    ids=ids, features=features, labels=labels, aligned=desc["aligned"], info=desc.get("info", {}),
                    frame_labels=frame_labels,
                )
        return sets, manifest
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("cache %s is unusable (%s): deleting it and rebuilding", path, exc)
        for stale in (path, manifest_file):
            try:
                stale.unlink()
            except OSError:
                pass
        return None
