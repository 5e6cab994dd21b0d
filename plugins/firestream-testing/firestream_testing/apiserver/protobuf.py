"""Decode the few Kubernetes protobuf request bodies clients send.

helm stores releases in Secrets (or ConfigMaps) through client-go typed
clients, which send ``application/vnd.kubernetes.protobuf`` bodies and do not
fall back to JSON. The envelope is ``k8s\\x00`` + a ``runtime.Unknown`` message
(1: TypeMeta{1 apiVersion, 2 kind}, 2: raw bytes of the typed object).
Decoded here: what helm sends (Secret, ConfigMap, Namespace, DeleteOptions)
and what ``kubectl create <kind>`` sends (Deployment, Job, CronJob, Service,
ServiceAccount, Role(Binding), ClusterRole(Binding), PodDisruptionBudget,
Ingress, PriorityClass, ResourceQuota), through a table of field numbers
(:data:`SCHEMAS`) that covers the fields those clients set; other fields are
skipped. Responses are always JSON, which clients accept. Other kinds raise
:class:`ProtobufError` (answered as 415).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from typing import Any

__all__ = ["MAGIC", "ProtobufError", "decode_object"]

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """The body is not a protobuf message this emulator can decode."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, wire, value


def _str(value: bytes) -> str:
    return value.decode("utf-8")


# Message schemas: field number -> (JSON name, type, repeated). Types: "str", "int",
# "int?" / "bool?" (pointer fields: zero values kept), "bool", "bytes" (base64), "time",
# "intstr", "quantity", "map:<type>", a message name, or "inline:<message>" (a Go
# embedded struct: its fields land in the parent object).
Schema = dict[int, tuple[str, str, bool]]


def _f(name: str, kind: str = "str", repeated: bool = False) -> tuple[str, str, bool]:
    return (name, kind, repeated)


