"""Desired state (the config's charts) against actual state (the cluster + the state file).

``make_plan`` decides, for every release of the project (or of the targeted
sub-graph), one action and why:

========== ====================================================================
action     when
========== ====================================================================
create     the release is not deployed (not in ``helm list``, or uninstalled)
upgrade    chart, version or values changed, a local chart's files changed,
           status ``failed``, changed outside firestream, or not recorded in
           state and differing
recover    helm reports ``pending-install`` / ``pending-upgrade`` /
           ``pending-rollback`` (an earlier run was killed)
reinstall  the installed chart version is older (semver) than the chart's
           breaking version that requires an uninstall
destroy    ``action = "destroy"`` and installed, or ``firestream destroy``
no-op      the desired state equals the deployed one (zero helm calls)
========== ====================================================================

A release whose helm status is not ``deployed`` is never a no-op. Releases in
the cluster that the config does not name are never touched. A values change
is reported by the names of the keys that changed (``values changed:
auth.database, replicaCount``), found by comparing the values digest recorded
in state and, when a ``get_values`` callable is given, helm's current values
with the desired ones; then ``value_changes`` shows each as ``old -> new``,
a sensitive value as ``(sensitive)`` (docs/secrets.md). Sensitive values are
never part of a plan.

A local chart (``path = "charts/x"``) can change without a version bump:
its content digest (:func:`firestream_core.tools.chartfiles.chart_digest`) is
recorded in state as ``chart_digest``, and a different digest is an
upgrade, ``chart files changed``. A state entry written before firestream
recorded it (no ``chart_digest``) upgrades once, ``chart files not recorded
in state``, since what was deployed from the folder is unknown.

The plan is built from exactly one cluster-state call made by the caller
(``helm list -A -a -o json``), plus ``helm get values`` only for releases
whose values digest changed.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from firestream_core.model import HelmAction, HelmChart, InstalledRelease, SemVer

log = logging.getLogger("firestream.plan")

ACTIONS: tuple[str, ...] = ("create", "upgrade", "recover", "reinstall", "destroy", "no-op")
"""Every plan action; all but ``no-op`` change the cluster."""

GetValues = Callable[[str, str], Mapping[str, Any]]
"""``get_values(name, namespace) -> dict``: the user-supplied values helm holds."""


@attrs.frozen
class Change:
    """What the plan decided for one release.

    :ivar name: the release name.
    :ivar namespace: the namespace it is (or will be) deployed in.
    :ivar chart_type: the release's chart type (``generic``, ``postgresql``...).
    :ivar action: one of :data:`ACTIONS`.
    :ivar reasons: why, one short sentence each; never a value.
    :ivar changed_keys: dotted names of the values that changed (when known).
    :ivar value_changes: ``(path, old, new)`` per changed value leaf (when
        known): ordinary values in clear, sensitive ones as ``(sensitive)``,
        a missing side as ``(none)`` (docs/secrets.md).
    :ivar depends_on: the releases it needs, as configured.
    :ivar installed: the release as the cluster-state call saw it, or None.
    :ivar desired_chart: the chart name the config asks for.
    :ivar desired_version: the chart version the config asks for (None: any).
    :ivar values_digest: digest of the desired values (for the state file;
        not part of :meth:`to_dict`).
    :ivar chart_digest: content digest of a local chart's files (None for a
        repository or OCI chart; for the state file, not part of :meth:`to_dict`).
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
    values_digest: str | None = attrs.field(default=None, repr=False)
    chart_digest: str | None = attrs.field(default=None, repr=False)

    @property
    def is_change(self) -> bool:
        """True unless the action is ``no-op``."""
        return self.action != "no-op"

    @property
    def key(self) -> str:
        """The state-file key, ``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def reason(self) -> str:
        """The reasons joined with a semicolon and a space (``"; "``)."""
        return "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: names, versions, statuses, key names and value changes (sensitive ones hidden)."""
        inst = self.installed
        return {
            "release": self.name,
            "namespace": self.namespace,
            "chart_type": self.chart_type,
            "action": self.action,
            "reasons": list(self.reasons),
            "changed_keys": list(self.changed_keys),
            "value_changes": [{"path": p, "old": o, "new": n} for p, o, n in self.value_changes],
            "depends_on": list(self.depends_on),
            "desired": {"chart": self.desired_chart, "version": self.desired_version},
            "installed": None if inst is None else {
                "status": inst.status,
                "revision": inst.revision,
                "chart": inst.chart_name,
                "version": inst.chart_version,
            },
        }


