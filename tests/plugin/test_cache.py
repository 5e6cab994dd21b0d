"""The plugin cache: entry points and chart types remembered, plugins imported only when used."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

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
    # importing a module written straight into a sys.path folder would create that folder's
    # __pycache__ and so change the installation's fingerprint: the scans counted here would
    # then depend on PYTHONDONTWRITEBYTECODE
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
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


def test_an_unknown_chart_type_is_refused_without_importing_every_plugin(cached) -> None:
    """A release keyed ``[deployments.web]`` with a chart is looked up as chart type ``web``
    first: refusing it must not import the installed plugins."""
    demo = cached.plugin("firestream-chart-demo", "demo", chart_plugin_source("demo", "DemoChart"))
    other = cached.plugin("firestream-chart-other", "other", chart_plugin_source("other", "OtherChart"))
    get_plugin_manager(disabled=["defaults"])
    del sys.modules[demo], sys.modules[other]
    m = get_plugin_manager(disabled=["defaults"])
    with pytest.raises(UnknownChartTypeError, match=r"\(installed chart types: demo, generic, other\)"):
        m.chart_type("web")
    assert demo not in sys.modules and other not in sys.modules
    assert m.chart_type_names() == sorted(m.chart_types) == ["demo", "generic", "other"]  # imports all


def test_importing_a_remembered_plugin_again_does_not_rewrite_the_cache(cached) -> None:
    demo = cached.plugin("firestream-chart-demo", "demo", chart_plugin_source("demo", "DemoChart"))
    get_plugin_manager(disabled=["defaults"])
    del sys.modules[demo]
    get_plugin_manager(disabled=["defaults"]).chart_type("demo")  # the generic plugin and demo imported
    path = Path(plugin_cache.PluginCache().path)
    before = path.stat().st_ino, path.read_text()
    del sys.modules[demo]
    m = get_plugin_manager(disabled=["defaults"])
    assert m.chart_type("demo").plugin_name == "demo" and demo in sys.modules
    assert (path.stat().st_ino, path.read_text()) == before  # written atomically: a new inode


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
    os.unlink(plugin_cache.PluginCache().path)  # the new distribution: scanned again
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


# -- invalidation by real installs: distributions on sys.path, the real importlib_metadata scan ----


class Site:
    """A ``sys.path`` folder where distributions are installed, upgraded and removed the way
    pip does it (a ``name-version.dist-info`` folder beside the module), seen through the real
    ``importlib_metadata`` scan, with the cache on and the slow scans counted."""

    def __init__(self, root, monkeypatch) -> None:
        self.root = root
        self.modules: list[str] = []
        monkeypatch.syspath_prepend(str(root))
        self.monkeypatch = monkeypatch

    def install(self, dist: str, version: str, ep_name: str, source: str) -> str:
        module = f"fs_site_{dist.replace('-', '_')}"
        (self.root / f"{module}.py").write_text(source)
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[firestream.charts]\n{ep_name} = {module}\n")
        self.monkeypatch.delitem(sys.modules, module, raising=False)
        self.modules.append(module)
        self.fresh_process()
        return module

    def remove(self, dist: str, version: str) -> None:
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        for f in info.iterdir():
            f.unlink()
        info.rmdir()
        self.fresh_process()

    def fresh_process(self) -> None:
        """What a new ``firestream`` process would not have: imported plugin modules and
        importlib's own in-process caches of folder listings."""
        import importlib

        import importlib_metadata

        for m in self.modules:
            sys.modules.pop(m, None)
        importlib.invalidate_caches()
        importlib_metadata.MetadataPathFinder.invalidate_caches()


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.delenv("FIRESTREAM_DISABLE_PLUGINS", raising=False)
    monkeypatch.setenv("FIRESTREAM_PLUGIN_CACHE", "on")
    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "site"
    root.mkdir()
    (root / "__pycache__").mkdir()  # as in site-packages: importing a module does not change the folder
    s = Site(root, monkeypatch)
    scans: list[int] = []
    real = plugin_cache.scan_entry_points

    def counting():
        scans.append(1)
        return real()

    monkeypatch.setattr("firestream_core.plugin.manager.scan_entry_points", counting)
    s.scans = scans  # type: ignore[attr-defined]
    return s


def _listed(name: str) -> list[tuple[str | None, str | None, tuple[str, ...]]]:
    m = get_plugin_manager(disabled=["defaults"])
    return [(i.distribution, i.version, i.chart_types) for i in m.plugin_infos() if i.name == name]


def test_installing_a_plugin_distribution_is_seen_by_the_next_run(site) -> None:
    assert _listed("sitedemo") == []
    assert _listed("sitedemo") == []
    assert len(site.scans) == 1  # nothing changed: the second run used the cache
    site.install("fs-site-demo", "1.0.0", "sitedemo", chart_plugin_source("sitedemo", "SiteChart"))
    assert _listed("sitedemo") == [("fs-site-demo", "1.0.0", ("sitedemo",))]
    assert len(site.scans) == 2
    site.fresh_process()
    assert _listed("sitedemo") == [("fs-site-demo", "1.0.0", ("sitedemo",))]  # from the cache
    assert len(site.scans) == 2


