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
* the exact chart version of a repository or OCI chart whose config gives a
  constraint (``^0.1``) or no version: resolved by helm when the plan is made
  (:class:`ChartVersions`, once per distinct chart and constraint), the version
  the run installs (``--version 0.1.1``) and ``template`` and ``diff`` render,
  and the version the ``contribute_values`` hooks see (never the constraint);
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
import functools
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from json.encoder import encode_basestring_ascii
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from firestream_core.errors import FirestreamError, PluginError
from firestream_core.model import chart_repository
from firestream_core.plugin.manager import a_type
from firestream_core.plugin.stage_tools import ClusterTool, HelmTool, KubectlTool
from firestream_core.tools.chartfiles import read_once, reading_once
from firestream_core.tools.digest import sha256
from firestream_core.tools.release_log import ReleaseLogger, redacting

if TYPE_CHECKING:
    from firestream_core.model import BreakingVersion, ChartInfo, HelmChart, InstalledRelease
    from firestream_core.plugin.context import DeployContext
    from firestream_core.plugin.manager import FirestreamPluginManager
    from firestream_core.tools.chartfiles import RecentDigests
    from firestream_core.tools.helm_output import TestRun, UpgradedRelease
    from firestream_core.tools.kubectl import NamespaceLookup
    from firestream_core.tools.process import Completed, Runner
    from firestream_core.tools.redact import Redactor

