"""The sensitivity model (docs/secrets.md): per value, not per string; the issue's cases."""

from __future__ import annotations

import base64
import json

import pytest

from firestream_core.tools.redact import MASK, Redactor
from firestream_core.tools.sensitivity import (
    SENSITIVE,
    is_sensitive_path,
    sensitive_leaves,
    strip_url_credentials,
    text_to_hide,
    url_has_credentials,
    value_changes,
)

# the quickstart's values, as a new user writes them (issue 12)
QUICKSTART = {
    "auth": {"database": "shop", "password": "x", "existingSecret": "cache-redis"},
    "replicaCount": True,
    "image": {"repository": "redis", "tag": "7-alpine"},
    "port": 6379,
    "env": {"DATABASE_HOST": "database", "LOG_LEVEL": "info"},
}


def project_redactor(values=QUICKSTART, secrets=()) -> Redactor:
    r = Redactor(secrets)
    r.add_values(values)
    return r


@pytest.mark.parametrize("path", [
    "password", "auth.password", "postgresPassword", "auth.postgresPassword", "apiKey", "token",
    "secretKey", "privateKey", "credentials", "clientSecret", "oauth.clientSecret",
    "credentials.accessKeyId", "list[0].token", "env.DB_PASSWORD", "extraSecrets.DB", "tls.caKey",
    "tls.key", "ingress.tls[0].key", "ca.key", "api.key", "server.ssl.key",
    "apiKeys.stripe", "accessKeys[0]", "config.privateKeys.signing",
    "jwtSecret", "cookieSecret", "oauth.clientSecret", "tokenSecret", "webhookSecret",
    # bitnami/external-dns's provider credentials (templates/secret.yaml)
    "google.serviceAccountKey", "ovh.consumerKey", "ovh.applicationKey", "azure.storageAccountKey",
])
def test_sensitive_paths(path):
    assert is_sensitive_path(path)


@pytest.mark.parametrize("path", [
    "auth.database", "auth.existingSecret", "auth.username", "auth", "namespace", "replicaCount",
    "env.LOG_LEVEL", "secretName", "tls.secretName", "credentials.secretName", "imagePullSecrets[0].name",
    "auth.secretKeys.adminPasswordKey", "passwordFile", "existingSecretPasswordKey", "imagePullSecrets[0]",
    "tokenTtl", "passwordLength", "createSecret",
    "tls.crt", "tls.keyFile", "tolerations[0].key", "env[0].valueFrom.secretKeyRef.key", "existingSecret.key",
    "key", "nodeSelector.key", "auth.secretKeys.userPasswordKey", "existingApiKeys",
    "tls.certificatesSecret", "tlsSecret", "ingress.tls_secret", "caSecret", "certSecret",
    "google.serviceAccountKeyName", "serviceAccount.name",
])
def test_visible_paths(path):
    assert not is_sensitive_path(path)


def test_sensitive_keys_patterns_dotted_and_leaf():
    assert is_sensitive_path("config.dsn", ["config.dsn"])
    assert is_sensitive_path("a.b.connectionString", ["*.connectionString"])
    assert is_sensitive_path("deep.x.webhook", ["webhook"])
    assert not is_sensitive_path("config.level", ["config.dsn"])


def test_namespace_stays_visible_with_auth_database():
    r = project_redactor()
    msg = "namespace 'shop' not found; assigned shop/worker-1"
    assert r.redact(msg) == msg


def test_short_password_never_cuts_flags_or_words():
    """QUICKSTART_DB_PASSWORD=x: the secret is registered, yet 'executable' and '--kube-context' stay whole."""
    r = project_redactor(secrets=["x"])
    text = "helm is not executable; pass --kube-context or --kubeconfig"
    assert r.redact(text) == text


def test_a_four_letter_secret_is_cut_only_as_a_whole_token():
    r = Redactor(["exec"])
    assert r.redact("not executable; exec failed") == f"not executable; {MASK} failed"
    r = Redactor(["context"])
    assert r.redact("--kube-context ctx") == "--kube-context ctx"


def test_existing_secret_name_is_visible():
    r = project_redactor()
    msg = "release 'cache': Secret 'cache-redis' (existing_secret) does not exist in namespace 'shop'"
    assert r.redact(msg) == msg