def test_upgrading_a_plugin_distribution_is_seen_by_the_next_run(site) -> None:
    site.install("fs-site-demo", "1.0.0", "sitedemo", chart_plugin_source("sitedemo", "SiteChart"))
    assert _listed("sitedemo") == [("fs-site-demo", "1.0.0", ("sitedemo",))]
    # pip's upgrade: the old metadata folder removed, the new version's written, new code
    site.remove("fs-site-demo", "1.0.0")
    site.install("fs-site-demo", "2.0.0", "sitedemo", chart_plugin_source("sitedemo2", "SiteChart"))
    assert _listed("sitedemo") == [("fs-site-demo", "2.0.0", ("sitedemo2",))]
    m = get_plugin_manager(disabled=["defaults"])
    assert m.chart_type("sitedemo2").version == "2.0.0"
    with pytest.raises(UnknownChartTypeError):
        m.chart_type("sitedemo")


def test_removing_a_plugin_distribution_is_seen_by_the_next_run(site) -> None:
    site.install("fs-site-demo", "1.0.0", "sitedemo", chart_plugin_source("sitedemo", "SiteChart"))
    assert _listed("sitedemo") == [("fs-site-demo", "1.0.0", ("sitedemo",))]
    site.remove("fs-site-demo", "1.0.0")
    assert _listed("sitedemo") == []
    with pytest.raises(UnknownChartTypeError):
        get_plugin_manager(disabled=["defaults"]).chart_type("sitedemo")


def test_a_change_within_one_tick_of_the_folder_time_is_still_seen(site) -> None:
    """The folder's modification time may not move (file times advance in ticks): the
    metadata folders' names still tell the installations apart."""
    site.install("fs-site-demo", "1.0.0", "sitedemo", chart_plugin_source("sitedemo", "SiteChart"))
    assert _listed("sitedemo") == [("fs-site-demo", "1.0.0", ("sitedemo",))]
    before = os.stat(site.root)
    site.remove("fs-site-demo", "1.0.0")
    site.install("fs-site-demo", "1.0.1", "sitedemo", chart_plugin_source("sitedemo", "SiteChart"))
    os.utime(site.root, ns=(before.st_atime_ns, before.st_mtime_ns))  # as if in the same tick
    site.fresh_process()
    assert _listed("sitedemo") == [("fs-site-demo", "1.0.1", ("sitedemo",))]


def test_the_fingerprint_is_taken_before_the_scan(site, monkeypatch) -> None:
    """A distribution installed while a run scans is seen by the next run."""
    real = plugin_cache.scan_entry_points
    installed: list[str] = []

    def scan_then_install():
        found = real()
        if not installed:  # pip finishes while this run is scanning
            installed.append(site.install("fs-site-late", "1.0.0", "sitelate",
                                          chart_plugin_source("sitelate", "LateChart")))
        return found

    monkeypatch.setattr("firestream_core.plugin.manager.scan_entry_points", scan_then_install)
    assert _listed("sitelate") == []
    assert _listed("sitelate") == [("fs-site-late", "1.0.0", ("sitelate",))]


def test_a_folder_without_distributions_may_change_without_a_new_scan(tmp_path, monkeypatch) -> None:
    """The project folder is on ``sys.path`` ('' for ``python -c``) and every run writes its
    state there: its time moving must not throw the remembered entry points away, while a
    distribution installed into it must."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path])
    before = plugin_cache._fingerprint()
    (folder / ".firestream").mkdir()
    st = os.stat(folder)
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert plugin_cache._fingerprint() == before
    (folder / "fs_late-1.0.0.dist-info").mkdir()
    assert plugin_cache._fingerprint() != before


def test_the_folder_python_m_puts_first_on_sys_path_does_not_name_the_cache(tmp_path, monkeypatch) -> None:
    """``python -m`` (and a script) put the current (the script's) folder first on ``sys.path``:
    run from two folders without distributions, firestream uses one cache file and finds its
    entry points there; a folder holding a distribution has a file of its own."""
    here, there, site = tmp_path / "here", tmp_path / "there", tmp_path / "site"
    for folder in (here, there, site):
        folder.mkdir()
    (site / "fs_site-1.0.0.dist-info").mkdir()
    rest = list(sys.path)
    monkeypatch.setattr(sys, "path", [str(here), *rest])
    first = plugin_cache.PluginCache()
    first.entry_points()
    first.set_entry_points([plugin_cache.EntryPointRecord("demo", "demo_mod:Demo", "fs-demo", "1.0")])
    first.save()
    monkeypatch.setattr(sys, "path", [str(there), *rest])
    second = plugin_cache.PluginCache()
    assert second.path == first.path
    assert second.entry_points() == [plugin_cache.EntryPointRecord("demo", "demo_mod:Demo", "fs-demo", "1.0")]
    monkeypatch.setattr(sys, "path", [str(site), *rest])
    assert plugin_cache.PluginCache().path != first.path


def test_writing_the_cache_removes_firestreams_cache_files_nobody_wrote_for_a_month(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path))
    month = plugin_cache.STALE_DAYS * 86400
    files = {name: tmp_path / name for name in ("plugins-00000001.json", "plugins-00000002.json",
                                                 ".plugins-00000003.json.99.tmp", "attrs-code-x.marshal",
                                                 "notes.txt")}
    for path in files.values():
        path.write_text("{}")
        os.utime(path, (time.time() - month - 60,) * 2)
    os.utime(files["plugins-00000002.json"])  # written just now: another environment in use
    cache = plugin_cache.PluginCache()
    cache.entry_points()
    cache.set_entry_points([])
    cache.save()
    left = sorted(p.name for p in tmp_path.iterdir())
    # firestream's stale cache files go (another environment's, a crashed write's, an old code
    # cache's); the one in use this month and what is not a cache of firestream's stay
    assert left == sorted([os.path.basename(cache.path), "plugins-00000002.json", "notes.txt"])
