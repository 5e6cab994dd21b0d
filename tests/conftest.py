"""Fixtures shared by every test folder.

The plugin-manager fixtures (``fake_dists``, ``no_entry_points``, ``manager``,
``write_config``) and :func:`chart_plugin_source` serve the plugin, config and
CLI tests.

``fake_dists`` writes real ``*.dist-info`` folders (METADATA and
``entry_points.txt``) and plugin modules into ``tmp_path`` and makes
``importlib_metadata.entry_points`` see only those, so broken, mismatched,
too-new and duplicate plugins are loaded through the same code path as
installed ones, without touching the environment.
"""

from __future__ import annotations

import itertools
import logging
import sys
import textwrap
from pathlib import Path
from typing import Any

import importlib_metadata
import pytest

from firestream_core.plugin.manager import FirestreamPluginManager, get_plugin_manager

_counter = itertools.count()


class FakeDists:
    """Builds fake installed distributions whose entry points the plugin manager loads."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.src = root / "src"
        self.src.mkdir()
        self.site = root / "site"
        self.site.mkdir()
        self.dists: list[importlib_metadata.Distribution] = []
        monkeypatch.syspath_prepend(str(self.src))
        monkeypatch.setattr(importlib_metadata, "entry_points", self._entry_points)
        self._modules: list[str] = []
        self._monkeypatch = monkeypatch

    def _entry_points(self, **params: Any) -> importlib_metadata.EntryPoints:
        eps = [ep for d in self.dists for ep in d.entry_points]
        return importlib_metadata.EntryPoints(eps).select(**params)

    def module(self, source: str, name: str | None = None) -> str:
        """Write a plugin module; returns its (unique) import name."""
        name = name or f"fs_fake_plugin_{next(_counter)}"
        (self.src / f"{name}.py").write_text(textwrap.dedent(source))
        self._modules.append(name)
        self._monkeypatch.delitem(sys.modules, name, raising=False)
        return name

    def dist(self, dist_name: str, version: str, entry_points: dict[str, str]) -> None:
        """A distribution ``dist_name`` declaring ``entry_points`` (name -> module[:attr])."""
        info = self.site / f"{dist_name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n"
        )
        lines = ["[firestream.charts]"] + [f"{k} = {v}" for k, v in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        self.dists.append(importlib_metadata.PathDistribution(info))

    def plugin(self, dist_name: str, ep_name: str, source: str, version: str = "1.0.0") -> str:
        """A module plus a distribution with one entry point to it; returns the module name."""
        mod = self.module(source)
        self.dist(dist_name, version, {ep_name: mod})
        return mod


@pytest.fixture
def fake_dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDists:
    """Fake installed distributions; only they are seen as entry points."""
    monkeypatch.delenv("FIRESTREAM_DISABLE_PLUGINS", raising=False)
    monkeypatch.setenv("FIRESTREAM_PLUGIN_CACHE", "off")
    return FakeDists(tmp_path, monkeypatch)


@pytest.fixture
def no_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """No installed plugin is seen (tests that must not depend on what is installed)."""
    monkeypatch.delenv("FIRESTREAM_DISABLE_PLUGINS", raising=False)
    monkeypatch.setenv("FIRESTREAM_PLUGIN_CACHE", "off")
    monkeypatch.setattr(
        importlib_metadata, "entry_points", lambda **p: importlib_metadata.EntryPoints([])
    )


@pytest.fixture
def manager(no_entry_points: None) -> FirestreamPluginManager:
    """A fresh manager with the built-ins only (``defaults`` blocked: no helm here)."""
    return get_plugin_manager(disabled=["defaults"])


CHART_PLUGIN = '''

import attrs

from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl

FIRESTREAM_PLUGIN_API = 1


@attrs.frozen
class Options:
    delete_crds: bool = True
    operator_replicas: int = 1


@attrs.define
class {cls}(HelmChart):
    chart_type = "{ctype}"

    @classmethod
    def default(cls):
        return cls(ChartInfo(name="{ctype}", chart="{chart}", version="1.2.3",
                             namespace="{ns}", timeout="600s"), options=Options())

    @classmethod
    def development(cls):
        chart = cls.default()
        chart.chart_info.timeout = "120s"
        chart.options = Options(delete_crds=False)
        return chart


@hookimpl
def register_chart_types(register):
    register(ChartType(name="{ctype}", chart_class={cls}, options=Options,
                       presets={{"development": {cls}.development}},
                       repositories={{"demo": "https://charts.example.com"}}))
'''


def chart_plugin_source(
    ctype: str = "demo", cls: str = "DemoChart", chart: str = "demo/demo", ns: str = "demo"
) -> str:
    """Source of a small chart plugin registering ``ctype`` with options and a preset."""
    return CHART_PLUGIN.format(ctype=ctype, cls=cls, chart=chart, ns=ns)


@pytest.fixture
def write_config(tmp_path: Path):
    """Write ``firestream.toml`` (dedented) into a fresh folder; returns its path."""

    def write(text: str, name: str = "firestream.toml") -> Path:
        d = tmp_path / "project"
        d.mkdir(exist_ok=True)
        p = d / name
        p.write_text(textwrap.dedent(text))
        return p

    return write


@pytest.fixture(autouse=True)
def _restore_firestream_logging():
    """``firestream_core.cli.main.main()`` run in-process configures the ``firestream``
    and ``firestream_core`` loggers (own handler, no propagation, redactors) and puts its
    handler on the root logger, and levels the plugins' loggers: undo it after each test so later tests' ``caplog`` sees records
    again and no handler of an earlier test's is left on the root."""
    from firestream_core.cli import logs

    loggers = [logging.getLogger(name) for name in (logs.LOGGER_NAME, logs.CORE_LOGGER_NAME)]
    loggers.append(logging.getLogger())
    saved = [(list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    handler, redactors = logs._handler, list(logs._redactors)
    yield
    for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate
    logs._handler = handler
    logs._redactors[:] = redactors
    for name in logs._leveled:  # the plugins' loggers show_plugin_loggers leveled
        logging.getLogger(name).setLevel(logging.NOTSET)
    logs._leveled.clear()
