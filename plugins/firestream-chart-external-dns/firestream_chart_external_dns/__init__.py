"""firestream chart plugin: bitnami/external-dns.

Install it and ``[[deployments.external-dns]]`` works in ``firestream.toml``::

    pip install firestream-chart-external-dns

From Python, as in the seed::

    from firestream_chart_external_dns import ExternalDnsChart

    dns = ExternalDnsChart.local()
"""

from __future__ import annotations

from .chart import ExternalDnsChart
from .hooks import contribute_values, register_chart_types, validate

FIRESTREAM_PLUGIN_API = 3  # contribute_values with context.refuse

__all__ = ["FIRESTREAM_PLUGIN_API", "ExternalDnsChart", "contribute_values", "register_chart_types", "validate"]
