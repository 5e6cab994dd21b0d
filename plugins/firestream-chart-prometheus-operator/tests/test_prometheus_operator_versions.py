"""The default chart version, its breaking version and the CRD steps an old install's plan shows."""

from __future__ import annotations

from pathlib import Path

import attrs
from firestream_chart_prometheus_operator import PrometheusOperatorChart, PrometheusOperatorOptions
from firestream_chart_prometheus_operator.chart import CRD_UPGRADES, VERSION, crd_upgrades_crossed
from firestream_chart_prometheus_operator.hooks import chart_type

from firestream_core.deploy.plan import Plan, make_plan
from firestream_core.model import InstalledRelease

DOCS = Path(__file__).resolve().parents[3] / "docs" / "charts.md"
SEED_VERSION = "45.7.1"


def test_the_default_version_is_the_documented_one() -> None:
    assert VERSION == "81.5.0"
    assert PrometheusOperatorChart.default().chart_info.version == VERSION
    text = DOCS.read_text(encoding="utf-8")
    assert f"prometheus-community/kube-prometheus-stack {VERSION}" in text
    assert f"| `prometheus-operator` | kube-prometheus-stack | {SEED_VERSION} | {VERSION} |" in text


def test_the_breaking_version_is_the_last_crd_updating_major_of_the_default() -> None:
    bv = PrometheusOperatorChart.default().chart_info.last_breaking_version_requiring_restart
    assert bv is not None and bv.version == "81.0.0"
    assert not bv.requires_uninstall and bv.pre_upgrade_commands == []
    assert [v for v, _ in crd_upgrades_crossed(SEED_VERSION, VERSION)] == [v for v, _ in CRD_UPGRADES]
    assert [v for v, _ in crd_upgrades_crossed("55.0.0", "58.1.0")] == ["56.0.0", "57.0.0", "58.0.0"]
    assert crd_upgrades_crossed("81.0.0", VERSION) == []


def plan_from(installed_version: str, chart: PrometheusOperatorChart, tmp_path: Path) -> Plan:
    info = chart.chart_info
    live = InstalledRelease(info.name, info.namespace_name, 3, "deployed",
                            f"kube-prometheus-stack-{installed_version}")
    return make_plan([chart], [live], None, project_dir=tmp_path,
                     extra_steps=chart_type().destructive_steps)


def test_a_seed_era_install_plans_one_upgrade_naming_each_crd_step(tmp_path: Path) -> None:
    change = plan_from(SEED_VERSION, PrometheusOperatorChart.default(), tmp_path)["prometheus-operator"]
    assert change.action == "upgrade"  # one step: no uninstall, the CRDs are applied first
    assert change.reasons[0] == "breaking version 81.0.0: upgrade across it (installed 45.7.1)"
    assert change.destructive[0] == (
        "server-side apply the monitoring.coreos.com CRDs of kube-prometheus-stack 81.5.0 before the "
        "upgrade (helm never updates crds/)"
    )
    named = [line.split(":")[0].strip() for line in change.destructive[1:]]
    assert named == [f"which covers the CRD update of {v}" for v, _ in CRD_UPGRADES]
    assert "which covers the CRD update of 65.0.0: Prometheus Operator v0.77.1" in change.destructive


def test_without_upgrade_crds_the_plan_says_the_crds_are_left(tmp_path: Path) -> None:
    chart = attrs.evolve(PrometheusOperatorChart.default(),
                         options=PrometheusOperatorOptions(upgrade_crds=False))
    change = plan_from("60.0.0", chart, tmp_path)["prometheus-operator"]
    assert change.destructive == (
        "CRDs NOT updated (upgrade_crds = false): apply those of kube-prometheus-stack 81.5.0 yourself "
        "first; upstream requires it for 61.0.0, 62.0.0, 65.0.0, 66.0.0, 67.0.0, 69.0.0, 70.0.0, 71.0.0, "
        "74.0.0, 76.0.0, 77.0.0, 78.0.0, 80.0.0, 81.0.0",
    )


