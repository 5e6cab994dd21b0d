"""A release's desired state, computed once, the same way for plan, apply, template and diff.

The desired state of a release is everything firestream would make true in
the cluster for it:

* the config (the release's keys, ``[defaults]``) over the chart type's preset;
* the chart type's options (every field, each its own part: changing one is
  ``option kafka_cluster changed``);
* the helm settings of ``ChartInfo`` (``atomic``, ``timeout``, ``wait``, ...;
  ``setting timeout changed``);
* the values plugins contribute in the pure ``contribute_values`` stage,
  merged over all other values (``ChartInfo.plugin_values``);
* the values' digest (values files, documents, pairs, contributed values) and
  a local chart's content digest;
* what the plugins said about it in that stage: notes (why a value is what
  it is, shown as plan reasons), problems (why it cannot be deployed as
  configured: the plan lists them, apply refuses the release) and a breaking
  version a plugin decided (the plan's breaking step uses it).

:func:`desired_state` computes it for one chart; :func:`desired_states` for a
project's charts with the plugins and a read-only view of the cluster.
``plan`` compares it with the state file and helm (``deploy/plan.py``); the
run deploys the chart it holds (contributed values included); ``template``
and ``diff`` render that same chart. The breaking-version decision, which
needs the installed release, is made beside it by the plan with the one rule
:func:`~firestream_core.model.breaking_step`.

The state file keeps :attr:`DesiredState.digest` and the digest of every part
(never a value), so the next plan names what changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import FirestreamError, PluginError
from firestream_core.tools.chartfiles import reading_once

if TYPE_CHECKING:
    from firestream_core.model import BreakingVersion, HelmChart, InstalledRelease
    from firestream_core.plugin.context import DeployContext
    from firestream_core.plugin.manager import FirestreamPluginManager
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.kubectl import Kubectl
    from firestream_core.tools.redact import Redactor

__all__ = [
    "HELM_SETTINGS",
    "DesiredState",
    "ReadOnlyTool",
    "desired_state",
    "desired_states",
    "part_reasons",
]

log = logging.getLogger("firestream.plan")

HELM_SETTINGS: tuple[str, ...] = (
    "atomic",
    "force_upgrade",
    "create_namespace",
    "timeout",
    "wait",
    "wait_for_jobs",
    "hooks_disabled",
    "skip_crds",
    "history_max",
)
"""The ``ChartInfo`` fields that change how helm deploys the release (each a part)."""

_READS = {
    "helm": frozenset({
        "version", "major", "list_releases", "status", "history", "get_values", "get_manifest",
        "get_hooks", "template", "repo_add", "pull", "binary", "kubeconfig", "kube_context", "env",
        "registries", "redactor",
    }),
    "kubectl": frozenset({
        "get", "get_manifest_objects", "logs", "events", "binary", "kubeconfig", "kube_context",
        "env", "redactor",
    }),
}


class ReadOnlyTool:
    """``helm`` or ``kubectl`` as the desired-state stage sees it: reads only.

    Any other attribute (``apply_server_side``, ``delete``, ``upgrade_install``,
    ``run``...) raises :class:`~firestream_core.errors.PluginError` naming it.
    """

    def __init__(self, tool: Helm | Kubectl | None, kind: str) -> None:
        self._tool = tool
        self._kind = kind

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in _READS[self._kind]:
            raise PluginError(
                f"contribute_values must not change the cluster: {self._kind}.{name} is not allowed "
                "in the desired-state stage (do it in pre_exec)"
            )
        return getattr(self._tool, name)


@attrs.frozen
class DesiredState:
    """One release's desired state.

    :ivar chart: the chart as it is deployed: a copy of the configured one with
        ``chart_info.plugin_values`` filled in.
    :ivar contributed: plugin name -> the values it contributed (for the run;
        never shown).
    :ivar values_digest: digest of every value helm gets (None when unreadable).
    :ivar values_problem: why the values cannot be read, or None.
    :ivar chart_digest: a local chart's content digest (None for other charts).
    :ivar files_problem: why a local chart cannot be read, or None.
    :ivar parts: ``option <name>`` / ``setting <name>`` -> digest (the chart and
        its version are compared with helm's own record by the plan).
    :ivar digest: one digest over all of it.
    :ivar notes: what plugins said about the values (``context.note``), plan reasons.
    :ivar problems: why the release cannot be deployed as configured (``context.refuse``).
    :ivar breaking_version: the ``BreakingVersion`` a plugin decided
        (``context.require_breaking_version``), also in ``chart``; None when none did.
    """

    chart: HelmChart = attrs.field(repr=False)
    contributed: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, repr=False)
    values_digest: str | None = None
    values_problem: str | None = None
    chart_digest: str | None = None
    files_problem: str | None = None
    parts: Mapping[str, str] = attrs.field(factory=dict)
    digest: str = ""
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    breaking_version: BreakingVersion | None = None

    @property
    def plugin_values(self) -> dict[str, Any]:
        return dict(self.chart.chart_info.plugin_values)


def _hash(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _option_fields(options: Any) -> dict[str, Any]:
    """An options object as ``{field: value}`` (attrs class, mapping, or one opaque value)."""
    if options is None:
        return {}
    if attrs.has(type(options)):
        return {f.name: attrs.asdict(options, recurse=True).get(f.name) for f in attrs.fields(type(options))}
    if isinstance(options, Mapping):
        return dict(options)
    return {"options": repr(options)}


def _parts(chart: HelmChart) -> dict[str, str]:
    info = chart.chart_info
    out = {f"option {k}": _hash(v) for k, v in _option_fields(chart.options).items()}
    out.update({f"setting {k}": _hash(getattr(info, k)) for k in HELM_SETTINGS})
    return out


def _values_digest(chart: HelmChart, project_dir: Path) -> tuple[str | None, str | None]:
    from firestream_core.tools.values import values_digest

    try:
        return values_digest(chart.chart_info, project_dir), None
    except (OSError, ValueError) as exc:
        what = getattr(exc, "filename", "") or "file" if isinstance(exc, OSError) else "document"
        return None, f"values cannot be read ({type(exc).__name__}: {what})"


def _chart_digest(chart: HelmChart, project_dir: Path) -> tuple[str | None, str | None]:
    from firestream_core.tools.chartfiles import chart_digest

    path = chart.chart_info.path
    if path is None:
        return None, None
    p = Path(path)
    p = p if p.is_absolute() else project_dir / p
    try:
        return chart_digest(p), None
    except OSError as exc:
        return None, f"chart files cannot be read ({type(exc).__name__}: {getattr(exc, 'filename', '') or p})"


def desired_state(
    chart: HelmChart,
    *,
    project_dir: Path | str,
    contributed: Iterable[tuple[str, Mapping[str, Any]]] = (),
    notes: Iterable[str] = (),
    problems: Iterable[str] = (),
    breaking_version: BreakingVersion | None = None,
) -> DesiredState:
    """The desired state of ``chart`` with the values plugins contributed (pure; no tool call).

    :param contributed: ``(plugin name, values)`` in the order to merge them
        (what :meth:`FirestreamPluginManager.contribute_values` returns).
    :param notes: what the plugins said about the values (plan reasons).
    :param problems: why the release cannot be deployed as configured.
    :param breaking_version: a ``BreakingVersion`` a plugin decided; it
        replaces the chart's ``last_breaking_version_requiring_restart``.
    """
    from firestream_core.tools.values import deep_merge

    project_dir = Path(project_dir)
    desired = copy.deepcopy(chart)
    merged: dict[str, Any] = dict(desired.chart_info.plugin_values)
    by_plugin: dict[str, Mapping[str, Any]] = {}
    for plugin, given in contributed:
        if not isinstance(given, Mapping):
            raise PluginError(
                f"plugin '{plugin}': contribute_values for release '{chart.chart_info.name}' returned "
                f"a {type(given).__name__}, not a mapping of values"
            )
        by_plugin[plugin] = given
        merged = deep_merge(merged, given)
    desired.chart_info.plugin_values = merged
    if breaking_version is not None:
        desired.chart_info.last_breaking_version_requiring_restart = breaking_version
    digest, problem = _values_digest(desired, project_dir)
    files, files_problem = _chart_digest(desired, project_dir)
    parts = _parts(desired)
    return DesiredState(
        chart=desired,
        contributed=by_plugin,
        values_digest=digest,
        values_problem=problem,
        chart_digest=files,
        files_problem=files_problem,
        parts=parts,
        digest=_hash({"values": digest, "chart files": files, "parts": parts}),
        notes=tuple(dict.fromkeys(notes)),
        problems=tuple(dict.fromkeys(problems)),
        breaking_version=breaking_version,
    )


@reading_once()  # a chart folder several releases share is hashed once
def desired_states(
    charts: Iterable[HelmChart],
    *,
    manager: FirestreamPluginManager | None,
    project_dir: Path | str,
    helm: Helm | None = None,
    kubectl: Kubectl | None = None,
    repositories: Mapping[str, str] | None = None,
    installed: Mapping[tuple[str, str], InstalledRelease] | None = None,
    redactor: Redactor | None = None,
    releases: Mapping[str, str] | None = None,
    offline: bool = False,
) -> dict[str, DesiredState]:
    """Release name -> its desired state, each plugin's ``contribute_values`` called once per release.

    :param releases: the project's releases, name -> chart type (``context.releases``);
        those of ``charts`` when None.
    :param offline: no cluster (``firestream validate``): the hooks see ``context.offline``
        and note what they will decide instead of asking (``helm`` and ``kubectl`` are None).

    The hooks see read-only views of ``helm`` and ``kubectl``
    (:class:`ReadOnlyTool`). A hook that raises stops here with a
    :class:`~firestream_core.errors.PluginError` naming the plugin stage and
    release: nothing has been changed.
    """
    from firestream_core.plugin.context import DeployContext

    project_dir = Path(project_dir)
    seen = installed or {}
    charts = list(charts)
    if releases is None:
        releases = {c.chart_info.name: c.chart_type for c in charts}
    out: dict[str, DesiredState] = {}
    project_releases = MappingProxyType(dict(releases))  # one read-only copy for every release
    for chart in charts:
        info = chart.chart_info
        contributed: list[tuple[str, Mapping[str, Any]]] = []
        notes: list[str] = []
        problems: list[str] = []
        breaking: BreakingVersion | None = None
        if manager is not None:
            try:
                ns = info.namespace_name
            except ValueError:
                ns = ""
            context = DeployContext(
                helm=ReadOnlyTool(helm, "helm"),  # type: ignore[arg-type]
                kubectl=ReadOnlyTool(kubectl, "kubectl"),  # type: ignore[arg-type]
                project_dir=project_dir,
                repositories=dict(repositories or {}),
                installed=seen.get((ns, info.name)),
                redactor=redactor,
                log=logging.getLogger("firestream"),
                releases=project_releases,
                offline=offline,
            )
            contributed = _contributions(manager, chart, context)
            notes, problems, breaking = context.notes, context.problems, context.breaking_version
        out[info.name] = desired_state(chart, project_dir=project_dir, contributed=contributed, notes=notes,
                                       problems=problems, breaking_version=breaking)
    return out


def _contributions(
    manager: FirestreamPluginManager, chart: HelmChart, context: DeployContext
) -> list[tuple[str, Mapping[str, Any]]]:
    try:
        return manager.contribute_values(copy.deepcopy(chart), context)
    except FirestreamError:
        raise
    except Exception as exc:  # a plugin's bug: named, never a traceback without -v
        raise PluginError(
            f"release '{chart.chart_info.name}': contribute_values raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def part_reasons(recorded: Mapping[str, str] | None, parts: Mapping[str, str]) -> list[str]:
    """``option kafka_cluster changed`` for each part whose digest differs from the recorded one.

    Nothing when the state recorded no parts (an entry written before
    firestream recorded them): what was deployed then is unknown, and the
    values and chart comparisons still apply.
    """
    if not recorded:
        return []
    out = []
    for name in sorted(set(recorded) | set(parts)):
        if recorded.get(name) != parts.get(name):
            out.append(f"{name} changed")
    return out

