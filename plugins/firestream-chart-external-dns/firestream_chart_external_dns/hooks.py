"""The ``external-dns`` chart type's hook implementations.

The built-in defaults add the repository and run helm; this plugin adds one
validation: the external-dns Deployment (found by the release's labels) is
available.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from firestream_core.plugin import ChartType, HelmAction, hookimpl

from .chart import REPOSITORY, REPOSITORY_URL, ExternalDnsChart

if TYPE_CHECKING:
    from firestream_core.plugin import DeployContext, HelmChart, ValidationResult


def chart_type() -> ChartType:
    """The ``external-dns`` chart type as registered."""
    return ChartType(
        name="external-dns",
        chart_class=ExternalDnsChart,
        presets={"default": ExternalDnsChart.default, "local": ExternalDnsChart.local},
        repositories={REPOSITORY: REPOSITORY_URL},
        description="bitnami/external-dns 9.0.4; presets default (aws) and local (noop)",
    )


@hookimpl
def register_chart_types(register: Callable[[ChartType], None]) -> None:
    """Register the ``external-dns`` chart type."""
    register(CHART_TYPE)


CHART_TYPE = chart_type()
"""The chart type, built on import: from then on the chart class's ``chart_type`` is its name."""


@hookimpl
def validate(chart: HelmChart, context: DeployContext) -> list[ValidationResult] | None:
    """``external_dns_deployment``: the release's Deployment is available."""
    from firestream_core.plugin import checks

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    return [
        checks.deployment_available(
            context,
            namespace=info.namespace_name,
            selector=f"app.kubernetes.io/instance={info.name}",
            check="external_dns_deployment",
        )
    ]
