"""``PrometheusOperatorChart``: kube-prometheus-stack 81.5.0 (the seed had 45.7.1).

The original passed ``grafana.adminPassword=admin`` on helm's command line;
here the Grafana admin password is kept in a Secret (see :mod:`.grafana`).
"""

from __future__ import annotations

from typing import Any

import attrs

from firestream_core.plugin import (
    BreakingVersion,
    ChartInfo,
    ChartPresets,
    HelmChart,
    HelmChartNamespace,
    OptionValueError,
    ReleaseSettings,
    at_least,
    breaking_version_at,
    env_var_name,
    notes_crossed,
    secret_name,
)
from firestream_core.plugin import options_of as core_options_of

REPOSITORY = "prometheus-community"
REPOSITORY_URL = "https://prometheus-community.github.io/helm-charts"
CHART = "kube-prometheus-stack"
VERSION = "81.5.0"
"""The default chart version (the seed's was 45.7.1; see docs/charts.md for where it was read)."""

CRD_UPGRADES: tuple[tuple[str, str], ...] = (
    ("46.0.0", "Prometheus Operator v0.65.1, new CRDs PrometheusAgent and ScrapeConfig"),
    ("47.0.0", "Prometheus Operator v0.66.0"),
    ("49.0.0", "Prometheus Operator v0.67.1"),
    ("51.0.0", "Prometheus Operator v0.68.0"),
    ("53.0.0", "Prometheus Operator v0.69.1"),
    ("55.0.0", "Prometheus Operator v0.70.0"),
    ("56.0.0", "Prometheus Operator v0.71.0"),
    ("57.0.0", "Prometheus Operator v0.72.0"),
    ("58.0.0", "Prometheus Operator v0.73.0"),
    ("59.0.0", "Prometheus Operator v0.74.0"),
    ("61.0.0", "Prometheus Operator v0.75.0"),
    ("62.0.0", "Prometheus Operator v0.76.0"),
    ("65.0.0", "Prometheus Operator v0.77.1"),
    ("66.0.0", "Prometheus Operator v0.78.1"),
    ("67.0.0", "Prometheus Operator v0.79.0, Prometheus 3.0.1"),
    ("69.0.0", "Prometheus Operator v0.80.0"),
    ("70.0.0", "Prometheus Operator v0.81.0"),
    ("71.0.0", "Prometheus Operator v0.82.0"),
    ("74.0.0", "Prometheus Operator v0.83.0"),
    ("76.0.0", "Prometheus Operator v0.84.1"),
    ("77.0.0", "Prometheus Operator v0.85.0"),
    ("78.0.0", "Prometheus Operator v0.86.0"),
    ("80.0.0", "Prometheus Operator v0.87.0"),
    ("81.0.0", "Prometheus Operator v0.88.0"),
)
"""kube-prometheus-stack majors whose upgrade notes say "update the CRDs before applying
the upgrade" (``kubectl apply --server-side``), with the operator version: the chart's
``UPGRADE.md`` (45.x -> 81.x; older notes were in its README's "Upgrading Chart"). No
major from 46 to 81 asks for an uninstall; 48, 50, 52, 54, 60, 63, 64, 68, 72, 73, 75
and 79 need no CRD step (see docs/charts.md).

The default's breaking version is the last of them at or below :data:`VERSION`:
an upgrade across it is shown by ``plan`` with the CRD step ``exec`` takes
(``hooks.destructive_steps``) and one ``firestream apply`` carries it out.
"""


def crd_upgrades_crossed(installed: str, target: str | None) -> list[tuple[str, str]]:
    """The :data:`CRD_UPGRADES` with ``installed < version <= target`` (semver; no target: all above installed)."""
    return notes_crossed(CRD_UPGRADES, installed, target)


def default_breaking_version(version: str = VERSION) -> BreakingVersion | None:
    """The last :data:`CRD_UPGRADES` major at or below ``version``: no uninstall, the CRDs are applied."""
    return breaking_version_at(CRD_UPGRADES, version)


DEFAULT_VALUES: dict[str, Any] = {
    "prometheus.prometheusSpec.retention": "30d",
    "prometheus.prometheusSpec.resources.requests.memory": "1Gi",
    "prometheus.prometheusSpec.resources.limits.memory": "2Gi",
}
"""The original's values, without its ``grafana.adminPassword=admin``."""

def _user_name(_inst: Any, attribute: Any, value: str) -> None:
    """An attrs validator: Grafana's admin user is a non-empty name on one line."""
    if not value.strip() or "\n" in value or ":" in value:
        raise OptionValueError(
            attribute.name,
            f"{attribute.name} = {value!r} is not a user name (at least one character; no ':' or newline)",
        )


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
    grafana_admin_user: str = attrs.field(default="admin", validator=_user_name)
    password_length: int = attrs.field(default=32, validator=at_least(16))

    def grafana_secret_name(self, release: str) -> str:
        return self.grafana_secret or f"{release}-grafana-admin"


PRESETS = ChartPresets("prometheus-operator", chart=CHART, version=VERSION, repository=REPOSITORY,
                       namespace=HelmChartNamespace.PROMETHEUS,
                       fields={"timeout": "600s",
                               "last_breaking_version_requiring_restart": default_breaking_version()})


@attrs.define
class PrometheusOperatorChart(HelmChart):
    """kube-prometheus-stack, as the seed's ``PrometheusOperatorChart``.

    ``PrometheusOperatorChart()`` (or ``.default()``): version 81.5.0 in
    ``prometheus`` with a 600s timeout, 30 days of retention and 1-2Gi of
    memory for Prometheus; an install older than the last CRD-updating major
    (:data:`CRD_UPGRADES`) is upgraded across it with the chart's CRDs applied first. The preset's values are the chart's first values
    document: config ``values`` override them.
    """

    chart_info: ChartInfo = attrs.field(factory=PRESETS.factory("default", DEFAULT_VALUES))
    options: PrometheusOperatorOptions = attrs.field(factory=PrometheusOperatorOptions)
    settings: ReleaseSettings = attrs.field(factory=ReleaseSettings)

    @classmethod
    def default(cls) -> PrometheusOperatorChart:
        """kube-prometheus-stack 81.5.0 in ``prometheus``, 600s timeout."""
        return cls()


def options_of(chart: HelmChart) -> PrometheusOperatorOptions:
    """The chart's options, or the defaults when it carries none."""
    return core_options_of(chart, PrometheusOperatorOptions)
