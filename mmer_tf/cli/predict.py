"""Emotion of new clips with a trained model: per-class scores and a captioned copy of each clip.

``python -m mmer_tf predict --model models/<m>/<file>.keras [--out captioned.mp4] CLIP_OR_FOLDER ...``;
how a clip is scored as in training: :mod:`mmer_tf.predict`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from mmer_tf.errors import report_errors


def _parser() -> argparse.ArgumentParser:
    from mmer_tf.predict import raw_media_corpora

    parser = argparse.ArgumentParser(prog="python -m mmer_tf predict", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=f"a .keras model trained on {raw_media_corpora()}")
    parser.add_argument("--out", default=None, help="captioned copy (one clip) or folder (several clips / a folder; "
                                                     "default ./captioned/)")
    parser.add_argument("--text", default=None, help="transcript given to every clip (models using text)")
    parser.add_argument("--transcripts", default=None,
                        help="CSV with columns file,text: each clip's transcript (overrides --text)")
    parser.add_argument("inputs", nargs="+", metavar="CLIP_OR_FOLDER")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> int:
        from mmer_tf import predict

        predict.load_sidecar(Path(args.model))  # refuse before paying for TensorFlow
        from mmer_tf.native_logs import import_backend_quietly

        import_backend_quietly()
        transcripts = predict.read_transcripts(Path(args.transcripts)) if args.transcripts else None
        result = predict.run(Path(args.model), args.inputs, args.out, args.text, transcripts=transcripts)
        return 0 if result["rows"] else 1

    return report_errors(body)


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
