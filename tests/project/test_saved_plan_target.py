"""``plan --out F`` then ``apply F`` on the fake helm: the plan holds where it was made for.

A saved plan records its environment, kube context and cluster server, each
release's namespace and the ``--set`` paths / ``--values`` files it was made
with (never a value); ``apply F`` takes the plan's environment, refuses
another one, another cluster, another namespace or other overrides (exit 1,
nothing run), and accepts the same overrides (their values checked by the
release digests).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firestream_core.cli.main import main

from .conftest import write_config

REPOS = """
[repositories]
fixtures = "http://127.0.0.1:9/fixtures"
"""

SET_VALUE = "debug-Zq9-not-in-the-file"

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- {name: prod, cluster: {server: "https://admin:hunter2@prod.example:6443"}}
- {name: staging, cluster: {server: "https://staging.example:6443"}}
users: [{name: u, user: {token: tok-Zq9-never-shown}}]
contexts:
- {name: prod, context: {cluster: prod, user: u}}
- {name: staging, context: {cluster: staging, user: u}}
current-context: staging
"""


def release(name: str, namespace: str = "ns-a") -> str:
    return (f'[[deployments.generic]]\nname = "{name}"\nchart = "tiny-app"\nrepository = "fixtures"\n'
            f'version = "0.1.0"\nnamespace = "{namespace}"\n')


ENVIRONMENTS = """
[environments.prod]
kube_context = "prod"

[environments.staging]
kube_context = "staging"
"""


@pytest.fixture
def env(fake_helm, fake_kubectl, tmp_path, monkeypatch, no_log_redactors):
    """A project folder (the current folder), a kubeconfig with two clusters, the fake helm."""
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("FIRESTREAM_KUBECTL_BINARY", str(fake_kubectl))
    monkeypatch.delenv("FIRESTREAM_ENVIRONMENT", raising=False)
    monkeypatch.delenv("FIRESTREAM_FILE", raising=False)
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / ".git").mkdir()  # the project file is found here, not above
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.chdir(folder)

    class Env:
        dir = folder
        flags = ["--helm-binary", str(fake_helm.binary)]

        @staticmethod
        def write(*blocks: str) -> Path:
            return write_config(folder, REPOS + "\n" + "".join(blocks))

    return Env


def upgrades(fake_helm) -> list[tuple[str, ...]]:
    return [c.argv for c in fake_helm.call_log("upgrade")]


def test_a_plan_made_for_prod_is_refused_in_staging_and_taken_to_prod_without_e(env, fake_helm, capsys):
    env.write(release("extra"), ENVIRONMENTS)
    assert main(["plan", "-e", "prod", "--target", "extra", "--out", "prod.json", *env.flags]) == 0
    out = capsys.readouterr().out
    assert "'firestream apply -e prod prod.json' carries out exactly this plan" in out
    saved = json.loads((env.dir / "prod.json").read_text())
    assert saved["environment"] == "prod"
    assert saved["kube"] == {"context": "prod", "server": "https://prod.example:6443"}  # no user:password
    assert "hunter2" not in (env.dir / "prod.json").read_text()
    assert saved["releases"][0]["namespace"] == "ns-a"

    fake_helm.reset_calls()
    assert main(["apply", "-e", "staging", "--yes", "prod.json", *env.flags]) == 1
    err = capsys.readouterr().err
    assert ("error: refusing to apply the saved plan: the plan was made for environment 'prod', this run is "
            "for environment 'staging'; the plan was made against kube context 'prod' (server "
            "https://prod.example:6443), this run uses kube context 'staging' (server "
            "https://staging.example:6443)") in err
    assert "hint: carry it out with: firestream apply -e prod prod.json;" in err
    assert "hunter2" not in err and "tok-Zq9" not in err
    assert fake_helm.call_log() == []  # refused before any helm call: nothing listed, nothing run
    assert not (env.dir / ".firestream" / "lock").exists()

    # without -e the plan's environment is taken: prod, its context
    assert main(["apply", "--yes", "prod.json", *env.flags]) == 0
    capsys.readouterr()
    (upgrade,) = upgrades(fake_helm)
    assert "--kube-context" in upgrade and upgrade[upgrade.index("--kube-context") + 1] == "prod"