__all__ = [
    "HELM_SETTINGS",
    "ChartVersions",
    "DesiredState",
    "ReadOnlyHelm",
    "ReadOnlyKubectl",
    "chart_repository",
    "changed_since_plan",
    "chart_yaml",
    "desired_state",
    "desired_states",
    "exact_version",
    "local_chart_version",
    "part_reasons",
    "release_parts",
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

_Tool = TypeVar("_Tool", bound=ClusterTool)


class _ReadOnly(Generic[_Tool]):
    """What the read-only views share: the tool they read through, the calls helm and
    kubectl have alike (:class:`~firestream_core.plugin.stage_tools.ClusterTool`), and
    the refusals."""

    _kind: str

    def __init__(self, tool: _Tool | None, *, stage: str = "contribute_values") -> None:
        self._tool = tool
        self._stage = stage  # the callback a refusal names (a chart type's destroy_steps too)

    def _read(self, name: str) -> _Tool:
        if self._tool is None:
            raise self._missing(name)
        return self._tool

    @property
    def binary(self) -> str:
        return self._read("binary").binary

    @property
    def kube_context(self) -> str | None:
        return self._read("kube_context").kube_context

    @property
    def env(self) -> dict[str, str]:
        return self._read("env").env

    @property
    def redactor(self) -> Redactor:
        return self._read("redactor").redactor

    def argv(self, args: Sequence[str]) -> list[str]:
        return self._read("argv").argv(args)

    def program_env(self) -> dict[str, str]:
        return self._read("program_env").program_env()

    @property
    def runner(self) -> Runner:
        raise self._refuse("runner")

    def _refuse(self, name: str) -> PluginError:
        if self._stage != "contribute_values":
            return PluginError(f"{self._stage} must not change the cluster: {self._kind}.{name} is not "
                               "allowed while the plan is made (do it in the hooks the plan describes)")
        return PluginError(
            f"contribute_values must not change the cluster: {self._kind}.{name} is not allowed "
            "in the desired-state stage (do it in pre_exec)"
        )

    def _missing(self, name: str) -> PluginError:
        return PluginError(
            f"contribute_values: there is no {self._kind} in this desired-state stage, so "
            f"{self._kind}.{name} cannot be called (no cluster: see context.offline)"
        )


class ReadOnlyHelm(_ReadOnly[HelmTool], HelmTool):
    """``context.helm`` as the desired-state stage sees it: helm's reads only.

    Every read is the run's :class:`~firestream_core.tools.helm.Helm` call
    (``status``, ``get_values``, ``template``, ``render_release``, ``repo_add``, ``pull``...); every
    other call (``upgrade_install``, ``uninstall``, ``rollback``, ``runner``...)
    raises :class:`~firestream_core.errors.PluginError` naming it. Without a
    helm (``firestream validate``: no cluster) a read raises one too.
    """

    _kind = "helm"

    # -- reads --------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path | None:
        return self._read("kubeconfig").kubeconfig

    @property
    def version(self) -> str:
        return self._read("version").version

    @property
    def major(self) -> int:
        return self._read("major").major

    def list_releases(self) -> list[InstalledRelease]:
        return self._read("list_releases").list_releases()

    def status(self, name: str, namespace: str) -> dict[str, Any]:
        return self._read("status").status(name, namespace)

    def history(self, name: str, namespace: str) -> list[dict[str, Any]]:
        return self._read("history").history(name, namespace)

    def get_values(self, name: str, namespace: str, all_values: bool = False) -> dict[str, Any]:
        return self._read("get_values").get_values(name, namespace, all_values)

    def get_manifest(self, name: str, namespace: str) -> str:
        return self._read("get_manifest").get_manifest(name, namespace)

    def get_hooks(self, name: str, namespace: str, revision: int | None = None) -> str:
        return self._read("get_hooks").get_hooks(name, namespace, revision)

    def template(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        include_crds: bool = True,
        is_upgrade: bool = False,
        server: bool = False,
    ) -> str:
        return self._read("template").template(
            info, project_dir, extra_values=extra_values, include_crds=include_crds, is_upgrade=is_upgrade,
            server=server,
        )

    def render_release(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> str:
        # a --dry-run=server: changes nothing, as template's server rendering
        return self._read("render_release").render_release(
            info, project_dir, extra_values=extra_values, replace=replace)

    def repo_add(
        self, name: str, url: str, *, username: str | None = None, password: str | None = None
    ) -> bool:
        return self._read("repo_add").repo_add(name, url, username=username, password=password)

    def pull(self, chart_ref: str, version: str | None, dest: Path | str) -> Path:
        return self._read("pull").pull(chart_ref, version, dest)

    def resolve_version(self, chart_ref: str, version: str | None = None) -> str | None:
        return self._read("resolve_version").resolve_version(chart_ref, version)

    # -- refused ------------------------------------------------------------------------
    def repo_update(self, names: Sequence[str] | None = None) -> None:
        raise self._refuse("repo_update")

    def repo_list(self) -> dict[str, str]:
        raise self._refuse("repo_list")

    def search_repo(self, chart: str, version: str | None = None) -> list[str]:
        raise self._refuse("search_repo")

    def upgrade_install_args(
        self, info: ChartInfo, project_dir: Path, values_path: Path | None = None, *, replace: bool = False,
        server_dry_run: bool = False,
    ) -> list[str]:
        raise self._refuse("upgrade_install_args")

    def upgrade_install(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> int:
        raise self._refuse("upgrade_install")

    def upgrade_install_release(
        self,
        info: ChartInfo,
        project_dir: Path | str,
        *,
        extra_values: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> UpgradedRelease:
        raise self._refuse("upgrade_install_release")

    def uninstall(
        self,
        name: str,
        namespace: str,
        *,
        wait: bool = True,
        timeout: str | int = "300s",
        ignore_not_found: bool = True,
        keep_history: bool = False,
        no_hooks: bool = False,
    ) -> bool:
        raise self._refuse("uninstall")

    def rollback(
        self,
        name: str,
        namespace: str,
        revision: int | None = None,
        *,
        wait: bool = True,
        timeout: str | int = "300s",
        history_max: int = 50,
        no_hooks: bool = False,
    ) -> None:
        raise self._refuse("rollback")

    def test(self, name: str, namespace: str, timeout: str | int = "300s") -> TestRun:
        raise self._refuse("test")

    def dependency_build(self, chart_dir: Path | str) -> None:
        raise self._refuse("dependency_build")

    def registry_login(
        self, host: str, username: str, password: str, insecure: bool = False, *, plain_http: bool = False
    ) -> None:
        raise self._refuse("registry_login")

    def push(
        self,
        chart_archive: Path | str,
        remote: str,
        *,
        plain_http: bool | None = None,
        insecure: bool | None = None,
    ) -> str:
        raise self._refuse("push")


class ReadOnlyKubectl(_ReadOnly[KubectlTool], KubectlTool):
    """``context.kubectl`` as the desired-state stage sees it: kubectl's reads only.

    ``get``, ``get_labelled``, ``get_manifest_objects``, ``logs``, ``events`` and
    ``namespaces_exist`` are the run's
    :class:`~firestream_core.tools.kubectl.Kubectl` calls; every other call
    (``apply_server_side``, ``delete``, ``create``, ``replace``, ``run``,
    ``wait``, ``runner``) raises :class:`~firestream_core.errors.PluginError`
    naming it. Without a kubectl (no cluster) a read raises one too.
    """

    _kind = "kubectl"

    # -- reads --------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> str | None:
        return self._read("kubeconfig").kubeconfig

    def get(
        self,
        kind: str,
        name: str | None = None,
        *,
        namespace: str | None = None,
        selector: str | None = None,
        all_namespaces: bool = False,
    ) -> dict[str, Any] | None:
        return self._read("get").get(
            kind, name, namespace=namespace, selector=selector, all_namespaces=all_namespaces
        )

    def get_labelled(self, kind: str, label: str, value: str, *, namespace: str) -> dict[str, Any] | None:
        return self._read("get_labelled").get_labelled(kind, label, value, namespace=namespace)

    def get_manifest_objects(
        self, manifest: str | Sequence[Mapping[str, Any]], *, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        return self._read("get_manifest_objects").get_manifest_objects(manifest, namespace=namespace)

    def logs(self, pod: str, namespace: str, *, tail: int = 50, container: str | None = None) -> str:
        return self._read("logs").logs(pod, namespace, tail=tail, container=container)

    def events(self, namespace: str, *, involved_object: str | None = None) -> list[dict[str, Any]]:
        return self._read("events").events(namespace, involved_object=involved_object)

    def namespaces_exist(self, names: Sequence[str]) -> NamespaceLookup:
        return self._read("namespaces_exist").namespaces_exist(names)

    # -- refused ------------------------------------------------------------------------
    def wait(
        self,
        kind: str,
        name: str | None = None,
        *,
        namespace: str,
        condition: str = "condition=Ready",
        selector: str | None = None,
        timeout: str | int = "60s",
    ) -> bool:
        raise self._refuse("wait")

    def apply_server_side(
        self,
        manifests: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        namespace: str | None = None,
        field_manager: str = "firestream",
        force_conflicts: bool = True,
    ) -> list[str]:
        raise self._refuse("apply_server_side")

    def delete(
        self,
        kind: str,
        name: str,
        *,
        namespace: str | None = None,
        ignore_not_found: bool = True,
        wait: bool = True,
        timeout: str | int = "120s",
    ) -> bool:
        raise self._refuse("delete")

    def create(self, manifest: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any] | None:
        raise self._refuse("create")

    def replace(self, manifest: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any] | None:
        raise self._refuse("replace")

    def run(self, argv: Sequence[str], *, label: str | None = None, timeout: float | None = None) -> Completed:
        raise self._refuse("run")


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
    :ivar steps: what the chart type's ``exec`` does besides helm when the release changes
        (``context.exec_step``), listed by the plan under the steps to review of a change.
    :ivar out_of_date: why the cluster does not hold the config in something only a plugin
        keeps (``context.out_of_date``): the plan upgrades an installed release for them.
    :ivar creates_namespace: a plugin said its ``pre_exec`` creates the release's namespace
        when it is missing (``context.creates_namespace()``): the plan lists the namespace as
        the plugin's to create and refuses no ``create_namespace = false`` for it. Not part
        of ``digest`` (nothing helm deploys).
    :ivar breaking_version: the ``BreakingVersion`` a plugin decided
        (``context.require_breaking_version``), also in ``chart``; None when none did.
    :ivar resolved_version: the exact version helm installs for a repository or OCI
        chart whose config gives a version constraint or none (:class:`ChartVersions`),
        also ``chart``'s version and part of ``digest``; for a local chart its ``Chart.yaml``'s
        version when the chart info named another (:func:`local_chart_version`); None for a local chart, an
        exact version, or when nothing resolved it (no helm: ``firestream validate``).
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
    resolved_version: str | None = None
    steps: tuple[str, ...] = ()
    out_of_date: tuple[str, ...] = ()
    creates_namespace: bool = False

    @property
    def plugin_values(self) -> dict[str, Any]:
        return dict(self.chart.chart_info.plugin_values)


_SCALAR_JSON: dict[Any, str] = {True: "true", False: "false", None: "null"}


def _hash(data: Any) -> str:
    """``sha256:`` of ``data`` as canonical JSON (sorted keys, no spaces): the state keeps these.

    A string is encoded by the function ``json.dumps`` itself calls for one, an
    ``int`` by ``int.__repr__`` as json does, and ``True``/``False``/``None``
    are their JSON words: the same text, without building an encoder for each
    of the settings every release hashes.
    """
    kind = type(data)
    if kind is str:
        text = encode_basestring_ascii(data)
    elif kind is bool or data is None:
        text = _SCALAR_JSON[data]
    elif kind is int:
        text = int.__repr__(data)
    else:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + sha256(text.encode()).hexdigest()


_PLAIN_SCALARS = (str, bool, int, float, type(None))

MAX_VALUES_DEPTH = 100
"""How deep a plugin's contributed values may nest (mappings and lists): deeper, they are
refused as the plugin's problem, before merging, digests or YAML recurse into them."""


def _not_plain_data(values: Mapping[str, Any]) -> str | None:
    """What in ``values`` is not plain YAML data a values file holds (``the key 1 (an int)``,
    ``an object at key 'a.b'``), or None. A non-finite float is refused too: helm's values
    file (JSON) cannot hold it; so are values that hold themselves (a mapping inside itself:
    values without end, walked forever) and values nested more than :data:`MAX_VALUES_DEPTH`
    levels deep."""
    stack: list[tuple[str, Any, tuple[int, ...]]] = [("", values, ())]
    while stack:
        path, node, above = stack.pop()
        if isinstance(node, Mapping | list | tuple):
            at = f" at key '{path if len(path) <= 60 else path[:57] + '...'}'" if path else ""
            if id(node) in above:
                return f"values that hold themselves{at}"
            if len(above) >= MAX_VALUES_DEPTH:
                return f"values nested more than {MAX_VALUES_DEPTH} levels deep{at}"
            above = (*above, id(node))
        if isinstance(node, Mapping):
            for k, v in node.items():
                if not isinstance(k, str):
                    at = f" under key '{path}'" if path else ""
                    return f"the key {k!r} ({a_type(k)}){at}, not a string"
                stack.append((f"{path}.{k}" if path else k, v, above))
        elif isinstance(node, list | tuple):
            stack.extend((f"{path}[{i}]", v, above) for i, v in enumerate(node))
        elif not isinstance(node, _PLAIN_SCALARS):
            return f"{a_type(node)} at key '{path}'"
        elif isinstance(node, float) and not math.isfinite(node):
            return f"the float {node!r} at key '{path}'"
    return None


def _option_fields(options: Any) -> dict[str, Any]:
    """An options object as ``{field: value}`` (attrs class, mapping, or one opaque value)."""
    if options is None:
        return {}
    if attrs.has(type(options)):
        every = attrs.asdict(options, recurse=True)
        return {f.name: every.get(f.name) for f in attrs.fields(type(options))}
    if isinstance(options, Mapping):
        return dict(options)
    return {"options": repr(options)}


def release_parts(chart: HelmChart) -> dict[str, str]:
    """The digest of each option and helm setting of ``chart`` (``DesiredState.parts``)."""
    return _parts(chart)


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


def _chart_digest(
    chart: HelmChart, project_dir: Path, digest: Callable[[Path], str] | None = None
) -> tuple[str | None, str | None]:
    from firestream_core.tools.chartfiles import chart_digest

    path = chart.chart_info.path
    if path is None:
        return None, None
    p = Path(path)
    p = p if p.is_absolute() else project_dir / p
    try:
        return (digest or chart_digest)(p), None
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
    resolved_version: str | None = None,
    steps: Iterable[str] = (),
    out_of_date: Iterable[str] = (),
    creates_namespace: bool = False,
) -> DesiredState:
    """The desired state of ``chart`` with the values plugins contributed (pure; no tool call).

    :param contributed: ``(plugin name, values)`` in the order to merge them
        (what :meth:`FirestreamPluginManager.contribute_values` returns).
    :param notes: what the plugins said about the values (plan reasons).
    :param problems: why the release cannot be deployed as configured.
    :param steps: what the chart type's ``exec`` does besides helm when the release changes.
    :param out_of_date: why the cluster does not hold the config in what a plugin keeps.
    :param creates_namespace: a plugin's ``pre_exec`` creates the release's namespace.
    :param breaking_version: a ``BreakingVersion`` a plugin decided; it
        replaces the chart's ``last_breaking_version_requiring_restart``.
    :param resolved_version: the exact version helm resolved the chart's version
        constraint (or missing version) to (:class:`ChartVersions`); it replaces the
        chart's ``version`` and is part of the digest.
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
        problem = _not_plain_data(given)
        if problem is not None:
            raise PluginError(
                f"plugin '{plugin}': contribute_values for release '{chart.chart_info.name}' returned "
                f"{problem}: values must be plain YAML data (string keys; str, int, float, bool, "
                "None, lists and mappings)"
            )
        by_plugin[plugin] = given
        merged = deep_merge(merged, given)
    desired.chart_info.plugin_values = merged
    if breaking_version is not None:
        desired.chart_info.last_breaking_version_requiring_restart = breaking_version
    if resolved_version is not None:
        desired.chart_info.version = resolved_version
    digest, problem = _values_digest(desired, project_dir)
    files, files_problem = _chart_digest(desired, project_dir)
    parts = _parts(desired)
    hashed: dict[str, Any] = {"values": digest, "chart files": files, "parts": parts}
    if resolved_version is not None:  # only then: the digests of other releases stay what they were
        hashed["version"] = resolved_version
    return DesiredState(
        chart=desired,
        contributed=by_plugin,
        values_digest=digest,
        values_problem=problem,
        chart_digest=files,
        files_problem=files_problem,
        parts=parts,
        digest=_hash(hashed),
        notes=tuple(dict.fromkeys(notes)),
        problems=tuple(dict.fromkeys(problems)),
        breaking_version=breaking_version,
        resolved_version=resolved_version,
        steps=tuple(dict.fromkeys(steps)),
        out_of_date=tuple(dict.fromkeys(out_of_date)),
        creates_namespace=creates_namespace,
    )


def _shown_path(path: Path | str, project_dir: Path) -> str:
    """``path`` relative to the project's folder when it is below it, as the config gives it."""
    p = Path(path)
    try:
        return p.relative_to(project_dir).as_posix() if p.is_absolute() else str(path)
    except ValueError:
        return str(path)


def changed_since_plan(
    chart: HelmChart, *, project_dir: Path | str, values_digest: str | None, chart_digest: str | None,
    chart_digests: RecentDigests | None = None,
) -> list[str]:
    """Why ``chart`` is no longer the desired state its plan showed: its files changed on disk.

    ``values_digest`` and ``chart_digest`` are the plan's (``Change``); the values
    files and a local chart folder are read again now, as helm is about to read
    them. A values file edited (or a branch checked out) while apply waited for a
    confirmation or for the release's dependencies would otherwise reach helm
    unseen by the plan. Nothing is compared where the plan could not read them
    (a digest of None). The problem names the files, never a value. ``chart_digests``
    (a run's :class:`~firestream_core.tools.chartfiles.RecentDigests`) reads a chart
    folder many releases share once per tenth of a second instead of once per release.
    """
    project_dir = Path(project_dir)
    info = chart.chart_info
    changed: list[str] = []
    if values_digest is not None and _values_digest(chart, project_dir)[0] != values_digest:
        files = ", ".join(_shown_path(f, project_dir) for f in info.values_files)
        changed.append("its values" + (f" (values files: {files})" if files else ""))
    digest = chart_digests.digest if chart_digests is not None else None
    if chart_digest is not None and _chart_digest(chart, project_dir, digest)[0] != chart_digest:
        changed.append(f"its local chart '{_shown_path(info.path or '', project_dir)}'")
    if not changed:
        return []
    return [" and ".join(changed) + " changed since the plan was made: nothing was changed; "
            "make and review a new plan"]


@reading_once()  # a chart folder several releases share is hashed once
def desired_states(
    charts: Iterable[HelmChart],
    *,
    manager: FirestreamPluginManager | None,
    project_dir: Path | str,
    helm: HelmTool | None = None,
    kubectl: KubectlTool | None = None,
    repositories: Mapping[str, str] | None = None,
    installed: Mapping[tuple[str, str], InstalledRelease] | None = None,
    redactor: Redactor | None = None,
    releases: Mapping[str, str] | None = None,
    offline: bool = False,
    versions: ChartVersions | None = None,
) -> dict[str, DesiredState]:
    """Release name -> its desired state, each plugin's ``contribute_values`` called once per release.

    :param releases: the project's releases, name -> chart type (``context.releases``);
        those of ``charts`` when None.
    :param offline: no cluster (``firestream validate``): the hooks see ``context.offline``
        and note what they will decide instead of asking (``helm`` and ``kubectl`` are None).
    :param versions: resolves the version constraints (and missing versions) of repository
        and OCI charts with helm (:class:`ChartVersions`); None: none is resolved (the
        chart keeps its constraint and the plan cannot compare it).

    The hooks see read-only views of ``helm`` and ``kubectl``
    (:class:`ReadOnlyHelm`, :class:`ReadOnlyKubectl`). A hook that raises stops here with a
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
        local = local_chart_version(info, project_dir)
        resolved, resolve_problem = local, None
        if local is None and versions is not None and not offline:
            resolved, resolve_problem = versions.resolve(info)
        if resolved is not None:  # the hooks and the desired state see the version helm deploys,
            chart = copy.deepcopy(chart)  # never a constraint (a plugin's version rules compare it)
            info = chart.chart_info
            info.version = resolved
        contributed: list[tuple[str, Mapping[str, Any]]] = []
        notes: list[str] = []
        problems: list[str] = []
        breaking: BreakingVersion | None = None
        steps: list[str] = []
        stale: list[str] = []
        creates = False
        # no plugin concerned contributes: no context to build, no copy of the chart to hand out
        if manager is not None and manager.calls_contribute_values(chart):
            try:
                ns = info.namespace_name
            except ValueError:
                ns = ""
            context = DeployContext(
                helm=ReadOnlyHelm(helm),
                kubectl=ReadOnlyKubectl(kubectl),
                project_dir=project_dir,
                repositories=dict(repositories or {}),
                installed=seen.get((ns, info.name)),
                redactor=redactor,
                # named and redacted as the lifecycle's context.log (a library user's handler has no filter)
                log=ReleaseLogger(logging.getLogger("firestream"), info.name, redactor=redactor),
                releases=project_releases,
                offline=offline,
            )
            with redacting(redactor):  # a plugin's own logger's records too (release_log.redacting)
                contributed = _contributions(manager, chart, context)
            # what the plugins said goes to the plan (Change.reasons, plan.to_json()) as they said
            # it: a secret they registered (a password_env value) is hidden there as in a log line
            hide = redactor.redact if redactor is not None else str
            notes, problems = [hide(t) for t in context.notes], [hide(t) for t in context.problems]
            steps, stale = [hide(t) for t in context.steps], [hide(t) for t in context.out_of_date_reasons]
            breaking = context.breaking_version
            creates = context.namespace_by_plugin
        if resolve_problem:
            problems = [*problems, resolve_problem]
        out[info.name] = desired_state(chart, project_dir=project_dir, contributed=contributed, notes=notes,
                                       problems=problems, breaking_version=breaking,
                                       resolved_version=resolved, steps=steps, out_of_date=stale,
                                       creates_namespace=creates)
    return out


def chart_yaml(path: Path) -> dict[str, Any]:
    """A local chart's ``Chart.yaml`` as a mapping ({} when unreadable: prerequisites report it).

    ``path`` is a chart folder or a chart archive (``.tgz``: its ``Chart.yaml`` read as helm
    reads it, :func:`~firestream_core.tools.chartfiles.archive_files`, whatever the archive
    is called). Read once per plan for a chart several releases share
    (:func:`~firestream_core.tools.chartfiles.read_once`).
    """
    return read_once("Chart.yaml", path, lambda: _read_chart_yaml(path))


def _read_chart_yaml(path: Path) -> dict[str, Any]:
    """The first YAML document of the chart's ``Chart.yaml``, read as the files pass reads it
    (``config/files.py``, helm's way: later documents ignored, aliases bounded), so the plan
    names the chart helm installs from every ``Chart.yaml`` that ``validate`` passes."""
    import yaml

    from firestream_core.tools.values import load_values_yaml_all

    try:
        if path.is_dir():
            text = (path / "Chart.yaml").read_text(encoding="utf-8")
        else:
            from firestream_core.tools.chartfiles import archive_files

            text = archive_files(path, lambda name: name == "Chart.yaml").get("Chart.yaml", b"").decode("utf-8")
        docs = load_values_yaml_all(text)
    except (OSError, ValueError, yaml.YAMLError, RecursionError) as exc:
        log.debug("cannot read %s's Chart.yaml: %s", path, type(exc).__name__)
        return {}
    data = docs[0] if docs else None
    return data if isinstance(data, dict) else {}


def local_chart_version(info: ChartInfo, project_dir: Path) -> str | None:
    """The version a local chart (``path``) deploys when its chart info names another, else None.

    helm installs a folder at the version its ``Chart.yaml`` gives and ignores any
    other: a chart type's default version (``17.1.0``, its repository chart's) or a
    ``version`` key beside ``path`` is not what runs. None when they agree, when the
    chart info names no exact version (a constraint is not resolved for a local chart:
    the plan reads ``Chart.yaml``'s), or when ``Chart.yaml`` names none.
    """
    named = exact_version(info.version) if info.path is not None else None
    if named is None:  # no path, no version, or a constraint: the plan reads Chart.yaml's anyway
        return None
    path = Path(info.path)  # type: ignore[arg-type]
    local = exact_version(chart_yaml(path if path.is_absolute() else project_dir / path).get("version"))
    return local if local is not None and local != named else None


def exact_version(version: object) -> str | None:
    """``version`` as an exact version (without ``v``), None for a constraint (``^1.2``) or none.

    >>> exact_version("v1.2.3"), exact_version("^1.2"), exact_version(None)
    ('1.2.3', None, None)
    """
    return _exact_text(str(version).strip()) if version else None


@functools.lru_cache(maxsize=1024)
def _exact_text(text: str) -> str | None:
    """``text`` as an exact version (without ``v``), None for a constraint; once per text."""
    from firestream_core.model import SemVer

    try:
        SemVer.parse(text)
    except ValueError:
        return None
    return text.lstrip("v")


class ChartVersions:
    """The exact versions of one plan's repository and OCI charts, asked of helm.

    A release of a repository (``repo/chart``) or ``oci://`` chart whose config gives
    a version constraint (``^0.1``) or no version is installed at the version helm
    picks then; the plan names that version, so it is resolved when the plan is
    made, with helm itself (:meth:`~firestream_core.tools.helm.Helm.resolve_version`):
    the repository is added first (``helm repo add --force-update`` into the run's own
    repositories, once per run, with its host's credentials: it fetches the index), then one ``helm search
    repo`` (or ``helm show chart`` for OCI) per distinct (chart, constraint). A
    local chart or an exact version costs nothing.

    :param helm: the run's helm.
    :param repositories: repository name -> URL (the project's ``[repositories]``).
    """

    def __init__(self, helm: HelmTool, repositories: Mapping[str, str]) -> None:
        self.helm = helm
        self.repositories = dict(repositories)
        self._found: dict[tuple[str, str], tuple[str | None, str | None]] = {}

    def resolve(self, info: ChartInfo) -> tuple[str | None, str | None]:
        """``(version, None)``, or ``(None, problem)`` when nothing matches or helm failed;
        ``(None, None)`` when there is nothing to resolve (a local chart, an exact
        version, a release that is not deployed, a chart named without a repository)."""
        from firestream_core.model import HelmAction

        if info.path is not None or info.action is not HelmAction.DEPLOY or exact_version(info.version):
            return None, None
        ref = info.chart_ref
        repo, _ = chart_repository(info)
        if repo is None and not ref.startswith("oci://"):
            return None, None  # helm itself will say what it makes of it
        constraint = str(info.version).strip() if info.version else ""
        key = (ref, constraint)
        if key not in self._found:
            self._found[key] = self._ask(ref, repo, constraint)
        version, problem = self._found[key]
        return version, problem and f"release '{info.name}': {problem}"

    def _ask(self, ref: str, repo: str | None, constraint: str) -> tuple[str | None, str | None]:
        from firestream_core.errors import CancelledError

        what = f"version '{constraint}'" if constraint else "the latest version"
        url = self.repositories.get(repo) if repo else None
        if repo and not url:  # the run's helm knows the project's repositories alone
            return None, f"cannot resolve {what} of chart '{ref}': repository '{repo}' has no URL in [repositories]"
        try:
            if repo and url and not url.startswith("oci://"):
                self.helm.repo_add(repo, url)
            found = self.helm.resolve_version(ref, constraint or None)
        except CancelledError:
            raise
        except FirestreamError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return None, f"cannot resolve {what} of chart '{ref}': {first}"
        if found is None:
            if constraint:
                return None, f"no version of chart '{ref}' matches '{constraint}'"
            return None, f"chart '{ref}' has no version to install"
        log.debug("chart %s %s resolved to %s", ref, constraint or "(latest)", found)
        return found, None


def _contributions(
    manager: FirestreamPluginManager, chart: HelmChart, context: DeployContext
) -> list[tuple[str, Mapping[str, Any]]]:
    hide = context.redactor.redact if context.redactor is not None else str
    try:
        return manager.contribute_values(copy.deepcopy(chart), context)
    except FirestreamError as exc:
        # the plugin's message may hold a value it (or the project) registered as secret: the
        # library's error is printed and logged by programs as it is (only the CLI redacts its own)
        text, hint = str(exc), exc.hint
        if hide(text) == text and (hint is None or hide(hint) == hint):
            raise
        raise PluginError(hide(text), hint=hide(hint) if hint is not None else None) from exc
    except Exception as exc:  # a plugin's bug: named, never a traceback without -v
        raise PluginError(hide(
            f"release '{chart.chart_info.name}': contribute_values raised "
            f"{type(exc).__name__}: {exc}"
        )) from exc


def part_reasons(recorded: Mapping[str, str] | None, parts: Mapping[str, str]) -> list[str]:
    """``option kafka_cluster changed`` for each part whose digest differs from the recorded one.

    Nothing when the state recorded no parts (an entry written before
    firestream recorded them): what was deployed then is unknown, and the
    values and chart comparisons still apply.
    """
    if not recorded or recorded == parts:
        return []
    out = []
    for name in sorted(set(recorded) | set(parts)):
        if recorded.get(name) != parts.get(name):
            out.append(f"{name} changed")
    return out

