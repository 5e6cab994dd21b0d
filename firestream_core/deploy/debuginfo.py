"""What the default ``on_deploy_failure`` collects about a failed release.

Three sections, each as plain lines and each redacted: the release's
recent events, its pods' status (phase, readiness, why a container waits
or died) and the last log lines of those pods. A section that cannot be
read (cluster unreachable, no permission) says so in one line; collecting
never raises, so it can never hide the error that made the release fail.

Pods are those labelled ``app.kubernetes.io/instance=<release>`` (the
label Helm's chart template puts on everything it creates), events those
whose object is one of those pods or whose name starts with the release
name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from firestream_core.errors import FirestreamError

if TYPE_CHECKING:
    from firestream_core.model import ChartInfo
    from firestream_core.plugin.context import DeployContext

__all__ = [
    "INSTANCE_LABEL",
    "collect_debug_info",
    "describe_pod",
    "desired_pods",
    "pod_problem",
    "pod_ready",
    "release_pods",
    "release_pods_and_workloads",
    "release_workloads",
]

INSTANCE_LABEL = "app.kubernetes.io/instance"
"""The label that ties a pod to its helm release."""

MAX_EVENTS = 20
"""How many of the newest events are shown."""

LOG_TAIL = 20
"""How many log lines per container are shown."""

MAX_PODS_WITH_LOGS = 5
"""Logs are read for at most this many pods (the failing ones first)."""

FATAL_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
    }
)
"""Reasons a waiting container will not get out of by itself."""


def release_pods(context: DeployContext, info: ChartInfo) -> list[dict[str, Any]]:
    """The release's pods (``app.kubernetes.io/instance=<name>``) in its namespace."""
    data = context.kubectl.get(
        "pods", namespace=info.namespace_name, selector=f"{INSTANCE_LABEL}={info.name}"
    )
    if not data:
        return []
    items = data.get("items") if isinstance(data, Mapping) else None
    if items is None and isinstance(data, Mapping) and data.get("kind") == "Pod":
        items = [data]
    return [dict(i) for i in items or []]


WORKLOAD_KINDS = "deployments,statefulsets,daemonsets"
"""The workload kinds whose desired replicas ``pods_running`` waits for."""


def release_workloads(context: DeployContext, info: ChartInfo) -> list[dict[str, Any]]:
    """The release's Deployments, StatefulSets and DaemonSets (by the instance label)."""
    data = context.kubectl.get(
        WORKLOAD_KINDS, namespace=info.namespace_name, selector=f"{INSTANCE_LABEL}={info.name}"
    )
    items = data.get("items") if isinstance(data, Mapping) else None
    return [dict(i) for i in items or []]


RELEASE_KINDS = "pods," + WORKLOAD_KINDS
"""What ``pods_running`` reads, in one ``kubectl get`` (a List of mixed kinds)."""

_WORKLOAD_KIND_NAMES = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


