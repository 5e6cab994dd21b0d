"""firestream.toml: the seed's example, every section, exact error messages, building charts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from firestream_core.config.build import build_charts
from firestream_core.config.load import load_config
from firestream_core.errors import ConfigError
from firestream_core.model import (
    BreakingVersion,
    ChartSetValue,
    ChartValuesGenerated,
    HelmAction,
    HelmChartNamespace,
    ReleaseSettings,
)
from firestream_core.plugin.generic import GenericChart
from firestream_core.plugin.manager import get_plugin_manager
from tests.conftest import chart_plugin_source

SEED = """\
[[deployments.postgresql]]
chart = "bitnami/postgresql"
version = "13.2.24"
namespace = "default"

[deployments.postgresql.values]
auth.database = "firestream"
auth.postgresPassword = "secure-password"
primary.persistence.size = "10Gi"
"""


def problems_of(path: Path, manager=None) -> list[str]:
    if manager is not None:  # the three passes every command runs (config/project_check.py)
        from firestream_core.config.project_check import check_project

        checked = check_project(path, manager)
        assert checked.problems, "expected problems"
        return checked.problems
    with pytest.raises(ConfigError) as exc:
        config = load_config(path, manager)
        if manager is not None:
            build_charts(config, manager)
    return exc.value.problems


# -- the seed's example ------------------------------------------------------------------


def test_seed_example_loads_exactly_as_written(write_config, manager) -> None:
    path = write_config(SEED)
    config = load_config(path)
    (release,) = config.releases
    assert (release.chart_type, release.index, release.name) == ("postgresql", 0, None)
    assert release.chart == "bitnami/postgresql"
    assert release.version == "13.2.24"
    assert release.values == {
        "auth": {"database": "firestream", "postgresPassword": "secure-password"},
        "primary": {"persistence": {"size": "10Gi"}},
    }
    assert config.project_dir == path.parent.resolve()

    (chart,) = build_charts(config, manager)
    # no postgresql plugin installed here: a key with a chart uses the generic type
    assert isinstance(chart, GenericChart)
    info = chart.chart_info
    assert info.name == "postgresql"
    assert info.chart_ref == "bitnami/postgresql"
    assert info.namespace is HelmChartNamespace.DEFAULT
    assert info.action is HelmAction.DEPLOY
    assert info.timeout == "300s" and info.atomic and info.wait and info.create_namespace
    (generated,) = info.yaml_files_content
    assert generated.filename == "firestream.toml:deployments.postgresql[0].values"
    assert yaml.safe_load(generated.yaml_content) == release.values
    assert info.values == []


def test_seed_example_with_an_installed_postgresql_plugin_uses_it(write_config, fake_dists) -> None:
    fake_dists.plugin("firestream-chart-postgresql", "postgresql",
                      chart_plugin_source("postgresql", "PostgresqlChart", "bitnami/postgresql", "db"))
    manager = get_plugin_manager(disabled=["defaults"])
    config = load_config(write_config(SEED), manager)
    (chart,) = build_charts(config, manager)
    assert type(chart).__name__ == "PostgresqlChart"
    assert chart.chart_type == "postgresql"
    info = chart.chart_info
    # the plugin's defaults, overridden by the release's keys
    assert info.namespace is HelmChartNamespace.DEFAULT  # given in the file
    assert info.timeout == "600s"  # the plugin's default, not given in the file
    assert info.version == "13.2.24"
    assert chart.options.delete_crds is True


# -- every section ---------------------------------------------------------------------------


FULL = """\
[project]
name = "shop"

[repositories]
bitnami = "https://charts.bitnami.com/bitnami"
ghcr = "oci://ghcr.io/example/charts"

[defaults]
timeout = "10m"
atomic = false
retries = 2
values = { commonLabels = { team = "core" } }
set = [{ key = "global.storageClass", value = "fast" }]

[state]
backend = "kubernetes"
namespace = "firestream-system"
lease_duration = "2m"

[settings]
concurrency = 2
fail_fast = true
on_validation_failure = "warn"

[[deployments.postgresql]]
chart = "bitnami/postgresql"
version = "13.2.24"
namespace = "data"
values_files = ["values/pg.yaml"]
set = [{ key = "auth.database", value = "shop" }, { key = "primary.replicas", value = 2 }]
last_breaking_version_requiring_restart = { version = "13.0.0", requires_uninstall = true, pre_upgrade_commands = ["kubectl delete crd old.example.com", ["kubectl", "delete", "pvc", "a b"]] }
run_tests = true

