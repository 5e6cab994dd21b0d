"""Every name of the chart author's surface and of the library API shows an example in its
docstring (a ``>>>`` doctest or a ``::`` literal block), so the API reference cannot lose one.

Covered: each name of ``firestream_core.plugin.__all__`` (constants and markers by the
docstring written under them), each function of ``checks``, the public methods and
properties of the surface's classes (exceptions aside), and of ``Project``, ``Plan``,
``Change``, ``ApplyResult``, ``ReleaseOutcome`` and ``ReleaseStatus``. A ``::`` block
must compile as Python (as a module, or as a stage's body).

The doctests themselves run in ``test_doctests.py``; here a new name (or a method of the
library API) added without an example fails.
"""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from typing import Any

import pytest

import firestream_core.plugin as surface

# a literal block: a line ending in "::" followed (after blank lines) by an indented line
_LITERAL = re.compile(r"::\n(?:[ \t]*\n)*([ \t]+)\S")
_DOCTEST = re.compile(r"^\s*>>> \S", re.MULTILINE)

LIBRARY_CLASSES = [
    ("firestream_core.project", "Project"),
    ("firestream_core.deploy.results", "ApplyResult"),
    ("firestream_core.deploy.results", "ReleaseOutcome"),
    ("firestream_core.deploy.results", "ReleaseStatus"),
    ("firestream_core.deploy.plan", "Plan"),
    ("firestream_core.deploy.plan", "Change"),
]


def has_example(doc: str | None) -> bool:
    """True when ``doc`` holds a ``>>>`` example or a ``::`` literal block with code in it."""
    if not doc:
        return False
    doc = inspect.cleandoc(doc)
    return bool(_DOCTEST.search(doc) or _LITERAL.search(doc))


def literal_blocks(doc: str) -> list[str]:
    """The ``::`` literal blocks of ``doc``, dedented (``.. code-block:: toml`` ones are not among them)."""
    lines = inspect.cleandoc(doc).splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if not line.rstrip().endswith("::") or line.lstrip().startswith(".. "):
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j == len(lines):
            continue
        indent = len(lines[j]) - len(lines[j].lstrip())
        if indent <= len(line) - len(line.lstrip()):
            continue
        block = []
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) >= indent):
            block.append(lines[j])
            j += 1
        blocks.append(textwrap.dedent("\n".join(block)))
    return blocks


def check_python(block: str, where: str) -> None:
    """``block`` compiles as a module, or as the body of a stage (an example "in ``validate``"
    may ``return`` its results)."""
    try:
        compile(block, where, "exec")
    except SyntaxError:
        compile("def stage(chart, context, payload):\n" + textwrap.indent(block, "    "), where, "exec")


def attribute_doc(module: str, name: str) -> str | None:
    """The docstring written under a module-level assignment (``NAME = ...`` then ``\"\"\"...\"\"\"``),
    the way autodoc reads it."""
    from sphinx.pycode import ModuleAnalyzer

    docs = ModuleAnalyzer.for_module(module).find_attr_docs()
    lines = docs.get(("", name))
    return "\n".join(lines) if lines else None


def surface_doc(name: str) -> str | None:
    """The docstring the reference shows for ``firestream_core.plugin.<name>``."""
    module = "firestream_core." + (surface._MODULES.get(name) or surface._EXPORTS[name])
    value = getattr(surface, name)
    if inspect.ismodule(value):
        return value.__doc__
    if inspect.isclass(value) or inspect.isroutine(value):
        return value.__doc__
    return attribute_doc(module, name)  # a constant or a marker instance


def test_the_check_tells_an_example_from_prose() -> None:
    assert has_example(">>> 1 + 1\n2\n")
    assert has_example("Text.\n\nExample, in ``validate``::\n\n    checks.pods_ready(context)\n")
    assert not has_example("Text naming ``x::y`` and a trailing colon::\n")
    assert not has_example("Only prose, even about an Example.")
    assert not has_example(None)


