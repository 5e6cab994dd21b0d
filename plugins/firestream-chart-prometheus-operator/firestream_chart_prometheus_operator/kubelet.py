"""The kubelet Service the Prometheus Operator keeps, which helm's uninstall leaves behind.

kube-prometheus-stack runs the operator with ``--kubelet-service=<namespace>/<name>``
(``prometheusOperator.kubeletService``: on by default, in ``kube-system``, named
``<fullname>-kubelet`` or ``kubeletService.name``). The operator creates that Service, its
Endpoints and (newer operators) EndpointSlices and keeps them up to date; helm does not own
them, so ``helm uninstall`` leaves them, and a later install under another release name
makes a second one: every kubelet is then scraped twice (prometheus-community/helm-charts
issues 1523, 4143, 5343).

A destroy deletes them after helm's uninstall, once the operator's pods are gone (a running
operator makes them again), and only when the Service is the operator's: it carries
``app.kubernetes.io/managed-by: prometheus-operator``, as the operator labels what it makes.
The Service's name and namespace are read from the release's own manifest (the operator
Deployment's argument), as the release's values made them. The destroy plan says which:
:func:`kubelet_destroy_steps`, the chart type's ``destroy_steps`` with the cluster read;
``post_exec`` deletes only what the plan listed (:func:`delete_kubelet_service`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firestream_core.plugin import DeployContext, HelmChart

MANAGED_BY = "app.kubernetes.io/managed-by"
OPERATOR = "prometheus-operator"
"""The label the operator puts on the kubelet Service and Endpoints it makes, and its value."""
SLICE_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_SERVICE = "kubernetes.io/service-name"
"""An EndpointSlice's labels: who manages it, and its Service."""
ARGUMENT = "--kubelet-service="


def _operator(manifest: str) -> tuple[dict[str, Any], tuple[str, str]] | None:
    """The operator Deployment of a release's manifest and the namespace and name its
    ``--kubelet-service`` names (None: no operator, or ``kubeletService.enabled = false``)."""
    import yaml

    for doc in yaml.safe_load_all(manifest or ""):
        if not isinstance(doc, dict) or doc.get("kind") != "Deployment":
            continue
        pod = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in pod.get("containers") or ():
            for arg in (container or {}).get("args") or ():
                if isinstance(arg, str) and arg.startswith(ARGUMENT):
                    namespace, _, name = arg[len(ARGUMENT):].partition("/")
                    if namespace and name:
                        return doc, (namespace, name)
    return None


def kubelet_service(manifest: str) -> tuple[str, str] | None:
    """The namespace and name the operator's ``--kubelet-service`` names in a release's manifest
    (None: no operator, or ``prometheusOperator.kubeletService.enabled = false``).

    >>> kubelet_service('''
    ... kind: Deployment
    ... spec: {template: {spec: {containers: [{args: ["--kubelet-service=kube-system/mon-kubelet"]}]}}}
    ... ''')
    ('kube-system', 'mon-kubelet')
    >>> kubelet_service("kind: Service") is None
    True
    """
    found = _operator(manifest)
    return None if found is None else found[1]


def operator_pods(manifest: str, namespace: str) -> tuple[str, str] | None:
    """The namespace and label selector of the operator's pods as the release was deployed (its
    Deployment's ``spec.selector.matchLabels``; ``namespace``, the release's, when it names none):
    not as the configuration says now (a ``nameOverride`` changed since is not what runs).

    >>> operator_pods('''
    ... kind: Deployment
    ... metadata: {name: mon-operator, namespace: monitoring}
    ... spec:
    ...   selector: {matchLabels: {app: kube-prometheus-stack-operator, release: mon}}
    ...   template: {spec: {containers: [{args: ["--kubelet-service=kube-system/mon-kubelet"]}]}}
    ... ''', "default")
    ('monitoring', 'app=kube-prometheus-stack-operator,release=mon')
    """
    found = _operator(manifest)
    if found is None:
        return None
    doc = found[0]
    labels = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        return None
    where = (doc.get("metadata") or {}).get("namespace") or namespace
    return str(where), ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def is_the_operators(obj: dict[str, Any] | None) -> bool:
    """Whether ``obj`` carries the operator's ``app.kubernetes.io/managed-by: prometheus-operator``."""
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY) == OPERATOR


