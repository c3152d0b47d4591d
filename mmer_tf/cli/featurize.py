"""Featurize a raw-media corpus into computational sequences (a folder main.py -df trains on).

``python -m mmer_tf featurize --corpus ravdess RAVDESS/ feats/ [--audio logmel] [--text offline]
[--video offline] [--option fps=10 ...] [--workers 2]``; what it writes: :mod:`mmer_tf.featurize`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from mmer_tf.errors import report_errors


def _parser() -> argparse.ArgumentParser:
    """The options; the corpus and recipe choices come from their registries (a broken plugin: MmerError)."""
    from mmer_tf.data import corpora
    from mmer_tf.features import kinds

    raw = corpora.raw_media_names()
    kinds.kinds()
    parser = argparse.ArgumentParser(prog="python -m mmer_tf featurize", description=__doc__.splitlines()[0])
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
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="featurize only every N-th clip from the I-th (0-based) into OUT, e.g. a job array's "
                             "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; the task finishing last writes the one "
                             "featurized folder (a plain run over OUT writes it too, reusing every shard's clips)")
    return parser


def _shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` -> ``(I, N)``; a one-line error for anything else."""
    from mmer_tf.errors import MmerError

    if text is None:
        return None
    index, sep, count = text.partition("/")
    if not (sep and index.strip().isdigit() and count.strip().isdigit()) or not 0 <= int(index) < int(count):
        raise MmerError(f"--shard {text}: expected I/N with 0 <= I < N, e.g. 0/24")
    return int(index), int(count)


def _featurize(args) -> int:
    from mmer_tf.data.corpora import media
    from mmer_tf.featurize import featurize_corpus

    started = time.perf_counter()
    shard = _shard(args.shard)
    marker = featurize_corpus(args.corpus, Path(args.source), Path(args.out), audio=args.audio, text=args.text,
                              video=args.video, workers=args.workers, progress=not args.quiet,
                              options=args.option, shard=shard)
    if marker.get("merged") is False:
        pending = marker["pending_shards"]
        print(f"{args.out}: shard {shard[0]}/{shard[1]}: {marker['computed']} of {marker['clips']} clips featurized "
              f"({marker['skipped_count']} unreadable) in {time.perf_counter() - started:.1f} s; "
              + (f"shard(s) {', '.join(map(str, pending))} not finished yet (the last to finish writes the folder)"
                 if pending else "another shard is writing the folder"))
        return 0
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = report_errors(_parser)  # a broken plugin module: its one line and exit 2
    if isinstance(parser, int):
        return parser
    args = parser.parse_args(argv)
    return report_errors(lambda: _featurize(args),
                         interrupted=f"interrupted: finished clips are kept in {args.out}; rerun the same "
                                     "command to resume")


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
