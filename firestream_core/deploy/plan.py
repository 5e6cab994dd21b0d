"""Desired state (the config's charts) against actual state (the cluster + the state file).

``make_plan`` decides, for every release of the project (or of the targeted
sub-graph), one action and why:

========== ====================================================================
action     when
========== ====================================================================
create     the release is not deployed (not in ``helm list``, or uninstalled)
upgrade    chart, version or values changed (the values plugins contribute
           included; a version constraint, or no version, is the exact
           version helm resolves it to now), a chart-type option or helm
           setting changed, a local
           chart's files changed, status ``failed``, the last apply failed,
           rolled back by ``firestream rollback``, changed outside
           firestream, or not recorded in state and differing (a local
           chart with no state entry always: its files cannot be compared)
recover    helm reports ``pending-install`` / ``pending-upgrade`` /
           ``pending-rollback`` (an earlier run was killed); its breaking
           step is decided from the version the recovery returns to
reinstall  the upgrade crosses the chart's breaking version that requires an
           uninstall: installed < breaking <= target (semver), the one
           rule exec uses too (:func:`~firestream_core.model.breaking_step`)
destroy    ``action = "destroy"`` and installed, or ``firestream destroy``
no-op      the desired state equals the deployed one (zero helm calls); when the
           state entry is missing or stale but helm already holds the desired
           values (helm finished after firestream was killed), apply records
           it (``record_state``)
========== ====================================================================

Each release's desired state comes from :mod:`firestream_core.deploy.desired`
(one function for plan, apply, template and diff); the state file keeps its
digest and its parts' digests, so a change names its cause (``option
kafka_cluster changed``, ``setting timeout changed``). A release whose helm
status is not ``deployed`` is never a no-op. Releases in
the cluster that the config does not name are never touched. Values are never
part of a plan: a values change is reported by the names of the keys that
changed (``values changed: auth.database, replicaCount``), found by comparing
the values digest recorded in state and, when a ``get_values`` callable is
given, helm's current values with the desired ones; then ``value_changes``
shows each as ``old -> new``, a sensitive value as ``(sensitive)``
(docs/secrets.md). Sensitive values are never part of a plan.

A local chart (``path = "charts/x"``) can change without a version bump:
its content digest (:func:`firestream_core.tools.chartfiles.chart_digest`) is
recorded in state as ``chart_digest``, and a different digest is an
upgrade, ``chart files changed``. A state entry written before firestream
recorded it (no ``chart_digest``), and a release with no state entry at all,
upgrades once, ``chart files not recorded in state``, since what was deployed
from the folder is unknown.

A repository or OCI chart whose config gives a version constraint
(``version = "^0.1"``) or no version is planned at the exact version helm
would install now, resolved in the desired state
(:class:`~firestream_core.deploy.desired.ChartVersions`): the plan says
``version changed 0.1.0 -> 0.1.1 (^0.1)`` when a newer match appeared, even
with nothing else changed; the run installs that version (``--version 0.1.1``),
the state records it, and it is part of the desired digest (a saved plan
carried out after a newer match appeared is refused). A constraint nothing
matches is a problem of the release (``plan`` exits 1, apply refuses it).

The plan is built from exactly one cluster-state call made by the caller
(``helm list -A -a -o json``), plus ``helm get values`` only for releases
whose values digest changed, and for those whose recorded digest cannot say
what helm holds (the last apply failed, a rollback, a revision made outside
firestream): their value changes are listed against helm's values. Resolving
versions adds, per repository of such a chart, one ``helm repo add`` (which
the run's ``pre_exec`` then need not repeat) and one ``helm search repo``
(``helm show chart`` for OCI) per distinct chart and constraint; nothing for a
local chart or an exact version.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.deploy.desired import (
    DesiredState,
    chart_yaml,
    desired_state,
    exact_version,
    part_reasons,
    release_parts,
)
from firestream_core.model import (
    BreakingStep,
    BreakingVersion,
    HelmAction,
    HelmChart,
    InstalledRelease,
    SemVer,
    breaking_step,
    recovery_rollback,
)
from firestream_core.tools.chartfiles import reading_once

if TYPE_CHECKING:
    from firestream_core.graph import ReleaseGraph
    from firestream_core.state.store import ReleaseState, State
    from firestream_core.tools.kubectl import NamespaceLookup

log = logging.getLogger("firestream.plan")

ACTIONS: tuple[str, ...] = ("create", "upgrade", "recover", "reinstall", "destroy", "no-op")
"""Every plan action; all but ``no-op`` change the cluster."""

RENDER_UNCHECKED = "its rendering could not be checked before apply (apply reports what helm says)"
"""How a change's note begins when plan could not render it for a reason not the chart's (the
cluster): ``Project.refuse_before_apply``; ``format_plan`` lists these notes."""

GetValues = Callable[[str, str], Mapping[str, Any]]
"""``get_values(name, namespace) -> dict``: the user-supplied values helm holds."""
GetHistory = Callable[[str, str], Sequence[Mapping[str, Any]]]
"""``(name, namespace) -> helm history``: read for a ``pending-*`` release only."""


@attrs.frozen
class Change:
    """What the plan decided for one release.

    :ivar name: the release name.
    :ivar namespace: the namespace it is (or will be) deployed in.
    :ivar chart_type: the release's chart type (``generic``, ``postgresql``...).
    :ivar action: one of :data:`ACTIONS`.
    :ivar reasons: why, one short sentence each; never a value.
    :ivar changed_keys: dotted names of the values that changed (when known).
    :ivar depends_on: the releases it needs, as configured.
    :ivar installed: the release as the cluster-state call saw it, or None.
    :ivar desired_chart: the chart name the config asks for.
    :ivar desired_version: the exact chart version the release is deployed at: the
        config's, or the one helm resolved its constraint (or missing version) to
        when the plan was made (None: unknown, e.g. no helm to ask).
    :ivar resolved_version: that resolved version when the config gives a
        constraint or no version (None otherwise): the run installs it
        (``--version``), never the constraint.
    :ivar version_constraint: what the config asks for when helm resolved it: the
        constraint as written (``^0.1``), or ``latest`` when the config gives no
        version (None when it names an exact version).
    :ivar breaking: the breaking-version step this change takes
        (:func:`~firestream_core.model.breaking_step`), None when it takes none.
    :ivar destructive: the destructive steps the change takes, one line each
        (pre-upgrade commands with secrets hidden, uninstall before a reinstall).
    :ivar values_digest: digest of the desired values (for the state file;
        not part of :meth:`to_dict`).
    :ivar chart_digest: content digest of a local chart's files (None for a
        repository or OCI chart; for the state file, not part of :meth:`to_dict`).
    :ivar desired_digest: digest of the release's whole desired state
        (:class:`~firestream_core.deploy.desired.DesiredState`): values, chart
        files, options, helm settings.
    :ivar parts: the desired state's parts by name -> digest (for the state file).
    :ivar plugin_values: the values plugins contributed (what the run deploys;
        never shown, not part of :meth:`to_dict`).
    :ivar record_state: a no-op whose state entry is missing or stale: the
        cluster already matches the desired state, and apply records it; or, of a
        release destroyed that helm no longer runs, stale: the run removes it.
    :ivar notes: what plugins said about the desired values in
        ``contribute_values`` (``context.note``); also the last reasons.
    :ivar problems: why the release cannot be deployed as configured
        (``context.refuse``): ``plan`` lists them and exits 1, apply stops the
        release at ``check_prerequisites`` before anything changed.
    :ivar breaking_version: the breaking version a plugin decided in the
        desired state (for the run's exec; not part of :meth:`to_dict`).

    >>> change = Change("web", "default", "generic", "upgrade",
    ...                 reasons=("values changed: replicaCount",), changed_keys=("replicaCount",))
    >>> change.is_change, change.key, change.reason
    (True, 'default/web', 'values changed: replicaCount')
    >>> change.to_dict()["changed_keys"]
    ['replicaCount']
    """

    name: str
    namespace: str
    chart_type: str
    action: str
    reasons: tuple[str, ...] = ()
    changed_keys: tuple[str, ...] = ()
    value_changes: tuple[tuple[str, str, str], ...] = ()
    depends_on: tuple[str, ...] = ()
    installed: InstalledRelease | None = None
    desired_chart: str = ""
    desired_version: str | None = None
    resolved_version: str | None = attrs.field(default=None, repr=False)
    version_constraint: str | None = attrs.field(default=None, repr=False)
    breaking: BreakingStep | None = None
    destructive: tuple[str, ...] = ()
    values_digest: str | None = attrs.field(default=None, repr=False)
    chart_digest: str | None = attrs.field(default=None, repr=False)
    desired_digest: str | None = attrs.field(default=None, repr=False)
    parts: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    plugin_values: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    record_state: bool = False
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    breaking_version: BreakingVersion | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def is_change(self) -> bool:
        """True unless the action is ``no-op``.

        >>> Change("db", "data", "postgresql", "no-op").is_change
        False
        """
        return self.action != "no-op"

    def refused(self, text: str, reason: str | None = None) -> Change:
        """This change, refused: ``refused: <reason>`` first among its reasons (``text`` when no
        shorter ``reason`` is given), ``release '<name>': <text>`` among its problems, which
        stop it in apply (with what depends on it).

        >>> c = Change("db", "data", "generic", "upgrade", ("values changed: x",)).refused("no, because")
        >>> c.reasons, c.problems
        (('refused: no, because', 'values changed: x'), ("release 'db': no, because",))
        """
        return attrs.evolve(self, reasons=(f"refused: {reason or text}", *self.reasons),
                            problems=(*self.problems, f"release '{self.name}': {text}"))

    @property
    def key(self) -> str:
        """The state-file key, ``namespace/name``.

        >>> Change("db", "data", "postgresql", "create").key
        'data/db'
        """
        return f"{self.namespace}/{self.name}"

    @property
    def reason(self) -> str:
        """The reasons joined with a semicolon and a space (``"; "``).

        >>> Change("db", "data", "postgresql", "upgrade", reasons=("chart version changed", "status failed")).reason
        'chart version changed; status failed'
        """
        return "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: names, versions, statuses, key names and value changes (sensitive ones hidden).

        >>> change = Change("db", "data", "postgresql", "upgrade", value_changes=(("auth.password", "(sensitive)", "(sensitive)"),))
        >>> change.to_dict()["value_changes"]
        [{'path': 'auth.password', 'old': '(sensitive)', 'new': '(sensitive)'}]
        """
        inst = self.installed
        return {
            "release": self.name,
            "namespace": self.namespace,
            "chart_type": self.chart_type,
            "action": self.action,
            "reasons": list(self.reasons),
            "changed_keys": list(self.changed_keys),
            "value_changes": [{"path": p, "old": o, "new": n} for p, o, n in self.value_changes],
            "destructive": list(self.destructive),
            "notes": list(self.notes),
            "problems": list(self.problems) if self.is_change else [],  # a no-op is refused nothing
            "depends_on": list(self.depends_on),
            "desired": {"chart": self.desired_chart, "version": self.desired_version,
                        "constraint": self.version_constraint},
            "installed": None if inst is None else {
                "status": inst.status,
                "revision": inst.revision,
                "chart": inst.chart_name,
                "version": inst.chart_version,
            },
        }


CREATED_BY = {"helm": "helm --create-namespace", "plugin": "its plugin's pre_exec"}
"""Who creates a namespace for a release: ``helm`` (``create_namespace = true``: helm's
``--create-namespace``, in exec) or ``plugin`` (the chart type's plugin said so in
``contribute_values``, ``context.creates_namespace()``: its ``pre_exec``, before helm)."""


@attrs.frozen
class NamespaceToCreate:
    """A namespace that does not exist and that apply will create, for the releases installed in it.

    :ivar name: the namespace (never masked).
    :ivar releases: ``(release, created_by)`` of each release planned into it, in plan order;
        ``created_by`` is ``helm`` or ``plugin`` (:data:`CREATED_BY`). The first of them to
        run creates it; the others find it.

    >>> ns = NamespaceToCreate("data", (("db", "plugin"), ("cache", "helm")))
    >>> ns.release_names, ns.describe()
    (('db', 'cache'), 'namespace data (created for db, cache)')
    >>> ns.to_dict()["releases"][0]
    {'release': 'db', 'created_by': 'plugin'}
    """

    name: str
    releases: tuple[tuple[str, str], ...] = ()

    @property
    def release_names(self) -> tuple[str, ...]:
        return tuple(r for r, _ in self.releases)

    def describe(self, most: int = 8) -> str:
        """``namespace data (created for db, cache)``; past ``most`` releases, how many more.

        >>> NamespaceToCreate("bench", tuple((f"r{i}", "helm") for i in range(10))).describe(3)
        'namespace bench (created for r0, r1, r2 and 7 more)'
        """
        names = self.release_names
        shown = ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")
        return f"namespace {self.name} (created for {shown})"

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.name,
                "releases": [{"release": r, "created_by": by} for r, by in self.releases]}


