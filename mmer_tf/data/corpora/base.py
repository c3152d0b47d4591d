"""What an adapter tells the runner about a corpus before any heavy work.

The runner needs to know, cheaply and before reading features, which files key the cache, which label
columns the corpus has (so an unsupported ``-lt`` is refused up front) and whether the corpus brings its own
train/valid/test split. Adapters return a :class:`CorpusInfo` from ``describe`` and get it back in
``load_segments``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


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
