"""The ``monitoring.coreos.com`` CRDs: upgraded with the chart, deleted only on request.

helm installs a chart's ``crds/`` folders on the first install and never
again, so an upgraded kube-prometheus-stack would run a newer operator
against old CRDs. Before an upgrade the plugin has the core's
:func:`firestream_core.plugin.crds.upgrade_chart_crds` read the CRDs of the chart
version being deployed (``helm pull`` through the helm layer, or the local
chart) and server-side apply them. What stays here is this chart's own:
the seven CRDs the original checks, and deleting them on request.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from firestream_core.plugin import apply_crds, chart_crds, crd_names

if TYPE_CHECKING:
    from firestream_core.plugin import ChartInfo, DeployContext

__all__ = ["CRDS", "GROUP", "VERSION_ANNOTATION", "apply_crds", "chart_crds", "crd_names", "delete_crds", "installed_crds"]

GROUP = "monitoring.coreos.com"

VERSION_ANNOTATION = "operator.prometheus.io/version"
"""The Prometheus Operator version each upstream CRD carries (``operator.prometheus.io/version: 0.88.0``):
the CRD step refuses to apply a chart's CRDs over newer ones in the cluster."""

CRDS: tuple[str, ...] = (
    "prometheuses.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
    "servicemonitors.monitoring.coreos.com",
    "podmonitors.monitoring.coreos.com",
    "alertmanagers.monitoring.coreos.com",
    "thanosrulers.monitoring.coreos.com",
    "probes.monitoring.coreos.com",
)
"""The seven CRDs the original checks and deletes."""

_DELETED = r'"([a-z0-9.-]+)" deleted'  # compiled on first use, not at import


def installed_crds(context: DeployContext) -> list[str]:
    """Every ``*.monitoring.coreos.com`` CRD in the cluster (the seven and any newer ones)."""
    listed = context.kubectl.get("customresourcedefinition") or {}
    names = [
        str((item.get("metadata") or {}).get("name", ""))
        for item in listed.get("items") or []
        if (item.get("spec") or {}).get("group") == GROUP
    ]
    return sorted(n for n in names if n)


def delete_crds(context: DeployContext, info: ChartInfo) -> list[str]:
    """Delete the seven CRDs and any other ``monitoring.coreos.com`` one; the names deleted.

    One ``kubectl delete`` for all of them, waiting until they are gone.
    """
    from firestream_core.plugin import parse_duration

    present = installed_crds(context)
    names = sorted(n for n in set(CRDS) | set(present) if n in present)
    if not names:
        return []
    argv = [
        "kubectl", "delete", "customresourcedefinition", *names,
        "--ignore-not-found", "--wait=true", f"--timeout={parse_duration(info.timeout)}s",
    ]
    done = context.kubectl.run(argv, label=info.name, timeout=parse_duration(info.timeout) + 60)
    deleted = sorted(set(re.findall(_DELETED, done.stdout)) & set(names))
    context.log.warning(
        "release '%s': deleted %d monitoring.coreos.com CRDs (delete_crds = true)",
        info.name, len(deleted),
    )
    return deleted
