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

if __name__ == "__main__":
    # The native libraries' log lines stay off the terminal (--verbose 2 shows them), in this process
    # and every worker it starts: set up before anything loads those libraries.
    from mmer_tf.native_logs import filter_native_stderr

    filter_native_stderr(sys.argv)

# Distribution: before Keras is imported, choose JAX for --distribution data_parallel and
# turn on GPU memory growth (mmer_tf.distributed.prepare_environment).
from mmer_tf import distributed as _distributed  # noqa: E402
from mmer_tf.errors import MmerError as _MmerError  # noqa: E402

try:
    _distributed.prepare_environment(sys.argv)
except _MmerError as _exc:
    print(f"error: {_exc}", file=sys.stderr)
    sys.exit(2)

from absl import flags  # noqa: E402

from mmer_tf.native_logs import import_backend_quietly  # noqa: E402

from mmer_tf import cli_flags  # noqa: E402
from mmer_tf.errors import EXIT_INTERRUPTED, MmerError, report_errors  # noqa: E402

HELP_ARGS = ("-h", "-help", "--help", "--helpshort", "--helpfull", "-?")
THRESHOLD_FLAGS = ("-tp", "--tp", "-threshold_emo_present", "--threshold_emo_present")


def _is_value(arg: str) -> bool:
    """A token that is a flag's value rather than the next flag (negative numbers are values)."""
    if not arg.startswith("-") or arg == "-":
        return True
    try:
        float(arg)
        return True
    except ValueError:
        return False


def join_list_values(argv: list[str]) -> list[str]:
    """The seed's ``-tp 0 0.5 1`` (argparse ``nargs='+'``) as absl's ``-tp 0,0.5,1``.

    The values following ``-tp``/``--threshold_emo_present`` up to the next flag are joined with commas;
    both spellings, and a mix (``-tp 0,0.5 1``), give the same list. ``--`` ends the flags as usual.
    """
    out = list(argv[:1])
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        out.append(arg)
        i += 1
        if arg in THRESHOLD_FLAGS:
            values = []
            while i < len(argv) and argv[i] != "--" and _is_value(argv[i]):
                values.append(argv[i])
                i += 1
            if values:
                out.append(",".join(v.strip(",") for v in values))
    return out


def main(argv: list[str]) -> int:
    FLAGS = flags.FlagValues()
    try:
        cli_flags.define_flags(FLAGS)
    except MmerError as exc:  # a broken MMER_PLUGINS module: -lt's choices come from the registries
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if any(arg in HELP_ARGS for arg in argv[1:]):
        print(__doc__.strip().splitlines()[0] + "\n")
        print(FLAGS.get_help())
        return 0
    try:
        rest = FLAGS(join_list_values(argv))
    except flags.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(rest) > 1:
        print(f"error: unexpected arguments {rest[1:]}: every option is a flag (see --help)", file=sys.stderr)
        return 2

    def run() -> int:
        # Flags first (no Keras: a typo or --help answers well under a second), then the backend, quietly,
        # and the checks that need it, still before any data is read.
        config = cli_flags.parse_config(FLAGS)
        import_backend_quietly()
        # From here on SIGUSR1 (run_cluster.sh forwards SLURM's warning) means "save after the current
        # epoch and exit 75", not "die".
        from mmer_tf import resume

        resume.install_preemption_handler()
        cli_flags.check_backend_options(config)
        from mmer_tf import experiment

        experiment.run(config)
        return 0

    # user errors and file system refusals (read-only folder, full disk): one line; Ctrl-C: exit 130
    return report_errors(run)


if __name__ == "__main__":
    try:
        code = main(sys.argv)
    except KeyboardInterrupt:  # Ctrl-C while flags were parsed, before any run started
        print("interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    sys.exit(code)
