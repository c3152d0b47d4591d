"""The corpus adapter protocol: what every corpus module provides, and what it tells the runner.

A corpus is one module in ``mmer_tf/data/corpora/`` (or one named in ``MMER_PLUGINS``, see
:mod:`mmer_tf.plugins`) that is a :class:`CorpusAdapter`: module-level ``NAME`` (the ``--corpus``
value), ``detect``, ``describe`` and ``load_segments``. A module holding several adapters (CMU-MOSEI and
CMU-MOSI share one) lists them in ``ADAPTERS`` instead. The registry (:mod:`mmer_tf.data.corpora`) is the
only list of corpora: ``--corpus`` help, detection, and the corpus lists of ``featurize`` and ``predict``
are derived from it.

A raw-media corpus (clips on disk, featurized by a recipe) is a :class:`RawMediaAdapter`: it also has
``TITLE``, ``LAYOUT``, ``scan`` (layout -> clips), ``params`` (its flags that shape the segments) and
``label`` (clip rows -> classes and folds); its ``describe`` and ``load_segments`` delegate to
:mod:`mmer_tf.data.corpora.media`. Having ``scan`` and ``label`` is what makes ``featurize`` and
``predict`` offer it.

The runner needs to know, cheaply and before reading features, which files key the cache, which label
columns the corpus has (so an unsupported ``-lt`` is refused up front) and whether the corpus brings its own
train/valid/test split. Adapters return a :class:`CorpusInfo` from ``describe`` and get it back in
``load_segments``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable


@dataclass(frozen=True)
class CorpusInfo:
    name: str                          # the adapter's NAME (the value of --corpus)
    path: Path                         # what -df pointed at (file or folder)
    files: tuple[Path, ...]            # every input whose (path, size, mtime) keys the cache
    label_names: tuple[str, ...]       # label columns of SegmentSet.labels
    classes: tuple[str, ...] = ()      # class names, in index order, for ("category",)
    params: Mapping = field(default_factory=dict)  # adapter parameters that shape the segments (cache key)
    has_own_split: bool = True         # True: load_segments sets info["fold"]; False: CMU standard folds
    description: str = ""             # one line for the log


@runtime_checkable
class CorpusAdapter(Protocol):
    """One on-disk layout -> the suite's segments. Every method must be cheap except ``load_segments``."""

    NAME: str

    def detect(self, path: Path) -> bool:
        """True when ``path`` (what ``-df`` names) is in this layout; reads directory entries, not data."""

    def describe(self, path: Path, config) -> CorpusInfo:
        """The :class:`CorpusInfo` of ``path``; one-line ``MmerError`` for a broken layout."""

    def load_segments(self, corpus: CorpusInfo, config, progress: bool) -> tuple[Any, dict]:
        """``(SegmentSet, summary)``: every labelled segment; ``info["fold"]`` when ``has_own_split``."""


@runtime_checkable
class RawMediaAdapter(CorpusAdapter, Protocol):
    """A corpus of media clips; ``featurize`` and ``predict`` offer exactly these."""

    TITLE: str
    LAYOUT: str

    def scan(self, path: Path) -> Any:
        """``media.Scan``: the clips the layout lists (and what was passed over, with reasons)."""

    def params(self, config) -> dict:
        """The adapter's own flags that shape the segments (part of the cache key)."""

    def label(self, rows, config) -> Any:
        """``media.Labelling``: classes, a label and a fold per clip row of ``clips.csv``."""


def is_raw_media(adapter) -> bool:
    """Whether ``adapter`` reads clips from media (has ``scan`` and ``label``)."""
    return all(callable(getattr(adapter, name, None)) for name in ("scan", "params", "label"))