def test_with_skip_crds_the_plan_says_the_crds_are_left_as_exec_leaves_them(tmp_path: Path) -> None:
    """skip_crds: upgrade_chart_crds applies nothing, so the plan may not say it does."""
    chart = PrometheusOperatorChart.default()
    chart.chart_info.skip_crds = True
    change = plan_from("80.0.0", chart, tmp_path)["prometheus-operator"]
    assert change.destructive == (
        "CRDs NOT updated (skip_crds = true): apply those of kube-prometheus-stack 81.5.0 yourself "
        "first; upstream requires it for 81.0.0",
    )


def test_with_the_crds_subchart_off_the_plan_says_the_crds_are_left_as_exec_leaves_them(tmp_path: Path) -> None:
    """crds.enabled: false (a values file of the config, read from its absolute path): exec skips the step."""
    from firestream_core.model import ChartSetValue

    chart = PrometheusOperatorChart.default()
    chart.chart_info.values.append(ChartSetValue("crds.enabled", "false"))
    change = plan_from("80.0.0", chart, tmp_path)["prometheus-operator"]
    assert change.destructive == (
        "CRDs NOT updated (crds.enabled = false): apply those of kube-prometheus-stack 81.5.0 yourself "
        "first; upstream requires it for 81.0.0",
    )
    values = tmp_path / "off.yaml"
    values.write_text("crds:\n  enabled: false\n")
    chart = PrometheusOperatorChart.default()
    chart.chart_info.values_files.append(values)
    assert plan_from("80.0.0", chart, tmp_path)["prometheus-operator"].destructive[0].startswith(
        "CRDs NOT updated (crds.enabled = false)")


def test_an_install_at_the_default_major_plans_no_crd_step(tmp_path: Path) -> None:
    change = plan_from("81.1.0", PrometheusOperatorChart.default(), tmp_path)["prometheus-operator"]
    assert change.breaking is None and change.destructive == ()


def test_a_downgrade_back_across_a_crd_update_is_refused_naming_release_versions_and_the_way() -> None:
    """81.5.0 -> 80.0.0 would apply v0.87's CRDs over v0.88's: refused, no CRD step said; a downgrade
    within one CRD major (81.5.0 -> 81.0.0) is an ordinary deploy."""
    from firestream_chart_prometheus_operator.hooks import contribute_values

    from firestream_core.plugin import DeployContext

    def refused(installed: str, target: str) -> tuple[list[str], list[str]]:
        chart = stand_in(target)  # CRDs read from the local stand-in, none in the cluster
        live = InstalledRelease("mon", "prometheus", 1, "deployed", f"kube-prometheus-stack-{installed}")
        context = DeployContext(helm=None, kubectl=ClusterCRDs({}),  # type: ignore[arg-type]
                                change="upgrade", installed=live)
        contribute_values(chart, context)
        return context.problems, context.steps

    problems, steps = refused("81.5.0", "80.0.0")
    assert (problems, steps) == ([
        "release 'mon': kube-prometheus-stack 81.5.0 -> 80.0.0 is a downgrade back across 81.0.0 (exec would "
        "server-side apply the older chart's CRDs over the newer ones the cluster holds, dropping what the "
        "newer operator's objects use), which upstream does not support and firestream does not do: keep "
        "version = \"81.5.0\" (or any version from 81.0.0 up)"], [])
    assert "back across 24 of its upgrade notes, 46.0.0 to 81.0.0" in refused("81.5.0", "45.7.1")[0][0]
    problems, steps = refused("81.5.0", "81.0.0")
    assert problems == [] and len(steps) == 1  # the CRDs of 81.0.0, same operator major