def test_a_plan_without_environment_is_refused_against_another_context(env, fake_helm, capsys):
    env.write(release("web"))
    assert main(["plan", "--out", "plan.json", *env.flags]) == 0  # current-context: staging
    capsys.readouterr()
    fake_helm.reset_calls()
    assert main(["apply", "--kube-context", "prod", "--yes", "plan.json", *env.flags]) == 1
    err = capsys.readouterr().err
    assert "the plan was made against kube context 'staging'" in err
    assert "this run uses kube context 'prod'" in err
    assert "hint: carry it out with: firestream apply --kube-context staging plan.json;" in err
    assert fake_helm.call_log() == []
    # an -e the plan was not made for is refused too
    env.write(release("web"), ENVIRONMENTS)
    assert main(["apply", "-e", "staging", "--yes", "plan.json", *env.flags]) == 1
    assert ("the plan was made for no environment, this run is for environment 'staging'"
            in capsys.readouterr().err)
    assert fake_helm.call_log() == []


def test_the_same_context_pointing_at_another_server_is_refused(env, fake_helm, capsys, tmp_path):
    env.write(release("web"))
    assert main(["plan", "--out", "plan.json", *env.flags]) == 0
    capsys.readouterr()
    (tmp_path / "kubeconfig").write_text(KUBECONFIG.replace("staging.example", "other.example"))
    fake_helm.reset_calls()
    assert main(["apply", "--yes", "plan.json", *env.flags]) == 1
    err = capsys.readouterr().err
    assert ("the plan was made against kube context 'staging' (server https://staging.example:6443), "
            "this run uses kube context 'staging' (server https://other.example:6443)") in err
    assert "(the kubeconfig it was made with)" in err
    assert fake_helm.call_log() == []


def test_a_release_whose_namespace_changed_is_refused(env, fake_helm, capsys):
    env.write(release("nsrel", "ns-a"))
    assert main(["plan", "--target", "nsrel", "--out", "ns.json", *env.flags]) == 0
    assert "ns-a" in capsys.readouterr().out
    env.write(release("nsrel", "ns-b"))
    fake_helm.reset_calls()
    assert main(["apply", "--yes", "ns.json", *env.flags]) == 1
    assert ("refusing to apply the saved plan: release 'nsrel': its namespace changed since the plan was "
            "saved (the plan has ns-a, the config now ns-b)") in capsys.readouterr().err
    assert upgrades(fake_helm) == []
    assert fake_helm.releases() == []


def test_a_plan_made_with_set_is_applied_with_the_same_set_and_refused_otherwise(env, fake_helm, capsys):
    env.write(release("sv"))
    assert main(["plan", "--set", f"config.logLevel={SET_VALUE}", "--out", "sv.plan", *env.flags]) == 0
    out = capsys.readouterr().out
    assert "'firestream apply --set config.logLevel=<value> sv.plan' carries out exactly this plan" in out
    text = (env.dir / "sv.plan").read_text()
    assert SET_VALUE not in out and SET_VALUE not in text
    assert json.loads(text)["overrides"] == {"set": ["config.logLevel"], "values": []}

    fake_helm.reset_calls()
    assert main(["apply", "--yes", "sv.plan", *env.flags]) == 1  # the override missing: named
    err = capsys.readouterr().err
    assert ("refusing to apply the saved plan: the plan was made with --set config.logLevel, "
            "this run has none") in err
    assert ("hint: carry it out with: firestream apply --set config.logLevel=<value> sv.plan "
            "(the --set values it was made with);") in err
    # the same path with another value: the release's desired state differs
    assert main(["apply", "--yes", "--set", "config.logLevel=info", "sv.plan", *env.flags]) == 1
    err = capsys.readouterr().err
    assert "release 'sv': its desired state changed since the plan was saved" in err
    assert upgrades(fake_helm) == []

    assert main(["apply", "--yes", "--set", f"config.logLevel={SET_VALUE}", "sv.plan", *env.flags]) == 0
    assert SET_VALUE not in capsys.readouterr().out
    assert len(upgrades(fake_helm)) == 1


