"""``load_folds(config)``: from a corpus folder (or the built-in sample) to normalised train/valid/test.

The one entry point the experiment runner calls for CMU-MOSEI / CMU-MOSI data::

    folder (or built-in sample) -> detect corpus -> [dataset cache] -> cmu.load_segments (align)
        -> split_folds (standard or custom) -> sanitise + normalise -> [fold cache] -> select modalities

Two cache levels, named as the seed's flags: ``-pnd`` (``pickle_name_dataset``) holds every aligned,
labelled segment before the split -- the expensive part (reading and aligning the sequences) -- and
``-pnf`` (``pickle_name_fold``) holds the split, normalised folds. Each is keyed by a fingerprint of the
corpus files and of every parameter that shapes it (see :mod:`mmer_tf.data.cache`), so changing the
split or normalisation re-uses the aligned dataset, and changing a file or an alignment parameter
rebuilds both. Caches always hold all modalities; ``config.modalities`` is selected after loading, so
unimodal and multimodal runs share one cache. Nothing model-specific (fixed steps, label transforms)
happens here.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from mmer_tf.config import ExperimentConfig
from mmer_tf.data import cache
from mmer_tf.data.csd import CsdReader
from mmer_tf.data.features import NORMALIZATIONS, normalize_folds
from mmer_tf.data.folds import split_folds
from mmer_tf.data.segments import FOLDS, MODALITIES, SegmentSet
from mmer_tf.data.synthetic import builtin_sample_folder
from mmer_tf.errors import MmerError

log = logging.getLogger(__name__)

# Bump when what this module stores changes meaning, so old caches are never served.
PIPELINE_VERSION = 1
BUILTIN_SAMPLE_SEED = 0
_CORPUS_PREFIX = {"mosei": "CMU_MOSEI_", "mosi": "CMU_MOSI_"}
_LABEL_ROOT = {"mosei": "All Labels", "mosi": "Opinion Segment Labels"}


def detect_corpus(folder: str | Path) -> tuple[str, list[Path]]:
    """``("mosei" | "mosi", every .csd file of the folder)``.

    The corpus is told by the SDK's file-name prefixes (``CMU_MOSEI_*`` / ``CMU_MOSI_*``) or, for renamed
    files, by the label sequence's root name (``All Labels`` / ``Opinion Segment Labels``). All ``.csd``
    files are returned because the adapter may pick any of them by root name, so all feed the cache key.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MmerError(f"--dataset_folder {folder}: not a directory")
    files = sorted(p for p in folder.glob("*.csd") if p.is_file())
    present = [corpus for corpus, prefix in _CORPUS_PREFIX.items() if any(p.name.startswith(prefix) for p in files)]
    if not present:
        roots = set()
        for path in files:
            with CsdReader(path) as reader:
                roots.add(reader.name)
        present = [corpus for corpus, root in _LABEL_ROOT.items() if root in roots]
    if not present:
        raise MmerError(
            f"--dataset_folder {folder}: no CMU-MOSEI or CMU-MOSI computational sequences found "
            "(expected CMU_MOSEI_*.csd / CMU_MOSI_*.csd, or a label sequence 'All Labels' / 'Opinion Segment Labels')"
        )
    if len(present) > 1:
        raise MmerError(f"--dataset_folder {folder}: holds both CMU-MOSEI and CMU-MOSI sequences; use one corpus per folder")
    return present[0], files


def _dataset_params(config: ExperimentConfig, corpus: str) -> dict:
    return {
        "stage": "dataset",
        "pipeline_version": PIPELINE_VERSION,
        "corpus": corpus,
        "image_feature": config.image_feature,
        "align_to_text": bool(config.align_to_text),
        "append_label_to_data": bool(config.append_label_to_data),
    }


def _fold_params(config: ExperimentConfig, dataset_digest: str) -> dict:
    return {
        "stage": "folds",
        "pipeline_version": PIPELINE_VERSION,
        "dataset": dataset_digest,
        "with_custom_split": bool(config.with_custom_split),
        "normalization": config.normalization,
    }


def _load_all_segments(folder: Path, config: ExperimentConfig, progress: bool) -> tuple[SegmentSet, dict]:
    from mmer_tf.data.corpora import cmu  # the adapter (reads and aligns the CSD files)

    return cmu.load_segments(
        folder, image_feature=config.image_feature, align_to_text=config.align_to_text, progress=progress
    )


