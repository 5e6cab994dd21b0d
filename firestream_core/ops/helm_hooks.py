"""Which Helm hooks a release's chart carries, and which of them an action fires.

A chart's hooks are the rendered objects annotated ``helm.sh/hook``
(``pre-install``, ``post-upgrade``, ``test``, ...). They are read from the
release's rendering as apply renders it (the same values, as an install or an
upgrade, against the cluster: :mod:`firestream_core.ops.render`), so a hook
behind an ``{{ if }}`` counts only when the values, ``.Release.IsUpgrade`` or
a ``lookup`` enable it when apply runs.

``firestream plan --hooks`` shows them per release, and which would run for
the planned action (``create`` -> ``pre-install``/``post-install``,
``upgrade`` -> ``pre-upgrade``/``post-upgrade``, ``destroy`` ->
``pre-delete``/``post-delete``; ``test`` hooks run with ``firestream
test``). An uninstall (``destroy``, a ``reinstall``'s first step) runs the
delete hooks helm stored with the installed release (``helm get hooks``),
not the new chart's. A release with ``hooks_disabled = true`` is deployed with
``--no-hooks``: none of them runs, and the plan says so.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import HelmError
from firestream_core.tools.manifests import (
    ImmutableChange,
    ManifestObject,
    immutable_changes,
    immutable_way_on,
    split_manifest,
)

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Change, Plan
    from firestream_core.model import HelmChart
    from firestream_core.ops.render import HelmSteps
    from firestream_core.plugin.stage_tools import KubectlTool
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.redact import Redactor

__all__ = [
    "ACTION_EVENTS",
    "DELETE_EVENTS",
    "ROLLBACK_EVENTS",
    "HOOK_EVENTS",
    "Hook",
    "HooksInput",
    "ReleaseHooks",
    "format_hooks",
    "hooks_in",
    "plan_hooks",
    "release_hooks",
]

log = logging.getLogger("firestream.hooks")

HOOK_EVENTS: tuple[str, ...] = (
    "pre-install", "post-install", "pre-upgrade", "post-upgrade", "pre-rollback",
    "post-rollback", "pre-delete", "post-delete", "test", "test-success", "test-failure",
)
"""helm's hook events, in the order they are listed (``test-success`` is helm 2's ``test``)."""

ACTION_EVENTS: Mapping[str, tuple[str, ...]] = {
    "create": ("pre-install", "post-install"),
    "upgrade": ("pre-upgrade", "post-upgrade"),
    "recover": ("pre-rollback", "post-rollback", "pre-upgrade", "post-upgrade"),
    "reinstall": ("pre-delete", "post-delete", "pre-install", "post-install"),
    "destroy": ("pre-delete", "post-delete"),
    "no-op": (),
}
"""The hook events a plan action makes helm fire (``recover`` may roll back, then upgrades)."""


@attrs.frozen
class Hook:
    """One hook object: ``kind``/``name``, its events, weight and delete policy."""

    kind: str
    name: str
    events: tuple[str, ...]
    weight: int = 0
    delete_policy: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "events": list(self.events),
                "weight": self.weight, "delete_policy": list(self.delete_policy)}


def _hook(obj: ManifestObject) -> Hook:
    ann = obj.annotations
    try:
        weight = int(str(ann.get("helm.sh/hook-weight", "0")).strip() or 0)
    except ValueError:
        weight = 0
    policy = tuple(p.strip() for p in str(ann.get("helm.sh/hook-delete-policy", "")).split(",") if p.strip())
    return Hook(obj.kind, obj.name, obj.hook_events, weight, policy)


INSTALL_ORDER: tuple[str, ...] = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList",
    "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
    "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "Ingress", "APIService",
)
"""helm's kind order (``releaseutil.InstallOrder``): the order it stores a release's hooks in."""

_KIND_RANK = {kind: i for i, kind in enumerate(INSTALL_ORDER)}


def _helm_order(hook: Hook) -> tuple[int, str, int, str]:
    """helm runs an event's hooks by weight, then name, keeping its kind order among equals
    (``sort.Stable(hookByWeight)`` over hooks sorted by ``InstallOrder``, unknown kinds last,
    by kind): a ServiceAccount before the Job of the same name and weight."""
    rank = _KIND_RANK.get(hook.kind)
    return (hook.weight, hook.name, len(INSTALL_ORDER) if rank is None else rank, "" if rank is not None else hook.kind)


def hooks_in(manifest: str | Iterable[ManifestObject]) -> list[Hook]:
    """The hooks of a rendered manifest (text or split objects), in the order helm runs them
    (weight, then name, then helm's kind order: :data:`INSTALL_ORDER`)."""
    objects = split_manifest(manifest) if isinstance(manifest, str) else list(manifest)
    hooks = [_hook(o) for o in objects if o.is_hook]
    return sorted(hooks, key=_helm_order)


DELETE_EVENTS: frozenset[str] = frozenset({"pre-delete", "post-delete"})
"""The events of an uninstall: helm runs them from the installed release, not from the chart."""

ROLLBACK_EVENTS: frozenset[str] = frozenset({"pre-rollback", "post-rollback"})
"""The events of a rollback: helm runs them from the revision it returns to, not from the chart."""


@attrs.frozen
class ReleaseHooks:
    """A release's hooks as the plan sees them.

    :ivar hooks: every hook the chart carries with these values, as apply renders it
        (a ``destroy``: the installed release's).
    :ivar action: the plan's action.
    :ivar disabled: ``hooks_disabled`` is set: helm runs with ``--no-hooks``.
    :ivar error: why they could not be read (the chart failed to render...), or "".
    :ivar uninstall_hooks: the hooks helm stored with the release it uninstalls
        (``helm get hooks``), whose ``pre-delete``/``post-delete`` hooks run, not the new
        chart's; None: they are in ``hooks``.
    :ivar rollback_hooks: the hooks stored with the revision a recovery rolls back to
        (``rollback_revision``), whose ``pre-rollback``/``post-rollback`` hooks run; None:
        they are in ``hooks``.
    :ivar fires: the events the change fires, in order (:class:`~firestream_core.ops.render.HelmSteps`);
        None: those of the action (:data:`ACTION_EVENTS`).
    :ivar tests_run: apply runs ``helm test`` after the change (``run_tests = true``): the
        :attr:`tests` hooks run too (``hooks_disabled`` does not stop ``helm test``).
    :ivar immutable: the objects the upgrade patches whose immutable fields change (the API
        server refuses it: :func:`~firestream_core.tools.manifests.immutable_changes`).
    """

    release: str
    action: str
    hooks: tuple[Hook, ...] = ()
    disabled: bool = False
    error: str = ""
    uninstall_hooks: tuple[Hook, ...] | None = None
    rollback_hooks: tuple[Hook, ...] | None = None
    rollback_revision: int | None = None
    fires: tuple[str, ...] | None = None
    tests_run: bool = False
    immutable: tuple[ImmutableChange, ...] = ()

    @property
    def events(self) -> list[str]:
        """Every event the chart has hooks for, in :data:`HOOK_EVENTS` order."""
        seen = {e for h in self.hooks for e in h.events}
        return [e for e in HOOK_EVENTS if e in seen] + sorted(seen - set(HOOK_EVENTS))

    def runs(self) -> list[tuple[Hook, str]]:
        """``(hook, where it comes from)`` for each hook the change fires, in the order helm runs
        them: a recovery's rollback (``revision N``), the uninstall (``installed release``, when
        the change installs after it), then the chart's own (``""``); each event's hooks (the
        ``pre-`` before the ``post-``) in helm's order, a hook of both events at its first. None
        when disabled."""
        if self.disabled:
            return []
        order = self.fires if self.fires is not None else ACTION_EVENTS.get(self.action, ())
        fired = set(order)
        rolling = self.hooks if self.rollback_hooks is None else self.rollback_hooks
        deleting = self.hooks if self.uninstall_hooks is None else self.uninstall_hooks
        revision = f"revision {self.rollback_revision}" if self.rollback_hooks is not None else ""
        installed = "installed release" if self.uninstall_hooks is not None and self.action != "destroy" else ""
        own = fired - DELETE_EVENTS - ROLLBACK_EVENTS

        def by_event(hooks: Iterable[Hook], events: set[str], where: str) -> list[tuple[Hook, str]]:
            chosen = [h for h in hooks if events & set(h.events)]  # in helm's order (hooks_in)
            return [(h, where) for h in sorted(chosen, key=lambda h: min(order.index(e) for e in h.events
                                                                         if e in events))]

        return [*by_event(rolling, fired & ROLLBACK_EVENTS, revision),
                *by_event(deleting, fired & DELETE_EVENTS, installed),
                *by_event(self.hooks, own, "")]

    @property
    def will_run(self) -> list[Hook]:
        """The hooks the planned change fires, in the order helm runs them (:meth:`runs`)."""
        return [h for h, _ in self.runs()]

    @property
    def tests(self) -> list[Hook]:
        """The ``helm test`` hooks."""
        return [h for h in self.hooks if {"test", "test-success"} & set(h.events)]

    @property
    def tests_that_run(self) -> list[Hook]:
        """The ``helm test`` hooks apply's validation runs (``run_tests``), else none."""
        return self.tests if self.tests_run else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "disabled": self.disabled,
            "will_run": [f"{h.kind}/{h.name}" for h in self.will_run],
            "tests": [f"{h.kind}/{h.name}" for h in self.tests],
            "tests_run": self.tests_run,
            "hooks": [h.to_dict() for h in self.hooks],
            "uninstall_hooks": None if self.uninstall_hooks is None else [h.to_dict() for h in self.uninstall_hooks],
            "rollback_hooks": None if self.rollback_hooks is None else [h.to_dict() for h in self.rollback_hooks],
            "rollback_revision": self.rollback_revision,
            "error": self.error or None,
            "immutable": [c.to_dict() for c in self.immutable],
        }


