"""Permissive OpenAPI v3 documents, one per group-version, and the v3 index.

helm and kubectl fetch ``/openapi/v3`` to validate objects client-side and to
check that PATCH accepts ``fieldValidation``. Every kind gets a schema that
accepts any object (``x-kubernetes-preserve-unknown-fields``) tagged with its
``x-kubernetes-group-version-kind``, and every resource path declares the
usual query parameters. Nothing is actually validated. ``/openapi/v2`` is an
empty document (no definitions): clients use v3, but kubectl's validation (and
helm's, which is kubectl's) reads v2 for a ``kind: List`` document
(kube-prometheus-stack's additionalPrometheusRules), and a kind v2 does not
define is not validated.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from firestream_testing.apiserver.catalog import Catalog, ResourceType

__all__ = ["V2_CONTENT_TYPE", "gv_document", "gv_path", "v2_document", "v3_index"]

V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
"""The answer's type, as kube-apiserver writes it (client-go asks for ``...spec.v2@v1.0+protobuf``,
which Go's media type parser refuses in an answer)."""


def _pb_string(field: int, text: str) -> bytes:
    data = text.encode()
    return bytes([field << 3 | 2, len(data)]) + data


def v2_document() -> bytes:
    """``/openapi/v2``: gnostic's ``openapi_v2.Document`` in protobuf, ``swagger: "2.0"`` and an
    ``info`` (title, version), nothing else: no kind has a schema, so none is validated."""
    info = _pb_string(1, "Kubernetes (firestream emulator)") + _pb_string(2, "v1.34.0")
    return _pb_string(1, "2.0") + bytes([2 << 3 | 2, len(info)]) + info

_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def gv_path(group: str, version: str) -> str:
    """``api/v1`` or ``apis/<group>/<version>`` (the keys of the v3 index)."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(rtype: ResourceType) -> str:
    group = rtype.group or "core"
    return f"io.k8s.emulated.{group}.{rtype.version}.{rtype.kind}"


def _gvk(rtype: ResourceType) -> dict[str, str]:
    return {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}


def _operation(rtype: ResourceType, action: str, params: tuple[str, ...] = ()) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{_schema_name(rtype)}"}
    op: dict[str, Any] = {
        "operationId": f"{action}{rtype.kind}",
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string"}} for p in params],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rtype),
    }
    if action in ("post", "put", "patch"):
        types = ["application/json"] if action != "patch" else [
            "application/apply-patch+yaml", "application/json-patch+json",
            "application/merge-patch+json", "application/strategic-merge-patch+json"]
        op["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in types}}
    return op


def gv_document(catalog: Catalog, group: str, version: str) -> dict[str, Any] | None:
    types = [t for t in catalog.in_group_version(group, version)]
    if not types and group:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for rtype in types:
        schemas[_schema_name(rtype)] = {
            "type": "object",
            "description": f"{rtype.kind} (emulated: any content is accepted)",
            "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
            "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [_gvk(rtype)],
        }
        base = f"{prefix}/namespaces/{{namespace}}/{rtype.plural}" if rtype.namespaced \
            else f"{prefix}/{rtype.plural}"
        paths[base] = {
            "get": _operation(rtype, "list"),
            "post": _operation(rtype, "post", _PARAMS),
        }
        paths[f"{base}/{{name}}"] = {
            "get": _operation(rtype, "get"),
            "put": _operation(rtype, "put", _PARAMS),
            "patch": _operation(rtype, "patch", _PARAMS),
            "delete": _operation(rtype, "delete", ("dryRun",)),
        }
        if "status" in rtype.subresources:
            paths[f"{base}/{{name}}/status"] = {
                "get": _operation(rtype, "get"),
                "put": _operation(rtype, "put", _PARAMS),
                "patch": _operation(rtype, "patch", _PARAMS),
            }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (firestream emulator)", "version": "v1.34.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def v3_index(catalog: Catalog) -> dict[str, Any]:
    """``/openapi/v3``: each group-version with a URL whose ``hash`` changes with content."""
    gvs = {("", "v1")} | {(t.group, t.version) for t in catalog}
    paths: dict[str, Any] = {}
    for group, version in sorted(gvs):
        doc = gv_document(catalog, group, version)
        if doc is not None:
            path = gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={_digest(doc)}"}
    return {"paths": paths}