@attrs.frozen
class Plan:
    """Every release's :class:`Change`, in dependency order (reverse for destroy).

    :ivar releases: one entry per planned release, no-ops included.
    :ivar destroy: True for a ``firestream destroy`` plan.
    :ivar targets: the releases asked for (empty: the whole project).
    :ivar deps: release -> the planned releases it depends on (the
        sub-graph the scheduler runs).
    :ivar left_behind: ``(namespace/name, note)`` of each release the state
        records and helm still runs that the config no longer names (renamed,
        moved to another namespace, removed): left as it is, and said so.
    :ivar immutable_checked: its upgrades were rendered and compared with what helm
        holds for immutable fields (``Project.refuse_before_apply``, also named
        ``refuse_immutable``; ``firestream plan`` and apply do it once): a refused one
        carries the refusal in its ``problems``.
    :ivar creates_checked: its creates and reinstalls were rendered too (``firestream plan``,
        interactive ``firestream apply``; not ``apply --yes``): one whose chart does not render
        carries the refusal in its ``problems``.
    :ivar namespaces_to_create: the namespaces that do not exist and that apply creates
        (:class:`NamespaceToCreate`), by name; a release refused for its missing namespace
        (``create_namespace = false``, no plugin creating it) is not counted in it.
    :ivar notes: what the plan says of the whole run, one line each: namespaces whose
        existence could not be learned (RBAC), the namespaces a destroy leaves behind, the
        releases whose state records were made on another cluster (:data:`ELSEWHERE`).

    What :meth:`Project.plan <firestream_core.project.Project.plan>` returns, read the way a
    caller reads it:

    >>> plan = Plan((Change("db", "data", "postgresql", "no-op"),
    ...              Change("web", "default", "generic", "upgrade", reasons=("chart version changed",))))
    >>> plan.has_changes, plan.summary(), len(plan), "web" in plan
    (True, '1 to upgrade, 1 unchanged', 2, True)
    >>> [(c.name, c.action, c.reason) for c in plan.changes]
    [('web', 'upgrade', 'chart version changed')]
    >>> plan["db"].action
    'no-op'
    """

    releases: tuple[Change, ...]
    destroy: bool = False
    targets: tuple[str, ...] = ()
    deps: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    left_behind: tuple[tuple[str, str], ...] = ()
    immutable_checked: bool = attrs.field(default=False, eq=False)
    namespaces_to_create: tuple[NamespaceToCreate, ...] = ()
    notes: tuple[str, ...] = ()
    creates_checked: bool = attrs.field(default=False, eq=False)

    @property
    def changes(self) -> list[Change]:
        """The entries that change the cluster (everything but ``no-op``).

        >>> plan = Plan((Change("db", "data", "postgresql", "no-op"), Change("web", "default", "generic", "create")))
        >>> [c.name for c in plan.changes]
        ['web']
        """
        return [c for c in self.releases if c.is_change]

    @property
    def has_changes(self) -> bool:
        """True when some release changes (apply has work to do).

        >>> Plan((Change("db", "data", "postgresql", "no-op"),)).has_changes
        False
        """
        return any(c.is_change for c in self.releases)

    @property
    def problems(self) -> list[tuple[str, str]]:
        """``(release, problem)`` for each release the plugins refuse to deploy as configured.

        Only a change is refused: apply runs nothing of a ``no-op``, so a problem a plugin
        sees in it (CRDs in the cluster newer than its chart's) stops nothing and is shown
        as a note; ``apply --repair-drift`` turning it into an upgrade makes it a refusal.

        >>> refused = Change("db", "data", "postgresql", "upgrade", problems=("refused: a PostgreSQL major",))
        >>> Plan((refused,)).problems
        [('db', 'refused: a PostgreSQL major')]
        >>> Plan((attrs.evolve(refused, action="no-op"),)).problems
        []
        """
        return [(c.name, p) for c in self.releases if c.is_change for p in c.problems]

    @property
    def to_record(self) -> list[Change]:
        """No-op releases whose state entry is missing or stale: the cluster already holds their
        desired state (helm finished after firestream was killed); apply records them.

        >>> stale = Change("db", "data", "postgresql", "no-op", record_state=True)
        >>> Plan((stale,)).to_record == [stale]
        True
        """
        return [c for c in self.releases if c.record_state and not c.is_change]

    def __getitem__(self, name: str) -> Change:
        for c in self.releases:
            if c.name == name:
                return c
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.releases)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.releases)

    def __len__(self) -> int:
        return len(self.releases)

    def counts(self) -> dict[str, int]:
        """How many releases per action (every action listed, zeros included).

        >>> Plan((Change("web", "default", "generic", "create"),)).counts()["create"]
        1
        """
        out = dict.fromkeys(ACTIONS, 0)
        for c in self.releases:
            out[c.action] = out.get(c.action, 0) + 1
        return out

    def summary(self) -> str:
        """``2 to create, 1 to upgrade, 3 unchanged`` (or ``no changes``).

        >>> Plan((Change("db", "data", "postgresql", "no-op"),)).summary()
        'no changes (1 unchanged)'
        """
        counts = self.counts()
        words = {"create": "to create", "upgrade": "to upgrade", "recover": "to recover",
                 "reinstall": "to reinstall", "destroy": "to destroy", "no-op": "unchanged"}
        parts = [f"{counts[a]} {words[a]}" for a in ACTIONS if counts[a]]
        if not self.has_changes:
            return "no changes" + (f" ({parts[0]})" if parts else "")
        text = ", ".join(parts)
        if self.namespaces_to_create:
            n = len(self.namespaces_to_create)
            text += f"; {n} namespace{'s' if n != 1 else ''} to create"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data (what :meth:`to_json` writes).

        >>> Plan((Change("web", "default", "generic", "create"),)).to_dict()["releases"][0]["action"]
        'create'
        """
        return {
            "destroy": self.destroy,
            "targets": list(self.targets),
            "has_changes": self.has_changes,
            "summary": {a: n for a, n in self.counts().items()},
            "releases": [c.to_dict() for c in self.releases],
            "left_behind": [{"key": key, "note": note} for key, note in self.left_behind],
            "namespaces_to_create": [n.to_dict() for n in self.namespaces_to_create],
            "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The plan as JSON. Holds release names, actions, reasons and key names: never a value.

        >>> text = Plan((Change("web", "default", "generic", "create"),)).to_json()
        >>> json.loads(text)["summary"]["create"], json.loads(text)["releases"][0]["release"]
        (1, 'web')
        """
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)


