"""``firestream.toml`` -> ``ProjectConfig`` -> one ``HelmChart`` per release.

``load_config(path)`` reads the file with ``tomllib`` and structures it with
ONE cattrs converter (``forbid_extra_keys=True``) into frozen attrs models.
Every problem is collected and reported at once as ``dotted.path: message``
(``deployments.postgresql[0].timeout: invalid duration 'soon': expected e.g.
'300s', '5m' or '1h'``) in a single ``ConfigError``. A TOML syntax error names
the file, line and column.

``build_charts(config, manager)`` turns each release into a ``HelmChart``:
the chart type's preset (or its defaults), then ``[defaults]``, then the
release's own keys; config ``values`` and resolved ``secret_values`` become
generated values files; ``depends_on`` is checked through ``graph``. The
returned list carries ``.secrets`` (every resolved secret value) for the
redactor.

Messages never contain a value from ``values``, ``set`` or ``secret_values``.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NewType

import attrs

from .errors import ConfigError, FirestreamError, GraphError, PluginError

if TYPE_CHECKING:
    import cattrs

    from .model import HelmChart
    from .plugins import FirestreamPluginManager

DEFAULT_CONFIG_NAME = "firestream.toml"

# -- value types with their own checks (cattrs hooks below) ------------------------

Duration = NewType("Duration", str)
"""A helm-style duration: ``300s``, ``5m``, ``1h``, ``1h30m``."""
ChartVersion = NewType("ChartVersion", str)
"""A semantic version or a helm version constraint."""
StrictVersion = NewType("StrictVersion", str)
"""A semantic version (no constraint)."""
NonNegativeInt = NewType("NonNegativeInt", int)
SetScalar = NewType("SetScalar", str)
"""A ``set`` value: a string, number or boolean, kept as helm's string form."""
Command = NewType("Command", tuple)  # type: ignore[type-var]
"""A pre-upgrade command: an argument list, or a string split with shlex."""
Action = NewType("Action", str)
Table = NewType("Table", dict)  # type: ignore[type-var]
"""A TOML table kept as is (``values``)."""
RepositoryURL = NewType("RepositoryURL", str)
Backend = NewType("Backend", str)
ValidationFailureMode = NewType("ValidationFailureMode", str)

_CHOICES: dict[Any, tuple[str, ...]] = {
    Action: ("deploy", "destroy", "skip"),
    Backend: ("local", "kubernetes"),
    ValidationFailureMode: ("fail", "warn"),
}

# -- the file's models ---------------------------------------------------------------


@attrs.frozen
class ProjectSection:
    """``[project]``: ``name`` (optional, shown in output and used by the state)."""

    name: str | None = None


@attrs.frozen
class StateConfig:
    """``[state]``: where firestream records what it applied.

    :ivar backend: ``local`` (a file next to the config) or ``kubernetes``
        (a Secret in the cluster, with a Lease as the lock).
    :ivar namespace: the namespace of the state Secret and Lease (kubernetes).
    :ivar name: the state object's name (default: derived from the project).
    :ivar path: the local state file (default: chosen by the state module).
    :ivar lease_duration: how long a lock holds without being renewed.
    """

    backend: Backend = Backend("local")
    namespace: str | None = None
    name: str | None = None
    path: str | None = None
    lease_duration: Duration = Duration("30s")


@attrs.frozen
class Settings:
    """``[settings]``: how a run behaves.

    :ivar concurrency: releases run at the same time (0 = no limit).
    :ivar fail_fast: stop starting releases after the first failure
        (default: keep going with releases that do not depend on it).
    :ivar on_validation_failure: ``fail`` or ``warn``; the default for every release.
    """

    concurrency: NonNegativeInt = NonNegativeInt(4)
    fail_fast: bool = False
    on_validation_failure: ValidationFailureMode = ValidationFailureMode("fail")


@attrs.frozen
class SetValueConfig:
    """One entry of ``set = [{key = "a.b", value = "x"}]`` (the seed's ``ChartSetValue``)."""

    key: str
    value: SetScalar


@attrs.frozen
class GeneratedValuesConfig:
    """One entry of ``yaml_files_content = [{filename = ..., yaml_content = ...}]``."""

    filename: str
    yaml_content: str


@attrs.frozen
class BreakingVersionConfig:
    """``last_breaking_version_requiring_restart = {version = ..., ...}``."""

    version: StrictVersion
    requires_uninstall: bool = False
    pre_upgrade_commands: tuple[Command, ...] = ()


