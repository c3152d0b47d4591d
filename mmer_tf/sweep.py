"""Sweeps: a file of runs -> lines of ``main.py`` flags, repeated per seed, minus the runs already recorded.

    python -m mmer_tf sweep FILE [--seeds 1,2,3] [--pending] [--out LINES]   print / write the lines
    python -m mmer_tf sweep FILE [--seeds 1,2,3] --local N [--logs logs]       run them here, N at a time

(the command line is :mod:`mmer_tf.cli.sweep`).

``run_cluster.sh --sweep FILE`` calls this to build one SLURM job array (one task per line), and
``run_cluster.sh --sweep FILE --local N`` to run the same lines without SLURM.

FILE is one of:

- ``.yaml`` / ``.yml``: a grid, ``{flag: value or [values]}``, expanded to every combination (the first
  key varies slowest); or a list of such grids, expanded one after the other. Flags are written as in
  ``main.py`` (``-b``, ``--batch_size`` or bare ``batch_size``); ``true``/``false`` become ``--flag`` /
  ``--noflag``.
- ``.csv``: a grid too: the header names the flags, the non-empty cells under each are its values.
- anything else: one run per line of flags (``#`` comments and blank lines skipped), as before.

``--seeds 1,2,3`` repeats every line once per seed (``--seed S`` appended; a line that sets its own
``--seed`` is then an error). ``--pending`` drops the lines whose configuration and seed already have a
row in their ``model_ids.csv`` (matched on the ``config_digest`` column,
:func:`mmer_tf.config.config_digest`), so re-submitting a sweep only runs what is missing.
"""

from __future__ import annotations

import csv
import itertools
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from mmer_tf.errors import MmerError


# --------------------------------------------------------------------------------------- expansion
def flag_token(name: str) -> str:
    """``batch_size`` -> ``--batch_size``; ``-b`` and ``--batch_size`` stay as written."""
    name = str(name).strip()
    if not name or name.strip("-") == "" or " " in name:
        raise MmerError(f"sweep: {name!r} is not a flag name")
    return name if name.startswith("-") else f"--{name}"


def _flag_words(name: str, value) -> list[str]:
    token = flag_token(name)
    if isinstance(value, bool):
        if value:
            return [token]
        bare = token.lstrip("-")
        return [f"--no{bare}"]
    if value is None:
        return [token]
    if isinstance(value, (list, tuple)):  # a list-valued flag given as a YAML list: -tp [0, 1]
        value = ",".join(str(v) for v in value)
    return [token, str(value)]


def _as_values(value) -> list:
    return list(value) if isinstance(value, list) else [value]


def expand_grid(grid: Mapping[str, object]) -> list[str]:
    """Every combination of a ``{flag: value or [values]}`` grid, as lines of flags (first key slowest)."""
    if not isinstance(grid, Mapping) or not grid:
        raise MmerError("sweep: a grid must be a non-empty mapping of flag -> value(s)")
    names = list(grid)
    choices = [_as_values(grid[name]) for name in names]
    for name, values in zip(names, choices):
        if not values:
            raise MmerError(f"sweep: flag {name!r} has an empty list of values")
    lines = []
    for combo in itertools.product(*choices):
        words = []
        for name, value in zip(names, combo):
            words += _flag_words(name, value)
        lines.append(" ".join(shlex.quote(w) for w in words))
    return lines


def _read_yaml(path: Path) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MmerError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    grids = data if isinstance(data, list) else [data]
    lines = []
    for i, grid in enumerate(grids):
        if not isinstance(grid, Mapping):
            raise MmerError(f"{path}: entry {i + 1} is not a mapping of flag -> value(s)")
        lines += expand_grid(grid)
    return lines


