"""PATCH semantics: strategic merge, JSON merge (RFC 7386), JSON patch (RFC 6902), apply.

Approximations, stated plainly:

* Strategic merge picks list merge keys by *field name* (``containers`` ->
  ``name``, ``ports`` -> ``containerPort`` or ``port`` together with
  ``protocol`` (default TCP), ``volumeMounts`` -> ``mountPath``...), not from
  the Go types' struct tags. Ports are keyed as server-side apply's
  ``listMapKeys`` key them, for strategic merge too (whose ``containerPort``
  -only key merges 53/UDP into 53/TCP: kubernetes issue 39188). ``$patch: delete`` /
  ``replace``, ``$retainKeys`` and ``$deleteFromPrimitiveList/`` are honoured;
  ``$setElementOrder/`` is dropped (order is kept as merged).
* Server-side apply merges the applied configuration like a strategic merge
  and prunes fields the same field manager applied before but no longer
  applies. There are no managedFields, no conflicts between managers and no
  atomic/granular map/list distinctions beyond the merge keys above.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PatchError", "apply_patch", "json_merge_patch", "json_patch", "server_side_apply",
    "strategic_merge_patch",
]

_NAME_KEYED = {
    "containers", "initContainers", "ephemeralContainers", "volumes", "env",
    "imagePullSecrets", "volumeClaimTemplates", "readinessGates", "resourceClaims",
}
_KEYED = {
    "volumeMounts": "mountPath", "volumeDevices": "devicePath", "conditions": "type",
    "hostAliases": "ip", "ownerReferences": "uid", "topologySpreadConstraints": "topologyKey",
}
_MERGED_PRIMITIVES = {"finalizers"}


class PatchError(ValueError):
    """The patch cannot be applied (answered as 422 / 400)."""


def _merge_key(field: str, items: list[Any]) -> tuple[str, ...] | None:
    """The merge key fields of a list field, guessed by the field's name and its items."""
    if field in _NAME_KEYED:
        return ("name",)
    if field == "ports":
        sample = next((i for i in items if isinstance(i, Mapping)), {})
        return ("containerPort" if "containerPort" in sample else "port", "protocol")
    key = _KEYED.get(field)
    return (key,) if key else None


def _ident(item: Any, keys: tuple[str, ...]) -> tuple[Any, ...]:
    """An item's merge-key values (``protocol`` defaults to TCP, as the server fills it in)."""
    if not isinstance(item, Mapping):
        return ()
    return tuple(item.get(k, "TCP" if k == "protocol" else None) for k in keys)


def _strip_directives(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: _strip_directives(v) for k, v in value.items()
            if not (k.startswith("$") or k.startswith("$setElementOrder/"))
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, Mapping) and v.get("$patch") == "delete")]
    return value


def strategic_merge_patch(original: Any, patch: Any) -> Any:
    """Apply a strategic-merge patch; returns a new object."""
    return _smp(copy.deepcopy(original), patch)


def _smp(original: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    if not isinstance(original, dict):
        original = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return None
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for key in list(original):
            if key not in retain and key not in patch:
                del original[key]
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(original.get(field), list):
                original[field] = [v for v in original[field] if v not in value]
            continue
        if key.startswith("$"):
            continue
        if value is None:
            original.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(original.get(key), dict):
            merged = _smp(original[key], value)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list) and isinstance(original.get(key), list):
            original[key] = _merge_list(key, original[key], value)
        else:
            original[key] = _strip_directives(value)
    return original


def _merge_list(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    if field in _MERGED_PRIMITIVES:
        return original + [v for v in patch if v not in original]
    key = _merge_key(field, original + patch)
    if key is None or not all(isinstance(i, Mapping) for i in original + patch):
        return _strip_directives(patch)
    if any(isinstance(i, Mapping) and i.get("$patch") == "replace" for i in patch):
        return _strip_directives([i for i in patch if i.get("$patch") != "replace"])
    result = list(original)
    for item in patch:
        index = next((n for n, o in enumerate(result) if _ident(o, key) == _ident(item, key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = _smp(result[index], item)
    return result


def json_merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new object."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError) as e:
                raise PatchError(f"no list index {part!r}") from e
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            raise PatchError(f"path element {part!r} not found")
    return doc


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent, last = _walk(doc, parts[:-1]), parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                parent.insert(int(last), value)
            except ValueError as e:
                raise PatchError(f"bad list index {last!r}") from e
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError(f"cannot add into a {type(parent).__name__}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent, last = _walk(doc, parts[:-1]), parts[-1]
    try:
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)
    except (ValueError, IndexError, KeyError, AttributeError) as e:
        raise PatchError(f"cannot remove {'/'.join(parts)!r}: not found") from e


def json_patch(original: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch; returns a new object."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(original)
    for op in operations:
        if not isinstance(op, Mapping) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _walk(doc, parts)  # must exist
            if parts:
                _remove(doc, parts)
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, source))
            if kind == "move":
                _remove(doc, source)
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise PatchError(f"test failed at {op['path']!r}")
        else:
            raise PatchError(f"unknown JSON patch op {kind!r}")
    return doc


def _prune(live: Any, before: Any, now: Any) -> None:
    """Drop from ``live`` the fields that ``before`` set and ``now`` no longer sets."""
    if not (isinstance(live, dict) and isinstance(before, Mapping)):
        return
    now = now if isinstance(now, Mapping) else {}
    for key, old in before.items():
        if key not in now:
            live.pop(key, None)
        elif isinstance(old, Mapping):
            _prune(live.get(key), old, now[key])
        elif isinstance(old, list) and isinstance(now[key], list) and isinstance(live.get(key), list):
            mkey = _merge_key(key, old + now[key])
            if mkey is None:
                continue
            kept = {_ident(i, mkey) for i in now[key] if isinstance(i, Mapping)}
            live[key] = [
                i for i in live[key]
                if not (isinstance(i, Mapping) and _ident(i, mkey) not in kept
                        and any(_ident(o, mkey) == _ident(i, mkey) for o in old))
            ]
            for item in live[key]:
                if not isinstance(item, Mapping):
                    continue
                prev = next((o for o in old if _ident(o, mkey) == _ident(item, mkey)), None)
                cur = next((o for o in now[key] if _ident(o, mkey) == _ident(item, mkey)), None)
                if prev is not None and cur is not None:
                    _prune(item, prev, cur)


def server_side_apply(live: Any, applied: Mapping[str, Any], previously_applied: Any) -> Any:
    """Approximate server-side apply of ``applied`` over ``live`` (``None`` if absent)."""
    result = copy.deepcopy(live) if isinstance(live, dict) else {}
    if previously_applied:
        _prune(result, previously_applied, applied)
    return _smp(result, applied)


def apply_patch(content_type: str, live: Any, patch: Any) -> Any:
    """Dispatch a non-apply PATCH by its content type."""
    if content_type == "application/strategic-merge-patch+json":
        if not isinstance(patch, Mapping):
            raise PatchError("a strategic merge patch must be an object")
        return strategic_merge_patch(live, patch)
    if content_type == "application/merge-patch+json":
        return json_merge_patch(live, patch)
    if content_type == "application/json-patch+json":
        return json_patch(live, patch)
    raise PatchError(f"unsupported patch content type {content_type!r}")