class ClusterCRDs:
    """A kubectl layer holding CRDs (name -> operator version, None: no annotation); records applies."""

    def __init__(self, versions: dict[str, str | None]) -> None:
        self.versions = versions
        self.applied: list[str] = []

    def get(self, kind: str, name: str | None = None, **_: object) -> dict[str, object] | None:
        if kind == "secret":  # Grafana's admin Secret, as pre_exec left it (the plan compares it)
            import base64

            return {"data": {"admin-user": base64.b64encode(b"admin").decode(),
                             "admin-password": base64.b64encode(b"generated-password").decode()}}
        assert kind == "customresourcedefinition"
        if name not in self.versions:
            return None
        version = self.versions[name]
        annotations = {} if version is None else {"operator.prometheus.io/version": version}
        return {"metadata": {"name": name, "annotations": annotations}}

    def apply_server_side(self, manifests: str) -> None:
        from firestream_core.plugin import crd_names

        self.applied += crd_names(manifests)


def stand_in(target: str) -> PrometheusOperatorChart:
    """The default chart as release 'mon' of the local stand-in (its ten CRDs at operator 0.88.0)."""
    chart = PrometheusOperatorChart.default()
    chart.chart_info.name, chart.chart_info.version = "mon", target
    chart.chart_info.path = Path(__file__).parent / "charts" / "kube-prometheus-stack"
    return chart


def desired(
    chart: PrometheusOperatorChart, cluster: ClusterCRDs, installed: str | None, helm_major: int | None = None
) -> tuple[list[str], list[str]]:
    from firestream_chart_prometheus_operator.hooks import contribute_values

    from firestream_core.plugin import DeployContext

    live = None if installed is None else InstalledRelease(
        "mon", "prometheus", 1, "deployed", f"kube-prometheus-stack-{installed}")
    helm = None if helm_major is None else type("Helm", (), {"major": helm_major})()
    context = DeployContext(helm=helm, kubectl=cluster, installed=live,  # type: ignore[arg-type]
                            change="create" if live is None else "upgrade")
    contribute_values(chart, context)
    return context.problems, context.steps


def test_a_crd_step_over_newer_crds_of_the_cluster_is_refused_naming_each_and_the_ways_on() -> None:
    """CRDs are cluster-wide: another release's newer ones (or ones a destroyed release left) are never
    downgraded by this chart's older CRDs, on a create over them as on an upgrade; the plan says why."""
    newer = {"prometheuses.monitoring.coreos.com": "0.89.0", "servicemonitors.monitoring.coreos.com": "v0.90.1"}
    for installed in (None, "81.0.0"):
        problems, steps = desired(stand_in("81.5.0"), ClusterCRDs(newer), installed)
        assert steps == []
        assert problems == [
            "release 'mon': the cluster's CRDs are newer than those of kube-prometheus-stack 81.5.0: "
            "prometheuses.monitoring.coreos.com at 0.89.0 (this chart's 0.88.0), servicemonitors.monitoring."
            "coreos.com at v0.90.1 (this chart's 0.88.0) (operator.prometheus.io/version); the CRD step would "
            "server-side apply the older ones over them, downgrading CRDs every other release of the operator "
            "in the cluster relies on: deploy a chart version whose CRDs are at v0.90.1 or newer, or set "
            "skip_crds = true to leave the cluster's CRDs as they are (no CRD step, and helm installs none)"]
    # the same, older or unannotated CRDs: the CRD step, said for the plan
    for same in ({"prometheuses.monitoring.coreos.com": "0.88.0"},
                 {"prometheuses.monitoring.coreos.com": "0.63.0", "probes.monitoring.coreos.com": None}):
        problems, steps = desired(stand_in("81.5.0"), ClusterCRDs(same), None)
        assert (problems, steps) == ([], [
            "server-side apply the monitoring.coreos.com CRDs of kube-prometheus-stack 81.5.0 before the "
            "upgrade (helm never updates crds/)"])
    # skip_crds: no CRD step, helm installs none: nothing refused, on a create as on an upgrade
    for installed in (None, "81.0.0"):
        skipped = stand_in("81.5.0")
        skipped.chart_info.skip_crds = True
        assert desired(skipped, ClusterCRDs(newer), installed) == ([], [])
    # upgrade_crds = false: no CRD step; an upgrade leaves the CRDs (helm never upgrades crds/), but a
    # create over them with helm 4 does not (its install server-side applies crds/): refused there
    kept = attrs.evolve(stand_in("81.5.0"), options=PrometheusOperatorOptions(upgrade_crds=False))
    assert desired(kept, ClusterCRDs(newer), "81.0.0") == ([], [])
    for major, refused in ((3, False), (4, True)):
        problems, steps = desired(kept, ClusterCRDs(newer), None, helm_major=major)
        assert steps == [] and bool(problems) is refused, (major, problems)


