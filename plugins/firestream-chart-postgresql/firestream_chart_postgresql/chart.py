"""``PostgresqlChart``: bitnami/postgresql 17.1.0 with the original's presets.

The original passed ``auth.postgresPassword=postgres`` on helm's command
line. Here no preset holds a password: ``pre_exec`` (see :mod:`.auth`) keeps
the passwords in a Kubernetes Secret and points the chart at it with
``auth.existingSecret``.
"""

from __future__ import annotations

from typing import Any

import attrs

from firestream_core.plugin import (
    ChartInfo,
    ChartPresets,
    ChartSetValue,
    HelmChart,
    HelmChartNamespace,
    OptionValueError,
    ReleaseSettings,
    at_least,
    env_var_name,
    secret_name,
)
from firestream_core.plugin import options_of as core_options_of

REPOSITORY = "bitnami"
REPOSITORY_URL = "https://charts.bitnami.com/bitnami"
CHART = "postgresql"
VERSION = "17.1.0"
"""The default chart version (the seed's was 13.2.24; see docs/charts.md for where it was read)."""

ADMIN_PASSWORD_KEY = "postgres-password"
USER_PASSWORD_KEY = "password"
REPLICATION_PASSWORD_KEY = "replication-password"
"""The key names bitnami/postgresql reads from ``auth.existingSecret`` (``auth.secretKeys``)."""

MAJOR_UPGRADES = ("reinstall",)
"""The documented ways across a PostgreSQL major version (``major_upgrade``)."""


def _major_upgrade(_inst: Any, attribute: Any, value: str | None) -> None:
    if value is not None and value not in MAJOR_UPGRADES:
        raise OptionValueError(attribute.name, f"{value!r} is not one of {', '.join(MAJOR_UPGRADES)}")


@attrs.frozen
class PostgresqlOptions:
    """Options of the ``postgresql`` chart type (extra keys of ``[[deployments.postgresql]]``).

    :ivar auth_secret: the Secret firestream creates (or reuses) for the
        passwords; default ``<release>-auth``.
    :ivar existing_secret: a Secret you manage yourself: the chart is
        pointed at it and firestream creates nothing (it must hold the keys
        ``postgres-password``, and ``password`` / ``replication-password``
        when a user / replication is configured).
    :ivar password_env: environment variable holding the ``postgres`` user's
        password; default: keep the Secret's, or generate one.
    :ivar user_password_env: the same for ``auth.username``'s password.
    :ivar replication_password_env: the same for the replication user.
    :ivar password_length: length of generated passwords (at least 16).
    :ivar delete_secret_on_destroy: also delete the Secret when the release
        is destroyed (default: keep it, since the volumes helm leaves behind
        still need that password).
    :ivar major_upgrade: how to cross a PostgreSQL major version (chart
        13.x-15.x ship PostgreSQL 16, 16.0.0 and later PostgreSQL 17). None
        (default): refused, since an in-place helm upgrade cannot migrate the
        data directory. ``"reinstall"``: you dumped the data (``pg_dumpall``);
        the release and its data volumes are deleted and the new major starts
        empty, to restore the dump into.
    """

    auth_secret: str | None = attrs.field(default=None, validator=secret_name)
    existing_secret: str | None = attrs.field(default=None, validator=secret_name)
    password_env: str | None = attrs.field(default=None, validator=env_var_name)
    user_password_env: str | None = attrs.field(default=None, validator=env_var_name)
    replication_password_env: str | None = attrs.field(default=None, validator=env_var_name)
    password_length: int = attrs.field(default=32, validator=at_least(16))
    delete_secret_on_destroy: bool = False
    major_upgrade: str | None = attrs.field(default=None, validator=_major_upgrade)

    def secret_name(self, release: str) -> str:
        """The Secret the chart reads its passwords from."""
        return self.existing_secret or self.auth_secret or f"{release}-auth"


def set_value(info: ChartInfo, key: str, value: str) -> None:
    """Set ``--set``-style ``key`` in ``info.values``, replacing an earlier pair of that key.

    A new list is assigned (the old one is not changed in place), so a copy
    of the ``ChartInfo`` made with ``attrs.evolve`` keeps its own values.
    """
    info.values = [*(v for v in info.values if v.key != key), ChartSetValue(key, value)]


DEFAULT_VALUES: dict[str, Any] = {
    "auth.enablePostgresUser": True,
    "auth.database": "firestream",
    "primary.resources.limits.cpu": "500m",
    "primary.resources.requests.cpu": "250m",
    "primary.resources.limits.memory": "512Mi",
    "primary.resources.requests.memory": "256Mi",
    "primary.persistence.enabled": True,
    "primary.persistence.size": "10Gi",
    "metrics.enabled": True,
    "metrics.serviceMonitor.enabled": True,
}
"""The original's values (without its ``auth.postgresPassword``)."""

DEVELOPMENT_VALUES: dict[str, Any] = {
    **{k: v for k, v in DEFAULT_VALUES.items() if "resources" not in k},
    "primary.resources.limits.cpu": "200m",
    "primary.resources.requests.cpu": "100m",
    "primary.resources.limits.memory": "256Mi",
    "primary.resources.requests.memory": "128Mi",
    "primary.persistence.size": "1Gi",
}

PRODUCTION_VALUES: dict[str, Any] = {
    **DEFAULT_VALUES,
    "architecture": "replication",
    "readReplicas.replicaCount": 2,
    "readReplicas.resources.limits.cpu": "500m",
    "readReplicas.resources.requests.cpu": "250m",
    "readReplicas.resources.limits.memory": "512Mi",
    "readReplicas.resources.requests.memory": "256Mi",
    "primary.persistence.size": "100Gi",
    "backup.enabled": True,
}


PRESETS = ChartPresets("postgresql", chart=CHART, version=VERSION, repository=REPOSITORY,
                       namespace=HelmChartNamespace.DEFAULT)


@attrs.define
class PostgresqlChart(HelmChart):
    """bitnami/postgresql, as the seed's ``PostgresqlChart``.

    ``PostgresqlChart()`` and ``PostgresqlChart.default()`` give the
    defaults; ``development()`` and ``production()`` the original's presets.
    A preset's values form the first values document of the chart, so the
    config's ``values``, its ``set`` pairs and ``ChartSetValue`` pairs appended
    from Python all override them.
    """

    chart_info: ChartInfo = attrs.field(factory=PRESETS.factory("default", DEFAULT_VALUES))
    options: PostgresqlOptions = attrs.field(factory=PostgresqlOptions)
    settings: ReleaseSettings = attrs.field(factory=ReleaseSettings)

    @classmethod
    def default(cls) -> PostgresqlChart:
        """postgresql 17.1.0 in ``default``: 250m-500m CPU, 256-512Mi, 10Gi disk, metrics."""
        return cls()

    @classmethod
    def development(cls) -> PostgresqlChart:
        """Smaller: 100m-200m CPU, 128-256Mi memory, a 1Gi disk."""
        return cls(PRESETS.info("development", DEVELOPMENT_VALUES))

    @classmethod
    def production(cls) -> PostgresqlChart:
        """Replication with 2 read replicas, a 100Gi disk and backups."""
        return cls(PRESETS.info("production", PRODUCTION_VALUES))


def options_of(chart: HelmChart) -> PostgresqlOptions:
    """The chart's options, or the defaults when it carries none."""
    return core_options_of(chart, PostgresqlOptions)