[[deployments.postgresql]]
name = "analytics-db"
chart = "bitnami/postgresql"
namespace = "custom"
custom_namespace = "analytics"
action = "Destroy"
on_validation_failure = "fail"

[deployments.web]
chart = "oci://ghcr.io/example/charts/web"
depends_on = ["postgresql"]
yaml_files_content = [{ filename = "extra.yaml", yaml_content = "a: 1\\n" }]
hooks_disabled = true
skip_crds = true
history_max = 5

[deployments.local]
path = "charts/local"
"""


def test_every_section_and_key(write_config, manager) -> None:
    config = load_config(write_config(FULL))
    assert config.name == "shop"
    assert config.repositories == {
        "bitnami": "https://charts.bitnami.com/bitnami",
        "ghcr": "oci://ghcr.io/example/charts",
    }
    assert (config.state.backend, config.state.namespace, config.state.lease_duration) == (
        "kubernetes",
        "firestream-system",
        "2m",
    )
    assert (config.settings.concurrency, config.settings.fail_fast) == (2, True)
    assert [r.where for r in config.releases] == [
        "deployments.postgresql[0]",
        "deployments.postgresql[1]",
        "deployments.web",
        "deployments.local",
    ]

    pg, analytics, web, local = build_charts(config, manager)
    d = config.project_dir

    assert pg.chart_info.name == "postgresql"
    assert pg.chart_info.namespace_name == "data"
    assert pg.chart_info.timeout == "10m"  # from [defaults]
    assert pg.chart_info.atomic is False  # from [defaults]
    assert pg.chart_info.values_files == [d / "values/pg.yaml"]
    assert pg.chart_info.values == [
        ChartSetValue("global.storageClass", "fast"),  # [defaults] first
        ChartSetValue("auth.database", "shop"),
        ChartSetValue("primary.replicas", "2"),
    ]
    assert pg.chart_info.last_breaking_version_requiring_restart == BreakingVersion(
        "13.0.0",
        True,
        [["kubectl", "delete", "crd", "old.example.com"], ["kubectl", "delete", "pvc", "a b"]],
    )
    assert [g.filename for g in pg.chart_info.yaml_files_content] == [
        "firestream.toml:defaults.values"
    ]
    assert pg.settings == ReleaseSettings(
        retries=2, retry_delay="10s", run_tests=True, on_validation_failure="warn"
    )

    assert analytics.chart_info.name == "analytics-db"
    assert analytics.chart_info.namespace_name == "analytics"
    assert analytics.chart_info.action is HelmAction.DESTROY
    assert analytics.settings.on_validation_failure == "fail"

    assert web.chart_info.depends_on == ["postgresql"]
    assert web.chart_info.chart_ref == "oci://ghcr.io/example/charts/web"
    assert web.chart_info.yaml_files_content[-1] == ChartValuesGenerated("extra.yaml", "a: 1\n")
    assert (web.chart_info.hooks_disabled, web.chart_info.skip_crds) == (True, True)
    assert web.chart_info.history_max == 5

    assert local.chart_info.path == d / "charts/local"
    assert local.chart_info.chart_ref == str(d / "charts/local")


def test_empty_file_is_a_project_without_releases(write_config) -> None:
    config = load_config(write_config(""))
    assert config.releases == ()
    assert config.state.backend == "local"
    assert config.settings.on_validation_failure == "fail"


def test_single_table_and_array_forms(write_config, manager) -> None:
    config = load_config(
        write_config(
            """
            [deployments.redis]
            chart = "bitnami/redis"

            [[deployments.pg]]
            name = "pg-a"
            chart = "bitnami/postgresql"
            [[deployments.pg]]
            name = "pg-b"
            chart = "bitnami/postgresql"
            """
        )
    )
    names = [c.chart_info.name for c in build_charts(config, manager)]
    assert names == ["redis", "pg-a", "pg-b"]


# -- exact error messages --------------------------------------------------------------------


def test_invalid_duration_message(write_config) -> None:
    path = write_config(SEED.replace('namespace = "default"', 'namespace = "default"\ntimeout = "soon"'))
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.problems == [
        "deployments.postgresql[0].timeout: invalid duration 'soon': expected e.g. '300s', '5m' or '1h'"
    ]
    assert str(exc.value) == (
        f"{path} is invalid:\n"
        "  deployments.postgresql[0].timeout: invalid duration 'soon': expected e.g. '300s', '5m' or '1h'"
    )


def test_every_problem_is_reported_at_once_in_file_order(write_config) -> None:
    path = write_config(
        """
        [projct]
        [state]
        backend = "s3"
        [settings]
        concurrency = -1
        fail_fast = "yes"
        [repositories]
        bitnami = "ftp://charts.example.com"
        private = "https://user:pw@charts.example.com"
        [defaults]
        name = "x"
        timeout = 5
        wiat = true
        [[deployments.postgresql]]
        chart = "bitnami/postgresql"
        version = "banana"
        timeout = "soon"
        atomic = "true"
        set = [{key = "a", value = 1}, {key = "b"}, {key = 3, value = [1]}]
        depends_on = "db"
        last_breaking_version_requiring_restart = {version = "2", pre_upgrade_commands = ["kubectl delete crd x", 5]}
        [deployments.x]
        name = 5
        action = "deploy-now"
        values = "a=b"
        """
    )
    assert problems_of(path) == [
        "projct: unknown key; did you mean 'project'?",
        "state.backend: invalid value 's3': expected 'local' or 'kubernetes'",
        "settings.concurrency: must not be negative",
        "settings.fail_fast: expected a boolean (true or false), got a string",
        "repositories.bitnami: scheme 'ftp' is not supported: expected an https://, http:// or oci:// URL",
        "repositories.private: credentials must not be written in a URL: it is shown on helm's "
        "command line and in logs; give them in [registries.\"<host>\"] (username, password_env or "
        "password_file: they reach helm on stdin) or through helm's own credentials (docs/secrets.md)",
        "defaults.name: cannot be set in [defaults], only per release",
        "defaults.wiat: unknown key; did you mean 'wait'?",
        "defaults.timeout: expected a duration such as '300s', got an integer",
        "deployments.postgresql[0].version: invalid chart version 'banana': "
        "expected a semantic version or a constraint",
        "deployments.postgresql[0].timeout: invalid duration 'soon': expected e.g. '300s', '5m' or '1h'",
        "deployments.postgresql[0].atomic: expected a boolean (true or false), got a string",
        "deployments.postgresql[0].set[1].value: required key missing",
        "deployments.postgresql[0].set[2].key: expected a string, got an integer",
        "deployments.postgresql[0].set[2].value: expected a string, number or boolean, got an array",
        "deployments.postgresql[0].depends_on: expected an array of strings, got a string",
        "deployments.postgresql[0].last_breaking_version_requiring_restart.version: "
        "invalid semantic version '2': expected e.g. '2.0.0'",
        "deployments.postgresql[0].last_breaking_version_requiring_restart.pre_upgrade_commands[1]: "
        "expected a command string or an array of strings, got an integer",
        "deployments.x.name: expected a string, got an integer",
        "deployments.x.action: invalid value 'deploy-now': expected 'deploy', 'destroy' or 'skip'",
        "deployments.x.values: expected a table, got a string",
    ]


def test_error_messages_never_contain_values_or_secrets(write_config, monkeypatch) -> None:
    monkeypatch.setenv("PG_PASSWORD", "hunter2-very-secret")
    path = write_config(
        """
        [[deployments.db]]
        chart = "bitnami/postgresql"
        set = [{key = "auth.password", value = ["hunter2-in-a-list"]}]
        values = { auth = { password = "in-values-secret" } }
        secret_values = { "auth.password" = { env = "PG_PASSWORD" } }
        timeout = 3
        """
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    text = str(exc.value)
    for secret in ("hunter2", "in-values-secret"):
        assert secret not in text
    assert exc.value.problems == [
        "deployments.db[0].set[0].value: expected a string, number or boolean, got an array",
        "deployments.db[0].timeout: expected a duration such as '300s', got an integer",
    ]


def test_toml_syntax_error_names_file_line_and_column(write_config) -> None:
    path = write_config('[[deployments.db]]\nchart = "x"\nversion = 1.2.3\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}:3:14: invalid TOML at line 3, column 14: Expected newline or end of document after a statement"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "firestream.toml")
    assert str(exc.value) == f"configuration file not found: {tmp_path / 'firestream.toml'}"
    assert exc.value.hint == "create firestream.toml or pass -f PATH"


def test_unknown_chart_type_without_chart_names_installed_types(write_config, manager) -> None:
    path = write_config('[deployments.mystery]\nversion = "1.0.0"\n')
    assert problems_of(path, manager) == [
        "deployments.mystery: unknown chart type 'mystery': no installed plugin provides it and "
        "no 'chart' or 'path' is given (installed chart types: generic)"
    ]


def test_unknown_keys_of_a_generic_release_are_found_with_a_manager(write_config, manager) -> None:
    path = write_config('[[deployments.db]]\nchart = "bitnami/postgresql"\ntimout = "5m"\nfoo = 1\n')
    config = load_config(path)  # without a manager the extra keys wait for build_charts
    assert config.releases[0].options == {"timout": "5m", "foo": 1}
    expected = [
        "deployments.db[0].timout: unknown key; did you mean 'timeout'?",
        "deployments.db[0].foo: unknown key",
    ]
    assert problems_of(path, manager) == expected
    with pytest.raises(ConfigError) as exc:
        build_charts(config, manager)
    assert exc.value.problems == expected


def test_release_fields_are_checked_with_their_path(write_config, manager) -> None:
    path = write_config(
        """
        [repositories]  # every chart's repository has a URL (config/project_check.py)
        bitnami = "https://charts.example.com/bitnami"
        x = "https://charts.example.com/x"
        [[deployments.db]]
        name = "Bad_Name"
        chart = "bitnami/postgresql"
        namespace = "custom"
        [deployments.web]
        path = "charts/web"
        namespace = "-web-"
        """
    )
    chart_dir = path.parent / "charts" / "web"  # a real chart folder: the files pass checks it
    chart_dir.mkdir(parents=True)
    (chart_dir / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    assert problems_of(path, manager) == [
        "deployments.db[0].name: release name 'Bad_Name' is not a DNS-1123 label "
        "(lower-case letters, digits and '-', starting and ending with a letter or digit)",
        "deployments.web.namespace: namespace '-web-' is not a DNS-1123 label "
        "(lower-case letters, digits and '-', starting and ending with a letter or digit)",
        # the build pass follows the structure pass (config/project_check.py)
        "deployments.db[0].namespace: release 'Bad_Name': namespace is custom but "
        "custom_namespace is not set",
    ]


def test_a_charts_repository_needs_a_url_in_the_project(write_config, manager) -> None:
    """``chart = "x/name"`` names its repository as ``repository = "x"`` does: firestream adds the
    project's repositories to helm repositories of its own and never reads the user's, so one the
    project gives no URL is refused when the file is checked, not by helm mid-apply."""
    path = write_config(
        """
        [repositories]
        known = "https://charts.example.com/known"
        [[deployments.generic]]
        name = "a"
        chart = "mine/app"
        [[deployments.generic]]
        name = "b"
        chart = "app"
        repository = "theirs"
        [[deployments.generic]]
        name = "c"
        chart = "known/app"
        [[deployments.generic]]
        name = "d"
        chart = "oci://registry.example.com/charts/app"
        """
    )
    assert problems_of(path, manager) == [
        "deployments.generic[0].chart: the repository 'mine' of chart 'mine/app' has no known URL; "
        'add it to [repositories] (mine = "https://...")',
        "deployments.generic[1].repository: repository 'theirs' has no known URL; add it to "
        '[repositories] (theirs = "https://...")',
    ]


def test_duplicate_releases(write_config, manager) -> None:
    path = write_config(
        """
        [repositories]  # every chart's repository has a URL (config/project_check.py)
        bitnami = "https://charts.example.com/bitnami"
        x = "https://charts.example.com/x"
        [[deployments.db]]
        chart = "bitnami/postgresql"
        [[deployments.db]]
        chart = "bitnami/postgresql"
        [[deployments.db]]
        chart = "bitnami/postgresql"
        namespace = "other"
        """
    )
    assert problems_of(path, manager) == [
        "deployments.db[1]: release 'db' in namespace 'default' is already defined by "
        "deployments.db[0]",
        "deployments.db[2]: release name 'db' is already used by deployments.db[0]; release names "
        "must be unique in a project so that depends_on is unambiguous (set 'name')",
    ]


def test_unknown_dependency_and_cycle_are_reported_with_paths(write_config, manager) -> None:
    path = write_config(
        """
        [repositories]  # every chart's repository has a URL (config/project_check.py)
        bitnami = "https://charts.example.com/bitnami"
        x = "https://charts.example.com/x"
        [deployments.app]
        chart = "x/app"
        depends_on = ["db", "cache"]
        [deployments.cache]
        chart = "x/cache"
        """
    )
    assert problems_of(path, manager) == [
        f"deployments.app.depends_on: release 'app' depends on 'db', which is not defined ({path})"
    ]
    path = write_config(
        """
        [repositories]  # every chart's repository has a URL (config/project_check.py)
        bitnami = "https://charts.example.com/bitnami"
        x = "https://charts.example.com/x"
        [deployments.app]
        chart = "x/app"
        depends_on = ["cache"]
        [deployments.cache]
        chart = "x/cache"
        depends_on = ["app"]
        """
    )
    assert problems_of(path, manager) == [f"dependency cycle in {path}: app -> cache -> app"]


def test_a_destroyed_release_a_deployed_one_depends_on_is_a_config_problem(write_config, manager) -> None:
    # apply would uninstall 'api', then upgrade 'web' without it: refused before any cluster call
    path = write_config(
        """
        [repositories]  # every chart's repository has a URL (config/project_check.py)
        bitnami = "https://charts.example.com/bitnami"
        x = "https://charts.example.com/x"
        [[deployments.generic]]
        name = "api"
        chart = "x/api"
        action = "destroy"
        [[deployments.generic]]
        name = "web"
        chart = "x/web"
        depends_on = ["api"]
        [[deployments.generic]]
        name = "admin"
        chart = "x/admin"
        depends_on = ["api"]
        action = "Deploy"
        """
    )
    assert problems_of(path, manager) == [
        "deployments.generic[0].action: release 'api' has action = \"destroy\", but releases "
        "'web' (deployments.generic[1].depends_on), 'admin' (deployments.generic[2].depends_on) "
        "depend on it and have action = \"deploy\": apply would uninstall 'api' and still deploy "
        "them; give them action = \"destroy\" or \"skip\" too, or take 'api' out of their depends_on"
    ]


def test_a_destroyed_release_whose_dependents_are_destroyed_or_skipped_is_valid(write_config,
                                                                                 manager) -> None:
    from firestream_core.config.project_check import check_project

    path = write_config(
        """
        [repositories]  # every chart's repository has a URL (config/project_check.py)
        bitnami = "https://charts.example.com/bitnami"
        x = "https://charts.example.com/x"
        [[deployments.generic]]
        name = "api"
        chart = "x/api"
        action = "destroy"
        [[deployments.generic]]
        name = "web"
        chart = "x/web"
        depends_on = ["api"]
        action = "destroy"
        [[deployments.generic]]
        name = "admin"
        chart = "x/admin"
        depends_on = ["api"]
        action = "skip"
        [[deployments.generic]]
        name = "docs"
        chart = "x/docs"
        depends_on = ["admin"]
        """
    )
    assert check_project(path, manager).problems == []


# -- secrets ---------------------------------------------------------------------------------------


def test_secret_values_from_env_and_file(write_config, manager, monkeypatch) -> None:
    monkeypatch.setenv("PG_PASSWORD", "s3cret-from-env")
    path = write_config(
        """
        [defaults.secret_values]
        "global.token" = { env = "PG_PASSWORD" }

        [[deployments.db]]
        chart = "bitnami/postgresql"
        values = { auth = { database = "shop" } }

        [deployments.db.secret_values]
        auth.password = { file = "secrets/pg.txt" }
        "auth.replicationPassword" = { env = "PG_PASSWORD" }
        """
    )
    (path.parent / "secrets").mkdir()
    (path.parent / "secrets/pg.txt").write_text("from-a-file\n")
    config = load_config(path, manager)
    assert config.releases[0].secret_values is not None
    assert set(config.releases[0].secret_values) == {"auth.password", "auth.replicationPassword"}
    charts = build_charts(config, manager)
    files = charts[0].chart_info.yaml_files_content
    assert [f.filename for f in files] == [
        "firestream.toml:defaults.secret_values",
        "firestream.toml:deployments.db[0].values",
        "firestream.toml:deployments.db[0].secret_values",
    ]
    assert yaml.safe_load(files[0].yaml_content) == {"global": {"token": "s3cret-from-env"}}
    assert yaml.safe_load(files[2].yaml_content) == {
        "auth": {"password": "from-a-file", "replicationPassword": "s3cret-from-env"}
    }
    assert sorted(set(charts.secrets)) == ["from-a-file", "s3cret-from-env"]
    # the resolved values are never on the frozen config nor in set pairs
    assert "s3cret" not in repr(config)
    assert charts[0].chart_info.values == []


def test_missing_secret_sources_name_key_and_variable_never_a_value(write_config, manager, monkeypatch) -> None:
    monkeypatch.delenv("NOPE_VAR", raising=False)
    path = write_config(
        """
        [[deployments.db]]
        chart = "bitnami/postgresql"
        secret_values = { auth = { password = { env = "NOPE_VAR" }, token = { file = "missing.txt" } }, both = { env = "A", file = "b" }, bad = 3 }
        """
    )
    assert problems_of(path, manager) == [
        "deployments.db[0].secret_values.both: give either env or file, not both",
        'deployments.db[0].secret_values.bad: expected {env = "VAR"} or {file = "path"}, got an integer',
        # the build pass still runs: the missing sources are more problems, not a stop
        "deployments.db[0].secret_values.auth.password: environment variable 'NOPE_VAR' is not set",
        "deployments.db[0].secret_values.auth.token: secret file 'missing.txt' not found",
    ]
    path = write_config(
        """
        [[deployments.db]]
        chart = "bitnami/postgresql"
        secret_values = { auth = { password = { env = "NOPE_VAR" }, token = { file = "missing.txt" } } }
        """
    )
    assert problems_of(path, manager) == [
        "deployments.db[0].secret_values.auth.password: environment variable 'NOPE_VAR' is not set",
        "deployments.db[0].secret_values.auth.token: secret file 'missing.txt' not found",
    ]


# -- chart types, presets and options ------------------------------------------------------------------


@pytest.fixture
def demo_manager(fake_dists):
    fake_dists.plugin("firestream-chart-demo", "demo", chart_plugin_source("demo", "DemoChart"))
    return get_plugin_manager(disabled=["defaults"])


def test_a_preset_calling_sys_exit_is_a_config_problem_naming_the_plugin(write_config, fake_dists) -> None:
    """``sys.exit(0)`` in a chart type's preset made ``firestream plan`` and ``validate`` exit 0, silent."""
    source = chart_plugin_source("demo", "DemoChart").replace(
        "        chart = cls.default()\n", "        raise SystemExit(0)\n")
    fake_dists.plugin("firestream-chart-demo", "demo", source)
    manager = get_plugin_manager(disabled=["defaults"])
    path = write_config('[[deployments.demo]]\npreset = "development"\n')
    with pytest.raises(ConfigError) as refused:
        build_charts(load_config(path, manager), manager)
    assert "deployments.demo[0]: plugin 'demo' (firestream-chart-demo 1.0.0): preset 'development' of chart " \
           "type 'demo' failed: SystemExit: 0" in str(refused.value)


