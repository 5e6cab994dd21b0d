"""The data firestream works with, in the seed's own terms.

``ChartInfo`` is mutable on purpose: the seed edits a chart's info in place
(``info = chart.get_chart_info_mut(); info.timeout = "600s"``). Everything
read from the configuration file is frozen (see ``config``).
"""

from __future__ import annotations

import enum
import re
import shlex
from collections.abc import Iterable, Mapping
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
_CONSTRAINT = re.compile(r"^\s*(?:(?:[<>=!~^]=?|=)?\s*v?[0-9x*]+(?:\.[0-9x*]+){0,2}(?:-[0-9A-Za-z.-]+)?\s*(?:,|\|\||\s)?\s*)+$")


class HelmAction(enum.Enum):
    """What to do with a release: the seed's ``Deploy`` / ``Destroy`` / ``Skip``."""

    DEPLOY = "deploy"
    DESTROY = "destroy"
    SKIP = "skip"
    # The seed's spelling, as aliases.
    Deploy = "deploy"
    Destroy = "destroy"
    Skip = "skip"


class HelmChartNamespace(enum.Enum):
    """The original's well-known namespaces; anything else is ``Custom``."""

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
    """
    if isinstance(text, int):
        if text < 0:
            raise ValueError("duration must not be negative")
        return text
    s = str(text).strip()
    if s.isdigit():
        return int(s)
    m = _DURATION.match(s)
    if not s or not m or not any(m.groups()):
        raise ValueError(f"invalid duration {text!r}: expected e.g. '300s', '5m' or '1h'")
    h, mi, se = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + se


@attrs.frozen(order=False)
class SemVer:
    """A parsed semantic version, compared by precedence (``10.0.0 > 9.0.0``)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[tuple[int, int | str], ...] = ()
    text: str = attrs.field(default="", eq=False)

    @classmethod
    def parse(cls, text: str) -> SemVer:
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
    if _CONSTRAINT.match(t):
        return t
    raise ValueError(f"invalid chart version {text!r}: expected a semantic version or a constraint")


def check_dns_label(kind: str, name: str, max_len: int) -> None:
    if not name:
        raise ValueError(f"{kind} must not be empty")
    if len(name) > max_len:
        raise ValueError(f"{kind} {name!r} is {len(name)} characters long, at most {max_len} allowed")
    if not DNS1123_LABEL.match(name):
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
    """One ``--set key=value`` pair (passed to helm in a values file, never on argv)."""

    key: str
    value: str


@attrs.define
class ChartValuesGenerated:
    """A values file generated at run time: its ``filename`` and YAML content."""

    filename: str
    yaml_content: str


