"""Train and evaluate one multimodal emotion recognition model: ``python main.py [flags]``.

Flags keep the seed's short names, so ``python main.py -f openface -l 2 -b 32`` and the seed's
``run_cluster.sh`` lines work unchanged. With no ``-df`` the run uses the built-in CMU-MOSEI-shaped
sample. ``python main.py --helpfull`` lists every flag, including each model's hyper-parameters
(``--<model>_<name>``).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from mmer_tf import cli_flags  # noqa: E402
from mmer_tf.errors import MmerError  # noqa: E402

cli_flags.define_flags(flags.FLAGS)


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}: every option is a flag (see --help)", file=sys.stderr)
        return 2
    try:
        config = cli_flags.config_from_flags(flags.FLAGS)
        from mmer_tf import experiment

        experiment.run(config)
    except MmerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
