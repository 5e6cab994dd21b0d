"""The examples in the docstrings (``>>>``) run, so the API reference cannot show a wrong one."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["firestream_core.model", "firestream_core.plugin.chart_methods", "firestream_core.plugin.secrets",
           "firestream_core.plugin.presets"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert attempted > 0
    assert failed == 0
