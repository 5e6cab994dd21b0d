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


OPERATOR_LABELS = {"k8s-app": "kubelet", "app.kubernetes.io/name": "kubelet",
                   "app.kubernetes.io/managed-by": "prometheus-operator"}
"""The labels the Prometheus Operator puts on the kubelet Service and Endpoints it makes."""


def make_kubelet_objects(kube: Any, folder: Path, name: str, labels: dict[str, str]) -> None:
    """What the operator makes for ``--kubelet-service=kube-system/<name>`` (the emulator runs no
    operator): the Service, its Endpoints and an EndpointSlice, with ``labels``; and a slice of the
    Service that Kubernetes' own mirroring controller manages (never the operator's to delete)."""
    ports = [{"name": "https-metrics", "port": 10250, "protocol": "TCP"}]
    meta = {"namespace": "kube-system", "labels": labels}
    slice_labels = {**labels, "kubernetes.io/service-name": name}
    objects = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, **meta},
         "spec": {"clusterIP": "None", "ports": [{"name": "https-metrics", "port": 10250}]}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, **meta},
         "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": ports}]},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": f"{name}-x7k2p", "namespace": "kube-system",
                      "labels": {**slice_labels, "endpointslice.kubernetes.io/managed-by": "prometheus-operator"}},
         "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": ports},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": f"{name}-mirror", "namespace": "kube-system",
                      "labels": {"kubernetes.io/service-name": name,
                                 "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}},
         "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": ports},
    ]
    path = folder / "kubelet-objects.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}), encoding="utf-8")
    kube.run(["kubectl", "apply", "-f", str(path)])


def kubelet_objects(kube: Any, name: str) -> list[str]:
    """The kubelet Service's objects left in kube-system."""
    out = [f"{kind}/{name}" for kind in ("Service", "Endpoints")
           if kube.kubectl().get(kind.lower(), name, namespace="kube-system") is not None]
    slices = kube.kubectl().get("endpointslices.discovery.k8s.io", namespace="kube-system",
                                selector=f"kubernetes.io/service-name={name}")
    return out + sorted(f"EndpointSlice/{s['metadata']['name']}" for s in (slices or {}).get("items", []))


