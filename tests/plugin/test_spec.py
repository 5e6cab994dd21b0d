"""Meta-tests that keep the hook documentation and tests honest (as datasette does)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from firestream_core.plugin import spec as hookspecs
from firestream_core.plugin.spec import ALL_HOOKS

ROOT = Path(__file__).resolve().parents[2]
HOOKS_DOC = ROOT / "docs" / "hooks.md"


def doc_sections() -> dict[str, str]:
    """``### `hook``` heading -> the text up to the next heading."""
    text = HOOKS_DOC.read_text()
    parts = re.split(r"^### `([a-z_]+)`\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_all_hooks_matches_the_hookspec_module() -> None:
    specs = [n for n, f in vars(hookspecs).items() if callable(f) and hasattr(f, "firestream_spec")]
    assert sorted(specs) == sorted(ALL_HOOKS)


@pytest.mark.parametrize("hook", ALL_HOOKS)
def test_every_hook_is_documented_with_each_parameter(hook: str) -> None:
    sections = doc_sections()
    assert hook in sections, f"docs/hooks.md has no '### `{hook}`' section"
    body = sections[hook]
    params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"`{hook}({', '.join(params)})" in body, "signature line missing or out of date"
    for p in params:
        assert re.search(rf"^- `{p}`:", body, flags=re.M), f"parameter '{p}' of {hook} is not described"
    firstresult = bool(getattr(hookspecs, hook).firestream_spec.get("firstresult"))
    assert ("**firstresult**" in body) == firstresult, "firstresult said of the wrong hooks"
    assert ("first non-None" in body) == firstresult


def test_documented_hooks_are_in_lifecycle_order() -> None:
    assert list(doc_sections()) == list(ALL_HOOKS)


def _exercised(hook: str, source: str) -> bool:
    """``source`` implements ``hook`` (a ``@hookimpl`` function of that name) or calls it."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if (isinstance(node, ast.FunctionDef) and node.name == hook
                and any("hookimpl" in ast.unparse(d) for d in node.decorator_list)):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == hook:
            return True
    return False


def test_a_mention_is_not_an_exercise() -> None:
    assert not _exercised("validate", "# validate is a word\nname = 'validate'\n")
    assert _exercised("validate", "@hookimpl\ndef validate(chart, context):\n    return []\n")
    assert _exercised("validate", "manager.validate(chart, context, payload)\n")


@pytest.mark.parametrize("hook", ALL_HOOKS)
def test_every_hook_is_exercised_by_a_test(hook: str) -> None:
    me = Path(__file__).resolve()
    tests = [p for p in (ROOT / "tests").rglob("test_*.py") if p.resolve() != me]
    assert any(_exercised(hook, p.read_text()) for p in tests), f"no test implements or calls {hook}"
