"""deploy.debuginfo: reading pods and workloads for the debug lines and readiness checks."""

from __future__ import annotations

from firestream_core.deploy.debuginfo import desired_pods, pod_problem, pod_ready


def pod(name: str, phase: str, **status: object) -> dict[str, object]:
    return {"metadata": {"name": name}, "status": {"phase": phase, **status}}


def test_desired_pods_counts_replicas_and_scheduled_daemons() -> None:
    workloads = [
        {"kind": "Deployment", "spec": {"replicas": 3}},
        {"kind": "StatefulSet", "spec": {}},  # replicas unset: 1
        {"kind": "DaemonSet", "status": {"desiredNumberScheduled": 0}},  # at least 1
        {"kind": "Job", "spec": {"parallelism": 5}},  # not long-running
    ]
    assert desired_pods(workloads) == 5


def test_a_pod_that_will_not_recover_is_named_with_its_reason() -> None:
    crashing = pod("web-1", "Running", containerStatuses=[
        {"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}])
    assert pod_problem(crashing) == "pod 'web-1' container 'app' is in CrashLoopBackOff"
    assert pod_problem(pod("job-1", "Failed", reason="DeadlineExceeded")) == "pod 'job-1' failed (DeadlineExceeded)"
    assert pod_problem(pod("web-2", "Pending")) is None


def test_ready_means_succeeded_or_running_and_ready() -> None:
    assert pod_ready(pod("a", "Succeeded"))
    assert pod_ready(pod("b", "Running", conditions=[{"type": "Ready", "status": "True"}]))
    assert not pod_ready(pod("c", "Running", conditions=[{"type": "Ready", "status": "False"}]))
    assert pod_ready(pod("d", "Running", containerStatuses=[{"ready": True}]))
    assert not pod_ready(pod("e", "Running"))
    assert not pod_ready(pod("f", "Pending", containerStatuses=[{"ready": True}]))
