"""``ExternalDnsChart``: bitnami/external-dns 9.0.4 with the original's presets."""

from __future__ import annotations

from typing import Any

import attrs

from firestream_core.plugin import (
    BreakingVersion,
    ChartInfo,
    ChartPresets,
    HelmChart,
    HelmChartNamespace,
    ReleaseSettings,
    breaking_version_at,
)
from firestream_core.plugin import notes_crossed as core_notes_crossed

REPOSITORY = "bitnami"
REPOSITORY_URL = "https://charts.bitnami.com/bitnami"
CHART = "external-dns"
VERSION = "9.0.4"
"""The default chart version (the seed's was 6.31.0; see docs/charts.md for where it was read)."""

UPGRADE_NOTES: tuple[tuple[str, str], ...] = (
    ("7.0.0", "security defaults changed (bitnami/charts#24325, CHANGELOG 7.0.0): check your own "
              "securityContext and resources values"),
    ("8.0.0", "DaemonSet and multiple replicas dropped (bitnami/charts#26759): replicaCount, useDaemonset, "
              "revisionHistoryLimit, podDisruptionBudget and metrics.serviceMonitor.additionalLabels are no "
              "longer read; one Deployment pod runs (same selector: helm upgrades it in place)"),
    ("9.0.0", "in-tree providers ExternalDNS no longer supports removed (bitnami/charts#35175, CHANGELOG "
              "9.0.0): such a provider needs a webhook provider"),
)
"""bitnami/external-dns majors between the seed's 6.31.0 and the default, and what each asks of an upgrade.

None changes a selector or another immutable field, and the chart's only CRD
(``DNSEndpoint``, with ``crd.create``) is a template helm upgrades itself: no
major needs an uninstall or a CRD step. The default's breaking version is the
last of them (no uninstall): ``plan`` shows an upgrade across it with each note
it crosses (``hooks.destructive_steps``); values 8.0.0 stopped reading are
refused in the desired state (``hooks.contribute_values``).
"""

REMOVED_IN_8 = ("replicaCount", "useDaemonset", "revisionHistoryLimit", "podDisruptionBudget",
                "metrics.serviceMonitor.additionalLabels")
"""The values bitnami/external-dns 8.0.0 removed (bitnami/charts#26759)."""


def notes_crossed(installed: str, target: str | None) -> list[tuple[str, str]]:
    """The :data:`UPGRADE_NOTES` with ``installed < version <= target`` (semver; no target: all above installed).

    >>> [v for v, _ in notes_crossed("6.31.0", "9.0.4")]
    ['7.0.0', '8.0.0', '9.0.0']
    >>> [v for v, _ in notes_crossed("8.7.9", "9.0.4")]
    ['9.0.0']
    """
    return core_notes_crossed(UPGRADE_NOTES, installed, target)


def default_breaking_version(version: str = VERSION) -> BreakingVersion | None:
    """The last :data:`UPGRADE_NOTES` version at or below ``version``: no uninstall, no command."""
    return breaking_version_at(UPGRADE_NOTES, version)


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
    "provider": "inmemory",
    "registry": "txt",
    "txtOwnerId": "firestream-local",
}


PRESETS = ChartPresets("external-dns", chart=CHART, version=VERSION, repository=REPOSITORY,
                       namespace=HelmChartNamespace.KUBE_SYSTEM,
                       fields={"last_breaking_version_requiring_restart": default_breaking_version()})


@attrs.define
class ExternalDnsChart(HelmChart):
    """bitnami/external-dns, as the seed's ``ExternalDnsChart``.

    ``ExternalDnsChart()`` / ``ExternalDnsChart.default()``: provider ``aws``,
    policy ``sync``, sources ``service`` and ``ingress``, in ``kube-system``.
    ``ExternalDnsChart.local()``: provider ``inmemory`` with a ``txt`` registry
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
        """The ``inmemory`` provider: records are computed and kept in memory, no DNS is changed.

        The seed's ``noop`` is no provider of ExternalDNS (its ``--provider`` flag is an enum:
        akamai ... inmemory ... webhook): the controller would exit at start and never be available.
        """
        return cls(PRESETS.info("local", LOCAL_VALUES))