def release_hooks(
    helm: Helm, change: Change, steps: HelmSteps, rendered: Iterable[ManifestObject], disabled: bool,
    *, run_tests: bool = False,
) -> ReleaseHooks:
    """The hooks ``change`` fires: those of the rendering (``rendered``, as apply renders it), and
    those helm stored with the release it rolls back to or uninstalls (``helm get hooks``), which
    helm runs instead of the chart's; with ``run_tests`` (the release's setting), the ``helm test``
    hooks apply's validation runs after an install or upgrade. One function for ``plan --hooks``
    and ``diff``."""
    name, namespace = change.name, change.namespace
    rollback = None if steps.rollback_to is None else \
        tuple(hooks_in(helm.get_hooks(name, namespace, revision=steps.rollback_to)))
    # after a recovery's rollback, the release uninstalled is the revision it returned to
    uninstall = None if not steps.uninstall else \
        rollback if rollback is not None else tuple(hooks_in(helm.get_hooks(name, namespace)))
    own = tuple(hooks_in(rendered))
    if change.action == "destroy":
        return ReleaseHooks(name, change.action, uninstall or (), disabled, fires=steps.events)
    return ReleaseHooks(name, change.action, own, disabled, uninstall_hooks=uninstall, rollback_hooks=rollback,
                        rollback_revision=steps.rollback_to, fires=steps.events,
                        tests_run=run_tests and bool(steps.then))


