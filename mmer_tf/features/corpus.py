"""A corpus of clips -> ``text.csd`` / ``audio.csd`` / ``vision.csd`` (SDK format) + ``recipe.json``.

Two phases, so that an interruption loses at most the clips in flight and memory stays flat in the
corpus size:

1. each clip is featurized on its own (in this process, or in ``workers`` spawned processes) and its
   sequences written atomically to ``.parts/<recipe fingerprint>/<clip>.npz``, stamped with the media
   file's size and mtime; a rerun reuses every part whose stamp still matches;
2. the ``.csd`` files are streamed from the parts, one clip at a time, in the clips' order (so the
   output does not depend on the number of workers), and published together.

A clip whose media cannot be decoded is skipped with its reason (logged, listed and counted in the
summary), never aborting the corpus; a bad recipe (missing SavedModel) stops before any work.

Shards (``shard=(i, n)``: a cluster job array's task ``i`` of ``n``, all writing into one folder): each
computes phase 1 for the clips ``i, i + n, i + 2n ...`` only, then records what it did in
``.parts/<fingerprint>/shards/<n>-<i>.json``; the shard that finds all ``n`` records present runs phase 2
for the whole corpus (under a lock file, so two shards finishing together never write the ``.csd`` files
twice). A plain, unsharded run over the same folder is the same merge by hand: it reuses every part.
The folder is then byte for byte the one a single run writes (phase 2 reads the parts in the clips' order).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import sys
from collections import Counter
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

import numpy as np

from mmer_tf.errors import MmerError
from mmer_tf.fileio import atomic_write, atomic_write_text
from mmer_tf.features.extract import extract
from mmer_tf.features.media import MediaError
from mmer_tf.features.recipe import Clip, Recipe, hub_paths
from mmer_tf.data.segments import MODALITIES
from mmer_tf.formats import featurized

log = logging.getLogger("mmer_tf.features")

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def part_name(clip_id: str) -> str:
    """A file name for a clip id that may hold any character (ids are hashed to stay unique)."""
    digest = hashlib.sha1(clip_id.encode("utf-8")).hexdigest()[:10]
    return f"{_SAFE.sub('_', clip_id)[:80]}-{digest}.npz"


def _stamp(path: Path) -> dict:
    try:
        st = Path(path).stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    except OSError:
        return {"size": -1, "mtime_ns": -1}


def write_part(path: Path, clip: Clip, features: dict, stats: dict) -> None:
    arrays = {}
    for modality, (intervals, feats) in features.items():
        arrays[f"{modality}.intervals"] = np.asarray(intervals, dtype=np.float64)
        arrays[f"{modality}.features"] = np.asarray(feats, dtype=np.float32)
    meta = {"id": clip.id, "media": str(clip.media), **_stamp(clip.media), "stats": stats}
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write(path, lambda handle: np.savez(handle, **arrays), prefix=f".{path.stem}.", fsync=False)


def read_part_meta(path: Path) -> dict | None:
    try:
        with np.load(path) as part:
            return json.loads(str(part["meta"]))
    except Exception:  # a damaged part is recomputed
        return None


def _reusable(path: Path, clip: Clip) -> dict | None:
    if not path.is_file():
        return None
    meta = read_part_meta(path)
    if meta is None or meta.get("id") != clip.id:
        return None
    stamp = _stamp(clip.media)
    if meta.get("size") != stamp["size"] or meta.get("mtime_ns") != stamp["mtime_ns"]:
        return None
    return meta


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _work(clip: Clip, recipe: Recipe, part: Path) -> dict:
    """Featurize one clip into its part; returns a small record (never the features themselves)."""
    try:
        features, stats = extract(clip, recipe)
    except MmerError:
        raise
    except MediaError as exc:
        return {"id": clip.id, "status": "skipped", "reason": str(exc)}
    except Exception as exc:  # an encoder failing on this clip's content: skip it, keep the corpus going
        return {"id": clip.id, "status": "skipped", "reason": _first_line(exc)}
    write_part(part, clip, features, stats)
    return {"id": clip.id, "status": "done", "stats": stats}


def _init_worker() -> None:
    """One compute thread per worker: ``workers`` processes then share the CPUs instead of fighting."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