SCHEMAS: dict[str, Schema] = {
    "ObjectMeta": {
        1: _f("name"), 2: _f("generateName"), 3: _f("namespace"), 5: _f("uid"),
        6: _f("resourceVersion"), 7: _f("generation", "int"), 8: _f("creationTimestamp", "time"),
        11: _f("labels", "map:str"), 12: _f("annotations", "map:str"),
        13: _f("ownerReferences", "OwnerReference", True), 14: _f("finalizers", "str", True),
    },
    "OwnerReference": {
        1: _f("kind"), 3: _f("name"), 4: _f("uid"), 5: _f("apiVersion"),
        6: _f("controller", "bool?"), 7: _f("blockOwnerDeletion", "bool?"),
    },
    "LabelSelector": {1: _f("matchLabels", "map:str"),
                      2: _f("matchExpressions", "LabelSelectorRequirement", True)},
    "LabelSelectorRequirement": {1: _f("key"), 2: _f("operator"), 3: _f("values", "str", True)},
    "PodTemplateSpec": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "PodSpec")},
    "PodSpec": {
        2: _f("containers", "Container", True), 3: _f("restartPolicy"),
        4: _f("terminationGracePeriodSeconds", "int?"), 5: _f("activeDeadlineSeconds", "int?"),
        6: _f("dnsPolicy"), 7: _f("nodeSelector", "map:str"), 8: _f("serviceAccountName"),
        9: _f("serviceAccount"), 10: _f("nodeName"), 11: _f("hostNetwork", "bool"),
        15: _f("imagePullSecrets", "LocalObjectReference", True), 16: _f("hostname"),
        17: _f("subdomain"), 19: _f("schedulerName"), 20: _f("initContainers", "Container", True),
        21: _f("automountServiceAccountToken", "bool?"), 24: _f("priorityClassName"),
    },
    "Container": {
        1: _f("name"), 2: _f("image"), 3: _f("command", "str", True), 4: _f("args", "str", True),
        5: _f("workingDir"), 6: _f("ports", "ContainerPort", True), 7: _f("env", "EnvVar", True),
        8: _f("resources", "ResourceRequirements"), 9: _f("volumeMounts", "VolumeMount", True),
        13: _f("terminationMessagePath"), 14: _f("imagePullPolicy"), 16: _f("stdin", "bool"),
        17: _f("stdinOnce", "bool"), 18: _f("tty", "bool"), 20: _f("terminationMessagePolicy"),
    },
    "ContainerPort": {1: _f("name"), 2: _f("hostPort", "int"), 3: _f("containerPort", "int"),
                      4: _f("protocol"), 5: _f("hostIP")},
    "EnvVar": {1: _f("name"), 2: _f("value")},
    "VolumeMount": {1: _f("name"), 2: _f("readOnly", "bool"), 3: _f("mountPath"),
                    4: _f("subPath")},
    "ResourceRequirements": {1: _f("limits", "map:quantity"), 2: _f("requests", "map:quantity")},
    "LocalObjectReference": {1: _f("name")},
    "Secret": {1: _f("metadata", "ObjectMeta"), 2: _f("data", "map:bytes"), 3: _f("type"),
               4: _f("stringData", "map:str"), 5: _f("immutable", "bool?")},
    "ConfigMap": {1: _f("metadata", "ObjectMeta"), 2: _f("data", "map:str"),
                  3: _f("binaryData", "map:bytes"), 4: _f("immutable", "bool?")},
    "Namespace": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: _f("finalizers", "str", True)},
    "ServiceAccount": {1: _f("metadata", "ObjectMeta"),
                       2: _f("secrets", "ObjectReference", True),
                       3: _f("imagePullSecrets", "LocalObjectReference", True),
                       4: _f("automountServiceAccountToken", "bool?")},
    "ObjectReference": {1: _f("kind"), 2: _f("namespace"), 3: _f("name"), 4: _f("uid"),
                        5: _f("apiVersion")},
    "Service": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "ServiceSpec")},
    "ServiceSpec": {
        1: _f("ports", "ServicePort", True), 2: _f("selector", "map:str"), 3: _f("clusterIP"),
        4: _f("type"), 5: _f("externalIPs", "str", True), 7: _f("sessionAffinity"),
        8: _f("loadBalancerIP"), 10: _f("externalName"), 11: _f("externalTrafficPolicy"),
        18: _f("clusterIPs", "str", True), 19: _f("ipFamilies", "str", True),
    },
    "ServicePort": {1: _f("name"), 2: _f("protocol"), 3: _f("port", "int"),
                    4: _f("targetPort", "intstr"), 5: _f("nodePort", "int"),
                    6: _f("appProtocol")},
    "Deployment": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "DeploymentSpec")},
    "DeploymentSpec": {
        1: _f("replicas", "int?"), 2: _f("selector", "LabelSelector"),
        3: _f("template", "PodTemplateSpec"), 4: _f("strategy", "DeploymentStrategy"),
        5: _f("minReadySeconds", "int"), 6: _f("revisionHistoryLimit", "int?"),
        7: _f("paused", "bool"), 9: _f("progressDeadlineSeconds", "int?"),
    },
    "DeploymentStrategy": {1: _f("type")},
    "Job": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "JobSpec")},
    "JobSpec": {
        1: _f("parallelism", "int?"), 2: _f("completions", "int?"),
        3: _f("activeDeadlineSeconds", "int?"), 4: _f("selector", "LabelSelector"),
        5: _f("manualSelector", "bool?"), 6: _f("template", "PodTemplateSpec"),
        7: _f("backoffLimit", "int?"), 8: _f("ttlSecondsAfterFinished", "int?"),
        9: _f("completionMode"), 10: _f("suspend", "bool?"),
    },
    "CronJob": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "CronJobSpec")},
    "CronJobSpec": {
        1: _f("schedule"), 2: _f("startingDeadlineSeconds", "int?"), 3: _f("concurrencyPolicy"),
        4: _f("suspend", "bool?"), 5: _f("jobTemplate", "JobTemplateSpec"),
        6: _f("successfulJobsHistoryLimit", "int?"), 7: _f("failedJobsHistoryLimit", "int?"),
        8: _f("timeZone"),
    },
    "JobTemplateSpec": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "JobSpec")},
    "Role": {1: _f("metadata", "ObjectMeta"), 2: _f("rules", "PolicyRule", True)},
    "ClusterRole": {1: _f("metadata", "ObjectMeta"), 2: _f("rules", "PolicyRule", True)},
    "PolicyRule": {1: _f("verbs", "str", True), 2: _f("apiGroups", "str", True),
                   3: _f("resources", "str", True), 4: _f("resourceNames", "str", True),
                   5: _f("nonResourceURLs", "str", True)},
    "RoleBinding": {1: _f("metadata", "ObjectMeta"), 2: _f("subjects", "Subject", True),
                    3: _f("roleRef", "RoleRef")},
    "ClusterRoleBinding": {1: _f("metadata", "ObjectMeta"), 2: _f("subjects", "Subject", True),
                           3: _f("roleRef", "RoleRef")},
    "Subject": {1: _f("kind"), 2: _f("apiGroup"), 3: _f("name"), 4: _f("namespace")},
    "RoleRef": {1: _f("apiGroup"), 2: _f("kind"), 3: _f("name")},
    "PodDisruptionBudget": {1: _f("metadata", "ObjectMeta"),
                            2: _f("spec", "PodDisruptionBudgetSpec")},
    "PodDisruptionBudgetSpec": {1: _f("minAvailable", "intstr"),
                                2: _f("selector", "LabelSelector"),
                                3: _f("maxUnavailable", "intstr"),
                                4: _f("unhealthyPodEvictionPolicy")},
    "Ingress": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "IngressSpec")},
    "IngressSpec": {1: _f("defaultBackend", "IngressBackend"), 2: _f("tls", "IngressTLS", True),
                    3: _f("rules", "IngressRule", True), 4: _f("ingressClassName")},
    "IngressTLS": {1: _f("hosts", "str", True), 2: _f("secretName")},
    "IngressRule": {1: _f("host"), 2: _f("", "inline:IngressRuleValue")},
    "IngressRuleValue": {1: _f("http", "HTTPIngressRuleValue")},
    "HTTPIngressRuleValue": {1: _f("paths", "HTTPIngressPath", True)},
    "HTTPIngressPath": {1: _f("path"), 2: _f("backend", "IngressBackend"), 3: _f("pathType")},
    "IngressBackend": {3: _f("resource", "TypedLocalObjectReference"),
                       4: _f("service", "IngressServiceBackend")},
    "TypedLocalObjectReference": {1: _f("apiGroup"), 2: _f("kind"), 3: _f("name")},
    "IngressServiceBackend": {1: _f("name"), 2: _f("port", "ServiceBackendPort")},
    "ServiceBackendPort": {1: _f("name"), 2: _f("number", "int")},
    "PriorityClass": {1: _f("metadata", "ObjectMeta"), 2: _f("value", "int"),
                      3: _f("globalDefault", "bool"), 4: _f("description"),
                      5: _f("preemptionPolicy")},
    "ResourceQuota": {1: _f("metadata", "ObjectMeta"), 2: _f("spec", "ResourceQuotaSpec")},
    "ResourceQuotaSpec": {1: _f("hard", "map:quantity"), 2: _f("scopes", "str", True)},
    "DeleteOptions": {1: _f("gracePeriodSeconds", "int?"), 2: _f("preconditions", "Preconditions"),
                      3: _f("orphanDependents", "bool?"), 4: _f("propagationPolicy"),
                      5: _f("dryRun", "str", True)},
    "Preconditions": {1: _f("uid"), 2: _f("resourceVersion")},
}


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, value: Any) -> Any:
    """Decode one scalar/message value; ``None`` means "omitted" (Go's omitempty)."""
    if kind == "str":
        return _str(value) or None
    if kind in ("int", "int?"):
        number = _signed(value)
        return number if number or kind == "int?" else None
    if kind in ("bool", "bool?"):
        return bool(value) if value or kind == "bool?" else None
    if kind == "bytes":
        return _b64(value)
    if kind == "time":
        return _time(value) if value else None
    if kind == "quantity":
        return next((_str(v) for n, _, v in _fields(value) if n == 1), "")
    if kind == "intstr":
        f = _group(value)
        if f.get(1, [0])[-1] == 1:
            return _str(f[3][-1]) if 3 in f else ""
        return _signed(f[2][-1]) if 2 in f else 0
    if kind in SCHEMAS:
        return _message(value, kind)
    raise ProtobufError(f"no decoder for the protobuf type {kind!r}")