def test_replica_count_true_and_file_names_are_not_masked():
    r = project_redactor({"replicaCount": True, "name": "firestream", "nameOverride": "firestream"})
    msg = "deployments.generic[0].values in firestream.toml: replicaCount=True"
    assert r.redact(msg) == msg


def test_a_real_password_is_hidden_in_every_spelling():
    pw = 'S3cret"Pw-42'
    r = project_redactor({"auth": {"password": pw}})
    b64 = base64.b64encode(pw.encode()).decode()
    escaped = json.dumps(pw)[1:-1]
    text = f"plain {pw} b64 {b64} json {escaped}"
    out = r.redact(text)
    assert pw not in out and b64 not in out and escaped not in out
    assert out == f"plain {MASK} b64 {MASK} json {MASK}"


def test_text_to_hide_refuses_booleans_numbers_and_short_strings():
    assert [text_to_hide(v) for v in (True, False, 42, 3.5, None, "ab", "abc")] == [None] * 7
    assert text_to_hide("abcd") == "abcd"


def test_sensitive_leaves_are_per_value():
    found = dict(sensitive_leaves(QUICKSTART))
    assert found == {"auth.password": "x"}


def test_value_changes_show_ordinary_values_and_hide_sensitive_ones():
    old = {"env": {"LOG_LEVEL": "info"}, "auth": {"password": "old-pw-1", "database": "shop"}, "cfg": {"dsn": "a"}}
    new = {"env": {"LOG_LEVEL": "debug"}, "auth": {"password": "new-pw-2", "database": "shop"}, "cfg": {"dsn": "b"},
           "replicaCount": 2, "extra": {"token": "t-1234"}}
    changes = value_changes(old, new, patterns=["cfg.dsn"], secret_paths=[])
    assert changes == [
        ("auth.password", SENSITIVE, SENSITIVE),
        ("cfg.dsn", SENSITIVE, SENSITIVE),
        ("env.LOG_LEVEL", "info", "debug"),
        ("extra.token", "(none)", SENSITIVE),
        ("replicaCount", "(none)", "2"),
    ]
    # a path the state recorded as secret hides helm's old value only
    assert value_changes({"db": {"dsn": "old-dsn-1"}}, {"db": {"dsn": "plain-now"}}, old_secret_paths=["db.dsn"]) == [
        ("db.dsn", SENSITIVE, "plain-now")]
    # a secret_values path is sensitive whatever its key
    assert value_changes({"db": {"pw": "aaaa"}}, {"db": {"pw": "bbbb"}}, secret_paths=["db.pw"]) == [
        ("db.pw", SENSITIVE, SENSITIVE)]



def test_a_switch_whose_key_sounds_secret_is_shown_in_value_changes():
    """sshd.passwordAuthentication true -> false is a flag: plan must say which way it goes."""
    old = {"sshd": {"passwordAuthentication": True}, "auth": {"password": "old-pw-1"}}
    new = {"sshd": {"passwordAuthentication": False}, "auth": {"password": "new-pw-2"}}
    assert value_changes(old, new) == [
        ("auth.password", SENSITIVE, SENSITIVE),
        ("sshd.passwordAuthentication", "true", "false"),
    ]
    # a key-sensitive path switching between a string and a boolean hides only the string
    assert value_changes({"token": "tok-old-1"}, {"token": False}) == [("token", SENSITIVE, "false")]
    # declared secrets stay hidden whatever their type
    assert value_changes({"flag": True}, {"flag": False}, secret_paths=["flag"]) == [
        ("flag", SENSITIVE, SENSITIVE)]
    assert value_changes({"a": {"flag": True}}, {"a": {"flag": False}}, patterns=["flag"]) == [
        ("a.flag", SENSITIVE, SENSITIVE)]
    assert value_changes({"flag": True}, {"flag": False}, old_secret_paths=["flag"]) == [
        ("flag", SENSITIVE, "false")]

