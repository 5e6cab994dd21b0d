"""Rendered manifests as objects: splitting, identifying, masking.

Shared by ``diff``, ``drift``, ``hookinfo`` and ``template``. A rendered manifest (``helm
template`` / ``helm get manifest`` output) is split on its ``---`` lines;
each document keeps helm's ``# Source: chart/templates/x.yaml`` comment so
objects of a chart's ``crds/`` folder can be told apart.

Masking: nothing that leaves these modules may hold a Secret's data or a
sensitive value (docs/secrets.md). :func:`mask_object` replaces every
``data`` / ``stringData`` value of a Secret, and every string that contains
a sensitive value the redactor knows, by :data:`HIDDEN`; ordinary values
stay in clear. Given the object's counterpart (the other side of a diff) it
hides a field on both sides when either side is sensitive (the other side's
value may be one no redactor knows: too short to be matched as text, or a
rotated secret), and writes :data:`HIDDEN_CHANGED` where the hidden values
differ, so a reader sees *that* a key changed, never *what* it holds. Lists
are paired as kubectl merges them (:data:`MERGE_KEYS`, shared with drift).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = [
    "HIDDEN",
    "HIDDEN_CHANGED",
    "MERGE_KEYS",
    "STATEFULSET_MUTABLE",
    "ImmutableChange",
    "ManifestObject",
    "ObjectKey",
    "POD_FREE_KINDS",
    "api_group",
    "crds_deleted",
    "crds_provided",
    "immutable_changes",
    "immutable_way_on",
    "is_builtin_group",
    "is_secret",
    "mask_manifest",
    "mask_object",
    "merge_key",
    "namespaces_used",
    "merge_keys",
    "pair_by_key",
    "read_workloads",
    "split_manifest",
]

HIDDEN = "<hidden>"
"""Shown instead of a Secret's data value or a sensitive value."""

HIDDEN_CHANGED = "<hidden, changed>"
"""Shown on the new side when the hidden value differs from the old side's."""

_MISSING = object()
_SOURCE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$", re.M)
_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.M)


def api_group(api_version: str) -> str:
    """``apps/v1`` -> ``apps``; ``v1`` -> ``""`` (the core group)."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def is_builtin_group(group: str) -> bool:
    """True for Kubernetes' own API groups (core, ``apps``, ``*.k8s.io``...), which every cluster serves."""
    return "." not in group or group.endswith(".k8s.io")


