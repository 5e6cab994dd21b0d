"""pods_running checks the release's workloads from its manifest: never passes for want of a label.

Real helm 3 and 4 on the emulator with a Strimzi-shaped chart: the
operator's pods carry no ``app.kubernetes.io/instance``, one Deployment
lives in another namespace, a plain Job runs once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from firestream_core.deploy.lifecycle import run_release
from firestream_core.deploy.workloads import workload_state
from firestream_core.model import ChartInfo, ChartSetValue, ValidationStatus
from firestream_core.plugin.generic import GenericChart
from firestream_core.tools.manifests import manifest_workloads

from .conftest import make_manager

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


def test_manifest_workloads_skip_hooks_and_keep_namespaces():
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
    assert manifest_workloads(manifest, "ns") == (("DaemonSet", "kube-system", "exporter"),
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
def test_a_release_without_workloads_says_so(kube, helm_bin, deploy_context):
    context = deploy_context(helm_bin, settings={"validation_interval": 0.2})
    result = run_release(_chart(kube, "plain", ("workloads", "false")), make_manager(), context)
    assert result.ok, (result.error, result.debug)
    check = next(v for v in result.validations if v.name == "pods_running")
    assert check.message.startswith("release 'plain' has no workloads (Deployment, StatefulSet, DaemonSet, Job)")