def test_an_env_var_list_hides_the_value_its_name_says_secret():
    """``extraEnvVars: [{name: DB_PASSWORD, value: ...}]``: the name says secret, not a key."""
    old = {"extraEnvVars": [{"name": "DB_PASSWORD", "value": "old-env-pw-1"}, {"name": "LOG_LEVEL", "value": "info"}]}
    new = {"extraEnvVars": [{"name": "DB_PASSWORD", "value": "new-env-pw-2"}, {"name": "LOG_LEVEL", "value": "debug"}]}
    assert value_changes(old, new) == [
        ("extraEnvVars[0].value", SENSITIVE, SENSITIVE),
        ("extraEnvVars[1].value", "info", "debug"),
    ]
    assert dict(sensitive_leaves(new)) == {"extraEnvVars[0].value": "new-env-pw-2"}
    r = project_redactor(new)
    assert r.redact("DB_PASSWORD=new-env-pw-2 LOG_LEVEL=debug") == f"DB_PASSWORD={MASK} LOG_LEVEL=debug"
    # a name that names something (a file, a Secret) keeps its value readable
    named = {"env": [{"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"}]}
    assert dict(sensitive_leaves(named)) == {}


@pytest.mark.parametrize(("url", "has"), [
    ("oci://user:hunter2pw@registry.example/x/web", True),
    ("https://user:pw@charts.example/stable", True),
    ("https://token@charts.example/stable", True),
    ("oci://registry.example/x/web", False),
    ("https://charts.example/stable", False),
    ("bitnami/postgresql", False),
    ("user@host", False),
    # a credential in the query travels on helm's command line just the same
    ("https://charts.example/stable?private_token=hunter2tok", True),
    ("http://127.0.0.1:8080/?access_token=hunter2tok", True),
    ("https://acct.blob.core.windows.net/charts?sv=2022-11-02&sr=c&sig=hunter2sig", True),
    ("https://bucket.s3.amazonaws.com/charts?X-Amz-Signature=abc", True),
    ("https://charts.example/stable?channel=stable&page=2", False),
    ("https://charts.example/stable?secretName=x", False),
])
def test_url_credentials(url, has):
    assert url_has_credentials(url) is has


def test_strip_url_credentials():
    assert strip_url_credentials("oci://user:hunter2pw@registry.example/x/web") == "oci://registry.example/x/web"


def test_chart_info_check_refuses_credentials_in_the_chart_url():
    """The same rule for charts built in Python (a plugin's preset, the library)."""
    from firestream_core.model import ChartInfo

    problems = ChartInfo("web", chart="oci://user:hunter2pw@registry.example/x/web").check()
    assert [p for p in problems if p.startswith("chart: credentials")] and "hunter2pw" not in str(problems)
    assert ChartInfo("web", chart="oci://registry.example/x/web").check() == []


def test_identifiers_and_the_warning_for_a_secret_equal_to_a_name():
    from firestream_core.model import ChartInfo, ChartValuesGenerated
    from firestream_core.plugin.generic import GenericChart
    from firestream_core.tools.sensitivity import OWN_NAMES, identifiers, name_clashes

    info = ChartInfo(name="billing", chart="bitnami/nginx", namespace="payments")
    info.yaml_files_content.append(ChartValuesGenerated(
        filename="secret_values", yaml_content="apiKey: payments\nowner: billing\npassword: Real-Pass-1\n",
        secret=True))
    chart = GenericChart(info)
    names = identifiers([chart])
    assert names["billing"] == "the release name 'billing'"
    assert names["payments"] == "the namespace 'payments' (of release 'billing')"
    assert {"generic", "bitnami", "nginx", "create", "upgrade", "firestream"} <= set(names)
    assert "Real-Pass-1" not in names
    warnings = name_clashes([chart], {"payments", "billing", "create"})
    assert warnings[0].startswith("release 'billing': the secret value at 'apiKey' equals the namespace 'payments'")
    assert warnings[1].startswith("release 'billing': the secret value at 'owner' equals the release name 'billing'")
    assert warnings[2].startswith("a secret (a password option or a credential) equals firestream's own word")
    assert len(warnings) == 3 and not any("Real-Pass-1" in w for w in warnings)
    # firestream's own words cover what the commands print
    from firestream_core.deploy.plan import ACTIONS
    from firestream_core.deploy.results import RESULTS
    from firestream_core.ops.drift import STATUSES
    from firestream_core.plugin.spec import STAGES

    assert {*ACTIONS, *STAGES, *RESULTS, *STATUSES} - {"ok"} <= OWN_NAMES