@attrs.frozen
class HooksInput:
    """What ``plan --hooks`` needs of its project, and nothing more (``Project.hooks_input()`` builds it)."""

    charts: Mapping[str, HelmChart]
    """The project's charts by release name."""
    project_dir: Path
    redactor: Redactor
    repositories: Mapping[str, str]
    """Repository name -> URL (chart types' defaults, overridden by ``[repositories]``)."""


def plan_hooks(
    project: HooksInput, plan: Plan, helm: Helm, *, all_releases: bool = False, kubectl: KubectlTool | None = None,
) -> dict[str, ReleaseHooks]:
    """Each planned release's hooks, read from its rendering.

    Releases that change are rendered as apply renders them
    (:func:`~firestream_core.ops.render.render_as_apply`, the function ``diff``
    uses: as an install or an upgrade, against the cluster so that ``lookup``
    sees what apply sees; a destroyed one: ``helm get hooks`` of the installed
    release); no-op releases only with ``all_releases``. A release that fails
    to render (as apply would fail) gets ``error``. An upgrade's rendering is
    compared with the installed manifest (``helm get manifest``, as ``diff`` does)
    for immutable fields that change (``immutable``; with ``kubectl``, not for an object the
    cluster no longer holds: :func:`~firestream_core.ops.render.still_there`).
    """
    from firestream_core.ops.render import (
        helm_steps,
        patches,
        planned_chart,
        render_steps,
        still_there,
    )
    from firestream_core.plugin.helpers import add_chart_repository

    repos = project.repositories
    out: dict[str, ReleaseHooks] = {}
    for change in plan.releases:
        if not change.is_change and not all_releases:
            continue
        # the plan's desired state: the values plugins contribute, the version it resolved
        chart = planned_chart(project.charts[change.name], change)
        info = chart.chart_info
        try:
            steps = helm_steps(change, functools.partial(helm.history, change.name, change.namespace))
            rendered: list[ManifestObject] = []
            if steps.then:
                add_chart_repository(helm, info, repos)
                # rendered with hooks even when disabled, to say which will not run; as apply
                # renders it (install or upgrade, against the cluster), as diff does
                shown = attrs.evolve(info, hooks_disabled=False) if info.hooks_disabled else info
                rendered = render_steps(helm, shown, project.project_dir, steps, crds=False)
            found = release_hooks(helm, change, steps, rendered, bool(info.hooks_disabled),
                                  run_tests=chart.settings.run_tests)
            if patches(steps):
                current = split_manifest(helm.get_manifest(change.name, change.namespace))
                refused = still_there(kubectl, immutable_changes(current, rendered, change.namespace))
                found = attrs.evolve(found, immutable=refused)
            out[change.name] = found
        except (HelmError, ValueError) as exc:
            message = project.redactor.redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            out[change.name] = ReleaseHooks(change.name, change.action, (), bool(info.hooks_disabled), message)
    return out


