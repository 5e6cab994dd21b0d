"""The models of ``firestream.toml``: frozen attrs classes, one per table.

``ProjectConfig`` holds the whole file; ``ReleaseKeys`` the keys ``[defaults]``
and a release share; ``ReleaseConfig`` one ``[[deployments.<type>]]`` entry.
Fields typed with the ``NewType``s below get their own checks from the
converter (``converter.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NewType

import attrs

from firestream_core.config.paths import quote_key

DEFAULT_CONFIG_NAME = "firestream.toml"

# -- value types with their own checks (the converter's hooks, converter.py) -------

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
LabelValue = NewType("LabelValue", str)
"""A label's value (``labels = {tier = "db"}``): a string, as Kubernetes labels and the
``-l tier=db`` selectors it is compared with are (``tier = 5`` is refused: quote it)."""
Table = NewType("Table", dict)  # type: ignore[type-var]
"""A TOML table kept as is (``values``)."""
RepositoryURL = NewType("RepositoryURL", str)
ChartRef = NewType("ChartRef", str)
"""A release's ``chart``: a name, ``repo/name`` or an ``oci://`` reference, never with credentials."""
Backend = NewType("Backend", str)
ValidationFailureMode = NewType("ValidationFailureMode", str)

CHOICES: dict[Any, tuple[str, ...]] = {
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

    chart: ChartRef | None = None
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
    # selector labels (-l tier=db); [defaults] labels are merged under the release's own
    labels: dict[str, LabelValue] | None = None
    sensitive_keys: tuple[str, ...] | None = None  # dotted patterns, docs/secrets.md


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
        base = f"deployments.{quote_key(self.chart_type)}"
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
    # host -> firestream_core.tools.oci.RegistryConfig ([registries."host:port"])
    registries: Mapping[str, Any] = attrs.field(factory=dict)
    state: StateConfig = StateConfig()
    settings: Settings = Settings()
    releases: tuple[ReleaseConfig, ...] = ()
    # the [environments.NAME] this config was read for (-e NAME) and its kube_context
    environment: str | None = None
    kube_context: str | None = None
    # where each release overlay of that environment is written (config/environments.py):
    # a problem with a key it set is named there
    # (environments.Layers: where each thing it wrote is written)
    overlaid: Mapping[str, tuple[tuple[str, frozenset[str]], ...]] = attrs.field(factory=dict, eq=False,
                                                                                repr=False)
    # the releases the file defines that the environment's `releases` leaves out
    left_out: frozenset[str] = attrs.field(factory=frozenset, eq=False, repr=False)
    # a kept release's path here -> its path in the file, when `releases` left out one before it
    moved: Mapping[str, str] = attrs.field(factory=dict, eq=False, repr=False)
    # an item the environment added to a release's `values_files` -> where the file writes it
    added: Mapping[str, str] = attrs.field(factory=dict, eq=False, repr=False)

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
PER_RELEASE_ONLY = ("name", "preset", "depends_on")
TOP_LEVEL_KEYS = ("project", "repositories", "registries", "defaults", "state", "settings", "deployments",
                  "environments")
