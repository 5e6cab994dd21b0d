"""Parsed TOML data checked, table by table, into a ``ProjectConfig``.

``parse_config`` checks the top-level keys, ``[project]``, ``[state]``,
``[settings]``, ``[repositories]``, ``[registries]``, ``[defaults]`` (no
per-release keys) and every ``deployments`` entry (a single table or an array
of tables), collecting every problem before raising one ``ConfigError``.
With a plugin manager it also resolves each release's chart type
(``resolve_chart_type``: an installed type, else ``generic`` when a chart is
given) and checks its options against the chart type's options class.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from firestream_core.config.checks import release_key_problems, settings_problems, state_problems
from firestream_core.config.converter import structure
from firestream_core.config.model import (
    DEFAULTS_KEYS,
    PER_RELEASE_ONLY,
    RELEASE_KEYS,
    TOP_LEVEL_KEYS,
    ProjectConfig,
    ProjectSection,
    ReleaseConfig,
    ReleaseKeys,
    RepositoryURL,
    Settings,
    StateConfig,
)
from firestream_core.config.paths import (
    BARE_KEY,
    first_line,
    join_path,
    problems_hint,
    type_name,
    unknown_key,
)
from firestream_core.config.secrets import flatten_secret_values
from firestream_core.errors import ConfigError, FirestreamError, PluginError, UnknownChartTypeError

if TYPE_CHECKING:
    from firestream_core.plugin.manager import FirestreamPluginManager

T = TypeVar("T")


def parse_config(
    data: Mapping[str, Any],
    path: str | os.PathLike[str],
    manager: FirestreamPluginManager | None = None,
    environment: str | None = None,
) -> ProjectConfig:
    """Check and structure already-parsed TOML data (``path`` names it in messages).

    :param environment: apply ``[environments.<environment>]`` first (``-e NAME``).
    """
    config, problems, hints = parse_config_collect(data, path, manager, environment)
    if problems:
        raise ConfigError(f"{config.path} is invalid:", problems, hint=problems_hint(problems, hints))
    return config


def parse_config_collect(
    data: Mapping[str, Any],
    path: str | os.PathLike[str],
    manager: FirestreamPluginManager | None = None,
    environment: str | None = None,
) -> tuple[ProjectConfig, list[str], list[str]]:
    """``parse_config`` without raising: (the config as far as it is valid, problems, hints).

    A release or ``[defaults]`` with invalid keys is kept without those keys,
    so that the later passes (files, graph) still see it. ``[environments]`` is
    applied first (``environment``: the one chosen with ``-e NAME``).
    """
    p = Path(path)
    problems: list[str] = []
    hints: list[str] = []
    if "environments" in data or environment is not None:
        from firestream_core.config.environments import apply_environment, written_at

        data, env = apply_environment(data, environment, problems)
    else:  # what apply_environment returns then, without importing it (start-up of every command)
        data, env = dict(data), None
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(unknown_key("", key, TOP_LEVEL_KEYS))

    def section(key: str, cls: type[T]) -> T:
        raw = data.get(key, {})
        if not isinstance(raw, dict):
            problems.append(f"{key}: expected a table, got {type_name(raw)}")
            return cls()
        if not raw and _all_defaulted(cls):
            return cls()  # what structuring {} gives, without generating cls's structuring code
        obj, errs = structure(raw, cls, key)
        problems.extend(errs)
        return obj if obj is not None else cls()

    project = section("project", ProjectSection)
    state = section("state", StateConfig)
    settings = section("settings", Settings)
    problems.extend(settings_problems(settings))
    if "state" in data and isinstance(data["state"], dict):
        problems.extend(state_problems(state, project, data["state"]))
    repositories = _parse_repositories(data.get("repositories", {}), problems)
    registries = _parse_registries(data.get("registries", {}), problems)
    defaults = _parse_defaults(data.get("defaults", {}), problems)
    problems.extend(release_key_problems(defaults, "defaults"))
    releases = _parse_deployments(data.get("deployments", {}), manager, problems, hints)
    config = ProjectConfig(
        path=p,
        project_dir=p.resolve().parent,
        project=project,
        repositories=repositories,
        registries=registries,
        defaults=defaults,
        state=state,
        settings=settings,
        releases=tuple(releases),
        environment=env.name if env else None,
        kube_context=env.kube_context if env else None,
        overlaid=env.overlaid if env else {},
        left_out=env.left_out if env else frozenset(),
        moved=env.moved if env else {},
        added=env.added if env else {},
    )
    if config.overlaid or config.moved or config.added:  # a problem of an environment's release: named where it is written
        problems = list(dict.fromkeys(written_at(x, config) for x in problems))  # an environment's value: once
    return config, problems, hints


def _parse_repositories(repos_raw: Any, problems: list[str]) -> dict[str, str]:
    """``[repositories]``: name -> URL (problems appended)."""
    repositories: dict[str, str] = {}
    if not isinstance(repos_raw, dict):
        problems.append(f"repositories: expected a table, got {type_name(repos_raw)}")
        return repositories
    for name, url in repos_raw.items():
        where = join_path("repositories", name)
        if not BARE_KEY.match(name):
            problems.append(f"{where}: invalid repository name (letters, digits, '-' and '_')")
        obj, errs = structure(url, RepositoryURL, where)
        problems.extend(errs)
        if obj is not None:
            repositories[name] = obj
    return repositories


def _parse_defaults(defaults_raw: Any, problems: list[str]) -> ReleaseKeys:
    """``[defaults]``: the release keys every release starts from (problems appended)."""
    if not isinstance(defaults_raw, dict):
        problems.append(f"defaults: expected a table, got {type_name(defaults_raw)}")
        return ReleaseKeys()
    raw = dict(defaults_raw)
    for key in PER_RELEASE_ONLY:
        if key in raw:
            raw.pop(key)
            problems.append(f"defaults.{key}: cannot be set in [defaults], only per release")
    for key in [k for k in raw if k not in DEFAULTS_KEYS]:
        raw.pop(key)
        problems.append(unknown_key("defaults", key, DEFAULTS_KEYS))
    if not raw:  # no [defaults]: what structuring {} gives, without generating ReleaseKeys' code
        return ReleaseKeys()
    obj = _structure_release_keys(raw, ReleaseKeys, "defaults", problems)
    return obj if obj is not None else ReleaseKeys()


def _all_defaulted(cls: type) -> bool:
    """Every field of the attrs class ``cls`` has a default (so ``cls()`` == structuring ``{}``).

    Start-up (issue 13): cattrs generates and compiles a structuring function per
    class on first use, about 1-2 ms each; a table the file leaves out needs none.
    """
    return all(a.default is not attrs.NOTHING for a in attrs.fields(cls))


def _parse_deployments(
    deployments: Any,
    manager: FirestreamPluginManager | None,
    problems: list[str],
    hints: list[str],
) -> list[ReleaseConfig]:
    """Every ``[deployments.<type>]`` table or array of tables, in file order (problems appended)."""
    releases: list[ReleaseConfig] = []
    if not isinstance(deployments, dict):
        problems.append(f"deployments: expected a table, got {type_name(deployments)}")
        return releases
    for ctype, entries in deployments.items():
        where = join_path("deployments", ctype)
        if isinstance(entries, dict):
            items: list[tuple[int | None, Any]] = [(None, entries)]
        elif isinstance(entries, list):
            items = list(enumerate(entries))
        else:
            problems.append(
                f"{where}: expected a table or an array of tables, got {type_name(entries)}"
            )
            continue
        for index, entry in items:
            rwhere = where if index is None else f"{where}[{index}]"
            if not isinstance(entry, dict):
                problems.append(f"{rwhere}: expected a table, got {type_name(entry)}")
                continue
            rc = _parse_release(ctype, index, entry, rwhere, manager, problems, hints)
            if rc is not None:
                releases.append(rc)
    return releases


def _parse_release(
    ctype: str,
    index: int | None,
    entry: dict[str, Any],
    rwhere: str,
    manager: FirestreamPluginManager | None,
    problems: list[str],
    hints: list[str],
) -> ReleaseConfig | None:
    """One release: its release keys structured, then its chart type and options checked."""
    known = {k: v for k, v in entry.items() if k in RELEASE_KEYS}
    options = {k: v for k, v in entry.items() if k not in RELEASE_KEYS}
    known.update(chart_type=ctype, index=index, options=options)
    obj = _structure_release_keys(known, ReleaseConfig, rwhere, problems)
    if obj is not None:
        problems.extend(release_key_problems(obj, rwhere))
    if manager is not None:
        probe = obj or ReleaseConfig(
            chart_type=ctype,
            index=index,
            chart=entry.get("chart") if isinstance(entry.get("chart"), str) else None,
            path=entry.get("path") if isinstance(entry.get("path"), str) else None,
            options=options,
        )
        problems.extend(chart_type_problems(probe, manager, hints))
    return obj


def _structure_release_keys(
    raw: dict[str, Any], cls: type, where: str, problems: list[str]
) -> Any:
    """One release (or ``[defaults]``) structured, or None; ``secret_values`` flattened first.

    Every problem is appended to ``problems``, in the order the keys are written.
    ``raw`` is the caller's own copy: keys that cannot be structured are taken out of it.
    """
    start = len(problems)
    keys = list(raw)  # the order they are written in, for the problems
    if "secret_values" in raw:
        flat, errs = flatten_secret_values(raw["secret_values"], join_path(where, "secret_values"))
        problems.extend(errs)
        raw["secret_values"] = flat
    if "values" in raw and not isinstance(raw["values"], dict):
        problems.append(f"{join_path(where, 'values')}: expected a table, got {type_name(raw['values'])}")
        raw.pop("values")
    obj, errs = structure(raw, cls, where)
    if len(problems) == start and not errs:
        return obj

    def head(problem: str) -> str:
        rest = problem[len(where) + 1 :]
        return re.split(r"[.\[:]", rest, maxsplit=1)[0]

    if obj is None and errs:  # keep the release without its invalid keys, for the later passes
        bad = {head(e) for e in errs} - {"chart_type", "index", "options"}
        obj, _ = structure({k: v for k, v in raw.items() if k not in bad}, cls, where)

    # report in the order the keys are written in the file
    order = {k: i for i, k in enumerate(keys)}
    pre = problems[start:]
    del problems[start:]
    problems.extend(sorted([*pre, *errs], key=lambda p: order.get(head(p), len(order))))
    return obj


def _parse_registries(raw: Any, problems: list[str]) -> dict[str, Any]:
    """``[registries."host:port"]`` tables -> host -> ``oci.RegistryConfig`` (problems appended)."""
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        problems.append(f"registries: expected a table, got {type_name(raw)}")
        return out
    if not raw:
        return out
    from firestream_core.tools.oci import RegistryConfig, registry_problems
    for host, entry in raw.items():
        where = join_path("registries", host)
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a table, got {type_name(entry)}")
            continue
        obj, errs = structure(entry, RegistryConfig, where)
        problems.extend(errs)
        if obj is not None:
            problems.extend(registry_problems(host, obj, where))
            out[host] = obj
    return out


def chart_type_problems(
    rc: ReleaseConfig, manager: FirestreamPluginManager, hints: list[str]
) -> list[str]:
    """The release's chart type and its option keys, checked against the installed plugins.

    :param hints: gets the error's hint (a broken plugin: ``firestream plugins -v``).
    """
    try:
        reg = manager.chart_type(resolve_chart_type(rc, manager))
        fields = option_fields(reg)
    except FirestreamError as exc:
        if exc.hint:
            hints.append(exc.hint)
        return [f"{rc.where}: {first_line(exc)}"]
    out = []
    for key, value in rc.options.items():
        if key not in fields:
            out.append(unknown_key(rc.where, key, RELEASE_KEYS | set(fields)))
            continue
        out.extend(structure(value, fields[key], join_path(rc.where, key))[1])
    return out


def resolve_chart_type(rc: ReleaseConfig, manager: FirestreamPluginManager) -> str:
    """The chart type a release uses: its key when installed, else ``generic`` with a chart.

    :raises PluginError: the key names a chart type whose plugin is broken.
    :raises UnknownChartTypeError: neither an installed type nor a chart given.
    """
    key = rc.chart_type
    try:
        manager.chart_type(key)
    except UnknownChartTypeError:
        if rc.chart or rc.path:
            return "generic"
        installed = ", ".join(manager.chart_type_names()) or "none"
        raise UnknownChartTypeError(
            f"unknown chart type '{key}': no installed plugin provides it and no 'chart' or "
            f"'path' is given (installed chart types: {installed})"
        ) from None
    return key


def option_fields(reg: Any) -> dict[str, Any]:
    """The chart type's option keys and their types ({} when it takes none).

    :raises PluginError: the plugin's ``options`` is not an attrs class.
    """
    cls = reg.chart_type.options
    if cls is None:
        return {}
    if not attrs.has(cls):
        raise PluginError(
            f"plugin {reg.origin}: options of chart type '{reg.name}' must be an attrs class"
        )
    try:
        attrs.resolve_types(cls)
    except Exception:  # unresolvable annotations: cattrs reports them when structuring
        pass
    return {a.name: a.type for a in attrs.fields(cls)}
