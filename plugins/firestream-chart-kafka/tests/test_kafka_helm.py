"""The kafka plugin through the real lifecycle, the real helm and the emulated cluster.

The emulator runs no Strimzi operator: where a test needs the Kafka cluster
to become Ready, it sets the resource's status itself, as the operator would,
once the plugin has created it.

The chart's ClusterRole has a fixed name (as upstream's), so two releases
of it in two namespaces collide: each test uninstalls its release when it ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from firestream_chart_kafka import KafkaChart

from firestream_core.model import HelmAction, ValidationStatus

KIND = "kafkas.kafka.strimzi.io"
READY = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
STRIMZI_CRDS = [KIND, "kafkatopics.kafka.strimzi.io", "kafkausers.kafka.strimzi.io",
                "kafkanodepools.kafka.strimzi.io"]


@pytest.fixture(autouse=True)
def uninstall_afterwards(kube: Any) -> Iterator[None]:
    yield
    kube.run(["helm", "uninstall", "kafka", "-n", kube.namespace], check=False)


def operator(kube: Any) -> KafkaChart:
    chart = KafkaChart.strimzi_operator()
    chart.chart_info.namespace = kube.namespace
    chart.chart_info.timeout = "60s"
    return chart


def act_as_the_operator(kube: Any, name: str, *, give_up_after: float = 60.0) -> None:
    """Once Kafka ``name`` exists, report it Ready (what Strimzi does when the brokers are up)."""
    deadline = time.monotonic() + give_up_after
    while kube.kubectl().get(KIND, name, namespace=kube.namespace) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"the plugin never created Kafka {name}")
        time.sleep(0.05)
    kube.run([
        "kubectl", "patch", KIND, name, "-n", kube.namespace, "--subresource=status",
        "--type=merge", "-p", json.dumps(READY),
    ])


def test_operator_only(
    kube: Any, helm_bin: Path, run_lifecycle: Callable[..., Any]
) -> None:
    result = run_lifecycle(operator(kube), helm_bin)
    assert result.ok, result.error
    checks = {v.name: v for v in result.validations}
    assert checks["strimzi_crds"].status is ValidationStatus.PASSED
    assert checks["strimzi_crds"].message == "kafkas.kafka.strimzi.io established"
    assert checks["operator_deployment"].message == (
        "deployment ready: strimzi-cluster-operator: 1/1 available"
    )
    assert "kafka_ready" not in checks
    # the operator's pods lack the instance label: pods_running finds them through the manifest's Deployment
    assert checks["pods_running"].message == (
        "1 pods of release 'kafka' running (Deployment/strimzi-cluster-operator 1/1)")
    record = result.payload["kafka"]
    assert record["operator_ready"] is True
    # a first install leaves the CRDs to helm, unless an earlier test's are already there
    assert record.get("crds_applied", STRIMZI_CRDS) == STRIMZI_CRDS


def test_kafka_cluster_is_created_and_waited_for(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    chart = operator(kube).with_cluster(name="events", replicas=3, storage="10Gi")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_lifecycle, chart)
        act_as_the_operator(kube, "events")
        result = running.result(timeout=120)
    assert result.ok, result.error
    record = {k: v for k, v in result.payload["kafka"].items() if k != "crds_applied"}
    assert record == {"operator_ready": True, "cluster": "events", "cluster_ready": True}
    check = next(v for v in result.validations if v.name == "kafka_ready")
    assert check.message == f"{KIND} 'events' in namespace '{kube.namespace}' is Ready"
    kafka = kube.kubectl().get(KIND, "events", namespace=kube.namespace)
    assert "zookeeper" not in kafka["spec"]  # KRaft
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1"  # the 1.2.0 CRDs serve nothing else
    assert kafka["metadata"]["labels"]["app.kubernetes.io/instance"] == "kafka"
    pool = kube.kubectl().get("kafkanodepools.kafka.strimzi.io", "events-nodes", namespace=kube.namespace)
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "events"
    assert pool["spec"]["replicas"] == 3 and pool["spec"]["roles"] == ["controller", "broker"]
    assert pool["spec"]["storage"]["volumes"][0]["size"] == "10Gi"


def test_a_cluster_that_never_gets_ready_fails_with_the_operator_logs(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    chart = operator(kube).with_cluster(name="events", ready_timeout="1s")
    result = run_lifecycle(chart)
    assert result.stage_failed == "post_exec"
    assert result.error == (
        "release 'kafka' failed at post_exec: Kafka cluster 'events' of release "
        "'kafka' was not Ready within 1s"
    )
    heading = next(line for line in result.debug if line.startswith("Strimzi operator logs ("))
    assert heading.endswith(", last 50 lines):")
    pod = heading[len("Strimzi operator logs ("):].split(",")[0]
    assert pod.startswith("strimzi-cluster-operator-")
    assert any("no real process runs here" in line for line in result.debug)  # the emulator's log
    assert "Kafka cluster 'events': no status yet (is the operator running?)" in result.debug


def test_destroy_deletes_the_kafka_cluster_before_the_operator(
    kube: Any, helm_bin: Path, deploy_context: Any, run_lifecycle: Callable[..., Any]
) -> None:
    chart = operator(kube).with_cluster(name="events")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_lifecycle, chart, helm_bin)
        act_as_the_operator(kube, "events")
        assert running.result(timeout=120).ok
    chart.chart_info.action = HelmAction.DESTROY
    runner = deploy_context.runner
    runner.clear()
    result = run_lifecycle(chart, helm_bin)
    assert runner.index("delete", KIND) < runner.index("uninstall", "kafka")  # while the operator runs
    assert result.ok, result.error
    assert result.payload["kafka"] == {"cluster_deleted": True}
    assert kube.kubectl().get(KIND, "events", namespace=kube.namespace) is None
    assert kube.kubectl().get("deployment", "strimzi-cluster-operator", namespace=kube.namespace) is None


def test_upgrade_applies_the_strimzi_crds_before_helm(
    kube: Any, helm_bin: Path, deploy_context: Any, run_lifecycle: Callable[..., Any]
) -> None:
    """helm never upgrades crds/: the plugin server-side applies them before the helm upgrade."""
    assert run_lifecycle(operator(kube), helm_bin).ok
    # an older CRD set: one CRD missing (helm upgrade alone would never bring it back)
    kube.run(["kubectl", "delete", "crd", "kafkatopics.kafka.strimzi.io"])
    runner = deploy_context.runner
    runner.clear()
    result = run_lifecycle(operator(kube), helm_bin)
    assert result.ok, result.error
    assert result.payload["kafka"]["crds_applied"] == STRIMZI_CRDS
    assert kube.kubectl().get("customresourcedefinition", "kafkatopics.kafka.strimzi.io") is not None
    applied = runner.index("apply", "--server-side")
    assert applied < runner.index("upgrade", "--install")  # so the new operator starts on its CRDs
    assert "--field-manager=firestream" in runner.argvs[applied]


def test_crds_left_alone_when_asked_or_on_a_dry_run(
    kube: Any, run_lifecycle: Callable[..., Any]
) -> None:
    from firestream_chart_kafka import KafkaOptions

    assert run_lifecycle(operator(kube)).ok
    kube.run(["kubectl", "delete", "crd", "kafkausers.kafka.strimzi.io"])
    chart = operator(kube)
    chart.options = KafkaOptions(upgrade_crds=False)
    result = run_lifecycle(chart)
    assert result.ok, result.error
    assert "crds_applied" not in result.payload["kafka"]
    assert kube.kubectl().get("customresourcedefinition", "kafkausers.kafka.strimzi.io") is None
    dry = run_lifecycle(operator(kube), dry_run=True)
    assert "crds_applied" not in dry.payload.get("kafka", {})
    assert kube.kubectl().get("customresourcedefinition", "kafkausers.kafka.strimzi.io") is None
    assert run_lifecycle(operator(kube)).ok  # and back for the next tests
    assert kube.kubectl().get("customresourcedefinition", "kafkausers.kafka.strimzi.io") is not None


def test_kafka_cluster_path_end_to_end_with_an_emulator_status_rule(
    kube: Any, kube_cluster: Any, helm_bin: Path, run_lifecycle: Callable[..., Any]
) -> None:
    """The emulator plays Strimzi: a Kafka is Ready 0.5 s after it is created (no test thread patching it)."""
    kube_cluster.set_status_rules([{"kind": "Kafka", "group": "kafka.strimzi.io", "after": 0.5}])
    chart = operator(kube).with_cluster(name="orders", replicas=1, storage="1Gi")
    result = run_lifecycle(chart, helm_bin)
    assert result.ok, result.error
    assert result.payload["kafka"]["cluster_ready"] is True
    check = next(v for v in result.validations if v.name == "kafka_ready")
    assert check.status is ValidationStatus.PASSED
    assert check.message == f"{KIND} 'orders' in namespace '{kube.namespace}' is Ready"
    kafka = kube.kubectl().get(KIND, "orders", namespace=kube.namespace)
    (ready,) = [c for c in kafka["status"]["conditions"] if c["type"] == "Ready"]
    assert ready["reason"] == "EmulatorStatusRule"

    destroy = operator(kube).with_cluster(name="orders", replicas=1, storage="1Gi")
    destroy.chart_info.action = HelmAction.DESTROY
    gone = run_lifecycle(destroy, helm_bin)
    assert gone.ok, gone.error
    assert kube.kubectl().get(KIND, "orders", namespace=kube.namespace) is None


def test_every_log_line_names_its_release(
    kube: Any, kube_cluster: Any, run_lifecycle: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Lines of parallel releases are told apart: the plugin's and the validation lines name 'kafka'."""
    import logging

    kube_cluster.set_status_rules([{"kind": "Kafka", "group": "kafka.strimzi.io", "after": 0.2}])
    with caplog.at_level(logging.INFO, logger="firestream"):
        result = run_lifecycle(operator(kube).with_cluster(name="events"))
    assert result.ok, result.error
    plugin = f"firestream_chart_{'kafka'.replace('-', '_')}"
    lines = [r.getMessage() for r in caplog.records  # the plugin's own lines and the validation lines
             if r.levelno >= logging.INFO and (plugin in r.pathname or "Validation '" in r.getMessage())]
    assert any("waiting for Kafka cluster 'events'" in line for line in lines)
    assert any("kafka_ready" in line for line in lines)  # a validation line
    assert [line for line in lines if "'kafka'" not in line] == []
