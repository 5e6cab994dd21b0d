"""The external-dns chart type without a cluster: defaults, presets, registration, config."""

from __future__ import annotations

from pathlib import Path

from firestream_chart_external_dns import ExternalDnsChart

from firestream_core.config.build import build_charts
from firestream_core.config.load import load_config
from firestream_core.config.plugin_check import check_plugins
from firestream_core.model import ChartInfo, HelmChartNamespace
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.tools.values import merged_values


def test_defaults_are_the_originals() -> None:
    for chart in (ExternalDnsChart(), ExternalDnsChart.default()):
        info = chart.get_chart_info()
        assert (info.name, info.repository, info.chart, info.version) == (
            "external-dns", "bitnami", "external-dns", "9.0.4",
        )
        assert info.namespace is HelmChartNamespace.KUBE_SYSTEM
        values = merged_values(info)
        assert values["provider"] == "aws"
        assert values["policy"] == "sync"
        assert values["sources"] == ["service", "ingress"]
        assert values["resources"]["limits"] == {"cpu": "50m", "memory": "100Mi"}


def test_local_uses_the_inmemory_provider_with_a_txt_registry() -> None:
    values = merged_values(ExternalDnsChart.local().chart_info)
    # one of ExternalDNS's --provider values (the seed's "noop" is none: the controller would not start)
    assert values["provider"] == "inmemory"
    assert values["registry"] == "txt"
    assert values["txtOwnerId"] == "firestream-local"
    assert values["sources"] == ["service", "ingress"]


def test_positional_chart_info_still_works() -> None:
    chart = ExternalDnsChart(ChartInfo(name="dns", chart="external-dns"))
    assert chart.chart_info.name == "dns" and chart.options is None


def test_registered_through_the_entry_point() -> None:
    manager = get_plugin_manager()
    reg = manager.chart_type("external-dns")
    assert reg.distribution == "firestream-chart-external-dns"
    assert reg.chart_type.chart_class is ExternalDnsChart
    assert set(reg.chart_type.presets) == {"default", "local"}
    assert reg.chart_type.repositories == {"bitnami": "https://charts.bitnami.com/bitnami"}
    assert not [p for p in check_plugins(manager) if "external-dns" in p]


def test_config_preset_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "firestream.toml"
    path.write_text(
        """
[[deployments.external-dns]]
preset = "local"
namespace = "dns"

[deployments.external-dns.values]
txtOwnerId = "team-a"
domainFilters = ["example.org"]
"""
    )
    (chart,) = build_charts(load_config(path), get_plugin_manager())
    assert isinstance(chart, ExternalDnsChart)
    assert chart.chart_info.namespace_name == "dns"
    values = merged_values(chart.chart_info)
    # config values override the preset's
    assert values["txtOwnerId"] == "team-a"
    assert values["provider"] == "inmemory"
    assert values["domainFilters"] == ["example.org"]
