"""``build_charts``: one ``HelmChart`` per release of a ``ProjectConfig``.

For each release: the chart type's preset (or its defaults), then
``[defaults]``, then the release's own keys and options; config ``values``
and resolved ``secret_values`` become generated values files. Then release
names must be unique, ``depends_on`` must form a graph without unknown
names or cycles, and no release to deploy may depend on one whose action is
destroy. The result carries ``.secrets`` for the redactor.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from firestream_core.config.converter import converter, structure
from firestream_core.config.model import RELEASE_KEYS
from firestream_core.config.parse import option_fields, resolve_chart_type
from firestream_core.config.paths import first_line, join_path, problems_hint, unknown_key
from firestream_core.config.secrets import leaves, resolve_secret_values
from firestream_core.errors import ConfigError, FirestreamError, PluginError
from firestream_core.model import (
    BreakingVersion,
    ChartSetValue,
    ChartValuesGenerated,
    HelmAction,
    HelmChart,
    ReleaseSettings,
    unset_chart_fields,
)

if TYPE_CHECKING:
    from firestream_core.config.model import ProjectConfig, ReleaseConfig, ReleaseKeys
    from firestream_core.model import ChartInfo, ChartType
    from firestream_core.plugin.manager import FirestreamPluginManager, RegisteredChartType

T = TypeVar("T")


class BuiltCharts(list):  # type: ignore[type-arg]
    """``build_charts``'s result: a ``list[HelmChart]`` that also carries the secrets.

    :ivar secrets: every resolved ``secret_values`` value, to register with the redactor.
    :ivar paths: each chart's dotted path in the config file (same order as the list).
    :ivar plugin_failed: a release could not be built because of its plugin (broken,
        disabled, clashing, a preset that fails): the error is then a ``PluginError`` too.
    """

    secrets: list[str]
    paths: list[str]
    plugin_failed: bool = False

    def where(self, name: str) -> str:
        """The dotted config path of release ``name``."""
        for chart, path in zip(self, self.paths, strict=False):
            if chart.chart_info.name == name:
                return path
        raise KeyError(name)


def build_charts(
    config: ProjectConfig, manager: FirestreamPluginManager, *, resolve_secrets: bool = True
) -> BuiltCharts:
    """One ``HelmChart`` per release, in file order.

    For each release: the chart type's preset (``preset = "name"``) or its
    defaults, then ``[defaults]``, then the release's keys. Scalars replace,
    ``set``/``values_files``/``yaml_files_content`` append, ``depends_on``
    replaces, ``values`` and ``secret_values`` become generated values files
    (``<file>:deployments.<type>[i].values``) after the chart's own.

    :param resolve_secrets: False to leave ``secret_values`` out entirely (no
        environment variable or file is read): for commands that only look
        at the project's shape, such as ``graph``.
    :raises ConfigError: every problem at once (unknown chart types, broken
        plugins, unknown presets or option keys, missing secrets, invalid
        ``ChartInfo`` fields, duplicate releases, unknown dependencies, cycles,
        a destroyed release a deployed one depends on).
    """
    charts, problems, hints = collect_charts(config, manager, resolve_secrets=resolve_secrets)
    if problems:
        raise ConfigError(f"{config.path} is invalid:", problems, hint=problems_hint(problems, hints))
    return charts


def collect_charts(
    config: ProjectConfig,
    manager: FirestreamPluginManager,
    *,
    resolve_secrets: bool = True,
    graph_always: bool = False,
) -> tuple[BuiltCharts, list[str], list[str]]:
    """``build_charts`` without raising: (the charts that could be built, problems, hints).

    :param graph_always: check the graph even when other problems were found
        (validate reports everything at once); a release that could not be
        built still counts as defined there, with its own ``depends_on``.
    """
    problems: list[str] = []
    hints: list[str] = []
    charts = BuiltCharts()
    charts.secrets = []
    charts.paths = []
    unbuilt: dict[str, tuple[str, list[str]]] = {}
    for rc in config.releases:
        try:
            chart = _build_one(config, rc, manager, charts.secrets, problems, resolve_secrets)
        except FirestreamError as exc:  # a broken plugin or unknown chart type
            problems.append(f"{rc.where}: {first_line(exc)}")
            charts.plugin_failed = charts.plugin_failed or isinstance(exc, PluginError)
            if exc.hint:  # 'firestream plugins -v' for a broken plugin's traceback
                hints.append(exc.hint)
            chart = None
        if chart is None:
            unbuilt[rc.release_name] = (rc.where, list(rc.depends_on or ()))
            continue
        info = chart.chart_info
        given = rc.on_validation_failure or config.defaults.on_validation_failure
        chart.settings = ReleaseSettings(
            retries=_pick(rc.retries, config.defaults.retries, 0),
            retry_delay=_pick(rc.retry_delay, config.defaults.retry_delay, "10s"),
            run_tests=_pick(rc.run_tests, config.defaults.run_tests, False),
            on_validation_failure=given or config.settings.on_validation_failure,
            sensitive_keys=(*(config.defaults.sensitive_keys or ()), *(rc.sensitive_keys or ())),
        )
        for p in info.check():
            problems.append(f"{rc.where}.{p}")
        charts.append(chart)
        charts.paths.append(rc.where)

    problems += _duplicate_problems(charts)
    if not problems:
        problems += _graph_problems(charts, config)
    elif graph_always:
        problems += _graph_problems(charts, config, unbuilt)
    problems += _action_problems(charts)
    return charts, problems, hints


def _build_one(
    config: ProjectConfig,
    rc: ReleaseConfig,
    manager: FirestreamPluginManager,
    secrets: list[str],
    problems: list[str],
    resolve_secrets: bool = True,
) -> HelmChart | None:

    ctype = resolve_chart_type(rc, manager)
    reg = manager.chart_type(ctype)
    ct = reg.chart_type
    fields = option_fields(reg)
    name = rc.release_name
    if rc.preset is not None:
        factory = ct.presets.get(rc.preset)
        if factory is None:
            known = ", ".join(f"'{p}'" for p in sorted(ct.presets)) or "none"
            problems.append(
                f"{rc.where}.preset: unknown preset '{rc.preset}' for chart type '{ctype}' "
                f"(known presets: {known})"
            )
            return None
        label = f"preset '{rc.preset}'"
        chart = _call_plugin(factory, label, reg)
    else:
        label = "defaults"
        chart = _call_plugin(lambda: ct.default_chart(name), label, reg)
    _check_routing(chart, label, reg, manager)
    info = chart.chart_info
    info.name = name

    n = len(problems)
    _apply_keys(config, info, config.defaults, "defaults", secrets, problems, resolve_secrets)
    _apply_keys(config, info, rc, rc.where, secrets, problems, resolve_secrets)
    if rc.depends_on is not None:
        info.depends_on = list(rc.depends_on)
    chart.options = _options(ct, fields, chart.options, rc, problems)
    return chart if len(problems) == n else None


def _check_routing(chart: HelmChart, label: str, reg: RegisteredChartType,
                   manager: FirestreamPluginManager) -> None:
    """A preset (or the defaults) building a chart whose ``chart_type`` routes its hooks to another
    plugin (a plain ``HelmChart``: ``generic``) is refused, as ``plugins --check`` names it: the
    release would deploy with none of this plugin's hooks, and nothing would say so."""
    said = chart.chart_type
    if said == reg.name:
        return
    try:
        owner = manager.chart_type(said).plugin
    except Exception:  # noqa: BLE001 - unknown or broken: not this plugin's either
        owner = None
    if owner is not reg.plugin:
        raise PluginError(
            f"plugin {reg.origin}: {label} of chart type '{reg.name}' builds a {type(chart).__name__} "
            f"whose chart_type is '{said}', so the plugin's hooks would never be called for its "
            f"releases: build a {reg.chart_type.chart_class.__name__} (the class registered as '{reg.name}')"
        )