# -- desired chart identity ---------------------------------------------------------


def desired_chart(chart: HelmChart, project_dir: Path | None = None) -> tuple[str, str | None]:
    """The chart name and exact version the config asks for.

    ``bitnami/postgresql`` -> ``postgresql``; ``oci://host/x/chart`` -> ``chart``;
    a local ``path`` -> the name and version of its ``Chart.yaml`` (what helm
    installs from the folder, even when the chart info names another version). The
    version is None when the config gives none or a constraint (``^1.2``): the
    plan then names the version helm resolved it to
    (:attr:`~firestream_core.deploy.desired.DesiredState.resolved_version`).
    """
    info = chart.chart_info
    version = exact_version(info.version)
    if info.path is not None:
        path = info.path  # a Path (ChartInfo converts it)
        if project_dir is not None and not path.is_absolute():
            path = Path(project_dir) / path
        meta = chart_yaml(path)
        # helm installs the folder's own version, whatever the chart info says (a chart
        # type's default version describes its repository chart)
        name = str(meta.get("name") or info.chart or path.name)
        return name, exact_version(meta.get("version")) or version
    ref = info.chart.rstrip("/")
    return ref.rsplit("/", 1)[-1], version


@functools.lru_cache(maxsize=1024)
def _same_version(a: str, b: str) -> bool:
    """``a`` and ``b`` name the same version (once per pair: most releases of a plan repeat one)."""
    try:
        return SemVer.parse(a) == SemVer.parse(b)
    except ValueError:
        return a.lstrip("v") == b.lstrip("v")


# -- the decision ----------------------------------------------------------------------


def desired_values(chart: HelmChart, project_dir: Path) -> dict[str, Any]:
    """The values helm will hold for ``chart``: its values files, then the generated values."""
    from firestream_core.tools.values import deep_merge, merged_values, read_values_file

    out: dict[str, Any] = {}
    for f in chart.chart_info.values_files:
        p = Path(f)
        out = deep_merge(out, read_values_file(p if p.is_absolute() else project_dir / p))
    return deep_merge(out, merged_values(chart.chart_info))


def _changed_keys(
    chart: HelmChart, installed: InstalledRelease, project_dir: Path, get_values: GetValues | None,
    shown: list[tuple[str, str, str]] | None = None, record: ReleaseState | None = None,
) -> list[str] | None:
    """Keys whose value differs between helm's values and the desired ones (None: unknown).

    ``shown`` receives each changed leaf as ``(path, old, new)``, sensitive
    values as ``(sensitive)`` (:func:`~firestream_core.tools.sensitivity.value_changes`);
    helm's value at a path ``record`` says was a secret when applied is sensitive
    too, even once the config no longer declares it.
    """
    if get_values is None:
        return None
    from firestream_core.tools.sensitivity import secret_file_paths, value_changes
    from firestream_core.tools.values import changed_keys

    try:
        current = dict(get_values(installed.name, installed.namespace) or {})
        desired = desired_values(chart, project_dir)
    except Exception as exc:  # noqa: BLE001 - any failure only makes the keys unknown
        log.debug("cannot compare values of %s: %s", installed.name, type(exc).__name__)
        return None
    if shown is not None:
        shown.extend(value_changes(current, desired, patterns=chart.settings.sensitive_keys,
                                   secret_paths=secret_file_paths(chart.chart_info),
                                   old_secret_paths=(record.secret_paths or ()) if record else ()))
    return list(changed_keys(current, desired))