def _commands(value: Iterable[Any]) -> list[list[str]]:
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
    """

    version: str = attrs.field(converter=str)
    requires_uninstall: bool = False
    pre_upgrade_commands: list[list[str]] = attrs.field(factory=list, converter=_commands)

    @version.validator
    def _check(self, _attr: Any, value: str) -> None:
        SemVer.parse(value)

    def applies_to(self, installed_version: str | None) -> bool:
        """True when upgrading from ``installed_version`` crosses this version."""
        if not installed_version:
            return False
        try:
            return SemVer.parse(installed_version) < SemVer.parse(self.version)
        except ValueError:
            return False


def _namespace(value: HelmChartNamespace | str) -> HelmChartNamespace | str:
    if isinstance(value, HelmChartNamespace):
        return value
    try:
        return HelmChartNamespace(value)
    except ValueError:
        return str(value)


@attrs.define
class ChartInfo:
    """Everything firestream needs to deploy one release (the original's fields and defaults).

    ``namespace`` takes a ``HelmChartNamespace`` or any namespace name;
    ``namespace_name`` is the name actually used.
    """

    name: str
    chart: str = ""
    repository: str | None = None
    version: str | None = None
    path: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
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

    @property
    def namespace_name(self) -> str:
        ns = self.namespace
        if ns is HelmChartNamespace.CUSTOM:
            if not self.custom_namespace:
                raise ValueError(f"release '{self.name}': namespace is custom but custom_namespace is not set")
            return self.custom_namespace
        return ns.value if isinstance(ns, HelmChartNamespace) else ns

    @property
    def timeout_seconds(self) -> int:
        return parse_duration(self.timeout)

    @property
    def chart_ref(self) -> str:
        """What helm is given as the chart: a local path, an OCI URL or ``repo/chart``."""
        if self.path is not None:
            return str(self.path)
        if self.chart.startswith("oci://") or "/" in self.chart or not self.repository:
            return self.chart
        return f"{self.repository}/{self.chart}"

    def check(self) -> list[str]:
        """Every problem with this info, as ``field: message`` (empty when valid)."""
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
        if self.history_max < 0:
            problems.append("history_max: must not be negative")
        return problems


@attrs.frozen
class ReleaseSettings:
    """Per-release run settings that are not helm options.

    :param retries: how many times a stage failing for a transient reason
        (cluster unreachable, timeout) is retried; never for render errors.
    :param retry_delay: pause between retries (``10s``, ``1m``).
    :param run_tests: run ``helm test`` during validation; a failing test
        fails the release (and rolls it back when atomic).
    :param on_validation_failure: ``fail`` (default) or ``warn``.
    """

    retries: int = 0
    retry_delay: str = "10s"
    run_tests: bool = False
    on_validation_failure: str = "fail"


@attrs.define
class HelmChart:
    """A chart: its ``ChartInfo`` plus chart-type specific ``options``.

    Chart plugins subclass this to give presets as class methods, the way
    the seed writes ``PostgresqlChart.development()``. ``chart_type`` is the
    name under which the plugin registers it (the ``[[deployments.<type>]]``
    key in ``firestream.toml``).
    """

    chart_type: ClassVar[str] = "generic"

    chart_info: ChartInfo
    options: Any = None
    settings: ReleaseSettings = attrs.field(factory=ReleaseSettings)

    def get_chart_info(self) -> ChartInfo:
        """The seed's ``get_chart_info()``."""
        return self.chart_info

    def get_chart_info_mut(self) -> ChartInfo:
        """The seed's ``get_chart_info_mut()`` (Python has one kind of reference)."""
        return self.chart_info

    @property
    def name(self) -> str:
        return self.chart_info.name


EXEC_PAYLOAD_KEY = "firestream.exec"
"""Payload key where the lifecycle leaves what ``exec`` did (``performed``, ``revision``, and,
when the exec reported it, helm's ``status`` of that revision with ``status_fresh``)."""


class ChartPayload(dict[str, Any]):
    """Data a stage hands to later stages of the same release (the seed's payload).

    A plain mapping of string keys to JSON-like values.
    """


class ValidationStatus(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    PENDING = "pending"
    WARNING = "warning"


@attrs.frozen
class ValidationResult:
    """The outcome of one named validation check.

    ``PENDING`` means "not yet, ask again": the runner re-validates until the
    release's timeout, after which a pending check counts as failed.
    """

    name: str
    status: ValidationStatus = attrs.field(converter=ValidationStatus)
    message: str = ""
    details: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def passed(self) -> bool:
        return self.status in (ValidationStatus.PASSED, ValidationStatus.WARNING)

    @classmethod
    def ok(cls, name: str, message: str = "", **details: Any) -> ValidationResult:
        return cls(name, ValidationStatus.PASSED, message, details)

    @classmethod
    def fail(cls, name: str, message: str = "", **details: Any) -> ValidationResult:
        return cls(name, ValidationStatus.FAILED, message, details)

    @classmethod
    def pending(cls, name: str, message: str = "", **details: Any) -> ValidationResult:
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
    """

    name: str
    chart_class: type[HelmChart]
    presets: Mapping[str, Any] = attrs.field(factory=dict)
    options: type | None = None
    repositories: Mapping[str, str] = attrs.field(factory=dict)
    description: str = ""

    def default_chart(self, name: str | None = None) -> HelmChart:
        """The chart type's defaults: ``chart_class.default()`` or ``chart_class(ChartInfo(name))``."""
        factory = getattr(self.chart_class, "default", None)
        if callable(factory):
            return factory()
        return self.chart_class(ChartInfo(name=name or self.name))


_CHART_VERSION_SPLIT = re.compile(r"^(?P<name>.+)-(?P<version>v?\d+\.\d+\.\d+.*)$")


@attrs.frozen
class InstalledRelease:
    """One release as the cluster reports it (``helm list -A -a -o json``)."""

    name: str
    namespace: str
    revision: int
    status: str  # deployed, failed, pending-install, pending-upgrade, pending-rollback, uninstalling, superseded
    chart: str  # helm's "name-version", e.g. "postgresql-13.2.24"
    app_version: str = ""
    updated: str = ""

    @property
    def chart_name(self) -> str:
        m = _CHART_VERSION_SPLIT.match(self.chart)
        return m.group("name") if m else self.chart

    @property
    def chart_version(self) -> str:
        m = _CHART_VERSION_SPLIT.match(self.chart)
        return m.group("version") if m else ""

    @property
    def is_pending(self) -> bool:
        return self.status.startswith("pending-")

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@attrs.frozen
class ExecOutcome:
    """What ``exec`` did: ``deployed``, ``destroyed``, ``skipped`` or ``unchanged``.

    ``status`` is helm's status of ``revision`` as the operation itself
    reported it (``helm upgrade --install --output json``), or None when not
    known; validation may rely on it instead of asking helm again.
    """

    performed: str
    revision: int | None = None
    message: str = ""
    status: str | None = None
    workloads: tuple[tuple[str, str, str], ...] | None = None
    """The deployed revision's workloads ``(kind, namespace, name)`` from its manifest (None: not known)."""
