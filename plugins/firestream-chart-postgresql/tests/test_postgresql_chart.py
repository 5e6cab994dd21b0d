"""The postgresql chart type without a cluster: defaults, presets, options, registration, config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from firestream_chart_postgresql import PostgresqlChart, PostgresqlOptions
from firestream_chart_postgresql.auth import configured_passwords, missing_environment, user_secret

from firestream_core.config.build import build_charts
from firestream_core.config.load import load_config
from firestream_core.config.plugin_check import check_plugins
from firestream_core.errors import ConfigError
from firestream_core.model import ChartSetValue, HelmChartNamespace
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.tools.values import merged_values


def values(chart: PostgresqlChart) -> dict[str, Any]:
    """The values helm gets for ``chart``, flattened to dotted keys."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = node

    walk("", merged_values(chart.chart_info))
    return out


def test_bare_constructor_and_default_are_the_originals_defaults() -> None:
    for chart in (PostgresqlChart(), PostgresqlChart.default()):
        info = chart.get_chart_info()
        assert (info.name, info.repository, info.chart, info.version) == (
            "postgresql", "bitnami", "postgresql", "17.1.0",
        )
        assert info.namespace is HelmChartNamespace.DEFAULT
        assert info.timeout == "300s"
        v = values(chart)
        assert v["auth.database"] == "firestream"
        assert v["primary.persistence.size"] == "10Gi"
        assert v["primary.resources.limits.memory"] == "512Mi"
        assert isinstance(chart.options, PostgresqlOptions)


def test_no_preset_holds_a_password() -> None:
    for chart in (PostgresqlChart(), PostgresqlChart.development(), PostgresqlChart.production()):
        assert not any("password" in key.lower() for key in values(chart))
        assert chart.chart_info.values == []


def test_development_is_small() -> None:
    v = values(PostgresqlChart.development())
    assert v["primary.persistence.size"] == "1Gi"
    assert v["primary.resources.limits.cpu"] == "200m"
    assert v["primary.resources.requests.memory"] == "128Mi"
    assert v["auth.database"] == "firestream"


def test_production_replicates_with_backups() -> None:
    v = values(PostgresqlChart.production())
    assert v["architecture"] == "replication"
    assert v["readReplicas.replicaCount"] == 2
    assert v["primary.persistence.size"] == "100Gi"
    assert v["backup.enabled"] is True


def test_presets_do_not_share_state() -> None:
    a, b = PostgresqlChart.development(), PostgresqlChart.development()
    a.get_chart_info_mut().values.append(ChartSetValue("x", "y"))
    assert "x" not in values(b)


