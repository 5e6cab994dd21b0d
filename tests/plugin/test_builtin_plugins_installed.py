"""The five built-in chart plugins, installed: discovered, listed, usable as the seed writes them.

They are separate distributions under ``plugins/``; the test setup installs
them (``pip install -e plugins/<name>``). A missing one fails here with the
command that installs it, rather than being skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firestream_core.config.build import build_charts
from firestream_core.config.load import load_config
from firestream_core.config.plugin_check import check_plugins
from firestream_core.plugin.manager import get_plugin_manager

ROOT = Path(__file__).resolve().parents[2]

BUILTIN: dict[str, tuple[str, str]] = {
    # chart type: (distribution, chart class)
    "prometheus-operator": ("firestream-chart-prometheus-operator", "PrometheusOperatorChart"),
    "external-dns": ("firestream-chart-external-dns", "ExternalDnsChart"),
    "nginx-ingress": ("firestream-chart-nginx-ingress", "NginxIngressChart"),
    "postgresql": ("firestream-chart-postgresql", "PostgresqlChart"),
    "kafka": ("firestream-chart-kafka", "KafkaChart"),
}

PRESETS: dict[str, set[str]] = {
    "prometheus-operator": {"default"},
    "external-dns": {"default", "local"},
    "nginx-ingress": {"default", "k3d_local"},
    "postgresql": {"default", "development", "production"},
    "kafka": {"default", "strimzi_operator"},
}


@pytest.fixture(scope="module")
def manager() -> Any:
    fpm = get_plugin_manager()
    missing = sorted(set(BUILTIN) - set(fpm.chart_types))
    if missing:
        installs = " ".join(f"-e plugins/{BUILTIN[m][0]}" for m in missing)
        pytest.fail(f"chart plugins not installed: {', '.join(missing)}; run: pip install {installs}")
    return fpm


def test_all_five_are_discovered_with_no_problem(manager: Any) -> None:
    for chart_type, (distribution, class_name) in BUILTIN.items():
        reg = manager.chart_type(chart_type)
        assert reg.distribution == distribution
        assert reg.plugin_name == chart_type  # the entry point's name is the chart type
        assert reg.chart_type.chart_class.__name__ == class_name
        assert set(reg.chart_type.presets) == PRESETS[chart_type]
        assert reg.chart_type.description
    assert manager.problems() == []
    assert check_plugins(manager) == []


def test_firestream_plugins_lists_all_five() -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "firestream_core.cli.main", "plugins", "--json"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    listed = {p["name"]: p for p in json.loads(done.stdout)["plugins"]}
    for chart_type, (distribution, _) in BUILTIN.items():
        entry = listed[chart_type]
        assert entry["distribution"] == distribution
        assert entry["chart_types"] == [chart_type]
        assert entry["builtin"] is False
        assert "register_chart_types" not in entry["hooks"]
    assert listed["kafka"]["hooks"] == [
        "contribute_values", "pre_exec", "exec", "post_exec", "validate", "on_deploy_failure"]
    assert listed["prometheus-operator"]["hooks"] == [
        "contribute_values", "check_prerequisites", "pre_exec", "exec", "post_exec", "validate",
    ]


def test_the_seeds_python_use() -> None:
    from firestream_chart_external_dns import ExternalDnsChart
    from firestream_chart_kafka import KafkaChart
    from firestream_chart_nginx_ingress import NginxIngressChart
    from firestream_chart_postgresql import PostgresqlChart
    from firestream_chart_prometheus_operator import PrometheusOperatorChart

    prometheus = PrometheusOperatorChart()
    nginx = NginxIngressChart.k3d_local()
    postgres = PostgresqlChart.development()
    assert prometheus.get_chart_info().chart == "kube-prometheus-stack"
    assert nginx.get_chart_info().name == "nginx-ingress"
    assert postgres.get_chart_info().version == "17.1.0"
    assert ExternalDnsChart.local().chart_info.namespace_name == "kube-system"
    assert KafkaChart.strimzi_operator().chart_info.version == "1.2.0"
    for chart in (prometheus, nginx, postgres):
        assert chart.get_chart_info().check() == []


def test_a_project_with_all_five(tmp_path: Path, manager: Any) -> None:
    path = tmp_path / "firestream.toml"
    path.write_text(
        """
[repositories]
bitnami = "https://charts.example.internal/bitnami"

[[deployments.prometheus-operator]]

[[deployments.external-dns]]
preset = "local"

[[deployments.nginx-ingress]]
preset = "k3d_local"
depends_on = ["prometheus-operator"]

[[deployments.postgresql]]
name = "db"
preset = "development"
depends_on = ["prometheus-operator"]

[[deployments.kafka]]
kafka_cluster = { name = "events", replicas = 3, storage = "10Gi" }
"""
    )
    config = load_config(path)
    charts = build_charts(config, manager)
    assert [c.chart_type for c in charts] == [
        "prometheus-operator", "external-dns", "nginx-ingress", "postgresql", "kafka",
    ]
    assert [c.chart_info.name for c in charts] == [
        "prometheus-operator", "external-dns", "nginx-ingress", "db", "kafka",
    ]
    assert config.repositories == {"bitnami": "https://charts.example.internal/bitnami"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "firestream_core.cli.main", "validate", "-f", str(path)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