@attrs.frozen
class SecretRef:
    """Where a secret value comes from: ``{env = "VAR"}`` or ``{file = "path"}``."""

    env: str | None = None
    file: str | None = None


@attrs.frozen(kw_only=True)
class ReleaseKeys:
    """The keys ``[defaults]`` may set; ``None`` means "not given".

    Every ``ChartInfo`` field except ``name`` and ``depends_on`` (``values``
    is a nested table, ``set`` the seed's ``--set`` pairs), plus the
    release settings (``retries``, ``retry_delay``, ``run_tests``,
    ``on_validation_failure``) and ``secret_values``.
    """

    chart: str | None = None
    repository: str | None = None
    version: ChartVersion | None = None
    path: str | None = None
    namespace: str | None = None
    custom_namespace: str | None = None
    action: Action | None = None
    atomic: bool | None = None
    force_upgrade: bool | None = None
    create_namespace: bool | None = None
    last_breaking_version_requiring_restart: BreakingVersionConfig | None = None
    timeout: Duration | None = None
    dry_run: bool | None = None
    wait: bool | None = None
    wait_for_jobs: bool | None = None
    values: Table | None = None
    set: tuple[SetValueConfig, ...] | None = None
    values_files: tuple[str, ...] | None = None
    yaml_files_content: tuple[GeneratedValuesConfig, ...] | None = None
    hooks_disabled: bool | None = None
    skip_crds: bool | None = None
    history_max: NonNegativeInt | None = None
    secret_values: dict[str, SecretRef] | None = None
    retries: NonNegativeInt | None = None
    retry_delay: Duration | None = None
    run_tests: bool | None = None
    on_validation_failure: ValidationFailureMode | None = None


@attrs.frozen(kw_only=True)
class ReleaseConfig(ReleaseKeys):
    """One release as written under ``[[deployments.<chart_type>]]``.

    :ivar chart_type: the key under ``deployments`` (resolved to an installed
        chart type, or ``generic`` when it is none and a chart is given).
    :ivar index: position in the array, or None for a single ``[deployments.x]`` table.
    :ivar options: the remaining keys, the chart type's own options.
    """

    chart_type: str = ""
    index: int | None = None
    name: str | None = None
    preset: str | None = None
    depends_on: tuple[str, ...] | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def where(self) -> str:
        """The release's dotted path in the file: ``deployments.postgresql[0]``."""
        base = f"deployments.{_key(self.chart_type)}"
        return base if self.index is None else f"{base}[{self.index}]"

    @property
    def release_name(self) -> str:
        """The release name: ``name``, else the chart-type key."""
        return self.name or self.chart_type


@attrs.frozen
class ProjectConfig:
    """A loaded ``firestream.toml``.

    :ivar path: the file read.
    :ivar project_dir: its folder; relative paths in the file are relative to it.
    :ivar releases: every release, in file order.
    """

    path: Path
    project_dir: Path
    project: ProjectSection = ProjectSection()
    repositories: Mapping[str, str] = attrs.field(factory=dict)
    defaults: ReleaseKeys = ReleaseKeys()
    # host -> firestream_core.oci.RegistryConfig ([registries."host:port"])
    registries: Mapping[str, Any] = attrs.field(factory=dict)
    state: StateConfig = StateConfig()
    settings: Settings = Settings()
    releases: tuple[ReleaseConfig, ...] = ()

    @property
    def name(self) -> str:
        """``[project].name``, else the project folder's name."""
        return self.project.name or self.project_dir.name

    def release(self, name: str) -> ReleaseConfig:
        for r in self.releases:
            if r.release_name == name:
                return r
        raise KeyError(name)


RELEASE_KEYS: frozenset[str] = frozenset(
    a.name for a in attrs.fields(ReleaseConfig) if a.name not in ("chart_type", "index", "options")
)
"""Every key a release may set (chart-type options come on top)."""
DEFAULTS_KEYS: frozenset[str] = frozenset(a.name for a in attrs.fields(ReleaseKeys))
_PER_RELEASE_ONLY = ("name", "preset", "depends_on")
TOP_LEVEL_KEYS = ("project", "repositories", "registries", "defaults", "state", "settings", "deployments")