def _call_plugin(factory: Callable[[], object], label: str, reg: RegisteredChartType) -> HelmChart:
    try:
        chart = factory()
    except (Exception, SystemExit) as exc:  # sys.exit(0) here made plan and validate exit 0, silent
        raise PluginError(
            f"plugin {reg.origin}: {label} of chart type '{reg.name}' failed: "
            f"{type(exc).__name__}: {first_line(exc)}"
        ) from exc
    if not isinstance(chart, HelmChart):
        raise PluginError(
            f"plugin {reg.origin}: {label} of chart type '{reg.name}' returned "
            f"{type(chart).__name__}, not a HelmChart"
        )
    unset = unset_chart_fields(chart)
    if unset:
        raise PluginError(
            f"plugin {reg.origin}: {label} of chart type '{reg.name}' returned a "
            f"{type(chart).__name__}: {unset}"
        )
    return chart


_SCALARS = (
    "chart",
    "repository",
    "version",
    "namespace",
    "custom_namespace",
    "atomic",
    "force_upgrade",
    "create_namespace",
    "timeout",
    "dry_run",
    "wait",
    "wait_for_jobs",
    "hooks_disabled",
    "skip_crds",
    "history_max",
)


def _apply_keys(
    config: ProjectConfig,
    info: ChartInfo,
    keys: ReleaseKeys,
    where: str,
    secrets: list[str],
    problems: list[str],
    resolve_secrets: bool = True,
) -> None:
    """Apply the given (non-None) keys of a release or of ``[defaults]`` to ``info``."""
    for key in _SCALARS:
        value = getattr(keys, key)
        if value is not None:
            setattr(info, key, value)
    if keys.action is not None:
        info.action = HelmAction(keys.action)
    if keys.path is not None:
        info.path = _under(config.project_dir, keys.path)
    if keys.last_breaking_version_requiring_restart is not None:
        b = keys.last_breaking_version_requiring_restart
        info.last_breaking_version_requiring_restart = BreakingVersion(
            b.version, b.requires_uninstall, [list(c) for c in b.pre_upgrade_commands]
        )
    if keys.values_files:
        info.values_files.extend(_under(config.project_dir, f) for f in keys.values_files)
    if keys.yaml_files_content:
        info.yaml_files_content.extend(
            ChartValuesGenerated(g.filename, g.yaml_content) for g in keys.yaml_files_content
        )
    if keys.values:
        info.yaml_files_content.append(
            ChartValuesGenerated(f"{config.path.name}:{where}.values", _dump_yaml(keys.values))
        )
    if keys.secret_values and resolve_secrets:
        resolved = resolve_secret_values(config, keys.secret_values, join_path(where, "secret_values"), problems)
        if resolved is not None:
            secrets.extend(v for v in leaves(resolved) if v)
            info.yaml_files_content.append(
                ChartValuesGenerated(f"{config.path.name}:{where}.secret_values", _dump_yaml(resolved),
                                     secret=True)
            )
    if keys.set:
        info.values.extend(ChartSetValue(s.key, s.value) for s in keys.set)


