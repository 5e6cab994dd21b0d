"""The ``external-dns`` chart type's hook implementations.

The built-in defaults add the repository and run helm; this plugin adds:

* ``contribute_values`` (pure: plan sees it) - values bitnami/external-dns
  8.0.0 stopped reading (``useDaemonset``, ``replicaCount`` above 1) are
  refused for a chart at 8.0.0 or later, since helm would drop them silently.
* the plan's breaking step (``destructive_steps``) names each upstream
  upgrade note an upgrade crosses (:data:`.chart.UPGRADE_NOTES`).
* ``validate`` - the external-dns Deployment (found by the release's labels)
  is available; before chart 8.0.0 with ``useDaemonset``, the DaemonSet's pods
  are Ready.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from firestream_core.plugin import ChartType, HelmAction, hookimpl

from .chart import REPOSITORY, REPOSITORY_URL, ExternalDnsChart, notes_crossed

if TYPE_CHECKING:
    from firestream_core.plugin import DeployContext, HelmChart, ValidationResult


def chart_type() -> ChartType:
    """The ``external-dns`` chart type as registered."""
    return ChartType(
        name="external-dns",
        chart_class=ExternalDnsChart,
        presets={"default": ExternalDnsChart.default, "local": ExternalDnsChart.local},
        repositories={REPOSITORY: REPOSITORY_URL},
        description="bitnami/external-dns 9.0.4; presets default (aws) and local (inmemory)",
        destructive_steps=destructive_steps,
    )


def destructive_steps(chart: HelmChart, step: Any) -> list[str]:
    """What the plan shows with a breaking step: each upstream upgrade note it crosses.

    None asks for an uninstall or a CRD step (see :data:`.chart.UPGRADE_NOTES`);
    exec upgrades in place.
    """
    target = step.target or chart.chart_info.version or "the resolved version"
    return [f"no uninstall, no CRD step: helm upgrades external-dns {step.installed} -> {target} in place"] + [
        f"upgrade note of {version}: {note}" for version, note in notes_crossed(step.installed, step.target)
    ]


@hookimpl
def register_chart_types(register: Callable[[ChartType], None]) -> None:
    """Register the ``external-dns`` chart type."""
    register(CHART_TYPE)


CHART_TYPE = chart_type()
"""The chart type, built on import: from then on the chart class's ``chart_type`` is its name."""


@hookimpl
def contribute_values(chart: HelmChart, context: DeployContext) -> dict[str, Any] | None:
    """Refuse values bitnami/external-dns 8.0.0 and later no longer read (a DaemonSet, more replicas)."""
    from firestream_core.plugin import SemVer, chart_value

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY or not info.version:
        return None
    try:
        if SemVer.parse(info.version) < SemVer.parse("8.0.0"):
            return None
    except ValueError:
        return None  # a constraint: helm resolves it; nothing to decide here
    daemonset = chart_value(info, "useDaemonset", None, project_dir=context.project_dir)
    replicas = chart_value(info, "replicaCount", None, project_dir=context.project_dir)
    given = []
    if daemonset not in (None, False, "false"):
        given.append(f"useDaemonset = {str(daemonset).lower()}")
    if replicas is not None and str(replicas) != "1":
        given.append(f"replicaCount = {replicas}")
    if given:
        context.refuse(
            f"release '{info.name}': {' and '.join(given)} is not read by bitnami/external-dns 8.0.0 and "
            f"later (chart {info.version} runs one Deployment pod, bitnami/charts#26759); remove it, or pin "
            "version = \"7.5.7\" (the last 7.x) to keep it"
        )
    return None


@hookimpl
def validate(chart: HelmChart, context: DeployContext) -> list[ValidationResult] | None:
    """``external_dns_deployment``: the release's Deployment is available; ``external_dns_daemonset``
    instead for a chart before 8.0.0 with ``useDaemonset`` (it makes a DaemonSet): its pods are Ready."""
    from firestream_core.plugin import checks

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    if _daemonset(chart, context):
        return [
            checks.pods_ready(
                context,
                namespace=info.namespace_name,
                selector=f"app.kubernetes.io/instance={info.name}",
                check="external_dns_daemonset",
            )
        ]
    return [
        checks.deployment_available(
            context,
            namespace=info.namespace_name,
            selector=f"app.kubernetes.io/instance={info.name}",
            check="external_dns_deployment",
        )
    ]


def _daemonset(chart: HelmChart, context: DeployContext) -> bool:
    """Whether the chart makes a DaemonSet: ``useDaemonset`` on a chart before 8.0.0."""
    from firestream_core.plugin import SemVer, chart_value

    info = chart.chart_info
    try:
        if info.version and SemVer.parse(info.version) >= SemVer.parse("8.0.0"):
            return False
    except ValueError:
        return False
    return chart_value(info, "useDaemonset", None, project_dir=context.project_dir) not in (None, False, "false")
