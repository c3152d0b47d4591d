"""Train and evaluate one multimodal emotion recognition model: ``python main.py [flags]``.

Flags keep the seed's short names, so ``python main.py -f openface -l 2 -b 32`` and the seed's
``run_cluster.sh`` lines work unchanged. With no ``-df`` the run uses the built-in CMU-MOSEI-shaped
sample. ``python main.py --help`` lists every flag, including each model's hyper-parameters
(``--<model>_<name>``).

The flags live in their own ``FlagValues`` rather than absl's global one: absl.logging claims ``-v``
there, and the seed's ``-v`` is the validation metric.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from mmer_tf.native_logs import import_backend_quietly  # noqa: E402

import_backend_quietly()

from mmer_tf import cli_flags  # noqa: E402
from mmer_tf.errors import MmerError  # noqa: E402

HELP_ARGS = ("-h", "-help", "--help", "--helpshort", "--helpfull", "-?")


def main(argv: list[str]) -> int:
    FLAGS = flags.FlagValues()
    cli_flags.define_flags(FLAGS)
    if any(arg in HELP_ARGS for arg in argv[1:]):
        print(__doc__.strip().splitlines()[0] + "\n")
        print(FLAGS.get_help())
        return 0
    try:
        rest = FLAGS(argv)
    except flags.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(rest) > 1:
        print(f"error: unexpected arguments {rest[1:]}: every option is a flag (see --help)", file=sys.stderr)
        return 2
    try:
        config = cli_flags.config_from_flags(FLAGS)
        from mmer_tf import experiment

        experiment.run(config)
    except MmerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
