"""The prometheus-operator chart type as a user runs it: ``firestream.toml``, then the ``firestream`` command.

Each test runs the real console script in a subprocess, under helm 3 and helm 4
(``helm_bin``), against the emulated cluster and the stand-in chart
(``conftest.py``: 45.7.1 with eight CRDs, 81.5.0 with ten, Services in
kube-system, admission hook Jobs, subcharts). The matrix:

=========================  ================================================================
install                    ``plan`` shows a create, ``apply`` installs, objects in the
                           release namespace and in kube-system belong to the release
no-op plan                 after apply, ``plan --detailed-exitcode`` exits 0: no changes
drift clean                after apply, ``drift`` exits 0: every object in sync
destroy                    ``destroy`` uninstalls; the CRDs stay (``delete_crds`` unset)
upgrade across a breaking  45.7.1 (the seed's) -> the default: ``plan`` names the CRD step
version                    and each upstream CRD update it covers, ``apply`` takes it (the
                           two CRDs 45.x lacked now exist, the others were not recreated)
                           and nothing else (one helm upgrade, no uninstall); then no-op
                           and drift clean again
=========================  ================================================================
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from firestream_chart_prometheus_operator.chart import CRD_UPGRADES, VERSION

pytestmark = pytest.mark.helm

FIRESTREAM = str(Path(sys.executable).with_name("firestream"))
RELEASE = "monitoring"
FULLNAME = "monitoring-kube-prometheus"  # the chart's full name, cut at 26 characters
OLD_CRDS = sorted(f"{p}.monitoring.coreos.com" for p in (
    "alertmanagerconfigs", "alertmanagers", "podmonitors", "probes", "prometheuses",
    "prometheusrules", "servicemonitors", "thanosrulers"))
NEW_CRDS = ["prometheusagents.monitoring.coreos.com", "scrapeconfigs.monitoring.coreos.com"]
KUBE_SYSTEM_SERVICES = [f"{FULLNAME}-{s}" for s in (
    "coredns", "kube-controller-manager", "kube-etcd", "kube-proxy", "kube-scheduler")]


def write_project(folder: Path, kube: Any, repo: Any, version: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pin = f'version = "{version}"\n' if version else ""
    (folder / "firestream.toml").write_text(
        f'[repositories]\nprometheus-community = "{repo.url}"\n\n'
        f'[[deployments.prometheus-operator]]\nname = "{RELEASE}"\nnamespace = "{kube.namespace}"\n'
        f'timeout = "120s"\n{pin}',
        encoding="utf-8",
    )


def firestream(kube: Any, helm_bin: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [FIRESTREAM, "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig),
         "--kubectl-binary", str(kube.tools["kubectl"]), *args],
        cwd=folder, env=dict(kube.env), capture_output=True, text=True, timeout=600,
    )


def ok(done: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert done.returncode == code, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def crd_uids(kube: Any) -> dict[str, str]:
    out = {}
    for name in [*OLD_CRDS, *NEW_CRDS]:
        obj = kube.kubectl().get("customresourcedefinition", name)
        if obj is not None:
            out[name] = obj["metadata"]["uid"]
    return out


def history(kube: Any) -> list[tuple[int, str, str]]:
    out = kube.run(["helm", "history", RELEASE, "-n", kube.namespace, "-o", "json"]).stdout
    return [(h["revision"], h["chart"], h["status"]) for h in json.loads(out)]


def assert_no_op_and_in_sync(kube: Any, helm_bin: Path, folder: Path) -> None:
    """``plan`` says there is nothing to do; ``drift`` finds every object as the chart made it."""
    plan = ok(firestream(kube, helm_bin, folder, "plan", "--detailed-exitcode"))
    assert "no changes (1 unchanged)" in plan, plan
    drift = json.loads(ok(firestream(kube, helm_bin, folder, "drift", "--json")))
    (release,) = drift["releases"]
    assert (release["name"], release["status"], release["objects"]) == (RELEASE, "in-sync", [])
    assert release["checked"] >= 20  # the release's objects, kube-system's Services among them


def test_install_no_op_drift_clean_destroy_keeps_crds(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "project"
    write_project(folder, kube, deploy_chart_repo)

    plan = ok(firestream(kube, helm_bin, folder, "plan"))
    assert "Plan: 1 to create; 1 namespace to create." in plan, plan  # the test's fresh namespace
    ok(firestream(kube, helm_bin, folder, "apply", "--yes"))

    assert history(kube) == [(1, f"kube-prometheus-stack-{VERSION}", "deployed")]
    for name in KUBE_SYSTEM_SERVICES:  # objects in another namespace, owned by the release
        svc = kube.kubectl().get("service", name, namespace="kube-system")
        assert svc is not None, name
        assert svc["metadata"]["annotations"]["meta.helm.sh/release-namespace"] == kube.namespace
    assert set(crd_uids(kube)) == {*OLD_CRDS, *NEW_CRDS}
    # the admission hook Jobs ran and were deleted (hook-succeeded); the webhooks they patch exist
    assert kube.kubectl().get("job", f"{FULLNAME}-admission-create", namespace=kube.namespace) is None
    assert kube.kubectl().get("validatingwebhookconfiguration", f"{FULLNAME}-admission") is not None

    assert_no_op_and_in_sync(kube, helm_bin, folder)
    # drift does look in kube-system: a Service deleted there is reported
    kube.run(["kubectl", "delete", "service", KUBE_SYSTEM_SERVICES[0], "-n", "kube-system"])
    drifted = ok(firestream(kube, helm_bin, folder, "drift"), code=2)
    assert f"  Service/{KUBE_SYSTEM_SERVICES[0]} (namespace kube-system): missing\n" in drifted, drifted

    crds = crd_uids(kube)
    # with delete_crds the destroy plan names the cluster-wide deletion post_exec makes (a dry run: none made)
    config = folder / "firestream.toml"
    config.write_text(config.read_text() + "delete_crds = true\n", encoding="utf-8")
    shown = ok(firestream(kube, helm_bin, folder, "destroy", "--dry-run", "--yes"))
    assert (f"Steps to review, in the order they run (a step may delete or overwrite):\n  ! {RELEASE}: delete the monitoring.coreos.com CRDs (delete_crds = true), "
            "and every object of their kinds in every namespace\n") in shown, shown
    assert crd_uids(kube) == crds
    config.write_text(config.read_text().replace("delete_crds = true\n", ""), encoding="utf-8")
    gone = ok(firestream(kube, helm_bin, folder, "destroy", "--yes"))
    assert "Steps to review" not in gone, gone
    assert kube.run(["helm", "list", "-n", kube.namespace, "-q"]).stdout.strip() == ""
    for name in KUBE_SYSTEM_SERVICES:
        assert kube.kubectl().get("service", name, namespace="kube-system") is None, name
    assert crd_uids(kube) == crds  # kept: delete_crds is not set


def test_upgrade_from_the_seed_version_takes_the_planned_crd_step_and_nothing_else(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    # left by another test, at 0.88.0: 45.7.1 over them would be refused (a downgrade of the cluster's CRDs)
    kube.run(["kubectl", "delete", "crd", *OLD_CRDS, *NEW_CRDS, "--ignore-not-found"])
    folder = tmp_path / "project"
    write_project(folder, kube, deploy_chart_repo, version="45.7.1")
    ok(firestream(kube, helm_bin, folder, "apply", "--yes"))
    before = crd_uids(kube)
    assert set(before) == set(OLD_CRDS)  # 45.7.1's eight

    write_project(folder, kube, deploy_chart_repo)  # the version line removed: the default
    plan = ok(firestream(kube, helm_bin, folder, "plan"))
    assert "breaking version 81.0.0: upgrade across it (installed 45.7.1)" in plan, plan
    assert (f"! {RELEASE}: server-side apply the monitoring.coreos.com CRDs of kube-prometheus-stack "
            f"{VERSION} before the upgrade (helm never updates crds/)") in plan
    for version, note in CRD_UPGRADES:
        assert f"! {RELEASE}: which covers the CRD update of {version}: {note}" in plan
    planned = json.loads(ok(firestream(kube, helm_bin, folder, "plan", "--json")))
    (change,) = planned["releases"]
    assert change["action"] == "upgrade"
    assert len(change["destructive"]) == 1 + len(CRD_UPGRADES)  # the CRD step and what it covers: no uninstall

    ok(firestream(kube, helm_bin, folder, "apply", "--yes"))
    assert history(kube) == [(1, "kube-prometheus-stack-45.7.1", "superseded"),
                             (2, f"kube-prometheus-stack-{VERSION}", "deployed")]
    after = crd_uids(kube)
    assert set(after) == {*OLD_CRDS, *NEW_CRDS}  # the two 45.x lacked: helm alone never creates them
    assert {n: after[n] for n in OLD_CRDS} == before  # applied in place, not deleted and recreated
    crd = kube.kubectl().get("customresourcedefinition", "scrapeconfigs.monitoring.coreos.com")
    assert crd["metadata"]["annotations"]["operator.prometheus.io/version"] == "0.88.0"

    assert_no_op_and_in_sync(kube, helm_bin, folder)


def crd_versions(kube: Any) -> dict[str, tuple[str, str]]:
    """CRD name -> (its operator.prometheus.io/version, its resourceVersion)."""
    out = {}
    for name in [*OLD_CRDS, *NEW_CRDS]:
        obj = kube.kubectl().get("customresourcedefinition", name)
        if obj is not None:
            meta = obj["metadata"]
            out[name] = (meta["annotations"]["operator.prometheus.io/version"], meta["resourceVersion"])
    return out


def test_an_older_chart_over_newer_crds_of_the_cluster_is_refused_and_leaves_them(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """CRDs are cluster-wide: 45.7.1 (operator 0.63.0) created over the 0.88.0 CRDs another release put
    there (or a destroyed one left) would downgrade them for every Prometheus in the cluster. plan,
    plan --json and apply refuse it, naming the release, the CRDs and the ways on; nothing changes.
    With upgrade_crds = false helm installs it and, as plain helm does, leaves the CRDs as they are."""
    crds = Path(__file__).parent / "charts/kube-prometheus-stack/charts/crds/crds"
    kube.run(["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(crds)])  # 0.88.0's ten
    before = crd_versions(kube)
    assert {v for v, _ in before.values()} == {"0.88.0"} and len(before) == 10

    folder = tmp_path / "project"
    write_project(folder, kube, deploy_chart_repo, version="45.7.1")
    plan = firestream(kube, helm_bin, folder, "plan")
    assert plan.returncode == 1, plan
    said = plan.stdout + plan.stderr
    assert ("the cluster's CRDs are newer than those of kube-prometheus-stack 45.7.1: "
            "alertmanagerconfigs.monitoring.coreos.com at 0.88.0 (this chart's 0.63.0)") in said, said
    assert "and 5 more (operator.prometheus.io/version)" in said
    assert "set skip_crds = true to leave the cluster's CRDs as they are" in said
    assert "server-side apply the monitoring.coreos.com CRDs" not in said
    planned = json.loads(firestream(kube, helm_bin, folder, "plan", "--json").stdout)
    (change,) = planned["releases"]
    assert change["destructive"] == [] and len(change["problems"]) == 1
    assert change["problems"][0].startswith(f"release '{RELEASE}': the cluster's CRDs are newer than those")

    applied = firestream(kube, helm_bin, folder, "apply", "--yes")
    assert applied.returncode != 0, applied
    assert "the cluster's CRDs are newer than those of kube-prometheus-stack 45.7.1" in applied.stdout + applied.stderr
    assert kube.run(["helm", "list", "-n", kube.namespace, "-q"]).stdout.strip() == ""
    assert crd_versions(kube) == before  # not one applied

    # upgrade_crds = false is no way on for a create: helm 4's install server-side applies crds/ over
    # existing CRDs (helm 3 skips them), so with helm 4 the plan still refuses it
    toml = (folder / "firestream.toml").read_text(encoding="utf-8")
    (folder / "firestream.toml").write_text(toml + "upgrade_crds = false\n", encoding="utf-8")
    plan = firestream(kube, helm_bin, folder, "plan")
    assert plan.returncode == (1 if helm_bin.name == "helm4" else 0), plan
    # skip_crds: no CRD step and helm --skip-crds: the release is installed, the CRDs left at 0.88.0
    (folder / "firestream.toml").write_text(toml + "skip_crds = true\n", encoding="utf-8")
    plan = ok(firestream(kube, helm_bin, folder, "plan"))
    assert "Plan: 1 to create; 1 namespace to create." in plan and "CRDs" not in plan, plan
    ok(firestream(kube, helm_bin, folder, "apply", "--yes"))
    assert history(kube) == [(1, "kube-prometheus-stack-45.7.1", "deployed")]
    assert crd_versions(kube) == before


def test_a_kube_state_metrics_role_ref_change_is_refused_before_any_change(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """kube-state-metrics' ClusterRoleBinding names rbac.useExistingRole in its roleRef (upstream's
    charts/kube-state-metrics/templates/clusterrolebinding.yaml), and the API server refuses to change
    a binding's roleRef: plan refuses the upgrade, naming the binding and the way on, and apply stops
    it before helm changes anything."""
    folder = tmp_path / "project"
    write_project(folder, kube, deploy_chart_repo)
    ok(firestream(kube, helm_bin, folder, "apply", "--yes"))
    binding = f"{RELEASE}-kube-state-metrics"
    assert kube.kubectl().get("clusterrolebinding", binding)["roleRef"]["name"] == binding
    with (folder / "firestream.toml").open("a", encoding="utf-8") as f:
        f.write('\n[deployments.prometheus-operator.values]\nkube-state-metrics.rbac.useExistingRole = "view"\n')
    out = ok(firestream(kube, helm_bin, folder, "plan"), 1)
    assert (f"refused: immutable fields change: ClusterRoleBinding/{binding} roleRef") in out
    assert (f"immutable fields change (ClusterRoleBinding.rbac.authorization.k8s.io/{binding}: roleRef); "
            f"delete the object first") in out
    ok(firestream(kube, helm_bin, folder, "apply", "--yes"), 1)
    assert [r[:2] for r in history(kube)] == [(1, f"kube-prometheus-stack-{VERSION}")]
    assert kube.kubectl().get("clusterrolebinding", binding)["roleRef"]["name"] == binding