def test_a_preset_building_a_chart_of_another_chart_type_is_a_config_problem_naming_the_plugin(
    write_config, fake_dists
) -> None:
    """A preset returning a plain ``HelmChart`` (chart_type ``generic``): with a ``path`` the release
    validated and deployed as a generic chart, none of the plugin's hooks run; only
    ``plugins --check`` named it."""
    source = chart_plugin_source("demo", "DemoChart").replace(
        "        chart = cls.default()\n", "        chart = HelmChart(ChartInfo(name='demo', chart='x/demo'))\n")
    assert source != chart_plugin_source("demo", "DemoChart")
    fake_dists.plugin("firestream-chart-demo", "demo", source)
    manager = get_plugin_manager(disabled=["defaults"])
    (write_config('').parent / "charts" / "demo").mkdir(parents=True)
    path = write_config('[[deployments.demo]]\npreset = "development"\npath = "charts/demo"\n')
    with pytest.raises(ConfigError) as refused:
        build_charts(load_config(path, manager), manager)
    assert refused.value.problems == [
        "deployments.demo[0]: plugin 'demo' (firestream-chart-demo 1.0.0): preset 'development' of chart type "
        "'demo' builds a HelmChart whose chart_type is 'generic', so the plugin's hooks would never be called "
        "for its releases: build a DemoChart (the class registered as 'demo')"]
    build_charts(load_config(write_config('[[deployments.demo]]\npath = "charts/demo"\n'), manager), manager)