def _identity(chart: HelmChart, installed: InstalledRelease | None, project_dir: Path) -> dict[str, Any]:
    """The fields every :class:`Change` of ``chart`` carries: who, where, and what is asked."""
    info = chart.chart_info
    want_chart, want_version = desired_chart(chart, project_dir)
    return {
        "name": info.name,
        "namespace": info.namespace_name,
        "chart_type": chart.chart_type,
        "depends_on": tuple(info.depends_on),
        "installed": installed,
        "desired_chart": want_chart,
        "desired_version": want_version,
    }


NOT_DEPLOYED_FORGOTTEN = "not deployed; its state entry is removed"
"""The no-op of a destroyed release helm no longer runs (uninstalled by hand) that the state still
records: the run removes the entry (``Change.record_state``), or ``status`` says it was applied."""


SKIP_KEPT = "action is skip: destroy leaves it as it stands (set action = \"deploy\" to let destroy remove it)"
"""The reason of a release whose ``action`` is ``skip`` in a destroy plan: destroy does not uninstall it."""


def _destroy_or_skip(
    chart: HelmChart, installed: InstalledRelease | None, destroy: bool, base: dict[str, Any],
    recorded: bool = False,
) -> Change | None:
    """The change of a release that is destroyed or skipped, None for a deploy."""
    info = chart.chart_info
    live = installed is not None and installed.status != "uninstalled"
    if destroy and info.action is HelmAction.SKIP and live:  # skip: left as it stands, by destroy too
        return Change(action="no-op", reasons=(SKIP_KEPT,), **base)
    if destroy or info.action is HelmAction.DESTROY:
        if not live:
            if recorded:
                return Change(action="no-op", reasons=(NOT_DEPLOYED_FORGOTTEN,), record_state=True, **base)
            return Change(action="no-op", reasons=("not deployed",), **base)
        why = "destroy requested" if destroy else "action is destroy"
        return Change(action="destroy", reasons=(why,), **base)
    if info.action is HelmAction.SKIP:
        return Change(action="no-op", reasons=("action is skip",), **base)
    return None


def _kept_without(changes: list[Change], deps: Mapping[str, Sequence[str]]) -> list[Change]:
    """A destroy's releases with ``action = "skip"`` (kept) that lose what they depend on: each
    says so, naming the releases the destroy removes under it.

    >>> kept = Change("app", "web", "generic", "no-op", (SKIP_KEPT,))
    >>> gone = Change("base", "web", "generic", "destroy", ("destroy requested",))
    >>> _kept_without([kept, gone], {"app": ["base"], "base": []})[0].reasons[1]
    "its dependency 'base' is destroyed: it stays, without it"
    """
    destroyed = {c.name for c in changes if c.action == "destroy"}
    out = []
    for change in changes:
        lost = [d for d in deps.get(change.name, ()) if d in destroyed] if SKIP_KEPT in change.reasons else []
        if lost:
            names = ", ".join(f"'{d}'" for d in lost)
            one = len(lost) == 1
            change = attrs.evolve(change, reasons=(
                *change.reasons,
                f"its {'dependency' if one else 'dependencies'} {names} {'is' if one else 'are'} destroyed: "
                f"it stays, without {'it' if one else 'them'}"))
        out.append(change)
    return out


def _release_reasons(installed: InstalledRelease, base: Mapping[str, Any], asked: str | None = None) -> list[str]:
    """What differs in the release itself: its status, chart or version.

    ``asked``: the config's version when helm resolved it (``^0.1``, "" for none), named
    after the version (``version changed 0.1.0 -> 0.1.1 (^0.1)``).
    """
    reasons = []
    if installed.status != "deployed":
        reasons.append(f"status is {installed.status}")
    want_chart, want_version = base["desired_chart"], base["desired_version"]
    have_chart, have_version = installed.chart_name, installed.chart_version
    if have_chart != want_chart:
        reasons.append(f"chart changed {have_chart} -> {want_chart}")
    if want_version and have_version and not _same_version(have_version, want_version):
        why = "" if asked is None else f" ({asked or 'latest'})"
        reasons.append(f"version changed {have_version} -> {want_version}{why}")
    return reasons


def _files_reasons(files_digest: str | None, files_problem: str | None, record: ReleaseState | None) -> list[str]:
    """A local chart's files: unreadable, changed, or never recorded.

    With no record at all (the state lost, a new environment's state, a release
    helm made) the files the cluster runs cannot be compared, even when helm
    holds the desired values: the release upgrades once, as an entry that
    predates ``chart_digest`` does. A repository chart is named by its version.
    """
    if files_problem:
        return [files_problem]
    if files_digest is None:
        return []
    recorded = record.chart_digest if record is not None else None
    if recorded is None:
        return ["chart files not recorded in state"]
    return ["chart files changed"] if recorded != files_digest else []


def _values_reasons(
    chart: HelmChart,
    installed: InstalledRelease,
    record: ReleaseState | None,
    desired: DesiredState,
    *,
    project_dir: Path,
    get_values: GetValues | None,
    shown: list[tuple[str, str, str]] | None = None,
) -> tuple[list[str], list[str], bool]:
    """(reasons, changed keys, helm holds the desired values) about the values.

    The last item is True when the recorded digest is missing or stale but
    helm's values are exactly the desired ones (helm finished what a killed
    run started, or the state predates a digest change): no change, the
    state only needs recording.
    """
    if desired.values_problem:
        return [desired.values_problem], [], False
    if record is None:
        found = _changed_keys(desired.chart, installed, project_dir, get_values, shown, record)
        if found is None:
            return ["not recorded in state: values unknown"], [], False
        return (["values changed: " + ", ".join(found)], found, False) if found else ([], [], True)
    reasons: list[str] = []
    rolled_back = record.action == "rollback"
    # the rollback's record keeps the digests of the apply before it: the cluster runs an
    # older revision's chart and values, compared below with the config's
    back = rolled_back and record.result == "succeeded"
    if not back and record.result != "succeeded":
        stage = record.stage_failed
        what = "rollback" if rolled_back else "apply"
        reasons.append(f"last {what} {record.result}" + (f" in {stage}" if stage else ""))
    # after a failed apply (helm rolled back, or stopped half-way), a rollback, or a revision
    # made outside firestream, the recorded digest says nothing of what helm holds: compare
    unsure = back or bool(reasons) or (record.revision is not None and installed.revision != record.revision)
    if record.values_digest == desired.values_digest and not unsure:
        return reasons, [], False
    found = _changed_keys(desired.chart, installed, project_dir, get_values, shown, record)
    if back:
        return _rolled_back_reasons(record, desired, found)
    if found == [] and record.values_digest != desired.values_digest:
        return reasons, [], True
    if found or record.values_digest != desired.values_digest:
        reasons.append("values changed: " + ", ".join(found) if found else "values changed")
    return reasons, found or [], False


ELSEWHERE = ("the state's records of {names} were made on {recorded}, not on this cluster ({cluster}): "
             "planned from what helm holds here")
"""The plan's note on releases whose records a run on another cluster made (``make_plan``'s ``cluster``)."""

ROLLED_BACK = "rolled back to an earlier revision by 'firestream rollback' (revision {revision})"


