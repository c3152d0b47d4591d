"""``load_folds(config)``: from any corpus (or the built-in sample) to normalised train/valid/test.

The one entry point the experiment runner calls, whatever the corpus::

    -df path (or built-in sample) -> adapter (detected, or --corpus) -> [dataset cache] -> load_segments
        -> split (CMU standard/custom folds by video id, or the corpus's own info["fold"])
        -> sanitise + normalise -> [fold cache] -> select modalities

Two cache levels, named as the seed's flags: ``-pnd`` (``pickle_name_dataset``) holds every aligned,
labelled segment before the split -- the expensive part (reading and aligning the sequences, unpickling,
featurizing) -- and
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

import numpy as np

from mmer_tf.config import ExperimentConfig
from mmer_tf.data import cache
from mmer_tf.data.normalization import NORMALIZATIONS, normalize_folds
from mmer_tf.data.folds import split_folds
from mmer_tf.data.segments import FOLDS, MODALITIES, SegmentSet
from mmer_tf.data.synthetic import builtin_sample_folder
from mmer_tf.errors import MmerError

log = logging.getLogger(__name__)

# Bump when what this module stores changes meaning, so old caches are never served.
PIPELINE_VERSION = 2
BUILTIN_SAMPLE_SEED = 0


def open_corpus(config: ExperimentConfig):
    """``(adapter, CorpusInfo, dataset name)`` for ``config``: the ``-df`` path, or the built-in sample.

    Cheap (no features read), so the runner can check the corpus/task pair before any work.
    """
    from mmer_tf.data import corpora

    if config.dataset_folder is None:
        folder = builtin_sample_folder(config.pickle_folder, config.sample_videos, BUILTIN_SAMPLE_SEED)
        log.warning(
            "*** no --dataset_folder given: using the BUILT-IN SYNTHETIC CMU-MOSEI-shaped sample "
            "(%d videos, seed %d) in %s -- results say nothing about real CMU-MOSEI ***",
            config.sample_videos, BUILTIN_SAMPLE_SEED, folder,
        )
        adapter, corpus = corpora.describe(folder, config, "mosei")
        return adapter, corpus, "builtin-sample"
    adapter, corpus = corpora.describe(config.dataset_folder, config, config.corpus)
    return adapter, corpus, str(config.dataset_folder)


def detect_corpus(folder: str | Path) -> str:
    """The name of the corpus layout ``folder`` is in (one-line error when none or several match)."""
    from mmer_tf.data import corpora

    return corpora.detect(folder).NAME


def _dataset_params(corpus) -> dict:
    return {
        "stage": "dataset",
        "pipeline_version": PIPELINE_VERSION,
        "corpus": corpus.name,
        "adapter_params": dict(corpus.params),
        "label_names": list(corpus.label_names),
        "classes": list(corpus.classes),
    }


def _fold_params(config: ExperimentConfig, dataset_digest: str) -> dict:
    return {
        "stage": "folds",
        "pipeline_version": PIPELINE_VERSION,
        "dataset": dataset_digest,
        "with_custom_split": bool(config.with_custom_split),
        "custom_split": getattr(config, "custom_split", "original"),
        "normalization": config.normalization,
    }


def split_by_assignment(everything: SegmentSet) -> dict[str, SegmentSet]:
    """Folds of a corpus that brings its own split: ``info["fold"]`` names each segment's fold."""
    assignment = list(everything.info.get("fold") or [])
    if len(assignment) != len(everything):
        raise MmerError(f"corpus adapter gave {len(assignment)} fold names for {len(everything)} segments")
    unknown = sorted(set(assignment) - set(FOLDS))
    if unknown:
        raise MmerError(f"corpus split names {unknown} are not among {', '.join(FOLDS)}")
    names = np.asarray(assignment)
    report = {"own_split": True, "segments": {n: int((names == n).sum()) for n in FOLDS}}
    folds = {}
    for name in FOLDS:
        fold = everything.subset(np.flatnonzero(names == name))
        fold.info.pop("fold", None)
        fold.info["split"] = report
        folds[name] = fold
    return folds


