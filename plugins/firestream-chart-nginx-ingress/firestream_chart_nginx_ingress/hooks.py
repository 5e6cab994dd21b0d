"""The ``nginx-ingress`` chart type's hook implementations.

* ``contribute_values`` - ``controller.metrics.serviceMonitor.enabled`` (on
  in both presets, as in the original) stays on only when the ServiceMonitor
  CRD exists or the release depends on the project's prometheus-operator
  release; otherwise it is turned off and the plan says why. Set by the user
  without the CRD: the plan refuses the release.
* ``validate`` - ``ingress_class``: the IngressClass the chart creates
  (``controller.ingressClassResource.name``, ``nginx`` by default) exists;
  ``controller_address``: unless the controller uses ``hostNetwork``, the
  controller Service - found by its labels, not by a guessed name, in the
  chart's ``namespaceOverride`` when set - has an
  address, *pending* while a load balancer has not assigned one yet (the
  runner asks again until the release's timeout).

The other stages are the built-in defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from firestream_core.plugin import ChartType, HelmAction, hookimpl, needs_crd, value_of

from .chart import REPOSITORY, REPOSITORY_URL, NginxIngressChart

if TYPE_CHECKING:
    from firestream_core.plugin import DeployContext, HelmChart, ValidationResult

SERVICEMONITOR_CRD = "servicemonitors.monitoring.coreos.com"


def chart_type() -> ChartType:
    """The ``nginx-ingress`` chart type as registered."""
    return ChartType(
        name="nginx-ingress",
        chart_class=NginxIngressChart,
        presets={"default": NginxIngressChart.default, "k3d_local": NginxIngressChart.k3d_local},
        repositories={REPOSITORY: REPOSITORY_URL},
        description="ingress-nginx 4.15.1; presets default (LoadBalancer) and k3d_local (hostNetwork)",
    )


@hookimpl
def register_chart_types(register: Callable[[ChartType], None]) -> None:
    """Register the ``nginx-ingress`` chart type."""
    register(CHART_TYPE)


CHART_TYPE = chart_type()
"""The chart type, built on import: from then on the chart class's ``chart_type`` is its name."""


@hookimpl
def contribute_values(chart: HelmChart, context: DeployContext) -> dict[str, Any] | None:
    """The ServiceMonitor stays on only when its CRD is there (or comes first); else off, with a note."""
    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    if not value_of(chart, context, "controller.metrics.enabled", False):
        return None
    return needs_crd(chart, context, "controller.metrics.serviceMonitor.enabled", SERVICEMONITOR_CRD,
                     provider="prometheus-operator")


@hookimpl
def validate(chart: HelmChart, context: DeployContext) -> list[ValidationResult] | None:
    """``ingress_class`` and, without hostNetwork, ``controller_address``."""
    from firestream_core.plugin import checks

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    results = []
    if value_of(chart, context, "controller.ingressClassResource.enabled", True):
        name = str(value_of(chart, context, "controller.ingressClassResource.name", "nginx"))
        results.append(checks.ingressclass_exists(context, name, check="ingress_class"))
    if not value_of(chart, context, "controller.hostNetwork", False):
        results.append(
            checks.service_address(
                context,
                # upstream's ingress-nginx.namespace: namespaceOverride, else the release's
                namespace=str(value_of(chart, context, "namespaceOverride") or info.namespace_name),
                selector=f"app.kubernetes.io/instance={info.name},app.kubernetes.io/component=controller",
                check="controller_address",
            )
        )
    return results
