"""importer: splitting secret-looking values, writing the TOML block."""

from __future__ import annotations

import tomllib

import pytest

from firestream_core.ops.importer import _NotToml, split_secret_values, toml_block


def test_secret_looking_subtrees_are_split_off() -> None:
    values = {
        "replicaCount": 2,
        "db": {"host": "h", "password": "p", "tls": {"caKey": "k", "enabled": True}},
        "apiToken": "t",
        "auth": {"database": "d"},
        "list": [1, 2],
    }
    plain, secret, keys = split_secret_values(values)
    assert plain == {"replicaCount": 2, "db": {"host": "h", "tls": {"enabled": True}}, "auth": {"database": "d"},
                     "list": [1, 2]}
    assert secret == {"db": {"password": "p", "tls": {"caKey": "k"}}, "apiToken": "t"}
    assert keys == ["db.password", "db.tls.caKey", "apiToken"]  # a parent such as 'auth' makes nothing secret


def test_sensitive_values_in_lists_and_nested_keys_never_stay_in_the_file() -> None:
    """``tls.key``, a password inside a list and an env var list naming DB_PASSWORD were written
    into firestream.toml in clear: only a key that said secret by itself was split off."""
    values = {
        "tls": {"key": "-----BEGIN KEY-----", "crt": "cert"},
        "creds": [{"user": "u", "password": "in-a-list"}],
        "extraEnvVars": [{"name": "DB_PASSWORD", "value": "env-pw"}],
        "env": [{"name": "LOG_LEVEL", "value": "info"}],
        "ports": [80, 443],
    }
    plain, secret, keys = split_secret_values(values)
    assert plain == {"tls": {"crt": "cert"}, "env": [{"name": "LOG_LEVEL", "value": "info"}], "ports": [80, 443]}
    assert secret == {"tls": {"key": "-----BEGIN KEY-----"}, "creds": values["creds"],
                      "extraEnvVars": values["extraEnvVars"]}  # lists whole: helm replaces them
    assert keys == ["tls.key", "creds", "extraEnvVars"]


def test_block_round_trips_through_toml() -> None:
    values = {"a": 1, "b": "x \"quoted\" \\ \n newline", "c": [1, "two", {"d": False}],
              "weird key.with dots": {"e": 1.5, "empty": {}}, "f": {"g": {"h": "i"}}}
    block = toml_block("generic", {"name": "r", "namespace": "ns", "chart": "repo/c",
                                   "version": "1.0.0", "values_files": ["values/r.secret.yaml"]},
                       values, ["a comment"])
    doc = tomllib.loads("[project]\nname = 'p'\n" + block)
    (element,) = doc["deployments"]["generic"]
    assert element["values"] == values
    assert element["values_files"] == ["values/r.secret.yaml"]
    assert block.startswith("\n# a comment\n[[deployments.generic]]\n")


def test_null_cannot_be_toml() -> None:
    with pytest.raises(_NotToml):
        toml_block("generic", {"name": "r"}, {"a": None}, [])
