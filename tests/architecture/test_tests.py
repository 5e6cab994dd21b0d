"""Every module of firestream_core is imported by at least one test.

A module reached only through another one is tested only as far as that one
uses it; a test that names it is where its own behaviour is pinned. Imports
are read from the test files' source (top-of-file and function-level alike):
``import a.b``, ``from a.b import c`` (``a.b`` and, when ``c`` is a module,
``a.b.c``). A package whose ``__init__`` holds nothing but its docstring has
nothing to import and is not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import firestream_core

PACKAGE = Path(firestream_core.__file__).parent
ROOT = PACKAGE.parent


def modules() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
            body = ast.parse(path.read_text()).body
            if all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body):
                continue  # a docstring-only package
        found.add(".".join(parts))
    return found


def imported_by(files: list[Path]) -> set[str]:
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def files_of_tests() -> list[Path]:
    return [*(ROOT / "tests").rglob("*.py"), *(ROOT / "plugins").glob("*/tests/**/*.py")]


def test_every_module_is_imported_by_a_test() -> None:
    untested = sorted(modules() - imported_by(files_of_tests()))
    assert untested == [], f"no test imports: {', '.join(untested)}"


def test_the_check_sees_an_untested_module(tmp_path: Path) -> None:
    test = tmp_path / "test_x.py"
    test.write_text("from firestream_core.tools import helm\n"
                    "def test_it():\n    from firestream_core.state.lock import ProjectLock\n")
    seen = imported_by([test])
    assert {"firestream_core.tools.helm", "firestream_core.state.lock"} <= seen
    assert "firestream_core.tools.kubectl" not in seen
    assert "firestream_core.version" in modules()
    assert "firestream_core.ops" not in modules()  # docstring only
