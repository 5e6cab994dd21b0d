"""Imports inside ``firestream_core`` point one way, and nothing cycles.

Every import counts: top-of-file, function-level and ``TYPE_CHECKING`` ones
alike (a function-level import that dodges a cycle is still a cycle). The
layers, lowest first, are the data path read backwards (docs/architecture.md):

    base (errors, model, graph, version, lazy, secret_keys) <- tools <- state <- plugin <- config
        <- deploy <- ops <- project <- cli / scaffold

A module may import from its own layer or any lower one; within a layer the
imports must form no cycle. No module imports the package root (the public
surface, for users) or a name re-exported by ``firestream_core.plugin`` (the
chart author's surface): the core names the defining module.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import firestream_core

PACKAGE = Path(firestream_core.__file__).parent
LAYERS = ["base", "tools", "state", "plugin", "config", "deploy", "ops", "project", "cli"]
_BASE = {"errors", "model", "graph", "version", "lazy", "secret_keys"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    parts = module.split(".")[1:]
    if not parts:
        return None  # the package root: the public surface
    head = parts[0]
    if head in _BASE:
        return "base"
    if head in ("tools", "state", "plugin", "config", "deploy", "ops", "project"):
        return head
    if head in ("cli", "scaffold"):
        return "cli"
    raise AssertionError(f"{module}: no layer; add it to tests/architecture/test_layers.py")


def imports_of(path: Path, modules: set[str]) -> list[tuple[int, str]]:
    """(line, imported firestream_core module) for every import in ``path``."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("firestream_core")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            if not base.startswith("firestream_core"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if sub in modules else base))
    return found


def _modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_every_module_has_a_layer() -> None:
    for module in _modules():
        layer_of(module)


def test_imports_only_point_down() -> None:
    modules = _modules()
    offences = []
    for module, path in sorted(modules.items()):
        mine = layer_of(module)
        if mine is None:
            continue
        for line, target in imports_of(path, set(modules)):
            theirs = layer_of(target)
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if theirs is None:
                offences.append(f"{where}: imports the package root; name the defining module")
            elif target == "firestream_core.plugin" and module.split(".")[1] != "plugin":
                offences.append(f"{where}: imports the author surface firestream_core.plugin; "
                                "name the defining module")
            elif LAYERS.index(theirs) > LAYERS.index(mine):
                offences.append(f"{where}: {mine} layer imports {target} ({theirs} layer)")
    assert offences == [], "\n".join(offences)


def test_no_import_cycle_even_through_function_level_imports() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        graph[module] = {t for _, t in imports_of(path, set(modules)) if t != module and t in modules}
    # a package's __init__ is imported by its submodules implicitly; only count explicit edges
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The walk finds function-level and TYPE_CHECKING imports (so the tests above can fail)."""
    src = PACKAGE / "tools" / "_probe_for_layers.py"
    assert not src.exists()
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                   "    from firestream_core.deploy.plan import Plan\n"
                   "def f():\n    from firestream_core.project import Project\n")
    try:
        found = imports_of(src, set(_modules()))
    finally:
        src.unlink()
    assert [t for _, t in found] == ["firestream_core.deploy.plan", "firestream_core.project"]
    assert [layer_of(t) for _, t in found] == ["deploy", "project"]
