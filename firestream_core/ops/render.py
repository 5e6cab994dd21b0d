"""A planned release rendered as apply will render it: one function for ``diff`` and ``plan --hooks``.

What apply installs depends on how helm renders the chart at that moment,
and a chart can render differently for an install and an upgrade
(``.Release.IsInstall`` / ``.Release.IsUpgrade``) and with the cluster
(``lookup``). So everything that shows what apply will do renders the
planned release the same way:

* from the plan's desired state (:func:`planned_chart`: the values plugins
  contributed, the version a constraint resolved to);
* as an upgrade exactly when apply upgrades the installed release
  (:func:`helm_steps`: not for a ``create``, nor for a ``reinstall``, whose
  install after the uninstall is a fresh one, nor for a recovery that
  uninstalls); the hooks a rollback or an uninstall runs are those helm
  stored, read by :func:`~firestream_core.ops.helm_hooks.release_hooks`;
* by helm itself, as apply's own call made a ``--dry-run=server`` (the
  revision apply records in ``.Release.Revision``, ``lookup`` reading the
  cluster), falling back to ``helm template`` for a ``pending-*`` release
  helm will not dry-run, and to the offline rendering only when the cluster
  cannot render it yet (a kind whose CRD is not installed), by :func:`render_as_apply`.

The same rendering tells which upgrades the API server will refuse because they
change an immutable field (:func:`refused_upgrades`, compared with the manifest
helm holds): ``diff`` and ``plan --hooks`` show them, and apply refuses those
releases before any change. :func:`check_renders` is the one pass plan makes: each
plain upgrade, create and reinstall rendered once, a chart that does not render with
its values (:func:`~firestream_core.tools.helm_errors.chart_render_failure`) refused
like an immutable field.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import HelmCommandError, HelmError, ReleaseLockedError
from firestream_core.tools.manifests import (
    ManifestObject,
    ObjectKey,
    namespaces_used,
    split_manifest,
)

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Change, Plan
    from firestream_core.model import ChartInfo, HelmChart
    from firestream_core.plugin.stage_tools import KubectlTool
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.kubectl import Kubectl
    from firestream_core.tools.manifests import ImmutableChange

__all__ = ["INSTALL", "HelmSteps", "RenderCheck", "check_renders", "helm_steps", "patches", "planned_chart",
           "refused_upgrades", "render_as_apply", "render_steps", "renders_checked", "served_kinds", "still_there",
           "unserved_kind_error"]

log = logging.getLogger("firestream.render")


def planned_chart(chart: HelmChart, change: Change) -> HelmChart:
    """``chart`` as the plan's ``change`` deploys it: with the values plugins contributed and the
    version the plan resolved a constraint to (a copy; ``chart`` is left as it is)."""
    out = copy.deepcopy(chart)
    out.chart_info.plugin_values = copy.deepcopy(dict(change.plugin_values))
    if change.resolved_version is not None:  # the version the plan resolved a constraint to
        out.chart_info.version = change.resolved_version
    return out


@attrs.frozen
class HelmSteps:
    """The helm operations apply carries out for one change, in order, as far as hooks tell them apart.

    :ivar rollback_to: the revision a recovery rolls back to first (helm runs that
        revision's stored ``pre-rollback``/``post-rollback`` hooks), or None.
    :ivar uninstall: the installed release is uninstalled (helm runs its stored
        ``pre-delete``/``post-delete`` hooks): a ``destroy``, a ``reinstall``, a
        recovery with no working revision to return to.
    :ivar then: ``"install"``, ``"upgrade"`` (``.Release.IsUpgrade``), or ``""`` (a destroy).
    :ivar held: helm holds the release's name (it is installed, or ``uninstalled`` with its
        history kept): an install is ``helm install --replace``.
    """

    rollback_to: int | None
    uninstall: bool
    then: str
    held: bool = False

    @property
    def events(self) -> tuple[str, ...]:
        """The hook events these steps make helm fire, in order."""
        return ((("pre-rollback", "post-rollback") if self.rollback_to is not None else ())
                + (("pre-delete", "post-delete") if self.uninstall else ())
                + {"install": ("pre-install", "post-install"), "upgrade": ("pre-upgrade", "post-upgrade")}
                .get(self.then, ()))


def helm_steps(change: Change, history: Callable[[], Sequence[Mapping[str, Any]]] | None = None) -> HelmSteps:
    """What apply's helm calls are for ``change``, by the rules apply follows.

    A ``recover`` rolls back to the revision :func:`~firestream_core.model.recovery_rollback`
    picks from ``history`` (helm's history of the release, read only for a recover; without
    it, a ``pending-install`` at revision 1 is uninstalled and anything else assumed to roll
    back), or uninstalls when there is none; then upgrades, or installs after an uninstall."""
    from firestream_core.model import recovery_rollback

    installed = change.installed
    live = installed is not None and installed.status != "uninstalled"
    if change.action == "destroy":
        return HelmSteps(None, live, "")
    if not live or installed is None:
        return HelmSteps(None, False, "install", held=installed is not None)
    if change.action == "reinstall":
        return HelmSteps(None, True, "install", held=True)
    if change.action != "recover":
        return HelmSteps(None, False, "upgrade", held=True)
    if installed.status == "uninstalling":  # rolled back to the revision the uninstall left
        rollback_to: int | None = installed.revision
    elif history is None:
        first = installed.status == "pending-install" and installed.revision <= 1
        rollback_to = None if first else installed.revision - 1
    else:
        good = recovery_rollback(installed, history)
        rollback_to = None if good is None else int(good.get("revision", 0))
    uninstall = rollback_to is None
    # a breaking step that uninstalls follows the recovery's rollback
    breaking = change.breaking is not None and change.breaking.uninstall
    return HelmSteps(rollback_to, uninstall or breaking, "install" if uninstall or breaking else "upgrade", held=True)


def patches(steps: HelmSteps) -> bool:
    """True when ``steps`` patch the installed release's objects in place (a plain upgrade):
    what its manifest holds is what the API server compares the upgrade with, and an
    immutable field that changes is refused. Not after an uninstall (the objects are created
    anew) nor after a recovery's rollback (another revision's objects are patched)."""
    return steps.then == "upgrade" and not steps.uninstall and steps.rollback_to is None


INSTALL = HelmSteps(None, False, "install")
"""A fresh install: what a release no plan holds is rendered as (a dependency ``diff`` reads)."""


def render_steps(
    helm: Helm, info: ChartInfo, project_dir: Path, steps: HelmSteps, *, crds: bool = True,
    on_offline: Callable[[list[ManifestObject]], None] | None = None,
) -> list[ManifestObject]:
    """What ``steps`` install or upgrade, rendered as apply renders it (:func:`render_as_apply`):
    an upgrade or an install (``install --replace`` where helm holds the name), after a
    recovery's rollback the way that allows. The one reading of :class:`HelmSteps` for
    ``diff`` and ``plan --hooks``."""
    return render_as_apply(helm, info, project_dir, is_upgrade=steps.then == "upgrade", crds=crds,
                           replace=steps.held, after_rollback=steps.rollback_to is not None, on_offline=on_offline)


_UNSERVED_KIND = ("no matches for kind", "resource mapping not found", "ensure CRDs are installed first",
                  "could not find the requested resource")


def unserved_kind_error(exc: HelmError) -> bool:
    """True when helm refused to render against the cluster because a kind is not served yet
    (a CRD this release or a dependency installs): the offline rendering is then the one to use."""
    text = f"{exc} {exc.stderr}"
    return any(p in text for p in _UNSERVED_KIND)


def render_as_apply(
    helm: Helm, info: ChartInfo, project_dir: Path, *, is_upgrade: bool, crds: bool = True, replace: bool = False,
    after_rollback: bool = False, on_offline: Callable[[list[ManifestObject]], None] | None = None,
) -> list[ManifestObject]:
    """The release as apply would render it, by helm itself: the upgrade apply runs, with the
    same arguments, as a ``--dry-run=server`` (:meth:`~firestream_core.tools.helm.Helm.render_release`).
    So ``.Release.Revision`` is the revision apply records (``helm template`` always says 1:
    a migration Job ``NAME-migrate-{{ .Release.Revision }}`` would show as removed and added
    under the wrong name), the chart's ``lookup`` finds what it finds when apply runs
    (bitnami's charts keep the password their Secret holds, and refuse an upgrade that would
    lose it; a hook Job rendered only while a Secret is missing), and an object another
    release owns is refused as apply would refuse it (that error is raised).

    ``is_upgrade``: apply upgrades the installed release (``helm upgrade --install``);
    otherwise it installs. ``replace``: the release's name is held while apply installs (a
    release helm reports ``uninstalled``, which apply installs with ``helm install --replace``;
    a reinstall or a recovery, installed again after their uninstall): rendered as
    ``helm install --replace``, helm's install of a name it holds, revision 1 as after the
    uninstall (helm checks no name on a dry run).

    Rendered with ``helm template --dry-run=server`` (as an install or an upgrade, against
    the cluster, but ``.Release.Revision`` 1) when helm cannot dry-run apply's call: the
    upgrade of a ``pending-*`` release, which helm refuses, and ``after_rollback``, the
    upgrade a recovery runs after its rollback (a dry run now would render the revision
    before that rollback's); offline alone when the cluster cannot render it yet (a kind
    whose CRD is not installed, :func:`unserved_kind_error`).

    ``crds``: the CRDs of the ``crds/`` folder are added, from an offline rendering: helm
    checks them for owners when rendered against the cluster, while apply skips those
    already there (not with ``skip_crds``).

    ``on_offline``: called with the offline rendering, ``crds/`` folder included (unless
    ``skip_crds``), when the cluster could not render it for a kind it does not serve: the
    caller learns that some kind is missing and which CRDs the chart itself brings."""
    try:
        if after_rollback:
            text = helm.template(info, project_dir, include_crds=False, is_upgrade=is_upgrade, server=True)
        else:
            text = _server_rendering(helm, info, project_dir, is_upgrade=is_upgrade, replace=replace)
    except HelmError as server_error:
        if not unserved_kind_error(server_error):
            raise  # what apply would meet (an object another release owns, a chart's fail)
        log.debug("release '%s' has kinds the cluster does not serve yet; rendering it offline", info.name)
        folder = on_offline is not None and not info.skip_crds
        try:
            offline = split_manifest(helm.template(info, project_dir, include_crds=crds or folder,
                                                   is_upgrade=is_upgrade))
        except HelmError:
            raise server_error from None
        if on_offline is not None:
            on_offline(offline)
        return offline if crds or not folder else [o for o in offline if not o.from_crds_folder]
    objects = split_manifest(text)
    if info.skip_crds or not crds:
        return objects
    try:
        offline = split_manifest(helm.template(info, project_dir, include_crds=True, is_upgrade=is_upgrade))
    except HelmError:  # renders only with the cluster (lookup): its crds/ folder is not read
        log.debug("release '%s' does not render offline; its crds/ folder is not compared", info.name)
        return objects
    return [o for o in offline if o.from_crds_folder] + objects


def _server_rendering(helm: Helm, info: ChartInfo, project_dir: Path, *, is_upgrade: bool, replace: bool) -> str:
    """helm's dry run of apply's call; ``helm template --dry-run=server`` for a ``pending-*`` release."""
    try:
        return helm.render_release(info, project_dir, replace=replace and not is_upgrade)
    except ReleaseLockedError:
        # helm dry-runs no upgrade of a pending-* release (apply recovers it first)
        log.debug("release '%s' is pending: rendered with helm template (revision 1)", info.name)
        return helm.template(info, project_dir, include_crds=False, is_upgrade=is_upgrade, server=True)


def served_kinds(kubectl: Kubectl, group_versions: Iterable[str]) -> dict[str, set[str] | None]:
    """group/version -> the kinds the cluster serves in it (None: not served).

    One ``kubectl get --raw /apis/<group>/<version>`` per group/version.
    """
    import json

    out: dict[str, set[str] | None] = {}
    for gv in sorted(set(group_versions)):
        path = f"/apis/{gv}" if "/" in gv else f"/api/{gv}"
        try:
            result = kubectl.run(["kubectl", "get", "--raw", path])
        except HelmCommandError as exc:
            text = f"{exc} {exc.stderr}"
            if "NotFound" in text or "could not find the requested resource" in text or "404" in text:
                out[gv] = None
                continue
            raise
        try:
            data = json.loads(result.stdout or "{}")
        except ValueError:
            out[gv] = None
            continue
        out[gv] = {str(r.get("kind")) for r in data.get("resources") or [] if "/" not in str(r.get("name", ""))}
    return out


def still_there(kubectl: KubectlTool | None, changes: Sequence[ImmutableChange]) -> tuple[ImmutableChange, ...]:
    """``changes`` without those whose object the cluster no longer holds: one deleted (``kubectl
    delete --cascade=orphan``, the way on) is created anew by the upgrade, not patched. One
    ``kubectl get`` per object named, none when there is nothing to check; an object that
    cannot be looked up is kept (the warning stands). Without ``kubectl``: ``changes``."""
    if kubectl is None or not changes:
        return tuple(changes)
    kept = []
    for c in changes:
        kind = f"{c.key.kind.lower()}.{c.key.group}" if c.key.group else c.key.kind.lower()
        try:
            gone = kubectl.get(kind, c.key.name, namespace=c.key.namespace or None) is None
        except HelmError as exc:
            log.debug("cannot look up %s: %s", c.key, exc)
            gone = False
        if not gone:
            kept.append(c)
    return tuple(kept)


@attrs.frozen
class RenderCheck:
    """What rendering one planned change as apply runs it found (:func:`check_renders`).

    :ivar immutable: the objects whose immutable fields a plain upgrade changes (the API
        server refuses the upgrade).
    :ivar unrenderable: helm's reason, on one line and redacted, when the chart does not render
        with these values (a template error, a ``required`` or ``fail``, a ``values.schema.json``
        violation, rendered YAML that does not parse, a missing dependency:
        :func:`~firestream_core.tools.helm_errors.chart_render_failure`): apply would fail there.
    :ivar unchecked: why the rendering could not be checked now, when it failed for another
        reason (the cluster: unreachable, forbidden, a ``lookup``, an object another release
        owns): apply meets, and reports, what helm says then.
    :ivar missing_namespaces: the namespaces other than its own that the rendering puts objects
        in (:func:`~firestream_core.tools.manifests.namespaces_used`) which do not exist and
        which nothing in the plan creates, each with its objects there: helm creates only the
        release's namespace, and fails at the first of them.
    :ivar unserved: the kinds of the rendering the cluster does not serve, ``Kind (group/version)``,
        whose CRD neither the chart (its ``crds/`` folder, a template) nor a release it depends
        on that the plan changes installs: helm refuses to install objects of a kind the
        cluster does not serve (``ensure CRDs are installed first``).
    :ivar crds_deleted: what a plain upgrade deletes with the CRDs its chart no longer renders
        (:func:`~firestream_core.tools.manifests.crds_deleted`): not a refusal, a destructive step.
    :ivar other_namespaces: (within :func:`check_renders` only) every namespace other than its
        own the rendering puts objects in, before the cluster is asked which exist.
    """

    immutable: tuple[ImmutableChange, ...] = ()
    unrenderable: str | None = None
    unchecked: str | None = None
    missing_namespaces: tuple[tuple[str, tuple[ObjectKey, ...]], ...] = ()
    unserved: tuple[str, ...] = ()
    crds_deleted: tuple[str, ...] = ()
    other_namespaces: tuple[tuple[str, tuple[ObjectKey, ...]], ...] = ()

    @property
    def refused(self) -> bool:
        return (bool(self.immutable) or self.unrenderable is not None or bool(self.missing_namespaces)
                or bool(self.unserved))


def renders_checked(change: Change, *, upgrades: bool = True, creates: bool | AbstractSet[str] = True) -> bool:
    """True when :func:`check_renders` renders ``change``: a plain upgrade (:func:`patches`; with
    ``upgrades``), a ``create`` or a ``reinstall`` (with ``creates``: True for all of them, else
    the names of those to render); not one already refused (``Change.problems``: apply stops it
    whatever helm would say)."""
    if not change.is_change or change.action == "destroy" or change.problems:
        return False
    if change.action in ("create", "reinstall"):
        return creates is True or (not isinstance(creates, bool) and change.name in creates)
    return upgrades and patches(helm_steps(change))


def _reason(exc: Exception) -> str:
    """The first line of a failure, for a note (helm's own error when it is one)."""
    if isinstance(exc, HelmError) and exc.stderr:
        from firestream_core.tools.helm_errors import final_error

        said = final_error(exc.stderr).strip()
        if said:
            import re

            return re.sub(r"^(?:Error: )?(?:(?:INSTALLATION|UPGRADE) FAILED: )?", "", said.splitlines()[0])
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def check_renders(
    charts: Mapping[str, HelmChart], plan: Plan, helm: Helm, project_dir: Path, repositories: Mapping[str, str],
    *, workers: int = 4, kubectl: KubectlTool | None = None, upgrades: bool = True,
    creates: bool | AbstractSet[str] = True, redact: Callable[[str], str] = str,
    served: Callable[[Iterable[str]], Mapping[str, set[str] | None]] | None = None,
    plugin_writes: AbstractSet[str] = frozenset(),
) -> dict[str, RenderCheck]:
    """Each planned change :func:`renders_checked` picks, rendered once as apply will run it
    (:func:`render_steps`: helm's dry run of apply's own call), ``workers`` releases at once:
    release -> what was found (releases with nothing to say are left out).

    A plain upgrade is also compared with the manifest helm holds (``helm get manifest``) for
    immutable fields (:func:`~firestream_core.tools.manifests.immutable_changes`; with
    ``kubectl``, an object the cluster no longer holds is left out: :func:`still_there`).
    A rendering that fails because of the chart or its values is ``unrenderable``; any other
    failure is ``unchecked``, left to helm. ``redact`` masks what is kept of helm's words.

    With ``kubectl``, the namespaces other than their own that the renderings put objects in
    (:func:`~firestream_core.tools.manifests.namespaces_used`) are looked up in one call
    (:meth:`~firestream_core.tools.kubectl.Kubectl.namespaces_exist`), none when no rendering
    names one: a namespace that does not exist and that nothing in the plan creates (a
    release's namespace apply creates, a ``Namespace`` object of a rendering) is
    ``missing_namespaces`` (helm would fail there). One that cannot be learned is left to helm.

    A rendering the cluster could not make for a kind it does not serve (rendered offline,
    :func:`render_as_apply`) is checked with ``served`` (:func:`served_kinds`: one discovery
    call per group/version): its kinds the cluster does not serve whose CRD neither the chart
    (its ``crds/`` folder, a template) provides nor a release it depends on (directly or not)
    that the plan changes may install are ``unserved`` (as ``diff`` reports them); not for a
    release in ``plugin_writes``, whose chart plugin writes to the cluster before helm (it may
    install them: ``FirestreamPluginManager.acts_before_helm``)."""
    from concurrent.futures import ThreadPoolExecutor

    from firestream_core.plugin.helpers import add_chart_repository
    from firestream_core.tools.helm_errors import chart_render_failure
    from firestream_core.tools.manifests import crds_deleted, immutable_changes

    def check(change: Change) -> RenderCheck:
        info = planned_chart(charts[change.name], change).chart_info
        steps = helm_steps(change)
        offline: list[list[ManifestObject]] = []
        try:
            add_chart_repository(helm, info, repositories)
            rendered = render_steps(helm, info, project_dir, steps, crds=False, on_offline=offline.append)
        except (HelmError, ValueError) as exc:
            reason = chart_render_failure(exc.stderr) if isinstance(exc, HelmError) else None
            if reason is not None:
                return RenderCheck(unrenderable=redact(reason))
            log.debug("release '%s': rendering not checked: %s", change.name, exc)
            return RenderCheck(unchecked=redact(_reason(exc)))
        # a plugin writing before helm (plugin_writes: its pre_exec, its exec) may install the CRD
        if offline and served is not None and change.name not in plugin_writes \
                and not _changing_dependency(change, by_name):
            unserved = _unserved_kinds(offline[0], served)
            if unserved:
                return RenderCheck(unserved=unserved)
        others = tuple(namespaces_used(rendered, change.namespace).items())
        for o in rendered:
            if o.kind == "Namespace" and not o.api_version.count("/"):
                created.add(o.name)
        if not patches(steps):
            return RenderCheck(other_namespaces=others)
        try:
            current = split_manifest(helm.get_manifest(change.name, change.namespace))
        except (HelmError, ValueError) as exc:
            log.debug("release '%s': immutable fields not checked: %s", change.name, exc)
            return RenderCheck(other_namespaces=others)
        return RenderCheck(immutable=still_there(kubectl, immutable_changes(current, rendered, change.namespace)),
                           crds_deleted=tuple(crds_deleted(current, rendered)), other_namespaces=others)

    picked = [c for c in plan.releases
              if c.name in charts and renders_checked(c, upgrades=upgrades, creates=creates)]
    if not picked:
        return {}
    created: set[str] = {n.name for n in plan.namespaces_to_create}  # and each rendering's Namespace objects
    by_name = {c.name: c for c in plan.releases}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(picked)))) as pool:
        found = dict(zip([c.name for c in picked], pool.map(check, picked), strict=True))
    found = _missing_namespaces(found, created, kubectl)
    return {name: got for name, got in found.items() if got != RenderCheck()}


