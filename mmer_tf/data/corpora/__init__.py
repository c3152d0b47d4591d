"""The corpus adapters, by name (``--corpus``), and the detection of a ``-df`` path's layout.

Each adapter (a module or object with ``NAME``, ``detect``, ``describe``, ``load_segments``; the
contract is in ``docs/ARCHITECTURE.md``) turns one on-disk layout into the suite's segments; everything
after that is shared. Detection asks every adapter in order and insists on exactly one answer, so a
new layout is one module and one line in :data:`ADAPTER_MODULES`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from mmer_tf.data.corpora.base import CorpusInfo
from mmer_tf.errors import MmerError

#: ``module:attribute`` (or a module that is itself the adapter), in detection order.
ADAPTER_MODULES: tuple[str, ...] = (
    "mmer_tf.data.corpora.cmu_csd:mosei",
    "mmer_tf.data.corpora.cmu_csd:mosi",
    "mmer_tf.data.corpora.mmsa",
    "mmer_tf.data.corpora.multibench",
    "mmer_tf.data.corpora.feature_folder",
    "mmer_tf.data.corpora.ravdess",  # raw media (issue 11)
    "mmer_tf.data.corpora.meld",
    "mmer_tf.data.corpora.videos",
)


def _load(spec: str):
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def adapters() -> dict[str, object]:
    """``{NAME: adapter}`` of every registered adapter whose module imports."""
    found = {}
    for spec in ADAPTER_MODULES:
        adapter = _load(spec)
        found[adapter.NAME] = adapter
    return found


def get(name: str):
    known = adapters()
    if name not in known:
        raise MmerError(f"--corpus {name!r}: unknown corpus; choose one of {', '.join(known)}")
    return known[name]


def detect(path: str | Path):
    """The one adapter whose layout ``path`` is in, or a one-line error saying what was expected."""
    path = Path(path)
    if not path.exists():
        raise MmerError(f"-df/--dataset_folder {path}: no such file or folder")
    known = adapters()
    hits = [adapter for adapter in known.values() if adapter.detect(path)]
    if not hits:
        raise MmerError(
            f"-df/--dataset_folder {path}: not a corpus layout this suite reads (tried {', '.join(known)}); "
            "see the README's corpus table, or force one with --corpus"
        )
    if len(hits) > 1:
        names = ", ".join(a.NAME for a in hits)
        raise MmerError(f"-df/--dataset_folder {path}: matches several layouts ({names}); pick one with --corpus")
    return hits[0]


def describe(path: str | Path, config, corpus: str | None = None) -> tuple[object, CorpusInfo]:
    """``(adapter, CorpusInfo)`` for ``path``, forced to ``corpus`` when given."""
    adapter = get(corpus) if corpus else detect(path)
    if corpus and not Path(path).exists():
        raise MmerError(f"-df/--dataset_folder {path}: no such file or folder")
    return adapter, adapter.describe(Path(path), config)


__all__ = ["ADAPTER_MODULES", "CorpusInfo", "adapters", "get", "detect", "describe"]