def test_the_seeds_python_snippet_works() -> None:
    postgres = PostgresqlChart.default()
    info = postgres.get_chart_info_mut()
    info.values.append(ChartSetValue(key="auth.database", value="myapp"))
    info.values_files.append(Path("values/postgres-custom.yaml"))
    info.timeout = "600s"
    assert postgres.chart_info.timeout_seconds == 600
    assert values(postgres)["auth.database"] == "myapp"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("auth_secret", "Not_A_Name"),
        ("existing_secret", "-bad"),
        ("password_env", "1NOPE"),
        ("password_length", 8),
    ],
)
def test_options_are_checked(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        PostgresqlOptions(**{field: value})  # type: ignore[arg-type]


def test_secret_name_defaults_to_the_release() -> None:
    assert PostgresqlOptions().secret_name("db") == "db-auth"
    assert PostgresqlOptions(auth_secret="x").secret_name("db") == "x"
    assert PostgresqlOptions(existing_secret="mine", auth_secret="x").secret_name("db") == "mine"


def test_registered_through_the_entry_point() -> None:
    manager = get_plugin_manager()
    reg = manager.chart_type("postgresql")
    assert reg.distribution == "firestream-chart-postgresql"
    ct = reg.chart_type
    assert ct.chart_class is PostgresqlChart
    assert set(ct.presets) == {"default", "development", "production"}
    assert ct.options is PostgresqlOptions
    assert ct.repositories == {"bitnami": "https://charts.bitnami.com/bitnami"}
    assert not [p for p in check_plugins(manager) if "postgresql" in p]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "firestream.toml"
    path.write_text(text)
    return path


def test_config_preset_options_and_overrides(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[repositories]
bitnami = "https://mirror.example.com/bitnami"

[[deployments.postgresql]]
name = "db"
preset = "development"
namespace = "data"
timeout = "10m"
password_env = "DB_PASSWORD"
auth_secret = "db-credentials"

[deployments.postgresql.values]
auth.database = "orders"
primary.persistence.size = "5Gi"

[[deployments.postgresql]]
name = "analytics"
preset = "production"
""",
    )
    config = load_config(path)
    charts = build_charts(config, get_plugin_manager())
    db, analytics = charts
    assert isinstance(db, PostgresqlChart) and isinstance(analytics, PostgresqlChart)
    assert db.chart_info.name == "db"
    assert db.chart_info.namespace_name == "data"
    assert db.chart_info.timeout == "10m"
    # config values override the preset's; the preset's others stay
    assert values(db)["primary.persistence.size"] == "5Gi"
    assert values(db)["auth.database"] == "orders"
    assert values(db)["primary.resources.limits.cpu"] == "200m"
    assert db.options == PostgresqlOptions(password_env="DB_PASSWORD", auth_secret="db-credentials")
    assert analytics.options == PostgresqlOptions()
    assert values(analytics)["architecture"] == "replication"
    assert config.repositories["bitnami"] == "https://mirror.example.com/bitnami"


def test_the_seeds_toml_example_loads_and_its_password_goes_to_the_secret(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[[deployments.postgresql]]
chart = "bitnami/postgresql"
version = "13.2.24"
namespace = "default"

[deployments.postgresql.values]
auth.database = "firestream"
auth.postgresPassword = "secure-password"
primary.persistence.size = "10Gi"
""",
    )
    (chart,) = build_charts(load_config(path), get_plugin_manager())
    assert isinstance(chart, PostgresqlChart)
    context = DeployContext(helm=None, kubectl=None, project_dir=tmp_path)  # type: ignore[arg-type]
    wanted = configured_passwords(chart, context, environ={})
    assert wanted == {
        "postgres-password": "secure-password",
        "password": None,
        "replication-password": None,
    }


def test_unknown_or_invalid_option_is_a_config_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[[deployments.postgresql]]
preset = "development"
pasword_env = "X"
""",
    )
    with pytest.raises(ConfigError) as info:
        build_charts(load_config(path), get_plugin_manager())
    assert "deployments.postgresql[0].pasword_env: unknown key; did you mean 'password_env'?" in str(
        info.value
    )


def test_environment_beats_values_and_unset_variables_are_reported(tmp_path: Path) -> None:
    chart = PostgresqlChart.development()
    chart.chart_info.values.append(ChartSetValue("auth.postgresPassword", "from-values"))
    chart = attrs.evolve(chart, options=PostgresqlOptions(password_env="PG_PW", user_password_env="U_PW"))
    context = DeployContext(helm=None, kubectl=None, project_dir=tmp_path)  # type: ignore[arg-type]
    assert configured_passwords(chart, context, environ={})["postgres-password"] == "from-values"
    got = configured_passwords(chart, context, environ={"PG_PW": "from-env", "U_PW": "u"})
    assert got == {"postgres-password": "from-env", "password": "u", "replication-password": None}
    problems = missing_environment(chart, environ={"PG_PW": ""})
    assert problems == [
        "release 'postgresql': environment variable 'PG_PW' (option password_env) is not set or empty",
        "release 'postgresql': environment variable 'U_PW' (option user_password_env) is not set or empty",
    ]


def test_a_users_own_existing_secret_value_is_respected(tmp_path: Path) -> None:
    context = DeployContext(helm=None, kubectl=None, project_dir=tmp_path)  # type: ignore[arg-type]
    chart = PostgresqlChart()
    assert user_secret(chart, context) is None
    chart.chart_info.values.append(ChartSetValue("auth.existingSecret", "postgresql-auth"))
    assert user_secret(chart, context) is None  # the name firestream itself uses
    chart.chart_info.values.append(ChartSetValue("auth.existingSecret", "theirs"))
    assert user_secret(chart, context) == "theirs"


def test_major_upgrade_takes_only_a_documented_way() -> None:
    from firestream_chart_postgresql.major import postgres_major

    from firestream_core.config.converter import structure

    _, problems = structure({"major_upgrade": "in-place"}, PostgresqlOptions, "deployments.postgresql[0]")
    assert problems == ["deployments.postgresql[0].major_upgrade: 'in-place' is not one of reinstall"]
    assert PostgresqlOptions(major_upgrade="reinstall").major_upgrade == "reinstall"
    assert [postgres_major(v) for v in ("13.2.24", "15.5.38", "16.0.0", "17.1.0")] == [16, 16, 17, 17]


def test_every_bad_option_is_named_at_once_with_its_bound_and_value(tmp_path: Path) -> None:
    """The options class's validators stop at the first refusal; the config names them all."""
    path = _write(tmp_path, """
[[deployments.postgresql]]
name = "db"
password_length = 4
major_upgrade = "in-place"
auth_secret = "Bad_Name"
""")
    with pytest.raises(ConfigError) as info:
        build_charts(load_config(path), get_plugin_manager())
    lines = set(str(info.value).splitlines())
    assert {
        "  deployments.postgresql[0].password_length: password_length = 4 is below the minimum of 16",
        "  deployments.postgresql[0].major_upgrade: 'in-place' is not one of reinstall",
        "  deployments.postgresql[0].auth_secret: auth_secret = 'Bad_Name' is not a valid Secret name "
        "(lower-case letters, digits, '-' and '.', at most 253 characters)",
    } <= lines, str(info.value)


def test_the_plan_notes_a_secret_it_cannot_read_and_reads_none_when_it_need_not(tmp_path: Path) -> None:
    """plan_auth: a Secret the plan may not read (RBAC) is a note on the release, never a failed plan;
    a create, the user's own Secret and ``validate`` (offline) read nothing."""
    from firestream_chart_postgresql.auth import plan_auth

    from firestream_core.errors import HelmError
    from firestream_core.model import InstalledRelease

    asked: list[tuple[str, str]] = []

    class Forbidden:
        def get(self, kind: str, name: str, **_: Any) -> None:
            asked.append((kind, name))
            raise HelmError('kubectl get secret failed: secrets "db-auth" is forbidden: User "ci" cannot get '
                            'resource "secrets"\nmore', release="db")

    chart = PostgresqlChart.development()
    chart.get_chart_info_mut().name = "db"
    seen = InstalledRelease("db", chart.chart_info.namespace_name, revision=1, status="deployed",
                            chart="postgresql-17.1.0")
    context = DeployContext(helm=None, kubectl=Forbidden(), project_dir=tmp_path, installed=seen)  # type: ignore[arg-type]
    plan_auth(chart, context)
    assert asked == [("secret", "db-auth")]
    assert context.notes == ["Secret 'db-auth' could not be read to compare it with the configured values "
                             "(kubectl get secret failed: secrets \"db-auth\" is forbidden: User \"ci\" cannot get "
                             "resource \"secrets\")"]
    assert context.out_of_date_reasons == [] and context.steps == []
    for other in (DeployContext(helm=None, kubectl=Forbidden(), project_dir=tmp_path),  # type: ignore[arg-type]
                  DeployContext(helm=None, kubectl=Forbidden(), project_dir=tmp_path, installed=seen,  # type: ignore[arg-type]
                                offline=True)):
        plan_auth(chart, other)
    theirs = attrs.evolve(chart, options=PostgresqlOptions(existing_secret="mine"))
    plan_auth(theirs, DeployContext(helm=None, kubectl=Forbidden(), project_dir=tmp_path, installed=seen))  # type: ignore[arg-type]
    assert asked == [("secret", "db-auth")]
def test_a_create_over_a_secret_an_earlier_install_left_names_the_password_pre_exec_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """destroy keeps 'db-auth' (for the volumes it also keeps); a create with another password
    configured has pre_exec overwrite it before helm: the plan says so (never the value), and
    says nothing when the Secret is gone or already holds it, or no password is configured."""
    import base64

    from firestream_chart_postgresql.auth import plan_auth

    held: dict[str, dict[str, str]] = {"db-auth": {"postgres-password": "left-pass-1"}}

    class Cluster:
        def get(self, kind: str, name: str, **_: Any) -> dict[str, Any] | None:
            data = held.get(name)
            return None if data is None else {"data": {k: base64.b64encode(v.encode()).decode()
                                                       for k, v in data.items()}}

    chart = attrs.evolve(PostgresqlChart.development(), options=PostgresqlOptions(password_env="TEST_PG_LEFT"))
    chart.get_chart_info_mut().name = "db"

    def steps() -> list[str]:
        context = DeployContext(helm=None, kubectl=Cluster(), project_dir=tmp_path)  # type: ignore[arg-type]
        plan_auth(chart, context)
        assert context.out_of_date_reasons == []
        return context.steps

    monkeypatch.setenv("TEST_PG_LEFT", "new-pass-2")
    assert steps() == [f"set postgres-password in Secret 'db-auth' (namespace '{chart.chart_info.namespace_name}'), "
                       "left by an earlier install, to the configured value; PostgreSQL keeps the passwords it "
                       "was initialised with until they are changed in the database too"]
    monkeypatch.setenv("TEST_PG_LEFT", "left-pass-1")
    assert steps() == []
    held.clear()
    monkeypatch.setenv("TEST_PG_LEFT", "new-pass-2")
    assert steps() == []


def test_the_plan_is_told_when_pre_exec_creates_the_namespace(tmp_path: Path) -> None:
    """prepare_auth runs ensure_namespace before the Secret when firestream keeps the Secret and
    create_namespace is on: contribute_values says so (context.creates_namespace), and only then."""
    from firestream_chart_postgresql.hooks import contribute_values

    class NoCluster:  # nothing installed: no CRD, no Secret, no release
        def get(self, *args: object, **kwargs: object) -> None:
            return None

    def said(chart: PostgresqlChart) -> bool:
        context = DeployContext(helm=None, kubectl=NoCluster(), project_dir=tmp_path,  # type: ignore[arg-type]
                                change="create")
        contribute_values(chart, context)
        return context.namespace_by_plugin

    assert said(PostgresqlChart.development())
    no_namespace = PostgresqlChart.development()
    no_namespace.chart_info.create_namespace = False
    assert not said(no_namespace)  # prepare_auth leaves the namespace alone then
    theirs = PostgresqlChart.development()
    theirs.options = attrs.evolve(theirs.options, existing_secret="their-secret")
    assert not said(theirs)  # the user's Secret: pre_exec creates nothing


def test_a_password_env_variable_is_kept_from_every_child_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variable password_env names is a secret from the moment the project loads: helm's
    list and version calls, made before the plugin reads it, must not get it either, even when
    FIRESTREAM_CHILD_ENV allow-lists it (docs/secrets.md, "What children see")."""
    from firestream_core import Project
    from firestream_core.tools.environment import child_environment

    monkeypatch.setenv("PG_ADMIN_PW", "pg-admin-hunter2")
    monkeypatch.setenv("PG_REGION", "eu-west-1")
    monkeypatch.setenv("FIRESTREAM_CHILD_ENV", "PG_*")
    path = _write(tmp_path, """
[[deployments.postgresql]]
name = "db"
namespace = "data"
password_env = "PG_ADMIN_PW"
""")
    project = Project.load(path)
    env = child_environment(secrets=project.redactor)
    assert env.get("PG_REGION") == "eu-west-1"  # allow-listed and no secret: passed on
    assert "PG_ADMIN_PW" not in env
    assert project.redactor.redact("pw pg-admin-hunter2") == "pw ***"
