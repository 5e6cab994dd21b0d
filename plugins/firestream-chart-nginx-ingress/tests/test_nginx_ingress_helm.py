"""The nginx-ingress plugin through the real lifecycle, the real helm and the emulated cluster.

IngressClasses are cluster-wide and the tests of this module share one
emulated cluster, so each test uninstalls its release (and with it the
``nginx`` IngressClass) when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from firestream_chart_nginx_ingress import NginxIngressChart, validate

from firestream_core.model import ChartSetValue, ValidationStatus


@pytest.fixture(autouse=True)
def uninstall_afterwards(kube: Any) -> Iterator[None]:
    yield
    kube.run(["helm", "uninstall", "nginx-ingress", "-n", kube.namespace], check=False)


def prepare(chart: NginxIngressChart, kube: Any) -> NginxIngressChart:
    info = chart.get_chart_info_mut()
    info.namespace = kube.namespace
    info.values.append(ChartSetValue("controller.metrics.serviceMonitor.enabled", "false"))
    return chart


def by_name(results: Any) -> dict[str, Any]:
    return {r.name: r for r in results}


def test_default_preset_behind_a_load_balancer(
    kube: Any, helm_bin: Path, run_lifecycle: Callable[..., Any]
) -> None:
    result = run_lifecycle(prepare(NginxIngressChart(), kube), helm_bin)
    assert result.ok, result.error
    checks = by_name(result.validations)
    assert checks["ingress_class"].message == "IngressClass 'nginx' exists"
    # found by its labels: the Service is not called "<release>-controller"
    assert checks["controller_address"].message == (
        "load balancer ready: nginx-ingress-ingress-nginx-controller at 127.0.0.1"
    )


def test_address_is_pending_until_the_load_balancer_assigns_one(
    kube: Any, deploy_context: Any, run_lifecycle: Callable[..., Any]
) -> None:
    kube.cluster.set_loadbalancer(False)
    chart = prepare(NginxIngressChart(), kube)
    chart.chart_info.timeout = "1s"
    chart.chart_info.wait = False  # helm's own --wait would wait for the address too
    chart.chart_info.atomic = False
    context = deploy_context()
    result = run_lifecycle(chart, context=context)
    assert result.stage_failed == "validate"
    check = by_name(result.validations)["controller_address"]
    assert check.status is ValidationStatus.FAILED
    assert check.message == (
        "still pending after 1s: load-balancer address not yet assigned to service "
        "nginx-ingress-ingress-nginx-controller"
    )

    # the same check, asked again once an address is assigned, passes
    assert by_name(validate(chart, context))["controller_address"].status is ValidationStatus.PENDING
    kube.cluster.set_loadbalancer(True)
    assert by_name(validate(chart, context))["controller_address"].status is ValidationStatus.PASSED


def test_k3d_local_checks_the_default_ingress_class_and_no_address(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    kube.cluster.set_loadbalancer(False)  # irrelevant with hostNetwork
    result = run_lifecycle(prepare(NginxIngressChart.k3d_local(), kube))
    assert result.ok, result.error
    checks = by_name(result.validations)
    assert "controller_address" not in checks
    assert checks["ingress_class"].message == (
        "IngressClass 'nginx' exists (the cluster's default)"
    )


def test_a_missing_ingress_class_fails(
    kube: Any, deploy_context: Any, run_lifecycle: Callable[..., Any]
) -> None:
    chart = prepare(NginxIngressChart.k3d_local(), kube)
    chart.chart_info.values.append(ChartSetValue("controller.ingressClassResource.enabled", "false"))
    assert run_lifecycle(chart).ok
    # the chart was told not to create it, but the release expects one by that name
    chart.chart_info.values.append(ChartSetValue("controller.ingressClassResource.enabled", "true"))
    check = by_name(validate(chart, deploy_context()))["ingress_class"]
    assert check.status is ValidationStatus.FAILED
    assert check.message == "IngressClass 'nginx' not found"


def test_a_servicemonitor_the_user_asked_for_without_its_crd_is_a_prerequisite_problem(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    chart = NginxIngressChart.k3d_local()
    chart.chart_info.namespace = kube.namespace
    chart.chart_info.values.append(ChartSetValue("controller.metrics.serviceMonitor.enabled", "true"))
    result = run_lifecycle(chart)
    assert result.stage_failed == "check_prerequisites"
    assert result.problems == (
        "release 'nginx-ingress': controller.metrics.serviceMonitor.enabled is true but the CRD "
        "servicemonitors.monitoring.coreos.com is not installed; deploy prometheus-operator "
        "first (depends_on) or set controller.metrics.serviceMonitor.enabled = false",
    )


def test_the_presets_servicemonitor_is_off_without_its_crd_and_the_plan_says_why(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """No ServiceMonitor CRD: the preset's ServiceMonitor is off in the desired state; plan notes it,
    apply deploys exactly that; one the user sets is refused by the plan."""
    import json

    from firestream_core.project import Project

    path = tmp_path / "firestream.toml"
    head = (f'[repositories]\ningress-nginx = "{deploy_chart_repo.url}"\n[[deployments.nginx-ingress]]\n'
            f'preset = "k3d_local"\nnamespace = "{kube.namespace}"\ntimeout = "60s"\n')
    path.write_text(head)

    def load() -> Any:
        return Project.load(path, helm_binary=helm_bin, kubectl_binary=kube.tools["kubectl"],
                            kubeconfig=kube.kubeconfig, env=kube.env)

    note = ("controller.metrics.serviceMonitor.enabled off: the CRD servicemonitors.monitoring.coreos.com "
            "is not installed (deploy prometheus-operator first, with depends_on, to have it on)")
    plan = load().plan()
    assert plan["nginx-ingress"].reasons == ("not deployed", note)
    assert plan.problems == []
    result = load().apply(plan)
    assert result.ok, result.to_dict()
    values = kube.run([str(helm_bin), "get", "values", "nginx-ingress", "-n", kube.namespace, "-o", "json"])
    assert json.loads(values.stdout)["controller"]["metrics"]["serviceMonitor"]["enabled"] is False
    again = load().plan()["nginx-ingress"]
    assert (again.action, again.reasons) == ("no-op", ("up to date", note))

    path.write_text(head + "[deployments.nginx-ingress.values]\ncontroller.metrics.serviceMonitor.enabled = true\n")
    refused = load().plan()
    assert refused.problems == [("nginx-ingress", (
        "release 'nginx-ingress': controller.metrics.serviceMonitor.enabled is true but the CRD "
        "servicemonitors.monitoring.coreos.com is not installed; deploy prometheus-operator "
        "first (depends_on) or set controller.metrics.serviceMonitor.enabled = false"))]


def test_every_log_line_names_its_release(
    kube: Any, run_lifecycle: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Lines of parallel releases are told apart: the validation lines name 'nginx-ingress'."""
    import logging

    with caplog.at_level(logging.INFO, logger="firestream"):
        result = run_lifecycle(prepare(NginxIngressChart(), kube))
    assert result.ok, result.error
    plugin = f"firestream_chart_{'nginx-ingress'.replace('-', '_')}"
    lines = [r.getMessage() for r in caplog.records  # the plugin's own lines and the validation lines
             if r.levelno >= logging.INFO and (plugin in r.pathname or "Validation '" in r.getMessage())]
    assert any("controller_address" in line for line in lines) and any("ingress_class" in line for line in lines)
    assert [line for line in lines if "'nginx-ingress'" not in line] == []


def test_the_controller_address_is_looked_for_where_namespace_override_puts_it(
    kube: Any, helm_bin: Path, run_lifecycle: Callable[..., Any]
) -> None:
    # upstream's ingress-nginx.namespace: namespaceOverride, else the release's namespace
    other = f"{kube.namespace}-ingress"
    kube.kubectl().run(["kubectl", "create", "namespace", other])
    chart = prepare(NginxIngressChart(), kube)
    chart.chart_info.values.append(ChartSetValue("namespaceOverride", other))
    chart.chart_info.timeout = "5s"
    result = run_lifecycle(chart, helm_bin)
    assert result.ok, result.error
    assert kube.kubectl().get("service", "nginx-ingress-ingress-nginx-controller", namespace=other) is not None
    assert by_name(result.validations)["controller_address"].message == (
        "load balancer ready: nginx-ingress-ingress-nginx-controller at 127.0.0.1"
    )
