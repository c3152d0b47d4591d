"""How the extension points find their members: the package's own modules, plus ``MMER_PLUGINS``.

Corpora (``mmer_tf/data/corpora/``), tasks (``mmer_tf/tasks/``) and feature recipe kinds
(``mmer_tf/features/kinds/``) are each a package whose every module is read by one rule (a corpus
module has ``NAME`` and ``detect`` or lists ``ADAPTERS``; a task module has ``TASK``; a recipe kind
module has ``KIND``), so adding one is adding one file there: there is no second list to edit.

Code that lives outside the package (a lab's own corpus, a task under study) is named in the
environment variable ``MMER_PLUGINS``: comma-separated importable module names or ``.py`` file paths.
Each such module is read by exactly the same rules as the package's modules, by every extension point,
in every entry point (``main.py``, ``featurize``, ``predict``, ``compare``) and in every worker process,
because the variable is inherited. A plugin that fails to import is one ``error:`` line.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, TypeVar

from mmer_tf.errors import MmerError

ENV = "MMER_PLUGINS"
T = TypeVar("T")


def _import_path(path: Path) -> ModuleType:
    name = "mmer_plugin_" + "".join(c if c.isalnum() else "_" for c in str(path.resolve()))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MmerError(f"{ENV}: {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import(entry: str) -> ModuleType:
    try:
        if entry.endswith(".py") or os.sep in entry:
            path = Path(entry).expanduser()
            if not path.is_file():
                raise MmerError(f"{ENV}: {entry}: no such file")
            return _import_path(path)
        return importlib.import_module(entry)
    except MmerError:
        raise
    except Exception as exc:  # a plugin's own bug: named, one line, never a traceback in the runner
        raise MmerError(f"{ENV}: cannot import {entry} ({type(exc).__name__}: {exc})") from None


@lru_cache(maxsize=None)
def _plugin_modules(value: str) -> tuple[ModuleType, ...]:
    return tuple(_import(entry.strip()) for entry in value.split(",") if entry.strip())


def plugin_modules() -> tuple[ModuleType, ...]:
    """The modules named in ``MMER_PLUGINS`` (imported once per process and value)."""
    return _plugin_modules(os.environ.get(ENV, ""))


@lru_cache(maxsize=None)
def package_modules(package: str) -> tuple[ModuleType, ...]:
    """Every module directly inside ``package``, sorted by name (private ``_*`` modules skipped)."""
    pkg = importlib.import_module(package)
    names = sorted(info.name for info in pkgutil.iter_modules(pkg.__path__) if not info.name.startswith("_"))
    return tuple(importlib.import_module(f"{package}.{name}") for name in names)


def members(package: str, select: Callable[[ModuleType], Iterable[T]], name: Callable[[T], str],
            what: str) -> dict[str, T]:
    """``{name: member}`` over ``package``'s modules then the plugins, each read by ``select``.

    Two members with one name are an error naming both modules: a plugin never silently replaces a
    built-in member.
    """
    found: dict[str, T] = {}
    where: dict[str, str] = {}
    for module in package_modules(package) + plugin_modules():
        for member in select(module):
            key = name(member)
            if key in found and found[key] is not member:
                raise MmerError(f"{what} {key!r} is defined twice ({where[key]} and {module.__name__}); "
                                "rename one")
            found[key] = member
            where[key] = module.__name__
    return found


__all__ = ["ENV", "members", "package_modules", "plugin_modules"]
