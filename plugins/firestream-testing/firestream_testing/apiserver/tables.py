"""Server-side ``Table`` rendering for ``kubectl get`` (``Accept: ...;as=Table;g=meta.k8s.io``).

Columns follow kubectl's usual ones for the common kinds (pods, deployments,
services, events, jobs...); every other kind gets Name and Age. Rows carry
``PartialObjectMetadata`` (or the whole object with ``includeObject=Object``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from firestream_testing.apiserver.catalog import ResourceType

__all__ = ["table", "table_row", "wants_table"]

Obj = dict[str, Any]
Column = tuple[str, Callable[[Obj], Any], int]  # name, cell, priority (1: only with -o wide)


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    seconds = max(int((datetime.datetime.now(tz=datetime.UTC) - then).total_seconds()), 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    return f"{days}d{hours % 24}h" if days < 8 and hours % 24 else f"{days}d"


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def _created(obj: Obj) -> str:
    return _age(obj["metadata"].get("creationTimestamp"))


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _pod_status(pod: Obj) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for cs in _status(pod).get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            return str(waiting.get("reason", "Waiting"))
    phase = _status(pod).get("phase", "Pending")
    return "Completed" if phase == "Succeeded" else str(phase)


def _pod_ready(pod: Obj) -> str:
    statuses = _status(pod).get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers") or [])
    return f"{sum(1 for cs in statuses if cs.get('ready'))}/{total}"


def _ports(svc: Obj) -> str:
    ports = []
    for p in svc.get("spec", {}).get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        ports.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def _external_ip(svc: Obj) -> str:
    ingress = (_status(svc).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        return ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)
    if svc.get("spec", {}).get("type") == "LoadBalancer":
        return "<pending>"
    return ",".join(svc.get("spec", {}).get("externalIPs") or []) or "<none>"


def _job_status(job: Obj) -> str:
    for condition in _status(job).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return str(condition["type"])
    return "Suspended" if job.get("spec", {}).get("suspend") else "Running"


def _condition_ready(obj: Obj) -> str:
    ready = [c for c in _status(obj).get("conditions") or [] if c.get("type") == "Ready"]
    return "Ready" if ready and ready[0].get("status") == "True" else "NotReady"


def _event_object(ev: Obj) -> str:
    involved = ev.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "Pod"): [
        ("Name", _name, 0), ("Ready", _pod_ready, 0), ("Status", _pod_status, 0),
        ("Restarts", lambda p: sum(cs.get("restartCount", 0) for cs in
                                   _status(p).get("containerStatuses") or []), 0),
        ("Age", _created, 0), ("IP", lambda p: _status(p).get("podIP", "<none>"), 1),
        ("Node", lambda p: p.get("spec", {}).get("nodeName", "<none>"), 1),
    ],
    ("apps", "Deployment"): [
        ("Name", _name, 0),
        ("Ready", lambda d: f"{_status(d).get('readyReplicas', 0)}/{d['spec'].get('replicas', 1)}", 0),
        ("Up-to-date", lambda d: _status(d).get("updatedReplicas", 0), 0),
        ("Available", lambda d: _status(d).get("availableReplicas", 0), 0), ("Age", _created, 0),
    ],
    ("apps", "ReplicaSet"): [
        ("Name", _name, 0), ("Desired", lambda r: r["spec"].get("replicas", 1), 0),
        ("Current", lambda r: _status(r).get("replicas", 0), 0),
        ("Ready", lambda r: _status(r).get("readyReplicas", 0), 0), ("Age", _created, 0),
    ],
    ("apps", "StatefulSet"): [
        ("Name", _name, 0),
        ("Ready", lambda s: f"{_status(s).get('readyReplicas', 0)}/{s['spec'].get('replicas', 1)}", 0),
        ("Age", _created, 0),
    ],
    ("apps", "DaemonSet"): [
        ("Name", _name, 0), ("Desired", lambda d: _status(d).get("desiredNumberScheduled", 0), 0),
        ("Current", lambda d: _status(d).get("currentNumberScheduled", 0), 0),
        ("Ready", lambda d: _status(d).get("numberReady", 0), 0),
        ("Up-to-date", lambda d: _status(d).get("updatedNumberScheduled", 0), 0),
        ("Available", lambda d: _status(d).get("numberAvailable", 0), 0), ("Age", _created, 0),
    ],
    ("batch", "Job"): [
        ("Name", _name, 0), ("Status", _job_status, 0),
        ("Completions", lambda j: f"{_status(j).get('succeeded', 0)}/{j['spec'].get('completions', 1)}", 0),
        ("Age", _created, 0),
    ],
    ("", "Service"): [
        ("Name", _name, 0), ("Type", lambda s: s.get("spec", {}).get("type", "ClusterIP"), 0),
        ("Cluster-IP", lambda s: s.get("spec", {}).get("clusterIP", "<none>"), 0),
        ("External-IP", _external_ip, 0), ("Port(s)", _ports, 0), ("Age", _created, 0),
    ],
    ("", "Event"): [
        ("Last Seen", lambda e: _age(e.get("lastTimestamp") or e["metadata"].get("creationTimestamp")), 0),
        ("Type", lambda e: e.get("type", ""), 0), ("Reason", lambda e: e.get("reason", ""), 0),
        ("Object", _event_object, 0), ("Message", lambda e: e.get("message", ""), 0),
    ],
    ("", "Namespace"): [
        ("Name", _name, 0), ("Status", lambda n: _status(n).get("phase", "Active"), 0),
        ("Age", _created, 0),
    ],
    ("", "ConfigMap"): [
        ("Name", _name, 0),
        ("Data", lambda c: len(c.get("data") or {}) + len(c.get("binaryData") or {}), 0),
        ("Age", _created, 0),
    ],
    ("", "Secret"): [
        ("Name", _name, 0), ("Type", lambda s: s.get("type", "Opaque"), 0),
        ("Data", lambda s: len(s.get("data") or {}), 0), ("Age", _created, 0),
    ],
    ("", "PersistentVolumeClaim"): [
        ("Name", _name, 0), ("Status", lambda p: _status(p).get("phase", "Pending"), 0),
        ("Volume", lambda p: p.get("spec", {}).get("volumeName", ""), 0),
        ("Capacity", lambda p: (_status(p).get("capacity") or {}).get("storage", ""), 0),
        ("Access Modes", lambda p: ",".join(_status(p).get("accessModes") or []), 0),
        ("Age", _created, 0),
    ],
    ("", "Node"): [
        ("Name", _name, 0), ("Status", _condition_ready, 0), ("Roles", lambda n: "<none>", 0),
        ("Age", _created, 0),
        ("Version", lambda n: (_status(n).get("nodeInfo") or {}).get("kubeletVersion", ""), 0),
    ],
}
_DEFAULT: list[Column] = [("Name", _name, 0), ("Age", _created, 0)]


def _columns(rtype: ResourceType) -> list[Column]:
    return _COLUMNS.get((rtype.group, rtype.kind), _DEFAULT)


def table_row(rtype: ResourceType, obj: Obj, include: str | None) -> Obj:
    row: Obj = {"cells": [fn(obj) for _, fn, _ in _columns(rtype)]}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj["metadata"]}
    return row


def table(rtype: ResourceType, items: list[Obj], resource_version: int | None,
          include: str | None, with_columns: bool = True) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``items``."""
    result: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}}
    if resource_version is not None:
        result["metadata"]["resourceVersion"] = str(resource_version)
    if with_columns:
        result["columnDefinitions"] = [
            {"name": name, "type": "string", "format": "name" if name == "Name" else "",
             "description": "", "priority": priority}
            for name, _, priority in _columns(rtype)
        ]
    else:
        result["columnDefinitions"] = None
    result["rows"] = [table_row(rtype, obj, include) for obj in items]
    return result
