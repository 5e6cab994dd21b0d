"""firestream chart plugin: ingress-nginx.

Install it and ``[[deployments.nginx-ingress]]`` works in ``firestream.toml``::

    pip install firestream-chart-nginx-ingress

From Python, as in the seed::

    from firestream_chart_nginx_ingress import NginxIngressChart

    nginx = NginxIngressChart.k3d_local()
"""

from __future__ import annotations

from .chart import NginxIngressChart
from .hooks import check_prerequisites, register_chart_types, validate

FIRESTREAM_PLUGIN_API = 1

__all__ = [
    "FIRESTREAM_PLUGIN_API",
    "NginxIngressChart",
    "check_prerequisites",
    "register_chart_types",
    "validate",
]
