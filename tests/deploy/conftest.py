"""Fixtures for the lifecycle's unit tests: a fake helm layer and a context on it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from firestream_core.model import ChartInfo, HelmChart, ReleaseSettings
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.generic import GenericChart
from firestream_core.plugin.manager import FirestreamPluginManager, get_plugin_manager
from firestream_core.tools.redact import Redactor

from .fakes import FakeHelm, FakeKubectl


@pytest.fixture
def helm() -> FakeHelm:
    return FakeHelm()


@pytest.fixture
def kubectl() -> FakeKubectl:
    return FakeKubectl()


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def make_context(helm: FakeHelm, kubectl: FakeKubectl, redactor: Redactor, tmp_path: Path):
    def make(**kw: Any) -> DeployContext:
        kw.setdefault("project_dir", tmp_path)
        kw.setdefault("redactor", redactor)
        kw.setdefault("log", logging.getLogger("firestream.test"))
        settings = {"validation_interval": 0.01, **kw.pop("settings", {})}
        return DeployContext(helm=helm, kubectl=kubectl, settings=settings, **kw)  # type: ignore[arg-type]

    return make


@pytest.fixture
def context(make_context) -> DeployContext:
    return make_context()


def make_manager(*plugins: Any) -> FirestreamPluginManager:
    """A fresh manager with the built-ins and ``plugins``, no entry points, no disable list."""
    m = get_plugin_manager(load_entry_points=False, extra_plugins=plugins, environ={})
    assert not m.problems(), m.problems()
    return m


@pytest.fixture
def manager() -> FirestreamPluginManager:
    return make_manager()


def generic(name: str = "web", settings: ReleaseSettings | None = None, **info: Any) -> HelmChart:
    info.setdefault("chart", "./chart")
    chart = GenericChart(ChartInfo(name=name, **info))
    if settings is not None:
        chart.settings = settings
    return chart


@pytest.fixture
def chart_dir(tmp_path: Path) -> Path:
    d = tmp_path / "chart"
    d.mkdir()
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: chart\nversion: 0.1.0\n")
    return d
