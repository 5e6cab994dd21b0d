"""tools/environment.py: a child gets an allow-listed environment, never a secret's variable."""

from __future__ import annotations

from firestream_core.tools.environment import CHILD_ENV, child_environment, passes

ENVIRON = {
    "PATH": "/usr/bin", "HOME": "/root", "KUBECONFIG": "/k", "HELM_CACHE_HOME": "/c", "LC_ALL": "C",
    "DB_PASSWORD": "hunter2-secret", "AWS_SECRET_ACCESS_KEY": "aws-secret-value", "RANDOM_THING": "x",
}


def test_only_the_allow_list_reaches_a_child() -> None:
    env = child_environment(environ=ENVIRON)
    assert env == {"PATH": "/usr/bin", "HOME": "/root", "KUBECONFIG": "/k", "HELM_CACHE_HOME": "/c",
                   "LC_ALL": "C"}


def test_the_user_names_more_with_patterns_but_a_secret_value_is_dropped_anyway() -> None:
    environ = {**ENVIRON, CHILD_ENV: "AWS_*, RANDOM_THING"}
    env = child_environment({"FAKE_HELM_STATE": "/s"}, secrets={"hunter2-secret", "aws-secret-value"},
                            environ=environ)
    assert env["RANDOM_THING"] == "x" and env["FAKE_HELM_STATE"] == "/s"
    assert "AWS_SECRET_ACCESS_KEY" not in env  # named, but its value is a registered secret
    assert "DB_PASSWORD" not in env


def test_a_call_variable_holding_a_secret_is_dropped_too() -> None:
    assert "X" not in child_environment({"X": "s3cr3t-value"}, secrets={"s3cr3t-value"}, environ={})


def test_passes() -> None:
    assert passes("KUBECACHEDIR") and passes("HELM_DRIVER") and passes("https_proxy")
    assert not passes("POSTGRES_PASSWORD")
    assert passes("POSTGRES_PASSWORD", ["POSTGRES_*"])


def test_a_secret_too_short_to_mask_in_text_still_never_reaches_a_child() -> None:
    """docs/secrets.md: a 3-character secret is not matched as text, but its variable is still
    kept from helm and kubectl (with the variable allow-listed)."""
    from firestream_core.tools.redact import Redactor

    redactor = Redactor()
    redactor.add("ab1")
    assert "ab1" in redactor
    assert redactor.redact("replicas ab1 ok") == "replicas ab1 ok"  # not matched as text
    environ = {"PATH": "/usr/bin", "DB_PIN": "ab1", "DB_HOST": "db", CHILD_ENV: "DB_*"}
    env = child_environment(secrets=redactor, environ=environ)
    assert env.get("DB_HOST") == "db"
    assert "DB_PIN" not in env
    assert "ab1" in redactor.copy()
    other = Redactor()
    other.update(redactor)
    assert "ab1" in other