def _rolled_back_reasons(
    record: ReleaseState, desired: DesiredState, found: list[str] | None
) -> tuple[list[str], list[str], bool]:
    """:func:`_values_reasons` after a ``firestream rollback``: the cluster runs an earlier
    revision, and what the plan says depends on how it compares with the config.

    * values that differ from the config's (or cannot be read): an upgrade, "the config is
      not what runs", the values named;
    * the config's values on a local chart: an upgrade all the same, since the files that
      revision was made from cannot be compared with the chart folder's;
    * the config's values on a repository or OCI chart: nothing of the rollback to undo (the
      chart version is compared by the caller): no reason, and the state is recorded.
    """
    rolled = ROLLED_BACK.format(revision=record.revision)
    if found is None:  # helm's values not read: nothing says the revision is the config's
        return [f"{rolled}: the config is not what runs"], [], False
    if found:
        return [f"{rolled}: the config is not what runs", "values changed: " + ", ".join(found)], found, False
    if desired.chart_digest is not None or desired.files_problem:
        return [f"{rolled}: its values are the config's, but its chart files cannot be compared with the "
                "local chart's"], [], False
    return [], [], True


def _outside_reason(installed: InstalledRelease, record: ReleaseState | None) -> list[str]:
    """A revision helm made that firestream did not record.

    Not after a failed (or interrupted) apply or rollback: its record keeps the
    revision before it, and the revisions helm made since are that run's own (a
    failed upgrade and its atomic rollback), which "last apply failed" says.
    """
    if record is None or record.result != "succeeded":
        return []
    rev = record.revision
    if rev is not None and installed.revision != rev:
        return [f"changed outside firestream (revision {installed.revision} in the cluster, {rev} recorded)"]
    return []


ExtraSteps = Callable[[HelmChart, BreakingStep], Sequence[str]]
"""``(chart, step) -> lines``: destructive steps a chart type's exec adds to a breaking step."""

DestroySteps = Callable[[HelmChart], Sequence[str]]
"""``chart -> lines``: what a chart type's hooks remove besides helm's uninstall when the release is destroyed."""


def _recovery_step(installed: InstalledRelease) -> str:
    """What unlocking a ``pending-*`` release takes (``deploy/recovery.py``'s ``recover_pending``)."""
    if installed.status == "uninstalling":
        return (f"roll back release '{installed.name}' to revision {installed.revision} (an uninstall "
                "did not finish), then upgrade")
    if installed.status == "pending-install" and installed.revision <= 1:
        return f"uninstall release '{installed.name}' (pending-install, nothing to return to), then install it"
    return (f"roll back release '{installed.name}' to its last deployed revision below {installed.revision} "
            "(uninstall when there is none), then upgrade")


def _recovered_version(installed: InstalledRelease, get_history: GetHistory | None) -> str | None:
    """The chart version a ``pending-*`` release is at once recovered (``recover_pending``): that
    of the revision it rolls back to (:func:`~firestream_core.model.recovery_rollback`), None when
    it is uninstalled (it is then installed afresh: no breaking step). Without ``get_history``,
    or for an uninstall that did not finish (rolled back to its own revision): its own."""
    if get_history is None or installed.status == "uninstalling":
        return installed.chart_version
    good = recovery_rollback(installed, lambda: get_history(installed.name, installed.namespace))
    if good is None:
        return None
    return attrs.evolve(installed, chart=str(good.get("chart", ""))).chart_version