def format_hooks(hooks: Mapping[str, ReleaseHooks]) -> str:
    """The ``Hooks:`` block ``firestream plan --hooks`` prints under the plan."""
    if not hooks:
        return ""
    lines = []
    refused = {name: rh.immutable for name, rh in hooks.items() if rh.immutable}
    if refused:
        lines += ["", "Immutable fields (apply refuses these releases before any change):"]
        for name, found in refused.items():
            lines += [f"  ! {name}: {c.refusal}" for c in found]
            lines.append(f"  ! {name}: {immutable_way_on(found)}")
    lines += ["", "Hooks:"]
    width = max(len(n) for n in hooks)
    for name, rh in hooks.items():
        if rh.error:
            lines.append(f"  {name:<{width}}  unknown: {rh.error}")
            continue
        run = rh.runs()
        if not rh.hooks and not run:
            lines.append(f"  {name:<{width}}  none")
            continue
        events = ", ".join(rh.events) or "no hooks in the chart"
        if rh.disabled:
            runs = "none run (hooks_disabled: --no-hooks)"
        else:
            runs = ("runs " + ", ".join(_shown(h, where) for h, where in run)) if run \
                else f"none run on {rh.action}"
        tests = rh.tests_that_run
        if tests:
            runs += "; then helm test runs " + ", ".join(_shown(h, "run_tests") for h in tests)
        lines.append(f"  {name:<{width}}  {events}; {runs}")
    return "\n".join(lines) + "\n"


def _shown(hook: Hook, where: str) -> str:
    """``Job/x (post-delete)``, or ``Job/x (post-delete, installed release)`` for a hook helm stored."""
    return f"{hook.kind}/{hook.name} ({'/'.join(hook.events)}{', ' + where if where else ''})"


def plan_json_with_hooks(plan: Plan, hooks: Mapping[str, ReleaseHooks], indent: int | None = 2) -> str:
    """``plan.to_json()`` with a ``hooks`` entry per release (None where none were read)."""
    import json

    data = plan.to_dict()
    for release in data.get("releases", []):
        rh = hooks.get(release.get("release"))
        release["hooks"] = rh.to_dict() if rh is not None else None
        release["immutable"] = [c.to_dict() for c in rh.immutable] if rh is not None else None
    return json.dumps(data, indent=indent)


def print_plan_hooks(
    project: HooksInput, plan: Plan, as_json: bool, helm: Helm, kubectl: KubectlTool | None = None
) -> str:
    """What ``firestream plan --hooks`` prints after (or instead of, with ``--json``) the plan."""
    hooks = plan_hooks(project, plan, helm, kubectl=kubectl)
    return plan_json_with_hooks(plan, hooks) + "\n" if as_json else format_hooks(hooks)