def test_a_chart_class_whose_init_sets_only_chart_info_is_a_problem_naming_the_plugin(
    write_config, fake_dists
) -> None:
    """The seed's ``struct { chart_info }`` as a plain ``__init__``: validate, plan and
    plugins --check said only 'unexpected AttributeError: ... no attribute 'options''."""
    from firestream_core.config.plugin_check import check_plugins

    fake_dists.plugin("firestream-chart-bare", "bare", """
        from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl

        class BareChart(HelmChart):
            def __init__(self, chart_info=None):
                self.chart_info = chart_info or ChartInfo(name="bare", chart="x/bare")

        @hookimpl
        def register_chart_types(register):
            register(ChartType(name="bare", chart_class=BareChart))
        """)
    manager = get_plugin_manager(disabled=["defaults"])
    path = write_config('[[deployments.bare]]\n')
    unset = ("options and settings not set: its __init__ must call super().__init__(chart_info) "
             "(or declare the class with @attrs.define)")
    with pytest.raises(ConfigError) as refused:
        build_charts(load_config(path, manager), manager)
    assert refused.value.problems == [
        f"deployments.bare[0]: plugin 'bare' (firestream-chart-bare 1.0.0): defaults of chart type 'bare' "
        f"returned a BareChart: {unset}"]
    assert check_plugins(manager) == [
        f"chart type 'bare' of plugin 'bare' (firestream-chart-bare 1.0.0): defaults returned a BareChart: {unset}"]