@contextmanager
def _light_main():
    """Spawned workers re-run the parent's ``__main__`` first; the parent's entry point has the backend
    loaded by then, or imports modules that load it (seconds and ~750 MiB per worker, for nothing: the
    work lives in this module). While the workers are started, ``__main__`` names this module instead,
    which is what they then import."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = getattr(main, "__spec__", None)
    try:
        main.__spec__ = importlib.util.find_spec(__name__)
        yield
    finally:
        main.__spec__ = saved


def _check_recipe(recipe: Recipe) -> None:
    """Fail before any work when a hub recipe's SavedModel is not there."""
    for flag, spec in (("--audio", recipe.audio), ("--text", recipe.text), ("--video", recipe.video)):
        if spec.startswith("hub:"):
            for path in hub_paths(spec, flag):
                if not (path / "saved_model.pb").is_file():
                    raise MmerError(f"{flag} hub:{path}: not a SavedModel folder (no saved_model.pb); download "
                                    f"and unpack the model and pass its local folder")


def featurize(clips: Sequence[Clip], out_dir: Path, recipe: Recipe, *, workers: int = 1,
              progress: bool = True, shard: tuple[int, int] | None = None) -> dict:
    """Featurize ``clips`` into ``out_dir``; returns (and writes as ``summary.json``) the run's summary.

    ``shard=(i, n)``: only this shard's clips (see the module docstring); the ``.csd`` files are written
    only by the shard that completes the set, whose summary says ``merged: True``; the others return
    ``{"merged": False, "shard": [i, n], "pending_shards": [...], "computed": ..., ...}`` and write nothing else.

    Summary keys: clips, done, computed, reused, skipped_count, skipped ([{id, media, reason}]),
    missing ({modality: count} of clips without that stream/transcript), media_seconds, seconds,
    media_seconds_per_second (of the clips computed in this run), frames, face_fallback_frames,
    face_aligned_frames (eyes levelled),
    fingerprint, recipe, outputs ({modality: path}).
    """
    out_dir = Path(out_dir)
    if workers < 1:
        raise MmerError(f"--workers {workers}: must be at least 1")
    ids = [clip.id for clip in clips]
    if any(not i for i in ids):
        raise MmerError("featurize: a clip has an empty id")
    slashed = next((i for i in ids if "/" in i), None)
    if slashed is not None:  # HDF5 would read it as a path of nested groups
        raise MmerError(f"featurize: clip id '{slashed}' contains '/', which a computational sequence id cannot")
    if len(set(ids)) != len(ids):
        dup = next(i for i, n in Counter(ids).items() if n > 1)
        raise MmerError(f"featurize: clip id '{dup}' appears more than once")
    if shard is not None:
        index, count = shard
        if not (count >= 1 and 0 <= index < count):
            raise MmerError(f"--shard {index}/{count}: expected I/N with 0 <= I < N")
    _check_recipe(recipe)
    fingerprint = recipe.fingerprint()
    parts_dir = out_dir / ".parts" / fingerprint
    try:
        parts_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MmerError(f"{out_dir}: cannot create the output folder ({exc})") from None
    started = time.perf_counter()
    by_id = {clip.id: clip for clip in clips}
    parts = {clip.id: parts_dir / part_name(clip.id) for clip in clips}
    records: dict[str, dict] = {}
    todo: list[Clip] = []
    mine = list(clips) if shard is None else list(clips)[shard[0]::shard[1]]
    for clip in mine:
        meta = _reusable(parts[clip.id], clip)
        if meta is not None:
            records[clip.id] = {"id": clip.id, "status": "reused", "stats": meta["stats"]}
        else:
            todo.append(clip)

    bar = _progress(len(mine), progress)
    bar.update(len(records))
    computed_seconds = 0.0

    def note(record: dict) -> None:
        nonlocal computed_seconds
        records[record["id"]] = record
        if record["status"] == "skipped":
            message = f"skipped {by_id[record['id']].media}: {record['reason']}"
            if progress:
                bar.write(message, file=sys.stderr)
            else:
                log.warning(message)
        else:
            computed_seconds += record["stats"]["media_seconds"]
        elapsed = max(time.perf_counter() - started, 1e-9)
        bar.set_postfix_str(f"{computed_seconds / elapsed:.1f} media-s/s", refresh=False)
        bar.update(1)

    try:
        if workers == 1 or len(todo) <= 1:
            for clip in todo:
                note(_work(clip, recipe, parts[clip.id]))
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                     initializer=_init_worker) as pool:
                with _light_main():
                    futures = [pool.submit(_work, clip, recipe, parts[clip.id]) for clip in todo]
                try:
                    for future in as_completed(futures):
                        note(future.result())
                except BrokenProcessPool as exc:
                    raise MmerError(f"featurize: a worker process died ({exc}); the {len(records)} finished clips "
                                    f"are kept in {parts_dir}, rerun (with --workers 1 to see the file at fault)"
                                    ) from None
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        bar.close()
    compute_seconds = time.perf_counter() - started

    lock = None
    if shard is not None:
        pending = _record_shard(parts_dir, shard, ids, records)
        if not pending:
            lock = _merge_lock(parts_dir)
        if pending or lock is None:
            return {"merged": False, "shard": list(shard), "pending_shards": pending, "clips": len(mine),
                    "computed": sum(1 for r in records.values() if r["status"] == "done"),
                    "skipped_count": sum(1 for r in records.values() if r["status"] == "skipped"),
                    "seconds": round(compute_seconds, 3)}
        records = _shard_records(parts_dir, shard[1])
    try:
        outputs, missing = _write_csds(clips, records, parts, out_dir, recipe)
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)
    skipped = [{"id": c.id, "media": str(c.media), "reason": records[c.id]["reason"]}
               for c in clips if records[c.id]["status"] == "skipped"]
    done = [records[c.id] for c in clips if records[c.id]["status"] != "skipped"]
    summary = {
        "clips": len(clips),
        "done": len(done),
        "computed": sum(1 for r in done if r["status"] == "done"),
        "reused": sum(1 for r in done if r["status"] == "reused"),
        "skipped_count": len(skipped),
        "skipped": skipped,
        "missing": missing,
        "media_seconds": round(sum(r["stats"]["media_seconds"] for r in done), 3),
        "seconds": round(compute_seconds, 3),
        "media_seconds_per_second": round(computed_seconds / max(compute_seconds, 1e-9), 2),
        "frames": sum(r["stats"].get("frames", 0) for r in done),
        "face_fallback_frames": sum(r["stats"].get("face_fallback", 0) for r in done),
        "face_aligned_frames": sum(r["stats"].get("face_aligned", 0) for r in done),
        "workers": workers,
        **({"merged": True, "shard": list(shard)} if shard is not None else {}),
        "fingerprint": fingerprint,
        "recipe": recipe.to_dict(),
        "outputs": {m: str(p) for m, p in outputs.items()},
    }
    featurized.write_recipe(out_dir, recipe.to_dict())
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _shard_file(parts_dir: Path, index: int, count: int) -> Path:
    return parts_dir / "shards" / f"{count}-{index}.json"


