"""The in-memory object store: CRUD, resourceVersions, events, garbage collection.

Objects are kept once per (group, plural), whatever version they were written
in; they are served under any version of their type with ``apiVersion``
rewritten (there is no schema conversion). Every write bumps one global
``resourceVersion`` and emits an :class:`Event` to watchers and listeners.

Semantics kept: ``uid``, ``resourceVersion``, ``generation`` (bumped when
anything but metadata/status changes), ``creationTimestamp``,
``generateName``, optimistic concurrency on PUT, no-op writes that change
nothing, status subresources, finalizers with ``deletionTimestamp``,
ownerReference garbage collection (Background/Foreground delete dependents,
Orphan strips the references), namespace deletion removing its contents, CRDs
becoming Established and served at once. Not kept: admission, validation,
defaulting beyond :mod:`.defaults`, field ownership (managedFields). Validation
is kept for one thing only, immutable fields, as the API server refuses them (422
``Invalid``, its own words): an apps/v1 Deployment's, ReplicaSet's or DaemonSet's
``spec.selector``, and any StatefulSet ``spec`` field but those an update may change.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import itertools
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from firestream_testing.apiserver import patching
from firestream_testing.apiserver.catalog import Catalog, ResourceType
from firestream_testing.apiserver.defaults import apply_defaults
from firestream_testing.apiserver.errors import ApiError, conflict, invalid, not_found

__all__ = ["Event", "Store", "now_iso"]

Obj = dict[str, Any]
ObjKey = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name
Matcher = Callable[[Obj], bool]

_HISTORY = 20000
APPLY = "application/apply-patch+yaml"


def now_iso() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    """One change: ``ADDED``, ``MODIFIED`` or ``DELETED`` of ``obj`` at ``rv``."""

    type: str
    group: str
    plural: str
    obj: Obj
    rv: int

    @property
    def namespace(self) -> str:
        return str(self.obj.get("metadata", {}).get("namespace") or "")


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _clean_input(body: Any, what: str) -> Obj:
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", f"the body of {what} must be a JSON object")
    body = copy.deepcopy(body)
    meta = body.get("metadata")
    if meta is None or not isinstance(meta, dict):
        meta = body["metadata"] = {}
    meta.pop("managedFields", None)
    meta.pop("selfLink", None)
    return body


ANNOTATIONS_LIMIT = 262144
"""The API server's limit on an object's annotations, keys and values together (bytes):
a client-side ``kubectl apply`` of a large CRD fails on it (its
``last-applied-configuration`` annotation holds the whole object)."""


def _check_annotations(kind: str, obj: Obj) -> None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > ANNOTATIONS_LIMIT:
        name = str(obj["metadata"].get("name", ""))
        too_long = f"Too long: must have at most {ANNOTATIONS_LIMIT} bytes"
        raise ApiError(422, "Invalid", f'{kind} "{name}" is invalid: metadata.annotations: {too_long}',
                       {"name": name, "kind": kind, "causes": [
                           {"reason": "FieldValueTooLong", "message": too_long, "field": "metadata.annotations"}]})


_STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                        "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
_STATEFULSET_FORBIDDEN = (
    "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
    "are forbidden")


def _go_selector(selector: Any) -> str:
    """A label selector as the API server prints it in an error (Go's ``%#v``)."""
    sel = selector if isinstance(selector, dict) else {}
    labels = ", ".join(f'"{k}":"{v}"' for k, v in sorted((sel.get("matchLabels") or {}).items()))
    exprs = sel.get("matchExpressions")
    return (f"v1.LabelSelector{{MatchLabels:map[string]string{{{labels}}}, MatchExpressions:"
            + ("[]v1.LabelSelectorRequirement(nil)" if not exprs else f"[]v1.LabelSelectorRequirement{exprs!r}") + "}")


def _check_immutable(rtype: ResourceType, new: Obj, old: Obj) -> None:
    """Refuse an update of an immutable field as the API server does (422 ``Invalid``)."""
    name = str(old["metadata"].get("name", ""))
    kind = f"{rtype.kind}.{rtype.group}" if rtype.group else rtype.kind
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if rtype.group == "rbac.authorization.k8s.io" and rtype.kind in ("RoleBinding", "ClusterRoleBinding"):
        ref, old_ref = new.get("roleRef") or {}, old.get("roleRef") or {}
        if ref != old_ref:  # k8s pkg/apis/rbac/validation ValidateRoleBindingUpdate
            value = (f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup", "")}", Kind:"{ref.get("kind", "")}", '
                     f'Name:"{ref.get("name", "")}"}}')
            raise ApiError(422, "Invalid", f'{kind} "{name}" is invalid: roleRef: Invalid value: {value}: '
                           "cannot change roleRef",
                           {"name": name, "group": rtype.group, "kind": rtype.kind, "causes": [
                               {"reason": "FieldValueInvalid", "message": f"Invalid value: {value}: cannot "
                                "change roleRef", "field": "roleRef"}]})
        return
    if rtype.group == "networking.k8s.io" and rtype.kind == "IngressClass":
        if spec.get("controller") != old_spec.get("controller"):  # ValidateIngressClassUpdate
            raise ApiError(422, "Invalid", f'{kind} "{name}" is invalid: spec.controller: Invalid value: '
                           f'"{spec.get("controller", "")}": field is immutable',
                           {"name": name, "group": rtype.group, "kind": rtype.kind, "causes": [
                               {"reason": "FieldValueInvalid", "message": "Invalid value: field is immutable",
                                "field": "spec.controller"}]})
        return
    if rtype.group != "apps":
        return
    if rtype.kind in ("Deployment", "ReplicaSet", "DaemonSet") and spec.get("selector") != old_spec.get("selector"):
        raise ApiError(422, "Invalid", f'{kind} "{name}" is invalid: spec.selector: Invalid value: '
                       f"{_go_selector(spec.get('selector'))}: field is immutable",
                       {"name": name, "group": rtype.group, "kind": rtype.kind, "causes": [
                           {"reason": "FieldValueInvalid", "message": "Invalid value: field is immutable",
                            "field": "spec.selector"}]})
    if rtype.kind == "StatefulSet":
        def fixed(s: Obj) -> Obj:
            return {k: v for k, v in s.items() if k not in _STATEFULSET_MUTABLE}

        if fixed(spec) != fixed(old_spec):
            raise ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {_STATEFULSET_FORBIDDEN}',
                           {"name": name, "group": rtype.group, "kind": rtype.kind, "causes": [
                               {"reason": "FieldValueForbidden", "message": _STATEFULSET_FORBIDDEN[6:],
                                "field": "spec"}]})


