"""Fixtures for the tests of the chart-author helpers: an in-memory ``Kubectl``.

``FakeKubectl`` is a small in-memory stand-in for ``Kubectl``.

It answers ``get`` like the real layer (None for a missing object or kind,
``{"kind": "List", "items": [...]}`` without a name, equality label
selectors), records ``apply_server_side`` and ``delete`` calls, and can be
told to fail.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import attrs
import pytest


def _selected(obj: Mapping[str, Any], selector: str | None) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


@attrs.define
class FakeKubectl:
    objects: dict[tuple[str, str | None, str], dict[str, Any]] = attrs.field(factory=dict)
    applied: list[Any] = attrs.field(factory=list)
    deleted: list[tuple[str, str, str | None]] = attrs.field(factory=list)
    fail_with: BaseException | None = None

    def add(self, kind: str, obj: dict[str, Any], namespace: str | None = None) -> None:
        meta = obj.setdefault("metadata", {})
        if namespace is not None:
            meta["namespace"] = namespace
        self.objects[(kind, meta.get("namespace"), meta["name"])] = obj

    def get(
        self,
        kind: str,
        name: str | None = None,
        *,
        namespace: str | None = None,
        selector: str | None = None,
        all_namespaces: bool = False,
    ) -> dict[str, Any] | None:
        if self.fail_with is not None:
            raise self.fail_with
        if name is not None:
            obj = self.objects.get((kind, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None
        items = [
            copy.deepcopy(o)
            for (k, ns, _), o in sorted(self.objects.items(), key=lambda kv: kv[0][2])
            if k == kind and (all_namespaces or ns == namespace) and _selected(o, selector)
        ]
        return {"kind": "List", "items": items}

    def apply_server_side(self, manifests: Any, *, namespace: str | None = None, **_: Any) -> list[str]:
        self.applied.append(copy.deepcopy(manifests))
        if isinstance(manifests, Mapping):
            kind = str(manifests["kind"]).lower()
            meta = manifests["metadata"]
            self.add(kind, copy.deepcopy(dict(manifests)), meta.get("namespace") or namespace)
            return [f"{kind}/{meta['name']}"]
        return []

    def delete(self, kind: str, name: str, *, namespace: str | None = None, **_: Any) -> bool:
        self.deleted.append((kind, name, namespace))
        return self.objects.pop((kind, namespace, name), None) is not None


@pytest.fixture
def fake_kube() -> FakeKubectl:
    """An empty in-memory cluster (not the test kit's emulated one, ``kube``)."""
    return FakeKubectl()
