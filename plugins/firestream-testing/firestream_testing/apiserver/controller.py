"""A toy controller-manager: just enough for ``helm --wait``, hooks, ``helm test``, kubectl wait.

When enabled (switch ``enabled``):

* Deployment -> one ReplicaSet per pod template (``<name>-<hash>``, older ones
  scaled to 0) -> one Pod per replica; status with ``observedGeneration``,
  ``replicas``/``updatedReplicas``/``readyReplicas``/``availableReplicas`` and
  conditions Available/Progressing, revision annotations.
* ReplicaSet, StatefulSet (``<name>-<i>`` pods, current == update revision),
  DaemonSet (one emulated node) -> pods and ready status.
* Job -> ``completions`` pods that succeed; status ``succeeded`` + Complete.
* Pod -> scheduled on ``emulated-node``; ``Succeeded`` if it runs to
  completion (owned by a Job, or restartPolicy Never/OnFailure), else Running
  and Ready. Events (Scheduled, Started, SuccessfulCreate...) are recorded.
* A pod (or pod template) annotated ``emulator.firestream.dev/ready: "false"``
  plays a broken workload: long-running pods stay Running but not Ready
  (CrashLoopBackOff), run-to-completion pods end ``Failed`` and their Job gets
  the Failed condition. Use it to make one release fail while others succeed.
* PersistentVolumeClaim -> Bound; Namespace -> a ``default`` ServiceAccount.

Separately (switch ``loadbalancer``): Services of type LoadBalancer get
``status.loadBalancer.ingress: [{ip: 127.0.0.1}]``.

Status rules (``set_status_rules``), for custom resources an operator would
report on: per kind (``Kafka``, optionally with its API group), a condition
(default ``Ready``) set ``True`` ``after`` seconds once an object of that
kind is created or changed without it, with ``observedGeneration``. Rules
apply to objects written after they are set; an empty list removes them.

Nothing runs: no images, no probes, no scheduling constraints, no rollout
pacing (maxSurge/maxUnavailable), no restarts, no failures, no HPA/CronJob.
Reconciling is synchronous and immediate (scheduled right after each change),
so objects are ready by the time a client's next request arrives.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from firestream_testing.apiserver.catalog import ResourceType
from firestream_testing.apiserver.errors import ApiError
from firestream_testing.apiserver.store import Event, ObjKey, Store, now_iso

__all__ = ["Controller"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NODE = "emulated-node"
BROKEN_ANNOTATION = "emulator.firestream.dev/ready"  # "false" on a pod (template): it fails
_WATCHED = {
    ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
    ("apps", "daemonsets"), ("batch", "jobs"), ("", "pods"), ("", "persistentvolumeclaims"),
    ("", "namespaces"),
}
_MAX_STEPS = 5000  # per drain, a guard against ping-pong between reconcilers


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def _suffix() -> str:
    return secrets.token_hex(3)[:5]


def _owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"], "kind": owner["kind"],
        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True,
    }


def _controlled_by(obj: Obj, owner_uid: str) -> bool:
    return any(ref.get("uid") == owner_uid and ref.get("controller")
               for ref in obj["metadata"].get("ownerReferences") or [])


def _alive(obj: Obj) -> bool:
    return not obj["metadata"].get("deletionTimestamp")


def _conditions(old: Iterable[Obj] | None, wanted: list[tuple[str, str, str, str]]) -> list[Obj]:
    """Conditions in the wanted states, keeping transition times that did not change."""
    previous = {c.get("type"): c for c in old or []}
    now = now_iso()
    result = []
    for ctype, status, reason, message in wanted:
        prev = previous.get(ctype) or {}
        same = prev.get("status") == status
        result.append({
            "type": ctype, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": prev.get("lastTransitionTime", now) if same else now,
            **({"lastUpdateTime": prev.get("lastUpdateTime", now) if same and
                prev.get("reason") == reason else now} if ctype in ("Available", "Progressing")
               else {}),
        })
    return result


def _drop_zero(status: Obj) -> Obj:
    """The API omits zero counters (omitempty); so do we."""
    return {k: v for k, v in status.items() if not (isinstance(v, int) and not isinstance(v, bool) and v == 0)}


class Controller:
    """Reacts to store changes; switchable at run time (``enabled``, ``loadbalancer``)."""

    def __init__(self, store: Store, enabled: bool = True, loadbalancer: bool = True) -> None:
        self.store = store
        self.enabled = enabled
        self.loadbalancer = loadbalancer
        self.errors: list[str] = []
        self._pending: dict[ObjKey, None] = {}
        self._scheduled = False
        self._types: dict[tuple[str, str], ResourceType] = {}
        for group, version, plural in (
            ("apps", "v1", "deployments"), ("apps", "v1", "replicasets"),
            ("apps", "v1", "statefulsets"), ("apps", "v1", "daemonsets"),
            ("batch", "v1", "jobs"), ("", "v1", "pods"), ("", "v1", "services"),
            ("", "v1", "persistentvolumeclaims"), ("", "v1", "events"), ("", "v1", "nodes"),
            ("", "v1", "namespaces"), ("", "v1", "serviceaccounts"),
        ):
            rtype = store.catalog.get(group, version, plural)
            assert rtype is not None, plural
            self._types[(group, plural)] = rtype
        self.status_rules: dict[str, dict[str, Any]] = {}
        self._timers: set[tuple[str, str, str, str]] = set()
        store.add_listener(self._on_event)
        self._ensure_node()

    # -- switches ----------------------------------------------------------------------------

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        if enabled:
            self._enqueue_all(_WATCHED)

    def set_loadbalancer(self, enabled: bool) -> None:
        self.loadbalancer = enabled
        if enabled:
            self._enqueue_all({("", "services")})

    def set_status_rules(self, rules: Iterable[dict[str, Any]]) -> None:
        """Replace the status rules: ``[{"kind", "group"?, "condition"?, "after"?, "reason"?}]``."""
        parsed: dict[str, dict[str, Any]] = {}
        for rule in rules:
            kind = rule.get("kind")
            after = rule.get("after", 0)
            if not isinstance(kind, str) or not kind or isinstance(after, bool) \
                    or not isinstance(after, int | float) or after < 0:
                raise ValueError(f"a status rule needs a kind and after >= 0 seconds: {rule!r}")
            parsed[kind] = {"group": str(rule.get("group") or ""), "after": float(after),
                            "condition": str(rule.get("condition") or "Ready"),
                            "reason": str(rule.get("reason") or "EmulatorStatusRule")}
        self.status_rules = parsed

    def state(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "loadbalancer": self.loadbalancer,
                "status_rules": [{"kind": k, **v} for k, v in self.status_rules.items()],
                "errors": self.errors[-10:]}

    # -- status rules ------------------------------------------------------------------------

    def _status_rule(self, event: Event) -> None:
        rule = self.status_rules.get(str(event.obj.get("kind") or ""))
        if rule is None or event.type == "DELETED" or (rule["group"] and rule["group"] != event.group):
            return
        conditions = (event.obj.get("status") or {}).get("conditions") or []
        if any(c.get("type") == rule["condition"] and c.get("status") == "True" for c in conditions):
            return
        meta = event.obj["metadata"]
        key = (event.group, event.plural, meta.get("namespace") or "", meta["name"])
        if key in self._timers:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timers.add(key)
        version = str(event.obj.get("apiVersion") or "").rsplit("/", 1)[-1]
        loop.call_later(rule["after"], self._mark, key, version, meta.get("uid"), rule)

    def _mark(self, key: tuple[str, str, str, str], version: str, uid: Any, rule: dict[str, Any]) -> None:
        self._timers.discard(key)
        group, plural, namespace, name = key
        rtype = self.store.catalog.get(group, version, plural)
        obj = self.store.find(rtype, namespace or None, name) if rtype is not None else None
        if rtype is None or obj is None or obj["metadata"].get("uid") != uid or not _alive(obj):
            return
        status = copy.deepcopy(obj.get("status") or {})
        kept = [c for c in status.get("conditions") or [] if c.get("type") != rule["condition"]]
        status["conditions"] = [*kept, {"type": rule["condition"], "status": "True", "reason": rule["reason"],
                                         "message": "set by the emulator's status rule",
                                         "lastTransitionTime": now_iso()}]
        if obj["metadata"].get("generation") is not None:
            status["observedGeneration"] = obj["metadata"]["generation"]
        self.store.write_status(rtype, obj, status)

    # -- queueing ----------------------------------------------------------------------------

    def _enqueue_all(self, kinds: Iterable[tuple[str, str]]) -> None:
        for group, plural in kinds:
            for obj in self.store.objects_of(group, plural):
                meta = obj["metadata"]
                self._enqueue((group, plural, meta.get("namespace") or "", meta["name"]))

    def _enqueue(self, key: ObjKey) -> None:
        self._pending[key] = None
        if not self._scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (e.g. store used synchronously); drained when one runs
            self._scheduled = True
            loop.call_soon(self._drain)

    def _on_event(self, event: Event) -> None:
        if self.status_rules:
            self._status_rule(event)
        kind = (event.group, event.plural)
        if kind == ("", "services"):
            if self.loadbalancer:
                meta = event.obj["metadata"]
                self._enqueue(("", "services", meta.get("namespace") or "", meta["name"]))
            return
        if not self.enabled or kind not in _WATCHED:
            return
        meta = event.obj["metadata"]
        namespace = meta.get("namespace") or ""
        if event.type != "DELETED":
            self._enqueue((event.group, event.plural, namespace, meta["name"]))
        for ref in meta.get("ownerReferences") or []:
            found = self.store.by_uid(ref.get("uid", ""))
            if found is not None:
                self._enqueue(found[0])

    def _drain(self) -> None:
        self._scheduled = False
        steps = 0
        while self._pending and steps < _MAX_STEPS:
            key = next(iter(self._pending))
            del self._pending[key]
            steps += 1
            try:
                self._reconcile(key)
            except ApiError as e:  # e.g. the namespace went away meanwhile
                log.warning("controller: %s/%s %s: %s", key[1], key[2], key[3], e.message)
            except Exception as e:  # keep the emulator alive, but make the failure visible
                log.exception("controller: reconciling %s failed", key)
                self.errors.append(f"{key}: {e!r}")
        if self._pending:
            self._scheduled = True
            asyncio.get_running_loop().call_later(0.01, self._drain)

    def _reconcile(self, key: ObjKey) -> None:
        group, plural, namespace, name = key
        if (group, plural) == ("", "services"):
            if self.loadbalancer:
                self._service(namespace, name)
            return
        if not self.enabled:
            return
        handler = {
            ("apps", "deployments"): self._deployment,
            ("apps", "replicasets"): self._replicaset,
            ("apps", "statefulsets"): self._statefulset,
            ("apps", "daemonsets"): self._daemonset,
            ("batch", "jobs"): self._job,
            ("", "pods"): self._pod,
            ("", "persistentvolumeclaims"): self._pvc,
            ("", "namespaces"): self._namespace,
        }.get((group, plural))
        if handler is not None:
            handler(namespace, name)

    # -- helpers -----------------------------------------------------------------------------

    def _t(self, group: str, plural: str) -> ResourceType:
        return self._types[(group, plural)]

    def _event(self, involved: Obj, reason: str, message: str, component: str,
               kind: str = "Normal") -> None:
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        now = now_iso()
        self.store.create(self._t("", "events"), namespace, {
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
            "involvedObject": {"apiVersion": involved["apiVersion"], "kind": involved["kind"],
                               "name": meta["name"], "namespace": meta.get("namespace"),
                               "uid": meta["uid"]},
            "reason": reason, "message": message, "type": kind, "count": 1,
            "firstTimestamp": now, "lastTimestamp": now, "source": {"component": component},
            "reportingComponent": component, "reportingInstance": "",
        })

    def _ensure_node(self) -> None:
        nodes = self._t("", "nodes")
        if self.store.find(nodes, None, NODE) is not None:
            return
        self.store.create(nodes, None, {
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE,
                                                  "kubernetes.io/os": "linux"}},
        })
        node = self.store.find(nodes, None, NODE)
        assert node is not None
        self.store.write_status(nodes, node, {
            "conditions": _conditions(None, [("Ready", "True", "KubeletReady",
                                              "emulated node (nothing runs here)")]),
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": NODE}],
            "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "v1.34.0-emulated", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "none://emulated"},
        })

    def _new_pod(self, owner: Obj, name: str, template: Obj, extra_labels: Obj) -> None:
        meta = copy.deepcopy(template.get("metadata") or {})
        labels = {**(meta.get("labels") or {}), **extra_labels}
        body = {
            "metadata": {"name": name, "namespace": owner["metadata"]["namespace"],
                         "labels": labels, "annotations": meta.get("annotations") or {},
                         "ownerReferences": [_owner_ref(owner)]},
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        if not body["metadata"]["annotations"]:
            del body["metadata"]["annotations"]
        self.store.create(self._t("", "pods"), owner["metadata"]["namespace"], body)
        self._pod(owner["metadata"]["namespace"], name)

    def _owned_pods(self, owner: Obj) -> list[Obj]:
        uid = owner["metadata"]["uid"]
        return sorted(
            (p for p in self.store.objects_of("", "pods", owner["metadata"]["namespace"])
             if _controlled_by(p, uid) and _alive(p)),
            key=lambda p: p["metadata"]["name"],
        )

    def _delete(self, group: str, plural: str, obj: Obj) -> None:
        self.store.delete(self._t(group, plural), obj["metadata"].get("namespace"),
                          obj["metadata"]["name"])

    @staticmethod
    def _ready(pod: Obj) -> bool:
        status = pod.get("status") or {}
        return status.get("phase") == "Running" and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or [])

    # -- reconcilers -------------------------------------------------------------------------

    def _pod(self, namespace: str, name: str) -> None:
        pods = self._t("", "pods")
        pod = self.store.find(pods, namespace, name)
        if pod is None or not _alive(pod) or (pod.get("status") or {}).get("phase") not in (None, "Pending"):
            return
        if pod["spec"].get("nodeName") != NODE:
            scheduled = copy.deepcopy(pod)
            scheduled["spec"]["nodeName"] = NODE
            self.store.write(pods, scheduled)
            self._event(pod, "Scheduled", f"Successfully assigned {namespace}/{name} to {NODE}",
                        "default-scheduler")
            pod = self.store.find(pods, namespace, name)
            assert pod is not None
        owners = {ref.get("kind") for ref in pod["metadata"].get("ownerReferences") or []}
        completes = "Job" in owners or pod["spec"].get("restartPolicy") in ("Never", "OnFailure")
        broken = (pod["metadata"].get("annotations") or {}).get(BROKEN_ANNOTATION) == "false"
        now = now_iso()
        containers = pod["spec"].get("containers") or []
        phase, ready = ("Failed" if broken else "Succeeded", False) if completes else (
            "Running", not broken)
        if completes:
            code = 1 if broken else 0
            state: Obj = {"terminated": {"exitCode": code, "reason": "Error" if broken else "Completed",
                                         "startedAt": now, "finishedAt": now}}
            reason = "PodFailed" if broken else "PodCompleted"
            wanted = [("PodReadyToStartContainers", "False", "", ""),
                      ("Initialized", "True", reason, ""), ("Ready", "False", reason, ""),
                      ("ContainersReady", "False", reason, ""), ("PodScheduled", "True", "", "")]
        elif broken:
            state = {"waiting": {"reason": "CrashLoopBackOff",
                                 "message": f"{BROKEN_ANNOTATION}=false (emulated failure)"}}
            wanted = [("PodReadyToStartContainers", "True", "", ""), ("Initialized", "True", "", ""),
                      ("Ready", "False", "ContainersNotReady", "containers are not ready"),
                      ("ContainersReady", "False", "ContainersNotReady", "containers are not ready"),
                      ("PodScheduled", "True", "", "")]
        else:
            state = {"running": {"startedAt": now}}
            wanted = [("PodReadyToStartContainers", "True", "", ""), ("Initialized", "True", "", ""),
                      ("Ready", "True", "", ""), ("ContainersReady", "True", "", ""),
                      ("PodScheduled", "True", "", "")]
        ip = f"10.244.0.{int(pod['metadata']['uid'][:2], 16) % 250 + 2}"
        status = {
            "phase": phase,
            "conditions": [{k: v for k, v in c.items() if v != ""} for c in _conditions(None, wanted)],
            "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now, "qosClass": "BestEffort",
            "containerStatuses": [{
                "name": c.get("name", ""), "image": c.get("image", ""),
                "imageID": f"emulated://{c.get('image', '')}", "containerID": f"emulated://{name}",
                "ready": ready, "started": phase == "Running", "restartCount": 1 if broken else 0,
                "state": state,
            } for c in containers],
        }
        self.store.write_status(pods, pod, status)
        for c in containers:
            if broken:
                self._event(pod, "BackOff", f"Back-off restarting failed container"
                            f" {c.get('name', '')} (emulated)", "kubelet", "Warning")
            else:
                self._event(pod, "Started", f"Started container {c.get('name', '')} (emulated)",
                            "kubelet")

    def _replicaset(self, namespace: str, name: str) -> None:
        rss = self._t("apps", "replicasets")
        rs = self.store.find(rss, namespace, name)
        if rs is None or not _alive(rs):
            return
        want = int(rs["spec"].get("replicas", 1))
        pods = self._owned_pods(rs)
        template = rs["spec"].get("template") or {}
        for _ in range(want - len(pods)):
            pod_name = f"{name}-{_suffix()}"
            self._new_pod(rs, pod_name, template, {})
            self._event(rs, "SuccessfulCreate", f"Created pod: {pod_name}", "replicaset-controller")
        for pod in pods[want:] if len(pods) > want else []:
            self._delete("", "pods", pod)
        pods = self._owned_pods(rs)
        ready = sum(1 for p in pods if self._ready(p))
        status = _drop_zero({
            "replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
            "availableReplicas": ready,
        })
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        self.store.write_status(rss, rs, status)

    def _deployment(self, namespace: str, name: str) -> None:
        deps, rss = self._t("apps", "deployments"), self._t("apps", "replicasets")
        dep = self.store.find(deps, namespace, name)
        if dep is None or not _alive(dep):
            return
        spec = dep["spec"]
        replicas = int(spec.get("replicas", 1))
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = _hash(template)
        rs_name = f"{name}-{pod_hash}"
        uid = dep["metadata"]["uid"]
        owned = [rs for rs in self.store.objects_of("apps", "replicasets", namespace)
                 if _controlled_by(rs, uid) and _alive(rs)]
        revisions = [int((rs["metadata"].get("annotations") or {}).get(
            "deployment.kubernetes.io/revision", "0")) for rs in owned]
        current = next((rs for rs in owned if rs["metadata"]["name"] == rs_name), None)
        if current is None:
            revision = str(max(revisions, default=0) + 1)
            template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
            selector = copy.deepcopy(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
            self.store.create(rss, namespace, {
                "metadata": {
                    "name": rs_name, "namespace": namespace,
                    "labels": dict(template["metadata"]["labels"]),
                    "annotations": {"deployment.kubernetes.io/revision": revision,
                                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                                    "deployment.kubernetes.io/max-replicas": str(replicas)},
                    "ownerReferences": [_owner_ref(dep)],
                },
                "spec": {"replicas": replicas, "selector": selector, "template": template},
            })
            self._event(dep, "ScalingReplicaSet",
                        f"Scaled up replica set {rs_name} from 0 to {replicas}",
                        "deployment-controller")
        else:
            revision = current["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            if current["spec"].get("replicas") != replicas:
                scaled = copy.deepcopy(current)
                scaled["spec"]["replicas"] = replicas
                self.store.write(rss, scaled)
        self._replicaset(namespace, rs_name)
        for old in owned:
            if old["metadata"]["name"] != rs_name and old["spec"].get("replicas") != 0:
                scaled = copy.deepcopy(old)
                scaled["spec"]["replicas"] = 0
                self.store.write(rss, scaled)
                self._replicaset(namespace, old["metadata"]["name"])
        owned = [rs for rs in self.store.objects_of("apps", "replicasets", namespace)
                 if _controlled_by(rs, uid) and _alive(rs)]
        counts = {key: sum(int((rs.get("status") or {}).get(key, 0)) for rs in owned)
                  for key in ("replicas", "readyReplicas", "availableReplicas")}
        new_rs = next((rs for rs in owned if rs["metadata"]["name"] == rs_name), None)
        updated = int(((new_rs or {}).get("status") or {}).get("replicas", 0))
        complete = (updated == replicas and counts["replicas"] == replicas
                    and counts["availableReplicas"] >= replicas)
        dep = self.store.find(deps, namespace, name)
        assert dep is not None
        annotations = dep["metadata"].get("annotations") or {}
        if annotations.get("deployment.kubernetes.io/revision") != revision:
            annotated = copy.deepcopy(dep)
            annotated["metadata"].setdefault("annotations", {})[
                "deployment.kubernetes.io/revision"] = revision
            self.store.write(deps, annotated)
            dep = self.store.find(deps, namespace, name)
            assert dep is not None
        old_conditions = (dep.get("status") or {}).get("conditions")
        available = counts["availableReplicas"] >= replicas
        status = _drop_zero({
            "replicas": counts["replicas"], "updatedReplicas": updated,
            "readyReplicas": counts["readyReplicas"],
            "availableReplicas": counts["availableReplicas"],
            "unavailableReplicas": max(replicas - counts["availableReplicas"], 0),
        })
        status["observedGeneration"] = dep["metadata"].get("generation", 1)
        status["conditions"] = _conditions(old_conditions, [
            ("Available", "True" if available else "False",
             "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
             "Deployment has minimum availability." if available
             else "Deployment does not have minimum availability."),
            ("Progressing", "True", "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
             f'ReplicaSet "{rs_name}" has successfully progressed.' if complete
             else f'ReplicaSet "{rs_name}" is progressing.'),
        ])
        self.store.write_status(deps, dep, status)

    def _statefulset(self, namespace: str, name: str) -> None:
        stss = self._t("apps", "statefulsets")
        sts = self.store.find(stss, namespace, name)
        if sts is None or not _alive(sts):
            return
        replicas = int(sts["spec"].get("replicas", 1))
        template = sts["spec"].get("template") or {}
        revision = f"{name}-{_hash(template)}"
        existing = {p["metadata"]["name"]: p for p in self._owned_pods(sts)}
        for index in range(replicas):
            pod_name = f"{name}-{index}"
            pod = existing.pop(pod_name, None)
            if pod is not None and pod["metadata"]["labels"].get("controller-revision-hash") != revision:
                self._delete("", "pods", pod)
                pod = None
            if pod is None:
                self._new_pod(sts, pod_name, template, {
                    "controller-revision-hash": revision,
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(index),
                })
        for extra in existing.values():
            self._delete("", "pods", extra)
        pods = self._owned_pods(sts)
        ready = sum(1 for p in pods if self._ready(p))
        status = _drop_zero({"replicas": len(pods), "readyReplicas": ready,
                             "currentReplicas": len(pods), "updatedReplicas": len(pods),
                             "availableReplicas": ready})
        status.update({"observedGeneration": sts["metadata"].get("generation", 1),
                       "currentRevision": revision, "updateRevision": revision,
                       "collisionCount": 0})
        self.store.write_status(stss, sts, status)

    def _daemonset(self, namespace: str, name: str) -> None:
        dss = self._t("apps", "daemonsets")
        ds = self.store.find(dss, namespace, name)
        if ds is None or not _alive(ds):
            return
        template = ds["spec"].get("template") or {}
        revision = _hash(template)
        pods = self._owned_pods(ds)
        for pod in pods:
            if pod["metadata"]["labels"].get("controller-revision-hash") != revision:
                self._delete("", "pods", pod)
        if not self._owned_pods(ds):
            self._new_pod(ds, f"{name}-{_suffix()}", template,
                          {"controller-revision-hash": revision, "pod-template-generation":
                           str(ds["metadata"].get("generation", 1))})
        pods = self._owned_pods(ds)
        ready = sum(1 for p in pods if self._ready(p))
        status = _drop_zero({"currentNumberScheduled": len(pods), "desiredNumberScheduled": 1,
                             "numberReady": ready, "numberAvailable": ready,
                             "updatedNumberScheduled": len(pods),
                             "numberUnavailable": 1 - ready})
        status.update({"observedGeneration": ds["metadata"].get("generation", 1),
                       "numberMisscheduled": 0})
        self.store.write_status(dss, ds, status)

    def _job(self, namespace: str, name: str) -> None:
        jobs = self._t("batch", "jobs")
        job = self.store.find(jobs, namespace, name)
        if job is None or not _alive(job) or job["spec"].get("suspend"):
            return
        status = job.get("status") or {}
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in status.get("conditions") or []):
            return
        completions = int(job["spec"].get("completions") or 1)
        pods = self._owned_pods(job)
        for _ in range(completions - len(pods)):
            pod_name = f"{name}-{_suffix()}"
            self._new_pod(job, pod_name, job["spec"].get("template") or {}, {})
            self._event(job, "SuccessfulCreate", f"Created pod: {pod_name}", "job-controller")
        pods = self._owned_pods(job)
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        job = self.store.find(jobs, namespace, name)
        assert job is not None
        now = now_iso()
        new_status: Obj = {"startTime": status.get("startTime", now), "ready": 0, "terminating": 0,
                           "uncountedTerminatedPods": {}}
        if failed:
            message = "Job has reached the specified backoff limit"
            new_status.update({"failed": failed, "conditions": _conditions(None, [
                ("FailureTarget", "True", "BackoffLimitExceeded", message),
                ("Failed", "True", "BackoffLimitExceeded", message),
            ])})
            self.store.write_status(jobs, job, new_status)
            self._event(job, "BackoffLimitExceeded", message, "job-controller", "Warning")
        elif succeeded >= completions:
            new_status.update({
                "succeeded": succeeded, "completionTime": now,
                "conditions": _conditions(None, [
                    ("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
                    ("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
                ]),
            })
            for c in new_status["conditions"]:
                c["lastProbeTime"] = now
            self.store.write_status(jobs, job, new_status)
            self._event(job, "Completed", "Job completed", "job-controller")
        else:
            new_status["active"] = len(pods) - succeeded
            if succeeded:
                new_status["succeeded"] = succeeded
            self.store.write_status(jobs, job, new_status)

    def _pvc(self, namespace: str, name: str) -> None:
        pvcs = self._t("", "persistentvolumeclaims")
        pvc = self.store.find(pvcs, namespace, name)
        if pvc is None or not _alive(pvc) or (pvc.get("status") or {}).get("phase") == "Bound":
            return
        if not pvc["spec"].get("volumeName"):
            bound = copy.deepcopy(pvc)
            bound["spec"]["volumeName"] = f"pvc-{pvc['metadata']['uid']}"
            self.store.write(pvcs, bound)
            pvc = self.store.find(pvcs, namespace, name)
            assert pvc is not None
        requests = ((pvc["spec"].get("resources") or {}).get("requests") or {})
        self.store.write_status(pvcs, pvc, {
            "phase": "Bound", "accessModes": pvc["spec"].get("accessModes") or ["ReadWriteOnce"],
            "capacity": {"storage": requests.get("storage", "1Gi")},
        })

    def _namespace(self, _: str, name: str) -> None:
        namespace = self.store.find(self._t("", "namespaces"), None, name)
        sas = self._t("", "serviceaccounts")
        if namespace is not None and _alive(namespace) and self.store.find(sas, name, "default") is None:
            self.store.create(sas, name, {"metadata": {"name": "default", "namespace": name}})

    def _service(self, namespace: str, name: str) -> None:
        services = self._t("", "services")
        svc = self.store.find(services, namespace, name)
        if svc is None or not _alive(svc) or svc["spec"].get("type") != "LoadBalancer":
            return
        status = copy.deepcopy(svc.get("status") or {})
        if (status.get("loadBalancer") or {}).get("ingress"):
            return
        status["loadBalancer"] = {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}
        self.store.write_status(services, svc, status)
