"""Featurize a raw-media corpus into computational sequences: ``python -m mmer_tf featurize``
(:mod:`mmer_tf.cli.featurize`).

    python -m mmer_tf featurize --corpus ravdess RAVDESS/ feats/ [--audio logmel] [--text offline]
                                [--video offline] [--option fps=10 ...] [--workers 2]

writes ``feats/{text,audio,vision}.csd`` (SDK format, video id = clip id, intervals in seconds),
``recipe.json``, ``clips.csv`` (every clip's metadata: what labels and folds are derived from) and
``featurized.json`` (written last). ``python main.py --corpus ravdess -df feats/`` trains on that folder;
``python main.py --corpus ravdess -df RAVDESS/`` does both steps in one command (the folder then lives in
the cache folder, keyed by the media and the recipe). A rerun resumes where an interrupted one stopped;
unreadable media are skipped, named with their reason, and counted.
"""

from __future__ import annotations

from pathlib import Path

from mmer_tf.errors import MmerError


def _adapter(name: str):
    from mmer_tf.data import corpora

    if name not in corpora.raw_media_names():
        raise MmerError(f"--corpus {name!r}: not a raw-media corpus; choose one of "
                        f"{', '.join(corpora.raw_media_names())}")
    return corpora.get(name)


def featurize_corpus(corpus: str, source: Path, out: Path, *, audio=None, text=None, video=None, workers: int = 1,
                     progress: bool = True, options=(), shard: tuple[int, int] | None = None) -> dict:
    """Featurize every clip ``corpus``'s layout lists under ``source`` into ``out``; returns the marker.

    ``shard=(i, n)``: only every ``n``-th clip from the ``i``-th (a job array's task ``i`` of ``n``, all
    writing into ``out``); the task that completes the set writes the folder and returns its marker, the
    others return ``{"merged": False, "pending_shards": [...]}`` (:func:`mmer_tf.features.featurize`)."""
    from mmer_tf.data.corpora import media
    from mmer_tf.features import Recipe

    adapter = _adapter(corpus)
    source, out = Path(source), Path(out)
    if not source.exists():
        raise MmerError(f"IN {source}: no such folder")
    if workers < 1:
        raise MmerError(f"--workers {workers}: must be at least 1")
    recipe = Recipe.parse(audio=audio, text=text, video=video, **media.parse_recipe_options(options, "--option"))
    if media.is_featurized(out):
        marker = media.read_marker(out)
        if marker.get("corpus") != corpus or marker.get("recipe") != recipe.to_dict():
            raise MmerError(f"OUT {out}: already holds {marker.get('corpus')} features made with another recipe "
                            f"({marker.get('recipe')}); choose an empty folder")
        return marker
    if out.exists() and not out.is_dir():
        raise MmerError(f"OUT {out}: exists and is not a folder")
    scan = adapter.scan(source)
    if not scan.records:
        raise MmerError(f"IN {source}: no {adapter.TITLE} clips found ({adapter.LAYOUT})")
    return media.ensure_featurized(scan.records, out, recipe, corpus=corpus, root=source,
                                   scan_skipped=scan.skipped, workers=workers, progress=progress, shard=shard)
