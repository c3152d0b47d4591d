"""Search main.py flags on validation (Optuna), rerun the choice with fresh seeds, print its test metrics.

::

    python -m mmer_tf search --space SPACE.yaml --trials N [--final_seeds K] [--study NAME] [--storage PATH]
                             [--sampler tpe|random|grid] [--no_pruning] [main.py flags ...]

- Every other argument is a ``main.py`` flag and applies to every run (``-mn lf_dnn -e 30 -df DATA``);
  the trial's flags go on top. ``-v`` is the validation metric trials are scored on (``loss``: lowest
  wins; ``acc``: highest), at the epoch early stopping restores.
- ``--trials N`` is the study's total: every process working on the study (several of these commands,
  a SLURM array through ``run_cluster.sh --search``) takes trials until the study has N, then waits for
  the others' trials, and the processes share the final seeds.
- The journal is ``<-mf>/<-mn>/search/<study>.journal`` (``--storage`` to put it elsewhere on a shared
  filesystem); ``<study>.trials.csv`` beside it lists every trial (trial, params, state, value, run_id).
  ``--study`` defaults to the space file's name. Re-running the same command resumes the study.
- Pruning: Optuna's median pruner on the validation metric after every epoch (``--no_pruning`` turns it
  off; ``--pruning_startup_trials`` and ``--pruning_warmup_epochs`` are its ``n_startup_trials`` and
  ``n_warmup_steps``). A pruned trial writes no table row.
- The best trial by validation is rerun with ``--final_seeds K`` seeds (``--seed`` + 1 ... + K; the trials
  ran with ``--seed``), rows tagged ``final=1``; the search ends by printing that configuration and its
  test metrics as mean ± sample std and the 95% t interval.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

from mmer_tf.errors import MmerError, report_errors


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, like main.py, instead of argparse's usage block
        raise MmerError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m mmer_tf search", allow_abbrev=False,
                     description="Search main.py flags on the validation metric, rerun the chosen configuration "
                                 "with fresh seeds, print its test metrics with intervals.",
                     epilog="Every other argument is a main.py flag (python main.py --help).")
    parser.add_argument("--space", required=True, help="YAML space file (see mmer_tf/search/space.py)")
    parser.add_argument("--trials", type=int, required=True, help="trials in the study, all processes together")
    parser.add_argument("--final_seeds", type=int, default=5, help="reruns of the chosen configuration (default 5)")
    parser.add_argument("--study", default="", help="study name (default: the space file's name)")
    parser.add_argument("--storage", default="", help="journal file (default <-mf>/<-mn>/search/<study>.journal)")
    parser.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe")
    parser.add_argument("--no_pruning", action="store_true", help="run every trial to its end")
    parser.add_argument("--pruning_startup_trials", type=int, default=5,
                        help="complete trials before the median pruner prunes (default 5)")
    parser.add_argument("--pruning_warmup_epochs", type=int, default=0,
                        help="epochs of each trial that are never pruned (default 0)")
    return parser


def _check_numbers(args) -> None:
    if args.trials < 1:
        raise MmerError(f"--trials {args.trials}: must be >= 1")
    if args.final_seeds < 0:
        raise MmerError(f"--final_seeds {args.final_seeds}: must be >= 0")
    if args.pruning_startup_trials < 0 or args.pruning_warmup_epochs < 0:
        raise MmerError("--pruning_startup_trials and --pruning_warmup_epochs must be >= 0")
    if args.study and ("/" in args.study or args.study.startswith(".")):
        raise MmerError(f"--study {args.study!r}: must be a plain name")


def _flag_parser():
    """``config_for(words)``: the config ``main.py`` would build from the user's flags plus ``words``."""
    from absl import flags

    from mmer_tf import cli_flags

    values = flags.FlagValues()
    cli_flags.define_flags(values)

    def config_for(base: list[str], words: Sequence[str] = ()):
        values.unparse_flags()
        try:
            rest = values(["search"] + list(base) + list(words))
        except flags.Error as exc:
            raise MmerError(str(exc)) from None
        if len(rest) > 1:
            raise MmerError(f"unexpected arguments {rest[1:]}: every option is a flag (see python main.py --help)")
        return cli_flags.config_from_flags(values)

    return values, config_for


def prepare(argv: Sequence[str]):
    """Parse and check everything (flags, space, study) before any trial: a :class:`Search` ready to run."""
    from mmer_tf.search import space as space_lib
    from mmer_tf.search.study import Search, Settings

    args, base = _parser().parse_known_args(list(argv))
    _check_numbers(args)
    values, parse = _flag_parser()
    base_config = parse(base)
    space = space_lib.read_space(args.space, values)
    space_lib.check_values(space, lambda words: parse(base, words))
    study = args.study or Path(args.space).stem
    storage = Path(args.storage) if args.storage else \
        Path(base_config.model_folder) / base_config.model_name / "search" / f"{study}.journal"
    settings = Settings(study=study, journal=storage, trials=args.trials, final_seeds=args.final_seeds,
                        sampler=args.sampler, pruning=not args.no_pruning,
                        pruning_startup_trials=args.pruning_startup_trials,
                        pruning_warmup_epochs=args.pruning_warmup_epochs)
    return Search(settings, space, base_config, lambda words: parse(base, words), list(base))


def run(search) -> int:
    """Trials, the choice, the final seeds and the closing print."""
    from mmer_tf import tasks
    from mmer_tf.search import summary

    search.run_trials()
    best = search.chosen()
    words = search.space.words(dict(best.params))
    print(f"study {search.settings.study}: chosen by validation: trial {best.number} "
          f"({search.monitor} {best.value:.6g} at its best epoch; trials in {search.trials_csv})", flush=True)
    print(f"  configuration: {' '.join(search.base_args + words)}", flush=True)
    if search.settings.final_seeds == 0:
        return 0
    records = search.run_final(best)
    done = {seed: r for seed, r in records.items() if r.get("state") == "done"}
    failed = {seed: r.get("error", "") for seed, r in records.items() if r.get("state") != "done"}
    config = search.config_for(words)
    print(f"  test metrics over {len(done)} final seed(s) {', '.join(map(str, done))} (runs "
          f"{', '.join(str(r['run_id']) for r in done.values())}; rows with study={search.settings.study}, "
          f"trial={best.number}, final=1); mean ± sample std (ddof=1), 95% Student-t interval:", flush=True)
    for line in summary.describe(config, [r["run_id"] for r in done.values()],
                                 tasks.for_label_type(config.label_type).headline()):
        print(line, flush=True)
    for seed, error in failed.items():
        print(f"  final seed {seed} failed: {error}", flush=True)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command: one ``error:`` line for bad input, ``interrupted`` (exit 130) on Ctrl-C."""
    argv = sys.argv[1:] if argv is None else list(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def body() -> int:
        from mmer_tf import distributed

        _check_numbers(_parser().parse_known_args(argv)[0])  # --help and typos answer before the backend loads
        distributed.prepare_environment(["search"] + argv)  # before Keras: the backend data_parallel needs
        from mmer_tf.native_logs import import_backend_quietly

        import_backend_quietly()
        from mmer_tf import resume

        resume.install_preemption_handler()
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s search: %(message)s", "%H:%M:%S"))
        search_log = logging.getLogger("mmer_tf.search")
        search_log.addHandler(handler)
        search_log.propagate = False
        return run(prepare(argv))

    return report_errors(body)


if __name__ == "__main__":
    from mmer_tf.cli import script

    script(main)