def release_pods_and_workloads(
    context: DeployContext, info: ChartInfo
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The release's pods and its Deployments/StatefulSets/DaemonSets, in ONE kubectl call.

    ``kubectl get pods,deployments,statefulsets,daemonsets -l
    app.kubernetes.io/instance=<name> -o json`` answers a List of mixed
    kinds, split here by ``kind``. The call is ``context.kubectl.get_labelled``:
    releases of the same namespace validating at the same time (the run
    shares one ``Kubectl``) share it, as one ``kubectl get ... -l
    'app.kubernetes.io/instance in (a,b,c)'`` whose List is split by the
    label's value (``tools/coalesce.py``); a release validating alone makes
    it at once, alone. Each release gets only its own objects, or the call's
    error. When kubectl answers nothing usable (a kind refused as unknown:
    the one call then says nothing about the others), the pods and the
    workloads are read separately, each release on its own, as
    :func:`release_pods` and :func:`release_workloads` do.
    """
    data = context.kubectl.get_labelled(RELEASE_KINDS, INSTANCE_LABEL, info.name, namespace=info.namespace_name)
    items = data.get("items") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        return release_pods(context, info), release_workloads(context, info)
    pods: list[dict[str, Any]] = []
    workloads: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("kind")
        if kind == "Pod":
            pods.append(dict(item))
        elif kind in _WORKLOAD_KIND_NAMES:
            workloads.append(dict(item))
    return pods, workloads


def desired_pods(workloads: list[dict[str, Any]]) -> int:
    """How many long-running pods the workloads ask for (DaemonSets: as scheduled, at least 1)."""
    total = 0
    for w in workloads:
        kind = w.get("kind")
        spec = w.get("spec") or {}
        if kind in ("Deployment", "StatefulSet"):
            replicas = spec.get("replicas")
            total += 1 if replicas is None else int(replicas)
        elif kind == "DaemonSet":
            total += max(1, int((w.get("status") or {}).get("desiredNumberScheduled") or 0))
    return total


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def _container_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(
        status.get("containerStatuses") or []
    )


def pod_problem(pod: Mapping[str, Any]) -> str | None:
    """Why a pod will not become ready by itself (CrashLoopBackOff, Failed...), or None."""
    status = pod.get("status") or {}
    if status.get("phase") == "Failed":
        reason = status.get("reason") or "Failed"
        return f"pod '{_name(pod)}' failed ({reason})"
    for cs in _container_statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in FATAL_WAITING_REASONS:
            return f"pod '{_name(pod)}' container '{cs.get('name', '?')}' is in {reason}"
    return None


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """True for a Succeeded pod, or a Running one whose containers are all ready."""
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase == "Succeeded":
        return True
    if phase != "Running":
        return False
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status")) == "True"
    statuses = status.get("containerStatuses") or []
    return bool(statuses) and all(cs.get("ready") for cs in statuses)


def describe_pod(pod: Mapping[str, Any]) -> str:
    """One line: ``pod web-1: Running, 1/2 ready, container app waiting (CrashLoopBackOff)``."""
    status = pod.get("status") or {}
    parts = [str(status.get("phase") or "Unknown")]
    containers = status.get("containerStatuses") or []
    if containers:
        ready = sum(1 for cs in containers if cs.get("ready"))
        parts.append(f"{ready}/{len(containers)} ready")
    for cs in _container_statuses(pod):
        state = cs.get("state") or {}
        restarts = int(cs.get("restartCount") or 0)
        extra = f", {restarts} restarts" if restarts else ""
        if "waiting" in state:
            reason = (state.get("waiting") or {}).get("reason") or "waiting"
            parts.append(f"container {cs.get('name', '?')} waiting ({reason}{extra})")
        elif "terminated" in state:
            term = state.get("terminated") or {}
            reason = term.get("reason") or "terminated"
            parts.append(
                f"container {cs.get('name', '?')} terminated ({reason}, "
                f"exit code {term.get('exitCode', '?')}{extra})"
            )
    return f"pod {_name(pod)}: " + ", ".join(parts)


def _event_line(ev: Mapping[str, Any]) -> str:
    obj = ev.get("involvedObject") or ev.get("regarding") or {}
    kind = str(obj.get("kind", "?")).lower()
    when = ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp") or ""
    count = ev.get("count")
    times = f" (x{count})" if count and int(count) > 1 else ""
    msg = str(ev.get("message") or ev.get("note") or "").strip()
    return f"event {when} {ev.get('type', '')} {ev.get('reason', '')} {kind}/{obj.get('name', '?')}{times}: {msg}".replace(
        "  ", " "
    )


def _event_time(ev: Mapping[str, Any]) -> str:
    return str(ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp") or "")


def _events(context: DeployContext, info: ChartInfo, pod_names: set[str]) -> list[str]:
    events = context.kubectl.events(info.namespace_name) or []
    mine = []
    for ev in events:
        obj = ev.get("involvedObject") or ev.get("regarding") or {}
        name = str(obj.get("name", ""))
        if name in pod_names or name == info.name or name.startswith(info.name + "-"):
            mine.append(ev)
    mine.sort(key=_event_time)
    return [_event_line(ev) for ev in mine[-MAX_EVENTS:]]


def _logs(context: DeployContext, info: ChartInfo, pods: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    ordered = sorted(pods, key=lambda p: (pod_ready(p), _name(p)))
    for pod in ordered[:MAX_PODS_WITH_LOGS]:
        status = pod.get("status") or {}
        containers = [cs.get("name") for cs in status.get("containerStatuses") or []]
        if not containers:
            containers = [None]
        for container in containers:
            label = _name(pod) + (f"/{container}" if container and len(containers) > 1 else "")
            try:
                text = context.kubectl.logs(
                    _name(pod), info.namespace_name, tail=LOG_TAIL, container=container
                )
            except FirestreamError as exc:
                lines.append(f"log {label}: (could not be read: {type(exc).__name__})")
                continue
            tail = [ln for ln in (text or "").splitlines() if ln.strip()][-LOG_TAIL:]
            if not tail:
                lines.append(f"log {label}: (empty)")
            lines.extend(f"log {label}: {ln}" for ln in tail)
    return lines


def collect_debug_info(context: DeployContext, info: ChartInfo) -> list[str]:
    """Events, pod status and last log lines of the release, redacted; never raises."""
    out: list[str] = [f"debug information for release '{info.name}' in namespace '{info.namespace_name}':"]
    pods: list[dict[str, Any]] = []
    try:
        pods = release_pods(context, info)
    except Exception as exc:  # collecting must never mask the original error
        out.append(f"pods: could not be listed ({type(exc).__name__}: {exc})")
    else:
        if not pods:
            out.append(f"pods: none labelled {INSTANCE_LABEL}={info.name}")
        out.extend(describe_pod(p) for p in pods)
    try:
        out.extend(_events(context, info, {_name(p) for p in pods}) or ["events: none"])
    except Exception as exc:  # collecting must never mask the original error
        out.append(f"events: could not be listed ({type(exc).__name__}: {exc})")
    try:
        out.extend(_logs(context, info, pods))
    except Exception as exc:  # collecting must never mask the original error
        out.append(f"logs: could not be read ({type(exc).__name__}: {exc})")
    redactor = context.redactor
    return [redactor.redact(line) for line in out] if redactor is not None else out
