"""plugin/helpers.py: needs_crd, a preset's ServiceMonitor and its CRD (no cluster: stand-in tools)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs

from firestream_core.model import ChartInfo, ChartSetValue, HelmChart
from firestream_core.plugin.helpers import (
    needs_crd,
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
