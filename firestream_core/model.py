"""The data firestream works with, in the seed's own terms.

``ChartInfo`` is mutable on purpose: the seed edits a chart's info in place
(``info = chart.get_chart_info_mut(); info.timeout = "600s"``). Everything
read from the configuration file is frozen (see ``config``).
"""

from __future__ import annotations

import copy
import enum
import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs

# -- small value types ---------------------------------------------------------

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RELEASE_NAME_MAX = 53
NAMESPACE_MAX = 63
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?$")
_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def _url_has_credentials(url: str) -> bool:
    from firestream_core.secret_keys import url_has_credentials  # the one rule, imported late

    return url_has_credentials(url)


# compiled on first use (re caches it), not at import: start-up of every command (issue 13)
_CONSTRAINT = r"^\s*(?:(?:[<>=!~^]=?|=)?\s*v?[0-9x*]+(?:\.[0-9x*]+){0,2}(?:-[0-9A-Za-z.-]+)?\s*(?:,|\|\||\s)?\s*)+$"


class HelmAction(enum.Enum):
    """What to do with a release: the seed's ``Deploy`` / ``Destroy`` / ``Skip``.

    >>> HelmAction("destroy") is HelmAction.Destroy is HelmAction.DESTROY
    True
    >>> ChartInfo(name="old-app", chart="bitnami/nginx", action="skip").action
    <HelmAction.SKIP: 'skip'>
    """

    DEPLOY = "deploy"
    DESTROY = "destroy"
    SKIP = "skip"
    # The seed's spelling, as aliases.
    Deploy = "deploy"
    Destroy = "destroy"
    Skip = "skip"


class HelmChartNamespace(enum.Enum):
    """The original's well-known namespaces; anything else is ``Custom``.

    ``ChartInfo.namespace`` takes a member or any namespace name:

    >>> ChartInfo(name="ingress", namespace=HelmChartNamespace.NginxIngress).namespace_name
    'nginx-ingress'
    >>> ChartInfo(name="app", namespace=HelmChartNamespace.CUSTOM, custom_namespace="shop").namespace_name
    'shop'
    >>> ChartInfo(name="app", namespace="shop").namespace_name
    'shop'
    """

    KUBE_SYSTEM = "kube-system"
    DEFAULT = "default"
    PROMETHEUS = "prometheus"
    LOGGING = "logging"
    CERT_MANAGER = "cert-manager"
    NGINX_INGRESS = "nginx-ingress"
    FIRESTREAM = "firestream"
    CUSTOM = "custom"
    # The seed's spelling, as aliases.
    KubeSystem = "kube-system"
    Default = "default"
    Prometheus = "prometheus"
    Logging = "logging"
    CertManager = "cert-manager"
    NginxIngress = "nginx-ingress"
    Firestream = "firestream"
    Custom = "custom"


def parse_duration(text: str) -> int:
    """Seconds in a helm-style duration: ``300s``, ``5m``, ``1h``, ``1h30m``.

    A bare integer is taken as seconds. Raises ``ValueError`` otherwise.

    >>> parse_duration("1h30m"), parse_duration("300s"), parse_duration("45")
    (5400, 300, 45)
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    ValueError: invalid duration 'soon': expected e.g. '300s', '5m' or '1h'
    """
    if isinstance(text, int):
        if text < 0:
            raise ValueError("duration must not be negative")
        return text
    if type(text) is str:
        return _text_seconds(text)
    return _seconds(text)


def _seconds(text: Any) -> int:
    """:func:`parse_duration` of a text (or anything that prints as one)."""
    s = str(text).strip()
    if s.isdigit():
        return int(s)
    m = _DURATION.match(s)
    if not s or not m or not any(m.groups()):
        raise ValueError(f"invalid duration {text!r}: expected e.g. '300s', '5m' or '1h'")
    h, mi, se = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + se


_text_seconds = functools.lru_cache(maxsize=1024)(_seconds)
"""Durations already read (a run reads each release's ``timeout`` and ``retry_delay`` several
times, and a project has few distinct ones); an invalid text raises again, it is never kept."""


