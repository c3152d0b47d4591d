"""``requirements.txt`` is what a user installs: no package that only the tests import belongs there.

The oracle is the code itself: the third-party modules imported anywhere in the suite's own code
(``main.py``, ``mmer_tf/``, ``benchmarks/``, ``run_cluster.sh``'s Python) versus those imported only by
``tests/``; a distribution in ``requirements.txt`` that provides only test-side modules is test-only.
"""

from __future__ import annotations

import ast
import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def imported_roots(files) -> set[str]:
    roots = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                roots.add(node.module.split(".")[0])
    return roots


def distributions_of(modules: set[str]) -> set[str]:
    owners = metadata.packages_distributions()
    return {dist.lower().replace("_", "-") for module in modules for dist in owners.get(module, [])}


def test_requirements_txt_holds_no_test_only_package():
    users = requirement_names(ROOT / "requirements.txt")
    product = imported_roots([ROOT / "main.py", *(ROOT / "mmer_tf").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")])
    tests_only = imported_roots((ROOT / "tests").rglob("*.py")) - product
    test_only_dists = distributions_of(tests_only) - distributions_of(product)
    assert {"pytest", "hypothesis"} <= test_only_dists  # the oracle sees the test tools
    assert not users & test_only_dists, sorted(users & test_only_dists)
    assert {"pytest", "hypothesis"} <= requirement_names(ROOT / "requirements-dev.txt")
