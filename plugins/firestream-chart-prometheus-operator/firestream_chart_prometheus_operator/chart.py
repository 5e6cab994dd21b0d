"""``PrometheusOperatorChart``: kube-prometheus-stack 45.7.1 as in the original.

The original passed ``grafana.adminPassword=admin`` on helm's command line;
here the Grafana admin password is kept in a Secret (see :mod:`.grafana`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from firestream_core.plugin import (
    ChartInfo,
    HelmChart,
    HelmChartNamespace,
    ReleaseSettings,
    at_least,
    env_var_name,
    preset_values,
    secret_name,
)
from firestream_core.plugin import options_of as core_options_of

REPOSITORY = "prometheus-community"
REPOSITORY_URL = "https://prometheus-community.github.io/helm-charts"
CHART = "kube-prometheus-stack"
VERSION = "45.7.1"

DEFAULT_VALUES: dict[str, Any] = {
    "prometheus.prometheusSpec.retention": "30d",
    "prometheus.prometheusSpec.resources.requests.memory": "1Gi",
    "prometheus.prometheusSpec.resources.limits.memory": "2Gi",
}
"""The original's values, without its ``grafana.adminPassword=admin``."""

@attrs.frozen
class PrometheusOperatorOptions:
    """Options of the ``prometheus-operator`` chart type.

    :ivar delete_crds: delete the ``monitoring.coreos.com`` CRDs (and with
        them every ServiceMonitor, PrometheusRule... in the cluster) when the
        release is destroyed, or uninstalled for a breaking version. Default:
        keep them.
    :ivar upgrade_crds: server-side apply the chart's CRDs before an upgrade
        (helm never upgrades ``crds/``). Default: on.
    :ivar grafana_secret: the Secret holding Grafana's admin user and
        password; default ``<release>-grafana-admin``.
    :ivar grafana_password_env: environment variable holding the Grafana
        admin password; default: keep the Secret's, or generate one.
    :ivar grafana_admin_user: Grafana's admin user name.
    :ivar password_length: length of a generated password (at least 16).
    """

    delete_crds: bool = False
    upgrade_crds: bool = True
    grafana_secret: str | None = attrs.field(default=None, validator=secret_name)
    grafana_password_env: str | None = attrs.field(default=None, validator=env_var_name)
    grafana_admin_user: str = "admin"
    password_length: int = attrs.field(default=32, validator=at_least(16))

    def grafana_secret_name(self, release: str) -> str:
        return self.grafana_secret or f"{release}-grafana-admin"


def _info(preset: str, values: dict[str, Any]) -> ChartInfo:
    return ChartInfo(
        name="prometheus-operator",
        repository=REPOSITORY,
        chart=CHART,
        version=VERSION,
        namespace=HelmChartNamespace.PROMETHEUS,
        timeout="600s",
        yaml_files_content=[preset_values("prometheus-operator", preset, values)],
    )


def _default_info() -> ChartInfo:
    return _info("default", DEFAULT_VALUES)


@attrs.define
class PrometheusOperatorChart(HelmChart):
    """kube-prometheus-stack, as the seed's ``PrometheusOperatorChart``.

    ``PrometheusOperatorChart()`` (or ``.default()``): version 45.7.1 in
    ``prometheus`` with a 600s timeout, 30 days of retention and 1-2Gi of
    memory for Prometheus. The preset's values are the chart's first values
    document: config ``values`` override them.
    """

    chart_type: ClassVar[str] = "prometheus-operator"

    chart_info: ChartInfo = attrs.field(factory=_default_info)
    options: PrometheusOperatorOptions = attrs.field(factory=PrometheusOperatorOptions)
    settings: ReleaseSettings = attrs.field(factory=ReleaseSettings)

    @classmethod
    def default(cls) -> PrometheusOperatorChart:
        """kube-prometheus-stack 45.7.1 in ``prometheus``, 600s timeout."""
        return cls()


def options_of(chart: HelmChart) -> PrometheusOperatorOptions:
    """The chart's options, or the defaults when it carries none."""
    return core_options_of(chart, PrometheusOperatorOptions)