def test_a_plan_made_with_values_and_e_prints_and_takes_the_whole_command(env, fake_helm, capsys, monkeypatch):
    env.write(release("sv"), ENVIRONMENTS)
    (env.dir / "over.yaml").write_text("config:\n  logLevel: warn\n")
    assert main(["plan", "-e", "prod", "--values", "over.yaml", "--out", "sv.plan", *env.flags]) == 0
    assert ("'firestream apply -e prod --values over.yaml sv.plan' carries out exactly this plan"
            in capsys.readouterr().out)
    assert json.loads((env.dir / "sv.plan").read_text())["overrides"] == {"set": [], "values": ["over.yaml"]}

    fake_helm.reset_calls()
    assert main(["apply", "--yes", "sv.plan", *env.flags]) == 1
    err = capsys.readouterr().err
    assert "the plan was made with --values over.yaml, this run has none" in err
    assert "hint: carry it out with: firestream apply -e prod --values over.yaml sv.plan;" in err
    # another file: named too
    (env.dir / "other.yaml").write_text("config:\n  logLevel: warn\n")
    assert main(["apply", "--yes", "--values", "other.yaml", "sv.plan", *env.flags]) == 1
    assert ("the plan was made with --values over.yaml, this run has --values other.yaml"
            in capsys.readouterr().err)
    assert fake_helm.call_log() == []
    # the same file given from another folder (its path relative to the project is what counts)
    sub = env.dir / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    assert main(["apply", "--yes", "-e", "prod", "--values", "../over.yaml", "../sv.plan",
                 "-f", str(env.dir), *env.flags]) == 0
    capsys.readouterr()
    assert len(upgrades(fake_helm)) == 1


def test_a_plan_is_checked_with_the_key_it_was_made_with_from_the_environment_or_refused_naming_it(
        env, fake_helm, capsys, monkeypatch):
    """A CI job applies a plan another job made: the plan key comes from $FIRESTREAM_PLAN_KEY (no
    file needed, none written); another project's key is refused as such before any helm call,
    not reported as every release having changed."""
    env.write(release("api"))
    assert main(["plan", "--out", "ci.json", *env.flags]) == 0
    capsys.readouterr()
    key_file = env.dir / ".firestream" / "plan.key"
    key = key_file.read_text().strip()
    key_file.unlink()  # the applying job's checkout: no key file

    monkeypatch.setenv("FIRESTREAM_PLAN_KEY", "ab" * 32)  # another project's key
    fake_helm.reset_calls()
    assert main(["apply", "--yes", "ci.json", *env.flags]) == 1
    err = capsys.readouterr().err
    assert "error: ci.json: the saved plan was made with another plan key than this project's" in err
    assert "desired state" not in err and "ab" * 32 not in err
    assert fake_helm.call_log() == []

    monkeypatch.setenv("FIRESTREAM_PLAN_KEY", "not hex")
    assert main(["apply", "--yes", "ci.json", *env.flags]) == 1
    assert "error: $FIRESTREAM_PLAN_KEY: not a plan key (hex, at least 16 bytes)" in capsys.readouterr().err

    monkeypatch.setenv("FIRESTREAM_PLAN_KEY", key)
    assert main(["apply", "--yes", "ci.json", *env.flags]) == 0
    capsys.readouterr()
    assert len(upgrades(fake_helm)) == 1
    assert not key_file.exists()  # the key from the environment: no file made
    assert key not in json.dumps([c.argv for c in fake_helm.call_log()])  # never on a child's argv


def test_plan_out_with_the_key_in_the_environment_keys_with_it_and_writes_no_file(env, fake_helm, capsys,
                                                                                 monkeypatch):
    env.write(release("api"))
    monkeypatch.setenv("FIRESTREAM_PLAN_KEY", "cd" * 32)
    assert main(["plan", "--out", "ci.json", *env.flags]) == 0
    capsys.readouterr()
    assert not (env.dir / ".firestream" / "plan.key").exists()
    saved = json.loads((env.dir / "ci.json").read_text())
    assert saved["key_id"].startswith("hmac-sha256:") and "cd" * 32 not in json.dumps(saved)
    assert saved["releases"][0]["desired_digest"].startswith("hmac-sha256:")
    assert main(["apply", "--yes", "ci.json", *env.flags]) == 0