@attrs.frozen(order=False)
class SemVer:
    """A parsed semantic version, compared by precedence (``10.0.0 > 9.0.0``).

    >>> SemVer.parse("10.0.0") > SemVer.parse("9.4.1")
    True
    >>> SemVer.parse("2.0.0-rc.1") < SemVer.parse("2.0.0")
    True
    >>> str(SemVer.parse("v1.2.3"))
    'v1.2.3'
    """

    major: int
    minor: int
    patch: int
    prerelease: tuple[tuple[int, int | str], ...] = ()
    text: str = attrs.field(default="", eq=False)

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Parse ``text`` (``1.2.3``, ``v1.2.3``, ``2.0.0-rc.1+build``); ``ValueError`` otherwise.

        >>> SemVer.parse("v13.2.24").minor
        2
        >>> SemVer.parse("13.2")
        Traceback (most recent call last):
        ...
        ValueError: invalid semantic version '13.2'
        """
        m = _SEMVER.match(str(text).strip())
        if not m:
            raise ValueError(f"invalid semantic version {text!r}")
        pre: tuple[tuple[int, int | str], ...] = ()
        if m.group(4):
            # numeric identifiers sort before alphanumeric ones
            pre = tuple(
                (0, int(p)) if p.isdigit() else (1, p) for p in m.group(4).split(".")
            )
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), pre, str(text).strip())

    def __lt__(self, other: object) -> bool:  # release > prerelease of same core
        if not isinstance(other, SemVer):
            return NotImplemented
        a, b = (self.major, self.minor, self.patch), (other.major, other.minor, other.patch)
        if a != b:
            return a < b
        if self.prerelease == other.prerelease:
            return False
        if not self.prerelease:
            return False
        if not other.prerelease:
            return True
        return self.prerelease < other.prerelease  # type: ignore[operator]

    def __le__(self, other: object) -> bool:
        return self == other or self < other  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return other < self

    def __ge__(self, other: object) -> bool:
        return self == other or self > other

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"


def check_version(text: str) -> str:
    """Accept a semantic version or a helm version constraint (``^1.2``, ``>=1 <2``)."""
    t = str(text).strip()
    try:
        SemVer.parse(t)
        return t
    except ValueError:
        pass
    if re.match(_CONSTRAINT, t):
        return t
    raise ValueError(f"invalid chart version {text!r}: expected a semantic version or a constraint")


def check_dns_label(kind: str, name: str, max_len: int) -> None:
    if not name:
        raise ValueError(f"{kind} must not be empty")
    if len(name) > max_len:
        raise ValueError(f"{kind} {name!r} is {len(name)} characters long, at most {max_len} allowed")
    if not DNS1123_LABEL.fullmatch(name):
        raise ValueError(
            f"{kind} {name!r} is not a DNS-1123 label "
            "(lower-case letters, digits and '-', starting and ending with a letter or digit)"
        )


def check_release_name(name: str) -> str:
    check_dns_label("release name", name, RELEASE_NAME_MAX)
    return name


def check_namespace_name(name: str) -> str:
    check_dns_label("namespace", name, NAMESPACE_MAX)
    return name


# -- the seed's types --------------------------------------------------------------


@attrs.define
class ChartSetValue:
    """One ``--set key=value`` pair (passed to helm in a values file, never on argv).

    >>> info = ChartInfo(name="web", chart="bitnami/nginx")
    >>> info.values.append(ChartSetValue("replicaCount", "2"))
    >>> info.values
    [ChartSetValue(key='replicaCount', value='2')]
    """

    key: str
    value: str

    def __repr__(self) -> str:
        """A value under a secret-looking key (docs/secrets.md) is not shown: a chart's repr
        reaches tracebacks, assertion messages and a program's own logs.

        >>> ChartSetValue("auth.password", "hunter2-long")
        ChartSetValue(key='auth.password', value=<hidden>)
        """
        from firestream_core.secret_keys import is_sensitive_key

        leaf = self.key.replace("\\.", "\0").rsplit(".", 1)[-1].replace("\0", ".")
        value = "<hidden>" if is_sensitive_key(leaf) else repr(self.value)
        return f"{type(self).__name__}(key={self.key!r}, value={value})"

    def __deepcopy__(self, memo: dict[int, Any]) -> ChartSetValue:
        return _deepcopy_fields(self, memo)  # as ChartInfo's: a chart is copied per release


@attrs.define
class ChartValuesGenerated:
    """A values file generated at run time: its ``filename`` and YAML content.

    ``secret``: every value in it is sensitive (``secret_values`` become such
    files): ``plan`` shows its changes as ``(sensitive)``.

    >>> doc = ChartValuesGenerated("resources.yaml", "resources: {limits: {memory: 512Mi}}")
    >>> info = ChartInfo(name="web", chart="bitnami/nginx", yaml_files_content=[doc])
    >>> info.yaml_files_content[0].filename, info.yaml_files_content[0].secret
    ('resources.yaml', False)
    """

    filename: str
    yaml_content: str
    secret: bool = False

    def __repr__(self) -> str:
        """A secret document's content is never shown: a chart's repr reaches tracebacks,
        assertion messages and a program's own logs, where no redactor runs.

        >>> ChartValuesGenerated("s.yaml", "password: hunter2-long", secret=True)
        ChartValuesGenerated(filename='s.yaml', yaml_content=<hidden>, secret=True)
        """
        content = "<hidden>" if self.secret else repr(_without_sensitive(self.yaml_content))
        return (f"{type(self).__name__}(filename={self.filename!r}, yaml_content={content}, "
                f"secret={self.secret!r})")

    def __deepcopy__(self, memo: dict[int, Any]) -> ChartValuesGenerated:
        return _deepcopy_fields(self, memo)  # as ChartInfo's: a chart is copied per release


def _without_sensitive(text: str) -> str:
    r"""``text`` with the value of each ``key: value`` line whose key is secret-looking
    (``postgresPassword: x``) replaced by ``***``, for a repr; other values stay readable.

    Line by line, without a YAML parser (the model imports no tool): a repr is not a
    redactor, and the values reach nothing else through it.

    >>> _without_sensitive("auth:\n  postgresPassword: s3cret-pw\n  database: app\n")
    'auth:\n  postgresPassword: ***\n  database: app\n'
    """
    from firestream_core.secret_keys import is_sensitive_key

    def hide(m: re.Match[str]) -> str:
        key = m.group(2).strip().strip("\"'")
        return f"{m.group(1)}{m.group(2)}: ***" if is_sensitive_key(key) else m.group(0)

    return re.sub(r"(?m)^(\s*(?:-\s+)?)([^\s:#][^:\n]*?):[ \t]+(?![|>&*]|\s*$)[^\n]*", hide, text)


def _commands(value: Iterable[Any]) -> list[list[str]]:
    import shlex  # only for a breaking version's commands (start-up of every command)

    out: list[list[str]] = []
    for cmd in value or []:
        argv = shlex.split(cmd) if isinstance(cmd, str) else [str(a) for a in cmd]
        if not argv or not argv[0].strip():
            raise ValueError("a pre-upgrade command must name a program")
        out.append(argv)
    return out


@attrs.define
class BreakingVersion:
    """A chart version from which an upgrade needs special handling.

    When the installed chart version is older (semver) than ``version``,
    ``pre_upgrade_commands`` run first (each an argument list; the string
    form ``"kubectl delete crd x"`` is split with shlex, never given to a
    shell) and the release is uninstalled first if ``requires_uninstall``.

    >>> bv = BreakingVersion("10.0.0", requires_uninstall=True,
    ...                      pre_upgrade_commands=["kubectl delete crd widgets.example.com"])
    >>> bv.pre_upgrade_commands
    [['kubectl', 'delete', 'crd', 'widgets.example.com']]
    >>> bv.applies_to("9.4.1"), bv.applies_to("10.1.0")
    (True, False)
    >>> ChartInfo(name="db", chart="bitnami/postgresql",
    ...           last_breaking_version_requiring_restart=bv).last_breaking_version_requiring_restart.version
    '10.0.0'
    """

    version: str = attrs.field(converter=str)
    requires_uninstall: bool = False
    pre_upgrade_commands: list[list[str]] = attrs.field(factory=list, converter=_commands)

    def __deepcopy__(self, memo: dict[int, Any]) -> BreakingVersion:
        return _deepcopy_fields(self, memo)  # as ChartInfo's: a chart is copied per release

    @version.validator
    def _check(self, _attr: Any, value: str) -> None:
        SemVer.parse(value)

    def applies_to(self, installed_version: str | None) -> bool:
        """True when ``installed_version`` is older (semver) than this version.

        Half of the rule: whether an upgrade crosses it also depends on the
        target version; decide with :func:`breaking_step`.

        >>> BreakingVersion("10.0.0").applies_to("9.4.1"), BreakingVersion("10.0.0").applies_to(None)
        (True, False)
        """
        if not installed_version:
            return False
        try:
            return SemVer.parse(installed_version) < SemVer.parse(self.version)
        except ValueError:
            return False


@attrs.frozen
class BreakingStep:
    """What crossing a breaking version takes: the one decision plan and exec share.

    Made only by :func:`breaking_step`. ``plan`` shows it (its action becomes
    ``reinstall`` when ``uninstall``) and ``exec`` refuses to carry out a step
    the plan did not contain.

    :ivar version: the breaking version crossed.
    :ivar installed: the installed chart version.
    :ivar target: the chart version being deployed (None: not pinned, unknown).
    :ivar uninstall: the release is uninstalled first (``requires_uninstall``).
    :ivar commands: the ``pre_upgrade_commands`` that run first, in order.
    """

    version: str
    installed: str
    target: str | None
    uninstall: bool
    commands: tuple[tuple[str, ...], ...] = ()

    def describe(self) -> str:
        """``breaking version 10.0.0: reinstall (requires_uninstall), runs 2 pre-upgrade commands``."""
        parts = []
        if self.uninstall:
            parts.append("reinstall (requires_uninstall)")
        if self.commands:
            n = len(self.commands)
            parts.append(f"runs {n} pre-upgrade command{'s' if n != 1 else ''}")
        what = ", ".join(parts) or "upgrade across it"
        return f"breaking version {self.version}: {what} (installed {self.installed})"

    def steps(self, release: str, redact: Any = None) -> tuple[str, ...]:
        """The destructive steps, one line each, in the order exec takes them.

        Command text goes through ``redact`` (a ``str -> str``) so no secret shows.
        """
        import shlex

        hide = redact if callable(redact) else (lambda text: text)
        out = [f"run: {hide(shlex.join(argv))}" for argv in self.commands]
        if self.uninstall:
            out.append(f"uninstall release '{release}', then install it afresh (helm history restarts)")
        return tuple(out)


def breaking_step(
    breaking: BreakingVersion | None, installed_version: str | None, target_version: str | None
) -> BreakingStep | None:
    """The breaking-version rule: ``installed < breaking <= target`` (semver), else None.

    A target that is not an exact semantic version (no ``version``, or a
    constraint) is unknown: the step is assumed (what the release would need if
    the chart helm resolves is at or past the breaking version); pin the
    version to let the plan decide exactly. No installed version (not
    deployed, or helm's chart field unreadable) never crosses anything.
    """
    if breaking is None or not installed_version:
        return None
    try:
        installed = SemVer.parse(installed_version)
        version = SemVer.parse(breaking.version)
    except ValueError:
        return None
    if not installed < version:
        return None
    target: str | None = None
    if target_version:
        try:
            parsed = SemVer.parse(target_version)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed < version:
                return None
            target = str(target_version).lstrip("v")
    return BreakingStep(
        version=breaking.version,
        installed=installed_version,
        target=target,
        uninstall=bool(breaking.requires_uninstall),
        commands=tuple(tuple(c) for c in breaking.pre_upgrade_commands),
    )


_NAMESPACE_VALUES = frozenset(m.value for m in HelmChartNamespace)


def _namespace(value: HelmChartNamespace | str) -> HelmChartNamespace | str:
    if isinstance(value, HelmChartNamespace):
        return value
    # asked first: the enum refusing any other name costs an exception (~5 us per release)
    if isinstance(value, str) and value in _NAMESPACE_VALUES:
        return HelmChartNamespace(value)
    return str(value)


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    """``Path(value)``; a ``Path`` is kept as it is (immutable: parsing it again gives an equal one)."""
    return value if value is None or isinstance(value, Path) else Path(value)


_ATOMS = frozenset({str, int, float, bool, type(None), bytes})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _deepcopy_fields(obj: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy`` of an attrs instance: immutable field values shared, the rest deep-copied."""
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES.setdefault(cls, tuple(a.name for a in attrs.fields(cls)))
    new = object.__new__(cls)
    memo[id(obj)] = new
    for name in names:
        value = getattr(obj, name)
        if type(value) not in _ATOMS and not isinstance(value, Path) and not _plain_enum(value):
            value = copy.deepcopy(value, memo)
        object.__setattr__(new, name, value)
    extra = getattr(obj, "__dict__", None)  # a subclass's attributes outside attrs
    if extra:
        new.__dict__.update(copy.deepcopy(extra, memo))
    return new


def _plain_enum(value: Any) -> bool:
    """An enum member ``copy.deepcopy`` returns as it is (no ``__deepcopy__`` of its own)."""
    return isinstance(value, enum.Enum) and type(value).__deepcopy__ is enum.Enum.__deepcopy__


@attrs.define
class ChartInfo:
    """Everything firestream needs to deploy one release (the original's fields and defaults).

    ``namespace`` takes a ``HelmChartNamespace`` or any namespace name;
    ``namespace_name`` is the name actually used.

    >>> info = ChartInfo(name="db", chart="postgresql", repository="bitnami", version="13.2.24",
    ...                  namespace="data", timeout="10m", depends_on=["cert-manager"])
    >>> info.namespace_name, info.chart_ref, info.timeout_seconds
    ('data', 'bitnami/postgresql', 600)
    >>> info.check()
    []
    >>> ChartInfo(name="Bad_Name", chart="x", timeout="soon").check()  # doctest: +NORMALIZE_WHITESPACE
    ["name: release name 'Bad_Name' is not a DNS-1123 label (lower-case letters, digits and '-',
      starting and ending with a letter or digit)",
     "timeout: invalid duration 'soon': expected e.g. '300s', '5m' or '1h'"]
    """

    name: str
    chart: str = ""
    repository: str | None = None
    version: str | None = None
    path: Path | None = attrs.field(default=None, converter=_path)
    namespace: HelmChartNamespace | str = attrs.field(
        default=HelmChartNamespace.DEFAULT, converter=_namespace
    )
    custom_namespace: str | None = None
    action: HelmAction = attrs.field(default=HelmAction.DEPLOY, converter=HelmAction)
    atomic: bool = True
    force_upgrade: bool = False
    create_namespace: bool = True
    last_breaking_version_requiring_restart: BreakingVersion | None = None
    timeout: str = "300s"
    dry_run: bool = False
    wait: bool = True
    wait_for_jobs: bool = True
    values: list[ChartSetValue] = attrs.field(factory=list)
    values_files: list[Path] = attrs.field(factory=list)
    yaml_files_content: list[ChartValuesGenerated] = attrs.field(factory=list)
    depends_on: list[str] = attrs.field(factory=list)
    hooks_disabled: bool = False
    skip_crds: bool = False
    # Beyond the original: helm's --history-max, kept bounded as Qovery does.
    history_max: int = 50
    # Beyond the original: the values plugins contribute in the pure desired-state stage
    # (the ``contribute_values`` hook), merged over every other value. The core fills it in
    # (``firestream_core.deploy.desired``); plugins return values from the hook instead.
    plugin_values: dict[str, Any] = attrs.field(factory=dict)

    def __deepcopy__(self, memo: dict[int, Any]) -> ChartInfo:
        """A deep copy, as ``copy.deepcopy`` makes it, in a few microseconds instead of ~25.

        Every run, plan and desired state copies each release's chart; the generic copy
        goes through ``__reduce_ex__`` and rebuilds every ``Path``. Strings, numbers, enums
        and paths cannot change, so the copy shares them; everything else (the lists, the
        values, the breaking version, a subclass's fields) is deep-copied.
        """
        return _deepcopy_fields(self, memo)

    @property
    def namespace_name(self) -> str:
        """The namespace name used: ``custom_namespace`` for ``CUSTOM``, else the namespace's name.

        >>> ChartInfo(name="db", namespace=HelmChartNamespace.Custom, custom_namespace="data").namespace_name
        'data'
        """
        ns = self.namespace
        if ns is HelmChartNamespace.CUSTOM:
            if not self.custom_namespace:
                raise ValueError(f"release '{self.name}': namespace is custom but custom_namespace is not set")
            return self.custom_namespace
        return ns.value if isinstance(ns, HelmChartNamespace) else ns

    @property
    def timeout_seconds(self) -> int:
        """``timeout`` in seconds (:func:`parse_duration`).

        >>> ChartInfo(name="db", timeout="5m").timeout_seconds
        300
        """
        return parse_duration(self.timeout)

    @property
    def chart_ref(self) -> str:
        """What helm is given as the chart: a local path, an OCI URL or ``repo/chart``.

        >>> ChartInfo(name="db", chart="postgresql", repository="bitnami").chart_ref
        'bitnami/postgresql'
        >>> ChartInfo(name="api", path="charts/api").chart_ref
        'charts/api'
        """
        if self.path is not None:
            return str(self.path)
        if self.chart.startswith("oci://") or "/" in self.chart or not self.repository:
            return self.chart
        return f"{self.repository}/{self.chart}"

    def check(self) -> list[str]:
        """Every problem with this info, as ``field: message`` (empty when valid).

        >>> ChartInfo(name="web", chart="bitnami/nginx").check()
        []
        >>> ChartInfo(name="web").check()
        ['chart: a chart or a path is required']
        """
        problems: list[str] = []

        def run(field: str, fn: Any, *args: Any) -> None:
            try:
                fn(*args)
            except ValueError as exc:
                problems.append(f"{field}: {exc}")

        run("name", check_release_name, self.name)
        try:
            ns = self.namespace_name
        except ValueError as exc:
            problems.append(f"namespace: {exc}")
        else:
            run("namespace", check_namespace_name, ns)
        if self.version:
            run("version", check_version, self.version)
        run("timeout", parse_duration, self.timeout)
        if not self.chart and self.path is None:
            problems.append("chart: a chart or a path is required")
        elif _url_has_credentials(self.chart):
            problems.append("chart: credentials must not be written in a URL: give them in "
                            "[registries] (docs/secrets.md)")
        if self.history_max < 0:
            problems.append("history_max: must not be negative")
        problems += self._list_problems()
        return problems

    def _list_problems(self) -> list[str]:
        """The list fields of the wrong type (``depends_on="db"`` was read as depending on 'd'
        and 'b'), each naming the field and the item."""
        out: list[str] = []
        for field, item, what in (
            ("depends_on", (str,), "a release name (str)"),
            ("values_files", (str, os.PathLike), "a path"),
            ("values", (ChartSetValue,), "a ChartSetValue"),
            ("yaml_files_content", (ChartValuesGenerated,), "a ChartValuesGenerated"),
        ):
            value = getattr(self, field)
            if not isinstance(value, list | tuple):
                out.append(f"{field}: expected a list, each item {what}, got {type(value).__name__}")
                continue
            for i, v in enumerate(value):
                if not isinstance(v, item):
                    out.append(f"{field}[{i}]: expected {what}, got {type(v).__name__}")
                elif isinstance(v, ChartSetValue) and not isinstance(v.key, str):
                    out.append(f"{field}[{i}].key: expected a str, got {type(v.key).__name__}")
        return out


LOCAL_CHART_PREFIXES = ("./", "../", "/", "~")
"""How a ``chart`` that is a local folder or archive starts (helm reads it as a path)."""


def is_local_chart(chart: str) -> bool:
    """``chart`` names a local folder or archive (``./charts/web``, ``~/charts/web``), not a
    repository's chart: the one rule the config checks, the desired state, ``pre_exec`` and
    the library's file checks read.

    >>> is_local_chart("./charts/web"), is_local_chart("~/web"), is_local_chart("bitnami/nginx")
    (True, True, False)
    """
    return chart.startswith(LOCAL_CHART_PREFIXES)


def chart_in_repository(info: ChartInfo) -> tuple[str, str, bool] | None:
    """The helm repository ``info``'s chart comes from, the chart's name in it, and whether
    ``repository`` names that repository; None for a local path, an ``oci://`` chart or a
    chart named without a repository.

    ``repository = "bitnami"`` is explicit; ``chart = "bitnami/postgresql"`` names it
    implicitly. A ``repo/`` in ``chart`` is what helm is given (:attr:`ChartInfo.chart_ref`),
    so it wins over ``repository``: ``chart = "mirror/postgresql"`` in a release of a chart
    type whose default repository is ``bitnami`` comes from ``mirror``. The one place this
    rule is written: the desired state, apply's ``pre_exec`` and the ``oci://`` repositories
    (``tools/oci.py``) all read it here.

    >>> chart_in_repository(ChartInfo(name="db", chart="bitnami/postgresql"))
    ('bitnami', 'postgresql', False)
    >>> chart_in_repository(ChartInfo(name="db", chart="mirror/postgresql", repository="bitnami"))
    ('mirror', 'postgresql', False)
    >>> chart_in_repository(ChartInfo(name="db", chart="postgresql", repository="bitnami"))
    ('bitnami', 'postgresql', True)
    >>> chart_in_repository(ChartInfo(name="db", chart="oci://host/charts/postgresql")) is None
    True
    """
    if info.path is not None or info.chart.startswith("oci://") or is_local_chart(info.chart):
        return None
    if "/" in info.chart:
        prefix, name = info.chart.split("/", 1)
        return prefix, name, prefix == info.repository
    if info.repository:
        return info.repository, info.chart, True
    return None


def chart_repository(info: ChartInfo) -> tuple[str | None, bool]:
    """:func:`chart_in_repository`'s repository and whether it is explicit; ``(None, False)``
    when the chart comes from none.

    >>> chart_repository(ChartInfo(name="db", chart="bitnami/postgresql"))
    ('bitnami', False)
    >>> chart_repository(ChartInfo(name="api", path="charts/api"))
    (None, False)
    """
    found = chart_in_repository(info)
    return (found[0], found[2]) if found else (None, False)


@attrs.frozen
class ReleaseSettings:
    """Per-release run settings that are not helm options.

    :param retries: how many times a stage failing for a transient reason
        (cluster unreachable, timeout) is retried; never for render errors.
    :param retry_delay: pause between retries (``10s``, ``1m``).
    :param run_tests: run ``helm test`` during validation; a failing test
        fails the release (and rolls it back when atomic).
    :param on_validation_failure: ``fail`` (default) or ``warn``.
    :param sensitive_keys: dotted values paths (``fnmatch`` patterns) that are
        sensitive besides the built-in rules (docs/secrets.md).

    >>> chart = HelmChart(ChartInfo(name="api", chart="./charts/api"),
    ...                   settings=ReleaseSettings(retries=2, run_tests=True, sensitive_keys=("api.token*",)))
    >>> chart.settings.retries, chart.settings.on_validation_failure
    (2, 'fail')
    """

    retries: int = 0
    retry_delay: str = "10s"
    run_tests: bool = False
    on_validation_failure: str = "fail"
    sensitive_keys: tuple[str, ...] = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> ReleaseSettings:
        return _deepcopy_fields(self, memo)  # as ChartInfo's: a chart is copied per release


@attrs.define
class HelmChart:
    """A chart: its ``ChartInfo`` plus chart-type specific ``options``.

    Chart plugins subclass this to give presets as class methods, the way
    the seed writes ``PostgresqlChart.development()``, and may override any
    lifecycle method (``check_prerequisites``, ``pre_exec``, ``exec``,
    ``post_exec``, ``validate``, ``on_deploy_failure``), the way the seed
    writes ``MyCustomChart``::

        @attrs.define
        class MyCustomChart(HelmChart):
            def validate(self, context, payload):
                return [ValidationResult.ok("custom", f"{self.name} answers")]

    ``chart_type`` is the name under which the plugin registers the class
    (the ``[[deployments.<type>]]`` key in ``firestream.toml``); it routes the
    release's hooks to that plugin. ``ChartType(name=..., chart_class=...)``
    sets it, so the name is written once; a class that is never registered
    keeps ``generic``.

    >>> chart = HelmChart(ChartInfo(name="web", chart="bitnami/nginx"))
    >>> chart.get_chart_info_mut().timeout = "600s"
    >>> chart.name, chart.chart_type, chart.get_chart_info().timeout
    ('web', 'generic', '600s')
    """

    chart_type: ClassVar[str] = "generic"
    config_supplies_chart: ClassVar[bool] = False
    """True when the config names the chart (``chart =``), so the chart type's
    defaults may leave ``chart`` empty (``plugins --check``); ``GenericChart`` sets it."""

    chart_info: ChartInfo
    options: Any = None
    settings: ReleaseSettings = attrs.field(factory=ReleaseSettings)

    def get_chart_info(self) -> ChartInfo:
        """The seed's ``get_chart_info()``.

        >>> HelmChart(ChartInfo(name="web", chart="bitnami/nginx")).get_chart_info().chart
        'bitnami/nginx'
        """
        return self.chart_info

    def get_chart_info_mut(self) -> ChartInfo:
        """The seed's ``get_chart_info_mut()`` (Python has one kind of reference).

        >>> chart = HelmChart(ChartInfo(name="web", chart="bitnami/nginx"))
        >>> chart.get_chart_info_mut().values.append(ChartSetValue("replicaCount", "3"))
        >>> chart.chart_info.values[0].value
        '3'
        """
        return self.chart_info

    @property
    def name(self) -> str:
        """The release name (``chart_info.name``).

        >>> HelmChart(ChartInfo(name="web", chart="bitnami/nginx")).name
        'web'
        """
        return self.chart_info.name

    # -- the seed's lifecycle methods ------------------------------------------------
    # A subclass overrides any of these, as the seed's ``impl HelmChart for MyCustomChart``
    # does; the core calls an override through its built-in ``chart-methods`` plugin
    # (``firestream_core.plugin.chart_methods``), with the same arguments and the same
    # results contract as the hook of that name, before the plugins' hookimpls of that
    # stage and the built-in defaults. These base versions do nothing and are never called.

    def contribute_values(self, context: Any) -> Mapping[str, Any] | None:
        """Values this chart adds to its release's desired state (the pure ``contribute_values``
        hook, run by plan, apply, template and diff alike; no cluster writes).

        :param context: the run's :class:`~firestream_core.plugin.context.DeployContext`, with
            read-only tools.
        :return: a nested values mapping, or None.

        Example, in a subclass::

            def contribute_values(self, context):
                return {"metrics": {"enabled": True}}
        """
        return None

    def check_prerequisites(self, context: Any, payload: ChartPayload) -> list[str] | None:
        """Problems that stop the release before anything changes (the ``check_prerequisites`` hook).

        :param context: the run's :class:`~firestream_core.plugin.context.DeployContext`.
        :param payload: data shared with this release's later stages.
        :return: readable problems, or None when there are none.

        Example, in a subclass (the core prefixes each problem with the release name)::

            def check_prerequisites(self, context, payload):
                if not self.chart_info.depends_on:
                    return ["needs its database release in depends_on"]
                return None
        """
        return None

    def pre_exec(self, context: Any, payload: ChartPayload) -> None:
        """Prepare the cluster before helm runs (the ``pre_exec`` hook). Raise to fail.

        Example, in a subclass::

            def pre_exec(self, context, payload):
                ns = self.chart_info.namespace_name
                ensure_namespace(context, ns)
                outcome = ensure_secret(context, name=f"{self.name}-auth", namespace=ns,
                                        keys={"password": None})
                payload.section(self.chart_type)["secret"] = outcome.to_payload()
        """
        return None

    def exec(self, context: Any, payload: ChartPayload) -> ExecOutcome | None:  # noqa: A003
        """Carry out the action (the firstresult ``exec`` hook).

        :return: an :class:`ExecOutcome` to replace the default ``helm upgrade --install``
            / ``helm uninstall``, or None to let the plugins and the default do it.

        Example, in a subclass::

            def exec(self, context, payload):
                if self.chart_info.action is HelmAction.DEPLOY and not is_dry_run(self, context):
                    upgrade_chart_crds(context, self.chart_info, installed=current_release(self, context))
                return None      # the default helm upgrade --install runs
        """
        return None

    def post_exec(self, context: Any, payload: ChartPayload) -> None:
        """Finish the release after helm succeeded (the ``post_exec`` hook). Raise to fail.

        Example, in a subclass::

            def post_exec(self, context, payload):
                done = context.lifecycle.executed               # what exec did
                payload.section(self.chart_type)["revision"] = done.revision if done else None
        """
        return None

    def validate(self, context: Any, payload: ChartPayload) -> list[ValidationResult] | None:
        """Check that the release works (the ``validate`` hook).

        :return: :class:`ValidationResult`\\ s, added to the plugins' and the defaults'.

        Example, in a subclass::

            def validate(self, context, payload):
                ns = self.chart_info.namespace_name
                return [checks.deployment_available(context, namespace=ns,
                                                    selector=f"app.kubernetes.io/instance={self.name}")]
        """
        return None

    def on_deploy_failure(
        self, context: Any, payload: ChartPayload, stage: str, error: BaseException
    ) -> list[str] | None:
        """Debug lines after ``stage`` failed with ``error`` (the ``on_deploy_failure`` hook).

        Called when a stage raised and when validation failed.

        Example, in a subclass::

            def on_deploy_failure(self, context, payload, stage, error):
                mine = payload.section(self.chart_type)
                return [f"{self.name} failed at {stage}; prepared: {', '.join(sorted(mine))}"]
        """
        return None


CHART_METHODS: tuple[str, ...] = (
    "contribute_values",
    "check_prerequisites",
    "pre_exec",
    "exec",
    "post_exec",
    "validate",
    "on_deploy_failure",
)
"""The lifecycle methods a :class:`HelmChart` subclass may override, in lifecycle order."""


def overridden_chart_methods(cls: type) -> tuple[str, ...]:
    """The lifecycle methods ``cls`` (a :class:`HelmChart` subclass) overrides."""
    return tuple(m for m in CHART_METHODS if overrides_chart_method(cls, m))


def overrides_chart_method(cls: type, stage: str) -> bool:
    """Whether ``cls`` overrides the lifecycle method ``stage`` (asked for that one stage:
    every hook call of every release asks it, two lookups instead of the whole table's)."""
    return stage in CHART_METHODS and getattr(cls, stage, None) is not getattr(HelmChart, stage)


def unset_chart_fields(chart: HelmChart) -> str | None:
    """Why ``chart`` cannot be used, or None: the fields a subclass's own ``__init__`` left unset.

    The seed's ``struct MyCustomChart { chart_info }`` written as a plain ``__init__`` that
    sets only ``self.chart_info`` leaves ``options`` and ``settings`` unset (``HelmChart``
    is an attrs class with slots), and every later use would fail with an AttributeError.

    >>> class Mine(HelmChart):
    ...     def __init__(self, chart_info):
    ...         self.chart_info = chart_info
    >>> unset_chart_fields(Mine(ChartInfo(name="web", chart="bitnami/nginx")))
    'options and settings not set: its __init__ must call super().__init__(chart_info) (or declare the class with @attrs.define)'
    """
    unset = [f for f in ("chart_info", "options", "settings") if not hasattr(chart, f)]
    if not unset:
        return None
    names = ", ".join(unset[:-1]) + (" and " if len(unset) > 1 else "") + unset[-1]
    return (f"{names} not set: its __init__ must call super().__init__(chart_info) "
            "(or declare the class with @attrs.define)")


class ChartPayload(dict[str, Any]):
    """Data a stage hands to later stages of the same release (the seed's payload).

    A mapping of string keys to JSON-like values, one per release, shared by
    every plugin called for it. Each plugin keeps its data in its **own
    section**, so two plugins on one release cannot overwrite each other::

        mine = payload.section("postgresql")   # the plugin's chart type or plugin name
        mine["admin_secret"] = "pg-admin"
        ...
        payload.section("postgresql")["admin_secret"]   # in a later stage

    The payload is the plugins' alone: the core keeps its own bookkeeping
    (what ``exec`` did, the ``helm test`` results) in ``context.lifecycle``
    and the release's outcome, never here. Keys starting with ``firestream.``
    stay reserved.
    """

    def section(self, name: str) -> dict[str, Any]:
        """The mutable mapping kept under ``name``, created empty on first use.

        :param name: the plugin's namespace: its chart type or plugin name
            (names starting with ``firestream.`` are reserved).
        :raises TypeError: when ``name`` holds something other than a mapping.

        >>> payload = ChartPayload()
        >>> payload.section("audit")["started"] = True
        >>> payload
        {'audit': {'started': True}}
        """
        value = self.setdefault(name, {})
        if not isinstance(value, dict):
            raise TypeError(
                f"payload key '{name}' holds a {type(value).__name__}, not a plugin's section"
            )
        return value


class ValidationStatus(enum.Enum):
    """The status of a :class:`ValidationResult`; ``PASSED`` and ``WARNING`` count as passed.

    >>> ValidationResult("tls", "warning", "certificate expires in 20 days").passed
    True
    >>> ValidationStatus("pending") is ValidationStatus.PENDING
    True
    """

    PASSED = "passed"
    FAILED = "failed"
    PENDING = "pending"
    WARNING = "warning"


@attrs.frozen
class ValidationResult:
    """The outcome of one named validation check.

    ``PENDING`` means "not yet, ask again": the runner re-validates until the
    release's timeout, after which a pending check counts as failed.

    Build one with :meth:`ok`, :meth:`fail` or :meth:`pending`, in a ``validate`` stage:

    >>> results = [ValidationResult.ok("endpoint", "answers"),
    ...            ValidationResult.pending("replicas", "1 of 2 ready")]
    >>> [r.passed for r in results]
    [True, False]
    """

    name: str
    status: ValidationStatus = attrs.field(converter=ValidationStatus)
    message: str = ""
    details: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def passed(self) -> bool:
        """True for ``PASSED`` and ``WARNING``.

        >>> ValidationResult.ok("x").passed, ValidationResult.fail("x").passed
        (True, False)
        """
        return self.status in (ValidationStatus.PASSED, ValidationStatus.WARNING)

    @classmethod
    def ok(cls, name: str, message: str = "", **details: Any) -> ValidationResult:
        """A passed check ``name``; keyword arguments become ``details``.

        >>> r = ValidationResult.ok("endpoint", "answers on 5432", port=5432)
        >>> (r.passed, r.details)
        (True, {'port': 5432})
        >>> str(r)
        "Validation 'endpoint': PASSED - answers on 5432"
        """
        return cls(name, ValidationStatus.PASSED, message, details)

    @classmethod
    def fail(cls, name: str, message: str = "", **details: Any) -> ValidationResult:
        """A failed check: the release fails (unless ``on_validation_failure = "warn"``).

        >>> ValidationResult.fail("endpoint", "connection refused").passed
        False
        """
        return cls(name, ValidationStatus.FAILED, message, details)

    @classmethod
    def pending(cls, name: str, message: str = "", **details: Any) -> ValidationResult:
        """Not yet: the runner validates again until the release's timeout.

        >>> ValidationResult.pending("replicas", "1 of 2 ready").status
        <ValidationStatus.PENDING: 'pending'>
        """
        return cls(name, ValidationStatus.PENDING, message, details)

    def __str__(self) -> str:
        return f"Validation '{self.name}': {self.status.name} - {self.message}"


@attrs.frozen
class ChartType:
    """What a plugin registers for one chart type.

    :param name: the ``[[deployments.<name>]]`` key and the chart type name.
    :param chart_class: the ``HelmChart`` subclass; ``chart_class.default()``
        (or ``chart_class(ChartInfo(name=...))``) builds the defaults.
    :param presets: preset name -> callable returning a ``HelmChart``
        (e.g. ``{"development": PostgresqlChart.development}``).
    :param options: an attrs class for the chart type's extra config keys
        (e.g. ``delete_crds``), or None when it takes none.
    :param repositories: repository name -> default URL the chart needs;
        overridable by ``[repositories]`` in the config.
    :param description: one line for ``firestream plugins``.
    :param destructive_steps: ``(chart, step) -> lines``: the destructive steps
        this chart type's ``exec`` adds to a breaking-version step
        (:class:`BreakingStep`), e.g. deleting its CRDs with the uninstall;
        ``plan`` lists them with the step's own. None: it adds none.
    :param destroy_steps: ``(chart, project_dir) -> lines``: what this chart type's
        hooks remove besides helm's uninstall when the release is destroyed (its CRDs,
        a Secret it created), decided from the chart and its options as the hooks decide
        it; a destroy plan lists them under the release's destructive steps. None: nothing.
        A callable taking a third argument, ``(chart, project_dir, context)``, also gets a
        read-only ``DeployContext`` of the release (plugin API 6): what the hooks delete
        may depend on what the cluster holds; the hooks find the plan's lines in
        ``context.planned_steps``.

    >>> @attrs.define
    ... class CacheChart(HelmChart):
    ...     @classmethod
    ...     def development(cls) -> "CacheChart":
    ...         return cls(ChartInfo(name="cache", chart="redis", repository="bitnami"))
    >>> cache = ChartType(name="cache", chart_class=CacheChart,
    ...                   presets={"development": CacheChart.development},
    ...                   repositories={"bitnami": "https://charts.bitnami.com/bitnami"})
    >>> CacheChart.chart_type                     # set from the ChartType's name
    'cache'
    >>> cache.default_chart().chart_info.name     # no default(): chart_class(ChartInfo(name))
    'cache'

    A plugin registers it from its ``register_chart_types`` hook:
    ``register(cache)``.
    """

    name: str
    chart_class: type[HelmChart]
    presets: Mapping[str, Any] = attrs.field(factory=dict)
    options: type | None = None
    repositories: Mapping[str, str] = attrs.field(factory=dict)
    description: str = ""
    destructive_steps: Callable[[HelmChart, BreakingStep], Sequence[str]] | None = None
    destroy_steps: Callable[..., Sequence[str]] | None = None  # (chart, project_dir[, context])

    def __attrs_post_init__(self) -> None:
        # the chart class takes its type name from here: written once, in ChartType(name=...)
        cls = self.chart_class
        if not isinstance(cls, type) or not issubclass(cls, HelmChart) or cls is HelmChart:
            return  # the plugin manager names this problem
        if "chart_type" not in cls.__dict__:  # a name the class gives itself is checked at load
            cls.chart_type = self.name

    def default_chart(self, name: str | None = None) -> HelmChart:
        """The chart type's defaults: ``chart_class.default()`` or ``chart_class(ChartInfo(name))``.

        >>> ChartType(name="web", chart_class=HelmChart).default_chart().name
        'web'
        """
        factory = getattr(self.chart_class, "default", None)
        if callable(factory):
            return factory()
        return self.chart_class(ChartInfo(name=name or self.name))


# the first "-" a version follows: a pre-release or build holding one of its own
# ("app-1.0.0-2024.01.01") is the version's (a greedy name took "app-1.0.0"); compiled on first use
_CHART_VERSION_SPLIT = r"^(?P<name>.+?)-(?P<version>v?\d+\.\d+\.\d+.*)$"


@attrs.frozen
class InstalledRelease:
    """One release as the cluster reports it (``helm list -A -a -o json``).

    >>> rel = InstalledRelease("db", "data", revision=3, status="deployed", chart="postgresql-13.2.24")
    >>> rel.chart_name, rel.chart_version, rel.key, rel.is_pending
    ('postgresql', '13.2.24', ('data', 'db'), False)
    """

    name: str
    namespace: str
    revision: int
    status: str  # deployed, failed, pending-install, pending-upgrade, pending-rollback, uninstalling, superseded
    chart: str  # helm's "name-version", e.g. "postgresql-13.2.24"
    app_version: str = ""
    updated: str = ""

    @property
    def chart_name(self) -> str:
        """The chart's name, from helm's ``name-version``.

        >>> InstalledRelease("db", "data", 1, "deployed", "kube-prometheus-stack-55.5.0").chart_name
        'kube-prometheus-stack'
        """
        m = re.match(_CHART_VERSION_SPLIT, self.chart)
        return m.group("name") if m else self.chart

    @property
    def chart_version(self) -> str:
        """The chart's version, from helm's ``name-version`` (empty when not readable).

        >>> InstalledRelease("db", "data", 1, "deployed", "postgresql-13.2.24").chart_version
        '13.2.24'
        >>> InstalledRelease("a", "ns", 1, "deployed", "my-app-2-1.0.0-2024.01.01").chart_version
        '1.0.0-2024.01.01'
        """
        m = re.match(_CHART_VERSION_SPLIT, self.chart)
        return m.group("version") if m else ""

    @property
    def is_pending(self) -> bool:
        """helm reports ``pending-*`` or ``uninstalling``: an earlier operation did not finish
        (``recover`` in a plan). An ``uninstalling`` release (a ``helm uninstall`` interrupted, or
        stopped by a failed ``pre-delete`` hook) is refused by ``helm upgrade`` ("has no deployed
        releases") as a ``pending-*`` one is ("another operation is in progress").

        >>> InstalledRelease("db", "data", 2, "pending-upgrade", "postgresql-13.2.24").is_pending
        True
        >>> InstalledRelease("db", "data", 2, "uninstalling", "postgresql-13.2.24").is_pending
        True
        """
        return self.status.startswith("pending-") or self.status == "uninstalling"

    @property
    def key(self) -> tuple[str, str]:
        """``(namespace, name)``, how releases are told apart across namespaces.

        >>> InstalledRelease("db", "data", 1, "deployed", "postgresql-13.2.24").key
        ('data', 'db')
        """
        return (self.namespace, self.name)


@attrs.frozen
class ExecOutcome:
    """What ``exec`` did: ``deployed``, ``destroyed``, ``skipped`` or ``unchanged``.

    ``status`` is helm's status of ``revision`` as the operation itself
    reported it (``helm upgrade --install --output json``), or None when not
    known; validation may rely on it instead of asking helm again.

    An ``exec`` that carries out the action itself returns one, replacing the
    default ``helm upgrade --install``:

    >>> ExecOutcome("deployed", revision=4, message="upgraded by the operator", status="deployed")
    ExecOutcome(performed='deployed', revision=4, message='upgraded by the operator', status='deployed', workloads=None, pod_free=False)
    """

    performed: str
    revision: int | None = None
    message: str = ""
    status: str | None = None
    workloads: tuple[tuple[str, str, str], ...] | None = None
    """The deployed revision's workloads ``(kind, namespace, name)`` from its manifest (None: not known)."""
    pod_free: bool = False
    """True when the deployed manifest holds nothing that may run pods (no workload, no custom
    resource), so ``pods_running`` has nothing to ask the cluster; False: it may, or not known."""


# -- recovering a pending release (the rule recover_pending follows and the plan shows) ----------

DEPLOYED_STATUSES = ("deployed", "superseded")
"""History statuses of a revision that once was a working release."""


def last_deployed_revision(
    entries: Sequence[Mapping[str, Any]], *, below: int | None = None
) -> Mapping[str, Any] | None:
    """The newest history entry that was a working release, below revision ``below``.

    A ``deployed`` entry is preferred over a ``superseded`` one (helm marks
    the release it is replacing ``superseded`` only once the new one works).
    """
    candidates = [
        e
        for e in entries
        if str(e.get("status", "")) in DEPLOYED_STATUSES
        and (below is None or int(e.get("revision", 0)) < below)
    ]
    if not candidates:
        return None
    deployed = [e for e in candidates if e.get("status") == "deployed"]
    pool = deployed or candidates
    return max(pool, key=lambda e: int(e.get("revision", 0)))


def recovery_rollback(
    installed: InstalledRelease, history: Callable[[], Sequence[Mapping[str, Any]]]
) -> Mapping[str, Any] | None:
    """The history entry the recovery of a ``pending-*`` release rolls back to, or None when it
    is uninstalled instead: a ``pending-install`` at revision 1, or no working revision below
    (:func:`last_deployed_revision`). ``history`` is called only when needed. The one rule
    :func:`~firestream_core.deploy.recovery.recover_pending` follows, and the plan (the
    chart version it returns to, for the breaking-version step), ``plan --hooks`` and ``diff``
    show."""
    if installed.status == "pending-install" and installed.revision <= 1:
        return None
    return last_deployed_revision(history(), below=installed.revision)