@functools.lru_cache(maxsize=1024)
def _under(folder: Path, given: str) -> Path:
    """``folder / given``, one ``Path`` for the releases that name the same chart or file."""
    return folder / given


def _dump_yaml(data: Mapping[str, Any]) -> str:
    from firestream_core.tools.values import dump_document

    return dump_document(data)


def _options(
    ct: ChartType, fields: Mapping[str, Any], base: object, rc: ReleaseConfig, problems: list[str]
) -> object:
    """The chart type's options: the preset's/defaults' options updated with the release's keys."""
    cls = ct.options
    given = {}
    for key, value in rc.options.items():
        if key in fields:
            given[key] = value
        else:
            problems.append(unknown_key(rc.where, key, RELEASE_KEYS | set(fields)))
    if cls is None or (not given and base is not None):
        return base
    data: dict[str, Any] = dict(converter().unstructure(base)) if base is not None else {}
    data.update(given)
    obj, errs = structure(data, cls, rc.where)
    problems.extend(errs)
    return obj if obj is not None else base


def _pick(release: T | None, defaults: T | None, default: T) -> T:
    """The release's value, else ``[defaults]``'s, else the built-in default."""
    return release if release is not None else defaults if defaults is not None else default


def _duplicate_problems(charts: BuiltCharts) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for i, chart in enumerate(charts):
        info = chart.chart_info
        j = seen.setdefault(info.name, i)
        if j == i:
            continue
        first, this = charts.paths[j], charts.paths[i]
        try:
            ns = info.namespace_name
            same_ns = charts[j].chart_info.namespace_name == ns
        except ValueError:
            same_ns, ns = False, ""
        if same_ns:
            problems.append(f"{this}: release '{info.name}' in namespace '{ns}' is already defined by {first}")
        else:
            problems.append(
                f"{this}: release name '{info.name}' is already used by {first}; release names must "
                "be unique in a project so that depends_on is unambiguous (set 'name')"
            )
    return problems


