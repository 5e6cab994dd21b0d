"""Secrets hidden, everything else readable: which values keys ``plan`` and ``diff`` show.

A release of a local chart is applied with the real helm against the emulator,
its values then change, and ``firestream plan`` must show each ordinary value
(``old -> new``) and hide each secret (``(sensitive)``), whatever the key's words
around it (docs/secrets.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import clean_env, firestream, write_config

pytestmark = pytest.mark.helm

CHART_YAML = "apiVersion: v2\nname: keys\nversion: 0.1.0\n"
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-keys
data:
  message: {{ .Values.message | quote }}
"""


def _project(folder: Path, namespace: str, values: str) -> None:
    chart = folder / "charts" / "keys"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(CHART_YAML)
    (chart / "templates" / "configmap.yaml").write_text(CONFIGMAP)
    write_config(folder, f"""
        [[deployments.generic]]
        name = "keys"
        path = "charts/keys"
        namespace = "{namespace}"

        [deployments.generic.values]
        message = "hello"
        {values}
        """)


def _changes(folder: Path, namespace: str, kube, helm_bin, before: dict[str, object],
             after: dict[str, object]) -> dict[str, tuple[str, str]]:
    """Apply ``before`` (dotted path -> value), change to ``after``; the plan's value changes."""
    flags = ["-v", "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig)]
    env = clean_env({**kube.env, "FIRESTREAM_KUBECTL_BINARY": str(kube.tools["kubectl"])})

    def toml(values: dict[str, object]) -> str:
        return "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())

    _project(folder, namespace, toml(before))
    done = firestream(["apply", "--yes", *flags], cwd=folder, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    _project(folder, namespace, toml(after))
    plan = firestream(["plan", "--json", *flags], cwd=folder, env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    (release,) = json.loads(plan.stdout)["releases"]
    text = firestream(["plan", *flags], cwd=folder, env=env)
    assert text.returncode == 0, text.stderr
    for value in (*before.values(), *after.values()):  # a secret never in the text either
        if isinstance(value, str) and value.startswith("s3cret"):
            assert value not in text.stdout + text.stderr + plan.stdout
    return {c["path"]: (c["old"], c["new"]) for c in release["value_changes"]}


def test_a_password_under_a_word_starting_like_a_switch_is_hidden(kube, helm_bin, project_dir):
    """``userPassword`` is no ``usePassword`` switch, ``USER_PASSWORD`` no ``USE_PASSWORD``,
    and bitnami's ``ldap.bindpw`` is the LDAP bind password: each was shown in clear."""
    before = {"auth.userPassword": "s3cret-user-pw-1", "env.USER_PASSWORD": "s3cret-env-pw-1",
              "ldap.bindpw": "s3cret-ldap-pw-1", "auth.usePasswordFiles": False}
    after = {"auth.userPassword": "s3cret-user-pw-2", "env.USER_PASSWORD": "s3cret-env-pw-2",
             "ldap.bindpw": "s3cret-ldap-pw-2", "auth.usePasswordFiles": True}
    changes = _changes(project_dir, kube.namespace, kube, helm_bin, before, after)
    assert changes == {
        "auth.userPassword": ("(sensitive)", "(sensitive)"),
        "env.USER_PASSWORD": ("(sensitive)", "(sensitive)"),
        "ldap.bindpw": ("(sensitive)", "(sensitive)"),
        "auth.usePasswordFiles": ("false", "true"),  # the switch stays readable
    }


def test_names_of_secrets_usernames_and_measures_of_secrets_are_readable(kube, helm_bin, project_dir):
    """A Secret named by what it holds, a user's name, a count or a time about a password: all
    were ``(sensitive)``; a number that is the password itself stays hidden."""
    before = {"google.serviceAccountSecret": "dns-sa", "primary.initdb.scriptsSecret": "init-scripts",
              "grafana.envFromSecret": "grafana-env", "credentials.user": "alice",
              "auth.passwordRetries": 3, "passwordMaxAge": 30, "token.expirySeconds": 3600,
              "passwordMinLength": 8, "tokenTTL": 60, "auth.password": 123456,
              "credentials.accessKeyId": "s3cret-key-id-1", "apiKeys.stripe": 4242424242}
    after = {"google.serviceAccountSecret": "dns-sa-2", "primary.initdb.scriptsSecret": "init-scripts-2",
             "grafana.envFromSecret": "grafana-env-2", "credentials.user": "bob",
             "auth.passwordRetries": 5, "passwordMaxAge": 90, "token.expirySeconds": 7200,
             "passwordMinLength": 12, "tokenTTL": 120, "auth.password": 654321,
             "credentials.accessKeyId": "s3cret-key-id-2", "apiKeys.stripe": 4343434343}
    changes = _changes(project_dir, kube.namespace, kube, helm_bin, before, after)
    hidden = ("(sensitive)", "(sensitive)")
    assert changes == {
        "google.serviceAccountSecret": ("dns-sa", "dns-sa-2"),
        "primary.initdb.scriptsSecret": ("init-scripts", "init-scripts-2"),
        "grafana.envFromSecret": ("grafana-env", "grafana-env-2"),
        "credentials.user": ("alice", "bob"),
        "auth.passwordRetries": ("3", "5"),
        "passwordMaxAge": ("30", "90"),
        "token.expirySeconds": ("3600", "7200"),
        "passwordMinLength": ("8", "12"),
        "tokenTTL": ("60", "120"),
        "auth.password": hidden,  # a numeric password is a password
        "credentials.accessKeyId": hidden,
        "apiKeys.stripe": hidden,
    }


def test_a_password_in_a_connection_url_is_hidden(kube, helm_bin, project_dir):
    """``config.databaseUrl`` and ``extraSecrets.DB_URL`` (docs/secrets.md's own example of a
    leaf below a secret key) carry a password in their user part: shown in clear before."""
    before = {"config.databaseUrl": "postgres://app:s3cret-url-pw-1@db:5432/app",
              "extraSecrets.DB_URL": "postgres://app:s3cret-url-pw-3@db/app",
              "config.cacheUrl": "redis://cache:6379/0"}
    after = {"config.databaseUrl": "postgres://app:s3cret-url-pw-2@db:5432/app",
             "extraSecrets.DB_URL": "postgres://app:s3cret-url-pw-4@db/app",
             "config.cacheUrl": "redis://cache:6379/1"}
    changes = _changes(project_dir, kube.namespace, kube, helm_bin, before, after)
    assert changes == {
        "config.databaseUrl": ("(sensitive)", "(sensitive)"),
        "extraSecrets.DB_URL": ("(sensitive)", "(sensitive)"),
        "config.cacheUrl": ("redis://cache:6379/0", "redis://cache:6379/1"),
    }


def test_the_secrets_of_common_charts_whose_keys_hold_no_secret_word_are_hidden(kube, helm_bin, project_dir):
    """bitnami/rabbitmq's ``auth.erlangCookie``, bitnami/mongodb's ``auth.replicaSetKey``,
    bitnami/airflow's ``auth.fernetKey``, harbor's ``core.xsrfKey``, a ``sessionKey``, an
    ``hmacKey``, a ``jwtKey``, vault's ``unsealKey``: each a secret, each shown in clear before."""
    keys = ["auth.erlangCookie", "auth.replicaSetKey", "auth.fernetKey", "core.xsrfKey", "web.sessionKey",
            "api.hmacKey", "api.jwtKey", "vault.unsealKey"]
    before = {k: f"s3cret-{i}-before" for i, k in enumerate(keys)}
    after = {k: f"s3cret-{i}-after" for i, k in enumerate(keys)}
    changes = _changes(project_dir, kube.namespace, kube, helm_bin, before, after)
    assert changes == {k: ("(sensitive)", "(sensitive)") for k in keys}