def _split(everything: SegmentSet, corpus, config: ExperimentConfig) -> dict[str, SegmentSet]:
    if corpus.has_own_split:
        if config.with_custom_split:
            raise MmerError(f"-c/--with_custom_split: the Williams et al. split is for CMU-MOSEI/MOSI; "
                            f"corpus {corpus.name} has its own split")
        return split_by_assignment(everything)
    return split_folds(everything, corpus=corpus.name,
                       custom_split=config.custom_split if config.with_custom_split else False)


def _refuse_empty_folds(folds: dict[str, SegmentSet], corpus_name: str) -> None:
    """Every fold is used (fit validates, the tables score the test fold): an empty one is the user's split, not
    a crash further down (normalisation would fail on it with a shape error)."""
    empty = [name for name in FOLDS if len(folds[name]) == 0]
    if empty:
        counts = "/".join(str(len(folds[name])) for name in FOLDS)
        raise MmerError(f"corpus {corpus_name}: the {' and '.join(empty)} fold{'s' if len(empty) > 1 else ''} "
                        f"{'have' if len(empty) > 1 else 'has'} no segments (train/valid/test = {counts}); the split "
                        f"assigns none there or loading dropped them all (see the load summary above); choose other "
                        f"folds (--fold, --num_folds, --split_dir)")


def _select(folds: dict[str, SegmentSet], modalities) -> dict[str, SegmentSet]:
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        raise MmerError(f"--modalities: unknown {unknown} (known: {', '.join(MODALITIES)})")
    available = folds["train"].modalities
    missing = [m for m in modalities if m not in available]
    if missing:
        raise MmerError(f"--modalities: {missing} not in this dataset (has {', '.join(available)})")
    return {name: fold.select_modalities(modalities) for name, fold in folds.items()}


def load_folds(config: ExperimentConfig, progress: bool = True, opened=None) -> tuple[dict[str, SegmentSet], dict]:
    """``({"train", "valid", "test"}: SegmentSet), info)`` for ``config``, through the caches.

    ``info``: ``dataset`` ("builtin-sample" or the folder), ``folder``, ``corpus``, ``cache_path``,
    ``cache_hit`` (fold cache), ``dataset_cache_hit``, ``counts`` per fold, ``dims`` per modality,
    ``modalities``, ``normalization``, ``split`` (videos per fold, dropped videos/segments) and
    ``load_summary`` (the adapter's summary of the corpus, when it was read).
    """
    if config.normalization not in NORMALIZATIONS:
        raise MmerError(f"--normalization {config.normalization!r}: expected one of {', '.join(NORMALIZATIONS)}")
    started = time.perf_counter()
    adapter, corpus, dataset_name = opened if opened is not None else open_corpus(config)
    folder = corpus.path
    files = list(corpus.files)

    dataset_digest = cache.fingerprint(files, _dataset_params(corpus))
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
            log.info("reading %s (%s)", folder, corpus.description or corpus.name)
            everything, load_summary = adapter.load_segments(corpus, config, progress)
            everything.info.setdefault("label_names", list(corpus.label_names))
            everything.info.setdefault("classes", list(corpus.classes))
            cache.save_segment_sets(dataset_path, {"all": everything}, dataset_digest, {"load_summary": load_summary})
        raw_folds = _split(everything, corpus, config)
        _refuse_empty_folds(raw_folds, corpus.name)
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
        "builtin_sample": dataset_name == "builtin-sample",
        "corpus": corpus.name,
        "label_names": list(corpus.label_names),
        "classes": list(corpus.classes),
        "cache_path": str(fold_path),
        "data_fingerprint": fold_digest,  # what a run's row records as its data (mmer_tf.provenance)
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
        dataset_name, corpus.name, *info["counts"].values(), info["dims"], "hit" if info["cache_hit"] else "miss",
    )
    return folds, info
