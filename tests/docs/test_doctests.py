"""The examples in the docstrings (``>>>``) run, so the API reference cannot show a wrong one.

Besides the docstrings ``doctest`` finds (modules, classes, functions), the
docstrings written under module-level assignments (``NAME = ...`` then
``\"\"\"...\"\"\"``, which autodoc shows for constants and the ``hookimpl`` marker) run too.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

MODULES = ["firestream_core.model", "firestream_core.plugin.chart_methods", "firestream_core.plugin.secrets",
           "firestream_core.plugin.presets", "firestream_core.errors", "firestream_core.plugin.options",
           "firestream_core.plugin.context", "firestream_core.plugin.markers", "firestream_core.plugin.helpers",
           "firestream_core.plugin.manager",
           "firestream_core.plugin.crds", "firestream_core.plugin.checks", "firestream_core.deploy.results",
           "firestream_core.deploy.plan", "firestream_core.deploy.desired", "firestream_core.project", "firestream_core.tools.release_log",
           "firestream_core.tools.kubetool", "firestream_core.deploy.scheduler", "firestream_core.tools.coalesce",
           "firestream_core.tools.helm_errors", "firestream_core.tools.helm_output", "firestream_core.lazy",
           "firestream_core.tools.redact", "firestream_core.tools.kubeconfig", "firestream_core.deploy.saved",
           "firestream_core.tools.manifests", "firestream_core.graph", "firestream_core.secret_keys",
           "firestream_core.state.lock", "firestream_core.state.store", "firestream_core.tools.readfile",
           "firestream_core.tools.digest", "firestream_core.cli.progress", "firestream_core.tools.cache_folder", "firestream_core.tools.host",
           "firestream_core.tools.helm_repos", "firestream_core.tools.kubectl", "firestream_core.deploy.run"]
FLAGS = doctest.ELLIPSIS


def attribute_doctests(name: str) -> list[doctest.DocTest]:
    """The ``>>>`` examples of the module's attribute docstrings, as autodoc reads them."""
    from sphinx.pycode import ModuleAnalyzer

    module = importlib.import_module(name)
    parser = doctest.DocTestParser()
    tests = []
    for (scope, attr), lines in ModuleAnalyzer.for_module(name).find_attr_docs().items():
        text = "\n".join(lines)
        if scope == "" and ">>>" in text:
            tests.append(parser.get_doctest(text, dict(vars(module)), f"{name}.{attr}", module.__file__, 0))
    return tests


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in attribute_doctests(name):
        runner.run(test)
    failed += runner.failures
    attempted += runner.tries
    assert attempted > 0
    assert failed == 0


def test_every_module_with_examples_runs_them() -> None:
    """A ``>>>`` example in a module left out of MODULES would never run."""
    root = Path(__file__).resolve().parents[2]
    found = {
        ".".join(path.relative_to(root).with_suffix("").parts)
        for path in (root / "firestream_core").rglob("*.py")
        if ">>> " in path.read_text(encoding="utf-8")
    }
    assert sorted(found - set(MODULES)) == []


def _plugin_modules_with_examples() -> list[str]:
    """The built-in chart plugins' modules holding a ``>>>`` example (``plugins/<dist>/<package>/``)."""
    root = Path(__file__).resolve().parents[2] / "plugins"
    return sorted(
        ".".join(path.relative_to(path.parents[1]).with_suffix("").parts)
        for path in root.glob("*/firestream_*/*.py")
        if ">>> " in path.read_text(encoding="utf-8")
    )


@pytest.mark.parametrize("name", _plugin_modules_with_examples())
def test_plugin_docstring_examples_run(name: str) -> None:
    """The chart plugins' examples run too (their packages are installed beside the core)."""
    failed, attempted = doctest.testmod(importlib.import_module(name), optionflags=FLAGS, verbose=False)
    assert attempted > 0
    assert failed == 0


def test_attribute_docstring_examples_are_found() -> None:
    names = {t.name for t in attribute_doctests("firestream_core.plugin.markers")}
    assert {"firestream_core.plugin.markers.hookimpl", "firestream_core.plugin.markers.NAME"} <= names
