"""The nginx-ingress chart type without a cluster: defaults, presets, registration, config."""

from __future__ import annotations

from pathlib import Path

from firestream_chart_nginx_ingress import NginxIngressChart

from firestream_core.config.build import build_charts
from firestream_core.config.load import load_config
from firestream_core.config.plugin_check import check_plugins
from firestream_core.model import ChartSetValue, HelmChartNamespace
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.tools.values import merged_values


def test_defaults_are_the_originals() -> None:
    for chart in (NginxIngressChart(), NginxIngressChart.default()):
        info = chart.get_chart_info()
        assert (info.name, info.repository, info.chart, info.version) == (
            "nginx-ingress", "ingress-nginx", "ingress-nginx", "4.15.1",
        )
        assert info.namespace is HelmChartNamespace.NGINX_INGRESS
        controller = merged_values(info)["controller"]
        assert controller["service"] == {"type": "LoadBalancer"}
        assert controller["metrics"] == {"enabled": True, "serviceMonitor": {"enabled": True}}
        assert controller["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}
        assert "hostNetwork" not in controller


def test_k3d_local_uses_host_network_and_the_default_ingress_class() -> None:
    controller = merged_values(NginxIngressChart.k3d_local().chart_info)["controller"]
    assert controller["service"] == {"type": "ClusterIP"}
    assert controller["hostNetwork"] is True
    assert controller["ingressClassResource"] == {"default": True}
    assert controller["metrics"]["enabled"] is True


def test_python_edits_override_the_preset() -> None:
    nginx = NginxIngressChart.k3d_local()
    nginx.get_chart_info_mut().values.append(ChartSetValue("controller.hostNetwork", "false"))
    assert merged_values(nginx.chart_info)["controller"]["hostNetwork"] is False


def test_registered_through_the_entry_point() -> None:
    manager = get_plugin_manager()
    reg = manager.chart_type("nginx-ingress")
    assert reg.distribution == "firestream-chart-nginx-ingress"
    assert reg.chart_type.chart_class is NginxIngressChart
    assert set(reg.chart_type.presets) == {"default", "k3d_local"}
    assert reg.chart_type.repositories == {
        "ingress-nginx": "https://kubernetes.github.io/ingress-nginx"
    }
    assert not [p for p in check_plugins(manager) if "nginx-ingress" in p]


def test_config_preset_and_repository_override(tmp_path: Path) -> None:
    path = tmp_path / "firestream.toml"
    path.write_text(
        """
[repositories]
ingress-nginx = "https://charts.mirror.internal/ingress-nginx"

[[deployments.nginx-ingress]]
preset = "k3d_local"
timeout = "2m"

[deployments.nginx-ingress.values]
controller.ingressClassResource.name = "public"
"""
    )
    config = load_config(path)
    (chart,) = build_charts(config, get_plugin_manager())
    assert isinstance(chart, NginxIngressChart)
    assert chart.chart_info.timeout == "2m"
    controller = merged_values(chart.chart_info)["controller"]
    assert controller["ingressClassResource"] == {"default": True, "name": "public"}
    assert config.repositories == {"ingress-nginx": "https://charts.mirror.internal/ingress-nginx"}


def test_python_and_the_config_name_the_release_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "firestream.toml"
    path.write_text('[[deployments.nginx-ingress]]\n\n[[deployments.nginx-ingress]]\nname = "edge"\npreset = "k3d_local"\n')
    default, named = build_charts(load_config(path), get_plugin_manager())
    assert {c.chart_info.name for c in (default, NginxIngressChart(), NginxIngressChart.default(),
                                         NginxIngressChart.k3d_local())} == {"nginx-ingress"}
    assert named.chart_info.name == "edge"
