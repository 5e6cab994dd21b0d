"""``drift``: do the live objects still match what helm installed?

For each deployed release of the project, the manifest of its current
revision (``helm get manifest``) is compared with the live objects
(``kubectl get -f -``, the manifest on stdin: one call per release):

* an object of the manifest that is gone is ``missing``;
* an object is ``changed`` when a field **the chart sets** differs: every
  field present in the manifest object is compared with the live object's;
  fields the chart does not set (defaults, ``status``, what controllers
  add) and the metadata the server manages (``uid``, ``resourceVersion``,
  ``generation``, ``creationTimestamp``, ``managedFields``...) are ignored.
  Lists are matched by their strategic-merge keys, as kubectl merges them
  (:data:`~firestream_core.tools.manifests.MERGE_KEYS`: containers, volumes, env by ``name``, volumeMounts
  by ``mountPath``, container ports by ``containerPort`` + ``protocol``,
  Service ports by ``port`` + ``protocol``, ...); other lists of objects
  whose ``name`` values are unique by name; any other list item by item. Quantities compare by value
  (``1Gi`` = ``1024Mi``), numbers and their strings are equal (``8080`` = ``"8080"``).

Nothing secret is shown: a Secret's keys are compared on their decoded
values (``stringData`` in the chart counts as ``data``), and a changed key
is reported as ``data.password: <hidden> -> <hidden, changed>``; any value
holding a sensitive value (docs/secrets.md) is shown as ``<hidden>``, and a
field whose chart side is hidden is ``<hidden, changed>`` on the live side,
whatever the live value (a rotated password no redactor knows).

``apply --repair-drift`` (:func:`repair_plan`) turns each drifted release
that the plan would leave alone (``no-op``) into an ``upgrade`` with the
reason ``drift repair: ...``: helm's upgrade puts the chart's fields back
(helm 3's three-way merge, helm 4's server-side apply) and re-creates
missing objects.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import FirestreamError, HelmError, first_line
from firestream_core.model import HelmAction
from firestream_core.tools.manifests import (
    HIDDEN,
    HIDDEN_CHANGED,
    ObjectKey,
    api_group,
    mask_object,
    merge_key,
    merge_keys,
    pair_by_key,
    secret_data,
    split_manifest,
)

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Plan
    from firestream_core.model import HelmChart, InstalledRelease
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.kubectl import Kubectl
    from firestream_core.tools.redact import Redactor

__all__ = ["DriftInput", "FieldDrift", "ObjectDrift", "ReleaseDrift", "compare_object", "drift_project",
           "format_drift", "repair_plan"]

log = logging.getLogger("firestream.drift")

STATUSES = ("in-sync", "drifted", "not-deployed", "skipped", "error")

SERVER_METADATA = frozenset({
    "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
    "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers",
    "name", "namespace", "generateName",
})
"""``metadata`` fields the server manages (or that identify the object): never compared."""

ABSENT = "(absent)"


@attrs.frozen
class FieldDrift:
    """One field that differs: its path, the chart's value and the live one (both masked)."""

    path: str
    desired: str
    live: str

    def __str__(self) -> str:
        return f"{self.path}: {self.desired} -> {self.live}"


@attrs.frozen
class ObjectDrift:
    """One object of the release that drifted: ``missing``, or ``changed`` with its fields."""

    key: ObjectKey
    state: str
    fields: tuple[FieldDrift, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.key.kind, "group": self.key.group, "namespace": self.key.namespace or None,
                "name": self.key.name, "state": self.state,
                "fields": [{"path": f.path, "desired": f.desired, "live": f.live} for f in self.fields]}


@attrs.frozen
class ReleaseDrift:
    """Whether one release's live objects match its manifest.

    :ivar status: ``in-sync``, ``drifted``, ``not-deployed``, ``skipped``
        (helm status not ``deployed``) or ``error``.
    :ivar objects: the objects that drifted.
    :ivar checked: how many objects were compared.
    """

    name: str
    namespace: str
    status: str
    objects: tuple[ObjectDrift, ...] = ()
    checked: int = 0
    revision: int | None = None
    message: str = ""

    @property
    def drifted(self) -> bool:
        return self.status == "drifted"

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.name, "namespace": self.namespace, "status": self.status,
                "revision": self.revision, "checked": self.checked, "message": self.message or None,
                "objects": [o.to_dict() for o in self.objects]}


