"""``diff``: what apply would change in each release, object by object.

For each release the plan says will change (``create``, ``upgrade``,
``recover``, ``reinstall``, ``destroy``), the manifest helm holds for it
(``helm get manifest``) is compared with the one apply would install
(``helm template`` with the same values files and values, rendered as an
upgrade when the release is installed; nothing for ``destroy``). Hooks and
the chart's ``crds/`` folder are not part of a release's manifest and are
left out of the comparison (the CRDs a release would install are listed).

Everything that is not sensitive is shown (docs/secrets.md): the plan's
value changes as ``path: old -> new`` (``(sensitive)`` for a secret), then
the objects in clear. Only sensitive values are masked:

* a Secret's ``data`` / ``stringData`` values are replaced by ``<hidden>``,
  or ``<hidden, changed>`` on the new side when the value changed: the keys
  and the fact that one changed are visible, never a value; every Secret's
  values are registered with the release's redactor too;
* every string holding a sensitive value (by the sensitivity model, from
  the release's values files, ``values``, ``set``, secret values, and the
  values helm holds for the installed release) is replaced the same way;
* the text is finally passed through the project's redactor.

CRDs of a dependency (helmfile's most reported failure): when a release's
objects are of a kind the cluster does not serve yet and a release it
depends on (directly or not) installs that CRD, the release is reported as
``known after '<dependency>' is applied`` (status ``pending``), not as an
error. A kind that nothing installs is an ``error`` for that release only.

Library (``Project.diff`` makes the plan and the tools, builds the
:class:`DiffInput` and calls :func:`diff_project`)::

    for d in project.diff(["web"], context=5):
        print(d.name, d.status, [str(o.key) for o in d.objects])
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import yaml

from firestream_core.errors import HelmError, first_line
from firestream_core.ops.helm_hooks import release_hooks
from firestream_core.ops.render import (
    INSTALL,
    HelmSteps,
    helm_steps,
    patches,
    planned_chart,
    render_steps,
    served_kinds,
    still_there,
)
from firestream_core.tools.manifests import (
    ImmutableChange,
    ManifestObject,
    ObjectKey,
    api_group,
    crds_provided,
    immutable_changes,
    immutable_way_on,
    is_builtin_group,
    mask_object,
    split_manifest,
)

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Change, Plan
    from firestream_core.model import HelmChart, InstalledRelease
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.kubectl import Kubectl
    from firestream_core.tools.redact import Redactor

__all__ = ["DiffInput", "ObjectDiff", "ReleaseDiff", "diff_project", "format_diffs", "served_kinds"]

log = logging.getLogger("firestream.diff")

STATUSES = ("changed", "unchanged", "pending", "error")
"""``changed``: objects differ; ``unchanged``: the plan changes the release but
its manifest stays the same; ``pending``: known after a dependency is
applied; ``error``: it could not be rendered or compared."""


@attrs.frozen
class ObjectDiff:
    """One object that changes: ``added``, ``removed`` or ``changed``, with its masked unified diff;
    or ``kept``: dropped by the release but left in the cluster (``helm.sh/resource-policy: keep``)."""

    key: ObjectKey
    change: str
    diff: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.key.kind, "group": self.key.group, "namespace": self.key.namespace or None,
                "name": self.key.name, "change": self.change, "diff": self.diff}


@attrs.frozen
class ReleaseDiff:
    """What apply would change in one release.

    :ivar action: the plan's action; ``reasons``: the plan's reasons.
    :ivar status: one of :data:`STATUSES`.
    :ivar objects: the objects that change (none for ``pending``/``error``).
    :ivar message: why it is pending or failed (``known after 'crds' is applied``).
    :ivar waiting_for: the dependencies it waits for (``pending``).
    :ivar hooks: the hooks the action would run (``Job/x (pre-upgrade)``).
    :ivar crds: CRDs of the chart's ``crds/`` folder the cluster does not serve yet
        (helm installs them first; it never upgrades them).
    :ivar crds_applied: CRDs of the chart's ``crds/`` folder the cluster already has and that
        helm 4's install (a ``create``, a ``reinstall``) server-side applies over the cluster's,
        where they differ: ``name: what changes`` (helm 3 skips them; helm 4's upgrade too).
    :ivar missing_namespaces: the namespaces other than the release's that the rendering puts
        objects in, which do not exist and that nothing in the plan creates, each as
        ``namespace: Kind/name, ...``: helm fails there, and plan and apply refuse the release.
    :ivar value_changes: the plan's ``(path, old, new)`` per changed value,
        sensitive values as ``(sensitive)``.
    :ivar immutable: the objects the upgrade patches whose immutable fields change
        (:func:`~firestream_core.tools.manifests.immutable_changes`): the API server
        refuses the upgrade, and apply refuses the release before any change.
    """

    name: str
    namespace: str
    action: str
    status: str
    reasons: tuple[str, ...] = ()
    objects: tuple[ObjectDiff, ...] = ()
    message: str = ""
    waiting_for: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()
    crds: tuple[str, ...] = ()
    value_changes: tuple[tuple[str, str, str], ...] = ()
    immutable: tuple[ImmutableChange, ...] = ()
    crds_applied: tuple[str, ...] = ()
    missing_namespaces: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        """True when objects change or the outcome is known only after a dependency is applied."""
        return bool(self.objects) or bool(self.crds) or bool(self.crds_applied) or self.status == "pending"

    def count(self, change: str) -> int:
        return sum(1 for o in self.objects if o.change == change)

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.name,
            "namespace": self.namespace,
            "action": self.action,
            "status": self.status,
            "reasons": list(self.reasons),
            "message": self.message or None,
            "waiting_for": list(self.waiting_for),
            "hooks": list(self.hooks),
            "crds": list(self.crds),
            "crds_applied": list(self.crds_applied),
            "missing_namespaces": list(self.missing_namespaces),
            "value_changes": [{"path": p, "old": o, "new": n} for p, o, n in self.value_changes],
            "objects": [o.to_dict() for o in self.objects],
            "immutable": [c.to_dict() for c in self.immutable],
        }


# -- text diff --------------------------------------------------------------------------------


def _dump(obj: Any) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True).splitlines()


def _object_diffs(
    current: Sequence[ManifestObject],
    desired: Sequence[ManifestObject],
    namespace: str,
    redactor: Redactor | None,
    context: int,
    label: str,
) -> list[ObjectDiff]:
    old = {o.key(namespace): o.obj for o in current}
    new = {o.key(namespace): o.obj for o in desired}
    keys = list(dict.fromkeys([*old, *new]))
    out: list[ObjectDiff] = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and a == b:
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        if change == "removed" and a is not None and _kept(a):
            out.append(ObjectDiff(key, "kept", f"   kept: {key.short} ({RESOURCE_POLICY}: keep: helm leaves it "
                                               "in the cluster, no longer managed by the release)"))
            continue
        ma = mask_object(a, b, redactor, mark_changes=False) if a is not None else None
        mb = mask_object(b, a, redactor) if b is not None else None
        lines = difflib.unified_diff(
            _dump(ma), _dump(mb),
            fromfile=f"{label}: {key.short} (deployed)" if a is not None else "/dev/null",
            tofile=f"{label}: {key.short} (after apply)" if b is not None else "/dev/null",
            n=context, lineterm="",
        )
        text = "\n".join(lines)
        if redactor is not None:
            text = redactor.redact(text)
        if change == "changed" and not text:
            # equal once masked: a hidden value changed and masking made it invisible
            text = f"--- {label}: {key.short} (deployed)\n+++ {label}: {key.short} (after apply)\n" \
                   f"@@ @@\n~ {HIDDEN_NOTE}"
        out.append(ObjectDiff(key, change, text))
    return out


HIDDEN_NOTE = "a hidden value changed"
RESOURCE_POLICY = "helm.sh/resource-policy"


def _kept(obj: Mapping[str, Any]) -> bool:
    """True for an object helm does not delete when the release drops it or is uninstalled
    (``helm.sh/resource-policy: keep``, read as helm reads it: trimmed, any case)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return isinstance(annotations, Mapping) and str(annotations.get(RESOURCE_POLICY) or "").strip().lower() == "keep"


# -- the project ------------------------------------------------------------------------------


@attrs.frozen
class DiffInput:
    """What ``diff`` needs of its project, and nothing more (``Project.diff_input()`` builds it)."""

    charts: Mapping[str, HelmChart]
    """The project's charts by release name."""
    dependencies: Mapping[str, tuple[str, ...]]
    """Release name -> every release it depends on, directly or not (where a missing CRD may come from)."""
    project_dir: Path
    redactor: Redactor
    repositories: Mapping[str, str]
    """Repository name -> URL (chart types' defaults, overridden by ``[repositories]``)."""
    desired: Callable[[str, Helm, Kubectl], HelmChart]
    """A release's chart with the values plugins contribute, from the same desired-state
    function the plan uses (for a release the plan does not hold: a dependency outside the
    targets that may install a CRD)."""


def _release_redactor(
    project: DiffInput, helm: Helm, chart: HelmChart, installed: InstalledRelease | None
) -> Redactor:
    """The project's redactor plus the sensitive values of this release, desired and installed."""
    from firestream_core.deploy.plan import desired_values

    red = project.redactor.copy()
    patterns = chart.settings.sensitive_keys
    try:
        red.add_values(desired_values(chart, project.project_dir), patterns=patterns)
    except Exception:  # noqa: BLE001 - unreadable values files are reported when rendering
        log.debug("cannot read the values of %s to mask them", chart.chart_info.name)
    if installed is not None:
        from firestream_core.tools.sensitivity import leaves, secret_file_paths

        try:
            held = helm.get_values(installed.name, installed.namespace)
            red.add_values(held, patterns=patterns)
            # what helm holds at a secret_values path is the old secret, whatever its key
            secret = set(secret_file_paths(chart.chart_info))
            for path, value in leaves(held):
                if path in secret:
                    red.add(value)
        except HelmError:
            log.debug("cannot read helm's values of %s", installed.name)
    return red


class _Renderer:
    """Renders releases once each (``helm template``), adding classic repositories once.

    Each release is rendered from its desired state: the plan's contributed
    values (``Change.plugin_values``) and resolved chart version
    (``Change.resolved_version``), or, for a release the plan does not
    hold, the same desired-state function the plan uses.
    """

    def __init__(self, project: DiffInput, helm: Helm, plan: Plan, kubectl: Kubectl) -> None:
        self.project = project
        self.helm = helm
        self.kubectl = kubectl
        self.repos = project.repositories
        self.cache: dict[str, list[ManifestObject] | BaseException] = {}
        self.planned = {c.name: c for c in plan.releases}

    def desired_chart(self, name: str) -> HelmChart:
        """The release's chart with the values plugins contribute (what apply deploys)."""
        if name not in self.planned:
            return self.project.desired(name, self.helm, self.kubectl)
        return planned_chart(self.project.charts[name], self.planned[name])

    def render(self, name: str, steps: HelmSteps = INSTALL) -> list[ManifestObject]:
        hit = self.cache.get(name)
        if isinstance(hit, BaseException):
            raise hit
        if hit is not None:
            return hit
        info = self.desired_chart(name).chart_info
        try:
            from firestream_core.plugin.helpers import add_chart_repository

            add_chart_repository(self.helm, info, self.repos)
            # as apply renders it: against the cluster, the crds/ folder from an offline rendering
            objects = render_steps(self.helm, info, self.project.project_dir, steps)
        except (HelmError, ValueError) as exc:
            self.cache[name] = exc
            raise
        self.cache[name] = objects
        return objects


def diff_project(
    project: DiffInput, plan: Plan, helm: Helm, kubectl: Kubectl, *, context: int = 3
) -> list[ReleaseDiff]:
    """A :class:`ReleaseDiff` for every release ``plan`` changes, in plan order.

    :param plan: the plan apply would carry out (``Project.diff`` makes it with
        ``helm`` and ``kubectl``, for the targets it was given).
    :param context: lines of context around each change.
    """
    run = _DiffRun(project, helm, kubectl, context, plan)
    return [run.release(change) for change in plan.releases if change.is_change]


class _DiffRun:
    """One ``diff``: the tools, the rendered releases and the cluster's served kinds, shared by its releases."""

    def __init__(self, project: DiffInput, helm: Helm, kubectl: Kubectl, context: int, plan: Plan) -> None:
        self.project = project
        self.helm = helm
        self.kubectl = kubectl
        self.context = context
        self.renderer = _Renderer(project, helm, plan, kubectl)
        self.discovery: dict[str, set[str] | None] = {}
        self.namespaces: dict[str, bool | None] = {n.name: True for n in plan.namespaces_to_create}

    def release(self, change: Change) -> ReleaseDiff:
        """The diff of one changing release: its manifests compared, or why it is pending or failed."""
        chart = self.renderer.desired_chart(change.name)
        base: dict[str, Any] = {
            "name": change.name, "namespace": change.namespace, "action": change.action,
            "reasons": tuple(change.reasons), "value_changes": tuple(change.value_changes)}
        installed = change.installed
        live = installed is not None and installed.status != "uninstalled"
        red = _release_redactor(self.project, self.helm, chart, installed if live else None)
        try:
            steps = helm_steps(change, lambda: self.helm.history(change.name, change.namespace))
            current, rendered = self._manifests(change, live, steps)
            # a rollback and an uninstall run the hooks helm stored, not the chart's
            run = release_hooks(self.helm, change, steps, rendered, chart.chart_info.hooks_disabled,
                                run_tests=chart.settings.run_tests)
        except (HelmError, ValueError) as exc:
            from firestream_core.tools.helm_errors import chart_render_failure

            reason = chart_render_failure(exc.stderr) if isinstance(exc, HelmError) else None
            said = f"the chart does not render with these values: {reason}" if reason else first_line(exc)
            return ReleaseDiff(status="error", message=red.redact(said), **base)
        _hide_secret_data(red, [*current, *rendered])
        hooks = tuple(f"{h.kind}/{h.name} ({'/'.join(h.events)})" for h in run.will_run) \
            + tuple(f"{h.kind}/{h.name} ({'/'.join(h.events)}, run_tests)" for h in run.tests_that_run)
        unserved, new_crds = self._unserved_kinds(rendered)
        if unserved and change.action != "destroy":
            return self._waiting(change.name, unserved, new_crds, hooks, base)
        desired = [o for o in rendered if not o.is_hook and not o.from_crds_folder]
        objects = _object_diffs(current, desired, change.namespace, red, self.context, change.name)
        applied = self._crds_applied(chart, steps, rendered, red)
        status = "changed" if objects or new_crds or applied else "unchanged"
        refused = still_there(self.kubectl, immutable_changes(current, desired, change.namespace)) \
            if patches(steps) else ()
        missing = self._missing_namespaces(change, rendered) if steps.then else ()
        return ReleaseDiff(status=status, objects=tuple(objects), hooks=hooks, crds=new_crds, immutable=refused,
                           crds_applied=applied, missing_namespaces=missing, **base)

    def _missing_namespaces(self, change: Change, rendered: Sequence[ManifestObject]) -> tuple[str, ...]:
        """The namespaces other than its own the rendering puts objects in that do not exist and that
        the plan does not create (``plan`` refuses the release for them): one lookup for those not
        asked yet (:meth:`~firestream_core.tools.kubectl.Kubectl.namespaces_exist`)."""
        from firestream_core.tools.manifests import namespaces_used

        used = namespaces_used(rendered, change.namespace)
        ask = [ns for ns in used if ns not in self.namespaces]
        if ask:
            self.namespaces.update(self.kubectl.namespaces_exist(ask).exists)
        return tuple(f"{ns}: {', '.join(k.short for k in keys)}" for ns, keys in used.items()
                     if self.namespaces.get(ns) is False)

    def _crds_applied(
        self, chart: HelmChart, steps: HelmSteps, rendered: Sequence[ManifestObject], red: Redactor
    ) -> tuple[str, ...]:
        """The ``crds/`` CRDs the cluster has that helm 4's install applies over it, where they differ.

        helm 3 creates a ``crds/`` CRD only when it is missing; helm 4's install (not its upgrade)
        server-side applies each one, existing or not (``installCRDs``: ``Create`` with server-side
        apply), so an install of a chart whose CRDs differ from the cluster's (another release's,
        a newer version's) rewrites them, cluster-wide. One ``kubectl get`` per such CRD."""
        if steps.then != "install" or chart.chart_info.skip_crds or self.helm.major < 4:
            return ()
        from firestream_core.ops.drift import compare_object

        out: list[str] = []
        for crd in rendered:
            if not (crd.from_crds_folder and crd.kind == "CustomResourceDefinition") \
                    or not _crd_served(crd, self.discovery):
                continue
            try:
                live = self.kubectl.get("customresourcedefinition", crd.name)
            except HelmError as exc:
                log.debug("CRD %s not read: %s", crd.name, exc)
                continue
            if not live:
                continue
            what = _crd_versions_dropped(crd.obj, live)
            what += [f"{f.path}: chart {f.desired}, cluster {f.live}" for f in compare_object(crd.obj, live, red)]
            if what:
                more = f"; and {len(what) - 3} more field(s)" if len(what) > 3 else ""
                out.append(f"{crd.name}: {'; '.join(what[:3])}{more}")
        return tuple(out)

    def _manifests(
        self, change: Change, live: bool, steps: HelmSteps
    ) -> tuple[list[ManifestObject], list[ManifestObject]]:
        """(what helm holds for the release, what apply would install)."""
        current = split_manifest(self.helm.get_manifest(change.name, change.namespace)) if live else []
        if not steps.then:  # a destroy
            return current, []
        return current, self.renderer.render(change.name, steps)

    def _unserved_kinds(
        self, rendered: Sequence[ManifestObject]
    ) -> tuple[list[tuple[str, str, str]], tuple[str, ...]]:
        """(kinds the release needs that the cluster does not serve, CRDs of its ``crds/`` folder not served yet)."""
        own = crds_provided(rendered)
        # kinds the cluster must serve for this release's objects (hooks included)
        needed = {(api_group(o.api_version), o.api_version, o.kind) for o in rendered
                  if not is_builtin_group(api_group(o.api_version)) and (api_group(o.api_version), o.kind) not in own}
        folder_crds = [o for o in rendered if o.from_crds_folder and o.kind == "CustomResourceDefinition"]
        crd_gvs = {gv for o in folder_crds for gv in _crd_group_versions(o)}
        missing_gvs = {gv for (_g, gv, _k) in needed} | crd_gvs
        self.discovery.update(served_kinds(self.kubectl, missing_gvs - self.discovery.keys()))
        unserved = sorted({(g, gv, k) for (g, gv, k) in needed if k not in (self.discovery.get(gv) or set())})
        new_crds = tuple(sorted(o.name for o in folder_crds if not _crd_served(o, self.discovery)))
        return unserved, new_crds

    def _waiting(
        self, name: str, unserved: Sequence[tuple[str, str, str]], new_crds: tuple[str, ...],
        hooks: tuple[str, ...], base: dict[str, Any],
    ) -> ReleaseDiff:
        """``pending`` when a dependency installs the missing CRDs, else ``error``."""
        waiting, nowhere = _providers(self.project.dependencies[name], self.renderer, unserved)
        if nowhere:
            kinds = ", ".join(f"{k} ({gv})" for (_g, gv, k) in nowhere)
            return ReleaseDiff(
                status="error",
                message=f"the cluster does not serve {kinds} and no release '{name}' "
                        "depends on installs its CRD",
                hooks=hooks, **base)
        deps = tuple(dict.fromkeys(waiting))
        what = ", ".join(sorted({f"{k}.{g}" for (g, _gv, k) in unserved}))
        names = ", ".join(f"'{d}'" for d in deps)
        return ReleaseDiff(
            status="pending",
            message=f"known after {names} {'is' if len(deps) == 1 else 'are'} applied "
                    f"(it needs {what}, whose CRD {names} installs)",
            waiting_for=deps, hooks=hooks, crds=new_crds, **base)


def _hide_secret_data(redactor: Redactor, objects: Iterable[ManifestObject]) -> None:
    """Register every Secret's data with ``redactor``: wherever else a value shows, it is hidden."""
    from firestream_core.tools.manifests import is_secret, secret_data

    for o in objects:
        if is_secret(o.obj):
            for value in secret_data(o.obj).values():
                redactor.add(value.decode("utf-8", errors="replace"))


def _providers(
    deps: Sequence[str], renderer: _Renderer, unserved: Sequence[tuple[str, str, str]]
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(dependencies that install the unserved kinds, kinds nothing installs)."""
    found: list[str] = []
    nowhere: list[tuple[str, str, str]] = []
    for item in unserved:
        group, _gv, kind = item
        provider = None
        for dep in deps:
            try:
                objects = renderer.render(dep)
            except (HelmError, ValueError):
                continue
            if (group, kind) in crds_provided(objects):
                provider = dep
                break
        if provider is None:
            nowhere.append(item)
        else:
            found.append(provider)
    return found, nowhere


def _crd_group_versions(crd: ManifestObject) -> list[str]:
    spec = crd.obj.get("spec") or {}
    group = str(spec.get("group") or "")
    return [f"{group}/{v.get('name')}" for v in spec.get("versions") or [] if isinstance(v, Mapping) and group]


def _crd_versions_dropped(chart: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """``spec.versions drops v1beta1 (the cluster's CRD has it)``, for the versions the cluster's
    CRD lists that the chart's does not (applied, the chart's list replaces the cluster's)."""
    def names(obj: Mapping[str, Any]) -> list[str]:
        return [str(v.get("name")) for v in (obj.get("spec") or {}).get("versions") or [] if isinstance(v, Mapping)]

    mine = set(names(chart))
    gone = [n for n in names(live) if n not in mine]
    return [f"spec.versions drops {', '.join(gone)} (the cluster's CRD has {'it' if len(gone) == 1 else 'them'})"] \
        if gone and mine else []


def _crd_served(crd: ManifestObject, discovery: Mapping[str, set[str] | None]) -> bool:
    kind = str(((crd.obj.get("spec") or {}).get("names") or {}).get("kind") or "")
    return any(kind in (discovery.get(gv) or set()) for gv in _crd_group_versions(crd))


# -- text -----------------------------------------------------------------------------------


def _color(line: str) -> str:
    if line.startswith(("+++", "---")):
        return f"\033[1m{line}\033[0m"
    if line.startswith("+"):
        return f"\033[32m{line}\033[0m"
    if line.startswith("-"):
        return f"\033[31m{line}\033[0m"
    if line.startswith("@@"):
        return f"\033[36m{line}\033[0m"
    return line


def format_diffs(diffs: Sequence[ReleaseDiff], *, color: bool = False) -> str:
    """The text ``firestream diff`` prints: each release's header, its object diffs, a summary."""
    if not diffs:
        return "No changes: every release is up to date.\n"
    lines: list[str] = []
    for d in diffs:
        why = "; ".join(d.reasons)
        lines.append(f"== {d.name} (namespace {d.namespace}): {d.action}" + (f" - {why}" if why else ""))
        if d.status == "pending":
            lines.append(f"   {d.message}")
        elif d.status == "error":
            lines.append(f"   error: {d.message}")
        elif d.status == "unchanged":
            lines.append("   manifest unchanged")
        lines += [f"   {path}: {old} -> {new}" for path, old, new in d.value_changes]
        if d.immutable:
            lines += [f"   ! {c.refusal}" for c in d.immutable]
            lines.append(f"   ! {immutable_way_on(d.immutable)}")
        for crd in d.crds:
            lines.append(f"   + CRD {crd} (from the chart's crds/ folder; helm installs it first)")
        for where in d.missing_namespaces:
            ns, _, objects = where.partition(": ")
            lines.append(f"   ! apply refuses: the chart puts objects in namespace {ns}, which does not exist and "
                         f"that nothing in this plan creates ({objects}): helm creates only the release's namespace")
        for crd in d.crds_applied:
            name, _, what = crd.partition(": ")
            lines.append(f"   ~ CRD {name} (from the chart's crds/ folder: helm 4's install applies it over the "
                         f"cluster's, for every release using it): {what}")
        for o in d.objects:
            for line in o.diff.splitlines():
                lines.append(_color(line) if color else line)
        if d.hooks:
            lines.append("   hooks that run: " + ", ".join(d.hooks))
        lines.append("")
    changed = [d for d in diffs if d.has_changes]
    added = sum(d.count("added") for d in diffs)
    changed_n = sum(d.count("changed") for d in diffs)
    removed = sum(d.count("removed") for d in diffs)
    kept = sum(d.count("kept") for d in diffs)
    summary = f"{len(changed)} release(s) with changes: {added} object(s) to add, {changed_n} to change, " \
              f"{removed} to remove" + (f", {kept} to keep (resource-policy)" if kept else "")
    pending = [d.name for d in diffs if d.status == "pending"]
    errors = [d.name for d in diffs if d.status == "error"]
    if pending:
        summary += f"; known after apply: {', '.join(pending)}"
    if errors:
        summary += f"; errors: {', '.join(errors)}"
    rewritten = sum(len(d.crds_applied) for d in diffs)
    if rewritten:
        summary += f"; {rewritten} CRD(s) of a crds/ folder applied over the cluster's (helm 4)"
    nowhere = [d.name for d in diffs if d.missing_namespaces]
    if nowhere:
        summary += f"; apply refuses (namespaces that do not exist): {', '.join(nowhere)}"
    refused = [d.name for d in diffs if d.immutable]
    if refused:
        summary += f"; apply refuses (immutable fields): {', '.join(refused)}"
    lines.append(summary)
    return "\n".join(lines) + "\n"