@attrs.frozen
class Plan:
    """Every release's :class:`Change`, in dependency order (reverse for destroy).

    :ivar releases: one entry per planned release, no-ops included.
    :ivar destroy: True for a ``firestream destroy`` plan.
    :ivar targets: the releases asked for (empty: the whole project).
    :ivar deps: release -> the planned releases it depends on (the
        sub-graph the scheduler runs).
    """

    releases: tuple[Change, ...]
    destroy: bool = False
    targets: tuple[str, ...] = ()
    deps: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def changes(self) -> list[Change]:
        """The entries that change the cluster (everything but ``no-op``)."""
        return [c for c in self.releases if c.is_change]

    @property
    def has_changes(self) -> bool:
        return any(c.is_change for c in self.releases)

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
        """How many releases per action (every action listed, zeros included)."""
        out = dict.fromkeys(ACTIONS, 0)
        for c in self.releases:
            out[c.action] = out.get(c.action, 0) + 1
        return out

    def summary(self) -> str:
        """``2 to create, 1 to upgrade, 3 unchanged`` (or ``no changes``)."""
        counts = self.counts()
        words = {"create": "to create", "upgrade": "to upgrade", "recover": "to recover",
                 "reinstall": "to reinstall", "destroy": "to destroy", "no-op": "unchanged"}
        parts = [f"{counts[a]} {words[a]}" for a in ACTIONS if counts[a]]
        if not self.has_changes:
            return "no changes" + (f" ({parts[0]})" if parts else "")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "destroy": self.destroy,
            "targets": list(self.targets),
            "has_changes": self.has_changes,
            "summary": {a: n for a, n in self.counts().items()},
            "releases": [c.to_dict() for c in self.releases],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The plan as JSON: release names, actions, reasons, key names and value changes (never a sensitive value)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)


# -- desired chart identity ---------------------------------------------------------


def desired_chart(chart: HelmChart, project_dir: Path | None = None) -> tuple[str, str | None]:
    """The chart name and exact version the config asks for.

    ``bitnami/postgresql`` -> ``postgresql``; ``oci://host/x/chart`` -> ``chart``;
    a local ``path`` -> the name and version of its ``Chart.yaml``. The
    version is None when the config gives none or a constraint (``^1.2``).
    """
    info = chart.chart_info
    version = _exact(info.version)
    if info.path is not None:
        path = Path(info.path)
        if project_dir is not None and not path.is_absolute():
            path = Path(project_dir) / path
        meta = _chart_yaml(path)
        name = str(meta.get("name") or info.chart or path.name)
        return name, version or _exact(meta.get("version"))
    ref = info.chart.rstrip("/")
    return ref.rsplit("/", 1)[-1], version


def _exact(version: Any) -> str | None:
    if not version:
        return None
    text = str(version).strip()
    try:
        SemVer.parse(text)
    except ValueError:
        return None
    return text.lstrip("v")


_PLAN_MEMO: contextvars.ContextVar[dict[tuple[str, Path], Any] | None] = contextvars.ContextVar(
    "firestream_plan_memo", default=None
)
"""Within one :func:`make_plan`: a local chart's ``Chart.yaml`` and file digest, read once per
folder however many releases use it (a plan reads the files afresh every time)."""


def _memoized(kind: str, path: Path, read: Any) -> Any:
    memo = _PLAN_MEMO.get()
    if memo is None:
        return read()
    key = (kind, path)
    if key not in memo:
        memo[key] = read()
    return memo[key]


def _chart_yaml(path: Path) -> dict[str, Any]:
    """The chart's ``Chart.yaml`` as a mapping ({} when unreadable: prerequisites report it)."""
    return dict(_memoized("Chart.yaml", path, lambda: _read_chart_yaml(path)))


def _read_chart_yaml(path: Path) -> dict[str, Any]:
    import yaml

    file = path / "Chart.yaml"
    try:
        data = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        log.debug("cannot read %s: %s", file, type(exc).__name__)
        return {}
    return data if isinstance(data, dict) else {}


def _same_version(a: str, b: str) -> bool:
    try:
        return SemVer.parse(a) == SemVer.parse(b)
    except ValueError:
        return a.lstrip("v") == b.lstrip("v")


# -- the decision ----------------------------------------------------------------------


