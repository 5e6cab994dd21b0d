"""pods_running checks the release's workloads from its manifest: never passes for want of a label.

Real helm 3 and 4 on the emulator with a Strimzi-shaped chart: the
operator's pods carry no ``app.kubernetes.io/instance``, one Deployment
lives in another namespace, a plain Job runs once. And releases validating
together share one real ``kubectl get -l 'app.kubernetes.io/instance in
(...)'``, each answered with its own pods only.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from firestream_testing.plugin_fixtures import RecordingRunner

from firestream_core.deploy.debuginfo import INSTANCE_LABEL, RELEASE_KINDS
from firestream_core.deploy.lifecycle import run_release
from firestream_core.deploy.workloads import check_pods_running, workload_state
from firestream_core.model import (
    ChartInfo,
    ChartSetValue,
    ExecOutcome,
    ValidationResult,
    ValidationStatus,
)
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.generic import GenericChart
from firestream_core.tools.manifests import read_workloads

from .conftest import make_manager
from .fakes import FakeHelm, FakeKubectl

CHART = Path(__file__).parent / "charts" / "unlabelled-operator"


def test_workload_states():
    dep = {"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 2},
           "status": {"observedGeneration": 2, "availableReplicas": 0, "updatedReplicas": 2}}
    assert workload_state(dep) == ("waiting", 0, 2)
    dep["status"]["availableReplicas"] = 2
    assert workload_state(dep) == ("ready", 2, 2)
    dep["metadata"]["generation"] = 3
    assert workload_state(dep)[0] == "waiting"
    job = {"kind": "Job", "spec": {}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    assert workload_state(job)[0] == "failed"
    assert workload_state({"kind": "DaemonSet", "spec": {}, "status": {}}) == ("waiting", 0, 1)
    assert workload_state({"kind": "StatefulSet", "spec": {"replicas": 0}, "status": {}}) == ("idle", 0, 0)


def test_read_workloads_skips_hooks_and_keeps_namespaces():
    manifest = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: op}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: exporter, namespace: kube-system}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {helm.sh/hook: pre-upgrade}
---
apiVersion: v1
kind: Service
metadata: {name: svc}
"""
    assert read_workloads(manifest, "ns")[0] == (("DaemonSet", "kube-system", "exporter"),
                                                  ("Deployment", "ns", "op"))


def _chart(kube, name: str, *values: tuple[str, str], timeout: str = "60s") -> GenericChart:
    return GenericChart(ChartInfo(
        name=name, path=CHART, namespace=kube.namespace, timeout=timeout, atomic=False, wait=False,
        values=[ChartSetValue(k, v) for k, v in values],
    ))


@pytest.mark.helm
def test_unlabelled_and_foreign_workloads_are_checked(kube, helm_bin, deploy_context, kubectl_bin):
    other = f"{kube.namespace}-other"
    kube.run([str(kubectl_bin), "create", "namespace", other])
    context = deploy_context(helm_bin, settings={"validation_interval": 0.2})
    result = run_release(_chart(kube, "strimzi", ("otherNamespace", other)), make_manager(), context)
    assert result.ok, (result.error, result.debug)
    check = next(v for v in result.validations if v.name == "pods_running")
    assert check.status is ValidationStatus.PASSED
    assert "release 'strimzi'" in check.message
    assert f"Deployment/strimzi-watcher (namespace {other}) 1/1" in check.message
    assert "Deployment/strimzi-cluster-operator 1/1" in check.message and "Job/strimzi-init 1/1" in check.message
    assert check.details["workloads"] == ["Deployment/strimzi-cluster-operator", "Deployment/strimzi-watcher",
                                          "Job/strimzi-init"]


@pytest.mark.helm
def test_unlabelled_workload_that_never_gets_ready_fails(kube, helm_bin, deploy_context):
    """Before, no pod matched the instance label and the check passed having checked nothing."""
    context = deploy_context(helm_bin, settings={"validation_interval": 0.2})
    result = run_release(_chart(kube, "broken", ("broken", "true"), timeout="5s"), make_manager(), context)
    assert not result.ok and result.stage_failed == "validate"
    check = next(v for v in result.validations if v.name == "pods_running")
    assert check.status is ValidationStatus.FAILED
    assert "strimzi-cluster-operator" in check.message and "CrashLoopBackOff" in check.message


@pytest.mark.helm
def test_a_release_of_config_objects_alone_passes_without_asking_the_cluster(kube, helm_bin, deploy_context):
    """Its manifest (a ConfigMap, from helm's own ``--output json``) can run no pod: no kubectl call."""
    context = deploy_context(helm_bin, settings={"validation_interval": 0.2})
    result = run_release(_chart(kube, "plain", ("workloads", "false")), make_manager(), context)
    assert result.ok, (result.error, result.debug)
    check = next(v for v in result.validations if v.name == "pods_running")
    assert check.status is ValidationStatus.PASSED
    assert check.message == ("release 'plain' creates nothing that runs pods: no workload, no custom resource "
                             "(nothing to check)")
    programs = [Path(argv[0]).name for argv in deploy_context.runner.argvs]
    assert "kubectl" not in programs and any(p.startswith("helm") for p in programs), programs