def _ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha1(json.dumps(list(ids)).encode("utf-8")).hexdigest()


def _record_shard(parts_dir: Path, shard: tuple[int, int], ids: Sequence[str], records: dict) -> list[int]:
    """Write this shard's record (atomically); return the shards of the same corpus not recorded yet."""
    index, count = shard
    digest = _ids_digest(ids)
    path = _shard_file(parts_dir, index, count)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"corpus": digest, "records": records}) + "\n")
    pending = []
    for other in range(count):
        try:
            recorded = json.loads(_shard_file(parts_dir, other, count).read_text())
        except (OSError, ValueError):
            recorded = None
        if recorded is None or recorded.get("corpus") != digest:  # absent, or from another list of clips
            pending.append(other)
    return pending


def _shard_records(parts_dir: Path, count: int) -> dict[str, dict]:
    records: dict[str, dict] = {}
    for index in range(count):
        records.update(json.loads(_shard_file(parts_dir, index, count).read_text())["records"])
    return records


def _merge_lock(parts_dir: Path) -> Path | None:
    """The merge's lock file, created here; ``None`` when another shard holds it (that one merges)."""
    path = parts_dir / "shards" / "merge.lock"
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return None
    return path


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="clip", desc="featurize", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True)


def _write_csds(clips, records, parts, out_dir: Path, recipe: Recipe):
    """Stream every done clip's part into one writer per modality; publish the non-empty ones together."""
    from mmer_tf.formats.csd import CsdWriter

    description = f"mmer_tf featurize recipe {json.dumps(recipe.to_dict(), sort_keys=True)}"
    writers = {m: CsdWriter(featurized.csd_file(out_dir, m), m,
                            {"computational sequence description": f"{m}: {description}",
                             "dataset name": out_dir.name})
               for m in recipe.modalities}
    missing = {m: 0 for m in recipe.modalities}
    try:
        for clip in clips:
            if records[clip.id]["status"] == "skipped":
                continue
            with np.load(parts[clip.id]) as part:
                for modality, writer in writers.items():
                    key = f"{modality}.features"
                    if key not in part.files:
                        missing[modality] += 1
                        continue
                    writer.add(clip.id, part[f"{modality}.intervals"], part[key])
        written = {m: w for m, w in writers.items() if w.count}
        for m, w in writers.items():
            if not w.count:
                w.abort()
        for w in written.values():
            w.finish()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    for w in written.values():
        w.publish()
    for m in MODALITIES:  # a stale sequence from an earlier recipe must not linger
        if m not in written:
            featurized.csd_file(out_dir, m).unlink(missing_ok=True)
    return {m: w.path for m, w in written.items()}, {m: c for m, c in missing.items() if c}