# -- comparing -------------------------------------------------------------------------------

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal(1000), "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18, "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    m = _QUANTITY.match(str(value).strip())
    if not m:
        return None
    try:
        return Decimal(m.group(1)) * _SUFFIX[m.group(2)]
    except (InvalidOperation, KeyError):
        return None


def _scalar_equal(want: Any, have: Any) -> bool:
    if want == have:
        return True
    if isinstance(want, bool) or isinstance(have, bool):
        return str(want).lower() == str(have).lower()
    if have is None:
        return False
    if str(want) == str(have):
        return True
    a, b = _quantity(want), _quantity(have)
    return a is not None and b is not None and a == b


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == [] or value == ""


_MISSING = object()


def _merge_keys(path: str, want: list[Any], have: list[Any]) -> tuple[str, ...] | None:
    """The fields that identify an item of the list at ``path`` (:func:`merge_keys`); None: item by item."""
    return merge_keys(path.rsplit(".", 1)[-1].split("[", 1)[0], want, have)


def _compare(want: Any, have: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if want is None:
        return  # null in a manifest sets nothing
    if have is _MISSING:
        if not _empty(want):
            out.append((path, want, _MISSING))
        return
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            if not (_empty(want) and _empty(have)):
                out.append((path, want, have))
            return
        for k, v in want.items():
            if path == "" and k == "status":
                continue
            if path == "metadata" and k in SERVER_METADATA:
                continue
            sub = f"{path}.{k}" if path else str(k)
            _compare(v, have.get(k, _MISSING), sub, out)
        return
    if isinstance(want, list):
        if not isinstance(have, list):
            if not (_empty(want) and _empty(have)):
                out.append((path, want, have))
            return
        keys = _merge_keys(path, want, have)
        if keys is not None:
            for w, h in pair_by_key(want, have, keys):
                k = merge_key(w, keys)
                label = ",".join(f"{n}={v}" for n, v in zip(keys, k, strict=True) if v != "")
                _compare(w, _MISSING if h is None else h, f"{path}[{label}]", out)
            return
        if len(want) != len(have):
            out.append((path, want, have))
            return
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            _compare(w, h, f"{path}[{i}]", out)
        return
    if not _scalar_equal(want, have):
        out.append((path, want, have))


def _masked(value: Any, redactor: Redactor | None) -> tuple[str, bool]:
    """``value`` as drift shows it (sensitive values hidden), and whether anything was hidden."""
    masked = mask_object(value, redactor=redactor)
    hidden = masked != value
    text = masked if isinstance(masked, str) else json.dumps(masked, sort_keys=True, default=str)
    if redactor is not None:
        redacted = redactor.redact(text)
        hidden = hidden or redacted != text
        text = redacted
    return (text if len(text) <= 120 else text[:117] + "..."), hidden


def _field(path: str, want: Any, have: Any, redactor: Redactor | None) -> FieldDrift:
    """One drifted field, masked: when the chart's side hides a sensitive value, so does the live side.

    A live value is whatever someone put in the cluster (a rotated password, a
    value no redactor has seen): it is shown only when the chart's side of the
    field holds nothing sensitive, and even then passes the redactor.
    """
    desired, sensitive = _masked(want, redactor)
    if have is _MISSING:
        return FieldDrift(path, desired, ABSENT)
    if sensitive:
        return FieldDrift(path, desired, HIDDEN_CHANGED)
    return FieldDrift(path, desired, _masked(have, redactor)[0])


def _is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and api_group(str(obj.get("apiVersion") or "")) == ""


def compare_object(
    desired: Mapping[str, Any], live: Mapping[str, Any], redactor: Redactor | None = None
) -> list[FieldDrift]:
    """The fields of ``desired`` (a manifest object) that ``live`` does not match, masked."""
    found: list[tuple[str, Any, Any]] = []
    if _is_secret(desired):
        want, have = secret_data(desired), secret_data(live) if _is_secret(live) else {}
        out = []
        for k in sorted(want):
            if k not in have:
                out.append(FieldDrift(f"data.{k}", HIDDEN, ABSENT))
            elif have[k] != want[k]:
                out.append(FieldDrift(f"data.{k}", HIDDEN, HIDDEN_CHANGED))
        rest = {k: v for k, v in desired.items() if k not in ("data", "stringData")}
        _compare(rest, live, "", found)
        return out + [_field(p, w, h, redactor) for p, w, h in found]
    _compare(desired, live, "", found)
    return [_field(p, w, h, redactor) for p, w, h in found]


# -- the project ------------------------------------------------------------------------------


def _live_index(objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str, str], Mapping[str, Any]]:
    out: dict[tuple[str, str, str, str], Mapping[str, Any]] = {}
    for o in objects:
        meta = o.get("metadata") or {}
        key = (api_group(str(o.get("apiVersion") or "")), str(o.get("kind") or ""),
               str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        out[key] = o
    return out


def release_drift(
    name: str, namespace: str, manifest: str, kubectl: Kubectl, redactor: Redactor | None = None, *,
    revision: int | None = None
) -> ReleaseDrift:
    """Compare one release's manifest with the live objects (one ``kubectl get -f -``)."""
    objects = [o for o in split_manifest(manifest) if not o.is_hook]
    if not objects:
        return ReleaseDrift(name, namespace, "in-sync", revision=revision, message="the manifest holds no objects")
    live = _live_index(kubectl.get_manifest_objects(manifest, namespace=namespace))
    drifted: list[ObjectDrift] = []
    for o in objects:
        key = o.key(namespace)
        have = live.get((key.group, key.kind, key.namespace, key.name))
        if have is None:  # a cluster-scoped kind the manifest left without a namespace
            have = live.get((key.group, key.kind, "", key.name))
        if have is None:
            drifted.append(ObjectDrift(key, "missing"))
            continue
        fields = compare_object(o.obj, have, redactor)
        if fields:
            drifted.append(ObjectDrift(key, "changed", tuple(fields)))
    return ReleaseDrift(name, namespace, "drifted" if drifted else "in-sync", tuple(drifted),
                        checked=len(objects), revision=revision)


@attrs.frozen
class DriftInput:
    """What ``drift`` and ``apply --repair-drift`` need of their project, and nothing more
    (``Project.drift_input()`` builds it)."""

    charts: Mapping[str, HelmChart]
    """The project's charts by release name, in config order."""
    order: tuple[str, ...]
    """The release names in dependency order (dependencies first): the order of the report."""
    redactor: Redactor


def drift_project(
    project: DriftInput,
    helm: Helm,
    kubectl: Kubectl,
    targets: Iterable[str] | None = None,
    *,
    installed: Sequence[InstalledRelease] | None = None,
) -> list[ReleaseDrift]:
    """A :class:`ReleaseDrift` per release of the project (or of ``targets``), in dependency order.

    One ``helm list`` (unless ``installed`` is given), then per deployed
    release ``helm get manifest``, ``helm get values`` (to hide them) and
    one ``kubectl get -f -``.
    """
    wanted = set(targets or ())
    unknown = wanted - set(project.charts)
    if unknown:
        raise FirestreamError(f"unknown release(s): {', '.join(sorted(unknown))}",
                              hint="the releases are: " + ", ".join(project.charts))
    live = {r.key: r for r in (installed if installed is not None else helm.list_releases())}
    out: list[ReleaseDrift] = []
    for name in project.order:
        if wanted and name not in wanted:
            continue
        ns = project.charts[name].chart_info.namespace_name
        inst = live.get((ns, name))
        if inst is None or inst.status == "uninstalled":
            out.append(ReleaseDrift(name, ns, "not-deployed"))
            continue
        if inst.status != "deployed":
            out.append(ReleaseDrift(name, ns, "skipped", revision=inst.revision,
                                    message=f"status is {inst.status}"))
            continue
        red = project.redactor.copy()
        try:
            red.add_values(helm.get_values(name, ns))
            out.append(release_drift(name, ns, helm.get_manifest(name, ns), kubectl, red, revision=inst.revision))
        except (HelmError, ValueError) as exc:
            out.append(ReleaseDrift(name, ns, "error", revision=inst.revision, message=red.redact(first_line(exc))))
    return out


def repair_plan(project: DriftInput, plan: Plan, helm: Helm, kubectl: Kubectl) -> tuple[Plan, list[ReleaseDrift]]:
    """``plan`` with each drifted ``no-op`` release turned into an ``upgrade`` ("drift repair").

    Only deployed releases the plan leaves alone (and does not skip) are
    checked. Returns the new plan and the drift found.
    """
    candidates = [
        c.name for c in plan.releases
        if c.action == "no-op" and c.installed is not None and c.installed.status == "deployed"
        and project.charts[c.name].chart_info.action is HelmAction.DEPLOY
    ]
    if not candidates or plan.destroy:
        return plan, []
    drifts = drift_project(project, helm, kubectl, candidates,
                           installed=[c.installed for c in plan.releases if c.installed is not None])
    failed = [d for d in drifts if d.status == "error"]
    if failed:
        raise FirestreamError(
            "cannot check drift of " + "; ".join(f"release '{d.name}': {d.message}" for d in failed),
            hint="nothing was changed; run 'firestream drift' to see the live objects' state",
        )
    by_name = {d.name: d for d in drifts if d.drifted}
    if not by_name:
        return plan, drifts
    releases = []
    for c in plan.releases:
        d = by_name.get(c.name)
        if d is not None:
            missing = sum(1 for o in d.objects if o.state == "missing")
            changed = len(d.objects) - missing
            parts = [f"{n} {what}" for n, what in ((missing, "missing"), (changed, "changed")) if n]
            c = attrs.evolve(c, action="upgrade", reasons=(f"drift repair: {', '.join(parts)} object(s)",))
        releases.append(c)
    return attrs.evolve(plan, releases=tuple(releases)), drifts


def format_drift(drifts: Sequence[ReleaseDrift]) -> str:
    """The text ``firestream drift`` prints: per release its status, per drifted object its fields."""
    if not drifts:
        return "No releases.\n"
    lines: list[str] = []
    width = max(len(d.name) for d in drifts)
    for d in drifts:
        detail = {
            "in-sync": f"in sync ({d.checked} object{'s' if d.checked != 1 else ''} checked)",
            "drifted": f"DRIFTED ({len(d.objects)} of {d.checked} objects)",
            "not-deployed": "not deployed",
            "skipped": f"not checked: {d.message}",
            "error": f"error: {d.message}",
        }[d.status]
        lines.append(f"{d.name:<{width}}  {detail}")
        for o in d.objects:
            lines.append(f"  {o.key}: {o.state}")
            for f in o.fields:
                lines.append(f"    {f.path}: chart {f.desired}, live {f.live}")
    drifted = [d.name for d in drifts if d.drifted]
    errors = [d.name for d in drifts if d.status == "error"]
    skipped = [f"{d.name} ({d.message})" for d in drifts if d.status == "skipped"]
    lines.append("")
    if drifted:
        lines.append(f"{len(drifted)} release(s) drifted: {', '.join(drifted)}")
    if errors:
        lines.append(f"{len(errors)} release(s) could not be checked: {', '.join(errors)}")
    if skipped:  # a failed or pending release: its objects are not what a manifest says
        lines.append(f"{len(skipped)} release(s) not checked: {', '.join(skipped)}")
    if not drifted and not errors:
        lines.append("No drift in the releases checked." if skipped else "No drift.")
    return "\n".join(lines) + "\n"