def _with_breaking(
    base: dict[str, Any],
    step: BreakingStep | None,
    redact: Callable[[str], str] | None,
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``base`` plus the breaking-version step and the destructive steps it shows."""
    if step is None:
        return base
    return {**base, "breaking": step, "destructive": (*step.steps(base["name"], redact), *extra)}


def _extra_steps(chart: HelmChart, step: BreakingStep | None, extra_steps: ExtraSteps | None) -> tuple[str, ...]:
    if step is None or extra_steps is None:
        return ()
    return tuple(str(line) for line in extra_steps(chart, step) or ())


def _unchanged(
    base: dict[str, Any], installed: InstalledRelease, record: ReleaseState | None, matches: bool
) -> Change:
    """The no-op of a release whose cluster state is the desired one; recorded when the state lags."""
    if record is None:
        return Change(action="no-op", reasons=("matches the cluster (not yet recorded in state)",),
                      record_state=True, **base)
    rev = record.revision
    stale = rev is not None and rev != installed.revision
    if record.action == "rollback" and record.result == "succeeded" and not stale:
        why = (f"matches the config: {ROLLED_BACK.format(revision=rev)}, whose chart version and values "
               "are the config's")
        return Change(action="no-op", reasons=(why,), record_state=True, **base)
    if matches or stale or record.desired_digest != base.get("desired_digest"):
        why = (f"matches the cluster (state was stale: revision {rev} recorded, {installed.revision} in "
               "the cluster)") if stale else "up to date"
        return Change(action="no-op", reasons=(why,), record_state=True, **base)
    return Change(action="no-op", reasons=("up to date",), **base)


def plan_release(
    chart: HelmChart,
    installed: InstalledRelease | None,
    record: ReleaseState | None,
    *,
    project_dir: Path,
    destroy: bool = False,
    get_values: GetValues | None = None,
    redact: Callable[[str], str] | None = None,
    desired: DesiredState | None = None,
    extra_steps: ExtraSteps | None = None,
    get_history: GetHistory | None = None,
) -> Change:
    """The :class:`Change` for one release (see the module docstring for the rules).

    :param desired: the release's desired state (:func:`~firestream_core.deploy.desired.desired_states`:
        with the values plugins contribute); computed from ``chart`` alone when None.
    :param extra_steps: the destructive steps the chart type adds to a breaking
        step (``ChartType.destructive_steps``), listed after the step's own.
    :param get_history: ``helm history``, for a ``pending-*`` release: its recovery rolls
        back to an earlier revision, whose chart version the breaking-version step is
        decided from, as exec decides it after the recovery (without it: the pending one's).
    """
    change = _plan_release(chart, installed, record, project_dir=project_dir, destroy=destroy,
                           get_values=get_values, redact=redact, desired=desired, extra_steps=extra_steps,
                           get_history=get_history)
    if desired is None or change.action == "destroy" or chart.chart_info.action is not HelmAction.DEPLOY:
        return change
    if not (desired.problems or desired.notes or desired.steps or desired.breaking_version is not None):
        return change  # the plugins said nothing to add
    refused = "; ".join(p.removeprefix(f"release '{change.name}': ") for p in desired.problems)
    # a no-op runs nothing: what a plugin would refuse stops nothing now (Plan.problems), and
    # is said as what a change of it meets
    said: dict[str, Any] = {"reasons": (*([f"refused: {refused}"] if refused and change.is_change else []),
                        *change.reasons,
                        *([f"a change of it would be refused: {refused}"] if refused and not change.is_change else []),
                        *desired.notes),
            "notes": desired.notes, "problems": desired.problems}
    # exec's own steps run only when the release changes; a breaking step's lines from the chart
    # type (ChartType.destructive_steps) already tell what its exec does then
    if change.is_change and desired.steps and (change.breaking is None or extra_steps is None):
        said["destructive"] = tuple(dict.fromkeys((*change.destructive, *desired.steps)))
    if desired.breaking_version is not None:
        said["breaking_version"] = desired.breaking_version
    return attrs.evolve(change, **said)


def _plan_release(
    chart: HelmChart,
    installed: InstalledRelease | None,
    record: ReleaseState | None,
    *,
    project_dir: Path,
    destroy: bool,
    get_values: GetValues | None,
    redact: Callable[[str], str] | None,
    desired: DesiredState | None,
    extra_steps: ExtraSteps | None,
    get_history: GetHistory | None = None,
) -> Change:
    base = _identity(chart, installed, project_dir)
    early = _destroy_or_skip(chart, installed, destroy, base, recorded=record is not None)
    if early is not None:
        return early
    if desired is None:
        desired = desired_state(chart, project_dir=project_dir)
    base.update(values_digest=desired.values_digest, chart_digest=desired.chart_digest,
                desired_digest=desired.digest, parts=dict(desired.parts),
                plugin_values=desired.plugin_values)
    asked = None
    if desired.resolved_version is not None:  # a constraint (or no version) helm resolved
        # (a local chart's is its Chart.yaml's: nothing was asked of helm)
        asked = None if chart.chart_info.path is not None else str(chart.chart_info.version or "").strip()
        base.update(desired_version=desired.resolved_version, resolved_version=desired.resolved_version)
        if asked is not None:
            base.update(version_constraint=asked or "latest")
    if installed is None or installed.status == "uninstalled":
        why = "not deployed" if installed is None else f"not deployed (status is {installed.status})"
        return Change(action="create", reasons=(why,), **base)
    # a plugin may decide the breaking version in the desired state (a reinstall the user chose)
    bv = desired.chart.chart_info.last_breaking_version_requiring_restart
    # exec decides the step on the release as the recovery of a pending one leaves it
    from_version = _recovered_version(installed, get_history) if installed.is_pending else installed.chart_version
    step = breaking_step(bv, from_version, base["desired_version"])
    extra = _extra_steps(chart, step, extra_steps)
    if installed.is_pending:
        fields = _with_breaking(base, step, redact, extra)
        fields["destructive"] = (_recovery_step(installed), *fields.get("destructive", ()))
        return Change(action="recover", reasons=(f"status is {installed.status}",), **fields)

    reasons = _release_reasons(installed, base, asked)
    reasons += _files_reasons(desired.chart_digest, desired.files_problem, record)
    shown: list[tuple[str, str, str]] = []
    found, keys, matches = _values_reasons(chart, installed, record, desired,
                                           project_dir=project_dir, get_values=get_values, shown=shown)
    reasons += found
    if record is not None:
        reasons += part_reasons(record.desired_parts, desired.parts)
    reasons += [r for r in desired.out_of_date if r not in reasons]  # what only a plugin sees
    if not matches:  # a revision helm made without firestream comes first, whatever else differs
        reasons = [*_outside_reason(installed, record), *reasons]
    if not reasons:
        return _unchanged(base, installed, record, matches)
    fields = _with_breaking(base, step, redact, extra)
    if step is not None:
        reasons.insert(0, step.describe())
    action = "reinstall" if step is not None and step.uninstall else "upgrade"
    return Change(action=action, reasons=tuple(reasons), changed_keys=tuple(keys),
                  value_changes=tuple(shown), **fields)


@reading_once()  # a chart folder several releases share is read once per plan
def make_plan(
    charts: Sequence[HelmChart],
    installed: Iterable[InstalledRelease],
    state: State | None,
    *,
    project_dir: Path | str,
    targets: Iterable[str] | None = None,
    include_deps: bool = False,
    destroy: bool = False,
    get_values: GetValues | None = None,
    graph: ReleaseGraph | None = None,
    redact: Callable[[str], str] | None = None,
    desired: Mapping[str, DesiredState] | None = None,
    extra_steps: ExtraSteps | None = None,
    get_history: GetHistory | None = None,
    destroy_steps: DestroySteps | None = None,
    namespaces: Callable[[], NamespaceLookup] | None = None,
    cluster: str | None = None,
) -> Plan:
    """Compare ``charts`` with the cluster (``installed``) and ``state``.

    :param charts: the project's releases (``build_charts`` output), config order.
    :param installed: the one cluster-state call's result (``Helm.list_releases()``).
    :param state: the state file's ``State`` (``.releases`` keyed ``namespace/name``);
        None: nothing recorded.
    :param project_dir: the folder of ``firestream.toml`` (relative paths).
    :param targets: plan only these releases (None: all).
    :param include_deps: with ``targets``, also their dependencies (for
        ``destroy``: also their dependents, which cannot outlive them).
    :param destroy: plan the removal of every (targeted) release.
    :param get_values: ``helm get values`` to name the keys that changed.
    :param graph: a prebuilt ``ReleaseGraph`` (built from ``charts`` when None).
    :param redact: hides secrets in the destructive steps' text (pre-upgrade commands).
    :param desired: release name -> desired state (with the plugins' contributed
        values, :func:`~firestream_core.deploy.desired.desired_states`); a
        release missing from it is computed from its chart alone.
    :param extra_steps: the chart types' destructive steps (``ChartType.destructive_steps``).
    :param get_history: ``helm history``, read for a ``pending-*`` release only (the version
        its recovery returns to decides the breaking-version step).
    :param destroy_steps: what the chart types remove besides helm's uninstall when a
        release is destroyed (``ChartType.destroy_steps``): a ``destroy`` change lists
        them as its destructive steps.
    :param namespaces: which of :func:`namespaces_to_check`'s namespaces exist (a
        :class:`~firestream_core.tools.kubectl.NamespaceLookup`), called once, after every
        release was planned, and only when a change installs into a namespace no listed
        release lives in (the caller starts the read early and this waits for it); None:
        the plan says nothing of namespaces (no ``namespaces_to_create``, no refusal).
    :param cluster: the API server ``installed`` was read from (the kubeconfig's): a release
        whose record was made on another one (one state used with two kubeconfigs) is planned
        as if it had none, from what helm holds, and says so in a note; None: not known.
    :return: the :class:`Plan`, in dependency order (reverse for destroy).
    """
    from firestream_core.graph import build_graph

    project_dir = Path(project_dir)
    full = graph if graph is not None else build_graph(charts)
    wanted = list(dict.fromkeys(targets or ()))
    sub = full
    if wanted:
        if destroy and include_deps:
            extra = [d for t in wanted for d in full.dependents(t)]
            sub = full.subgraph([*wanted, *extra], include_deps=False)
        else:
            sub = full.subgraph(wanted, include_deps=include_deps)
    by_name = {c.chart_info.name: c for c in charts}
    recorded = state.releases if state is not None else {}
    live = {r.key: r for r in installed}
    order = sub.reverse_order() if destroy else sub.order()
    changes = []
    foreign: dict[str, list[str]] = {}  # server -> releases whose record a run there made
    for name in order:
        chart = by_name[name]
        ns = chart.chart_info.namespace_name
        record = recorded.get(f"{ns}/{name}")
        elsewhere = record is not None and record.made_elsewhere(cluster)
        changes.append(
            plan_release(
                chart,
                live.get((ns, name)),
                None if elsewhere else record,
                project_dir=project_dir,
                destroy=destroy,
                get_values=get_values,
                redact=redact,
                desired=(desired or {}).get(name),
                extra_steps=extra_steps,
                get_history=get_history,
            )
        )
        if elsewhere and record is not None:
            foreign.setdefault(str(record.cluster), []).append(name)
        if destroy_steps is not None and changes[-1].action == "destroy":
            lines = tuple(dict.fromkeys(str(line) for line in destroy_steps(chart) or ()))
            if lines:
                changes[-1] = attrs.evolve(changes[-1], destructive=(*changes[-1].destructive, *lines))
    if wanted and not destroy:
        changes = [_refuse_missing_dependencies(c, full, sub, by_name, live) for c in changes]
    if not destroy:
        blocked_on = _skipped_dependencies(changes, {n: tuple(sub.deps[n]) for n in sub.names},
                                     lambda n: by_name[n].chart_info.action)
        changes = [_refuse_blocked(c, blocked_on[c.name]) if c.name in blocked_on else c for c in changes]
    to_create: tuple[NamespaceToCreate, ...] = ()
    notes: tuple[str, ...] = ()
    if destroy:
        changes = _kept_without(changes, full.deps)
        notes = _namespaces_left(changes)
    elif namespaces is not None:
        changes, to_create, notes = _plan_namespaces(changes, by_name, desired or {}, live, namespaces,
                                                     {n: tuple(sub.deps[n]) for n in sub.names})
    notes += tuple(ELSEWHERE.format(names=", ".join(names), recorded=server, cluster=cluster)
                   for server, names in foreign.items())
    return Plan(
        releases=tuple(changes),
        destroy=destroy,
        targets=tuple(wanted),
        deps={n: tuple(sub.deps[n]) for n in sub.names},
        left_behind=_left_behind(charts, recorded, live) if not wanted else (),
        namespaces_to_create=to_create,
        notes=notes,
    )


def namespaces_to_check(
    charts: Iterable[HelmChart], installed: Iterable[InstalledRelease], *,
    names: Iterable[str] | None = None, destroy: bool = False,
) -> list[str]:
    """The namespaces a plan must ask the cluster about, before any release is planned: those
    of the releases it may install (``action = "deploy"``; among ``names`` when given) where
    no release helm lists lives. A release helm lists keeps its record in its namespace
    (helm's Secret storage), so helm's own list proves that namespace exists: an upgrade,
    recovery or reinstall of an installed release asks nothing, and a release whose
    namespace was deleted (its record with it) is a create again. Empty for a destroy plan.

    >>> from firestream_core.model import ChartInfo, HelmChart
    >>> charts = [HelmChart(ChartInfo(name="db", namespace="data")), HelmChart(ChartInfo(name="web", namespace="apps"))]
    >>> seen = [InstalledRelease(name="api", namespace="apps", revision=1, status="deployed", chart="api-1.0.0")]
    >>> namespaces_to_check(charts, seen)
    ['data']
    >>> namespaces_to_check(charts, seen, names=["web"]), namespaces_to_check(charts, [], destroy=True)
    ([], [])
    """
    if destroy:
        return []
    lived = {r.namespace for r in installed}
    wanted = None if names is None else set(names)
    out: dict[str, None] = {}
    for chart in charts:
        info = chart.chart_info
        if info.action is not HelmAction.DEPLOY or (wanted is not None and info.name not in wanted):
            continue
        try:
            ns = info.namespace_name
        except ValueError:  # an invalid namespace: validation reports it
            continue
        if ns not in lived:
            out[ns] = None
    return list(out)


def _namespace_refusal(change: Change) -> Change:
    text = (f"namespace '{change.namespace}' does not exist and create_namespace is false (nothing else "
            "creates it): create it first, or set create_namespace = true")
    return change.refused(text)


def _plan_namespaces(
    changes: list[Change], by_name: Mapping[str, HelmChart], desired: Mapping[str, DesiredState],
    live: Mapping[tuple[str, str], InstalledRelease], namespaces: Callable[[], NamespaceLookup],
    deps: Mapping[str, Sequence[str]],
) -> tuple[list[Change], tuple[NamespaceToCreate, ...], tuple[str, ...]]:
    """The namespaces apply creates, the releases refused for a namespace nothing creates, and a
    note for the namespaces whose existence could not be learned. ``namespaces`` is called only
    when a change installs into a namespace no listed release lives in. A release apply stops
    (refused, or depending on one refused: ``deps``) creates no namespace and is not counted."""
    lived = {ns for ns, _ in live}
    asked = [c for c in changes if c.is_change and c.action != "destroy" and c.namespace not in lived]
    if not asked:
        return changes, (), ()
    lookup = namespaces()
    missing: list[tuple[Change, str]] = []
    unknown: dict[str, None] = {}
    refused: set[str] = set()
    for c in asked:
        exists = lookup.exists.get(c.namespace)
        if exists:
            continue
        if exists is None:
            unknown[c.namespace] = None
            continue
        state = desired.get(c.name)
        by = ("plugin" if state is not None and state.creates_namespace
              else "helm" if by_name[c.name].chart_info.create_namespace else None)
        if by is None:
            refused.add(c.name)
        else:
            missing.append((c, by))
    if refused:
        changes = [_namespace_refusal(c) if c.name in refused else c for c in changes]
    stopped = _stopped({c.name for c in changes if c.problems and c.is_change}, deps)
    creating: dict[str, list[tuple[str, str]]] = {}
    for c, by in missing:
        if c.name not in stopped:
            creating.setdefault(c.namespace, []).append((c.name, by))
    notes: tuple[str, ...] = ()
    if unknown:
        names = ", ".join(unknown)
        one = len(unknown) == 1
        why = f" ({lookup.problem})" if lookup.problem else ""
        notes = (f"could not learn whether namespace{'' if one else 's'} {names} exist{'s' if one else ''}{why}: "
                 "apply creates a missing one where the release sets create_namespace (helm "
                 "--create-namespace), and helm fails where it does not",)
    return changes, tuple(NamespaceToCreate(ns, tuple(rs)) for ns, rs in creating.items()), notes


def _stopped(refused: set[str], deps: Mapping[str, Sequence[str]]) -> set[str]:
    """``refused`` and every release that depends on one of them, through any chain: apply stops
    them all before any change (a failure skips its dependents).

    >>> sorted(_stopped({"db"}, {"db": (), "api": ("db",), "web": ("api",), "cache": ()}))
    ['api', 'db', 'web']
    """
    out = set(refused)
    grew = bool(out)
    while grew:
        more = {n for n, ds in deps.items() if n not in out and any(d in out for d in ds)}
        out |= more
        grew = bool(more)
    return out


def _namespaces_left(changes: Sequence[Change]) -> tuple[str, ...]:
    """A destroy plan's one note: the namespaces of the releases it removes stay."""
    left = sorted({c.namespace for c in changes if c.action == "destroy"} - BUILT_IN_NAMESPACES)
    if not left:
        return ()
    one = len(left) == 1
    return (f"firestream never deletes a namespace: {', '.join(left)} stay{'s' if one else ''}, "
            f"with anything else in {'it' if one else 'them'}",)


BUILT_IN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
"""The cluster's own namespaces: nobody expects a destroy to remove them, so its note leaves them out."""


def blocked_by_skipped(
    changes: Sequence[Change], deps: Mapping[str, Sequence[str]], action_of: Callable[[str], HelmAction],
) -> dict[str, str]:
    """The changes apply cannot run because a release they depend on has action ``skip`` and
    is not deployed (absent, uninstalled, failed or pending), name -> why; through a dependent
    that changes too, never through one helm already runs unchanged (a no-op dependent has
    what it needs). One function for the plan, which refuses them, and apply, which skips them.

    >>> from firestream_core.model import HelmAction
    >>> cs = [Change("base", "ns", "generic", "no-op"), Change("mid", "ns", "generic", "create"),
    ...       Change("top", "ns", "generic", "create"), Change("other", "ns", "generic", "no-op")]
    >>> deps = {"base": (), "mid": ("base",), "top": ("mid",), "other": ("base",)}
    >>> blocked_by_skipped(cs, deps, lambda n: HelmAction.SKIP if n == "base" else HelmAction.DEPLOY)
    {'mid': "dependency 'base' is not deployed (action is skip)", 'top': "dependency 'base' is not deployed (action is skip)"}
    """
    return {n: skipped_dependency(dep) for n, dep in _skipped_dependencies(changes, deps, action_of).items()}


def _skipped_dependencies(
    changes: Sequence[Change], deps: Mapping[str, Sequence[str]], action_of: Callable[[str], HelmAction],
) -> dict[str, str]:
    """:func:`blocked_by_skipped` as name -> the skipped release it waits for, in the plan's order."""
    by_name = {c.name: c for c in changes}
    dependents: dict[str, list[str]] = {}
    for n, ds in deps.items():
        for d in ds:
            dependents.setdefault(d, []).append(n)
    out: dict[str, str] = {}
    for c in changes:
        live = c.installed is not None and c.installed.status == "deployed"
        if c.action == "destroy" or action_of(c.name) is not HelmAction.SKIP or live:
            continue
        stack = list(dependents.get(c.name, ()))
        while stack:
            n = stack.pop()
            dependent = by_name.get(n)
            if n in out or dependent is None or not dependent.is_change or dependent.action == "destroy":
                continue
            out[n] = c.name
            stack.extend(dependents.get(n, ()))
    return {c.name: out[c.name] for c in changes if c.name in out}


def skipped_dependency(name: str) -> str:
    """Why a change depending on ``name`` cannot run (:func:`blocked_by_skipped`)."""
    return f"dependency '{name}' is not deployed (action is skip)"


def _refuse_blocked(change: Change, dep: str) -> Change:
    """``change`` refused: apply skips it (:func:`blocked_by_skipped`), so the plan says so."""
    text = (f"it depends on '{dep}', whose action is skip and which is not deployed: deploy "
            f"'{dep}' first (or set its action to deploy)")
    if any(text in p for p in change.problems):
        return change
    return change.refused(text)


def not_as_planned(chart: HelmChart, change: Change, project_dir: Path | str) -> list[str]:
    """Why ``chart``, as a run is about to deploy it, is not the release ``change`` planned.

    The run deploys the project's chart of the release (with the plan's contributed values
    and resolved version put back): a program that edits it, or replaces it with
    ``add_chart``, between ``plan()`` and ``apply(plan)`` would otherwise have helm install
    another namespace, chart, version, option or helm setting than the plan showed. Values
    and local chart files are compared by ``changed_since_plan``. Empty when it is the same.
    """
    if not change.desired_chart:
        return []  # a change made by hand, not by a plan: nothing recorded to compare
    info = chart.chart_info
    changed: list[str] = []
    if info.namespace_name != change.namespace:
        changed.append(f"its namespace (the plan has {change.namespace}, now {info.namespace_name})")
    # a local chart the plan hashed: its name and version are its files', which changed_since_plan
    # compares (hashed once per run), not read and parsed again here for every release
    if info.path is None or change.chart_digest is None:
        name, version = desired_chart(chart, Path(project_dir))
        if (name, version) != (change.desired_chart, change.desired_version):
            was = f"{change.desired_chart} {change.desired_version or '(no version)'}"
            changed.append(f"its chart (the plan has {was}, now {name} {version or '(no version)'})")
    if change.parts:
        changed += [f"its {r.removesuffix(' changed')}" for r in part_reasons(change.parts, release_parts(chart))]
    if not changed:
        return []
    return [", ".join(changed) + " changed since the plan was made: nothing was changed; "
            "make and review a new plan"]


def _refuse_missing_dependencies(
    change: Change, full: ReleaseGraph, sub: ReleaseGraph, by_name: Mapping[str, HelmChart],
    live: Mapping[tuple[str, str], InstalledRelease],
) -> Change:
    """A selection's release that changes while a dependency left out of the selection is not
    deployed (absent, or uninstalled) is refused: apply would deploy it without what it
    depends on ("dependencies are satisfied" is ``check_prerequisites``' promise). The
    problem says how to go on; a no-op or a destroy changes nothing and is left as it is."""
    if not change.is_change or change.action == "destroy":
        return change
    missing = []
    for dep in full.deps.get(change.name, ()):
        if dep in sub or dep not in by_name:
            continue
        found = live.get((by_name[dep].chart_info.namespace_name, dep))
        if found is None or found.status == "uninstalled":
            missing.append(dep)
    if not missing:
        return change
    names = ", ".join(f"'{d}'" for d in missing)
    text = (f"it depends on {names}, not deployed and not in this selection: add --include-deps "
            f"(or deploy {names} first)")
    return change.refused(text)


def refuse_recovery_during(plan: Plan, holder: str, since: datetime | None) -> Plan:
    """``plan`` with the recovery (or, in a destroy, the uninstall) of each ``pending-*`` release whose operation began while
    ``holder`` held the state lease (``since`` its ``acquireTime``; a time helm does not say
    counts as such) refused: this run took that lease over once it expired, from a run whose
    programs it could not check (another host's), whose helm may still be changing it. A
    refused change is stopped by apply, with what depends on it (``Change.problems``).

    >>> from datetime import UTC
    >>> busy = InstalledRelease("db", "data", 2, "pending-upgrade", "pg-1.0.0",
    ...                         updated="2026-01-02 03:04:05.1 +0000 UTC")
    >>> plan = Plan((Change("db", "data", "generic", "recover", installed=busy),))
    >>> refuse_recovery_during(plan, "ann@b7:42:x", datetime(2026, 1, 2, 3, 0, tzinfo=UTC)).problems[0][1][:57]
    "release 'db': pending-upgrade since 2026-01-02 03:04:05.1"
    >>> refuse_recovery_during(plan, "ann@b7:42:x", datetime(2026, 1, 2, 4, 0, tzinfo=UTC)) is plan
    True
    """
    from firestream_core.tools.helm_output import helm_time

    changes = []
    for change in plan.releases:
        found = change.installed
        if change.action not in ("recover", "destroy") or found is None or not found.is_pending:
            changes.append(change)
            continue
        began = helm_time(found.updated)
        if began is not None and since is not None and began < since:  # before that run held it
            changes.append(change)
            continue
        done, next_run = (("uninstalled", "destroys") if change.action == "destroy"
                          else ("recovered", "recovers"))
        text = (f"{found.status} since {found.updated or 'an unknown time'}, begun while {holder} held "
                "the state lease, which this run took over once it expired: that run's helm may still "
                f"be changing the release on its machine, so it is not {done} under it; once no "
                f"helm of that run runs there any more, the next run {next_run} it")
        changes.append(change.refused(text))
    if all(a is b for a, b in zip(changes, plan.releases, strict=True)):
        return plan
    return attrs.evolve(plan, releases=tuple(changes))


def _left_behind(charts: Sequence[HelmChart], recorded: Mapping[str, ReleaseState],
                 live: Mapping[tuple[str, str], InstalledRelease]) -> tuple[tuple[str, str], ...]:
    """The releases firestream deployed (the state says so) that helm still runs and the config
    no longer names: a rename, a move to another namespace or a removal leaves them running,
    since firestream never touches a release the config does not name."""
    named = set()
    for c in charts:
        try:
            named.add(f"{c.chart_info.namespace_name}/{c.chart_info.name}")
        except ValueError:  # an invalid namespace: validation reports it
            continue
    out = []
    for key, entry in sorted(recorded.items()):
        running = live.get((entry.namespace, entry.name))
        if key in named or running is None or running.status == "uninstalled" or entry.action == "destroy":
            continue
        out.append((key, f"in the state (last {entry.action} {entry.result}), revision {running.revision} "
                         "running: not in the config any more, left as it is"))
    return tuple(out)
