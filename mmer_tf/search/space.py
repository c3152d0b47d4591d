"""The search space file: which ``main.py`` flags a study varies, and how.

YAML, one entry per flag (written as in ``main.py``: ``-lr``, ``--learning_rate`` or ``learning_rate``)::

    learning_rate: {float: [1.0e-4, 1.0e-2], log: true}   # a float range (log: sampled on a log scale)
    num_nodes: {int: [32, 256], step: 32}                  # an int range (optional step, or log: true)
    dropout_rate: {choices: [0.1, 0.3, 0.5]}               # one of these values
    batch_size: 64                                         # fixed: every trial runs with it

Every name must be a ``main.py`` flag, a range's type must match the flag's, and every boundary value and
choice must be a value ``main.py`` accepts with the user's other flags: all checked before any trial, each
failure one line. Flags that decide where a study's runs are recorded (``-mn``, ``-mf``, ``-cf``, ``-cn``,
``-pf``) and ``--seed`` (chosen seeds would select a lucky draw, which is what ``--final_seeds`` guards
against) are not searchable. Optuna parameter names are the flags' long names.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from mmer_tf.errors import MmerError

NOT_SEARCHABLE = {
    "model_name": "the study lives in the model's folder; run one study per model",
    "model_folder": "the study's runs are recorded there",
    "csv_folder": "the study's runs are recorded there",
    "csv_name": "the study's runs are recorded there",
    "pickle_folder": "it is where the data cache lives, not a hyper-parameter",
    "seed": "picking seeds on validation selects a lucky draw; --final_seeds reruns the chosen configuration "
            "with fresh seeds",
    "verbose": "it changes only the log",
}
_SCALARS = (bool, int, float, str)


@dataclass(frozen=True)
class Param:
    """One searched flag: ``kind`` is ``choices``, ``int`` or ``float``."""

    name: str
    kind: str
    choices: tuple = ()
    low: float = 0
    high: float = 0
    log: bool = False
    step: float | None = None

    def distribution(self):
        import optuna.distributions as d

        if self.kind == "choices":
            return d.CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return d.FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def probe_values(self) -> list:
        """The values worth test-parsing before any trial: every choice, or both ends of a range."""
        return list(self.choices) if self.kind == "choices" else [self.low, self.high]

    def grid_values(self, source: str) -> list:
        if self.kind == "choices":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        raise MmerError(f"{source}: {self.name}: --sampler grid needs choices or an int range, not a float range")

    def describe(self) -> dict:
        if self.kind == "choices":
            return {"choices": list(self.choices)}
        out = {self.kind: [self.low, self.high]}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class Space:
    """A parsed space file: searched ``params`` and ``fixed`` flag values, by long flag name."""

    source: str
    params: Mapping[str, Param]
    fixed: Mapping[str, object] = field(default_factory=dict)

    def distributions(self) -> dict:
        return {name: p.distribution() for name, p in self.params.items()}

    def grid(self) -> dict[str, list]:
        return {name: p.grid_values(self.source) for name, p in self.params.items()}

    def words(self, values: Mapping[str, object]) -> list[str]:
        """``main.py`` words for the fixed flags and ``values`` (a trial's params), fixed first."""
        words: list[str] = []
        for name, value in list(self.fixed.items()) + list(values.items()):
            words += flag_words(name, value)
        return words

    def canonical(self) -> str:
        """One JSON text per space: a study remembers it and refuses to continue with another."""
        return json.dumps({"params": {n: p.describe() for n, p in sorted(self.params.items())},
                           "fixed": {n: self.fixed[n] for n in sorted(self.fixed)}}, sort_keys=True)


def flag_words(name: str, value) -> list[str]:
    """``("learning_rate", 0.01)`` -> ``["--learning_rate", "0.01"]``; booleans as ``--flag``/``--noflag``."""
    if isinstance(value, bool):
        return [f"--{name}" if value else f"--no{name}"]
    return [f"--{name}", repr(value) if isinstance(value, float) else str(value)]


def _number(value, kind: str, where: str):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MmerError(f"{where}: {value!r} is not a number")
    if kind == "int":
        if float(value) != int(value):
            raise MmerError(f"{where}: {value!r} is not an integer")
        return int(value)
    if not math.isfinite(float(value)):
        raise MmerError(f"{where}: {value!r} is not finite")
    return float(value)


def _param(name: str, spec: Mapping, flag_type: str, where: str) -> Param:
    kinds = [k for k in ("choices", "int", "float") if k in spec]
    unknown = sorted(set(spec) - {"choices", "int", "float", "log", "step"})
    if len(kinds) != 1 or unknown:
        raise MmerError(f"{where}: give exactly one of choices, int or float (optionally log, step)"
                        + (f"; unknown key(s) {', '.join(map(str, unknown))}" if unknown else ""))
    kind = kinds[0]
    if kind == "choices":
        choices = spec["choices"]
        if set(spec) != {"choices"}:
            raise MmerError(f"{where}: choices take no log or step")
        if not isinstance(choices, list) or not choices:
            raise MmerError(f"{where}: choices must be a non-empty list")
        for value in choices:
            if not isinstance(value, _SCALARS):
                raise MmerError(f"{where}: choice {value!r} is not a single value")
        if len({json.dumps(c) for c in choices}) != len(choices):
            raise MmerError(f"{where}: choices repeat a value")
        return Param(name, "choices", choices=tuple(choices))
    if flag_type not in ("int", "float") or (kind == "float" and flag_type == "int"):
        raise MmerError(f"{where}: a {kind} range, but the flag takes {flag_type} values"
                        + (" (use an int range)" if flag_type == "int" else " (use choices)"))
    bounds = spec[kind]
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise MmerError(f"{where}: {kind} takes [low, high]")
    low, high = (_number(b, kind, where) for b in bounds)
    if not low < high:
        raise MmerError(f"{where}: low {low} must be below high {high}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise MmerError(f"{where}: log must be true or false")
    if log and low <= 0:
        raise MmerError(f"{where}: a log range needs low > 0")
    step = spec.get("step")
    if step is not None:
        step = _number(step, kind, where)
        if step <= 0 or log:
            raise MmerError(f"{where}: step must be > 0 and cannot go with log")
    return Param(name, kind, low=low, high=high, log=log, step=step)


def read_space(path: str | os.PathLike, flag_values) -> Space:
    """Parse and check the space file against ``flag_values`` (the ``main.py`` flags, an absl FlagValues)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MmerError(f"--space {path}: no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MmerError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, Mapping) or not data:
        raise MmerError(f"{path}: expected a mapping of flag -> choices, range or fixed value")
    params: dict[str, Param] = {}
    fixed: dict[str, object] = {}
    for key, spec in data.items():
        bare = str(key).strip().lstrip("-")
        if not bare or bare not in flag_values:
            raise MmerError(f"{path}: unknown flag {key!r} (python main.py --help lists them)")
        flag = flag_values[bare]
        name = flag.name
        where = f"{path}: {name}"
        if name in params or name in fixed:
            raise MmerError(f"{where}: given twice")
        if name in NOT_SEARCHABLE:
            raise MmerError(f"{where}: not searchable ({NOT_SEARCHABLE[name]}); give it on the command line")
        if isinstance(spec, Mapping):
            params[name] = _param(name, spec, flag.flag_type(), where)
        elif isinstance(spec, list):
            raise MmerError(f"{where}: a list; write {{choices: [...]}} to search over it, or a comma-joined "
                            "string for a fixed list value")
        elif isinstance(spec, _SCALARS):
            fixed[name] = spec
        else:
            raise MmerError(f"{where}: {spec!r} is not a choices/int/float entry or a fixed value")
    if not params:
        raise MmerError(f"{path}: nothing to search (every entry is a fixed value)")
    return Space(str(path), params, fixed)


def check_values(space: Space, config_for: Callable[[list[str]], object]) -> None:
    """Parse every fixed value, choice and range end with the user's flags, before any trial runs.

    ``config_for(words)`` builds the run's config from the user's flags plus ``words`` and raises
    :class:`MmerError` for a value ``main.py`` would refuse.
    """
    config_for(space.words({}))
    for name, param in space.params.items():
        for value in param.probe_values():
            try:
                config_for(space.words({name: value}))
            except MmerError as exc:
                raise MmerError(f"{space.source}: {name}={value!r}: {exc}") from None
