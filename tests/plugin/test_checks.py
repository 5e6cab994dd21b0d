"""``firestream_core.plugin.checks``: the validation helpers chart plugins build on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firestream_core.errors import ClusterUnreachableError, HelmCommandError
from firestream_core.model import ChartInfo, ChartSetValue, ChartValuesGenerated, ValidationStatus
from firestream_core.plugin import checks
from firestream_core.plugin.context import DeployContext

NS = "apps"
PASSED, FAILED, PENDING = ValidationStatus.PASSED, ValidationStatus.FAILED, ValidationStatus.PENDING


def deployment(name: str, *, want: int = 1, available: int = 1, labels: dict[str, str] | None = None,
               generation: int = 1, observed: int = 1, condition: str | None = "True") -> dict[str, Any]:
    status: dict[str, Any] = {
        "observedGeneration": observed, "availableReplicas": available, "updatedReplicas": available,
    }
    if condition is not None:
        status["conditions"] = [{"type": "Available", "status": condition}]
    return {
        "metadata": {"name": name, "labels": labels or {"app": name}, "generation": generation},
        "spec": {"replicas": want},
        "status": status,
    }


def test_a_context_or_a_kubectl_will_do(fake_kube: Any) -> None:
    fake_kube.add("deployment", deployment("web"), NS)
    context = DeployContext(helm=None, kubectl=fake_kube)  # type: ignore[arg-type]
    assert checks.deployment_available(context, "web", namespace=NS).status is PASSED
    assert checks.deployment_available(fake_kube, "web", namespace=NS).status is PASSED


def test_deployment_states(fake_kube: Any) -> None:
    fake_kube.add("deployment", deployment("ok"), NS)
    fake_kube.add("deployment", deployment("rolling", want=3, available=1, condition="False"), NS)
    fake_kube.add("deployment", deployment("stale", generation=2, observed=1), NS)
    ok = checks.deployment_available(fake_kube, "ok", namespace=NS, check="web")
    assert (ok.name, ok.status, ok.message) == ("web", PASSED, "deployment ready: ok: 1/1 available")
    rolling = checks.deployment_available(fake_kube, "rolling", namespace=NS)
    assert (rolling.status, rolling.message) == (
        PENDING, "deployment not ready yet: rolling: 1/3 available",
    )
    stale = checks.deployment_available(fake_kube, "stale", namespace=NS)
    assert stale.status is PENDING and "not yet observed" in stale.message
    missing = checks.deployment_available(fake_kube, "nope", namespace=NS)
    assert (missing.status, missing.message) == (
        FAILED, "no deployment 'nope' in namespace 'apps' found",
    )


def test_found_by_labels_all_must_be_ready(fake_kube: Any) -> None:
    fake_kube.add("deployment", deployment("a", labels={"app.kubernetes.io/instance": "r"}), NS)
    fake_kube.add("deployment", deployment("b", labels={"app.kubernetes.io/instance": "r"}, available=0), NS)
    fake_kube.add("deployment", deployment("other", labels={"app.kubernetes.io/instance": "x"}), NS)
    result = checks.deployment_available(fake_kube, namespace=NS, selector="app.kubernetes.io/instance=r")
    assert result.status is PENDING
    assert result.message == "deployment not ready yet: a: 1/1 available; b: 0/1 available"
    assert result.details["objects"] == ["a", "b"]
    none = checks.deployment_available(fake_kube, namespace=NS, selector="app.kubernetes.io/instance=q")
    assert none.message == (
        "no deployment labelled 'app.kubernetes.io/instance=q' in namespace 'apps' found"
    )


def test_name_and_selector_must_both_match(fake_kube: Any) -> None:
    fake_kube.add("deployment", deployment("a", labels={"tier": "web"}), NS)
    assert checks.deployment_available(fake_kube, "a", namespace=NS, selector="tier=web").status is PASSED
    assert checks.deployment_available(fake_kube, "a", namespace=NS, selector="tier=db").status is FAILED
    with pytest.raises(ValueError, match="name or a label selector"):
        checks.deployment_available(fake_kube, namespace=NS)


def test_statefulset_ready(fake_kube: Any) -> None:
    fake_kube.add("statefulset", {
        "metadata": {"name": "db", "generation": 1},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 1, "readyReplicas": 2,
                   "currentRevision": "db-1", "updateRevision": "db-1"},
    }, NS)
    fake_kube.add("statefulset", {
        "metadata": {"name": "rolling"},
        "spec": {"replicas": 2},
        "status": {"readyReplicas": 2, "currentRevision": "r-1", "updateRevision": "r-2"},
    }, NS)
    assert checks.statefulset_ready(fake_kube, "db", namespace=NS).message == "statefulset ready: db: 2/2 ready"
    rolling = checks.statefulset_ready(fake_kube, "rolling", namespace=NS)
    assert rolling.status is PENDING and "rollout in progress" in rolling.message


def pod(name: str, phase: str, ready: str = "True") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": "x"}},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]},
    }


def test_pods_ready(fake_kube: Any) -> None:
    assert checks.pods_ready(fake_kube, namespace=NS, selector="app=x").status is PENDING
    fake_kube.add("pod", pod("job-1", "Succeeded", "False"), NS)
    fake_kube.add("pod", pod("a", "Running"), NS)
    assert checks.pods_ready(fake_kube, namespace=NS, selector="app=x").message == (
        "1/1 pod labelled 'app=x' in namespace 'apps' ready"
    )
    fake_kube.add("pod", pod("b", "Pending", "False"), NS)
    assert checks.pods_ready(fake_kube, namespace=NS, selector="app=x").status is PENDING
    fake_kube.add("pod", pod("c", "Failed", "False"), NS)
    failed = checks.pods_ready(fake_kube, namespace=NS, selector="app=x")
    assert failed.status is FAILED and failed.message.endswith("failed pods: c")


def crd(name: str, established: str | None = "True") -> dict[str, Any]:
    conds = [] if established is None else [{"type": "Established", "status": established}]
    return {"metadata": {"name": name}, "status": {"conditions": conds}}


def test_crds(fake_kube: Any) -> None:
    fake_kube.add("customresourcedefinition", crd("a.example.com"))
    fake_kube.add("customresourcedefinition", crd("b.example.com", None))
    assert checks.crd_established(fake_kube, "a.example.com").message == "a.example.com established"
    assert checks.crd_established(fake_kube, "a.example.com").name == "crd_established"
    pending = checks.crds_established(fake_kube, ["a.example.com", "b.example.com"])
    assert (pending.status, pending.message) == (PENDING, "CRD not yet established: b.example.com")
    missing = checks.crds_established(fake_kube, ["a.example.com", "c.example.com", "d.example.com"])
    assert (missing.status, missing.message) == (
        FAILED, "CRD not installed: c.example.com, d.example.com",
    )
    assert missing.details["missing"] == ["c.example.com", "d.example.com"]


def test_resources_exist_and_conditions(fake_kube: Any) -> None:
    kind = "prometheuses.monitoring.coreos.com"
    none = checks.resources_exist(fake_kube, kind, namespace=NS, check="prometheus_instances")
    assert (none.name, none.status) == ("prometheus_instances", FAILED)
    assert none.message == f"0 {kind} labelled 'any' in namespace 'apps' found, want at least 1"
    fake_kube.add(kind, {"metadata": {"name": "main"}, "status": {}}, NS)
    assert checks.resources_exist(fake_kube, kind, namespace=NS).status is PASSED

    ready = checks.condition_true(fake_kube, kind, "main", namespace=NS)
    assert (ready.name, ready.status) == (f"{kind}_ready", PENDING)
    fake_kube.objects[(kind, NS, "main")]["status"] = {
        "conditions": [{"type": "Ready", "status": "False", "reason": "Creating"}]
    }
    assert checks.condition_true(fake_kube, kind, "main", namespace=NS).message.endswith(
        "not Ready yet (Creating)"
    )
    fake_kube.objects[(kind, NS, "main")]["status"]["conditions"][0]["status"] = "True"
    assert checks.condition_true(fake_kube, kind, "main", namespace=NS).status is PASSED
    assert checks.condition_true(fake_kube, kind, "gone", namespace=NS).status is FAILED


def svc(name: str, type_: str = "ClusterIP", ip: str = "10.0.0.1", lb: str | None = None) -> dict[str, Any]:
    status = {"loadBalancer": {"ingress": [{"hostname": lb}]}} if lb else {}
    return {
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": "controller"}},
        "spec": {"type": type_, "clusterIP": ip},
        "status": status,
    }


def test_service_address_found_by_labels(fake_kube: Any) -> None:
    selector = "app.kubernetes.io/component=controller"
    assert checks.service_address(fake_kube, namespace=NS, selector=selector).status is FAILED
    fake_kube.add("service", svc("ctl-admission"), NS)
    fake_kube.add("service", svc("ctl-headless", ip="None"), NS)
    only_cluster_ip = checks.service_address(fake_kube, namespace=NS, selector=selector)
    assert only_cluster_ip.message == "service address: ctl-admission at 10.0.0.1"
    fake_kube.add("service", svc("ctl", "LoadBalancer"), NS)
    pending = checks.service_address(fake_kube, namespace=NS, selector=selector)
    assert (pending.status, pending.message) == (
        PENDING, "load-balancer address not yet assigned to service ctl",
    )
    fake_kube.objects[("service", NS, "ctl")]["status"] = {
        "loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}
    }
    ready = checks.service_address(fake_kube, namespace=NS, selector=selector)
    assert (ready.status, ready.message) == (PASSED, "load balancer ready: ctl at lb.example.com")
    assert checks.service_exists(fake_kube, namespace=NS, selector=selector).message == (
        "service found: ctl, ctl-admission, ctl-headless"
    )


def test_ingressclass(fake_kube: Any) -> None:
    assert checks.ingressclass_exists(fake_kube, "nginx").message == "IngressClass 'nginx' not found"
    fake_kube.add("ingressclass", {"metadata": {"name": "nginx", "annotations": {
        "ingressclass.kubernetes.io/is-default-class": "true"}}})
    found = checks.ingressclass_exists(fake_kube, "nginx")
    assert (found.name, found.status, found.message) == (
        "ingress_class", PASSED, "IngressClass 'nginx' exists (the cluster's default)",
    )


def test_read_errors_fail_the_check_but_an_unreachable_cluster_propagates(fake_kube: Any) -> None:
    fake_kube.fail_with = HelmCommandError("kubectl get failed: forbidden")
    result = checks.service_exists(fake_kube, "x", namespace=NS)
    assert (result.status, result.message) == (
        FAILED, "cannot read service: kubectl get failed: forbidden",
    )
    fake_kube.fail_with = ClusterUnreachableError("the cluster is unreachable")
    with pytest.raises(ClusterUnreachableError):
        checks.service_exists(fake_kube, "x", namespace=NS)


def test_chart_value_merges_files_documents_and_pairs(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("controller:\n  hostNetwork: true\n  replicas: 2\n")
    info = ChartInfo(name="x", chart="c", values_files=[Path("values.yaml")])
    assert checks.chart_value(info, "controller.hostNetwork", project_dir=tmp_path) is True
    info.yaml_files_content.append(ChartValuesGenerated("doc", "controller: {hostNetwork: false}"))
    assert checks.chart_value(info, "controller.hostNetwork", project_dir=tmp_path) is False
    info.values.append(ChartSetValue("controller.hostNetwork", "true"))
    assert checks.chart_value(info, "controller.hostNetwork", project_dir=tmp_path) is True
    assert checks.chart_value(info, "controller.replicas", project_dir=tmp_path) == 2
    assert checks.chart_value(info, "controller.missing", "dflt", project_dir=tmp_path) == "dflt"
    info.values.append(ChartSetValue("sources[1]", "ingress"))
    assert checks.chart_value(info, "sources[1]") == "ingress"
    assert checks.chart_value(info, "sources[5]", "none") == "none"
