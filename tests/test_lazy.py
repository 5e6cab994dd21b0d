"""Re-exported names imported on first use (``firestream_core/lazy.py``): the package root,
the chart authors' surface and ``project`` share one ``__getattr__`` body."""

from __future__ import annotations

import pytest

from firestream_core.lazy import lazy_attribute
from tests.cli.test_main import run_py


def test_a_name_is_imported_when_first_asked_for_and_kept_in_the_modules_globals() -> None:
    r = run_py("""
        import sys
        import firestream_core, firestream_core.project as project
        before = "firestream_core.deploy.run" in sys.modules
        run = project.Run  # the run's module, imported now
        print(before, "firestream_core.deploy.run" in sys.modules, vars(project)["Run"] is run,
              firestream_core.ConfigError.__module__)
        """)
    assert r.stdout.split() == ["False", "True", "True", "firestream_core.errors"], r.stderr


@pytest.mark.parametrize("module", ["firestream_core", "firestream_core.plugin", "firestream_core.project"])
def test_an_unknown_name_is_an_attribute_error_naming_the_module(module: str) -> None:
    import importlib

    with pytest.raises(AttributeError, match=rf"^module '{module}' has no attribute 'no_such_name'$"):
        importlib.import_module(module).no_such_name  # noqa: B018


def test_the_helper_keeps_what_it_imported() -> None:
    space: dict[str, object] = {"__name__": "example"}
    value = lazy_attribute(space, {"SemVer": "model"}, "SemVer")
    from firestream_core.model import SemVer

    assert value is SemVer and space["SemVer"] is SemVer