def test_preset_then_defaults_then_release_keys(write_config, demo_manager) -> None:
    path = write_config(
        """
        [defaults]
        timeout = "15m"
        wait_for_jobs = false

        [[deployments.demo]]
        preset = "development"
        operator_replicas = 3

        [[deployments.demo]]
        name = "demo-two"
        timeout = "1h"
        delete_crds = false
        """
    )
    one, two = build_charts(load_config(path, demo_manager), demo_manager)
    assert one.chart_info.name == "demo"
    assert one.chart_info.timeout == "15m"  # preset said 120s; [defaults] wins over it
    assert one.chart_info.wait_for_jobs is False
    assert one.chart_info.namespace_name == "demo"  # the plugin's default namespace
    assert (one.options.delete_crds, one.options.operator_replicas) == (False, 3)  # preset + key
    assert two.chart_info.name == "demo-two"
    assert two.chart_info.timeout == "1h"
    assert (two.options.delete_crds, two.options.operator_replicas) == (False, 1)


def test_unknown_preset_lists_known_ones(write_config, demo_manager) -> None:
    path = write_config('[[deployments.demo]]\npreset = "production"\n')
    assert problems_of(path, demo_manager) == [
        "deployments.demo[0].preset: unknown preset 'production' for chart type 'demo' "
        "(known presets: 'development')"
    ]