def _pods_check_context(**record: Any) -> tuple[DeployContext, FakeKubectl]:
    kubectl = FakeKubectl()
    context = DeployContext(helm=FakeHelm(), kubectl=kubectl, project_dir=Path("."))
    context.lifecycle.executed = ExecOutcome("deployed", 1, status="deployed", **record)
    return context, kubectl


def test_only_a_manifest_known_to_run_no_pod_skips_the_cluster():
    chart = GenericChart(ChartInfo(name="topics", path="./c", namespace="ns"))
    context, kubectl = _pods_check_context(workloads=(), pod_free=True)
    assert check_pods_running(chart, context).status is ValidationStatus.PASSED
    assert kubectl.calls == []
    # a custom resource (or a plugin's exec that did not say): the labelled pods are still read
    context, kubectl = _pods_check_context(workloads=())
    result = check_pods_running(chart, context)
    assert result.message.startswith("release 'topics' has no workloads")
    assert kubectl.calls


def test_read_workloads_counts_custom_resources_and_pods_as_able_to_run_pods():
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
    hook = ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n"
            "  annotations: {helm.sh/hook: pre-upgrade}\n---\n")
    crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x.y.dev}\n---\n"
    assert read_workloads("", "ns") == ((), True)
    assert read_workloads(config + hook + crd, "ns") == ((), True)
    for other in ("apiVersion: kafka.strimzi.io/v1beta2\nkind: Kafka\nmetadata: {name: k}\n",
                  "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
                  "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\n",
                  "apiVersion: example.com/v1\nkind: ConfigMap\nmetadata: {name: lookalike}\n"):
        assert read_workloads(config + other, "ns") == ((), False), other
    deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
    assert read_workloads(config + deployment, "ns") == ((("Deployment", "ns", "web"),), False)


class _HeldFirstGet(RecordingRunner):
    """Runs programs for real; the first labelled ``kubectl get`` is held until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def run(self, argv: Any, **kwargs: Any) -> Any:
        if "--selector" in [str(a) for a in argv] and not self.entered.is_set():
            self.entered.set()
            assert self.gate.wait(60), "the test never opened the gate"
        return super().run(argv, **kwargs)


def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


@pytest.mark.helm
def test_releases_validating_together_share_one_real_kubectl_get_each_with_its_own_pods(
    kube, chart_repo, tmp_path, kubectl_bin
):
    ns = kube.namespace
    helm = kube.helm()
    replicas = {"a": 1, "b": 2, "c": 3}
    charts = {}
    for name, count in replicas.items():
        info = ChartInfo(name=name, path=chart_repo.tgz("tiny-app", "0.1.0"), namespace=ns, timeout="60s",
                         values=[ChartSetValue("replicaCount", str(count))])
        helm.upgrade_install(info, tmp_path)  # --wait: its pods are ready
        charts[name] = GenericChart(info)
    runner = _HeldFirstGet()
    kubectl = kube.kubectl(runner=runner)  # one run's kubectl, shared by its releases
    contexts = {}
    for name in replicas:
        context = DeployContext(helm=helm, kubectl=kubectl, project_dir=tmp_path)
        context.lifecycle.workloads, _ = read_workloads(helm.get_manifest(name, ns), ns)
        contexts[name] = context
    results: dict[str, ValidationResult] = {}

    def validate(name: str) -> None:
        results[name] = check_pods_running(charts[name], contexts[name])

    threads = [threading.Thread(target=validate, args=(name,), daemon=True) for name in replicas]
    threads[0].start()  # a: alone, at once (held at the gate)
    _until(runner.entered.is_set, "a's kubectl get started")
    threads[1].start()
    threads[2].start()  # b and c come while a's call runs: they wait for the next, shared call
    _until(lambda: kubectl._labelled.waiting((RELEASE_KINDS, ns, INSTANCE_LABEL)) == 2, "b and c wait")
    runner.gate.set()
    for t in threads:
        t.join(120)
        assert not t.is_alive()

    gets = [argv for argv in runner.argvs if "--selector" in argv]
    selectors = sorted(argv[argv.index("--selector") + 1] for argv in gets)
    assert selectors in ([f"{INSTANCE_LABEL} in (b,c)", f"{INSTANCE_LABEL}=a"],
                         [f"{INSTANCE_LABEL} in (c,b)", f"{INSTANCE_LABEL}=a"])  # three releases, two calls
    assert all(argv[1:3] == ["get", RELEASE_KINDS] for argv in gets)
    for name, count in replicas.items():  # each counts its own pods, never another release's
        result = results[name]
        assert result.status is ValidationStatus.PASSED, result.message
        assert result.message == f"{count} pods of release '{name}' running"
        assert result.details["workloads"] == [f"Deployment/{name}-tiny-app"]
