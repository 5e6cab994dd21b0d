"""Reusable validation checks for chart plugins.

A chart plugin's ``validate`` hook returns a list of named
:class:`~firestream_core.model.ValidationResult`; the functions here build the
common ones from what the cluster reports, through the kubectl layer only::

    from firestream_core import checks

    @hookimpl
    def validate(chart, context, payload):
        ns = chart.chart_info.namespace_name
        release = chart.chart_info.name
        return [
            checks.deployment_available(context, namespace=ns,
                                        selector=f"app.kubernetes.io/instance={release}"),
            checks.ingressclass_exists(context, "nginx"),
        ]

Every check takes as its first argument the run's
:class:`~firestream_core.plugin.context.DeployContext` (or a ``Kubectl`` directly) and
returns one result:

* **passed** - the resource is there and ready;
* **pending** - it is there but not ready *yet* (replicas starting, a load
  balancer address not assigned): the runner asks again until the release's
  timeout, after which a pending check counts as failed;
* **failed** - it is missing, or it cannot be read (the reason is given).

Resources are found **by name or by label selector**, never by a guessed
name: charts name their objects after ``fullnameOverride``/``nameOverride``,
but their labels (``app.kubernetes.io/instance=<release>``) are stable.

Messages name kinds, objects and counts, never a configured value. A cluster
that cannot be reached is not a failed check: that error propagates (the
runner retries or fails the stage with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firestream_core.model import ValidationResult

if TYPE_CHECKING:
    from firestream_core.model import ChartInfo

__all__ = [
    "chart_value",
    "condition_true",
    "crd_established",
    "crds_established",
    "deployment_available",
    "ingressclass_exists",
    "pods_ready",
    "resources_exist",
    "service_address",
    "service_exists",
    "statefulset_ready",
]

_Obj = dict[str, Any]


# -- plumbing ------------------------------------------------------------------------------


class _Unreadable(Exception):
    """The kubectl layer refused a read for a reason that is the check's answer."""


def _kubectl(source: Any) -> Any:
    """The ``Kubectl`` of a ``DeployContext``, or ``source`` itself."""
    return getattr(source, "kubectl", source)


def _reraise_if_fatal(exc: BaseException) -> None:
    from firestream_core.errors import (
        CancelledError,
        ClusterUnreachableError,
        HelmNotInstalledError,
    )

    if isinstance(exc, ClusterUnreachableError | HelmNotInstalledError | CancelledError):
        raise exc


def _get(source: Any, kind: str, name: str | None = None, **kwargs: Any) -> _Obj | None:
    from firestream_core.errors import HelmError, first_line

    try:
        return _kubectl(source).get(kind, name, **kwargs)
    except HelmError as exc:
        _reraise_if_fatal(exc)
        raise _Unreadable(f"cannot read {kind}: {first_line(exc)}") from exc


def _find(
    source: Any,
    kind: str,
    name: str | None,
    *,
    namespace: str | None,
    selector: str | None,
) -> list[_Obj]:
    """The objects named ``name``, or matching ``selector`` (empty when none)."""
    if name is None and selector is None:
        raise ValueError(f"give the {kind}'s name or a label selector")
    if name is not None:
        obj = _get(source, kind, name, namespace=namespace)
        if obj is None:
            return []
        if selector is not None and not _matches(obj, selector):
            return []
        return [obj]
    listed = _get(source, kind, namespace=namespace, selector=selector)
    return list((listed or {}).get("items") or [])


