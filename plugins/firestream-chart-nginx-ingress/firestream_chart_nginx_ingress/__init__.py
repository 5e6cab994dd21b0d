"""firestream chart plugin: ingress-nginx.

Install it and ``[[deployments.nginx-ingress]]`` works in ``firestream.toml``::

    pip install firestream-chart-nginx-ingress

From Python, as in the seed::

    from firestream_chart_nginx_ingress import NginxIngressChart

    nginx = NginxIngressChart.k3d_local()
"""

from __future__ import annotations

from .chart import NginxIngressChart
from .hooks import contribute_values, register_chart_types, validate

FIRESTREAM_PLUGIN_API = 3  # contribute_values with context.note / refuse

__all__ = [
    "FIRESTREAM_PLUGIN_API",
    "NginxIngressChart",
    "contribute_values",
    "register_chart_types",
    "validate",
]
