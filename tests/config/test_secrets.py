"""config.secrets: ``secret_values`` references, flattened to dotted keys; problems name the key."""

from __future__ import annotations

from firestream_core.config.secrets import flatten_secret_values


def test_nested_tables_and_dotted_keys_become_one_reference_per_key() -> None:
    refs, problems = flatten_secret_values(
        {"auth": {"password": {"env": "DB_PASSWORD"}}, "tls.key": {"file": "key.pem"}}, "where")
    assert problems == []
    assert refs == {"auth.password": {"env": "DB_PASSWORD"}, "tls.key": {"file": "key.pem"}}


def test_every_malformed_reference_is_named_with_its_path() -> None:
    refs, problems = flatten_secret_values(
        {"both": {"env": "A", "file": "b"}, "empty": {"env": ""}, "plain": 3}, "deployments.x[0].secret_values")
    assert refs == {}
    assert problems == [
        "deployments.x[0].secret_values.both: give either env or file, not both",
        "deployments.x[0].secret_values.empty.env: expected a non-empty string",
        'deployments.x[0].secret_values.plain: expected {env = "VAR"} or {file = "path"}, got an integer',
    ]


def test_not_a_table() -> None:
    assert flatten_secret_values("s3cret", "where") == (
        {}, ['where: expected a table of dotted key = {env = "VAR"} or {file = "path"}'])


def test_a_secret_values_document_is_hidden_in_the_charts_repr(tmp_path, monkeypatch) -> None:
    """A program printing or logging a chart (a traceback, an assertion) never shows a secret."""
    from firestream_core import Project

    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "web"\nchart = "bitnami/nginx"\nversion = "1.0.0"\n'
        '[repositories]\nbitnami = "https://charts.example.com"\n'
        '[deployments.generic.values]\nreplicaCount = 3\n'
        '[deployments.generic.secret_values]\n"auth.token" = { env = "WEB_TOKEN" }\n')
    monkeypatch.setenv("WEB_TOKEN", "tok-4711-very-secret")
    chart = Project.load(tmp_path).chart("web")
    shown = repr(chart) + str(chart.chart_info) + repr(chart.chart_info.yaml_files_content)
    assert "tok-4711-very-secret" not in shown
    assert "yaml_content=<hidden>, secret=True" in shown
    assert "replicaCount: 3" in shown                  # ordinary values are not masked


def test_a_value_under_a_secret_looking_key_is_hidden_in_the_charts_repr(tmp_path) -> None:
    from firestream_core import Project
    from firestream_core.model import ChartSetValue

    (tmp_path / "firestream.toml").write_text(
        '[[deployments.generic]]\nname = "db"\nchart = "bitnami/postgresql"\nversion = "1.0.0"\n'
        '[repositories]\nbitnami = "https://charts.example.com"\n'
        '[deployments.generic.values]\n"auth.database" = "shopdb"\n"auth.postgresPassword" = "pg-pw-5e6f7a8b"\n')
    chart = Project.load(tmp_path).chart("db")
    chart.chart_info.values.append(ChartSetValue("auth.adminPassword", "set-pw-1c2d3e4f"))
    shown = repr(chart)
    assert "pg-pw-5e6f7a8b" not in shown and "set-pw-1c2d3e4f" not in shown
    assert "postgresPassword: ***" in shown
    assert "ChartSetValue(key='auth.adminPassword', value=<hidden>)" in shown
    assert "database: shopdb" in shown                 # ordinary values are not masked
