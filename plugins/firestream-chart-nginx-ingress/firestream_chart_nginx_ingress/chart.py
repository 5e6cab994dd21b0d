"""``NginxIngressChart``: ingress-nginx 4.15.1 with the original's presets."""

from __future__ import annotations

from typing import Any

import attrs

from firestream_core.plugin import (
    ChartInfo,
    ChartPresets,
    HelmChart,
    HelmChartNamespace,
    ReleaseSettings,
)

REPOSITORY = "ingress-nginx"
REPOSITORY_URL = "https://kubernetes.github.io/ingress-nginx"
CHART = "ingress-nginx"
VERSION = "4.15.1"
"""The default chart version (the seed's was 4.7.1; see docs/charts.md for where it was read)."""

DEFAULT_VALUES: dict[str, Any] = {
    "controller.service.type": "LoadBalancer",
    "controller.metrics.enabled": True,
    "controller.metrics.serviceMonitor.enabled": True,
    "controller.resources.limits.cpu": "200m",
    "controller.resources.requests.cpu": "100m",
    "controller.resources.limits.memory": "256Mi",
    "controller.resources.requests.memory": "128Mi",
}
"""The original's values: a LoadBalancer Service and metrics with a ServiceMonitor."""

K3D_LOCAL_VALUES: dict[str, Any] = {
    **{k: v for k, v in DEFAULT_VALUES.items() if not k.startswith("controller.service")},
    "controller.service.type": "ClusterIP",
    "controller.hostNetwork": True,
    "controller.ingressClassResource.default": True,
}
"""For k3d: no load balancer, the controller on the node's network, the default IngressClass."""


PRESETS = ChartPresets("nginx-ingress", chart=CHART, version=VERSION, repository=REPOSITORY,
                       namespace=HelmChartNamespace.NGINX_INGRESS)


@attrs.define
class NginxIngressChart(HelmChart):
    """ingress-nginx, as the seed's ``NginxIngressChart``.

    ``NginxIngressChart()`` / ``NginxIngressChart.default()``: a LoadBalancer
    Service with metrics, in ``nginx-ingress``. ``NginxIngressChart.k3d_local()``:
    a ClusterIP Service, ``hostNetwork`` and the cluster's default
    IngressClass. The preset's values are the chart's first values
    document: config ``values`` override them.
    """

    chart_info: ChartInfo = attrs.field(factory=PRESETS.factory("default", DEFAULT_VALUES))
    options: Any = None
    settings: ReleaseSettings = attrs.field(factory=ReleaseSettings)

    @classmethod
    def default(cls) -> NginxIngressChart:
        """ingress-nginx 4.15.1 behind a LoadBalancer, with metrics."""
        return cls()

    @classmethod
    def k3d_local(cls) -> NginxIngressChart:
        """For a local k3d cluster: hostNetwork, ClusterIP, default IngressClass."""
        return cls(PRESETS.info("k3d_local", K3D_LOCAL_VALUES))