def _record(state: Any, key: str) -> Any:
    releases = getattr(state, "releases", None) or {}
    return releases.get(key)


def _values_digest(chart: HelmChart, project_dir: Path) -> tuple[str | None, str | None]:
    """(digest, problem): the desired values' digest, or why it cannot be computed."""
    from firestream_core.tools.values import values_digest

    try:
        return values_digest(chart.chart_info, project_dir), None
    except OSError as exc:
        return None, f"values cannot be read ({type(exc).__name__}: {getattr(exc, 'filename', '') or 'file'})"


def _chart_digest(chart: HelmChart, project_dir: Path) -> tuple[str | None, str | None]:
    """(digest, problem) of a local chart's files; (None, None) for other charts."""
    from firestream_core.tools.chartfiles import chart_digest

    path = chart.chart_info.path
    if path is None:
        return None, None
    p = Path(path)
    p = p if p.is_absolute() else project_dir / p
    try:
        return _memoized("digest", p, lambda: chart_digest(p)), None
    except OSError as exc:
        return None, f"chart files cannot be read ({type(exc).__name__}: {getattr(exc, 'filename', '') or p})"


def desired_values(chart: HelmChart, project_dir: Path) -> dict[str, Any]:
    """The values helm will hold for ``chart``: its values files, then the generated values."""
    from firestream_core.tools.values import deep_merge, load_document, merged_values

    out: dict[str, Any] = {}
    for f in chart.chart_info.values_files:
        p = Path(f)
        p = p if p.is_absolute() else project_dir / p
        out = deep_merge(out, load_document(str(f), p.read_text()))
    return deep_merge(out, merged_values(chart.chart_info))


