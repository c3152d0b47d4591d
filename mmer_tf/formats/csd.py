"""Read and write computational sequences (``.csd``) in the CMU Multimodal SDK's HDF5 layout.

A computational sequence file holds one root group named after the sequence::

    <root>/data/<video id>/features    [n, D]  (any float dtype)
    <root>/data/<video id>/intervals   [n, 2]  start/end seconds
    <root>/metadata/<key>              (1,) variable-length string, JSON-encoded by the SDK

Reading is lazy: :class:`CsdReader` opens the file and hands out one video at a time, so a 40 GB
OpenFace sequence never has to fit in memory. Writing streams too (:func:`write_csd` takes an iterable).
Files written here load in the SDK unchanged (same groups, same metadata encoding).

Why one module of ~600 lines: it is the one owner of the ``.csd`` format, reading and writing together,
since the writer's low-level HDF5 choices (compact datasets, the partial-file protocol, the failure path
that must never let HDF5 retry a flush) are only correct against what the reader and the SDK expect.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import h5py
import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.fileio import process_alive

# The SDK's metadata template (its own list glues "dimension names" and "computational sequence
# version" together through a missing comma; we write both keys separately, which it accepts).
SDK_METADATA_KEYS = (
    "root name",
    "computational sequence description",
    "dimension names",
    "computational sequence version",
    "alignment compatible",
    "dataset name",
    "dataset version",
    "creator",
    "contact",
    "featureset bib citation",
    "dataset bib citation",
)


def _decode(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _metadata_value(dataset) -> object:
    """Decode one metadata entry: bytes or str, JSON-encoded (as the SDK writes) or plain."""
    raw = dataset[()]
    if isinstance(raw, np.ndarray):
        raw = raw.reshape(-1)[0] if raw.size else ""
    text = _decode(raw)
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return text


def _read_array(group_id, name: bytes) -> np.ndarray:
    """Read one whole dataset through h5py's low-level API.

    Alignment reads two small datasets per video and sequence; the high-level ``group[name][()]``
    path costs ~0.1 ms of Python per dataset, which was a third of the aligner's time on a warm
    page cache. This reads straight into a fresh array of the file's dtype.
    """
    try:
        dataset = h5py.h5d.open(group_id, name)
    except KeyError:
        raise KeyError(name.decode()) from None
    array = np.empty(dataset.shape, dtype=dataset.dtype)
    if array.size:
        dataset.read(h5py.h5s.ALL, h5py.h5s.ALL, array)
    return array


class CsdReader:
    """A lazily read computational sequence.

    Use as a context manager, or call :meth:`close`. ``name`` is the root group name (the sequence's
    name); ``metadata`` is decoded eagerly (it is small); features are read per video on demand.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise MmerError(f"{self.path}: computational sequence file not found")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise MmerError(f"{self.path}: not a readable HDF5 computational sequence ({exc})") from None
        roots = list(self._file.keys())
        if len(roots) != 1 or "data" not in self._file[roots[0]]:
            self._file.close()
            raise MmerError(
                f"{self.path}: not a computational sequence (expected one root group with 'data' "
                f"and 'metadata', found {roots})"
            )
        # Reading touches each video's headers once; a fixed cache keeps a long pass over tens of
        # thousands of videos from growing the adaptive one towards its 32 MiB-per-file limit.
        _fixed_metadata_cache(self._file)
        self.name: str = roots[0]
        self._root = self._file[self.name]
        self._data = self._root["data"]
        self.metadata: dict[str, object] = {}
        if "metadata" in self._root:
            for key, dataset in self._root["metadata"].items():
                self.metadata[key] = _metadata_value(dataset)

    def __enter__(self) -> "CsdReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()

    def video_ids(self) -> list[str]:
        return list(self._data.keys())

    def __contains__(self, video_id: str) -> bool:
        return video_id in self._data

    def __len__(self) -> int:
        return len(self._data)

    @property
    def dim(self) -> int:
        """Feature dimension, read from the first video (0 for an empty sequence)."""
        for video_id in self._data:
            return int(self._data[video_id]["features"].shape[-1])
        return 0

    def read(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(intervals [n,2] float64, features [n,D])`` of one video, validated."""
        try:
            group = h5py.h5g.open(self._data.id, video_id.encode("utf-8"))
            intervals = _read_array(group, b"intervals")
            features = _read_array(group, b"features")
        except KeyError as exc:
            raise MmerError(f"{self._where(video_id)}: missing {exc}") from None
        except (OSError, ValueError) as exc:  # truncated / corrupt chunk, unreadable type
            raise MmerError(f"{self._where(video_id)}: unreadable data ({exc})") from None
        for name, array in (("intervals", intervals), ("features", features)):
            if array.dtype.kind not in "biuf":  # strings, objects, complex: no number to align or train on
                raise MmerError(f"{self._where(video_id)}: {name} hold {array.dtype} values, not real numbers")
        if intervals.dtype != np.float64:
            intervals = intervals.astype(np.float64)
        if intervals.ndim != 2 or intervals.shape[1] != 2:
            raise MmerError(f"{self._where(video_id)}: intervals have shape {intervals.shape}, expected [n, 2]")
        if features.ndim < 2:
            features = features.reshape(len(features), -1)
        if features.shape[0] != intervals.shape[0]:
            raise MmerError(
                f"{self._where(video_id)}: {features.shape[0]} feature rows but {intervals.shape[0]} intervals"
            )
        return intervals, features

    def _where(self, video_id: str) -> str:
        return f"{self.path}: sequence '{self.name}', video '{video_id}'"

    def items(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for video_id in self.video_ids():
            intervals, features = self.read(video_id)
            yield video_id, intervals, features


def default_metadata(name: str, **overrides) -> dict[str, object]:
    """Complete SDK metadata for a sequence we write (the SDK prompts for missing keys on deploy)."""
    metadata: dict[str, object] = {key: "" for key in SDK_METADATA_KEYS}
    metadata.update(
        {
            "root name": name,
            "computational sequence description": f"{name} written by mmer_tf",
            "computational sequence version": "1.0",
            "alignment compatible": True,
            "creator": "mmer_tf",
        }
    )
    metadata.update(overrides)
    return metadata


# HDF5's default adaptive metadata cache grows by ~4 KiB per object written; a file of tens of
# thousands of small groups (one per segment) then bloats the writer. A fixed 1 MiB cache does not,
# at no measurable speed cost.
METADATA_CACHE_BYTES = 1 << 20


def _fixed_metadata_cache(handle: h5py.File, size: int = METADATA_CACHE_BYTES) -> None:
    config = handle.id.get_mdc_config()
    config.set_initial_size = True
    config.initial_size = config.max_size = size
    config.min_size = min(config.min_size, size)
    config.incr_mode = config.flash_incr_mode = config.decr_mode = 0  # H5C_incr__off etc.
    handle.id.set_mdc_config(config)


def write_error(path: str | os.PathLike, exc: BaseException) -> MmerError:
    """One line for a failed write: the disk is full, a folder is read-only, the file vanished.

    HDF5 reports a failed ``write()`` as a long ``OSError``/``ValueError`` text that carries the errno
    deep inside; the user needs the path and the cause, not the library's call stack.
    """
    text = str(exc)
    code = getattr(exc, "errno", None)
    match = re.search(r"errno = (\d+)", text)
    if code is None and match:
        code = int(match.group(1))
    if code:
        why = os.strerror(code)
    else:
        why = text.splitlines()[0][:200] if text else type(exc).__name__
    return MmerError(f"{path}: write failed ({why})")


def list_csd_files(folder: str | os.PathLike) -> list[Path]:
    """Every ``*.csd`` entry of ``folder``, sorted; one that is not a readable file is an error, not skipped.

    A dangling link or a folder named ``*.csd`` silently skipped would leave a sequence out of an
    alignment or a corpus without a word, so both the align CLI and the CMU adapter refuse it here.
    """
    paths = []
    for path in sorted(Path(folder).iterdir()):
        if path.suffix != ".csd":
            continue
        if path.is_symlink() and not path.exists():
            raise MmerError(f"{path}: dangling symbolic link (its target {os.readlink(path)} does not exist)")
        if path.is_dir():
            raise MmerError(f"{path}: is a folder, expected a .csd file")
        if not path.is_file():
            raise MmerError(f"{path}: not a regular file")
        paths.append(path)
    return paths


def partial_path(path: str | os.PathLike, owner: int | None = None) -> Path:
    """``<file>.<pid>.partial``: where ``path`` is written until it is published. The pid names the
    writing run, so a later run can tell a dead run's leftover (removed) from a live one's (kept)."""
    path = Path(path)
    return path.with_name(f"{path.name}.{owner or os.getpid()}.partial")


def remove_stale_partials(folder: str | os.PathLike) -> list[Path]:
    """Remove ``*.<pid>.partial`` files in ``folder`` whose writing process is gone (killed mid-write)."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = re.fullmatch(r".+\.(\d+)\.partial", name)
        if not match or process_alive(int(match.group(1))):
            continue
        try:
            os.unlink(os.path.join(folder, name))
            removed.append(Path(folder) / name)
        except OSError:
            pass
    return removed


# Largest dataset stored inside its object header (HDF5's compact layout, limit 64 KiB per message):
# per-word rows are far below it, and a compact dataset costs one object header instead of a header
# plus a separately allocated data block.
COMPACT_BYTES = 32 * 1024
_ALL = h5py.h5s.ALL


class _HDF5Calls:
    """Direct calls into the HDF5 library that h5py itself loaded, for the writer's inner loop.

    One word-level entry is a group and two tiny datasets; through h5py's low-level API each object
    also costs a Python wrapper, a registry entry and a lock round trip, ~1/3 of the time. Here the
    same HDF5 functions are called through ``ctypes`` on h5py's own ``libhdf5`` (the same library
    instance, so ids from h5py work here and vice versa). Where that library cannot be found (an h5py
    built against a system HDF5), :func:`load` returns ``None`` and the writer uses h5py's API.
    """

    _instance: "_HDF5Calls | None | bool" = False

    def __init__(self, lib):
        hid = ctypes.c_int64
        self.lib = lib
        lib.H5Gcreate2.restype = hid
        lib.H5Gcreate2.argtypes = [hid, ctypes.c_char_p, hid, hid, hid]
        lib.H5Dcreate2.restype = hid
        lib.H5Dcreate2.argtypes = [hid, ctypes.c_char_p, hid, hid, hid, hid, hid]
        lib.H5Dwrite.restype = ctypes.c_int
        lib.H5Dwrite.argtypes = [hid, hid, hid, hid, hid, ctypes.c_void_p]
        for name in ("H5Dclose", "H5Gclose"):
            getattr(lib, name).restype = ctypes.c_int
            getattr(lib, name).argtypes = [hid]
        lib.H5Eclear2.argtypes = [hid]
        lib.H5Ewalk2.argtypes = [hid, ctypes.c_int, _WALK, ctypes.c_void_p]
        self.create_group, self.create_dataset = lib.H5Gcreate2, lib.H5Dcreate2
        self.write, self.close_dataset, self.close_group = lib.H5Dwrite, lib.H5Dclose, lib.H5Gclose

    @classmethod
    def load(cls) -> "_HDF5Calls | None":
        if cls._instance is False:
            cls._instance = None
            folder = Path(h5py.__file__).resolve().parent.parent / "h5py.libs"
            candidates = sorted(folder.glob("libhdf5-*.so*")) if folder.is_dir() else []
            candidates = [c for c in candidates if "_hl" not in c.name]
            if len(candidates) == 1 and h5py.version.hdf5_version_tuple >= (1, 10, 0):
                try:
                    cls._instance = cls(ctypes.CDLL(str(candidates[0])))
                except (OSError, AttributeError):
                    cls._instance = None
        return cls._instance

    def failure(self) -> OSError:
        """The HDF5 error stack of the call that just failed, as one OSError (errno when there is one)."""
        messages: list[str] = []

        def visit(_n, err, _data):
            desc = err.contents.desc
            if desc:
                messages.append(desc.decode("utf-8", "replace"))
            return 0

        self.lib.H5Ewalk2(0, 0, _WALK(visit), None)  # H5E_DEFAULT, H5E_WALK_UPWARD
        self.lib.H5Eclear2(0)
        text = "; ".join(messages) or "HDF5 call failed"
        match = re.search(r"errno = (\d+)", text)
        error = OSError(int(match.group(1)) if match else 0, text)
        error.hdf5 = text
        return error


class _ErrorRecord(ctypes.Structure):
    _fields_ = [("cls_id", ctypes.c_int64), ("maj_num", ctypes.c_int64), ("min_num", ctypes.c_int64),
                ("line", ctypes.c_uint), ("func_name", ctypes.c_char_p), ("file_name", ctypes.c_char_p),
                ("desc", ctypes.c_char_p)]


_WALK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ErrorRecord), ctypes.c_void_p)