@pytest.mark.parametrize("name", surface.__all__)
def test_every_name_of_the_author_surface_has_an_example(name: str) -> None:
    doc = surface_doc(name)
    assert doc, f"firestream_core.plugin.{name} has no docstring"
    assert has_example(doc), f"the docstring of firestream_core.plugin.{name} shows no example"
    for block in literal_blocks(doc):
        check_python(block, f"firestream_core.plugin.{name}")  # a literal block is Python as written


SURFACE_CLASSES = [n for n in surface.__all__
                   if inspect.isclass(getattr(surface, n)) and not issubclass(getattr(surface, n), BaseException)]


@pytest.mark.parametrize("name", SURFACE_CLASSES)
def test_every_method_of_the_author_surface_has_an_example(name: str) -> None:
    """The methods and properties a class of the surface defines show one too (the reference lists them)."""
    cls = getattr(surface, name)
    members = _public_members(cls)
    assert [attr for attr, fn in members if not has_example(fn.__doc__)] == []
    for attr, fn in members:
        for block in literal_blocks(fn.__doc__ or ""):
            check_python(block, f"{name}.{attr}")


@pytest.mark.parametrize("name", surface.checks.__all__)
def test_every_check_has_an_example(name: str) -> None:
    doc = getattr(surface.checks, name).__doc__
    assert has_example(doc), f"checks.{name} shows no example"
    for block in literal_blocks(doc):
        check_python(block, f"checks.{name}")


def _public_members(cls: type) -> list[tuple[str, Any]]:
    out = []
    for attr, value in vars(cls).items():
        if attr.startswith("_"):
            continue
        if isinstance(value, classmethod | staticmethod):
            value = value.__func__
        if isinstance(value, property):
            value = value.fget
        if inspect.isfunction(value):
            out.append((attr, value))
    return out


@pytest.mark.parametrize(("module", "name"), LIBRARY_CLASSES, ids=[n for _, n in LIBRARY_CLASSES])
def test_the_library_api_has_examples(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert has_example(cls.__doc__), f"{name} shows no example"
    docs = {name: cls.__doc__, **{f"{name}.{attr}": fn.__doc__ for attr, fn in _public_members(cls)}}
    assert [n for n, doc in docs.items() if not has_example(doc)] == []  # every public method and property
    for where, doc in docs.items():
        for block in literal_blocks(doc or ""):
            check_python(block, where)


def test_literal_blocks_are_read_as_written() -> None:
    doc = "Text.\n\nExample::\n\n    a = 1\n\n    if a:\n        b = 2\n\nMore text, and ``x::y``.\n"
    assert literal_blocks(doc) == ["a = 1\n\nif a:\n    b = 2\n"]
    check_python("return [1]\n", "a stage's body")
    with pytest.raises(SyntaxError):
        check_python("payload.section(\n", "an unclosed call")


def test_the_surface_s_own_example_runs_as_written() -> None:
    """The reference's first example (``firestream_core.plugin``'s docstring) is a whole plugin:
    registered with a plugin manager, its ``validate`` gives a list of results, the type the
    hook must return, from the checks' real signatures."""
    import types

    from firestream_core.model import ChartInfo, ChartPayload, ValidationStatus
    from firestream_core.plugin.manager import get_plugin_manager

    (block,) = literal_blocks(surface.__doc__ or "")[:1]
    plugin = types.ModuleType("docstring_plugin")
    exec(compile(block, "firestream_core.plugin", "exec"), plugin.__dict__)

    class Ready:
        def get(self, kind, name=None, *, namespace=None, selector=None, **_):
            return {"items": [{"metadata": {"name": "web"}, "spec": {"replicas": 1},
                               "status": {"availableReplicas": 1, "updatedReplicas": 1}}]}

    manager = get_plugin_manager(disabled=["defaults"], load_entry_points=False,
                                 extra_plugins=[plugin], environ={})
    assert manager.problems() == []
    chart = plugin.MyChart(ChartInfo(name="web", chart="./chart", namespace="shop"))
    results = manager.validate(chart, types.SimpleNamespace(kubectl=Ready()), ChartPayload())
    assert [r.status for r in results] == [ValidationStatus.PASSED]
