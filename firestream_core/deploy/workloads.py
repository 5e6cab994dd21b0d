"""``pods_running``: the release's workloads, taken from its manifest, have ready pods.

The workloads are what the release's manifest creates - Deployments,
StatefulSets, DaemonSets and Jobs (hooks excluded), in whatever namespace
they name - so a chart whose pods do not carry
``app.kubernetes.io/instance`` (Strimzi's operator) or that puts a workload
in another namespace is still checked, never passed for want of a label
match. The manifest's workloads come from helm's own record of the upgrade
(``--output json``, kept in ``context.lifecycle.executed``); when that is
missing (a chart plugin's own ``exec``), ``helm get manifest`` is asked once
per lifecycle (kept in ``context.lifecycle.workloads``).

Calls per poll: ONE ``kubectl get pods,deployments,statefulsets,daemonsets
-l app.kubernetes.io/instance=<release>`` in the release's namespace (as
before), shared with the releases of that namespace validating at the same
moment (one ``-l 'app.kubernetes.io/instance in (a,b,c)'``, each release
given only its own objects: ``debuginfo.release_pods_and_workloads``);
only workloads that call did not return (unlabelled, or in another
namespace, or Jobs) cost one ``kubectl get -f -`` per namespace, and their
pods one ``kubectl get pods -l <their selector>`` each.

The answer:

* a CrashLoopBackOff or Failed pod, or a Failed Job: **failed** at once;
* a workload missing, not yet observed, or with fewer ready pods than it
  wants (zero included): **pending** (the runner polls until the timeout);
* the labelled pods are counted against what the labelled workloads ask
  for (a Deployment wanting 2 with 1 pod is pending); the other workloads
  by their own status (``availableReplicas``, ``readyReplicas``,
  ``numberReady``, a Job's ``succeeded``);
* workloads deliberately scaled to zero: **passed**, saying so;
* all ready: **passed**, naming each workload;
* no workloads and no pods at all: **passed**, saying there was nothing to check;
* a manifest of kinds that never run pods alone (ConfigMaps, Services, RBAC,
  CRDs...: ``manifests.POD_FREE_KINDS``; a custom resource is never one, its
  operator may run pods labelled as the release): **passed** without asking
  the cluster at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from firestream_core.deploy.debuginfo import (
    INSTANCE_LABEL,
    desired_pods,
    pod_problem,
    pod_ready,
    release_pods_and_workloads,
)
from firestream_core.errors import HelmError, first_line
from firestream_core.model import ValidationResult
from firestream_core.tools.manifests import api_group, read_workloads

if TYPE_CHECKING:
    from firestream_core.model import HelmChart
    from firestream_core.plugin.context import DeployContext

__all__ = ["check_pods_running", "workload_state"]

CHECK = "pods_running"

_API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1"}

Key = tuple[str, str, str]


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _key(obj: Mapping[str, Any], namespace: str) -> Key:
    meta = _meta(obj)
    return (str(obj.get("kind") or ""), str(meta.get("namespace") or namespace), str(meta.get("name") or ""))


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, Mapping) and c.get("type") == kind:
            return c
    return {}


def workload_state(obj: Mapping[str, Any]) -> tuple[str, int, int]:
    """``(state, ready, wanted)`` of one workload; state is ``ready``, ``waiting``, ``failed`` or ``idle``.

    ``idle``: it asks for no pods (replicas 0, a DaemonSet on no node).
    """
    kind, spec, status = obj.get("kind"), obj.get("spec") or {}, obj.get("status") or {}
    generation, observed = _meta(obj).get("generation"), status.get("observedGeneration")
    seen = generation is None or observed is None or _int(observed) >= _int(generation)
    if kind == "Job":
        want = _int(spec.get("completions"), 1)
        done = _int(status.get("succeeded"))
        if str(_condition(obj, "Failed").get("status")) == "True":
            return "failed", done, want
        return ("ready" if done >= want else "waiting"), done, want
    if kind == "DaemonSet":
        want = _int(status.get("desiredNumberScheduled"))
        ready = _int(status.get("numberReady"))
        if not seen or "desiredNumberScheduled" not in status:
            return "waiting", ready, max(want, 1)
    elif kind == "Deployment":
        want = _int(spec.get("replicas"), 1)
        ready = min(_int(status.get("availableReplicas")), _int(status.get("updatedReplicas")))
    else:  # StatefulSet
        want = _int(spec.get("replicas"), 1)
        ready = _int(status.get("readyReplicas"))
        current, update = status.get("currentRevision"), status.get("updateRevision")
        if current and update and current != update:
            return "waiting", ready, want
    if not seen:
        return "waiting", ready, want
    if want == 0:
        return "idle", 0, 0
    return ("ready" if ready >= want else "waiting"), ready, want


def manifest_keys(chart: HelmChart, context: DeployContext) -> tuple[list[Key], bool]:
    """The release's workloads from its manifest, and whether it holds nothing that may run pods:
    what ``exec`` reported, those read earlier in this lifecycle (``context.lifecycle``), else
    ``helm get manifest`` (kept for the next poll)."""
    info = chart.chart_info
    record = context.lifecycle
    if record.executed is not None and record.executed.workloads is not None:
        return list(record.executed.workloads), record.executed.pod_free
    if record.workloads is None:
        manifest = context.helm.get_manifest(info.name, info.namespace_name)
        record.workloads, record.pod_free = read_workloads(manifest, info.namespace_name)
    return list(record.workloads), record.pod_free


def _selector(obj: Mapping[str, Any]) -> str | None:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def _fetch(context: DeployContext, keys: Sequence[Key], release_ns: str) -> dict[Key, Mapping[str, Any]]:
    stubs = [{"apiVersion": _API.get(kind, "apps/v1"), "kind": kind, "metadata": {"name": name, "namespace": ns}}
             for kind, ns, name in keys]
    found = context.kubectl.get_manifest_objects(stubs, namespace=release_ns)
    return {_key(o, release_ns): o for o in found if api_group(str(o.get("apiVersion") or "")) in ("apps", "batch")}


def _pods_of(context: DeployContext, obj: Mapping[str, Any], namespace: str) -> list[dict[str, Any]]:
    selector = _selector(obj)
    if selector is None:
        return []
    data = context.kubectl.get("pods", namespace=namespace, selector=selector)
    return [dict(i) for i in (data or {}).get("items") or [] if isinstance(i, Mapping)]


def check_pods_running(chart: HelmChart, context: DeployContext) -> ValidationResult:
    """``pods_running`` for one release (see the module's docstring)."""
    info = chart.chart_info
    name, ns = info.name, info.namespace_name
    try:
        keys, pod_free = manifest_keys(chart, context)
    except HelmError as exc:
        return ValidationResult.fail(CHECK, f"release '{name}': cannot read its manifest: {first_line(exc)}")
    if pod_free:
        # only kinds that never run pods (ConfigMaps, Services, RBAC, CRDs...): no pod can be the
        # release's, so the cluster is not asked
        return ValidationResult.ok(
            CHECK, f"release '{name}' creates nothing that runs pods: no workload, no custom resource "
            "(nothing to check)", workloads=[],
        )
    listed, labelled = release_pods_and_workloads(context, info)  # one kubectl call, maybe shared
    found = {_key(w, ns) for w in labelled}
    extra = [k for k in keys if k not in found]  # unlabelled, in another namespace, or Jobs
    live = _fetch(context, extra, ns) if extra else {}
    pods = list(listed)
    for key in extra:
        obj = live.get(key)
        if obj is not None and obj.get("kind") != "Job":
            seen = {(ns, str(_meta(p).get("name"))) for p in pods}
            pods += [p for p in _pods_of(context, obj, key[1])
                     if (key[1], str(_meta(p).get("name"))) not in seen]
    pods = [p for p in pods if not _meta(p).get("deletionTimestamp")]
    problems = [pr for pr in (pod_problem(p) for p in pods) if pr]
    if problems:
        return ValidationResult.fail(CHECK, "; ".join(problems))
    names = sorted({f"{k}/{n}" for k, _, n in keys} | {f"{k}/{n}" for k, _, n in found})
    waiting, failed, shown = [], [], []
    for key in extra:
        kind, where, wname = key
        label = f"{kind}/{wname}" + (f" (namespace {where})" if where != ns else "")
        obj = live.get(key)
        if obj is None:
            waiting.append(f"{label} not created yet")
            continue
        state, ready, want = workload_state(obj)
        shown.append(f"{label} {ready}/{want}")
        if state == "failed":
            failed.append(f"{label} failed")
        elif state == "waiting":
            waiting.append(f"{label} {ready}/{want} ready")
    if failed:
        return ValidationResult.fail(CHECK, f"release '{name}': " + "; ".join(failed), workloads=names)
    want = desired_pods(labelled)
    if not pods and not want and not keys and not labelled:
        return ValidationResult.ok(
            CHECK, f"release '{name}' has no workloads (Deployment, StatefulSet, DaemonSet, Job) and "
            f"no pods labelled {INSTANCE_LABEL}={name} (nothing to check)", workloads=[],
        )
    ready = sum(1 for p in pods if pod_ready(p))
    running = sum(1 for p in listed if pod_ready(p) and (p.get("status") or {}).get("phase") == "Running")
    if ready < len(pods) or running < want:
        total = max(len(pods), want + (ready - running))
        return ValidationResult.pending(CHECK, f"{ready}/{total} pods of release '{name}' ready", workloads=names)
    if waiting:
        return ValidationResult.pending(CHECK, f"release '{name}' not ready yet: " + "; ".join(waiting),
                                        workloads=names)
    if not pods and (keys or labelled) and not want and not shown:
        return ValidationResult.ok(
            CHECK, f"release '{name}': its workloads ask for no pods ({', '.join(names)} scaled to zero)",
            workloads=names,
        )
    detail = f" ({'; '.join(shown)})" if shown else ""
    return ValidationResult.ok(CHECK, f"{len(pods)} pods of release '{name}' running{detail}", workloads=names)