def _changing_dependency(change: Change, by_name: Mapping[str, Change]) -> bool:
    """True when a release ``change`` depends on (directly or not) is one the plan changes: it may
    install a CRD ``change`` needs before ``change`` runs."""
    seen: set[str] = set()
    todo = list(change.depends_on)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        dep = by_name.get(name)
        if dep is None:
            continue
        if dep.is_change and dep.action != "destroy":
            return True
        todo.extend(dep.depends_on)
    return False


def _unserved_kinds(
    objects: Sequence[ManifestObject], served: Callable[[Iterable[str]], Mapping[str, set[str] | None]]
) -> tuple[str, ...]:
    """The kinds of ``objects`` (hooks included) outside Kubernetes' own groups whose CRD ``objects``
    do not hold and the cluster does not serve, as ``Kind (group/version)``."""
    from firestream_core.tools.manifests import api_group, crds_provided, is_builtin_group

    own = crds_provided(objects)
    needed = {(o.api_version, o.kind) for o in objects
              if o.api_version and not is_builtin_group(api_group(o.api_version))
              and (api_group(o.api_version), o.kind) not in own}
    if not needed:
        return ()
    try:
        kinds = served({gv for gv, _ in needed})
    except HelmError as exc:  # discovery failed: left to helm
        log.debug("served kinds not learned: %s", exc)
        return ()
    return tuple(f"{kind} ({gv})" for gv, kind in sorted(needed) if kind not in (kinds.get(gv) or set()))