def test_option_keys_are_typed_and_unknown_ones_are_errors(write_config, demo_manager) -> None:
    path = write_config(
        '[[deployments.demo]]\ndelete_crd = true\noperator_replicas = "three"\n'
    )
    assert problems_of(path, demo_manager) == [
        "deployments.demo[0].delete_crd: unknown key; did you mean 'delete_crds'?",
        "deployments.demo[0].operator_replicas: expected an integer, got a string",
    ]


def test_broken_plugin_chart_type_is_reported_on_its_release(write_config, fake_dists) -> None:
    fake_dists.plugin("firestream-chart-kafka", "kafka", "import not_a_module_anywhere\n", "0.3.0")
    manager = get_plugin_manager(disabled=["defaults"])
    path = write_config('[deployments.kafka]\nnamespace = "kafka"\n')
    assert problems_of(path, manager) == [
        "deployments.kafka: plugin 'kafka' (firestream-chart-kafka 0.3.0) is broken: import failed: "
        "ModuleNotFoundError: No module named 'not_a_module_anywhere'"
    ]


def test_a_project_using_a_broken_plugin_raises_a_plugin_error(write_config, fake_dists) -> None:
    """docs/library.md: ``PluginError`` when a plugin the project uses is broken; still a
    ``ConfigError`` listing every problem of the file (an unknown key here) at once."""
    from firestream_core import PluginError, Project

    fake_dists.plugin("firestream-chart-kafka", "kafka", "import not_a_module_anywhere\n", "0.3.0")
    manager = get_plugin_manager(disabled=["defaults"])
    path = write_config('[deployments.kafka]\nnamespace = "kafka"\n[settings]\nconcurency = 2\n')
    with pytest.raises(PluginError) as exc:
        Project.load(path, manager=manager)
    assert isinstance(exc.value, ConfigError)
    assert len(exc.value.problems) == 2 and "is broken" in exc.value.problems[-1]
    fine = write_config('[settings]\nconcurency = 2\n')
    with pytest.raises(ConfigError) as other:  # a file's own mistake is not a plugin's
        Project.load(fine, manager=manager)
    assert not isinstance(other.value, PluginError)


