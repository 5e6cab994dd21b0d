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
