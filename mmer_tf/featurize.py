"""Featurize a raw-media corpus into computational sequences: ``python -m mmer_tf.featurize``.

    python -m mmer_tf.featurize --corpus ravdess RAVDESS/ feats/ [--audio logmel] [--text offline]
                                [--video offline] [--option fps=10 ...] [--workers 2]

writes ``feats/{text,audio,vision}.csd`` (SDK format, video id = clip id, intervals in seconds),
``recipe.json``, ``clips.csv`` (every clip's metadata: what labels and folds are derived from) and
``featurized.json`` (written last). ``python main.py --corpus ravdess -df feats/`` trains on that folder;
``python main.py --corpus ravdess -df RAVDESS/`` does both steps in one command (the folder then lives in
the cache folder, keyed by the media and the recipe). A rerun resumes where an interrupted one stopped;
unreadable media are skipped, named with their reason, and counted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mmer_tf.errors import MmerError



def _adapter(name: str):
    from mmer_tf.data import corpora

    if name not in corpora.raw_media_names():
        raise MmerError(f"--corpus {name!r}: not a raw-media corpus; choose one of "
                        f"{', '.join(corpora.raw_media_names())}")
    return corpora.get(name)


def featurize_corpus(corpus: str, source: Path, out: Path, *, audio=None, text=None, video=None, workers: int = 1,
                     progress: bool = True, options=()) -> dict:
    """Featurize every clip ``corpus``'s layout lists under ``source`` into ``out``; returns the marker."""
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
                                   scan_skipped=scan.skipped, workers=workers, progress=progress)


def main(argv: list[str] | None = None) -> int:
    from mmer_tf.data import corpora
    from mmer_tf.features import kinds

    parser = argparse.ArgumentParser(prog="python -m mmer_tf.featurize", description=__doc__.splitlines()[0])
    try:
        raw = corpora.raw_media_names()
        kinds.kinds()
    except MmerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser.add_argument("--corpus", required=True, choices=raw,
                        help="layout of IN: " + "; ".join(f"{name} ({corpora.get(name).LAYOUT})" for name in raw))
    parser.add_argument("source", metavar="IN", help="the corpus folder (its raw layout)")
    parser.add_argument("out", metavar="OUT", help="folder to write the featurized corpus to")
    for modality in kinds.MODALITIES:
        parser.add_argument(f"--{modality}", default=None,
                            help=f"{modality} recipe (the first is the default): {kinds.help_text(modality)}")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="another recipe field, repeatable: fps=5, face_crop=false, hub_frame_hop=0.96, "
                             "hub_output_key=1, text_output_key=sequence_output, image_size=224")
    parser.add_argument("--workers", type=int, default=1, help="parallel featurizing processes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        marker = featurize_corpus(args.corpus, Path(args.source), Path(args.out), audio=args.audio, text=args.text,
                                  video=args.video, workers=args.workers, progress=not args.quiet,
                                  options=args.option)
    except MmerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: finished clips are kept in {args.out}; rerun the same command to resume",
              file=sys.stderr)
        return 130
    from mmer_tf.data.corpora import media

    failed = media.failed_media(marker)
    skipped = marker.get("skipped_in_layout") or {}
    for name, reason in sorted(failed.items()):
        print(f"skipped (unreadable): {name}: {reason}", file=sys.stderr)
    for reason, names in sorted(skipped.items()):
        print(f"passed over ({reason}): {len(names)}, e.g. {', '.join(names[:3])}", file=sys.stderr)
    print(f"{args.out}: {marker.get('clips', 0) - len(failed)} of {marker.get('clips', 0)} clips featurized "
          f"({args.corpus}, recipe {marker.get('recipe_fingerprint')}; {len(failed)} unreadable, "
          f"{sum(len(v) for v in skipped.values())} passed over in the layout) in "
          f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    from mmer_tf.native_logs import filter_native_stderr

    filter_native_stderr(sys.argv)  # native libraries' log lines off the terminal, workers included
    sys.exit(main())
