"""The corpus adapters, by name (``--corpus``), and the detection of a ``-df`` path's layout.

Each adapter (a :class:`~mmer_tf.data.corpora.base.CorpusAdapter`: ``NAME``, ``detect``, ``describe``,
``load_segments``) turns one on-disk layout into the suite's segments; everything after that is shared.
The registry is every module of this package (and of ``MMER_PLUGINS``, see :mod:`mmer_tf.plugins`) that
is an adapter or lists ``ADAPTERS``, so a new layout is one module and nothing else: ``--corpus``'s help,
detection, and the corpus lists of ``featurize`` and ``predict`` (:func:`raw_media_names`) all come from
here. Detection asks every adapter and insists on exactly one answer, so the order does not matter.
"""

from __future__ import annotations

from pathlib import Path

from mmer_tf.data.corpora.base import CorpusAdapter, CorpusInfo, RawMediaAdapter, is_raw_media
from mmer_tf.errors import MmerError

PACKAGE = __name__


def _adapters_in(module) -> tuple:
    listed = getattr(module, "ADAPTERS", None)
    if listed is not None:
        return tuple(listed)
    if isinstance(getattr(module, "NAME", None), str) and callable(getattr(module, "detect", None)):
        return (module,)
    return ()


def adapters() -> dict[str, object]:
    """``{NAME: adapter}`` of every registered adapter (this package's modules, then ``MMER_PLUGINS``)."""
    from mmer_tf import plugins

    return plugins.members(PACKAGE, _adapters_in, lambda adapter: adapter.NAME, "corpus")


def names() -> tuple[str, ...]:
    """Every ``--corpus`` value."""
    return tuple(adapters())


def raw_media_names() -> tuple[str, ...]:
    """The corpora read from media clips (what ``featurize`` and ``predict`` accept)."""
    return tuple(name for name, adapter in adapters().items() if is_raw_media(adapter))


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


__all__ = ["CorpusAdapter", "CorpusInfo", "RawMediaAdapter", "adapters", "names", "raw_media_names", "get", "detect",
           "describe", "is_raw_media"]