@attrs.frozen(order=True)
class ObjectKey:
    """Identifies one object across versions: group, kind, namespace (``""``: cluster-scoped), name."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f" (namespace {self.namespace})" if self.namespace else ""
        return f"{kind}/{self.name}{where}"

    @property
    def short(self) -> str:
        """``Kind/name``."""
        return f"{self.kind}/{self.name}"


@attrs.frozen
class ManifestObject:
    """One document of a rendered manifest.

    :ivar obj: the parsed object.
    :ivar source: helm's ``# Source:`` path (``chart/templates/x.yaml``), or ``""``.
    """

    obj: Mapping[str, Any]
    source: str = ""

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion") or "")

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    @property
    def annotations(self) -> Mapping[str, Any]:
        return (self.obj.get("metadata") or {}).get("annotations") or {}

    @property
    def from_crds_folder(self) -> bool:
        """A CRD of the ``crds/`` folder of the chart or of a subchart (never upgraded, never part
        of the release's manifest).

        helm names such a file ``<chart>/crds/...`` (``<chart>/charts/<sub>/crds/...`` for a
        subchart's); a template is ``<chart>/templates/...``, wherever it sits below
        (bitnami/external-dns's ``templates/crds/crd.yaml`` is a template: helm installs,
        upgrades and deletes it with the release), and a subchart *called* ``crds``
        (kube-prometheus-stack's) is told from the folder by its ``charts/`` parent.

        >>> [ManifestObject({}, s).from_crds_folder for s in (
        ...     "kps/crds/crd.yaml", "kps/charts/crds/crds/crd-probes.yaml", "kps/charts/crds/templates/upgrade/job.yaml",
        ...     "external-dns/templates/crds/crd.yaml", "app/crds/nested/x.yaml", "")]
        [True, True, False, False, True, False]
        """
        parts = self.source.split("/")
        i = 1
        while i + 2 < len(parts) and parts[i] == "charts":
            i += 2
        return i < len(parts) - 1 and parts[i] == "crds"

    @property
    def hook_events(self) -> tuple[str, ...]:
        """The ``helm.sh/hook`` events of this object (empty: not a hook)."""
        raw = self.annotations.get("helm.sh/hook")
        if not raw:
            return ()
        return tuple(e.strip() for e in str(raw).split(",") if e.strip())

    @property
    def is_hook(self) -> bool:
        return bool(self.hook_events)

    def key(self, default_namespace: str = "", cluster_scoped: Iterable[str] = ()) -> ObjectKey:
        """Its :class:`ObjectKey`; objects without a namespace get ``default_namespace``
        unless their kind is cluster-scoped (Namespace, CRD, ClusterRole... and ``cluster_scoped``)."""
        meta = self.obj.get("metadata") or {}
        ns = str(meta.get("namespace") or "")
        if self.kind in _CLUSTER_SCOPED or self.kind in set(cluster_scoped):
            ns = ""
        elif not ns:
            ns = default_namespace
        return ObjectKey(api_group(self.api_version), self.kind, ns, self.name)


_CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleBinding", "StorageClass", "PriorityClass", "IngressClass", "RuntimeClass",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService",
    "CSIDriver", "CSINode", "VolumeAttachment", "PodSecurityPolicy", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "FlowSchema", "PriorityLevelConfiguration",
    "CertificateSigningRequest",
})


def split_manifest(text: str) -> list[ManifestObject]:
    """The objects of a rendered manifest, in order (empty documents and ``List`` wrappers unpacked)."""
    # imported here: PyYAML only when a manifest is read ("firestream plugins" stays light)
    from firestream_core.tools import kube_yaml

    out: list[ManifestObject] = []
    source = ""
    for chunk in _SEPARATOR.split(text or ""):
        if not chunk.strip():
            continue
        # helm writes "# Source:" once per template file; a file holding several documents
        # (or starting with comments and its own "---", as upstream CRD files do) keeps it
        m = _SOURCE.search(chunk)
        if m:
            source = m.group(1)
        try:
            docs = list(kube_yaml.load_all(chunk))
        except kube_yaml.YAMLError:
            raise ValueError(f"the rendered manifest of {source or 'a template'} is not valid YAML") from None
        for doc in docs:
            if not isinstance(doc, Mapping):
                continue
            if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
                out.extend(ManifestObject(i, source) for i in doc["items"] if isinstance(i, Mapping))
            else:
                out.append(ManifestObject(doc, source))
    return out


WORKLOAD_KINDS = frozenset({("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
                            ("batch", "Job")})
"""The kinds whose pods a release waits for (hooks excluded: helm runs and deletes those)."""


POD_FREE_KINDS = frozenset({
    ("", "ConfigMap"), ("", "Secret"), ("", "Service"), ("", "ServiceAccount"), ("", "Endpoints"),
    ("", "PersistentVolumeClaim"), ("", "PersistentVolume"), ("", "Namespace"), ("", "LimitRange"),
    ("", "ResourceQuota"),
    ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("networking.k8s.io", "Ingress"), ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "NetworkPolicy"), ("discovery.k8s.io", "EndpointSlice"),
    ("policy", "PodDisruptionBudget"), ("autoscaling", "HorizontalPodAutoscaler"),
    ("storage.k8s.io", "StorageClass"), ("scheduling.k8s.io", "PriorityClass"),
    ("coordination.k8s.io", "Lease"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"),
})
"""Built-in kinds that never run pods, directly or through a controller. A custom resource is
never among them: an operator may run pods for it (Strimzi's ``Kafka``), labelled as the release."""


def read_workloads(manifest: str, namespace: str) -> tuple[tuple[tuple[str, str, str], ...], bool]:
    """``(workloads, pod_free)`` of a release's manifest, read in one pass.

    ``workloads``: the Deployments, StatefulSets, DaemonSets and Jobs that are not hooks, as
    sorted ``(kind, namespace, name)``, in whatever namespace they name (``namespace`` for
    those naming none); ``pod_free`` is true when no object but hooks is of a kind that may
    run pods (every one is in :data:`POD_FREE_KINDS`): no pod can be the release's, so there
    is none to wait for.

    >>> read_workloads("kind: ConfigMap\\napiVersion: v1\\nmetadata: {name: c}", "ns")
    ((), True)
    >>> read_workloads("kind: Kafka\\napiVersion: kafka.strimzi.io/v1beta2\\nmetadata: {name: k}", "ns")
    ((), False)
    """
    found = set()
    pod_free = True
    for o in split_manifest(manifest):
        if o.is_hook:
            continue
        kind = (api_group(o.api_version), o.kind)
        if kind in POD_FREE_KINDS:
            continue
        pod_free = False
        if kind in WORKLOAD_KINDS:
            key = o.key(namespace)
            found.add((key.kind, key.namespace, key.name))
    return tuple(sorted(found)), pod_free


def crds_provided(objects: Iterable[ManifestObject]) -> dict[tuple[str, str], str]:
    """(group, kind) -> CRD name, for every CustomResourceDefinition among ``objects``.

    >>> crd = ManifestObject({"kind": "CustomResourceDefinition", "metadata": {"name": "widgets.x.dev"},
    ...                       "spec": {"group": "x.dev", "names": {"kind": "Widget"}}})
    >>> crds_provided([crd])
    {('x.dev', 'Widget'): 'widgets.x.dev'}
    """
    out: dict[tuple[str, str], str] = {}
    for o in objects:
        if o.kind != "CustomResourceDefinition":
            continue
        spec = o.obj.get("spec") or {}
        group = str(spec.get("group") or "")
        kind = str((spec.get("names") or {}).get("kind") or "")
        if group and kind:
            out[(group, kind)] = o.name
    return out


def crds_deleted(current: Iterable[ManifestObject], desired: Iterable[ManifestObject] = ()) -> list[str]:
    """What deleting the CRDs of ``current`` that ``desired`` no longer holds deletes, one line each.

    A CRD a chart renders as a template (bitnami/external-dns's ``DNSEndpoint`` with
    ``crd.create``) is part of the release: helm deletes it when an upgrade stops rendering it
    and on uninstall (``desired`` empty), and the API server deletes every object of its kind,
    in every namespace, with it. One with ``helm.sh/resource-policy: keep`` stays, as do hooks
    and the ``crds/`` folder (never in a release's manifest).

    >>> crd = ManifestObject({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    ...                       "metadata": {"name": "dnsendpoints.externaldns.k8s.io"},
    ...                       "spec": {"group": "externaldns.k8s.io", "names": {"kind": "DNSEndpoint"}}})
    >>> crds_deleted([crd])
    ['helm deletes CRD dnsendpoints.externaldns.k8s.io (a template of the chart): every DNSEndpoint in every namespace goes with it']
    """
    kept = {o.name for o in desired if o.kind == "CustomResourceDefinition" and not o.is_hook}
    out = []
    for o in current:
        if o.kind != "CustomResourceDefinition" or o.is_hook or o.from_crds_folder or o.name in kept:
            continue
        if str(o.annotations.get("helm.sh/resource-policy", "")).strip() == "keep":
            continue
        kind = str(((o.obj.get("spec") or {}).get("names") or {}).get("kind") or "") or "object of its kind"
        out.append(f"helm deletes CRD {o.name} (a template of the chart): every {kind} in every namespace "
                   "goes with it")
    return out


def namespaces_used(objects: Iterable[ManifestObject], namespace: str) -> dict[str, tuple[ObjectKey, ...]]:
    r"""The namespaces other than the release's ``namespace`` that a rendering puts objects in,
    hooks included: namespace -> the objects there, in manifest order.

    helm creates only the release's namespace (``--create-namespace``): an object naming
    another (kube-prometheus-stack's ``namespaceOverride``, strimzi's ``watchNamespaces``
    RoleBindings) fails when that namespace does not exist. Cluster-scoped objects (the known
    kinds, and those whose CRD the rendering holds with ``scope: Cluster``) are left out, and
    so are the namespaces the rendering creates itself (a ``Namespace`` object: helm creates
    it first).

    >>> from firestream_core.tools.manifests import split_manifest
    >>> objs = split_manifest("kind: Service\nmetadata: {name: a, namespace: kube-system}\n---\n"
    ...                       "kind: ConfigMap\nmetadata: {name: b}\n")
    >>> {ns: [k.short for k in keys] for ns, keys in namespaces_used(objs, "mon").items()}
    {'kube-system': ['Service/a']}
    """
    objects = list(objects)
    cluster_scoped = {str(((o.obj.get("spec") or {}).get("names") or {}).get("kind") or "")
                      for o in objects
                      if o.kind == "CustomResourceDefinition" and (o.obj.get("spec") or {}).get("scope") == "Cluster"}
    created = {o.name for o in objects if o.kind == "Namespace" and api_group(o.api_version) == ""}
    found: dict[str, list[ObjectKey]] = {}
    for o in objects:
        key = o.key(namespace, cluster_scoped)
        if key.namespace and key.namespace != namespace and key.namespace not in created:
            found.setdefault(key.namespace, []).append(key)
    return {ns: tuple(keys) for ns, keys in found.items()}


# -- masking ---------------------------------------------------------------------------------


def _is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and api_group(str(obj.get("apiVersion") or "")) == ""


def is_secret(obj: Any) -> bool:
    """True for a core Secret: its ``data`` / ``stringData`` are sensitive (docs/secrets.md)."""
    return isinstance(obj, Mapping) and _is_secret(obj)


def secret_data(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's ``data`` (decoded) and ``stringData`` (encoded) as key -> bytes, as the API stores them."""
    out: dict[str, bytes] = {}
    for k, v in (obj.get("data") or {}).items():
        try:
            out[str(k)] = base64.b64decode(str(v or ""), validate=False)
        except (ValueError, TypeError):
            out[str(k)] = str(v).encode()
    for k, v in (obj.get("stringData") or {}).items():
        out[str(k)] = ("" if v is None else str(v)).encode()
    return out


def mask_manifest(text: str, redactor: Any = None) -> str:
    r"""A rendered manifest as ``template`` prints it: every Secret's ``data`` / ``stringData``
    value replaced by :data:`HIDDEN`, and every value ``redactor`` knows, or a Secret holds,
    replaced wherever else it shows (by the redactor's :data:`~firestream_core.tools.redact.MASK`).

    Everything else is the text helm wrote, byte for byte: the documents without a Secret,
    the ``---`` lines and the ``# Source:`` comments; a document holding a Secret is written
    again from its masked object (its comments kept). A document that does not parse is kept
    as written and only redacted. ``redactor`` is not changed (a copy learns the Secrets'
    values).

    >>> text = "---\n# Source: db/templates/secret.yaml\napiVersion: v1\nkind: Secret\n" \
    ...        "metadata:\n  name: db\nstringData:\n  password: hunter2hunter2\n" \
    ...        "---\n# Source: db/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\n" \
    ...        "metadata:\n  name: db\ndata:\n  dsn: postgres://app:hunter2hunter2@db/app\n"
    >>> print(mask_manifest(text))
    ---
    # Source: db/templates/secret.yaml
    apiVersion: v1
    kind: Secret
    metadata:
      name: db
    stringData:
      password: <hidden>
    ---
    # Source: db/templates/cm.yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: db
    data:
      dsn: postgres://app:***@db/app
    <BLANKLINE>
    """
    import yaml

    from firestream_core.tools import kube_yaml
    from firestream_core.tools.redact import Redactor

    red = redactor.copy() if redactor is not None else Redactor()
    bounds = [0, *(x for m in _SEPARATOR.finditer(text) for x in (m.start(), m.end())), len(text)]
    pieces: list[str] = []
    for i in range(0, len(bounds), 2):  # documents at even places, "---" lines between them
        chunk = text[bounds[i]:bounds[i + 1]]
        if i:
            pieces.append(text[bounds[i - 1]:bounds[i]])
        try:
            docs = list(kube_yaml.load_all(chunk)) if chunk.strip() else []
        except kube_yaml.YAMLError:
            docs = []
        secrets = [o for d in docs for o in _objects(d) if is_secret(o)]
        if not secrets:
            pieces.append(chunk)
            continue
        for o in secrets:
            for value in secret_data(o).values():
                red.add(value.decode("utf-8", errors="replace"))
        comments = "".join(line for line in chunk.splitlines(keepends=True) if line.lstrip().startswith("#"))
        lead = "\n" if chunk.startswith("\n") else ""
        body = yaml.safe_dump_all([mask_object(d, redactor=red, mark_changes=False) for d in docs],
                                  sort_keys=False, default_flow_style=False, allow_unicode=True)
        pieces.append(lead + comments + body)
    return red.redact("".join(pieces))


def _objects(doc: Any) -> list[Any]:
    """``doc``, or the items of a ``List`` document."""
    if isinstance(doc, Mapping) and str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        return list(doc["items"])
    return [doc]


def mask_object(obj: Any, other: Any = _MISSING, redactor: Any = None, *, mark_changes: bool = True) -> Any:
    """A copy of ``obj`` with Secret data and sensitive values hidden.

    :param other: the counterpart of ``obj`` (the other side of a diff). A
        value is hidden when it or its counterpart is sensitive: the same field
        is hidden on both sides, even where one side holds a value no redactor
        knows (too short to be matched as text, an old secret at a path no
        longer declared secret). Where a hidden value differs from the
        counterpart's, :data:`HIDDEN_CHANGED` is written instead of :data:`HIDDEN`.
        Mappings are paired key by key, lists by their merge keys
        (:func:`merge_keys`) or, for other lists, by aligning equal items.
    :param redactor: a :class:`~firestream_core.tools.redact.Redactor`: any string
        holding a value it knows is hidden whole.
    :param mark_changes: write :data:`HIDDEN_CHANGED` (the new side of a
        diff); False for the old side, which shows :data:`HIDDEN` only.
    """
    if isinstance(obj, Mapping) and _is_secret(obj):
        theirs = secret_data(other) if mark_changes and isinstance(other, Mapping) and _is_secret(other) else None
        mine = secret_data(obj)
        masker = _Masker(redactor, mark_changes)
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in ("data", "stringData") and isinstance(v, Mapping):
                out[k] = {
                    dk: HIDDEN_CHANGED if theirs is not None and str(dk) in theirs
                    and theirs[str(dk)] != mine.get(str(dk)) else HIDDEN
                    for dk in v
                }
            else:
                o = other.get(k, _MISSING) if isinstance(other, Mapping) else _MISSING
                out[k] = masker.mask(v, o, str(k))
        return out
    return _Masker(redactor, mark_changes).mask(obj, other, "")


MERGE_KEYS: Mapping[str, tuple[str, ...]] = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "volumes": ("name",), "env": ("name",), "imagePullSecrets": ("name",),
    "resourceClaims": ("name",), "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",),
    "hostAliases": ("ip",), "conditions": ("type",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
}
"""Lists matched item by item on these fields (their strategic-merge keys, as kubectl merges them)."""

_DEFAULTS = {"protocol": "TCP"}
"""A merge-key field the server fills in when the chart leaves it out."""


def merge_keys(field: str, want: list[Any], have: list[Any]) -> tuple[str, ...] | None:
    """The fields that identify an item of the list under the key ``field``; None: compare item by item.

    Used by drift (manifest against live) and by masking (one side of a diff
    against the other). Container ports are keyed by ``containerPort`` +
    ``protocol``, Service ports by ``port`` + ``protocol``; any other list of
    objects that all carry a ``name``, unique on both sides, by ``name``.

    >>> merge_keys("env", [{"name": "A", "value": "1"}], [])
    ('name',)
    >>> merge_keys("args", ["--debug"], ["--debug"]) is None
    True
    """
    if not want or not all(isinstance(i, Mapping) for i in (*want, *have)):
        return None
    keys = MERGE_KEYS.get(field)
    if keys is None and field == "ports":
        if all("containerPort" in w for w in want):
            keys = ("containerPort", "protocol")
        elif all("port" in w for w in want):
            keys = ("port", "protocol")
    if keys is not None:
        return keys if all(keys[0] in w for w in want) else None
    named = all("name" in i for i in (*want, *have))
    unique = named and all(len({str(i["name"]) for i in side}) == len(side) for side in (want, have))
    return ("name",) if unique else None


def merge_key(item: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
    """The values of ``keys`` in ``item`` (a default where the server fills one in): what pairs it."""
    return tuple(str(item.get(k, _DEFAULTS.get(k, ""))) for k in keys)


def pair_by_key(
    items: list[Any], others: list[Any], keys: tuple[str, ...]
) -> list[tuple[Any, Mapping[str, Any] | None]]:
    """Each of ``items`` with the item of ``others`` that has the same key (None: none has).

    A key may repeat (a chart's env var that ``extraEnvs`` names again: the API
    keeps both, in order), so the n-th item of a key pairs with the n-th of the
    other side, not with the last one.

    >>> pair_by_key([{"name": "A", "value": "1"}, {"name": "A", "value": ""}],
    ...             [{"name": "A", "value": "1"}, {"name": "A", "value": ""}], ("name",))[1][1]
    {'name': 'A', 'value': ''}
    """
    pools: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for other in others:
        pools.setdefault(merge_key(other, keys), []).append(other)
    seen: dict[tuple[str, ...], int] = {}
    out: list[tuple[Any, Mapping[str, Any] | None]] = []
    for item in items:
        key = merge_key(item, keys)
        n = seen[key] = seen.get(key, -1) + 1
        pool = pools.get(key, ())
        out.append((item, pool[n] if n < len(pool) else None))
    return out


class _Masker:
    """Masks one value against its counterpart (see :func:`mask_object`)."""

    def __init__(self, redactor: Any, mark_changes: bool) -> None:
        self.redactor = redactor
        self.mark_changes = mark_changes

    def known(self, node: Any) -> bool:
        """True when ``node`` is a string holding a value the redactor hides."""
        return isinstance(node, str) and self.redactor is not None and self.redactor.redact(node) != node

    def holds_known(self, node: Any) -> bool:
        """True when ``node`` holds, anywhere in it, a value the redactor hides."""
        if isinstance(node, Mapping):
            return any(self.holds_known(v) for v in node.values())
        if isinstance(node, list):
            return any(self.holds_known(v) for v in node)
        return self.known(node)

    def hidden(self, node: Any, other: Any) -> str:
        changed = self.mark_changes and other is not _MISSING and other != node
        return HIDDEN_CHANGED if changed else HIDDEN

    def mask(self, node: Any, other: Any, field: str) -> Any:
        if self.known(other) and not isinstance(node, str):
            return self.hidden(node, other)  # a secret replaced by a container or a number
        if isinstance(node, Mapping):
            theirs: Mapping[Any, Any] = other if isinstance(other, Mapping) else {}
            return {k: self.mask(v, theirs.get(k, _MISSING), str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return self.mask_list(node, other if isinstance(other, list) else [], field)
        if self.known(node) or self.known(other):
            return self.hidden(node, other)
        return node

    def mask_list(self, node: list[Any], other: list[Any], field: str) -> list[Any]:
        keys = merge_keys(field, node, other)
        if keys is not None:  # env, containers, volumes...: each item against the item of the same key
            return [self.mask(v, _MISSING if o is None else o, "") for v, o in pair_by_key(node, other, keys)]
        # any other list (args, command): equal items pair up; in a changed stretch, if the
        # other side's items hold a hidden value, each item here is hidden whole (it may be
        # the same value moved, or a rotated one no redactor knows)
        import difflib  # here: the manifest readers (kubectl, workloads) never mask

        out: list[Any] = []
        matcher = difflib.SequenceMatcher(None, [repr(v) for v in node], [repr(o) for o in other], autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                out += [self.mask(v, o, "") for v, o in zip(node[i1:i2], other[j1:j2], strict=True)]
            elif any(self.holds_known(o) for o in other[j1:j2]):
                out += [self.hidden(v, other[j1] if j1 < j2 else _MISSING) for v in node[i1:i2]]
            else:
                out += [self.mask(v, other[j1 + n] if j1 + n < j2 else _MISSING, "")
                        for n, v in enumerate(node[i1:i2])]
        return out


# -- immutable fields --------------------------------------------------------------------------


@attrs.frozen
class ImmutableChange:
    """An object an upgrade patches whose immutable field changes: the API server refuses the patch.

    :ivar key: the object (group, kind, namespace, name).
    :ivar field: the field, from the object's root (``spec.selector``,
        ``spec.volumeClaimTemplates``, ``data``): a path, never a value.
    :ivar detail: what about it changes, when the field alone does not say
        (``a decrease``, ``claim template 'data'``), never a value.
    """

    key: ObjectKey
    field: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.key}: {self.field}{detail}"

    @property
    def orphan_command(self) -> str:
        """The ``kubectl delete --cascade=orphan`` that removes the object and keeps what it
        owns (pods, claims), so that the upgrade creates it anew."""
        ns = f" -n {self.key.namespace}" if self.key.namespace else ""
        kind = self.key.kind.lower() + (f".{self.key.group}" if self.key.group else "")
        return f"kubectl delete {kind} {self.key.name}{ns} --cascade=orphan"

    @property
    def refusal(self) -> str:
        """The line that says it: ``apply will fail: StatefulSet.apps/db (namespace data): spec.selector
        is immutable (the API server refuses the upgrade)``."""
        return f"apply will fail: {self} is immutable (the API server refuses the upgrade)"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.key.kind, "group": self.key.group, "namespace": self.key.namespace or None,
                "name": self.key.name, "field": self.field, "detail": self.detail or None,
                "delete_command": self.orphan_command}


def immutable_way_on(changes: Iterable[ImmutableChange]) -> str:
    """What to do about ``changes``: delete each object keeping what it owns, or change the values.
    A PersistentVolumeClaim is never offered for deletion (its volume may go with it).

    >>> key = ObjectKey("apps", "Deployment", "web", "api")
    >>> print(immutable_way_on([ImmutableChange(key, "spec.selector")]))
    delete the object first, keeping its pods and volumes (helm creates it anew): kubectl delete deployment.apps api -n web --cascade=orphan; or change the values so that these fields stay as deployed
    >>> print(immutable_way_on([ImmutableChange(ObjectKey("", "PersistentVolumeClaim", "web", "up"), "spec.accessModes")]))
    change the values so that these fields stay as deployed (a PersistentVolumeClaim is not deleted: its volume may go with it)
    """
    changes = list(changes)
    commands = "; ".join(dict.fromkeys(c.orphan_command for c in changes if c.key.kind != "PersistentVolumeClaim"))
    claims = any(c.key.kind == "PersistentVolumeClaim" for c in changes)
    values = "change the values so that these fields stay as deployed" + (
        " (a PersistentVolumeClaim is not deleted: its volume may go with it)" if claims else "")
    if not commands:
        return values
    return f"delete the object first, keeping its pods and volumes (helm creates it anew): {commands}; or {values}"


STATEFULSET_MUTABLE = frozenset({"replicas", "ordinals", "template", "updateStrategy",
                                 "persistentVolumeClaimRetentionPolicy", "minReadySeconds",
                                 "revisionHistoryLimit"})
"""The StatefulSet ``spec`` fields an update may change (the API server's list, and
``revisionHistoryLimit``, which it lets through): any other refuses the update."""

_STATEFULSET_DEFAULTS: Mapping[str, Any] = {"podManagementPolicy": "OrderedReady", "volumeClaimTemplates": [],
                                            "serviceName": ""}
"""What the API server stores for a StatefulSet ``spec`` field a manifest leaves out."""

_SELECTOR_KINDS = frozenset({("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "DaemonSet")})


def immutable_changes(
    current: Iterable[ManifestObject], desired: Iterable[ManifestObject], namespace: str = "",
) -> list[ImmutableChange]:
    """The objects an upgrade from ``current`` to ``desired`` patches whose immutable fields change.

    ``current`` is the installed release's manifest (``helm get manifest``),
    ``desired`` what the upgrade applies (rendered as apply renders it);
    ``namespace`` is the release's, for objects that name none. Objects are
    paired by group, kind, namespace and name: one that moves to another
    namespace or kind is deleted and created, never patched. Hooks (helm
    creates and deletes them) and a chart's ``crds/`` folder (never upgraded)
    are left out. Checked, conservatively (a field only one manifest sets is
    compared only where the API server's default for it is known):

    * apps/v1 Deployment, ReplicaSet, DaemonSet: ``spec.selector``;
    * apps/v1 StatefulSet: every ``spec`` field but :data:`STATEFULSET_MUTABLE`
      (``selector``, ``volumeClaimTemplates``, ``serviceName``, ``podManagementPolicy``...);
    * batch/v1 Job: ``spec.selector`` (when both set it) and ``spec.template``;
    * core Service: ``spec.clusterIP`` / ``spec.clusterIPs`` when both set them, differently;
    * core PersistentVolumeClaim: any ``spec`` field but ``resources.requests.storage``,
      which may only grow (a decrease is refused too);
    * core ConfigMap and Secret marked ``immutable: true``: their data (never shown) and
      the mark itself;
    * rbac RoleBinding and ClusterRoleBinding: ``roleRef`` (kube-state-metrics'
      ``rbac.useExistingRole``; the API server says ``cannot change roleRef``);
    * networking IngressClass: ``spec.controller`` when both set it (ingress-nginx's
      ``controller.ingressClassResource.controllerValue``).

    Label values and quantities are compared as the API server reads them
    (``"8Gi"`` equals ``8Gi`` and ``8192Mi``); a label selector's lists in any order.

    >>> old = ManifestObject({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    ...                       "spec": {"selector": {"matchLabels": {"app": "web"}}}})
    >>> new = ManifestObject({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    ...                       "spec": {"selector": {"matchLabels": {"app": "web", "tier": "front"}}}})
    >>> [str(c) for c in immutable_changes([old], [new], "shop")]
    ['Deployment.apps/web (namespace shop): spec.selector']
    """
    old = {o.key(namespace): o.obj for o in current if not o.is_hook and not o.from_crds_folder}
    out: list[ImmutableChange] = []
    for o in desired:
        if o.is_hook or o.from_crds_folder:
            continue
        key = o.key(namespace)
        before = old.get(key)
        if before is None or not isinstance(o.obj, Mapping):
            continue
        out += [ImmutableChange(key, field, detail) for field, detail in _refused_fields(key, before, o.obj)]
    return out


def _refused_fields(key: ObjectKey, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, detail)`` for each immutable field of one object that changes."""
    kind = (key.group, key.kind)
    a, b = _mapping(old.get("spec")), _mapping(new.get("spec"))
    if kind in _SELECTOR_KINDS:
        return [("spec.selector", "")] if _selector_changed(a, b) else []
    if kind == ("apps", "StatefulSet"):
        return _statefulset_fields(a, b)
    if kind == ("batch", "Job"):
        out = [("spec.selector", "")] if "selector" in a and "selector" in b and _selector_changed(a, b) else []
        if "template" in a and "template" in b and _canonical(a["template"]) != _canonical(b["template"]):
            out.append(("spec.template", ""))
        return out
    if kind == ("", "Service"):
        return _service_fields(a, b)
    if kind == ("", "PersistentVolumeClaim"):
        return _claim_fields("spec", a, b)
    if kind in {("", "ConfigMap"), ("", "Secret")} and old.get("immutable") is True:
        return _immutable_data(key.kind, old, new)
    if kind in _BINDING_KINDS:
        return [("roleRef", "")] if _role_ref(old) != _role_ref(new) else []
    if kind == ("networking.k8s.io", "IngressClass"):
        changed = "controller" in a and "controller" in b and str(a["controller"]) != str(b["controller"])
        return [("spec.controller", "")] if changed else []
    return []


_BINDING_KINDS = frozenset({("rbac.authorization.k8s.io", "RoleBinding"),
                            ("rbac.authorization.k8s.io", "ClusterRoleBinding")})


def _role_ref(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """A binding's ``roleRef`` as the API server compares it (``apiGroup`` defaults to rbac's)."""
    ref = _mapping(obj.get("roleRef"))
    return (str(ref.get("apiGroup") or "rbac.authorization.k8s.io"), str(ref.get("kind") or ""),
            str(ref.get("name") or ""))


def _mapping(node: Any) -> Mapping[str, Any]:
    return node if isinstance(node, Mapping) else {}


def _canonical(node: Any) -> Any:
    """``node`` as the API server compares it: quantities and numbers written as strings read
    as their values, mappings without their ``None`` entries (YAML's ``key:``)."""
    if isinstance(node, Mapping):
        return {str(k): _canonical(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_canonical(v) for v in node]
    if isinstance(node, bool):
        return node
    if isinstance(node, (int, float, str)):
        q = _quantity(node)
        return q if q is not None else node
    return node


_QUANTITY = r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
_SUFFIX = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "n": 10**-9, "u": 10**-6, "m": 10**-3, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
           "P": 10**15, "E": 10**18}


def _quantity(value: Any) -> Any:
    """A Kubernetes quantity's value (``"8Gi"``, ``8192Mi``, ``1``), or None when ``value`` is not one."""
    from fractions import Fraction

    m = re.match(_QUANTITY, str(value).strip())
    if m is None:
        return None
    try:
        return Fraction(m.group(1)) * Fraction(_SUFFIX[m.group(2) or ""])
    except (ValueError, ZeroDivisionError):
        return None


def _selector(node: Any) -> Any:
    """A label selector as the API server compares it: label values as strings, its
    expressions (and their values) in any order."""
    sel = _mapping(node)
    labels = {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
              for k, v in _mapping(sel.get("matchLabels")).items()}
    exprs = sorted(
        (str(e.get("key")), str(e.get("operator")), tuple(sorted(str(v) for v in e.get("values") or ())))
        for e in sel.get("matchExpressions") or () if isinstance(e, Mapping))
    return labels, exprs


def _selector_changed(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return "selector" in a and "selector" in b and _selector(a["selector"]) != _selector(b["selector"])


def _statefulset_fields(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for field in dict.fromkeys([*a, *b]):
        if field in STATEFULSET_MUTABLE:
            continue
        if field not in a or field not in b:
            if field not in _STATEFULSET_DEFAULTS:
                continue  # a field one manifest leaves to a default not known here
        x, y = a.get(field, _STATEFULSET_DEFAULTS.get(field)), b.get(field, _STATEFULSET_DEFAULTS.get(field))
        if field == "selector":
            if _selector(x) != _selector(y):
                out.append(("spec.selector", ""))
        elif field == "volumeClaimTemplates":
            detail = _claim_templates_changed(x, y)
            if detail is not None:
                out.append(("spec.volumeClaimTemplates", detail))
        elif _canonical(x) != _canonical(y):
            out.append((f"spec.{field}", ""))
    return out


def _claim_templates_changed(a: Any, b: Any) -> str | None:
    """None when the claim templates are the same; else what changed (``claim template 'data'``)."""
    xs = [_mapping(t) for t in (a or ())] if isinstance(a or (), list) else []
    ys = [_mapping(t) for t in (b or ())] if isinstance(b or (), list) else []
    names = [str(_mapping(t.get("metadata")).get("name") or "") for t in xs]
    new_names = [str(_mapping(t.get("metadata")).get("name") or "") for t in ys]
    if names != new_names:
        return "claim templates added, removed or renamed"
    changed = [n for n, x, y in zip(names, xs, ys, strict=True) if _claim_template(x) != _claim_template(y)]
    if not changed:
        return None
    return ", ".join(f"claim template '{n}'" for n in changed)


def _claim_template(template: Mapping[str, Any]) -> Any:
    """A claim template as the API server stores it: its name, labels, annotations and spec
    (``volumeMode`` defaulted); the ``apiVersion`` / ``kind`` a chart may write are dropped."""
    meta = _mapping(template.get("metadata"))
    spec = dict(_mapping(template.get("spec")))
    spec.setdefault("volumeMode", "Filesystem")
    return _canonical({"name": meta.get("name"), "labels": meta.get("labels") or {},
                       "annotations": meta.get("annotations") or {}, "spec": spec})


def _claim_fields(path: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A PersistentVolumeClaim's ``spec``: every field both set, but ``resources.requests.storage``
    only when it shrinks."""
    out: list[tuple[str, str]] = []
    for field in dict.fromkeys([*a, *b]):
        if field not in a or field not in b:
            continue  # set on one side only: left to the server (volumeName, storageClassName...)
        if field == "resources":
            ra, rb = _mapping(a[field]), _mapping(b[field])
            qa = _quantity(_mapping(ra.get("requests")).get("storage", ""))
            qb = _quantity(_mapping(rb.get("requests")).get("storage", ""))
            if qa is not None and qb is not None and qb < qa:
                out.append((f"{path}.resources.requests.storage", "a decrease"))

            def rest(r: Mapping[str, Any]) -> Any:
                requests = {k: v for k, v in _mapping(r.get("requests")).items() if k != "storage"}
                return _canonical({**r, "requests": requests})

            if rest(ra) != rest(rb):
                out.append((f"{path}.resources", ""))
        elif _canonical(a[field]) != _canonical(b[field]):
            out.append((f"{path}.{field}", ""))
    return out


def _service_fields(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if a.get("clusterIP") and b.get("clusterIP") and str(a["clusterIP"]) != str(b["clusterIP"]):
        out.append(("spec.clusterIP", ""))
    if a.get("clusterIPs") and b.get("clusterIPs") and _canonical(a["clusterIPs"]) != _canonical(b["clusterIPs"]):
        out.append(("spec.clusterIPs", ""))
    return out


def _immutable_data(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A ConfigMap or Secret marked ``immutable: true``: its data and the mark may not change
    (which key changed is said, never a value)."""
    out: list[tuple[str, str]] = []
    if new.get("immutable") is not True:
        out.append(("immutable", ""))
    if kind == "Secret":
        a: Mapping[str, Any] = secret_data(old)
        b: Mapping[str, Any] = secret_data(new)
        fields = "data"
    else:
        a = {**_mapping(old.get("data")), **{f"binary:{k}": v for k, v in _mapping(old.get("binaryData")).items()}}
        b = {**_mapping(new.get("data")), **{f"binary:{k}": v for k, v in _mapping(new.get("binaryData")).items()}}
        fields = "data"
    if a != b:
        keys = sorted(str(k).removeprefix("binary:") for k in {*a, *b} if a.get(k) != b.get(k))
        out.append((fields, "keys " + ", ".join(keys)))
    return out