def test_destroy_deletes_the_operators_kubelet_service_the_plan_names(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """The operator creates ``--kubelet-service``'s Service, Endpoints and EndpointSlices, which
    helm's uninstall leaves (a reinstall under another name then scrapes every kubelet twice). The
    destroy plan names the Service and its namespace, as the release's values made them (here
    ``kubeletService.name``); the destroy deletes them after the uninstall, and nothing else."""
    folder = tmp_path / "project"
    write_project(folder, kube, deploy_chart_repo)
    with (folder / "firestream.toml").open("a", encoding="utf-8") as f:
        f.write('\n[deployments.prometheus-operator.values]\n'
                'prometheusOperator.kubeletService.name = "kubelet-by-monitoring"\n')
    ok(firestream(kube, helm_bin, folder, "apply", "--yes"))
    name = "kubelet-by-monitoring"
    make_kubelet_objects(kube, folder, name, OPERATOR_LABELS)
    every = ["Service/kubelet-by-monitoring", "Endpoints/kubelet-by-monitoring",
             "EndpointSlice/kubelet-by-monitoring-mirror", "EndpointSlice/kubelet-by-monitoring-x7k2p"]
    assert kubelet_objects(kube, name) == every

    line = (f"delete Service '{name}' (namespace 'kube-system') and its Endpoints and EndpointSlices after "
            "the uninstall: the operator's kubelet Service (app.kubernetes.io/managed-by=prometheus-operator), "
            "which helm's uninstall leaves")
    shown = ok(firestream(kube, helm_bin, folder, "destroy", "--dry-run", "--yes"))
    assert f"Steps to review, in the order they run (a step may delete or overwrite):\n  ! {RELEASE}: {line}\n" in shown, shown
    assert kubelet_objects(kube, name) == every  # a dry run deletes nothing

    gone = ok(firestream(kube, helm_bin, folder, "destroy", "--yes"))
    assert f"! {RELEASE}: {line}\n" in gone, gone
    assert kube.run(["helm", "list", "-n", kube.namespace, "-q"]).stdout.strip() == ""
    # the mirrored slice is Kubernetes' (its controller removes it with the Endpoints), not the operator's
    assert kubelet_objects(kube, name) == ["EndpointSlice/kubelet-by-monitoring-mirror"]
    kube.run(["kubectl", "delete", "endpointslices.discovery.k8s.io", f"{name}-mirror", "-n", "kube-system"])


def test_destroy_keeps_a_service_of_the_kubelet_services_name_that_is_not_the_operators(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """A Service in the kubelet Service's place without the operator's
    ``app.kubernetes.io/managed-by: prometheus-operator`` (the user's own, another tool's) is never
    deleted: the destroy plan says it is kept, and the destroy keeps it and its Endpoints."""
    folder = tmp_path / "project"
    write_project(folder, kube, deploy_chart_repo)
    ok(firestream(kube, helm_bin, folder, "apply", "--yes"))
    name = f"{FULLNAME}-kubelet"  # the default: <fullname>-kubelet in kube-system
    theirs = {"k8s-app": "kubelet", "app.kubernetes.io/managed-by": "platform-team"}
    make_kubelet_objects(kube, folder, name, theirs)
    before = kubelet_objects(kube, name)
    assert len(before) == 4

    line = (f"keep Service '{name}' (namespace 'kube-system'): named as the operator's kubelet Service but "
            "without app.kubernetes.io/managed-by=prometheus-operator, so not the operator's")
    shown = ok(firestream(kube, helm_bin, folder, "destroy", "--dry-run", "--yes"))
    assert f"! {RELEASE}: {line}\n" in shown, shown
    assert "delete Service" not in shown, shown

    ok(firestream(kube, helm_bin, folder, "destroy", "--yes"))
    assert kube.run(["helm", "list", "-n", kube.namespace, "-q"]).stdout.strip() == ""
    assert kubelet_objects(kube, name) == before
    kube.run(["kubectl", "delete", "service,endpoints", name, "-n", "kube-system"])
    kube.run(["kubectl", "delete", "endpointslices.discovery.k8s.io", f"{name}-x7k2p", f"{name}-mirror",
              "-n", "kube-system"])


def test_destroy_keeps_the_kubelet_service_while_the_operators_pods_remain(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """A running operator makes its kubelet Service again: after helm's uninstall the destroy waits
    (up to the release's timeout) for the operator's pods to be gone before deleting it. Pods that
    stay (here held by a finalizer) fail the destroy, naming the Service kept and what to do. The
    pods are those the release runs (its manifest's operator Deployment), not those the config
    would name now: a nameOverride set since the apply does not send the wait to other pods."""
    folder = tmp_path / "project"
    write_project(folder, kube, deploy_chart_repo)
    ok(firestream(kube, helm_bin, folder, "apply", "--yes"))
    config = folder / "firestream.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('timeout = "120s"', 'timeout = "3s"')
                      + '\n[deployments.prometheus-operator.values]\nnameOverride = "renamed"\n',
                      encoding="utf-8")
    selector = f"app=kube-prometheus-stack-operator,release={RELEASE}"
    (pod,) = kube.kubectl().get("pods", namespace=kube.namespace, selector=selector)["items"]
    hold = ["kubectl", "patch", "pod", pod["metadata"]["name"], "-n", kube.namespace, "--type=merge", "-p"]
    kube.run([*hold, '{"metadata": {"finalizers": ["test.firestream.dev/hold"]}}'])
    name = f"{FULLNAME}-kubelet"
    make_kubelet_objects(kube, folder, name, OPERATOR_LABELS)
    before = kubelet_objects(kube, name)
    try:
        failed = firestream(kube, helm_bin, folder, "destroy", "--yes")
        said = failed.stdout + failed.stderr
        assert failed.returncode == 1, said
        assert (f"the Prometheus Operator's pods ({selector}, namespace '{kube.namespace}') were still there 3s "
                f"after the uninstall: its kubelet Service '{name}' (namespace 'kube-system') was kept") in said, said
        assert kubelet_objects(kube, name) == before
    finally:
        kube.run([*hold, '{"metadata": {"finalizers": null}}'])
        kube.run(["kubectl", "delete", "service,endpoints", name, "-n", "kube-system", "--ignore-not-found"])
        kube.run(["kubectl", "delete", "endpointslices.discovery.k8s.io", f"{name}-x7k2p", f"{name}-mirror",
                  "-n", "kube-system", "--ignore-not-found"])