class Store:
    """All objects of the emulated cluster and the stream of their changes."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or Catalog.builtin()
        self._objects: dict[ObjKey, Obj] = {}
        self._uids: dict[str, ObjKey] = {}
        self._rv = 1
        self._history: deque[Event] = deque(maxlen=_HISTORY)
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._listeners: list[Callable[[Event], None]] = []
        self._applied: dict[tuple[ObjKey, str], Obj] = {}
        self._ips = itertools.count(10)
        namespaces = self.catalog.get("", "v1", "namespaces")
        assert namespaces is not None
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(namespaces, None, {"metadata": {"name": name}})

    # -- reading -----------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def _key(self, rtype: ResourceType, namespace: str | None, name: str) -> ObjKey:
        return (rtype.group, rtype.plural, namespace or "" if rtype.namespaced else "", name)

    def view(self, rtype: ResourceType, obj: Obj) -> Obj:
        """A copy of ``obj`` as served under ``rtype``'s version."""
        result = copy.deepcopy(obj)
        result["apiVersion"] = rtype.api_version
        result["kind"] = rtype.kind
        return result

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._objects.get(self._key(rtype, namespace, name))
        if obj is None:
            raise not_found(rtype.plural, name, rtype.group)
        return self.view(rtype, obj)

    def find(self, rtype: ResourceType, namespace: str | None, name: str) -> Obj | None:
        """The stored object itself (not a copy) or ``None``; for the controller."""
        return self._objects.get(self._key(rtype, namespace, name))

    def list_objects(
        self, rtype: ResourceType, namespace: str | None, matchers: Iterable[Matcher] = (),
    ) -> tuple[list[Obj], int]:
        """Objects of a type (in one namespace, or all when ``None``) and the current rv."""
        tests = list(matchers)
        items = [
            self.view(rtype, obj)
            for (group, plural, ns, _), obj in sorted(self._objects.items())
            if group == rtype.group and plural == rtype.plural
            and (not namespace or not rtype.namespaced or ns == namespace)
            and all(test(obj) for test in tests)
        ]
        return items, self._rv

    def by_uid(self, uid: str) -> tuple[ObjKey, Obj] | None:
        key = self._uids.get(uid)
        return (key, self._objects[key]) if key is not None else None

    def objects_of(self, group: str, plural: str, namespace: str | None = None) -> list[Obj]:
        """Stored objects (not copies) of one type; for the controller."""
        return [
            obj for (g, p, ns, _), obj in self._objects.items()
            if g == group and p == plural and (namespace is None or ns == namespace)
        ]

    # -- change notification -----------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)

    def close_watches(self) -> None:
        """Tell every open watch stream to end (on shutdown)."""
        for queue in list(self._subscribers):
            queue.put_nowait(Event("CLOSE", "", "", {}, self._rv))

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` synchronously after every change."""
        self._listeners.append(listener)

    def events_since(self, rv: int) -> list[Event] | None:
        """Events after ``rv``, or ``None`` if they are no longer kept (410 Gone)."""
        if self._history and rv < self._history[0].rv - 1 and len(self._history) == _HISTORY:
            return None
        return [e for e in self._history if e.rv > rv]

    def _emit(self, kind: str, key: ObjKey, obj: Obj) -> None:
        event = Event(kind, key[0], key[1], copy.deepcopy(obj), self._rv)
        self._history.append(event)
        for queue in list(self._subscribers):
            queue.put_nowait(event)
        for listener in list(self._listeners):
            listener(event)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _next_ip(self) -> str:
        n = next(self._ips)
        return f"10.96.{n // 250}.{n % 250 + 1}"

    # -- writing -----------------------------------------------------------------------------

    def create(
        self, rtype: ResourceType, namespace: str | None, body: Any, *, dry_run: bool = False,
    ) -> Obj:
        """POST: create a new object; 409 if it exists, 404 if its namespace does not."""
        obj = _clean_input(body, f"a {rtype.kind}")
        meta = obj["metadata"]
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if namespace and body_ns and body_ns != namespace:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not"
                               " match the namespace sent on the request")
            namespace = namespace or body_ns or "default"
            if ("", "namespaces", "", namespace) not in self._objects:
                raise not_found("namespaces", namespace)
            meta["namespace"] = namespace
        else:
            namespace = ""
            meta.pop("namespace", None)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            else:
                raise invalid(rtype.kind, "", "metadata.name: Required value: name or"
                              " generateName is required")
        name = meta["name"]
        _check_annotations(rtype.kind, obj)
        key = self._key(rtype, namespace, name)
        if key in self._objects:
            what = f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
            raise ApiError(409, "AlreadyExists", f'{what} "{name}" already exists',
                           {"name": name, "group": rtype.group, "kind": rtype.plural})
        if namespace and self._objects[("", "namespaces", "", namespace)]["metadata"].get(
                "deletionTimestamp"):
            raise ApiError(403, "Forbidden", f'{rtype.plural} "{name}" is forbidden: unable to'
                           f" create new content in namespace {namespace} because it is being"
                           " terminated")
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        meta["generation"] = 1
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            meta.pop(transient, None)
        apply_defaults(rtype.group, rtype.kind, obj, None, self._next_ip)
        if rtype.group == "apiextensions.k8s.io" and rtype.kind == "CustomResourceDefinition":
            self._establish_crd(obj)
        if dry_run:
            meta["resourceVersion"] = str(self._rv)
            return self.view(rtype, obj)
        meta["resourceVersion"] = self._next_rv()
        self._objects[key] = obj
        self._uids[meta["uid"]] = key
        if rtype.kind == "CustomResourceDefinition":
            self._serve_crd(obj)
        self._emit("ADDED", key, obj)
        return self.view(rtype, obj)

    def replace(
        self, rtype: ResourceType, namespace: str | None, name: str, body: Any, *,
        subresource: str | None = None, dry_run: bool = False,
    ) -> Obj:
        """PUT: replace the object (or only its status with ``subresource='status'``)."""
        key = self._key(rtype, namespace, name)
        old = self._objects.get(key)
        if old is None:
            raise not_found(rtype.plural, name, rtype.group)
        new = _clean_input(body, f"a {rtype.kind}")
        given_rv = new["metadata"].get("resourceVersion")
        if given_rv and given_rv != old["metadata"]["resourceVersion"]:
            raise conflict(rtype.plural, name, rtype.group)
        return self._update(rtype, key, old, new, subresource=subresource, dry_run=dry_run)

    def patch(
        self, rtype: ResourceType, namespace: str | None, name: str, content_type: str,
        patch: Any, *, subresource: str | None = None, manager: str | None = None,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """PATCH of any type; server-side apply creates missing objects. Returns (obj, created)."""
        key = self._key(rtype, namespace, name)
        old = self._objects.get(key)
        if content_type == APPLY:
            applied = _clean_input(patch, "an apply patch")
            applied["metadata"].setdefault("name", name)
            if applied["metadata"]["name"] != name:
                raise ApiError(400, "BadRequest", "the name of the object"
                               f" ({applied['metadata']['name']}) does not match the name on the"
                               f" URL ({name})")
            manager_key = (key, manager or "")
            if old is None:
                if subresource:
                    raise not_found(rtype.plural, name, rtype.group)
                created = self.create(rtype, namespace, applied, dry_run=dry_run)
                if not dry_run:
                    self._applied[manager_key] = applied
                return created, True
            merged = patching.server_side_apply(old, applied, self._applied.get(manager_key))
            result = self._update(rtype, key, old, merged, subresource=subresource,
                                  dry_run=dry_run)
            if not dry_run:
                self._applied[manager_key] = applied
            return result, False
        if old is None:
            raise not_found(rtype.plural, name, rtype.group)
        try:
            new = patching.apply_patch(content_type, old, patch)
        except patching.PatchError as e:
            raise ApiError(422, "Invalid", f"the patch cannot be applied: {e}") from e
        return self._update(rtype, key, old, new, subresource=subresource, dry_run=dry_run), False

    def write_status(self, rtype: ResourceType, obj: Obj, status: Obj) -> None:
        """Controller write: replace the status of a stored object (no rv check)."""
        key = self._key(rtype, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        old = self._objects.get(key)
        if old is not None:
            new = copy.deepcopy(old)
            new["status"] = status
            self._update(rtype, key, old, new, subresource="status")

    def write(self, rtype: ResourceType, obj: Obj) -> None:
        """Controller write: replace a stored object's main part (no rv check)."""
        key = self._key(rtype, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        old = self._objects.get(key)
        if old is not None:
            self._update(rtype, key, old, copy.deepcopy(obj))

    def _update(
        self, rtype: ResourceType, key: ObjKey, old: Obj, new: Obj, *,
        subresource: str | None = None, dry_run: bool = False,
    ) -> Obj:
        has_status = "status" in rtype.subresources
        if subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
        elif subresource:
            raise ApiError(405, "MethodNotAllowed",
                           f"the emulator does not write {rtype.plural}/{subresource}")
        else:
            if has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            new.setdefault("metadata", {})
            _check_annotations(rtype.kind, new)
            meta, old_meta = new["metadata"], old["metadata"]
            for fixed in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"):
                if fixed in old_meta:
                    meta[fixed] = old_meta[fixed]
                else:
                    meta.pop(fixed, None)
            if old_meta.get("deletionTimestamp"):
                # Finalizers may only be removed from an object being deleted.
                meta["finalizers"] = [f for f in meta.get("finalizers") or []
                                      if f in (old_meta.get("finalizers") or [])]
            new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
            apply_defaults(rtype.group, rtype.kind, new, old, self._next_ip)
            _check_immutable(rtype, new, old)
            if rtype.kind == "CustomResourceDefinition":
                self._establish_crd(new)
            if _spec_part(new) != _spec_part(old):
                meta["generation"] = int(old_meta.get("generation") or 1) + 1
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old or dry_run:
            return self.view(rtype, new)
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._objects[key] = new
        if rtype.kind == "CustomResourceDefinition" and rtype.group == "apiextensions.k8s.io":
            self._serve_crd(new)
        self._emit("MODIFIED", key, new)
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(key, "Background")
        return self.view(rtype, new)

    def delete(
        self, rtype: ResourceType, namespace: str | None, name: str, *,
        propagation: str | None = None, preconditions: Obj | None = None, dry_run: bool = False,
    ) -> Obj:
        """DELETE: remove the object (or mark it if it has finalizers); collect dependents."""
        key = self._key(rtype, namespace, name)
        obj = self._objects.get(key)
        if obj is None:
            raise not_found(rtype.plural, name, rtype.group)
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
            raise conflict(rtype.plural, name, rtype.group)
        if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
            raise conflict(rtype.plural, name, rtype.group)
        if dry_run:
            return self.view(rtype, obj)
        meta = obj["metadata"]
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                marked = copy.deepcopy(obj)
                marked["metadata"]["deletionTimestamp"] = now_iso()
                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                marked["metadata"]["resourceVersion"] = self._next_rv()
                self._objects[key] = marked
                self._emit("MODIFIED", key, marked)
                return self.view(rtype, marked)
            return self.view(rtype, obj)
        last = self._remove(key, propagation or "Background")
        return self.view(rtype, last)

    def _remove(self, key: ObjKey, propagation: str) -> Obj:
        """Drop an object for good, emit DELETED, then garbage-collect what hangs on it."""
        obj = self._objects.pop(key)
        uid = obj["metadata"]["uid"]
        self._uids.pop(uid, None)
        for manager_key in [k for k in self._applied if k[0] == key]:
            del self._applied[manager_key]
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._emit("DELETED", key, obj)
        group, plural, _, name = key
        if (group, plural) == ("", "namespaces"):
            for other in [k for k in self._objects if k[2] == name and k in self._objects]:
                if other in self._objects:
                    self._remove(other, "Background")
        if (group, plural) == ("apiextensions.k8s.io", "customresourcedefinitions"):
            for rtype in self.catalog.remove_crd(name):
                for other in [k for k in self._objects if k[:2] == (rtype.group, rtype.plural)]:
                    if other in self._objects:
                        self._remove(other, "Background")
        self._collect_dependents(uid, propagation)
        return obj

    def _collect_dependents(self, owner_uid: str, propagation: str) -> None:
        for key in list(self._objects):
            obj = self._objects.get(key)
            if obj is None:
                continue
            refs = obj["metadata"].get("ownerReferences") or []
            if not any(ref.get("uid") == owner_uid for ref in refs):
                continue
            if propagation == "Orphan":
                orphan = copy.deepcopy(obj)
                orphan["metadata"]["ownerReferences"] = [
                    ref for ref in refs if ref.get("uid") != owner_uid]
                orphan["metadata"]["resourceVersion"] = self._next_rv()
                self._objects[key] = orphan
                self._emit("MODIFIED", key, orphan)
            elif obj["metadata"].get("finalizers"):
                if not obj["metadata"].get("deletionTimestamp"):
                    marked = copy.deepcopy(obj)
                    marked["metadata"]["deletionTimestamp"] = now_iso()
                    marked["metadata"]["resourceVersion"] = self._next_rv()
                    self._objects[key] = marked
                    self._emit("MODIFIED", key, marked)
            else:
                self._remove(key, propagation)

    # -- CRDs --------------------------------------------------------------------------------

    def _establish_crd(self, crd: Obj) -> None:
        """Accept the names and mark the CRD Established (synchronously)."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        if not names.get("plural") or not names.get("kind") or not spec.get("group"):
            raise invalid("CustomResourceDefinition", crd["metadata"].get("name", ""),
                          "spec.group, spec.names.plural and spec.names.kind are required")
        expected = f"{names['plural']}.{spec['group']}"
        if crd["metadata"]["name"] != expected:
            raise invalid("CustomResourceDefinition", crd["metadata"]["name"],
                          f"metadata.name: Invalid value: must be spec.names.plural+\".\"+"
                          f"spec.group ({expected})")
        accepted = dict(names)
        accepted.setdefault("singular", names["kind"].lower())
        accepted.setdefault("listKind", f"{names['kind']}List")
        now = now_iso()
        crd["status"] = {
            "acceptedNames": accepted,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": now},
            ],
            "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
        }

    def _serve_crd(self, crd: Obj) -> None:
        spec = crd["spec"]
        names = spec["names"]
        name = crd["metadata"]["name"]
        self.catalog.remove_crd(name)
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            subresources = tuple(sorted((version.get("subresources") or {}).keys()))
            self.catalog.add(ResourceType(
                group=spec["group"], version=version["name"], plural=names["plural"],
                kind=names["kind"], namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subresources, from_crd=name,
            ))