def _action_problems(charts: BuiltCharts) -> list[str]:
    """A release whose ``action`` is destroy that a release whose action is deploy depends on.

    One problem per destroyed release, at its ``action`` key, naming each such
    dependent and its ``depends_on`` key. A dependent that is destroyed too,
    or skipped (left as it stands), is fine (:func:`~firestream_core.graph.destroyed_but_needed`).
    """
    from firestream_core.graph import destroyed_but_needed

    out = []
    for name, dependents in destroyed_but_needed(charts).items():
        who = ", ".join(f"'{d}' ({charts.where(d)}.depends_on)" for d in dependents)
        if len(dependents) == 1:
            them, their = f"'{dependents[0]}'", "its"
            who = f"release {who} depends on it and has"
        else:
            them, their = "them", "their"
            who = f"releases {who} depend on it and have"
        out.append(
            f"{charts.where(name)}.action: release '{name}' has action = \"destroy\", but {who} "
            f"action = \"deploy\": apply would uninstall '{name}' and still deploy {them}; give "
            f"{them} action = \"destroy\" or \"skip\" too, or take '{name}' out of {their} depends_on"
        )
    return out


def _graph_problems(
    charts: BuiltCharts,
    config: ProjectConfig,
    unbuilt: Mapping[str, tuple[str, list[str]]] | None = None,
) -> list[str]:
    from firestream_core.errors import UnknownDependencyError
    from firestream_core.graph import find_problems

    # a depends_on that is no list (ChartInfo.check() names it) is not read as its letters
    deps = {c.chart_info.name: [d for d in c.chart_info.depends_on if isinstance(d, str)]
            if isinstance(c.chart_info.depends_on, list | tuple) else [] for c in charts}
    where = {name: w for name, (w, _) in (unbuilt or {}).items()}
    for name, (_, d) in (unbuilt or {}).items():
        deps.setdefault(name, d)
    out = []
    for p in find_problems(deps, str(config.path)):
        if isinstance(p, UnknownDependencyError):
            at = where[p.release] if p.release in where else charts.where(p.release)
            if p.missing in config.left_out:  # defined, but not part of this environment
                env = join_path("environments", config.environment)
                out.append(f"{at}.depends_on: release '{p.release}' depends on '{p.missing}', which "
                           f"environment '{config.environment}' leaves out ({env}.releases)")
            else:
                out.append(f"{at}.depends_on: {p}")
        else:  # a cycle; a link an environment's overlay made is named where it is written
            overlays = []
            for name in dict.fromkeys(getattr(p, "cycle", [])):
                place = where.get(name) or _path_or_none(charts, name)
                for source, keys in config.overlaid.get(place, ()) if place else ():
                    if "depends_on" in keys:
                        overlays.append(f"{source}.depends_on")
            out.append(f"{p} ({', '.join(overlays)})" if overlays else str(p))
    return out


def _path_or_none(charts: BuiltCharts, name: str) -> str | None:
    try:
        return charts.where(name)
    except KeyError:
        return None