def _select(folds: dict[str, SegmentSet], modalities) -> dict[str, SegmentSet]:
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        raise MmerError(f"--modalities: unknown {unknown} (known: {', '.join(MODALITIES)})")
    available = folds["train"].modalities
    missing = [m for m in modalities if m not in available]
    if missing:
        raise MmerError(f"--modalities: {missing} not in this dataset (has {', '.join(available)})")
    return {name: fold.select_modalities(modalities) for name, fold in folds.items()}


def load_folds(config: ExperimentConfig, progress: bool = True) -> tuple[dict[str, SegmentSet], dict]:
    """``({"train", "valid", "test"}: SegmentSet), info)`` for ``config``, through the caches.

    ``info``: ``dataset`` ("builtin-sample" or the folder), ``folder``, ``corpus``, ``cache_path``,
    ``cache_hit`` (fold cache), ``dataset_cache_hit``, ``counts`` per fold, ``dims`` per modality,
    ``modalities``, ``normalization``, ``split`` (videos per fold, dropped videos/segments) and
    ``load_summary`` (the adapter's summary of the corpus, when it was read).
    """
    if config.normalization not in NORMALIZATIONS:
        raise MmerError(f"--normalization {config.normalization!r}: expected one of {', '.join(NORMALIZATIONS)}")
    started = time.perf_counter()
    if config.dataset_folder is None:
        folder = builtin_sample_folder(config.pickle_folder, config.sample_videos, BUILTIN_SAMPLE_SEED)
        dataset_name = "builtin-sample"
        log.warning(
            "*** no --dataset_folder given: using the BUILT-IN SYNTHETIC CMU-MOSEI-shaped sample "
            "(%d videos, seed %d) in %s -- results say nothing about real CMU-MOSEI ***",
            config.sample_videos, BUILTIN_SAMPLE_SEED, folder,
        )
    else:
        folder = Path(config.dataset_folder)
        dataset_name = str(folder)
    corpus, files = detect_corpus(folder)

    dataset_digest = cache.fingerprint(files, _dataset_params(config, corpus))
    fold_digest = cache.fingerprint(files, _fold_params(config, dataset_digest))
    fold_path = cache.cache_path(config.pickle_folder, config.pickle_name_fold, fold_digest)
    dataset_path = cache.cache_path(config.pickle_folder, config.pickle_name_dataset, dataset_digest)

    dataset_hit = None
    loaded = cache.load_segment_sets(fold_path, fold_digest)
    if loaded is not None:
        folds, manifest = loaded
        extra = manifest.get("extra", {})
        log.info("fold cache hit: %s", fold_path)
    else:
        cached_all = cache.load_segment_sets(dataset_path, dataset_digest)
        dataset_hit = cached_all is not None
        if cached_all is not None:
            everything, dataset_manifest = cached_all
            everything = everything["all"]
            load_summary = dataset_manifest.get("extra", {}).get("load_summary", {})
            log.info("dataset cache hit: %s", dataset_path)
        else:
            log.info("reading and aligning %s (%s)", folder, corpus)
            everything, load_summary = _load_all_segments(folder, config, progress)
            cache.save_segment_sets(dataset_path, {"all": everything}, dataset_digest, {"load_summary": load_summary})
        raw_folds = split_folds(everything, corpus=corpus, custom_split=config.with_custom_split)
        folds, norm_report = normalize_folds(raw_folds, config.normalization)
        extra = {
            "split": raw_folds["train"].info.get("split", {}),
            "normalization": norm_report,
            "load_summary": load_summary,
        }
        cache.save_segment_sets(fold_path, folds, fold_digest, extra)

    folds = _select(folds, tuple(config.modalities))
    info = {
        "dataset": dataset_name,
        "folder": str(folder),
        "builtin_sample": config.dataset_folder is None,
        "corpus": corpus,
        "cache_path": str(fold_path),
        "dataset_cache_path": str(dataset_path),
        "cache_hit": loaded is not None,
        "dataset_cache_hit": dataset_hit,
        "counts": {name: len(folds[name]) for name in FOLDS},
        "dims": folds["train"].dims(),
        "modalities": list(folds["train"].modalities),
        "aligned": bool(folds["train"].aligned),
        "normalization": config.normalization,
        "split": extra.get("split", {}),
        "load_summary": extra.get("load_summary", {}),
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info(
        "%s (%s): train/valid/test = %d/%d/%d segments, dims %s, cache %s",
        dataset_name, corpus, *info["counts"].values(), info["dims"], "hit" if info["cache_hit"] else "miss",
    )
    return folds, info
