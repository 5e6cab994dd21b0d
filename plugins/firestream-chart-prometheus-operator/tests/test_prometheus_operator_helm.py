"""The prometheus-operator plugin through the real lifecycle, the real helm and the emulated cluster.

The chart is a stand-in for kube-prometheus-stack (``tests/charts``), served
at 45.7.1 (eight CRDs), 46.0.0 and 81.5.0 (ten). CRDs are cluster-wide and this
module's tests share one emulated cluster, so no test assumes they are absent
when it starts.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from firestream_chart_prometheus_operator import PrometheusOperatorChart, PrometheusOperatorOptions
from firestream_chart_prometheus_operator.crds import CRDS

from firestream_core.model import BreakingVersion, ChartSetValue, HelmAction, ValidationStatus

RELEASE = "prometheus-operator"
ALL_CRDS = sorted([*CRDS, "alertmanagerconfigs.monitoring.coreos.com"])
"""The CRDs of 45.7.1: the seven the plugin checks and alertmanagerconfigs."""
NEWER_CRDS = ["prometheusagents.monitoring.coreos.com", "scrapeconfigs.monitoring.coreos.com"]
"""The CRDs 46.0.0 and later add (upstream's notes for 46.x and 47.x)."""
ALL_CRDS_NOW = sorted([*ALL_CRDS, *NEWER_CRDS])


def chart(kube: Any, version: str = "45.7.1", **options: Any) -> PrometheusOperatorChart:
    c = PrometheusOperatorChart(options=PrometheusOperatorOptions(**options))
    c.chart_info.namespace = kube.namespace
    c.chart_info.version = version
    c.chart_info.timeout = "60s"
    return c


def crd_uids(kube: Any) -> dict[str, str]:
    out = {}
    for name in ALL_CRDS_NOW:
        obj = kube.kubectl().get("customresourcedefinition", name)
        if obj is not None:
            out[name] = obj["metadata"]["uid"]
    return out


def history(kube: Any) -> list[dict[str, Any]]:
    import json

    out = kube.run(["helm", "history", RELEASE, "-n", kube.namespace, "-o", "json"]).stdout
    return json.loads(out)


def test_install_validates_crds_operator_prometheus_and_grafana(
    kube: Any,
    helm_bin: Path,
    deploy_context: Any,
    run_lifecycle: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    result = run_lifecycle(chart(kube), helm_bin)
    assert result.ok, result.error
    checks = {v.name: v for v in result.validations}
    assert {n: checks[n].status for n in (
        "prometheus_crds", "operator_available", "prometheus_instances", "grafana_available",
    )} == dict.fromkeys(
        ("prometheus_crds", "operator_available", "prometheus_instances", "grafana_available"),
        ValidationStatus.PASSED,
    )
    assert checks["prometheus_crds"].message == "7 CRDs established"
    # parallel releases' lines can be told apart: the plugin's own lines and every validation line
    own = [r.getMessage() for r in caplog.records
           if "firestream_chart_prometheus_operator" in r.pathname and r.levelno >= logging.INFO]
    assert len(own) >= 2 and all("release 'prometheus-operator'" in m for m in own), own
    lines = [m for m in caplog.messages if "Validation '" in m]
    assert len(lines) == len(result.validations) >= 6
    assert all(m.startswith("release 'prometheus-operator': Validation '") for m in lines), lines
    assert checks["prometheus_instances"].message.startswith("1 prometheuses.monitoring.coreos.com")
    assert result.payload["prometheus-operator"]["operator_ready"] is True

    # Grafana reads its admin from a Secret firestream made; the password is nowhere else
    secret = kube.kubectl().get("secret", "prometheus-operator-grafana-admin", namespace=kube.namespace)
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["admin-user"] == "admin"
    password = data["admin-password"]
    assert len(password) == 32
    grafana = kube.kubectl().get("deployment", "prometheus-operator-grafana", namespace=kube.namespace)
    (container,) = [c for c in grafana["spec"]["template"]["spec"]["containers"] if c["name"] == "grafana"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == {
        "name": "prometheus-operator-grafana-admin", "key": "admin-password",
    }
    assert kube.kubectl().get("secret", "prometheus-operator-grafana", namespace=kube.namespace) is None
    deploy_context.runner.assert_absent(password)
    assert password not in caplog.text
    # names are never masked: the Secret's name (it holds "admin") is logged as it is
    assert "the Grafana admin password in Secret 'prometheus-operator-grafana-admin'" in caplog.text


def test_upgrade_applies_the_charts_crds_before_helm(
    kube: Any, helm_bin: Path, deploy_context: Any, run_lifecycle: Callable[..., Any]
) -> None:
    assert run_lifecycle(chart(kube), helm_bin).ok
    # an older CRD set: one CRD missing (helm upgrade alone would never bring it back)
    kube.run(["kubectl", "delete", "crd", "probes.monitoring.coreos.com"])
    runner = deploy_context.runner
    runner.clear()
    result = run_lifecycle(chart(kube), helm_bin)
    assert result.ok, result.error
    assert result.payload["prometheus-operator"]["crds_applied"] == ALL_CRDS
    assert kube.kubectl().get("customresourcedefinition", "probes.monitoring.coreos.com") is not None
    assert [h["revision"] for h in history(kube)] == [1, 2]
    # the core's firestream_core.plugin.crds: pulled chart, server-side apply, then helm
    assert runner.index("apply", "--server-side") < runner.index("upgrade", "--install")


def upgrade_across_a_breaking_version(
    kube: Any, run_lifecycle: Callable[..., Any], **options: Any
) -> tuple[dict[str, str], dict[str, Any]]:
    """Install 45.7.1, then 46.0.0 declared breaking (uninstall first): the CRD uids before, the record."""
    assert run_lifecycle(chart(kube)).ok
    before = crd_uids(kube)
    upgrade = chart(kube, "46.0.0", **options)
    upgrade.chart_info.last_breaking_version_requiring_restart = BreakingVersion(
        "46.0.0", requires_uninstall=True
    )
    result = run_lifecycle(upgrade)
    assert result.ok, result.error
    record = result.payload["prometheus-operator"]
    assert record["uninstalled_for_breaking_version"] is True
    return before, record


def test_breaking_version_uninstalls_first_and_deletes_crds_when_asked(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    before, record = upgrade_across_a_breaking_version(kube, run_lifecycle, delete_crds=True)
    assert set(ALL_CRDS) <= set(record["crds_deleted"])
    assert "crds_applied" not in record  # the install recreates them from crds/
    after = crd_uids(kube)
    assert set(after) == set(ALL_CRDS_NOW)  # 46.0.0's, installed afresh from crds/
    assert all(after[n] != before[n] for n in ALL_CRDS)  # deleted and created anew
    assert [(h["revision"], h["chart"]) for h in history(kube)] == [(1, "kube-prometheus-stack-46.0.0")]


def test_breaking_version_keeps_crds_by_default(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    before, record = upgrade_across_a_breaking_version(kube, run_lifecycle)
    assert "crds_deleted" not in record
    assert record["crds_applied"] == ALL_CRDS_NOW  # kept, and brought to the new chart's
    after = crd_uids(kube)
    assert {n: after[n] for n in before} == before and set(after) == set(ALL_CRDS_NOW)
    assert [h["revision"] for h in history(kube)] == [1]


def test_destroy_keeps_crds_unless_delete_crds(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    assert run_lifecycle(chart(kube)).ok
    keep = chart(kube)
    keep.chart_info.action = HelmAction.DESTROY
    assert run_lifecycle(keep).ok
    assert set(ALL_CRDS) <= set(crd_uids(kube))

    assert run_lifecycle(chart(kube)).ok
    drop = chart(kube, delete_crds=True)
    drop.chart_info.action = HelmAction.DESTROY
    result = run_lifecycle(drop)
    assert result.ok, result.error
    assert crd_uids(kube) == {}
    assert set(ALL_CRDS) <= set(result.payload["prometheus-operator"]["crds_deleted"])


def test_an_operator_that_never_becomes_available_fails_post_exec(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    kube.cluster.set_controller(False)
    c = chart(kube)
    c.chart_info.wait = False
    c.chart_info.atomic = False
    c.chart_info.timeout = "1s"
    # without the admission hook Jobs (which would never complete either: see the next test)
    c.chart_info.values.append(ChartSetValue("prometheusOperator.admissionWebhooks.patch.enabled", "false"))
    result = run_lifecycle(c)
    assert result.stage_failed == "post_exec"
    assert result.error == (
        "release 'prometheus-operator' failed at post_exec: the Prometheus Operator of release "
        "'prometheus-operator' did not become available within 1s"
    )


def test_an_admission_hook_job_that_never_completes_fails_helm_before_any_object(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    """The chart's pre-install hook Job (admission-create) must complete before helm creates anything."""
    kube.cluster.set_controller(False)
    c = chart(kube)
    c.chart_info.timeout = "2s"
    result = run_lifecycle(c)
    assert result.stage_failed == "exec"
    assert "failed pre-install" in (result.error or "")
    job = kube.kubectl().get("job", "prometheus-operator-kube-p-admission-create", namespace=kube.namespace)
    assert job is not None and job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert kube.kubectl().get("deployment", "prometheus-operator-kube-p-operator", namespace=kube.namespace) is None


def test_grafana_password_from_the_environment(
    kube: Any, run_lifecycle: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_GRAFANA_ADMIN", "grafana-from-env-1")
    result = run_lifecycle(
        chart(kube, grafana_password_env="TEST_GRAFANA_ADMIN", grafana_secret="grafana-login")
    )
    assert result.ok, result.error
    secret = kube.kubectl().get("secret", "grafana-login", namespace=kube.namespace)
    assert base64.b64decode(secret["data"]["admin-password"]).decode() == "grafana-from-env-1"


def test_crds_with_bare_equals_enum_items_upgrade(
    kube: Any, helm_bin: Path, run_lifecycle: Callable[..., Any]
) -> None:
    """The real CRDs' "- =" enum items: a reinstall while the CRDs remain and an upgrade both work."""
    assert run_lifecycle(chart(kube), helm_bin).ok
    result = run_lifecycle(chart(kube), helm_bin)  # an upgrade: the chart's CRDs applied first
    assert result.ok, result.error
    assert "alertmanagerconfigs.monitoring.coreos.com" in result.payload["prometheus-operator"]["crds_applied"]
    crd = kube.kubectl().get("customresourcedefinition", "alertmanagerconfigs.monitoring.coreos.com")
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    match = schema["properties"]["spec"]["properties"]["inhibitRules"]["items"]["properties"]["sourceMatch"]
    assert match["items"]["properties"]["matchType"]["enum"] == ["!=", "=", "=~", "!~"]


def test_a_seed_era_install_upgrades_to_the_default_in_one_apply(
    kube: Any, helm_bin: Path, deploy_context: Any, run_lifecycle: Callable[..., Any]
) -> None:
    """45.7.1 (the seed's default) -> the default: its CRDs applied first, then one helm upgrade."""
    from firestream_chart_prometheus_operator.chart import VERSION

    # left by another test, at 0.88.0: 45.7.1 over them would be refused (a downgrade of the cluster's CRDs)
    kube.run(["kubectl", "delete", "crd", *ALL_CRDS_NOW, "--ignore-not-found"])
    assert run_lifecycle(chart(kube, "45.7.1"), helm_bin).ok
    assert set(crd_uids(kube)) == set(ALL_CRDS)  # 45.7.1's eight
    runner = deploy_context.runner
    runner.clear()
    result = run_lifecycle(chart(kube, VERSION), helm_bin)
    assert result.ok, result.error
    assert result.payload["prometheus-operator"]["crds_applied"] == ALL_CRDS_NOW
    assert set(crd_uids(kube)) == set(ALL_CRDS_NOW)  # helm alone would not have created the new two
    assert "uninstalled_for_breaking_version" not in result.payload["prometheus-operator"]
    assert runner.index("apply", "--server-side") < runner.index("upgrade", "--install")
    assert [h["chart"] for h in history(kube)][-1] == f"kube-prometheus-stack-{VERSION}"


def test_the_prometheuses_crd_only_goes_in_server_side(kube: Any) -> None:
    """Like the real one, the stand-in's CRD is too large for a client-side apply's annotation.

    The upgrade tests above apply it with the plugin's CRD step (server-side), which is the
    only way it goes in on an upgrade.
    """
    crd = Path(__file__).parent / "charts/kube-prometheus-stack/charts/crds/crds/crd-prometheuses.yaml"
    assert crd.stat().st_size > 262144
    refused = kube.run(["kubectl", "apply", "-f", str(crd)], check=False)
    assert refused.returncode != 0
    assert "metadata.annotations: Too long: must have at most 262144 bytes" in refused.stderr
    kube.run(["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(crd)])


def test_upstreams_crd_upgrade_hook_job_with_unlabelled_pods_does_not_count_as_a_workload(
    kube: Any, helm_bin: Path, deploy_context: Any, run_lifecycle: Callable[..., Any]
) -> None:
    """``crds.upgradeJob.enabled`` (upstream's own CRD upgrade, a pre-install/pre-upgrade hook Job
    whose pod template has no labels at all): helm runs it, and the release's workloads, those of
    its manifest, are what ``pods_running`` checks."""
    from firestream_chart_prometheus_operator.chart import VERSION

    c = chart(kube, VERSION)
    c.chart_info.values.append(ChartSetValue("crds.upgradeJob.enabled", "true"))
    result = run_lifecycle(c, helm_bin)
    assert result.ok, result.error
    hooks = kube.run(["helm", "get", "hooks", RELEASE, "-n", kube.namespace]).stdout
    assert "name: prometheus-operator-crds-upgrade" in hooks
    assert '"helm.sh/hook": pre-install,pre-upgrade,pre-rollback' in hooks
    checks = {v.name: v for v in result.validations}
    assert checks["pods_running"].status is ValidationStatus.PASSED
    # the operator, grafana, kube-state-metrics and node-exporter: not the hook's pod
    assert checks["pods_running"].message == "4 pods of release 'prometheus-operator' running"


def _deployed_with_override(
    kube: Any, helm_bin: Path, run_lifecycle: Callable[..., Any], key: str, suffix: str
) -> tuple[str, dict[str, Any]]:
    """The release deployed with ``key`` (a ``namespaceOverride``) naming a namespace of its own,
    made first: that namespace and the validations by name."""
    other = f"{kube.namespace}-{suffix}"
    kube.kubectl().run(["kubectl", "create", "namespace", other])
    c = chart(kube, "81.5.0")
    c.chart_info.timeout = "5s"
    c.chart_info.values.append(ChartSetValue(key, other))
    result = run_lifecycle(c, helm_bin)
    assert result.ok, result.error
    return other, {v.name: v for v in result.validations}


def test_namespace_override_moves_the_operator_and_prometheus_and_both_are_found_there(
    kube: Any, helm_bin: Path, run_lifecycle: Callable[..., Any]
) -> None:
    # upstream's namespaceOverride (kube-prometheus-stack.namespace) puts the chart's own objects in
    # another namespace; Grafana (its own subchart's namespaceOverride) stays in the release's
    other, checks = _deployed_with_override(kube, helm_bin, run_lifecycle, "namespaceOverride", "mon")
    assert checks["operator_available"].status is ValidationStatus.PASSED, checks["operator_available"].message
    assert checks["prometheus_instances"].status is ValidationStatus.PASSED
    assert f"in namespace '{other}'" in checks["prometheus_instances"].message
    assert kube.kubectl().get("deployment", "prometheus-operator-kube-p-operator", namespace=other) is not None


def test_grafana_namespace_override_gets_its_admin_secret_there(
    kube: Any, helm_bin: Path, run_lifecycle: Callable[..., Any]
) -> None:
    # upstream's grafana.namespace: the subchart's own namespaceOverride puts Grafana elsewhere,
    # and Grafana reads admin.existingSecret from its own namespace
    other, checks = _deployed_with_override(kube, helm_bin, run_lifecycle, "grafana.namespaceOverride", "grafana")
    assert checks["grafana_available"].status is ValidationStatus.PASSED, checks["grafana_available"].message
    assert kube.kubectl().get("deployment", "prometheus-operator-grafana", namespace=other) is not None
    assert kube.kubectl().get("secret", "prometheus-operator-grafana-admin", namespace=other) is not None
    assert kube.kubectl().get("secret", "prometheus-operator-grafana-admin", namespace=kube.namespace) is None
