"""plugin/helpers.py: the helpers every chart plugin shares (no cluster: stand-in tools)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs

from firestream_core.model import ChartInfo, ChartSetValue, HelmChart, InstalledRelease
from firestream_core.plugin.helpers import (
    current_release,
    is_dry_run,
    needs_crd,
    options_of,
    value_of,
)
from firestream_core.plugin.presets import preset_values


@attrs.frozen
class Opts:
    size: int = 3


class Kubectl:
    def __init__(self, crds: set[str]) -> None:
        self.crds = crds

    def get(self, kind: str, name: str, **_: Any) -> dict[str, Any] | None:
        assert kind == "customresourcedefinition"
        return {"metadata": {"name": name}} if name in self.crds else None


def context(tmp_path: Path, *, crds: set[str] = frozenset(), **kw: Any) -> Any:
    fields = {"project_dir": tmp_path, "dry_run": False, "installed": None, "change": None,
              "kubectl": Kubectl(set(crds)), "log": logging.getLogger("test"), "helm": None}
    return SimpleNamespace(**{**fields, **kw})


def test_options_of_falls_back_to_the_defaults() -> None:
    assert options_of(HelmChart(ChartInfo(name="a"), options=Opts(5)), Opts) == Opts(5)
    assert options_of(HelmChart(ChartInfo(name="a")), Opts) == Opts()


def test_value_of_reads_what_helm_will_see(tmp_path: Path) -> None:
    info = ChartInfo(name="a", values=[ChartSetValue("metrics.enabled", "true")])
    chart = HelmChart(info)
    assert value_of(chart, context(tmp_path), "metrics.enabled") is True
    assert value_of(chart, context(tmp_path), "metrics.port", 9100) == 9100


def test_is_dry_run_for_the_run_or_the_release(tmp_path: Path) -> None:
    assert not is_dry_run(HelmChart(ChartInfo(name="a")), context(tmp_path))
    assert is_dry_run(HelmChart(ChartInfo(name="a")), context(tmp_path, dry_run=True))
    assert is_dry_run(HelmChart(ChartInfo(name="a", dry_run=True)), context(tmp_path))


def test_current_release_is_the_plans_view_else_one_helm_list(tmp_path: Path) -> None:
    mine = InstalledRelease("a", "shop", 2, "deployed", "a-1.0.0")
    other = InstalledRelease("a", "elsewhere", 1, "deployed", "a-1.0.0")
    chart = HelmChart(ChartInfo(name="a", namespace="shop"))
    assert current_release(chart, context(tmp_path, installed=mine)) is mine
    helm = SimpleNamespace(list_releases=lambda: [other, mine])
    assert current_release(chart, context(tmp_path, helm=helm)) == mine
    assert current_release(chart, context(tmp_path, change=object(), helm=None)) is None  # planned: absent


def test_a_presets_servicemonitor_is_turned_off_without_its_crd_and_kept_with_it(tmp_path: Path) -> None:
    crd = "servicemonitors.monitoring.coreos.com"
    key = "metrics.serviceMonitor.enabled"

    def chart() -> HelmChart:
        return HelmChart(ChartInfo(name="db", yaml_files_content=[
            preset_values("postgresql", "default", {"metrics": {"serviceMonitor": {"enabled": True}}})]))

    with_crd = chart()
    assert needs_crd(with_crd, context(tmp_path, crds={crd}), key, crd, provider="prometheus-operator") is None
    assert with_crd.chart_info.values == []

    without = chart()
    reason = needs_crd(without, context(tmp_path), key, crd, provider="prometheus-operator")
    assert reason is not None and reason.startswith("off: ") and crd in reason
    assert without.chart_info.values == [ChartSetValue(key, "false")]


def test_a_servicemonitor_the_user_set_without_its_crd_is_a_problem(tmp_path: Path) -> None:
    crd = "servicemonitors.monitoring.coreos.com"
    key = "metrics.serviceMonitor.enabled"
    chart = HelmChart(ChartInfo(name="db", values=[ChartSetValue(key, "true")]))
    problem = needs_crd(chart, context(tmp_path), key, crd, provider="prometheus-operator")
    assert problem is not None and problem.startswith("release 'db': ") and "set " + key in problem
    assert chart.chart_info.values == [ChartSetValue(key, "true")]  # the user's value is not changed