def _read_csv(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or not any(h.strip() for h in rows[0]):
        raise MmerError(f"{path}: a CSV sweep needs a header row of flag names")
    header = [h.strip() for h in rows[0]]
    grid: dict[str, list] = {}
    for column, name in enumerate(header):
        if not name:
            continue
        values = [row[column].strip() for row in rows[1:] if column < len(row) and row[column].strip()]
        if not values:
            raise MmerError(f"{path}: column {name!r} has no values")
        grid[name] = values
    return expand_grid(grid)


def _read_text(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def read_sweep(path: str | os.PathLike) -> list[str]:
    """The lines of flags a sweep file describes (format chosen by its extension; see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise MmerError(f"{path}: sweep file not found")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        lines = _read_yaml(path)
    elif suffix == ".csv":
        lines = _read_csv(path)
    else:
        lines = _read_text(path)
    if not lines:
        raise MmerError(f"{path}: no runs in this sweep file")
    for line in lines:
        try:
            shlex.split(line)
        except ValueError as exc:
            raise MmerError(f"{path}: cannot split {line!r} into flags ({exc})") from None
    return lines


def parse_seeds(text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``."""
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise MmerError(f"--seeds {text!r}: expected comma-separated integers") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise MmerError(f"--seeds {text!r}: expected distinct comma-separated integers")
    return seeds


def _sets_seed(words: Sequence[str]) -> bool:
    return any(w in ("--seed", "-seed") or w.startswith(("--seed=", "-seed=")) for w in words)


def with_seeds(lines: Iterable[str], seeds: Sequence[int] | None) -> list[str]:
    """Each line once per seed (``--seed S`` appended), line-major; unchanged when ``seeds`` is empty."""
    lines = list(lines)
    if not seeds:
        return lines
    out = []
    for line in lines:
        if _sets_seed(shlex.split(line)):
            raise MmerError(f"sweep line {line!r} sets --seed itself; drop it or drop --seeds")
        out += [f"{line} --seed {int(seed)}".strip() for seed in seeds]
    return out


# ------------------------------------------------------------------------------------------ digests
def _flag_values():
    from absl import flags

    from mmer_tf import cli_flags

    values = flags.FlagValues()
    cli_flags.define_flags(values)
    return values


def config_of(line: str, flag_values=None):
    """The :class:`ExperimentConfig` ``main.py`` would build from this line of flags."""
    from absl import flags

    from mmer_tf import cli_flags

    values = flag_values or _flag_values()
    values.unparse_flags()
    try:
        rest = values(["main.py"] + shlex.split(line))
    except flags.Error as exc:
        raise MmerError(f"sweep line {line!r}: {exc}") from None
    if len(rest) > 1:
        raise MmerError(f"sweep line {line!r}: unexpected arguments {rest[1:]}")
    return cli_flags.config_from_flags(values)


def recorded_digests(model_ids: Path) -> set[str]:
    """``config_digest`` values of the runs already in a ``model_ids.csv`` (empty when it is absent)."""
    try:
        with open(model_ids, newline="", encoding="utf-8") as handle:
            return {row.get("config_digest") or "" for row in csv.DictReader(handle)
                    if (row.get("status") or "ok") == "ok"} - {""}
    except FileNotFoundError:
        return set()


def pending(lines: Iterable[str]) -> list[str]:
    """The lines whose configuration and seed have no row yet in their own ``model_ids.csv``."""
    from mmer_tf.native_logs import import_backend_quietly

    import_backend_quietly()  # the model registry imports Keras; keep TensorFlow's start-up notices off
    from mmer_tf.config import parameter_columns
    from mmer_tf.results import RunPaths

    values = _flag_values()
    seen: dict[Path, set[str]] = {}
    out = []
    for line in lines:
        config = config_of(line, values)
        table = RunPaths.for_config(config).model_ids
        if table not in seen:
            seen[table] = recorded_digests(table)
        if parameter_columns(config)["config_digest"] not in seen[table]:
            out.append(line)
    return out


# ----------------------------------------------------------------------------------- local runner
def run_local(lines: Sequence[str], jobs: int, *, logs: str | os.PathLike = "logs", python: str | None = None,
              main: str | os.PathLike | None = None) -> int:
    """Run ``main.py LINE`` for every line, ``jobs`` at a time, one log per task; returns failures."""
    if jobs < 1:
        raise MmerError(f"--local {jobs}: must be >= 1")
    logs = Path(logs)
    logs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    python = python or sys.executable
    main = main or Path(__file__).resolve().parents[1] / "main.py"
    queue = list(enumerate(lines))
    running: list[tuple[int, str, subprocess.Popen, object]] = []
    failed = done = 0
    started = time.time()
    while queue or running:
        while queue and len(running) < jobs:
            index, line = queue.pop(0)
            log_path = logs / f"sweep_{stamp}_{index}.out"
            handle = open(log_path, "w", encoding="utf-8")
            handle.write(f"task {index}: main.py {line}\n")
            handle.flush()
            proc = subprocess.Popen([python, str(main)] + shlex.split(line), stdout=handle,
                                    stderr=subprocess.STDOUT)
            running.append((index, line, proc, handle))
        time.sleep(0.2)
        for item in list(running):
            index, line, proc, handle = item
            code = proc.poll()
            if code is None:
                continue
            handle.close()
            running.remove(item)
            done += 1
            failed += code != 0
            print(f"[{done}/{len(lines)}] task {index} {'ok' if code == 0 else f'FAILED (exit {code})'} "
                  f"{time.time() - started:.0f} s: {line}", flush=True)
    return failed