def test_built_charts_are_independent_copies(write_config, demo_manager) -> None:
    path = write_config('[[deployments.demo]]\n[[deployments.demo]]\nname = "demo-b"\n')
    a, b = build_charts(load_config(path, demo_manager), demo_manager)
    a.chart_info.values.append(ChartSetValue("x", "1"))
    assert b.chart_info.values == []


def test_secrets_can_be_left_unresolved_for_shape_only_commands(write_config, manager, monkeypatch) -> None:
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    path = write_config(
        '[[deployments.db]]\nchart = "x/db"\nsecret_values = { "a.b" = { env = "NOT_SET_HERE" } }\n'
    )
    config = load_config(path, manager)
    with pytest.raises(ConfigError):
        build_charts(config, manager)
    (chart,) = build_charts(config, manager, resolve_secrets=False)
    assert chart.chart_info.yaml_files_content == []


def test_a_plugin_whose_options_are_not_attrs_is_named(write_config, fake_dists) -> None:
    fake_dists.plugin(
        "firestream-chart-odd",
        "odd",
        """
        from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl

        class Options:
            pass

        class Odd(HelmChart):
            pass

        @hookimpl
        def register_chart_types(register):
            register(ChartType(name="odd", chart_class=Odd, options=Options))
        """,
    )
    manager = get_plugin_manager(disabled=["defaults"])
    path = write_config('[deployments.odd]\nchart = "x/odd"\nflag = true\n')
    expected = [
        "deployments.odd: plugin 'odd' (firestream-chart-odd 1.0.0): options of chart type 'odd' "
        "must be an attrs class"
    ]
    assert problems_of(path, manager) == expected
    with pytest.raises(ConfigError) as exc:
        build_charts(load_config(path), manager)
    assert exc.value.problems == expected


