"""The prometheus-operator chart type without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from firestream_chart_prometheus_operator import PrometheusOperatorChart, PrometheusOperatorOptions
from firestream_chart_prometheus_operator.crds import CRDS, chart_crds, crd_names
from firestream_chart_prometheus_operator.grafana import missing_environment

from firestream_core.config.build import build_charts
from firestream_core.config.load import load_config
from firestream_core.config.plugin_check import check_plugins
from firestream_core.model import BreakingVersion, ChartInfo, HelmChartNamespace
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.tools.values import merged_values

CHART_DIR = Path(__file__).parent / "charts" / "kube-prometheus-stack"


def test_bare_constructor_gives_the_originals_defaults() -> None:
    for chart in (PrometheusOperatorChart(), PrometheusOperatorChart.default()):
        info = chart.get_chart_info()
        assert (info.name, info.repository, info.chart, info.version) == (
            "prometheus-operator", "prometheus-community", "kube-prometheus-stack", "81.5.0",
        )
        assert info.namespace is HelmChartNamespace.PROMETHEUS
        assert info.timeout == "600s"
        spec = merged_values(info)["prometheus"]["prometheusSpec"]
        assert spec == {
            "retention": "30d",
            "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        }
        assert "grafana" not in merged_values(info)  # no admin password in the preset
        assert chart.options == PrometheusOperatorOptions()
        assert chart.options.delete_crds is False and chart.options.upgrade_crds is True


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="grafana_secret"):
        PrometheusOperatorOptions(grafana_secret="Bad_Name")
    with pytest.raises(ValueError, match="grafana_password_env"):
        PrometheusOperatorOptions(grafana_password_env="no-dashes")
    assert PrometheusOperatorOptions().grafana_secret_name("mon") == "mon-grafana-admin"


@pytest.mark.parametrize(("line", "message"), [
    ("password_length = 4", "password_length: password_length = 4 is below the minimum of 16"),
    ('grafana_secret = "Bad_Name"', "grafana_secret: grafana_secret = 'Bad_Name' is not a valid Secret name"),
    ('grafana_password_env = "no-dash"',
     "grafana_password_env: grafana_password_env = 'no-dash' is not an environment variable name"),
    ('grafana_admin_user = ""', "grafana_admin_user: grafana_admin_user = '' is not a user name"),
    ('delete_crds = "yes"', "delete_crds: expected a boolean (true or false), got a string"),
])
def test_an_option_error_names_the_option_the_bound_and_the_value(
    tmp_path: Path, line: str, message: str
) -> None:
    """As ``firestream validate`` prints it: the file, the release's option, the bound, the value."""
    from firestream_core.errors import ConfigError

    path = tmp_path / "firestream.toml"
    path.write_text(f"[[deployments.prometheus-operator]]\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        build_charts(load_config(path), get_plugin_manager())
    assert f"deployments.prometheus-operator[0].{message}" in str(caught.value)


def test_registered_through_the_entry_point() -> None:
    manager = get_plugin_manager()
    reg = manager.chart_type("prometheus-operator")
    assert reg.distribution == "firestream-chart-prometheus-operator"
    ct = reg.chart_type
    assert ct.chart_class is PrometheusOperatorChart
    assert ct.options is PrometheusOperatorOptions
    assert ct.repositories == {
        "prometheus-community": "https://prometheus-community.github.io/helm-charts"
    }
    assert not [p for p in check_plugins(manager) if "prometheus-operator" in p]
    info = next(i for i in manager.plugin_infos() if i.name == "prometheus-operator")
    assert info.hooks == (
        "contribute_values", "check_prerequisites", "pre_exec", "exec", "post_exec", "validate",
    )


def test_config_options(tmp_path: Path) -> None:
    path = tmp_path / "firestream.toml"
    path.write_text(
        """
[[deployments.prometheus-operator]]
version = "46.0.0"
delete_crds = true
grafana_password_env = "GRAFANA_ADMIN"
last_breaking_version_requiring_restart = { version = "46.0.0", requires_uninstall = true }

[deployments.prometheus-operator.values]
prometheus.prometheusSpec.retention = "7d"
"""
    )
    (chart,) = build_charts(load_config(path), get_plugin_manager())
    assert isinstance(chart, PrometheusOperatorChart)
    assert chart.options == PrometheusOperatorOptions(
        delete_crds=True, grafana_password_env="GRAFANA_ADMIN"
    )
    assert chart.chart_info.version == "46.0.0"
    assert chart.chart_info.timeout == "600s"
    assert merged_values(chart.chart_info)["prometheus"]["prometheusSpec"]["retention"] == "7d"
    assert missing_environment(chart, environ={}) == [
        "release 'prometheus-operator': environment variable 'GRAFANA_ADMIN' "
        "(option grafana_password_env) is not set or empty"
    ]


def test_breaking_versions_are_compared_as_semver() -> None:
    from firestream_core.model import breaking_step

    def uninstalls(bv: BreakingVersion, installed: str, target: str | None = "10.1.0") -> bool:
        step = breaking_step(bv, installed, target)
        return step is not None and step.uninstall

    bv = BreakingVersion("10.0.0", requires_uninstall=True)
    assert uninstalls(bv, "9.5.0")  # a string comparison would say no
    assert not uninstalls(bv, "10.0.0")
    assert not uninstalls(bv, "10.1.0")
    assert not uninstalls(bv, "9.5.0", target="9.6.0")  # the target stays below it
    assert not uninstalls(BreakingVersion("10.0.0"), "9.5.0")  # no uninstall asked


def test_crds_of_a_local_chart_folder(tmp_path: Path) -> None:
    context = DeployContext(helm=None, kubectl=None, project_dir=tmp_path)  # type: ignore[arg-type]
    info = ChartInfo(name="p", path=CHART_DIR)
    names = crd_names(chart_crds(context, info))
    assert set(CRDS) < set(names)
    assert "alertmanagerconfigs.monitoring.coreos.com" in names


def test_the_plan_is_told_that_a_breaking_uninstall_deletes_the_crds_with_delete_crds() -> None:
    import attrs
    from firestream_chart_prometheus_operator.hooks import chart_type

    from firestream_core.model import breaking_step

    steps = chart_type().destructive_steps
    uninstall = breaking_step(BreakingVersion("46.0.0", requires_uninstall=True), "45.7.1", "46.0.0")
    assert uninstall is not None
    chart = PrometheusOperatorChart.default()
    # delete_crds off: the CRDs stay and are applied (the new chart's) before the install
    assert steps(chart, uninstall) == [
        "server-side apply the monitoring.coreos.com CRDs of kube-prometheus-stack 46.0.0 before the "
        "upgrade (helm never updates crds/)",
        "which covers the CRD update of 46.0.0: Prometheus Operator v0.65.1, new CRDs PrometheusAgent and ScrapeConfig",
    ]
    deleting = attrs.evolve(chart, options=PrometheusOperatorOptions(delete_crds=True))
    assert steps(deleting, uninstall) == [
        "delete the monitoring.coreos.com CRDs (delete_crds = true), and every object of their kinds"
    ]
    commands_only = breaking_step(BreakingVersion("46.0.0", pre_upgrade_commands=["kubectl get crd"]),
                                  "45.7.1", "46.0.0")
    assert commands_only is not None
    assert not [line for line in steps(deleting, commands_only) if line.startswith("delete")]


def test_a_destroy_plan_shows_the_crd_deletion_only_with_delete_crds() -> None:
    """``ChartType.destroy_steps``: post_exec deletes the cluster-wide CRDs on a destroy only with
    ``delete_crds``, and the destroy plan says so."""
    import attrs
    from firestream_chart_prometheus_operator.hooks import chart_type

    steps = chart_type().destroy_steps
    assert steps is not None
    chart = PrometheusOperatorChart.default()
    assert steps(chart, Path(".")) == []
    deleting = attrs.evolve(chart, options=PrometheusOperatorOptions(delete_crds=True))
    assert steps(deleting, Path(".")) == [
        "delete the monitoring.coreos.com CRDs (delete_crds = true), and every object of their kinds in every namespace"]


def test_a_grafana_password_rotated_in_its_variable_is_planned(monkeypatch: pytest.MonkeyPatch) -> None:
    """plan_grafana_admin: the admin Secret of an installed release holding another password than
    ``grafana_password_env``'s makes the release out of date with pre_exec's step (the password never
    shown, and registered with the redactor); the same password or Grafana off say nothing; a create over
    a Secret an earlier install left with another password says the step pre_exec takes."""
    import base64

    import attrs
    from firestream_chart_prometheus_operator.grafana import plan_grafana_admin

    from firestream_core.model import InstalledRelease
    from firestream_core.tools.redact import Redactor

    held = {"admin-user": "admin", "admin-password": "old-grafana-pass-1"}
    reads: list[str] = []

    class Cluster:
        def get(self, kind: str, name: str, **_: object) -> dict | None:
            reads.append(name)
            return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in held.items()}}

    chart = attrs.evolve(PrometheusOperatorChart.default(),
                         options=PrometheusOperatorOptions(grafana_password_env="TEST_GF_ROTATE"))
    info = chart.chart_info
    seen = InstalledRelease(info.name, info.namespace_name, revision=1, status="deployed",
                            chart="kube-prometheus-stack-45.7.1")

    def planned(installed: InstalledRelease | None = seen) -> DeployContext:
        context = DeployContext(helm=None, kubectl=Cluster(), installed=installed, redactor=Redactor())  # type: ignore[arg-type]
        plan_grafana_admin(chart, context)
        return context

    monkeypatch.setenv("TEST_GF_ROTATE", "old-grafana-pass-1")
    same = planned()
    assert (same.out_of_date_reasons, same.steps) == ([], [])
    assert "old-grafana-pass-1" in same.redactor  # type: ignore[operator]
    monkeypatch.setenv("TEST_GF_ROTATE", "new-grafana-pass-2")
    rotated = planned()
    secret = chart.options.grafana_secret_name(info.name)
    assert rotated.out_of_date_reasons == [f"Secret '{secret}': admin-password not as configured"]
    assert rotated.steps == [f"set admin-password in Secret '{secret}' (namespace '{info.namespace_name}') "
                             "to the configured value; Grafana keeps the admin password it first started with "
                             "until it is changed in Grafana too"]
    assert "grafana-pass" not in " ".join(rotated.out_of_date_reasons + rotated.steps)
    # a create over the Secret an earlier install left (a destroy keeps it): pre_exec sets the
    # configured password in it before helm, so the plan says so (not out of date: it is a create)
    created = planned(installed=None)
    assert created.out_of_date_reasons == []
    assert created.steps == [f"set admin-password in Secret '{secret}' (namespace '{info.namespace_name}'), left "
                             "by an earlier install, to the configured value; Grafana keeps the admin password "
                             "it first started with until it is changed in Grafana too"]
    monkeypatch.setenv("TEST_GF_ROTATE", "old-grafana-pass-1")
    assert planned(installed=None).steps == []  # it holds the configured one: nothing changes