def _matches(obj: _Obj, selector: str) -> bool:
    """Equality-based selectors (``a=b,c!=d``) against an object's labels."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.strip().rstrip("=")) != v.strip().lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _name(obj: _Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def _which(kind: str, name: str | None, namespace: str | None, selector: str | None) -> str:
    where = f" in namespace '{namespace}'" if namespace else ""
    if name is not None:
        return f"{kind} '{name}'{where}"
    return f"{kind} labelled '{selector}'{where}"


def _conditions(obj: _Obj) -> dict[str, Mapping[str, Any]]:
    return {
        str(c.get("type")): c
        for c in ((obj.get("status") or {}).get("conditions") or [])
        if isinstance(c, Mapping)
    }


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _generation_observed(obj: _Obj) -> bool:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    generation = meta.get("generation")
    observed = status.get("observedGeneration")
    return generation is None or observed is None or _int(observed) >= _int(generation)


# -- workloads -------------------------------------------------------------------------------


def _deployment_state(obj: _Obj) -> tuple[bool, str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = _int(spec.get("replicas"), 1)
    available = _int(status.get("availableReplicas"))
    updated = _int(status.get("updatedReplicas"))
    cond = _conditions(obj).get("Available")
    if not _generation_observed(obj):
        return False, f"{_name(obj)}: new spec not yet observed"
    if cond is not None and cond.get("status") != "True" and want > 0:
        return False, f"{_name(obj)}: {available}/{want} available"
    ok = available >= want and updated >= want
    return ok, f"{_name(obj)}: {available}/{want} available"


def _statefulset_state(obj: _Obj) -> tuple[bool, str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if not _generation_observed(obj):
        return False, f"{_name(obj)}: new spec not yet observed"
    if current and update and current != update:
        return False, f"{_name(obj)}: {ready}/{want} ready, rollout in progress"
    return ready >= want, f"{_name(obj)}: {ready}/{want} ready"


def _workloads(
    check: str,
    kind: str,
    state: Any,
    source: Any,
    name: str | None,
    namespace: str,
    selector: str | None,
) -> ValidationResult:
    which = _which(kind, name, namespace, selector)
    try:
        found = _find(source, kind, name, namespace=namespace, selector=selector)
    except _Unreadable as exc:
        return ValidationResult.fail(check, str(exc))
    if not found:
        return ValidationResult.fail(check, f"no {which} found")
    states = [state(obj) for obj in sorted(found, key=_name)]
    summary = "; ".join(text for _, text in states)
    names = [_name(o) for o in found]
    if all(ok for ok, _ in states):
        return ValidationResult.ok(check, f"{kind} ready: {summary}", objects=names)
    return ValidationResult.pending(check, f"{kind} not ready yet: {summary}", objects=names)


def deployment_available(
    source: Any,
    name: str | None = None,
    *,
    namespace: str,
    selector: str | None = None,
    check: str = "deployment_available",
) -> ValidationResult:
    """Every Deployment named ``name`` or matching ``selector`` is available.

    Available means: its latest spec is observed, as many replicas are
    updated and available as it asks for, and its ``Available`` condition
    is not false. Pending while rolling out; failed when none is found.

    Example, in ``validate``::

        checks.deployment_available(context, namespace=ns, selector=f"app.kubernetes.io/instance={release}")

    What it answers while a rollout is under way (``Cluster`` stands in for
    ``context.kubectl``: any object whose ``get`` reads the cluster the same way):

    >>> class Cluster:
    ...     def get(self, kind, name=None, *, namespace=None, selector=None):
    ...         return {"items": [{"metadata": {"name": "web"}, "spec": {"replicas": 2},
    ...                            "status": {"availableReplicas": 1, "updatedReplicas": 2}}]}
    >>> result = deployment_available(Cluster(), namespace="shop", selector="app.kubernetes.io/instance=web")
    >>> result.status, result.message
    (<ValidationStatus.PENDING: 'pending'>, 'deployment not ready yet: web: 1/2 available')
    """
    return _workloads(check, "deployment", _deployment_state, source, name, namespace, selector)


def statefulset_ready(
    source: Any,
    name: str | None = None,
    *,
    namespace: str,
    selector: str | None = None,
    check: str = "statefulset_ready",
) -> ValidationResult:
    """Every StatefulSet named ``name`` or matching ``selector`` has all replicas ready.

    Pending while replicas start or a rollout is in progress (current and
    update revisions differ); failed when none is found.

    Example, in ``validate``::

        checks.statefulset_ready(context, namespace=ns, selector=f"app.kubernetes.io/instance={release}", check="redis_ready")
    """
    return _workloads(check, "statefulset", _statefulset_state, source, name, namespace, selector)


def pods_ready(
    source: Any,
    *,
    namespace: str,
    selector: str,
    minimum: int = 1,
    check: str = "pods_ready",
) -> ValidationResult:
    """At least ``minimum`` pods match ``selector`` and all running ones are Ready.

    Pods that ran to completion (``Succeeded``, e.g. of a Job) are ignored; a
    ``Failed`` pod fails the check; others are pending until Ready.

    Example, in ``validate``::

        checks.pods_ready(context, namespace=ns, selector=f"app.kubernetes.io/instance={release}", minimum=2)
    """
    which = _which("pod", None, namespace, selector)
    try:
        pods = _find(source, "pod", None, namespace=namespace, selector=selector)
    except _Unreadable as exc:
        return ValidationResult.fail(check, str(exc))
    live = [p for p in pods if (p.get("status") or {}).get("phase") != "Succeeded"]
    failed = [_name(p) for p in live if (p.get("status") or {}).get("phase") == "Failed"]
    if failed:
        return ValidationResult.fail(check, f"{which}: failed pods: {', '.join(sorted(failed))}")
    ready = [
        p for p in live
        if (p.get("status") or {}).get("phase") == "Running"
        and (_conditions(p).get("Ready") or {}).get("status") == "True"
    ]
    if len(live) < minimum:
        if not live:
            return ValidationResult.pending(check, f"no {which} yet (want {minimum})")
        return ValidationResult.pending(check, f"{len(live)} {which}, want at least {minimum}")
    if len(ready) < len(live):
        return ValidationResult.pending(check, f"{len(ready)}/{len(live)} {which} ready")
    return ValidationResult.ok(check, f"{len(ready)}/{len(live)} {which} ready")


# -- custom resources -----------------------------------------------------------------------


def crd_established(
    source: Any, name: str, *, check: str | None = None
) -> ValidationResult:
    """The CustomResourceDefinition ``name`` exists and is ``Established``.

    Example, in ``validate``::

        checks.crd_established(context, "servicemonitors.monitoring.coreos.com")
    """
    return crds_established(source, [name], check=check or "crd_established")


def crds_established(
    source: Any, names: Iterable[str], *, check: str = "crds_established"
) -> ValidationResult:
    """Every CRD in ``names`` exists and is ``Established`` (one result for all).

    Failed listing the missing ones; pending while one is not yet established.

    Example, in ``validate``::

        checks.crds_established(context, ["kafkas.kafka.strimzi.io", "kafkatopics.kafka.strimzi.io"])
    """
    wanted = list(names)
    missing, waiting = [], []
    for crd in wanted:
        try:
            obj = _get(source, "customresourcedefinition", crd)
        except _Unreadable as exc:
            return ValidationResult.fail(check, str(exc))
        if obj is None:
            missing.append(crd)
        elif (_conditions(obj).get("Established") or {}).get("status") != "True":
            waiting.append(crd)
    if missing:
        return ValidationResult.fail(
            check, f"CRD not installed: {', '.join(missing)}", missing=missing
        )
    if waiting:
        return ValidationResult.pending(check, f"CRD not yet established: {', '.join(waiting)}")
    what = wanted[0] if len(wanted) == 1 else f"{len(wanted)} CRDs"
    return ValidationResult.ok(check, f"{what} established")


def resources_exist(
    source: Any,
    kind: str,
    *,
    namespace: str | None,
    selector: str | None = None,
    minimum: int = 1,
    check: str | None = None,
) -> ValidationResult:
    """At least ``minimum`` objects of ``kind`` (e.g. ``prometheus``) exist.

    Failed with the count found, or when the kind is not served (its CRD is
    missing).

    Example, in ``validate``::

        checks.resources_exist(context, "prometheus", namespace=ns, minimum=1)
    """
    check = check or f"{kind}_exists"
    which = _which(kind, None, namespace, selector or "any")
    try:
        listed = _get(source, kind, namespace=namespace, selector=selector)
    except _Unreadable as exc:
        return ValidationResult.fail(check, str(exc))
    items = list((listed or {}).get("items") or [])
    names = sorted(_name(o) for o in items)
    if len(items) < minimum:
        return ValidationResult.fail(
            check, f"{len(items)} {which} found, want at least {minimum}"
        )
    return ValidationResult.ok(check, f"{len(items)} {which} found", objects=names)


def condition_true(
    source: Any,
    kind: str,
    name: str,
    *,
    namespace: str | None,
    condition: str = "Ready",
    check: str | None = None,
) -> ValidationResult:
    """The object's status condition ``condition`` is ``True`` (e.g. a Kafka's ``Ready``).

    Failed when the object does not exist; pending while the condition is
    absent or not true (its reason is shown).

    Example, in ``validate``::

        checks.condition_true(context, "kafka", "events", namespace=ns, condition="Ready")
    """
    check = check or f"{kind}_{condition.lower()}"
    which = _which(kind, name, namespace, None)
    try:
        obj = _get(source, kind, name, namespace=namespace)
    except _Unreadable as exc:
        return ValidationResult.fail(check, str(exc))
    if obj is None:
        return ValidationResult.fail(check, f"{which} not found")
    cond = _conditions(obj).get(condition)
    if cond is None:
        return ValidationResult.pending(check, f"{which}: no {condition} condition yet")
    if cond.get("status") == "True":
        return ValidationResult.ok(check, f"{which} is {condition}")
    reason = cond.get("reason") or "no reason given"
    return ValidationResult.pending(check, f"{which} not {condition} yet ({reason})")


# -- networking --------------------------------------------------------------------------------


def service_exists(
    source: Any,
    name: str | None = None,
    *,
    namespace: str,
    selector: str | None = None,
    check: str = "service_exists",
) -> ValidationResult:
    """A Service named ``name`` (or at least one matching ``selector``) exists.

    Example, in ``validate``::

        checks.service_exists(context, namespace=ns, selector=f"app.kubernetes.io/instance={release}")
    """
    which = _which("service", name, namespace, selector)
    try:
        found = _find(source, "service", name, namespace=namespace, selector=selector)
    except _Unreadable as exc:
        return ValidationResult.fail(check, str(exc))
    if not found:
        return ValidationResult.fail(check, f"no {which} found")
    names = sorted(_name(s) for s in found)
    return ValidationResult.ok(check, f"service found: {', '.join(names)}", objects=names)


def _lb_address(svc: _Obj) -> str | None:
    for ingress in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        address = ingress.get("ip") or ingress.get("hostname")
        if address:
            return str(address)
    return None


def service_address(
    source: Any,
    name: str | None = None,
    *,
    namespace: str,
    selector: str | None = None,
    check: str = "service_address",
) -> ValidationResult:
    """The Service (found by ``name`` or by ``selector``) has an address.

    Among the matching Services, headless ones are ignored. When some are of
    type ``LoadBalancer``, each must have a load-balancer address
    (``status.loadBalancer.ingress``): the check is **pending** while one is
    not assigned yet. Otherwise a cluster IP is the address. Failed when no
    Service is found.

    Example, in ``validate``::

        checks.service_address(context, "ingress-nginx-controller", namespace=ns)
    """
    which = _which("service", name, namespace, selector)
    try:
        found = _find(source, "service", name, namespace=namespace, selector=selector)
    except _Unreadable as exc:
        return ValidationResult.fail(check, str(exc))
    found = [s for s in found if (s.get("spec") or {}).get("clusterIP") != "None"]
    if not found:
        return ValidationResult.fail(check, f"no {which} found")
    balanced = [s for s in found if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    if balanced:
        waiting = sorted(_name(s) for s in balanced if _lb_address(s) is None)
        if waiting:
            return ValidationResult.pending(
                check, f"load-balancer address not yet assigned to service {', '.join(waiting)}"
            )
        addresses = {_name(s): _lb_address(s) for s in balanced}
        shown = ", ".join(f"{n} at {a}" for n, a in sorted(addresses.items()))
        return ValidationResult.ok(check, f"load balancer ready: {shown}", addresses=addresses)
    addresses = {_name(s): (s.get("spec") or {}).get("clusterIP") for s in found}
    if not any(addresses.values()):
        return ValidationResult.pending(check, f"{which} has no cluster IP yet")
    shown = ", ".join(f"{n} at {a}" for n, a in sorted(addresses.items()) if a)
    return ValidationResult.ok(check, f"service address: {shown}", addresses=addresses)


def ingressclass_exists(
    source: Any, name: str, *, check: str = "ingress_class"
) -> ValidationResult:
    """The (cluster-scoped) IngressClass ``name`` exists.

    Example, in ``validate``::

        checks.ingressclass_exists(context, "nginx")
    """
    try:
        obj = _get(source, "ingressclass", name)
    except _Unreadable as exc:
        return ValidationResult.fail(check, str(exc))
    if obj is None:
        return ValidationResult.fail(check, f"IngressClass '{name}' not found")
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    default = annotations.get("ingressclass.kubernetes.io/is-default-class") == "true"
    suffix = " (the cluster's default)" if default else ""
    return ValidationResult.ok(check, f"IngressClass '{name}' exists{suffix}", default=default)


# -- reading a chart's values ----------------------------------------------------------------


def chart_value(
    info: ChartInfo,
    key: str,
    default: Any = None,
    *,
    project_dir: Path | str | None = None,
) -> Any:
    """The value helm will see at dotted ``key`` for this ``ChartInfo``, or ``default``.

    Merged the way helm merges them: ``values_files`` (read from disk,
    relative to ``project_dir``; unreadable ones are skipped), then the
    generated ``yaml_files_content`` documents, then the ``--set`` pairs.
    The chart's own ``values.yaml`` is not known here: ``default`` stands for
    it. ``key`` uses ``--set`` syntax (``controller.hostNetwork``,
    ``sources[0]``). Use it to decide which checks apply, e.g. whether
    ``controller.hostNetwork`` is on.

    Example, in ``validate``::

        checks.chart_value(chart.chart_info, "auth.enabled", True, project_dir=context.project_dir)

    >>> from firestream_core.model import ChartInfo, ChartSetValue
    >>> from firestream_core.plugin.presets import preset_values
    >>> info = ChartInfo(name="ingress", chart="ingress-nginx",
    ...                  yaml_files_content=[preset_values("ingress", "dev", {"controller.replicaCount": 1})],
    ...                  values=[ChartSetValue("controller.replicaCount", "2")])
    >>> chart_value(info, "controller.replicaCount")     # --set pairs have the last word
    2
    >>> chart_value(info, "controller.hostNetwork", False)
    False
    """
    from firestream_core.tools.readfile import UnreadableFile
    from firestream_core.tools.values import deep_merge, merged_values, parse_key, read_values_file

    merged: dict[str, Any] = {}
    base = Path(project_dir) if project_dir is not None else Path.cwd()
    for f in info.values_files:
        path = Path(f) if Path(f).is_absolute() else base / f
        try:
            merged = deep_merge(merged, read_values_file(path))
        except (UnreadableFile, ValueError):
            continue
    merged = deep_merge(merged, merged_values(info))
    node: Any = merged
    for part in parse_key(key):
        if isinstance(part, int):
            if not isinstance(node, Sequence) or isinstance(node, str) or part >= len(node):
                return default
            node = node[part]
        else:
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
    return node
