"""One JSON shape for every read command's ``--json`` (plan, status, state, diff, drift,
graph, validate, plugins).

Every document is an object::

    {"schema_version": 1, "command": "plan", ..., "releases": [
        {"key": "shop/api", "name": "api", "namespace": "shop", ...}, ...]}

``releases`` is always there (empty for ``plugins``); each entry carries
``key`` (``namespace/name``, the state file's key), ``name`` and
``namespace``, then the command's own fields. :data:`SCHEMA` is the JSON
Schema of that envelope (docs/cli.md shows it; the tests validate every
command's output against it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

SCHEMA_VERSION = 1

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "firestream read command output",
    "type": "object",
    "required": ["schema_version", "command", "releases"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "command": {"enum": ["plan", "status", "state", "diff", "drift", "graph", "validate", "plugins"]},
        "releases": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "name", "namespace"],
                "properties": {
                    "key": {"type": "string", "pattern": "^[^/]+/[^/]+$"},
                    "name": {"type": "string", "minLength": 1},
                    "namespace": {"type": "string", "minLength": 1},
                },
            },
        },
    },
}
"""The JSON Schema (2020-12) every read command's ``--json`` output satisfies."""


def release_entry(item: Mapping[str, Any]) -> dict[str, Any]:
    """``item`` (a ``to_dict()`` naming its release ``release`` or ``name``, or a state key
    ``namespace/name``) with ``key``, ``name`` and ``namespace`` first."""
    rest = dict(item)
    name = rest.pop("release", None) or rest.pop("name", None)
    namespace = rest.pop("namespace", None)
    if namespace is None and isinstance(name, str) and "/" in name:  # a state key
        namespace, name = name.split("/", 1)
    rest.pop("key", None)
    return {"key": f"{namespace}/{name}", "name": name, "namespace": namespace, **rest}


def document(command: str, releases: Iterable[Mapping[str, Any]], **fields: Any) -> dict[str, Any]:
    """The envelope: ``schema_version``, ``command``, the command's ``fields``, ``releases``."""
    return {"schema_version": SCHEMA_VERSION, "command": command, **fields,
            "releases": [release_entry(r) for r in releases]}


def dumps(command: str, releases: Iterable[Mapping[str, Any]], **fields: Any) -> str:
    """:func:`document` as indented JSON."""
    return json.dumps(document(command, releases, **fields), indent=2)
