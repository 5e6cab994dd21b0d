"""The plugin cache: entry points and chart types remembered, plugins imported only when used."""

from __future__ import annotations

import os
import sys
import time

import pytest

from firestream_core.errors import UnknownChartTypeError
from firestream_core.plugin import cache as plugin_cache
from firestream_core.plugin.manager import get_plugin_manager
from tests.conftest import chart_plugin_source

CROSS = """
from firestream_core import hookimpl

@hookimpl
def validate(chart, context, payload):
    return []
"""


@pytest.fixture
def cached(fake_dists, tmp_path, monkeypatch):
    """``fake_dists`` with the cache on, in a folder of this test; counts the slow scans."""
    monkeypatch.setenv("FIRESTREAM_PLUGIN_CACHE", "on")
    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path / "cache"))
    scans: list[int] = []
    real = plugin_cache.scan_entry_points

    def counting():
        scans.append(1)
        return real()

    monkeypatch.setattr("firestream_core.plugin.manager.scan_entry_points", counting)
    fake_dists.scans = scans
    return fake_dists


def test_second_manager_neither_scans_nor_imports_until_a_chart_type_is_used(cached) -> None:
    demo = cached.plugin("firestream-chart-demo", "demo", chart_plugin_source("demo", "DemoChart"))
    other = cached.plugin("firestream-chart-other", "other", chart_plugin_source("other", "OtherChart"))
    first = get_plugin_manager(disabled=["defaults"])
    before = [i.to_dict() for i in first.plugin_infos()]
    assert len(cached.scans) == 1 and demo in sys.modules and other in sys.modules

    del sys.modules[demo], sys.modules[other]
    second = get_plugin_manager(disabled=["defaults"])
    assert len(cached.scans) == 1  # entry points from the cache
    assert demo not in sys.modules and other not in sys.modules
    assert [i.to_dict() for i in second.plugin_infos()] == before  # listed without importing
    assert second.chart_type("demo").plugin_name == "demo"
    assert demo in sys.modules and other not in sys.modules  # only the plugin of the type used
    assert sorted(second.chart_types) == ["demo", "generic", "other"]  # asking for all imports all
    assert other in sys.modules


def test_a_plugin_without_chart_types_is_imported_before_the_first_hook_call(cached) -> None:
    cross = cached.plugin("firestream-audit", "audit", CROSS)
    get_plugin_manager(disabled=["defaults"])
    del sys.modules[cross]
    m = get_plugin_manager(disabled=["defaults"])
    assert cross not in sys.modules
    caller = m.hook_caller("validate", "generic")
    assert cross in sys.modules
    # the cross-cutting plugin, beside the built-in that calls a chart class's own methods
    assert sorted(impl.plugin_name for impl in caller.get_hookimpls()) == ["audit", "chart-methods"]


def test_a_changed_plugin_file_is_imported_again(cached) -> None:
    mod = cached.plugin("firestream-chart-demo", "demo", chart_plugin_source("demo", "DemoChart"))
    get_plugin_manager(disabled=["defaults"])
    path = cached.src / f"{mod}.py"
    path.write_text(chart_plugin_source("renamed", "DemoChart"))
    later = time.time() + 5
    os.utime(path, (later, later))
    del sys.modules[mod]
    m = get_plugin_manager(disabled=["defaults"])
    assert mod in sys.modules  # the cached record no longer matches its file
    assert [i.chart_types for i in m.plugin_infos() if i.name == "demo"] == [("renamed",)]


def test_a_new_distribution_is_seen_and_a_broken_plugin_is_never_remembered(cached, monkeypatch) -> None:
    cached.plugin("firestream-chart-demo", "demo", chart_plugin_source("demo", "DemoChart"))
    get_plugin_manager(disabled=["defaults"])
    cached.plugin("firestream-chart-bad", "bad", "raise RuntimeError('kaboom')\n")
    # installing a distribution changes a sys.path folder's modification time
    monkeypatch.setattr(plugin_cache, "_fingerprint", lambda: [["changed"]])
    for _ in range(2):
        m = get_plugin_manager(disabled=["defaults"])
        assert [b.cause for b in m.broken] == ["import failed: RuntimeError: kaboom"]
    assert len(cached.scans) == 2


def test_two_remembered_providers_of_one_type_still_clash(cached) -> None:
    a = cached.plugin("dist-a", "a", chart_plugin_source("same", "AChart"))
    get_plugin_manager(disabled=["defaults"])
    b = cached.plugin("dist-b", "b", chart_plugin_source("same", "BChart"))
    cached.scans.clear()
    plugin_cache.PluginCache().path.unlink()  # the new distribution: scanned again
    get_plugin_manager(disabled=["defaults"])
    del sys.modules[a], sys.modules[b]
    m = get_plugin_manager(disabled=["defaults"])
    assert "registered by more than one plugin" in " ".join(m.problems())
    with pytest.raises(Exception, match="more than one plugin"):
        m.chart_type("same")


def test_cache_off_scans_every_time(fake_dists, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path / "cache"))
    fake_dists.plugin("firestream-chart-demo", "demo", chart_plugin_source("demo", "DemoChart"))
    m = get_plugin_manager(disabled=["defaults"])
    assert m.chart_type("demo").plugin_name == "demo"
    assert not (tmp_path / "cache").exists()
    with pytest.raises(UnknownChartTypeError):
        m.chart_type("nothing")