class BuiltCharts(list):  # type: ignore[type-arg]
    """``build_charts``'s result: a ``list[HelmChart]`` that also carries the secrets.

    :ivar secrets: every resolved ``secret_values`` value, to register with the redactor.
    :ivar paths: each chart's dotted path in the config file (same order as the list).
    """

    secrets: list[str]
    paths: list[str]

    def where(self, name: str) -> str:
        """The dotted config path of release ``name``."""
        for chart, path in zip(self, self.paths, strict=False):
            if chart.chart_info.name == name:
                return path
        raise KeyError(name)


# -- paths and messages ---------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: Any) -> str:
    k = str(k)
    return k if _BARE_KEY.match(k) else '"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{_key(key)}" if path else _key(key)


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _unknown(path: str, key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{_join(path, key)}: unknown key{hint}"


class _Problem(ValueError):
    """A structuring failure with a ready message (raised by the converter's hooks)."""


# -- the converter -----------------------------------------------------------------------


def _expect(value: Any, types: tuple[type, ...], what: str) -> None:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise _Problem(f"expected {what}, got {_type_name(value)}")


def _structure_str(value: Any, _t: Any) -> str:
    _expect(value, (str,), "a string")
    return value


def _structure_bool(value: Any, _t: Any) -> bool:
    _expect(value, (bool,), "a boolean (true or false)")
    return value


def _structure_int(value: Any, _t: Any) -> int:
    _expect(value, (int,), "an integer")
    return value


def _structure_float(value: Any, _t: Any) -> float:
    _expect(value, (int, float), "a number")
    return float(value)


def _structure_nonneg(value: Any, _t: Any) -> int:
    _expect(value, (int,), "an integer")
    if value < 0:
        raise _Problem("must not be negative")
    return value


def _structure_duration(value: Any, _t: Any) -> str:
    from .model import parse_duration

    _expect(value, (str,), "a duration such as '300s'")
    try:
        parse_duration(value)
    except ValueError as exc:
        raise _Problem(str(exc)) from None
    return value


def _structure_chart_version(value: Any, _t: Any) -> str:
    from .model import check_version

    _expect(value, (str,), "a version string")
    try:
        return check_version(value)
    except ValueError as exc:
        raise _Problem(str(exc)) from None


def _structure_strict_version(value: Any, _t: Any) -> str:
    from .model import SemVer

    _expect(value, (str,), "a version string")
    try:
        SemVer.parse(value)
    except ValueError as exc:
        raise _Problem(f"{exc}: expected e.g. '2.0.0'") from None
    return value


def _structure_set_scalar(value: Any, _t: Any) -> str:
    _expect(value, (str, int, float, bool), "a string, number or boolean")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _structure_command(value: Any, _t: Any) -> tuple[str, ...]:
    import shlex

    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise _Problem(f"cannot split the command: {exc}") from None
    elif isinstance(value, list) and all(isinstance(a, str) for a in value):
        argv = list(value)
    else:
        raise _Problem(f"expected a command string or an array of strings, got {_type_name(value)}")
    if not argv or not argv[0].strip():
        raise _Problem("a command must name a program")
    return tuple(argv)


def _structure_url(value: Any, _t: Any) -> str:
    from urllib.parse import urlsplit

    _expect(value, (str,), "a repository URL")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http", "oci") or not parts.netloc:
        raise _Problem("expected an https://, http:// or oci:// URL")
    if parts.username or parts.password:
        raise _Problem(
            "credentials must not be written in a repository URL "
            "(use 'helm registry login' or the helm credentials environment)"
        )
    return value


def _choice(kind: Any) -> Any:
    choices = _CHOICES[kind]

    def structure(value: Any, _t: Any) -> str:
        _expect(value, (str,), "a string")
        low = value.lower()
        if low not in choices:
            listed = ", ".join(f"'{c}'" for c in choices[:-1]) + f" or '{choices[-1]}'"
            raise _Problem(f"invalid value '{value}': expected {listed}")
        return low

    return structure


@functools.cache
def converter() -> cattrs.Converter:
    """The one cattrs converter for firestream's config (unknown keys forbidden)."""
    import cattrs

    c = cattrs.Converter(forbid_extra_keys=True)
    c.register_structure_hook(str, _structure_str)
    c.register_structure_hook(bool, _structure_bool)
    c.register_structure_hook(int, _structure_int)
    c.register_structure_hook(float, _structure_float)
    c.register_structure_hook(NonNegativeInt, _structure_nonneg)
    c.register_structure_hook(Duration, _structure_duration)
    c.register_structure_hook(ChartVersion, _structure_chart_version)
    c.register_structure_hook(StrictVersion, _structure_strict_version)
    c.register_structure_hook(SetScalar, _structure_set_scalar)
    c.register_structure_hook(Command, _structure_command)
    c.register_structure_hook(RepositoryURL, _structure_url)
    for kind in _CHOICES:
        c.register_structure_hook(kind, _choice(kind))

    def table(value: Any, _t: Any) -> dict[str, Any]:
        _expect(value, (dict,), "a table")
        return value

    c.register_structure_hook(Table, table)

    return c


def structure(data: Any, cls: type, path: str) -> tuple[Any, list[str]]:
    """``data`` structured into ``cls`` with the converter: (object or None, problems)."""
    try:
        return converter().structure(data, cls), []
    except Exception as exc:
        problems: list[str] = []
        _collect(exc, path, cls, problems)
        return None, problems


def _collect(exc: BaseException, path: str, cls: Any, out: list[str]) -> None:
    """Walk cattrs' exception groups into ``path: message`` lines."""
    from cattrs.errors import (
        AttributeValidationNote,
        ClassValidationError,
        ForbiddenExtraKeysError,
        IterableValidationError,
        IterableValidationNote,
    )

    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(note, AttributeValidationNote):
                sub_cls = _field_type(exc, note.name)
                _collect(sub, _join(path, note.name), sub_cls, out)
            elif isinstance(note, IterableValidationNote):
                _collect(sub, _join(path, note.index), None, out)
            else:  # pragma: no cover - cattrs gives one of the two notes
                _collect(sub, path, None, out)
        for sub in without:
            _collect(sub, path, cls, out)
    elif isinstance(exc, ForbiddenExtraKeysError):
        known = [a.name for a in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        for key in sorted(exc.extra_fields):
            out.append(_unknown(path, key, known))
    elif isinstance(exc, KeyError):
        out.append(f"{path}: required key missing")
    elif isinstance(exc, _Problem):
        out.append(f"{path}: {exc}")
    elif isinstance(exc, (ValueError, TypeError)):
        # cattrs' own messages may quote the value; do not repeat it
        expected = f" (expected {_describe(cls)})" if cls is not None else ""
        out.append(f"{path}: invalid value{expected}")
    else:  # pragma: no cover - programming error in a hook
        out.append(f"{path}: {type(exc).__name__}")


def _field_type(exc: Any, name: str) -> Any:
    cl = getattr(exc, "cl", None)
    if cl is not None and attrs.has(cl):
        for a in attrs.fields(cl):
            if a.name == name:
                return a.type
    return None


def _describe(t: Any) -> str:
    return getattr(t, "__name__", None) or str(t)


# -- reading the file ---------------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML; a syntax error names the file, line and column."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file not found: {path}",
            hint=f"create {DEFAULT_CONFIG_NAME} or pass -f PATH",
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"configuration path is a folder, not a file: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        reason = re.sub(r"\s*\(at (?:line \d+, column \d+|end of document)\)", "", msg)
        if m:
            line, col = m.groups()
            raise ConfigError(
                f"{path}:{line}:{col}: invalid TOML at line {line}, column {col}: {reason}"
            ) from None
        raise ConfigError(f"{path}: invalid TOML at the end of the file: {reason}") from None


def load_config(
    path: str | os.PathLike[str] = DEFAULT_CONFIG_NAME,
    manager: FirestreamPluginManager | None = None,
) -> ProjectConfig:
    """Read and check ``firestream.toml``.

    :param path: the file.
    :param manager: when given, each ``deployments`` key is also checked
        against the installed chart types and each release's remaining keys
        against its chart type's options, so that every problem is reported
        in one go (without it, ``build_charts`` does those checks).
    :raises ConfigError: the file is missing, not TOML, or invalid; every
        problem is listed in ``.problems`` as ``dotted.path: message``.
    """
    p = Path(path)
    return parse_config(read_toml(p), p, manager)


def parse_config(
    data: Mapping[str, Any],
    path: str | os.PathLike[str],
    manager: FirestreamPluginManager | None = None,
) -> ProjectConfig:
    """Check and structure already-parsed TOML data (``path`` names it in messages)."""
    p = Path(path)
    problems: list[str] = []
    hints: list[str] = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(_unknown("", key, TOP_LEVEL_KEYS))

    def section(key: str, cls: type) -> Any:
        raw = data.get(key, {})
        if not isinstance(raw, dict):
            problems.append(f"{key}: expected a table, got {_type_name(raw)}")
            return cls()
        obj, errs = structure(raw, cls, key)
        problems.extend(errs)
        return obj if obj is not None else cls()

    project = section("project", ProjectSection)
    state = section("state", StateConfig)
    settings = section("settings", Settings)

    repos_raw = data.get("repositories", {})
    repositories: dict[str, str] = {}
    if not isinstance(repos_raw, dict):
        problems.append(f"repositories: expected a table, got {_type_name(repos_raw)}")
    else:
        for name, url in repos_raw.items():
            where = _join("repositories", name)
            if not _BARE_KEY.match(name):
                problems.append(f"{where}: invalid repository name (letters, digits, '-' and '_')")
            obj, errs = structure(url, RepositoryURL, where)
            problems.extend(errs)
            if obj is not None:
                repositories[name] = obj

    registries = _parse_registries(data.get("registries", {}), problems)

    defaults = ReleaseKeys()
    defaults_raw = data.get("defaults", {})
    if not isinstance(defaults_raw, dict):
        problems.append(f"defaults: expected a table, got {_type_name(defaults_raw)}")
    else:
        raw = dict(defaults_raw)
        for key in _PER_RELEASE_ONLY:
            if key in raw:
                raw.pop(key)
                problems.append(f"defaults.{key}: cannot be set in [defaults], only per release")
        for key in [k for k in raw if k not in DEFAULTS_KEYS]:
            raw.pop(key)
            problems.append(_unknown("defaults", key, DEFAULTS_KEYS))
        obj, errs = _structure_release_keys(raw, ReleaseKeys, "defaults", problems)
        if obj is not None:
            defaults = obj

    releases: list[ReleaseConfig] = []
    deployments = data.get("deployments", {})
    if not isinstance(deployments, dict):
        problems.append(f"deployments: expected a table, got {_type_name(deployments)}")
        deployments = {}
    for ctype, entries in deployments.items():
        where = _join("deployments", ctype)
        if isinstance(entries, dict):
            items: list[tuple[int | None, Any]] = [(None, entries)]
        elif isinstance(entries, list):
            items = list(enumerate(entries))
        else:
            problems.append(
                f"{where}: expected a table or an array of tables, got {_type_name(entries)}"
            )
            continue
        for index, entry in items:
            rwhere = where if index is None else f"{where}[{index}]"
            if not isinstance(entry, dict):
                problems.append(f"{rwhere}: expected a table, got {_type_name(entry)}")
                continue
            known = {k: v for k, v in entry.items() if k in RELEASE_KEYS}
            options = {k: v for k, v in entry.items() if k not in RELEASE_KEYS}
            known.update(chart_type=ctype, index=index, options=options)
            obj, _ = _structure_release_keys(known, ReleaseConfig, rwhere, problems)
            if obj is not None:
                releases.append(obj)
            if manager is not None:
                probe = obj or ReleaseConfig(
                    chart_type=ctype,
                    index=index,
                    chart=entry.get("chart") if isinstance(entry.get("chart"), str) else None,
                    path=entry.get("path") if isinstance(entry.get("path"), str) else None,
                    options=options,
                )
                problems.extend(_chart_type_problems(probe, manager, hints))

    if problems:
        raise ConfigError(f"{p} is invalid:", problems, hint=_hint(problems, hints))
    return ProjectConfig(
        path=p,
        project_dir=p.resolve().parent,
        project=project,
        repositories=repositories,
        registries=registries,
        defaults=defaults,
        state=state,
        settings=settings,
        releases=tuple(releases),
    )


def _parse_registries(raw: Any, problems: list[str]) -> dict[str, Any]:
    """``[registries."host:port"]`` tables -> host -> ``oci.RegistryConfig`` (problems appended)."""
    from .oci import RegistryConfig, registry_problems

    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        problems.append(f"registries: expected a table, got {_type_name(raw)}")
        return out
    for host, entry in raw.items():
        where = _join("registries", host)
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a table, got {_type_name(entry)}")
            continue
        obj, errs = structure(entry, RegistryConfig, where)
        problems.extend(errs)
        if obj is not None:
            problems.extend(registry_problems(host, obj, where))
            out[host] = obj
    return out


def _chart_type_problems(
    rc: ReleaseConfig, manager: FirestreamPluginManager, hints: list[str] | None = None
) -> list[str]:
    """The release's chart type and its option keys, checked against the installed plugins.

    :param hints: gets the error's hint (a broken plugin: ``firestream plugins -v``).
    """
    try:
        reg = manager.chart_type(resolve_chart_type(rc, manager))
        fields = option_fields(reg)
    except FirestreamError as exc:
        if hints is not None and exc.hint:
            hints.append(exc.hint)
        return [f"{rc.where}: {_first_line(exc)}"]
    out = []
    for key, value in rc.options.items():
        if key not in fields:
            out.append(_unknown(rc.where, key, RELEASE_KEYS | set(fields)))
            continue
        out.extend(structure(value, fields[key], _join(rc.where, key))[1])
    return out


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


def _hint(problems: list[str], hints: Iterable[str] = ()) -> str | None:
    """One hint line: the errors' own hints (a broken plugin's), then the unknown-key one."""
    found = list(hints)
    if any("unknown key" in p for p in problems):
        found.append("see docs/configuration.md for every key")
    return "; ".join(dict.fromkeys(found)) or None


def _structure_release_keys(
    raw: dict[str, Any], cls: type, where: str, problems: list[str]
) -> tuple[Any, list[str]]:
    """Structure one release (or ``[defaults]``); ``secret_values`` flattened first."""
    raw = dict(raw)
    start = len(problems)
    order = {k: i for i, k in enumerate(raw)}
    if "secret_values" in raw:
        flat, errs = _flatten_secrets(raw["secret_values"], _join(where, "secret_values"))
        problems.extend(errs)
        raw["secret_values"] = flat
    if "values" in raw and not isinstance(raw["values"], dict):
        problems.append(f"{_join(where, 'values')}: expected a table, got {_type_name(raw['values'])}")
        raw.pop("values")
    for key in ("depends_on", "values_files"):
        if key in raw:
            v = raw[key]
            if isinstance(v, str):
                problems.append(f"{_join(where, key)}: expected an array of strings, got a string")
                raw.pop(key)
    obj, errs = structure(raw, cls, where)
    # report in the order the keys are written in the file
    def position(problem: str) -> int:
        rest = problem[len(where) + 1 :]
        head = re.split(r"[.\[:]", rest, maxsplit=1)[0]
        return order.get(head, len(order))

    pre = problems[start:]
    del problems[start:]
    problems.extend(sorted([*pre, *errs], key=position))
    return obj, errs


def _flatten_secrets(raw: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """``secret_values``: nested tables or quoted dotted keys -> {"a.b": {env|file}}.

    A table holding only ``env`` and/or ``file`` is a reference; anything
    else is a level of the dotted key.
    """
    out: dict[str, Any] = {}
    errs: list[str] = []
    if not isinstance(raw, dict):
        return {}, [f"{where}: expected a table of dotted key = {{env = \"VAR\"}} or {{file = \"path\"}}"]

    def walk(node: dict[str, Any], prefix: str, path: str) -> None:
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else k
            kpath = f"{path}.{k}"
            if isinstance(v, dict) and v and set(v) <= {"env", "file"}:
                if len(v) != 1:
                    errs.append(f"{kpath}: give either env or file, not both")
                elif not isinstance(next(iter(v.values())), str) or not next(iter(v.values())):
                    errs.append(f"{kpath}.{next(iter(v))}: expected a non-empty string")
                else:
                    out[key] = v
            elif isinstance(v, dict) and v:
                walk(v, key, kpath)
            else:
                errs.append(
                    f"{kpath}: expected {{env = \"VAR\"}} or {{file = \"path\"}}, got {_type_name(v)}"
                )

    walk(raw, "", where)
    return out, errs


# -- building charts ----------------------------------------------------------------------


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
        ``ChartInfo`` fields, duplicate releases, unknown dependencies, cycles).
    """
    from .model import ReleaseSettings

    problems: list[str] = []
    hints: list[str] = []
    charts = BuiltCharts()
    charts.secrets = []
    charts.paths = []
    for rc in config.releases:
        try:
            chart = _build_one(config, rc, manager, charts.secrets, problems, resolve_secrets)
        except FirestreamError as exc:  # a broken plugin or unknown chart type
            problems.append(f"{rc.where}: {_first_line(exc)}")
            if exc.hint:  # 'firestream plugins -v' for a broken plugin's traceback
                hints.append(exc.hint)
            continue
        if chart is None:
            continue
        info = chart.chart_info
        given = rc.on_validation_failure or config.defaults.on_validation_failure
        chart.settings = ReleaseSettings(
            retries=_pick(rc.retries, config.defaults.retries, 0),
            retry_delay=_pick(rc.retry_delay, config.defaults.retry_delay, "10s"),
            run_tests=_pick(rc.run_tests, config.defaults.run_tests, False),
            on_validation_failure=given or config.settings.on_validation_failure,
        )
        for p in info.check():
            problems.append(f"{rc.where}.{p}")
        charts.append(chart)
        charts.paths.append(rc.where)

    problems += _duplicate_problems(charts)
    if not problems:
        problems += _graph_problems(charts, config)
    if problems:
        raise ConfigError(f"{config.path} is invalid:", problems, hint=_hint(problems, hints))
    return charts


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _pick(*values: Any) -> Any:
    for v in values:
        if v is not None:
            return v
    return None


def resolve_chart_type(rc: ReleaseConfig, manager: FirestreamPluginManager) -> str:
    """The chart type a release uses: its key when installed, else ``generic`` with a chart.

    :raises PluginError: the key names a chart type whose plugin is broken.
    :raises UnknownChartTypeError: neither an installed type nor a chart given.
    """
    from .errors import UnknownChartTypeError

    key = rc.chart_type
    if key in manager.chart_types:
        return key
    try:
        manager.chart_type(key)
    except PluginError:
        raise
    except UnknownChartTypeError:
        if rc.chart or rc.path:
            return "generic"
        installed = ", ".join(sorted(manager.chart_types)) or "none"
        raise UnknownChartTypeError(
            f"unknown chart type '{key}': no installed plugin provides it and no 'chart' or "
            f"'path' is given (installed chart types: {installed})"
        ) from None
    return key  # pragma: no cover - chart_type() returns only for registered types


def _build_one(
    config: ProjectConfig,
    rc: ReleaseConfig,
    manager: FirestreamPluginManager,
    secrets: list[str],
    problems: list[str],
    resolve_secrets: bool = True,
) -> HelmChart | None:
    from .plugins import default_chart

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
        chart = _call_plugin(factory, f"preset '{rc.preset}'", reg)
    else:
        chart = _call_plugin(lambda: default_chart(ct, name), "defaults", reg)
    info = chart.chart_info
    info.name = name

    n = len(problems)
    _apply_keys(config, info, config.defaults, "defaults", secrets, problems, resolve_secrets)
    _apply_keys(config, info, rc, rc.where, secrets, problems, resolve_secrets)
    if rc.depends_on is not None:
        info.depends_on = list(rc.depends_on)
    chart.options = _options(ct, fields, chart.options, rc, problems)
    return chart if len(problems) == n else None


def _call_plugin(factory: Any, label: str, reg: Any) -> HelmChart:
    from .model import HelmChart

    try:
        chart = factory()
    except Exception as exc:
        raise PluginError(
            f"plugin {reg.origin}: {label} of chart type '{reg.name}' failed: "
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from exc
    if not isinstance(chart, HelmChart):
        raise PluginError(
            f"plugin {reg.origin}: {label} of chart type '{reg.name}' returned "
            f"{type(chart).__name__}, not a HelmChart"
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
    info: Any,
    keys: ReleaseKeys,
    where: str,
    secrets: list[str],
    problems: list[str],
    resolve_secrets: bool = True,
) -> None:
    """Apply the given (non-None) keys of a release or of ``[defaults]`` to ``info``."""
    from .model import BreakingVersion, ChartSetValue, ChartValuesGenerated, HelmAction

    for key in _SCALARS:
        value = getattr(keys, key)
        if value is not None:
            setattr(info, key, value)
    if keys.action is not None:
        info.action = HelmAction(keys.action)
    if keys.path is not None:
        info.path = config.project_dir / keys.path
    if keys.last_breaking_version_requiring_restart is not None:
        b = keys.last_breaking_version_requiring_restart
        info.last_breaking_version_requiring_restart = BreakingVersion(
            b.version, b.requires_uninstall, [list(c) for c in b.pre_upgrade_commands]
        )
    if keys.values_files:
        info.values_files.extend(config.project_dir / f for f in keys.values_files)
    if keys.yaml_files_content:
        info.yaml_files_content.extend(
            ChartValuesGenerated(g.filename, g.yaml_content) for g in keys.yaml_files_content
        )
    if keys.values:
        info.yaml_files_content.append(
            ChartValuesGenerated(f"{config.path.name}:{where}.values", _dump_yaml(keys.values))
        )
    if keys.secret_values and resolve_secrets:
        resolved = _resolve_secrets(config, keys.secret_values, _join(where, "secret_values"), problems)
        if resolved is not None:
            secrets.extend(v for v in _leaves(resolved) if v)
            info.yaml_files_content.append(
                ChartValuesGenerated(f"{config.path.name}:{where}.secret_values", _dump_yaml(resolved))
            )
    if keys.set:
        info.values.extend(ChartSetValue(s.key, s.value) for s in keys.set)


def _dump_yaml(data: Mapping[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False, allow_unicode=True)


def _leaves(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for v in node.values():
            yield from _leaves(v)
    else:
        yield str(node)


def _resolve_secrets(
    config: ProjectConfig, refs: Mapping[str, SecretRef], where: str, problems: list[str]
) -> dict[str, Any] | None:
    """The secret values as a nested table; problems name the key and variable, never a value."""
    out: dict[str, Any] = {}
    ok = True
    for dotted, ref in refs.items():
        kpath = f"{where}.{dotted}"
        if ref.env is not None:
            value = os.environ.get(ref.env)
            if value is None:
                problems.append(f"{kpath}: environment variable '{ref.env}' is not set")
                ok = False
                continue
        else:
            assert ref.file is not None
            f = config.project_dir / ref.file
            try:
                value = f.read_text(encoding="utf-8")
            except FileNotFoundError:
                problems.append(f"{kpath}: secret file '{ref.file}' not found")
                ok = False
                continue
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                problems.append(f"{kpath}: secret file '{ref.file}' cannot be read: {reason}")
                ok = False
                continue
            if value.endswith("\r\n"):
                value = value[:-2]
            elif value.endswith("\n"):
                value = value[:-1]
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                problems.append(f"{kpath}: conflicts with the secret key '{part}'")
                ok = False
                break
            node = nxt
        else:
            node[parts[-1]] = value
    return out if ok else None


def _options(
    ct: Any, fields: Mapping[str, Any], base: Any, rc: ReleaseConfig, problems: list[str]
) -> Any:
    """The chart type's options: the preset's/defaults' options updated with the release's keys."""
    cls = ct.options
    known = RELEASE_KEYS | set(fields)
    given = {}
    for key, value in rc.options.items():
        if key in fields:
            given[key] = value
        else:
            problems.append(_unknown(rc.where, key, known))
    if cls is None or (not given and base is not None):
        return base
    data: dict[str, Any] = dict(converter().unstructure(base)) if base is not None else {}
    data.update(given)
    obj, errs = structure(data, cls, rc.where)
    problems.extend(errs)
    return obj if obj is not None else base


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


def _graph_problems(charts: BuiltCharts, config: ProjectConfig) -> list[str]:
    from .errors import CycleError, UnknownDependencyError
    from .graph import find_problems

    deps = {c.chart_info.name: list(c.chart_info.depends_on) for c in charts}
    out = []
    for p in find_problems(deps, str(config.path)):
        if isinstance(p, UnknownDependencyError):
            out.append(f"{charts.where(p.release)}.depends_on: {p}")
        elif isinstance(p, CycleError):
            out.append(str(p))
        else:  # pragma: no cover
            out.append(str(p))
    return out


def load_project(
    path: str | os.PathLike[str] = DEFAULT_CONFIG_NAME,
    manager: FirestreamPluginManager | None = None,
) -> tuple[ProjectConfig, BuiltCharts]:
    """``load_config`` + ``build_charts`` (building a plugin manager when none is given)."""
    if manager is None:
        from .plugins import get_plugin_manager

        manager = get_plugin_manager()
    config = load_config(path)
    return config, build_charts(config, manager)


__all__ = [
    "DEFAULT_CONFIG_NAME",
    "RELEASE_KEYS",
    "BuiltCharts",
    "ConfigError",
    "GraphError",
    "ProjectConfig",
    "ReleaseConfig",
    "ReleaseKeys",
    "Settings",
    "StateConfig",
    "build_charts",
    "converter",
    "load_config",
    "load_project",
    "parse_config",
    "structure",
]