@pytest.mark.parametrize("chart", ["oci://user:hunter2pw@registry.example/x/web",
                                   "https://user:hunter2pw@charts.example/web-1.0.0.tgz"])
def test_credentials_in_a_chart_reference_are_refused_without_showing_them(write_config, chart):
    """issue 12: a chart URL with user:password never reaches helm's argv or a log."""
    path = write_config(f"""
        [[deployments.generic]]
        name = "web"
        chart = "{chart}"
        """)
    (problem,) = problems_of(path)
    assert problem.startswith("deployments.generic[0].chart: credentials must not be written in a URL")
    assert "[registries." in problem and "hunter2pw" not in problem


def test_sensitive_keys_per_release_and_in_defaults(write_config, manager):
    path = write_config("""
        [defaults]
        sensitive_keys = ["dsn"]

        [[deployments.generic]]
        name = "api"
        chart = "repo/api"
        sensitive_keys = ["config.sentry.url"]

        [[deployments.generic]]
        name = "web"
        chart = "repo/web"
        """)
    charts = build_charts(load_config(path, manager), manager)
    assert [c.settings.sensitive_keys for c in charts] == [("dsn", "config.sentry.url"), ("dsn",)]
    bad = write_config("""
        [[deployments.generic]]
        name = "api"
        chart = "repo/api"
        sensitive_keys = "dsn"
        """)
    (problem,) = problems_of(bad)
    assert problem.startswith("deployments.generic[0].sensitive_keys")


def test_a_local_chart_under_home_is_a_path_to_every_check(write_config, manager, monkeypatch) -> None:
    """``chart = "~/charts/web"`` is a local chart (the files pass checks it as one), but the
    repository check had its own copy of the local-chart rule without ``~``: with a
    ``repository`` given (a chart type's default, say) it asked for that repository's URL,
    which ``chart = "./charts/web"`` never did."""
    from firestream_core.config.project_check import check_project

    path = write_config(
        """
        [[deployments.generic]]
        name = "a"
        chart = "./charts/web"
        repository = "nope"
        [[deployments.generic]]
        name = "b"
        chart = "~/charts/web"
        repository = "nope"
        """
    )
    chart = path.parent / "charts" / "web"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    monkeypatch.setenv("HOME", str(path.parent))
    assert check_project(path, manager).problems == []


def test_a_plugin_chart_info_list_of_the_wrong_type_is_named_not_read_as_letters(write_config, fake_dists) -> None:
    """A chart type's defaults with ``depends_on="db"`` passed ``plugins --check`` and validate
    said ``release 'api' depends on 'd', which is not defined`` (and 'b'): the string was read
    as a list of its letters."""
    from firestream_core.config.plugin_check import check_plugins
    from firestream_core.plugin.manager import get_plugin_manager

    fake_dists.plugin(
        "firestream-chart-api",
        "api",
        """
        from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl

        class Api(HelmChart):
            @classmethod
            def default(cls):
                return cls(ChartInfo(name="api", chart="x/api", depends_on="db", values_files=[5]))

        @hookimpl
        def register_chart_types(register):
            register(ChartType(name="api", chart_class=Api))
        """,
    )
    manager = get_plugin_manager(disabled=["defaults"])
    where = "chart type 'api' of plugin 'api' (firestream-chart-api 1.0.0): defaults"
    assert check_plugins(manager) == [
        f"{where}: depends_on: expected a list, each item a release name (str), got str",
        f"{where}: values_files[0]: expected a path, got int",
    ]
    path = write_config('[repositories]\nx = "https://charts.example.com/x"\n'
                        '[[deployments.generic]]\nname = "db"\nchart = "x/db"\n[[deployments.api]]\n')
    assert problems_of(path, manager) == [
        "deployments.api[0].depends_on: expected a list, each item a release name (str), got str",
        "deployments.api[0].values_files[0]: expected a path, got int",
    ]
