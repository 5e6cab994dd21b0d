"""firestream chart plugin: bitnami/external-dns.

Install it and ``[[deployments.external-dns]]`` works in ``firestream.toml``::

    pip install firestream-chart-external-dns

From Python, as in the seed::

    from firestream_chart_external_dns import ExternalDnsChart

    dns = ExternalDnsChart.local()
"""

from __future__ import annotations

from .chart import ExternalDnsChart
from .hooks import register_chart_types, validate

FIRESTREAM_PLUGIN_API = 1

__all__ = ["FIRESTREAM_PLUGIN_API", "ExternalDnsChart", "register_chart_types", "validate"]
