"""API discovery documents: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<g>[/<v>]``.

Only the legacy (non-aggregated) discovery format is served; clients asking
for the aggregated ``apidiscovery.k8s.io`` format fall back to it because the
answer is plain ``application/json``.
"""

from __future__ import annotations

from typing import Any

from firestream_testing.apiserver.catalog import Catalog, ResourceType

__all__ = ["api_group", "api_group_list", "api_resource_list", "api_versions", "server_version"]

KUBERNETES_VERSION = ("1", "34", "v1.34.0-firestream-emulator")


def server_version() -> dict[str, Any]:
    major, minor, git = KUBERNETES_VERSION
    return {
        "major": major, "minor": minor, "gitVersion": git, "gitCommit": "0" * 40,
        "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24",
        "compiler": "gc", "platform": "linux/amd64",
    }


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group_doc(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(catalog: Catalog) -> dict[str, Any]:
    return {
        "kind": "APIGroupList", "apiVersion": "v1",
        "groups": [_group_doc(g, vs) for g, vs in catalog.groups().items()],
    }


def api_group(catalog: Catalog, group: str) -> dict[str, Any] | None:
    versions = catalog.groups().get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def _resource_entries(rtype: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rtype.plural, "singularName": rtype.singular, "namespaced": rtype.namespaced,
        "kind": rtype.kind, "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        main["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        main["categories"] = list(rtype.categories)
    entries = [main]
    for sub in rtype.subresources:
        kind = {"scale": "Scale"}.get(sub, rtype.kind)
        verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
        entries.append({"name": f"{rtype.plural}/{sub}", "singularName": "",
                        "namespaced": rtype.namespaced, "kind": kind, "verbs": verbs})
    return entries


def api_resource_list(catalog: Catalog, group: str, version: str) -> dict[str, Any] | None:
    types = catalog.in_group_version(group, version)
    if not types and group:
        return None
    return {
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for rtype in types for entry in _resource_entries(rtype)],
    }