def _map(entries: list[bytes], kind: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for entry in entries:
        key, val = "", b""
        for number, _, value in _fields(entry):
            if number == 1:
                key = _str(value)
            elif number == 2:
                val = value
        decoded = _scalar(kind, val)
        result[key] = "" if decoded is None and kind == "str" else decoded
    return result


def _message(buf: bytes, schema_name: str) -> dict[str, Any]:
    """Decode a message by its schema; fields the schema does not list are skipped."""
    schema = SCHEMAS[schema_name]
    result: dict[str, Any] = {}
    for number, values in _group(buf).items():
        if number not in schema:
            continue
        name, kind, repeated = schema[number]
        if kind.startswith("inline:"):
            result.update(_message(values[-1], kind.split(":", 1)[1]))
        elif kind.startswith("map:"):
            result[name] = _map(values, kind.split(":", 1)[1])
        elif repeated:
            decoded = [_scalar(kind, v) for v in values]
            result[name] = ["" if d is None else d for d in decoded]
        else:
            value = _scalar(kind, values[-1])
            if value is not None:
                result[name] = value
    return result


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _time(buf: bytes) -> str:
    seconds = 0
    for number, _, value in _fields(buf):
        if number == 1:
            seconds = value
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _group(buf: bytes) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for number, _, value in _fields(buf):
        grouped.setdefault(number, []).append(value)
    return grouped


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\x00``-prefixed protobuf body into the object's JSON form."""
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body without the k8s\\x00 prefix")
    envelope = _group(body[len(MAGIC):])
    type_meta = _group(envelope[1][-1]) if 1 in envelope else {}
    api_version = _str(type_meta[1][-1]) if 1 in type_meta else ""
    kind = _str(type_meta[2][-1]) if 2 in type_meta else ""
    raw = envelope[2][-1] if 2 in envelope else b""
    if kind not in TOP_LEVEL:
        raise ProtobufError(
            f"the emulator decodes protobuf only for {', '.join(sorted(TOP_LEVEL))}, not"
            f" {kind!r}; send JSON (application/json) instead"
        )
    try:
        obj = _message(raw, kind)
    except (IndexError, KeyError, UnicodeDecodeError) as e:
        raise ProtobufError(f"malformed protobuf {kind}: {e}") from e
    obj.setdefault("metadata", {})
    return {"apiVersion": api_version or "v1", "kind": kind, **obj}


TOP_LEVEL = frozenset({
    "ClusterRole", "ClusterRoleBinding", "ConfigMap", "CronJob", "DeleteOptions", "Deployment",
    "Ingress", "Job", "Namespace", "PodDisruptionBudget", "PriorityClass", "ResourceQuota",
    "Role", "RoleBinding", "Secret", "Service", "ServiceAccount",
})
