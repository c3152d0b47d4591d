"""Re-score a saved model on its own test fold, clean and under missing modalities, noise and drops.

``python -m mmer_tf evaluate --model M.keras [--robustness] [--baseline B.keras] [--out R.csv]``; the
conditions and files written: :mod:`mmer_tf.evaluate`.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from mmer_tf.errors import report_errors


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmer_tf evaluate",
                                     description="Re-score a saved model on its test fold, clean and perturbed.")
    parser.add_argument("--model", required=True, help="a model_<...>_run<id>.keras written by main.py")
    parser.add_argument("--robustness", action="store_true",
                        help="also missing modalities and noise/drop/structured drop at levels 0.0-0.9")
    parser.add_argument("--baseline", help="a second saved model scored on the same conditions (effective "
                                           "robustness, dashed in the figure); needs --robustness")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbations (default: 0)")
    parser.add_argument("--metric", help="metric of the summaries and figure (default: the task's ranking metric)")
    parser.add_argument("--out", help="robustness CSV path (default: robustness_<run>.csv beside the model)")
    parser.add_argument("--pickle_folder", help="where the run's caches are, if not where it recorded them")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def body() -> int:
        from mmer_tf.evaluate import evaluate_model

        return evaluate_model(args.model, robustness=args.robustness, baseline=args.baseline, seed=args.seed,
                              metric=args.metric, out=args.out, pickle_folder=args.pickle_folder)

    return report_errors(body, error_exit=1)


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