def test_a_query_token_in_a_repository_url_is_refused_before_any_cluster_call(tmp_path):
    """``?private_token=`` is refused like ``user:pw@``: ``helm repo add`` would carry it on argv."""
    from firestream_core.config.load import load_config
    from firestream_core.errors import ConfigError

    path = tmp_path / "firestream.toml"
    path.write_text(
        '[repositories]\nex = "https://charts.example/stable?private_token=hunter2tok"\n'
        '[[deployments.generic]]\nname = "a"\nchart = "ex/app"\nnamespace = "n"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "repositories.ex: credentials must not be written in a URL" in str(err.value)
    assert "hunter2tok" not in str(err.value)



@pytest.mark.parametrize(("path", "sensitive"), [
    ("datadog.appKey", True),
    ("datadog.apiKey", True),
    ("global.licenseKey", True),
    ("newrelic.licenseKey", True),
    ("azure.storageAccountKey", True),
    ("gcp.serviceAccountKey", True),
    ("ipsec.sharedKey", True),
    ("tailscale.authKey", True),
    # the names of Secrets and keys holding them stay readable
    ("newrelic.licenseKeySecretName", False),
    ("global.customSecretLicenseKey", True),
    ("tailscale.authKeySecretKey", True),
    ("serviceAccount.name", False),
    ("tailscale.authKeyRef", False),
])
def test_vendor_credential_keys(path, sensitive):
    """datadog.appKey is as much a credential as datadog.apiKey: plan must not print it."""
    assert is_sensitive_path(path) is sensitive
    shown = "(sensitive)" if sensitive else "vendor-cred-1"
    assert value_changes({}, {"a": {path.split(".")[-1]: "vendor-cred-1"}}) == [
        (f"a.{path.split('.')[-1]}", "(none)", shown)]



@pytest.mark.parametrize("path", [
    "datadog.apiKeyExistingSecret",
    "datadog.appKeyExistingSecret",
    "clusterAgent.tokenExistingSecret",
    "auth.passwordExistingSecret",
])
def test_an_existing_secret_after_a_secret_word_is_a_name(path):
    """datadog.apiKeyExistingSecret names the Secret holding the key: plan shows it, and its
    value (a Secret's name) is never masked in template, drift or a log line."""
    from firestream_core.tools.redact import Redactor

    assert is_sensitive_path(path) is False
    leaf = path.split(".")[-1]
    assert value_changes({}, {"a": {leaf: "datadog-keys"}}) == [(f"a.{leaf}", "(none)", "datadog-keys")]
    red = Redactor()
    red.add_values({"a": {leaf: "datadog-keys"}})
    assert red.redact("secret 'datadog-keys' not found") == "secret 'datadog-keys' not found"


def test_the_model_applies_the_key_rule_of_the_sensitivity_model() -> None:
    """The model (a chart's repr) is below the tools layer: it reads the key rule from
    ``firestream_core.secret_keys``, which ``tools/sensitivity.py`` builds on. One rule: a key
    the plan hides is hidden in a repr too, and an ordinary value stays readable there."""
    from firestream_core import secret_keys
    from firestream_core.model import ChartSetValue, ChartValuesGenerated

    doc = ChartValuesGenerated("v.yaml", "auth:\n  appKey: dd-app-key-123\n  database: app\n")
    assert "dd-app-key-123" not in repr(doc) and "database: app" in repr(doc)
    assert "hunter2-long" not in repr(ChartSetValue("datadog.licenseKey", "hunter2-long"))
    assert repr(ChartSetValue("image.tag", "1.2.3")).endswith("value='1.2.3')")
    from firestream_core.tools import sensitivity

    assert [secret_keys.is_sensitive_key(k) for k in ("appKey", "existingSecret", "region")] == [True, False, False]
    assert sensitivity.is_sensitive_key is secret_keys.is_sensitive_key  # the one rule, not a copy