def _redirect_to_memory(fid) -> None:
    """Point the file descriptor under an open HDF5 file at a fresh in-memory file (see ``abort``)."""
    try:
        fd = fid.get_vfd_handle()
        sink = os.memfd_create("mmer-discarded-hdf5")
    except (AttributeError, OSError, ValueError, RuntimeError):
        return
    try:
        if isinstance(fd, int) and fd > 2:
            os.dup2(sink, fd)
    finally:
        os.close(sink)


class CsdWriter:
    """Stream one SDK-format file, video by video, under a ``.partial`` name until it is published.

    ``finish()`` writes the metadata and closes the file; ``publish()`` renames it into place. They are
    separate so that several files can be finished first and published together (the aligner CLI
    writes one file per sequence and leaves none behind if any fails). ``commit()`` does both; used as
    a context manager, a writer commits on success and removes its partial file on error.

    Objects are created through h5py's low-level API with object timestamps off and small datasets in
    the compact layout: an aligned sequence has one group per word, and the high-level API spent ~2x
    longer per group on Python-side bookkeeping. The files are plain HDF5 that h5py (hence the SDK)
    reads unchanged. Any write failure (full disk, read-only folder) becomes one
    :class:`MmerError` naming the file, and the partial file is removed.
    """

    def __init__(self, path: str | os.PathLike, name: str, metadata: Mapping[str, object] | None = None,
                 compression: str | None = None, partial: str | os.PathLike | None = None):
        self.path = Path(path)
        self.name = name
        self.partial = Path(partial) if partial is not None else partial_path(self.path)
        self.compression = compression
        self.count = 0
        self._metadata = default_metadata(name, **{k: v for k, v in dict(metadata or {}).items()
                                                   if k != "root name"})
        self._types: dict = {}
        self._spaces: dict = {}
        self._fid = None
        try:
            fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
            # No sieve buffer: raw data goes to the file inside ``write()``, so a full disk fails
            # there, where it can be caught, not later when a dataset is garbage-collected.
            fapl.set_sieve_buf_size(0)
            self._fid = h5py.h5f.create(os.fsencode(self.partial), h5py.h5f.ACC_TRUNC, fapl=fapl)
            self._file = h5py.File(self._fid)
            _fixed_metadata_cache(self._file)
            self._gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            self._gcpl.set_obj_track_times(False)
            self._compact = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            self._compact.set_obj_track_times(False)
            self._compact.set_layout(h5py.h5d.COMPACT)
            self._contiguous = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            self._contiguous.set_obj_track_times(False)
            root = h5py.h5g.create(self._fid, name.encode("utf-8"), gcpl=self._gcpl)
            self._data = h5py.h5g.create(root, b"data", gcpl=self._gcpl)
        except (OSError, ValueError, RuntimeError) as exc:
            self.abort()
            raise write_error(self.path, exc) from None

    def _type(self, dtype: np.dtype):
        tid = self._types.get(dtype)
        if tid is None:
            tid = self._types[dtype] = h5py.h5t.py_create(dtype, logical=True)
        return tid

    def _space(self, shape: tuple):
        sid = self._spaces.get(shape)
        if sid is None:
            sid = self._spaces[shape] = h5py.h5s.create_simple(shape)
        return sid

    def _dataset(self, group, name: bytes, array: np.ndarray) -> None:
        if self.compression is not None:
            h5py.Group(group).create_dataset(name.decode(), data=array, compression=self.compression,
                                             track_times=False)
            return
        tid = self._types.get(array.dtype) or self._type(array.dtype)
        sid = self._spaces.get(array.shape) or self._space(array.shape)
        dcpl = self._compact if array.nbytes <= COMPACT_BYTES else self._contiguous
        dataset = h5py.h5d.create(group, name, tid, sid, dcpl=dcpl)
        if array.size:
            dataset.write(_ALL, _ALL, array)

    def add(self, video_id: str, intervals: np.ndarray, features: np.ndarray) -> None:
        self.add_many([video_id], np.array([0, len(intervals)]), intervals, features)

    def add_many(self, keys, offsets, intervals: np.ndarray, features: np.ndarray) -> None:
        """Entry ``e`` is ``keys[e]`` with rows ``offsets[e]:offsets[e + 1]`` (an aligned video's layout).

        The per-entry loop is kept tight (one group and two datasets per key is all the time there is)."""
        features = np.ascontiguousarray(features)
        intervals = np.ascontiguousarray(intervals, dtype=np.float64)
        calls = _HDF5Calls.load() if self.compression is None else None
        if calls is not None:
            self._add_many_direct(calls, keys, offsets, intervals, features)
            return
        create_group, data, gcpl, dataset = h5py.h5g.create, self._data, self._gcpl, self._dataset
        bounds = np.asarray(offsets).tolist()
        key = None
        try:
            for e, key in enumerate(keys):
                a, b = bounds[e], bounds[e + 1]
                group = create_group(data, key.encode("utf-8"), gcpl=gcpl)
                dataset(group, b"features", features[a:b])
                dataset(group, b"intervals", intervals[a:b])
                self.count += 1
        except (OSError, RuntimeError) as exc:
            self.abort()
            raise write_error(self.path, exc) from None
        except ValueError as exc:
            self.abort()
            if "already exists" in str(exc) or "name already" in str(exc):
                raise MmerError(f"{self.path}: video '{key}' written twice") from None
            raise write_error(self.path, exc) from None

    def _add_many_direct(self, calls: _HDF5Calls, keys, offsets, intervals, features) -> None:
        """:meth:`add_many` through :class:`_HDF5Calls`: same objects, same properties."""
        bounds = np.asarray(offsets, dtype=np.int64).tolist()
        feature_type = self._type(features.dtype).id
        interval_type = self._type(intervals.dtype).id
        row_bytes = [features.strides[0] if features.ndim else 0, intervals.strides[0]]
        f_trailing, i_trailing = features.shape[1:], intervals.shape[1:]
        f_base, i_base = features.ctypes.data, intervals.ctypes.data
        f_item = int(np.prod(f_trailing, dtype=np.int64)) * features.itemsize
        data, gcpl = self._data.id, self._gcpl.id
        compact, contiguous = self._compact.id, self._contiguous.id
        spaces = self._spaces
        create_group, create_dataset = calls.create_group, calls.create_dataset
        write, close_dataset, close_group = calls.write, calls.close_dataset, calls.close_group
        key = None
        group = dataset = -1
        try:
            for e, key in enumerate(keys):
                a, b = bounds[e], bounds[e + 1]
                rows = b - a
                group = create_group(data, key.encode("utf-8"), 0, gcpl, 0)
                if group < 0:
                    raise calls.failure()
                for name, type_id, trailing, base, stride, nbytes in (
                        (b"features", feature_type, f_trailing, f_base, row_bytes[0], f_item * rows),
                        (b"intervals", interval_type, i_trailing, i_base, row_bytes[1], 16 * rows)):
                    shape = (rows,) + trailing
                    space = spaces.get(shape) or self._space(shape)
                    dataset = create_dataset(group, name, type_id, space.id, 0,
                                             compact if nbytes <= COMPACT_BYTES else contiguous, 0)
                    if dataset < 0:
                        raise calls.failure()
                    if nbytes and write(dataset, type_id, 0, 0, 0, base + a * stride) < 0:
                        raise calls.failure()
                    close_dataset(dataset)
                    dataset = -1
                close_group(group)
                group = -1
                self.count += 1
        except OSError as exc:
            if dataset >= 0:
                close_dataset(dataset)
            if group >= 0:
                close_group(group)
            calls.lib.H5Eclear2(0)
            self.abort()
            if "already exists" in getattr(exc, "hdf5", ""):
                raise MmerError(f"{self.path}: video '{key}' written twice") from None
            raise write_error(self.path, exc) from None

    def finish(self) -> None:
        try:
            meta_group = self._file[self.name].create_group("metadata")
            for key, value in self._metadata.items():
                ds = meta_group.create_dataset(key, (1,), dtype=h5py.string_dtype())
                ds[0] = json.dumps(value)
            del meta_group, ds
            self._data = None
            self._file.flush()  # a full disk fails here, while the file can still be discarded cleanly
        except (OSError, ValueError, RuntimeError) as exc:
            self.abort()
            raise write_error(self.path, exc) from None
        try:
            self._file.close()
        except (OSError, ValueError, RuntimeError) as exc:
            self._fid = None  # half torn down by the failed close: HDF5 must not be asked about it again
            self.abort()
            raise write_error(self.path, exc) from None
        self._fid = None

    def publish(self) -> None:
        try:
            os.replace(self.partial, self.path)
        except OSError as exc:
            self.abort()
            raise write_error(self.path, exc) from None

    def commit(self) -> None:
        self.finish()
        self.publish()

    def abort(self) -> None:
        """Discard the file: close it without writing anything more, and remove the partial file.

        After a failed write (a full disk) HDF5 still holds dirty metadata for the file and retries the
        flush whenever an object of it is closed -- at every garbage collection and at exit, each
        failure a printed traceback, and at exit possibly a crash; the held descriptor also keeps the
        unlinked file's blocks, i.e. the disk, full. So the file's descriptor is first pointed at an
        anonymous in-memory file: the final flush then succeeds into memory that is freed right away,
        and the real file is closed and removed.
        """
        self._data = None
        fid, self._fid = self._fid, None
        if fid is not None and fid.valid:
            _redirect_to_memory(fid)
            try:
                h5py.File(fid).close()  # closes every object of the file, then the file
            except Exception:  # noqa: BLE001 - nothing left to save; the file is being removed
                pass
        try:
            self.partial.unlink(missing_ok=True)
        except OSError:
            pass

    def __enter__(self) -> "CsdWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_csd(
    path: str | os.PathLike,
    name: str,
    entries: Iterable[tuple[str, np.ndarray, np.ndarray]] | Mapping[str, Mapping[str, np.ndarray]],
    metadata: Mapping[str, object] | None = None,
    compression: str | None = None,
) -> int:
    """Write ``entries`` (``(video id, intervals, features)`` triples, or the SDK's
    ``{vid: {"intervals", "features"}}`` dict) as an SDK-format file; return the number of videos.

    The file is written under a temporary name and renamed into place, so an interrupted write never
    leaves a half-written ``.csd`` that a later run would trust.
    """
    if isinstance(entries, Mapping):
        entries = ((vid, entry["intervals"], entry["features"]) for vid, entry in entries.items())
    with CsdWriter(path, name, metadata, compression) as writer:
        for video_id, intervals, features in entries:
            writer.add(video_id, intervals, features)
    return writer.count
