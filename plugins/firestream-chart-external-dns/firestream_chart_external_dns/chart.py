"""``ExternalDnsChart``: bitnami/external-dns 9.0.4 with the original's presets."""

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

REPOSITORY = "bitnami"
REPOSITORY_URL = "https://charts.bitnami.com/bitnami"
CHART = "external-dns"
VERSION = "9.0.4"
"""The default chart version (the seed's was 6.31.0; see docs/charts.md for where it was read)."""


DEFAULT_VALUES: dict[str, Any] = {
    "resources.limits.cpu": "50m",
    "resources.requests.cpu": "50m",
    "resources.limits.memory": "100Mi",
    "resources.requests.memory": "50Mi",
    "provider": "aws",
    "policy": "sync",
    "sources": ["service", "ingress"],
}
"""The original's values (``sources[0]``/``sources[1]`` written as one list)."""

LOCAL_VALUES: dict[str, Any] = {
    **DEFAULT_VALUES,
    "provider": "noop",
    "registry": "txt",
    "txtOwnerId": "firestream-local",
}


PRESETS = ChartPresets("external-dns", chart=CHART, version=VERSION, repository=REPOSITORY,
                       namespace=HelmChartNamespace.KUBE_SYSTEM)


@attrs.define
class ExternalDnsChart(HelmChart):
    """bitnami/external-dns, as the seed's ``ExternalDnsChart``.

    ``ExternalDnsChart()`` / ``ExternalDnsChart.default()``: provider ``aws``,
    policy ``sync``, sources ``service`` and ``ingress``, in ``kube-system``.
    ``ExternalDnsChart.local()``: provider ``noop`` with a ``txt`` registry
    owned by ``firestream-local``, for clusters without a DNS provider.
    The preset's values are the chart's first values document: config
    ``values`` override them.
    """

    chart_info: ChartInfo = attrs.field(factory=PRESETS.factory("default", DEFAULT_VALUES))
    options: Any = None
    settings: ReleaseSettings = attrs.field(factory=ReleaseSettings)

    @classmethod
    def default(cls) -> ExternalDnsChart:
        """external-dns 9.0.4 for AWS Route 53 (credentials from the cluster, e.g. IRSA)."""
        return cls()

    @classmethod
    def local(cls) -> ExternalDnsChart:
        """The ``noop`` provider: records are computed and logged, nothing is changed."""
        return cls(PRESETS.info("local", LOCAL_VALUES))