def _missing_namespaces(
    found: dict[str, RenderCheck], created: set[str], kubectl: KubectlTool | None
) -> dict[str, RenderCheck]:
    """``found`` with each check's ``other_namespaces`` turned into its ``missing_namespaces``:
    those the cluster says do not exist and nothing in the plan creates (one lookup for all)."""
    wanted = sorted({ns for got in found.values() for ns, _ in got.other_namespaces} - created)
    exists: Mapping[str, bool | None] = {}
    if wanted and kubectl is not None:
        lookup = kubectl.namespaces_exist(wanted)
        exists = lookup.exists
        if lookup.problem:
            log.debug("namespaces the charts name not checked: %s", lookup.problem)
    return {name: attrs.evolve(got, other_namespaces=(), missing_namespaces=tuple(
                (ns, keys) for ns, keys in got.other_namespaces if exists.get(ns) is False))
            for name, got in found.items()}


def refused_upgrades(
    charts: Mapping[str, HelmChart], plan: Plan, helm: Helm, project_dir: Path, repositories: Mapping[str, str],
    *, workers: int = 4, kubectl: KubectlTool | None = None,
) -> dict[str, tuple[ImmutableChange, ...]]:
    """The plan's upgrades the API server will refuse: release -> the objects whose immutable
    fields the upgrade changes (:func:`check_renders` of the plain upgrades alone). A release
    that cannot be rendered or read now is left out: apply meets, and reports, what helm says."""
    found = check_renders(charts, plan, helm, project_dir, repositories, workers=workers, kubectl=kubectl,
                          creates=False)
    return {name: got.immutable for name, got in found.items() if got.immutable}