def _changed_keys(
    chart: HelmChart, installed: InstalledRelease, project_dir: Path, get_values: GetValues | None,
    shown: list[tuple[str, str, str]] | None = None,
) -> list[str] | None:
    """Keys whose value differs between helm's values and the desired ones (None: unknown).

    ``shown`` receives each changed leaf as ``(path, old, new)``, sensitive
    values as ``(sensitive)`` (:func:`~firestream_core.tools.sensitivity.value_changes`).
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
        patterns = getattr(getattr(chart, "settings", None), "sensitive_keys", ())
        shown.extend(value_changes(current, desired, patterns=patterns,
                                   secret_paths=secret_file_paths(chart.chart_info)))
    return list(changed_keys(current, desired))


def _breaking(chart: HelmChart, installed: InstalledRelease, want: str | None) -> str | None:
    """A reason when the upgrade crosses a breaking version needing an uninstall."""
    bv = chart.chart_info.last_breaking_version_requiring_restart
    if bv is None or not bv.applies_to(installed.chart_version):
        return None
    if want is not None:
        try:
            if SemVer.parse(want) < SemVer.parse(bv.version):
                return None
        except ValueError:
            pass
    return f"breaking version {bv.version} crossed (installed {installed.chart_version})"


def plan_release(
    chart: HelmChart,
    installed: InstalledRelease | None,
    record: Any,
    *,
    project_dir: Path,
    destroy: bool = False,
    get_values: GetValues | None = None,
) -> Change:
    """The :class:`Change` for one release (see the module docstring for the rules)."""
    info = chart.chart_info
    namespace = info.namespace_name
    want_chart, want_version = desired_chart(chart, project_dir)
    base: dict[str, Any] = {
        "name": info.name,
        "namespace": namespace,
        "chart_type": getattr(chart, "chart_type", "generic"),
        "depends_on": tuple(info.depends_on),
        "installed": installed,
        "desired_chart": want_chart,
        "desired_version": want_version,
    }
    live = installed is not None and installed.status not in ("uninstalled",)

    if destroy or info.action is HelmAction.DESTROY:
        if not live:
            return Change(action="no-op", reasons=("not deployed",), **base)
        why = "destroy requested" if destroy else "action is destroy"
        return Change(action="destroy", reasons=(why,), **base)
    if info.action is HelmAction.SKIP:
        return Change(action="no-op", reasons=("action is skip",), **base)

    digest, problem = _values_digest(chart, project_dir)
    base["values_digest"] = digest
    files_digest, files_problem = _chart_digest(chart, project_dir)
    base["chart_digest"] = files_digest
    if not live:
        why = "not deployed" if installed is None else f"not deployed (status is {installed.status})"
        return Change(action="create", reasons=(why,), **base)
    assert installed is not None

    if installed.is_pending:
        return Change(action="recover", reasons=(f"status is {installed.status}",), **base)

    reasons: list[str] = []
    keys: list[str] = []
    shown: list[tuple[str, str, str]] = []
    if installed.status != "deployed":
        reasons.append(f"status is {installed.status}")
    if installed.chart_name != want_chart:
        reasons.append(f"chart changed {installed.chart_name} -> {want_chart}")
    if want_version and installed.chart_version and not _same_version(installed.chart_version, want_version):
        reasons.append(f"version changed {installed.chart_version} -> {want_version}")
    breaking = _breaking(chart, installed, want_version)
    if files_problem:
        reasons.append(files_problem)
    elif files_digest is not None and record is not None:
        recorded_files = getattr(record, "chart_digest", None)
        if recorded_files is None:
            reasons.append("chart files not recorded in state")
        elif recorded_files != files_digest:
            reasons.append("chart files changed")
    if problem:
        reasons.append(problem)
    elif record is None:
        found = _changed_keys(chart, installed, project_dir, get_values, shown)
        if found is None:
            reasons.append("not recorded in state: values unknown")
        elif found:
            keys = found
            reasons.append("values changed: " + ", ".join(found))
    else:
        last = getattr(record, "result", "succeeded")
        if last != "succeeded":
            stage = getattr(record, "stage_failed", None)
            reasons.append(f"last apply {last}" + (f" in {stage}" if stage else ""))
        recorded = getattr(record, "values_digest", None)
        if recorded != digest:
            found = _changed_keys(chart, installed, project_dir, get_values, shown)
            keys = found or []
            reasons.append("values changed: " + ", ".join(found) if found else "values changed")
        rev = getattr(record, "revision", None)
        if rev is not None and installed.revision != rev and not reasons:
            reasons.append(
                f"changed outside firestream (revision {installed.revision} in the cluster, {rev} recorded)"
            )
    if breaking and info.last_breaking_version_requiring_restart is not None:
        if info.last_breaking_version_requiring_restart.requires_uninstall:
            return Change(action="reinstall", reasons=(breaking, *reasons), changed_keys=tuple(keys),
                          value_changes=tuple(shown), **base)
        reasons.insert(0, breaking)
    if reasons:
        return Change(action="upgrade", reasons=tuple(reasons), changed_keys=tuple(keys),
                      value_changes=tuple(shown), **base)
    why = "up to date" if record is not None else "matches the cluster (not yet recorded in state)"
    return Change(action="no-op", reasons=(why,), **base)


def make_plan(
    charts: Sequence[HelmChart],
    installed: Iterable[InstalledRelease],
    state: Any,
    *,
    project_dir: Path | str,
    targets: Iterable[str] | None = None,
    include_deps: bool = False,
    destroy: bool = False,
    get_values: GetValues | None = None,
    graph: Any = None,
) -> Plan:
    """Compare ``charts`` with the cluster (``installed``) and ``state``.

    :param charts: the project's releases (``build_charts`` output), config order.
    :param installed: the one cluster-state call's result (``Helm.list_releases()``).
    :param state: the state file's ``State`` (``.releases`` keyed ``namespace/name``).
    :param project_dir: the folder of ``firestream.toml`` (relative paths).
    :param targets: plan only these releases (None: all).
    :param include_deps: with ``targets``, also their dependencies (for
        ``destroy``: also their dependents, which cannot outlive them).
    :param destroy: plan the removal of every (targeted) release.
    :param get_values: ``helm get values`` to name the keys that changed.
    :param graph: a prebuilt ``ReleaseGraph`` (built from ``charts`` when None).
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
    live = {r.key: r for r in installed}
    order = sub.reverse_order() if destroy else sub.order()
    memo = _PLAN_MEMO.set({})
    try:
        changes = []
        for name in order:
            chart = by_name[name]
            ns = chart.chart_info.namespace_name
            changes.append(
                plan_release(
                    chart,
                    live.get((ns, name)),
                    _record(state, f"{ns}/{name}"),
                    project_dir=project_dir,
                    destroy=destroy,
                    get_values=get_values,
                )
            )
    finally:
        _PLAN_MEMO.reset(memo)
    return Plan(
        releases=tuple(changes),
        destroy=destroy,
        targets=tuple(wanted),
        deps={n: tuple(sub.deps[n]) for n in sub.names},
    )