def delete_line(namespace: str, name: str) -> str:
    """The destroy plan's line for the deletion :func:`delete_kubelet_service` makes."""
    return (f"delete Service '{name}' (namespace '{namespace}') and its Endpoints and EndpointSlices after "
            f"the uninstall: the operator's kubelet Service ({MANAGED_BY}={OPERATOR}), which helm's "
            "uninstall leaves")


def keep_line(namespace: str, name: str) -> str:
    """The destroy plan's line for a Service of the kubelet Service's name that is not the operator's."""
    return (f"keep Service '{name}' (namespace '{namespace}'): named as the operator's kubelet Service but "
            f"without {MANAGED_BY}={OPERATOR}, so not the operator's")


def kubelet_destroy_steps(chart: HelmChart, context: DeployContext) -> list[str]:
    """What a destroy does with the operator's kubelet Service, read from the cluster: one
    :func:`delete_line` when the Service named by the release's manifest is the operator's, one
    :func:`keep_line` when a Service of that name is not; nothing when there is none (or the
    release runs no operator, or ``kubeletService.enabled = false``).

    :raises FirestreamError: helm or kubectl could not read (the plan then says it is not known).
    """
    info = chart.chart_info
    target = kubelet_service(context.helm.get_manifest(info.name, info.namespace_name))
    if target is None:
        return []
    namespace, name = target
    service = context.kubectl.get("service", name, namespace=namespace)
    if service is None:
        return []
    return [delete_line(namespace, name) if is_the_operators(service) else keep_line(namespace, name)]


def release_kubelet_service(
    chart: HelmChart, context: DeployContext,
) -> tuple[tuple[str, str], tuple[str, str] | None] | None:
    """The kubelet Service the destroy plan listed for deletion (``context.planned_steps``) and the
    operator's pods (:func:`operator_pods`), read from the release's manifest while it is
    installed (``pre_exec``); None when the plan listed none."""
    if not any(line.startswith("delete Service '") and f"({MANAGED_BY}={OPERATOR})" in line
               for line in context.planned_steps):
        return None
    info = chart.chart_info
    manifest = context.helm.get_manifest(info.name, info.namespace_name)
    target = kubelet_service(manifest)
    if target is None or delete_line(*target) not in context.planned_steps:
        return None
    return target, operator_pods(manifest, info.namespace_name)


def delete_kubelet_service(context: DeployContext, namespace: str, name: str) -> list[str]:
    """Delete the kubelet Service, its Endpoints and its EndpointSlices, each only when the operator's
    labels are on it (read again now: a Service the user put there since the plan is left). Returns
    what was deleted (``Service/<name>``, ...)."""
    service = context.kubectl.get("service", name, namespace=namespace)
    if not is_the_operators(service):
        context.log.warning("Service '%s' (namespace '%s') is no longer the operator's (%s=%s): kept",
                            name, namespace, MANAGED_BY, OPERATOR)
        return []
    deleted = []
    if context.kubectl.delete("service", name, namespace=namespace):
        deleted.append(f"Service/{name}")
    endpoints = context.kubectl.get("endpoints", name, namespace=namespace)
    if is_the_operators(endpoints) and context.kubectl.delete("endpoints", name, namespace=namespace):
        deleted.append(f"Endpoints/{name}")
    slices = context.kubectl.get("endpointslices.discovery.k8s.io", namespace=namespace,
                                 selector=f"{SLICE_SERVICE}={name}")
    for item in (slices or {}).get("items") or ():
        labels = (item.get("metadata") or {}).get("labels") or {}
        if labels.get(SLICE_MANAGED_BY) != OPERATOR and not is_the_operators(item):
            continue  # Kubernetes' own (its mirroring of the Endpoints goes with them), or another's
        slice_name = item["metadata"]["name"]
        if context.kubectl.delete("endpointslices.discovery.k8s.io", slice_name, namespace=namespace):
            deleted.append(f"EndpointSlice/{slice_name}")
    context.log.info("deleted the operator's kubelet Service '%s' (namespace '%s'): %s",
                     name, namespace, ", ".join(deleted) or "nothing left to delete")
    return deleted