def test_exec_applies_nothing_over_newer_crds_the_plan_did_not_see() -> None:
    """The cluster changed since the plan: exec's CRD step raises before any apply and before helm."""
    from firestream_core.errors import PlanMismatchError
    from firestream_core.plugin import DeployContext, upgrade_chart_crds

    info = stand_in("81.5.0").chart_info
    live = InstalledRelease("mon", "prometheus", 2, "deployed", "kube-prometheus-stack-81.0.0")
    cluster = ClusterCRDs({"probes.monitoring.coreos.com": "0.89.0"})
    context = DeployContext(helm=None, kubectl=cluster, installed=live)  # type: ignore[arg-type]
    try:
        upgrade_chart_crds(context, info, installed=live, version_annotation="operator.prometheus.io/version")
    except PlanMismatchError as exc:
        assert "probes.monitoring.coreos.com at 0.89.0 (this chart's 0.88.0)" in str(exc)
        assert "nothing was applied and helm did not run, release 'mon' is unchanged at 81.0.0 (revision 2)" in str(exc)
    else:
        raise AssertionError("applied over newer CRDs")
    assert cluster.applied == []
    cluster.versions["probes.monitoring.coreos.com"] = "0.88.0"
    applied = upgrade_chart_crds(context, info, installed=live, version_annotation="operator.prometheus.io/version")
    assert applied is not None and len(applied) == 10 and cluster.applied == applied


def test_exec_lets_helm_4_write_no_crd_over_newer_ones_the_plan_did_not_see() -> None:
    """upgrade_crds = false, a create with helm 4 (its install server-side applies crds/): newer CRDs
    since the plan stop the release in exec, before helm."""
    from firestream_chart_prometheus_operator.hooks import exec as prometheus_exec

    from firestream_core.errors import PlanMismatchError
    from firestream_core.plugin import ChartPayload, DeployContext, PreparedRelease

    chart = attrs.evolve(stand_in("81.5.0"), options=PrometheusOperatorOptions(upgrade_crds=False))
    cluster = ClusterCRDs({"prometheuses.monitoring.coreos.com": "0.89.0"})
    for major, stops in ((4, True), (3, False)):
        helm = type("Helm", (), {"major": major})()
        context = DeployContext(helm=helm, kubectl=cluster, change="create",  # type: ignore[arg-type]
                                prepared=PreparedRelease(installed=None))
        steps = prometheus_exec(chart, context, ChartPayload())
        try:
            next(steps)
        except PlanMismatchError as exc:
            assert stops and "prometheuses.monitoring.coreos.com at 0.89.0 (this chart's 0.88.0)" in str(exc)
        else:
            assert not stops, "exec went on to helm 4's install"
        assert cluster.applied == []


def test_the_plan_is_told_when_pre_exec_creates_the_namespace_for_grafanas_secret() -> None:
    """prepare_grafana_admin runs ensure_namespace before Grafana's admin Secret when create_namespace
    is on: contribute_values says so (context.creates_namespace), and only then."""
    from firestream_chart_prometheus_operator.hooks import contribute_values

    from firestream_core.plugin import DeployContext

    def said(chart: PrometheusOperatorChart) -> bool:
        context = DeployContext(helm=None, kubectl=ClusterCRDs({}), change="create")  # type: ignore[arg-type]
        contribute_values(chart, context)
        return context.namespace_by_plugin

    assert said(stand_in("81.0.0"))
    chart = stand_in("81.0.0")
    chart.chart_info.create_namespace = False
    assert not said(chart)
