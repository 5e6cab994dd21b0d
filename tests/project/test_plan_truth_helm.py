"""The plan tells the whole truth, with the real helm 3 and helm 4 on the emulator (marked ``helm``).

Issue 11: one breaking-version rule for plan and exec; the destructive steps
shown; exec refusing a step the plan did not contain.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import attrs
import pytest

from firestream_core.project import Project

from .conftest import release_blocks, write_config

pytestmark = pytest.mark.helm


def load(path: Path, kube, helm_bin) -> Project:
    return Project.load(path, helm_binary=helm_bin, kubeconfig=kube.kubeconfig, env=kube.env,
                        kubectl_binary=kube.tools["kubectl"])


def history(kube, helm_bin, name: str) -> list[tuple[int, str]]:
    out = kube.run([helm_bin, "history", name, "-n", kube.namespace, "-o", "json"]).stdout
    return [(int(e["revision"]), str(e["chart"])) for e in json.loads(out)]


def one_release(folder: Path, kube, chart_repo, *, version: str, message: str, breaking: str = "") -> Path:
    block = release_blocks([("db", [], {"message": message})], chart="tiny-app",
                           repository=chart_repo.name, namespace=kube.namespace, version=version)
    if breaking:
        head, _, values = block.partition("[deployments.generic.values]")
        block = head + breaking + "\n[deployments.generic.values]" + values
    return write_config(folder, f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

        [defaults]
        timeout = "60s"

    """ + block)


BREAKING_10 = 'last_breaking_version_requiring_restart = { version = "10.0.0", requires_uninstall = true }'


BREAKING_02 = 'last_breaking_version_requiring_restart = { version = "0.2.0", requires_uninstall = true }'


def test_a_pending_upgrade_across_the_breaking_version_is_planned_from_the_revision_it_returns_to(
        tmp_path, kube, chart_repo, helm_bin, no_log_redactors):
    """0.1.0 installed, an upgrade to 0.2.0 (breaking 0.2.0, requires_uninstall) killed: pending-upgrade
    at 0.2.0. The recovery rolls back to 0.1.0, and exec then crosses the breaking version; the plan
    decided the step from the pending revision (0.2.0: none), so apply rolled the release back and
    then refused it ('exec would take ... which the plan did not show')."""
    from tests.ops.helpers import interrupted_upgrade

    folder = tmp_path / "p"
    path = one_release(folder, kube, chart_repo, version="0.1.0", message="one", breaking=BREAKING_02)
    assert load(path, kube, helm_bin).apply().ok
    interrupted_upgrade(kube, helm_bin, "db", chart_repo.tgz("tiny-app", "0.2.0"))
    path = one_release(folder, kube, chart_repo, version="0.2.0", message="one", breaking=BREAKING_02)
    project = load(path, kube, helm_bin)
    plan = project.plan()
    change = plan["db"]
    assert change.action == "recover" and change.breaking is not None and change.breaking.uninstall
    assert "uninstall release 'db', then install it afresh (helm history restarts)" in change.destructive
    result = project.apply(plan)
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert history(kube, helm_bin, "db") == [(1, "tiny-app-0.2.0")]  # reinstalled


def test_breaking_version_above_the_target_upgrades_in_place(tmp_path, kube, chart_repo, helm_bin,
                                                             no_log_redactors):
    """installed 0.1.0, breaking 10.0.0 (requires_uninstall), one value changed: plan and exec agree on
    an upgrade; helm's history goes on (revision 2), nothing is uninstalled."""
    folder = tmp_path / "p"
    path = one_release(folder, kube, chart_repo, version="0.1.0", message="one", breaking=BREAKING_10)
    assert load(path, kube, helm_bin).apply().ok
    one_release(folder, kube, chart_repo, version="0.1.0", message="two", breaking=BREAKING_10)
    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert (plan["db"].action, plan["db"].reasons) == ("upgrade", ("values changed: message",))
    assert plan["db"].destructive == ()
    assert project.apply(plan).ok
    assert history(kube, helm_bin, "db") == [(1, "tiny-app-0.1.0"), (2, "tiny-app-0.1.0")]


def test_crossing_the_breaking_version_is_planned_as_reinstall(tmp_path, kube, chart_repo, helm_bin,
                                                               no_log_redactors):
    """0.1.0 -> 0.2.0 across breaking 0.2.0 with a pre-upgrade command: the plan says reinstall and
    lists the command and the uninstall; apply does exactly that (history restarts at 1)."""
    folder = tmp_path / "p"
    path = one_release(folder, kube, chart_repo, version="0.1.0", message="one")
    assert load(path, kube, helm_bin).apply().ok
    kube.run([kube.tools["kubectl"], "create", "configmap", "leftover", "-n", kube.namespace])
    breaking = ('last_breaking_version_requiring_restart = { version = "0.2.0", requires_uninstall = true, '
                f'pre_upgrade_commands = ["kubectl delete configmap leftover --namespace {kube.namespace}"] }}')
    one_release(folder, kube, chart_repo, version="0.2.0", message="one", breaking=breaking)
    project = load(path, kube, helm_bin)
    plan = project.plan()
    change = plan["db"]
    assert change.action == "reinstall"
    assert change.reasons[0] == (
        "breaking version 0.2.0: reinstall (requires_uninstall), runs 1 pre-upgrade command (installed 0.1.0)"
    )
    assert change.destructive == (
        f"run: kubectl delete configmap leftover --namespace {kube.namespace}",
        "uninstall release 'db', then install it afresh (helm history restarts)",
    )
    assert project.apply(plan).ok
    assert history(kube, helm_bin, "db") == [(1, "tiny-app-0.2.0")]
    assert "leftover" not in kube.run([kube.tools["kubectl"], "get", "configmaps", "-n", kube.namespace,
                                       "-o", "name"]).stdout


def test_exec_refuses_a_destructive_step_the_plan_did_not_contain(tmp_path, kube, chart_repo, helm_bin,
                                                                  no_log_redactors):
    """A plan whose change lacks the breaking step exec would take: the release fails at exec, named,
    before anything ran (history unchanged)."""
    folder = tmp_path / "p"
    path = one_release(folder, kube, chart_repo, version="0.1.0", message="one")
    assert load(path, kube, helm_bin).apply().ok
    breaking = 'last_breaking_version_requiring_restart = { version = "0.2.0", requires_uninstall = true }'
    one_release(folder, kube, chart_repo, version="0.2.0", message="one", breaking=breaking)
    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert plan["db"].action == "reinstall"
    hidden = attrs.evolve(plan["db"], action="upgrade", breaking=None, destructive=())
    doctored = attrs.evolve(plan, releases=(hidden,))
    # planned again under the lock, the release is stopped before its lifecycle starts
    first = project.apply(doctored).releases["db"]
    assert first.stage_failed == "check_prerequisites"
    assert "the plan now says reinstall, the earlier plan upgrade" in first.reason
    # carried out as it is, exec's own guard refuses the step
    result = project.apply(doctored, replan=False)
    outcome = result.releases["db"]
    assert not result.ok and outcome.stage_failed == "exec"
    assert "release 'db': exec would take 'breaking version 0.2.0: reinstall" in outcome.reason
    assert "which the plan did not show" in outcome.reason
    assert history(kube, helm_bin, "db") == [(1, "tiny-app-0.1.0")]


# -- one desired state: contributed values and options planned, applied and rendered ------------------


def contrib_config(folder: Path, kube, chart_repo, *, greeting: str, flag: bool = False) -> Path:
    return write_config(folder, f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

        [[deployments.contrib]]
        name = "greeter"
        chart = "tiny-app"
        repository = "{chart_repo.name}"
        version = "0.1.0"
        namespace = "{kube.namespace}"
        timeout = "60s"
        greeting = "{greeting}"
        flag = {str(flag).lower()}
    """)


def load_contrib(path: Path, kube, helm_bin) -> Project:
    from tests.deploy.contrib_plugin import manager

    return Project.load(path, helm_binary=helm_bin, kubeconfig=kube.kubeconfig, env=kube.env,
                        kubectl_binary=kube.tools["kubectl"], manager=manager())


def test_plugin_contributed_values_and_options_are_planned_applied_and_rendered(
        tmp_path, kube, chart_repo, helm_bin, no_log_redactors):
    folder = tmp_path / "p"
    path = contrib_config(folder, kube, chart_repo, greeting="one")
    project = load_contrib(path, kube, helm_bin)
    assert project.apply().ok
    values = json.loads(kube.run([helm_bin, "get", "values", "greeter", "-n", kube.namespace,
                                  "-o", "json"]).stdout)
    assert values["message"] == "one"  # the contributed value reached helm
    assert not load_contrib(path, kube, helm_bin).plan().has_changes

    # an option that becomes a value: planned with both reasons, applied, rendered the same
    contrib_config(folder, kube, chart_repo, greeting="two")
    project = load_contrib(path, kube, helm_bin)
    plan = project.plan()
    assert (plan["greeter"].action, plan["greeter"].reasons) == (
        "upgrade", ("values changed: message", "option greeting changed"))
    assert project.apply(plan).ok
    manifest = kube.run([helm_bin, "get", "manifest", "greeter", "-n", kube.namespace]).stdout
    assert "two" in manifest
    rendered = load_contrib(path, kube, helm_bin).template()["greeter"]
    assert "two" in rendered

    # an option that acts after helm only: still a planned change, then nothing
    contrib_config(folder, kube, chart_repo, greeting="two", flag=True)
    project = load_contrib(path, kube, helm_bin)
    plan = project.plan()
    assert (plan["greeter"].action, plan["greeter"].reasons) == ("upgrade", ("option flag changed",))
    assert project.apply(plan).ok
    assert not load_contrib(path, kube, helm_bin).plan().has_changes


# -- recovery after a kill: helm finished what a killed firestream started ---------------------------


def _wait_for(predicate, what: str, limit: float = 90.0) -> None:
    import time

    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def _helm_status(kube, helm_bin, name: str) -> str | None:
    for r in kube.helm(helm_bin).list_releases():
        if r.name == name and r.namespace == kube.namespace:
            return r.status
    return None


def cli(path: Path, kube, helm_bin, *args: str, **popen):
    import os
    import subprocess
    import sys

    argv = [sys.executable, "-m", "firestream_core.cli.main", *args, "-f", str(path),
            "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig)]
    env = {**os.environ, **kube.env}
    if popen:
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, **popen)  # noqa: S603
    return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,  # noqa: S603
                          timeout=300, check=False)


def state_entry(path: Path, kube, name: str) -> dict | None:
    state = json.loads((path.parent / ".firestream" / "state.json").read_text())
    return state["releases"].get(f"{kube.namespace}/{name}")


def test_a_release_helm_finished_after_a_kill_is_recorded_by_the_next_apply(
        tmp_path, kube, chart_repo, helm_bin, no_log_redactors):
    import signal
    import subprocess

    folder = tmp_path / "p"
    path = one_release(folder, kube, chart_repo, version="0.1.0", message="one")
    assert load(path, kube, helm_bin).apply().ok
    assert state_entry(path, kube, "db")["revision"] == 1

    # kill -9 firestream while its `helm upgrade --wait` runs; helm (its own session) completes
    one_release(folder, kube, chart_repo, version="0.1.0", message="two")
    kube.cluster.set_controller(False)
    proc = cli(path, kube, helm_bin, "apply", "--yes", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: _helm_status(kube, helm_bin, "db") == "pending-upgrade", "pending-upgrade")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kube.cluster.set_controller(True)
    _wait_for(lambda: _helm_status(kube, helm_bin, "db") == "deployed", "helm to finish on its own")
    assert state_entry(path, kube, "db")["revision"] == 1  # stale: firestream never recorded it

    plan = load(path, kube, helm_bin).plan()
    assert plan["db"].action == "no-op" and plan["db"].record_state
    assert plan["db"].reasons == ("matches the cluster (state was stale: revision 1 recorded, 2 in the cluster)",)
    done = cli(path, kube, helm_bin, "apply", "--yes")
    assert done.returncode == 0, done.stderr
    assert "Recorded 'db' in the state: the cluster already matches its desired state (revision 2;" in done.stdout
    assert "Nothing to do." in done.stdout
    assert state_entry(path, kube, "db")["revision"] == 2
    again = load(path, kube, helm_bin).plan()
    assert (again["db"].action, again["db"].reasons, again["db"].record_state) == ("no-op", ("up to date",), False)
    assert history(kube, helm_bin, "db") == [(1, "tiny-app-0.1.0"), (2, "tiny-app-0.1.0")]


def test_a_release_missing_from_the_state_is_recorded(tmp_path, kube, chart_repo, helm_bin, no_log_redactors):
    folder = tmp_path / "p"
    path = one_release(folder, kube, chart_repo, version="0.1.0", message="one")
    assert load(path, kube, helm_bin).apply().ok
    state_file = path.parent / ".firestream" / "state.json"
    state = json.loads(state_file.read_text())
    state["releases"] = {}
    state_file.write_text(json.dumps(state))
    done = cli(path, kube, helm_bin, "apply", "--yes")
    assert done.returncode == 0, done.stderr
    assert "Recorded 'db' in the state" in done.stdout and "(not yet recorded in state)" in done.stdout
    assert state_entry(path, kube, "db")["revision"] == 1
    assert load(path, kube, helm_bin).plan()["db"].reasons == ("up to date",)


def test_after_a_rollback_to_what_the_config_says_the_plan_changes_nothing(tmp_path, kube, chart_repo, helm_bin,
                                                                          no_log_redactors):
    """Rolled back, then the config changed to what the rolled-back revision runs (the operator
    keeps the rollback): the plan says nothing is to do and why, apply records it, no revision."""
    folder = tmp_path / "p"
    path = one_release(folder, kube, chart_repo, version="0.1.0", message="one")
    assert load(path, kube, helm_bin).apply().ok
    one_release(folder, kube, chart_repo, version="0.1.0", message="two")
    assert load(path, kube, helm_bin).apply().ok
    assert cli(path, kube, helm_bin, "rollback", "db", "--to-revision", "1", "--yes").returncode == 0
    one_release(folder, kube, chart_repo, version="0.1.0", message="one")  # the config follows the rollback

    done = cli(path, kube, helm_bin, "plan", "--detailed-exitcode")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "matches the config: rolled back to an earlier revision by 'firestream rollback' (revision 3)" \
        in done.stdout
    assert cli(path, kube, helm_bin, "apply", "--yes").returncode == 0
    helm = kube.helm(helm_bin)
    assert [r["revision"] for r in helm.history("db", kube.namespace)][-1] == 3  # nothing was upgraded
    assert load(path, kube, helm_bin).plan()["db"].reasons == ("up to date",)


# -- saved plans: plan --out FILE, apply FILE ------------------------------------------------------------

PLAN_SECRET = "Zq9-saved-plan-secret-5521"


def secret_config(folder: Path, kube, chart_repo, *, message: str) -> Path:
    return write_config(folder, f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

        [[deployments.generic]]
        name = "web"
        chart = "tiny-app"
        repository = "{chart_repo.name}"
        version = "0.1.0"
        namespace = "{kube.namespace}"
        timeout = "60s"
        [deployments.generic.values]
        message = "{message}"
        [deployments.generic.secret_values]
        password = {{ env = "SAVED_PLAN_SECRET" }}
    """)


def test_saved_plan_is_applied_exactly_and_holds_no_secret(tmp_path, kube, chart_repo, helm_bin, monkeypatch,
                                                           no_log_redactors):
    monkeypatch.setenv("SAVED_PLAN_SECRET", PLAN_SECRET)
    path = secret_config(tmp_path / "p", kube, chart_repo, message="one")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text("an older plan\n")
    plan_file.chmod(0o644)
    made = cli(path, kube, helm_bin, "plan", "--out", str(plan_file))
    assert made.returncode == 0, made.stderr
    assert f"Plan saved to {plan_file}" in made.stdout
    # the owner's alone, as the state: it holds the digest of the values, secrets included
    assert stat.S_IMODE(plan_file.stat().st_mode) == 0o600
    text = plan_file.read_text()
    assert PLAN_SECRET not in text and "one" not in text  # no value, secret or not
    saved = json.loads(text)
    assert saved["releases"][0]["action"] == "create"
    assert saved["releases"][0]["cluster"] == {"revision": None, "status": None}
    assert saved["releases"][0]["desired_digest"].startswith("hmac-sha256:")  # keyed: no guess checks it

    done = cli(path, kube, helm_bin, "apply", "--yes", str(plan_file))
    assert done.returncode == 0, done.stderr
    assert PLAN_SECRET not in done.stdout + done.stderr
    assert history(kube, helm_bin, "web") == [(1, "tiny-app-0.1.0")]
    # the cluster has changed since: the same file is refused now, naming the release
    again = cli(path, kube, helm_bin, "apply", "--yes", str(plan_file))
    assert again.returncode == 1
    assert ("refusing to apply the saved plan: release 'web': the cluster changed since the plan was saved "
            "(the plan saw not installed, now revision 1 (deployed))") in again.stderr
    assert history(kube, helm_bin, "web") == [(1, "tiny-app-0.1.0")]


def test_a_saved_plan_holds_no_digest_a_guessed_secret_can_be_checked_against(
        tmp_path, kube, chart_repo, helm_bin, monkeypatch, no_log_redactors):
    """The file's digests are keyed with the project's plan key (0600, beside the state): the
    plain desired-state digest, which anyone with the checkout computes for a guessed password,
    is not in it; a secret changed after the review is still refused; without the key, refused."""
    monkeypatch.setenv("SAVED_PLAN_SECRET", PLAN_SECRET)
    path = secret_config(tmp_path / "p", kube, chart_repo, message="one")
    plan_file = tmp_path / "plan.json"
    assert cli(path, kube, helm_bin, "plan", "--out", str(plan_file)).returncode == 0
    recorded = json.loads(plan_file.read_text())["releases"][0]["desired_digest"]
    plain = load(path, kube, helm_bin).plan()["web"].desired_digest  # the right guess
    assert plain is not None and plain.startswith("sha256:")
    assert recorded != plain and recorded.startswith("hmac-sha256:")
    from firestream_core.deploy.saved import keyed_digest

    key_file = path.parent / ".firestream" / "plan.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert recorded == keyed_digest(bytes.fromhex(key_file.read_text().strip()), plain)

    monkeypatch.setenv("SAVED_PLAN_SECRET", PLAN_SECRET + "-rotated")  # after the review
    refused = cli(path, kube, helm_bin, "apply", "--yes", str(plan_file))
    assert refused.returncode == 1
    assert "release 'web': its desired state changed since the plan was saved" in refused.stderr
    monkeypatch.setenv("SAVED_PLAN_SECRET", PLAN_SECRET)

    key = key_file.read_bytes()
    key_file.unlink()  # another checkout: the plan cannot be checked there
    refused = cli(path, kube, helm_bin, "apply", "--yes", str(plan_file))
    assert refused.returncode == 1
    assert f"cannot check the saved plan: the project's plan key {key_file} is missing" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert load(path, kube, helm_bin).plan()["web"].action == "create"  # nothing installed
    assert not key_file.exists()  # apply never makes one
    key_file.write_bytes(key)
    done = cli(path, kube, helm_bin, "apply", "--yes", str(plan_file))
    assert done.returncode == 0, done.stderr
    assert history(kube, helm_bin, "web") == [(1, "tiny-app-0.1.0")]


def test_saved_plan_is_refused_when_the_config_changed(tmp_path, kube, chart_repo, helm_bin, monkeypatch,
                                                      no_log_redactors):
    monkeypatch.setenv("SAVED_PLAN_SECRET", PLAN_SECRET)
    path = secret_config(tmp_path / "p", kube, chart_repo, message="one")
    assert load(path, kube, helm_bin).apply().ok
    secret_config(tmp_path / "p", kube, chart_repo, message="two")
    plan_file = tmp_path / "plan.json"
    assert cli(path, kube, helm_bin, "plan", "--out", str(plan_file)).returncode == 0
    secret_config(tmp_path / "p", kube, chart_repo, message="three")  # edited after the review
    refused = cli(path, kube, helm_bin, "apply", "--yes", str(plan_file))
    assert refused.returncode == 1
    assert "release 'web': its desired state changed since the plan was saved" in refused.stderr
    assert history(kube, helm_bin, "web") == [(1, "tiny-app-0.1.0")]
    # the reviewed config back: the saved plan is carried out
    secret_config(tmp_path / "p", kube, chart_repo, message="two")
    done = cli(path, kube, helm_bin, "apply", "--yes", str(plan_file))
    assert done.returncode == 0, done.stderr
    assert history(kube, helm_bin, "web") == [(1, "tiny-app-0.1.0"), (2, "tiny-app-0.1.0")]


def test_saved_plan_for_one_context_is_refused_in_another_and_taken_to_its_own(
        tmp_path, kube, chart_repo, helm_bin, monkeypatch, no_log_redactors):
    """Two contexts on the one emulator: applied with the wrong one, the plan would deploy there."""
    import yaml

    config = yaml.safe_load(kube.kubeconfig.read_text())
    config["contexts"].append({"name": "staging", "context": {"cluster": "emu", "user": "emu"}})
    kube.kubeconfig.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("SAVED_PLAN_SECRET", PLAN_SECRET)
    path = secret_config(tmp_path / "p", kube, chart_repo, message="one")
    path.write_text(path.read_text() + '\n[environments.prod]\nkube_context = "emu"\n'
                    '[environments.staging]\nkube_context = "staging"\n')
    plan_file = tmp_path / "prod.json"
    made = cli(path, kube, helm_bin, "plan", "-e", "prod", "--out", str(plan_file))
    assert made.returncode == 0, made.stderr

    refused = cli(path, kube, helm_bin, "apply", "-e", "staging", "--yes", str(plan_file))
    assert refused.returncode == 1, refused.stdout
    assert _helm_status(kube, helm_bin, "web") is None
    assert ("refusing to apply the saved plan: the plan was made for environment 'prod', this run is for "
            f"environment 'staging'; the plan was made against kube context 'emu' (server {kube.url}), "
            f"this run uses kube context 'staging' (server {kube.url})") in refused.stderr
    refused = cli(path, kube, helm_bin, "apply", "-e", "prod", "--kube-context", "staging", "--yes", str(plan_file))
    assert refused.returncode == 1
    assert "this run uses kube context 'staging'" in refused.stderr
    assert "--kube-context emu" in refused.stderr  # the hint names the plan's context
    assert _helm_status(kube, helm_bin, "web") is None  # nothing deployed anywhere
    assert not (path.parent / ".firestream" / "state.staging@staging.json").exists()
    assert f"'firestream apply -f {path} --kubeconfig {kube.kubeconfig} -e prod {plan_file}'" in made.stdout
    assert json.loads(plan_file.read_text())["kube"] == {"context": "emu", "server": kube.url}

    # without -e: the plan's environment, its context
    done = cli(path, kube, helm_bin, "apply", "--yes", str(plan_file))
    assert done.returncode == 0, done.stderr
    assert history(kube, helm_bin, "web") == [(1, "tiny-app-0.1.0")]
    assert (path.parent / ".firestream" / "state.prod@emu.json").exists()


# -- an option that acts after helm only: kafka's kafka_cluster ------------------------------------------

KAFKA_CHART = Path(__file__).resolve().parents[2] / "plugins/firestream-chart-kafka/tests/charts/strimzi-kafka-operator"
KAFKA = "kafkas.kafka.strimzi.io"


def kafka_config(folder: Path, kube, repo, cluster: str = "") -> Path:
    return write_config(folder, f"""
        [repositories]
        strimzi = "{repo.url}"

        [[deployments.kafka]]
        name = "streams"
        preset = "strimzi_operator"
        namespace = "{kube.namespace}"
        timeout = "60s"
        {cluster}
    """)


def test_adding_a_kafka_cluster_to_a_deployed_operator_is_planned_and_applied(
        tmp_path, kube, make_chart_repo, helm_bin, no_log_redactors):
    import time
    from concurrent.futures import ThreadPoolExecutor

    repo = make_chart_repo([KAFKA_CHART], "strimzi", versions={"strimzi-kafka-operator": ["1.2.0"]})  # the default
    folder = tmp_path / "p"
    path = kafka_config(folder, kube, repo)
    try:
        assert load(path, kube, helm_bin).apply().ok
        assert not load(path, kube, helm_bin).plan().has_changes

        kafka_config(folder, kube, repo, 'kafka_cluster = { name = "events", replicas = 1, storage = "ephemeral" }')
        project = load(path, kube, helm_bin)
        plan = project.plan()
        # the option, and the cluster it asks for that is not there yet (post_exec creates it)
        assert (plan["streams"].action, plan["streams"].reasons) == ("upgrade", (
            "option kafka_cluster changed",
            f"Kafka cluster 'events' and node pool 'events-nodes' (namespace '{kube.namespace}') missing: "
            "post_exec creates them"))

        def act_as_the_operator() -> None:  # the emulator runs no Strimzi: report Ready once created
            deadline = time.monotonic() + 60
            while kube.kubectl().get(KAFKA, "events", namespace=kube.namespace) is None:
                assert time.monotonic() < deadline, "the plugin never created Kafka events"
                time.sleep(0.05)
            kube.run([kube.tools["kubectl"], "patch", KAFKA, "events", "-n", kube.namespace,
                      "--subresource=status", "--type=merge", "-p",
                      json.dumps({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})])

        with ThreadPoolExecutor(1) as pool:
            operator = pool.submit(act_as_the_operator)
            result = project.apply(plan)
            operator.result(timeout=90)
        assert result.ok, result.releases["streams"].reason
        assert kube.kubectl().get(KAFKA, "events", namespace=kube.namespace) is not None
        assert not load(path, kube, helm_bin).plan().has_changes
    finally:
        kube.run([helm_bin, "uninstall", "streams", "-n", kube.namespace, "--wait"], check=False)


# -- what the state cannot vouch for: a rollback, a lost state ---------------------------------------


def test_after_a_rollback_the_plan_brings_the_release_back_to_the_config(tmp_path, kube, chart_repo, helm_bin,
                                                                         no_log_redactors):
    """``firestream rollback`` runs an older revision: the next plan says so and which values
    differ from helm's, apply upgrades back to the config, and only then is it up to date."""
    folder = tmp_path / "p"
    path = one_release(folder, kube, chart_repo, version="0.1.0", message="one")
    assert load(path, kube, helm_bin).apply().ok
    one_release(folder, kube, chart_repo, version="0.1.0", message="two")
    assert load(path, kube, helm_bin).apply().ok
    done = cli(path, kube, helm_bin, "rollback", "db", "--to-revision", "1", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    helm = kube.helm(helm_bin)
    assert helm.get_values("db", kube.namespace)["message"] == "one"

    done = cli(path, kube, helm_bin, "plan", "--detailed-exitcode")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "rolled back to an earlier revision by 'firestream rollback' (revision 3)" in done.stdout
    assert "values changed: message" in done.stdout
    assert done.stdout.count("Plan: 1 to upgrade.") == 1, done.stdout
    assert cli(path, kube, helm_bin, "apply", "--yes").returncode == 0
    assert helm.get_values("db", kube.namespace)["message"] == "two"
    assert load(path, kube, helm_bin).plan()["db"].reasons == ("up to date",)


def test_a_local_chart_whose_state_was_lost_is_upgraded_not_recorded(tmp_path, kube, helm_bin, no_log_redactors):
    """Without a state entry the files a local chart's release runs cannot be compared: a template
    changed meanwhile is deployed by the next apply instead of being recorded as matching."""
    folder = tmp_path / "p"
    chart = folder / "charts" / "app"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n"
        "  message: {{ .Values.message | quote }}\n")
    path = write_config(folder, f"""
        [[deployments.generic]]
        name = "solo"
        path = "charts/app"
        namespace = "{kube.namespace}"
        timeout = "60s"
        [deployments.generic.values]
        message = "hello"
    """)
    assert load(path, kube, helm_bin).apply().ok
    (chart / "templates" / "cm.yaml").write_text((chart / "templates" / "cm.yaml").read_text()
                                                 + '  extra: "new-key"\n')
    (folder / ".firestream" / "state.json").unlink()

    plan = load(path, kube, helm_bin).plan()
    assert (plan["solo"].action, plan["solo"].reasons) == ("upgrade", ("chart files not recorded in state",))
    assert load(path, kube, helm_bin).apply(plan).ok
    live = kube.kubectl().get("configmap", "solo-cm", namespace=kube.namespace)
    assert live["data"] == {"message": "hello", "extra": "new-key"}
    assert load(path, kube, helm_bin).plan()["solo"].reasons == ("up to date",)


def test_a_local_chart_archive_is_planned_by_the_chart_it_holds_and_converges(tmp_path, kube, helm_bin,
                                                                              no_log_redactors):
    """``path`` naming a packaged chart (``.tgz``): the plan names the chart and version inside the archive,
    as helm installs them, whatever the file or the config's ``version`` say. It named the file
    (``app-0.3.0.tgz``) and the config's version, so every plan after the apply showed ``chart changed
    app -> app-0.3.0.tgz``; a new archive is an upgrade to its version."""
    import subprocess

    folder = tmp_path / "p"
    src = folder / "src" / "app"
    (src / "templates").mkdir(parents=True)
    (src / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n"
        "  version: {{ .Chart.Version | quote }}\n")

    def package(version: str) -> None:
        (src / "Chart.yaml").write_text(f"apiVersion: v2\nname: app\nversion: {version}\n")
        done = subprocess.run([str(helm_bin), "package", str(src), "--destination", str(folder)],  # noqa: S603
                              capture_output=True, text=True, env=kube.env, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        (folder / f"app-{version}.tgz").replace(folder / "vendored.tgz")  # named unlike the chart

    package("0.3.0")
    path = write_config(folder, f"""
        [[deployments.generic]]
        name = "arch"
        path = "vendored.tgz"
        version = "9.9.9"
        namespace = "{kube.namespace}"
        timeout = "60s"
    """)
    plan = load(path, kube, helm_bin).plan()
    assert (plan["arch"].desired_chart, plan["arch"].desired_version) == ("app", "0.3.0")
    assert load(path, kube, helm_bin).apply(plan).ok
    assert load(path, kube, helm_bin).plan()["arch"].action == "no-op"
    package("0.4.0")
    plan = load(path, kube, helm_bin).plan()
    assert plan["arch"].action == "upgrade"
    assert "version changed 0.3.0 -> 0.4.0" in plan["arch"].reasons
    assert load(path, kube, helm_bin).apply(plan).ok
    assert kube.kubectl().get("configmap", "arch-cm", namespace=kube.namespace)["data"] == {"version": "0.4.0"}
    assert load(path, kube, helm_bin).plan()["arch"].action == "no-op"


# -- version constraints: planned at the version helm installs ------------------------------------------


def publish(repo, helm_bin, folder: Path, version: str, replicas: str | None = None) -> None:
    """Package tiny-app at ``version`` into the served ``repo`` (re-indexed): a newer chart appears."""
    import shutil

    from firestream_testing.chartrepo import FIXTURE_CHARTS_DIR, package_charts

    source = folder / f"tiny-app-{version}" / "tiny-app"
    shutil.copytree(FIXTURE_CHARTS_DIR / "tiny-app", source)
    if replicas is not None:  # the new version's template changes what runs, whatever the values say
        deployment = source / "templates" / "deployment.yaml"
        deployment.write_text(deployment.read_text().replace("{{ .Values.replicaCount }}", replicas))
    package_charts(helm_bin, [source], repo.root, versions={"tiny-app": [version]})


def constrained(folder: Path, kube, repo, *, message: str) -> Path:
    return write_config(folder, f"""
        [repositories]
        {repo.name} = "{repo.url}"

        [[deployments.generic]]
        name = "rel"
        chart = "{repo.name}/tiny-app"
        version = "^0.1"
        namespace = "{kube.namespace}"
        timeout = "60s"
        [deployments.generic.values]
        message = "{message}"
    """)


def test_a_version_constraint_is_planned_at_the_version_apply_installs(tmp_path, kube, make_chart_repo, helm_bin,
                                                                       no_log_redactors):
    """``version = "^0.1"`` with 0.1.0 served, then 0.1.1 published (its template sets 3 replicas):
    the plan says so with nothing else changed, and with a value changed too; apply installs
    exactly 0.1.1 (the new template runs), the state records it, the next plan is up to date."""
    repo = make_chart_repo([], "versions")
    publish(repo, helm_bin, tmp_path, "0.1.0")
    folder = tmp_path / "p"
    path = constrained(folder, kube, repo, message="one")
    assert load(path, kube, helm_bin).apply().ok
    assert history(kube, helm_bin, "rel") == [(1, "tiny-app-0.1.0")]
    assert state_entry(path, kube, "rel")["version"] == "0.1.0"
    assert load(path, kube, helm_bin).plan()["rel"].reasons == ("up to date",)

    publish(repo, helm_bin, tmp_path, "0.1.1", replicas="3")
    plan = load(path, kube, helm_bin).plan()
    assert (plan["rel"].action, plan["rel"].reasons) == ("upgrade", ("version changed 0.1.0 -> 0.1.1 (^0.1)",))

    constrained(folder, kube, repo, message="two")
    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert plan["rel"].reasons == ("version changed 0.1.0 -> 0.1.1 (^0.1)", "values changed: message")
    assert "replicas: 3" in project.template()["rel"]  # rendered as applied
    assert project.apply(plan).ok
    assert history(kube, helm_bin, "rel") == [(1, "tiny-app-0.1.0"), (2, "tiny-app-0.1.1")]
    live = kube.kubectl().get("deployment", "rel-tiny-app", namespace=kube.namespace)
    assert live["spec"]["replicas"] == 3
    assert state_entry(path, kube, "rel")["version"] == "0.1.1"
    assert load(path, kube, helm_bin).plan()["rel"].reasons == ("up to date",)


def test_a_saved_plan_is_refused_when_a_newer_version_matches_since(tmp_path, kube, make_chart_repo, helm_bin,
                                                                    no_log_redactors):
    """The plan saved with 0.1.0 the newest match of ``^0.1``; 0.1.1 published before the apply:
    the saved plan is refused (its desired state named 0.1.0), nothing is installed."""
    repo = make_chart_repo([], "versions")
    publish(repo, helm_bin, tmp_path, "0.1.0")
    folder = tmp_path / "p"
    path = constrained(folder, kube, repo, message="one")
    assert load(path, kube, helm_bin).apply().ok
    constrained(folder, kube, repo, message="two")
    plan_file = tmp_path / "plan.json"
    made = cli(path, kube, helm_bin, "plan", "--out", str(plan_file))
    assert made.returncode == 0, made.stderr
    assert "values changed: message" in made.stdout and "version changed" not in made.stdout

    publish(repo, helm_bin, tmp_path, "0.1.1", replicas="3")
    refused = cli(path, kube, helm_bin, "apply", "--yes", str(plan_file))
    assert refused.returncode == 1
    assert "release 'rel': its desired state changed since the plan was saved" in refused.stderr
    assert history(kube, helm_bin, "rel") == [(1, "tiny-app-0.1.0")]


def test_removing_the_last_value_removes_it_from_the_release(tmp_path, kube, chart_repo, helm_bin,
                                                             no_log_redactors):
    """The plan shows ``message: changed -> (none)``; helm given no values at all reuses the last
    revision's unless told otherwise, so the cluster kept the old message while the state
    recorded the new config (and the next plan said no changes)."""
    folder = tmp_path / "p"
    path = one_release(folder, kube, chart_repo, version="0.1.0", message="changed")
    assert load(path, kube, helm_bin).apply().ok
    path.write_text(path.read_text().split("[deployments.generic.values]")[0])
    project = load(path, kube, helm_bin)
    plan = project.plan()
    (change,) = plan.releases
    assert change.action == "upgrade" and ("message", "changed", "(none)") in change.value_changes
    assert project.apply(plan).ok
    held = json.loads(kube.run([helm_bin, "get", "values", "db", "-n", kube.namespace, "-o", "json"]).stdout)
    assert not held  # helm prints null or {} for no values
    manifest = kube.run([helm_bin, "get", "manifest", "db", "-n", kube.namespace]).stdout
    assert "hello from tiny-app" in manifest and "changed" not in manifest


def two_releases(folder: Path, kube, chart_repo, *, message: str, web: str | None = None,
                 web_needs_db: bool = False) -> Path:
    """db and web of tiny-app 0.1.0, each with ``message`` (web's own: ``web``); web depends on
    db with ``web_needs_db``."""
    return write_config(folder, f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

        [defaults]
        timeout = "60s"

    """ + release_blocks([("db", [], {"message": message}),
                          ("web", ["db"] if web_needs_db else [], {"message": web or message})],
                         chart="tiny-app", repository=chart_repo.name, namespace=kube.namespace,
                         version="0.1.0"))


def test_library_apply_stops_a_create_installed_by_hand_since_the_plan(tmp_path, kube, chart_repo, helm_bin,
                                                                         no_log_redactors):
    """project.plan(), then someone installs a release the plan creates, then project.apply(plan):
    that release is stopped before any change, its reason naming what changed; the other one is
    created as planned (the library used to upgrade the release installed by hand, unseen)."""
    path = two_releases(tmp_path / "p", kube, chart_repo, message="one")
    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert [(c.name, c.action) for c in plan.releases] == [("db", "create"), ("web", "create")]
    kube.run([helm_bin, "install", "web", str(chart_repo.tgz("tiny-app", "0.1.0")), "-n", kube.namespace,
              "--create-namespace"])
    result = project.apply(plan)
    web = result.releases["web"]
    assert (web.result, web.stage_failed) == ("failed", "check_prerequisites")
    assert ("release 'web' failed at check_prerequisites: the cluster changed since the plan was made (the plan saw not installed, "
            "now revision 1 (deployed)); nothing of it was changed") in web.reason
    assert result.releases["db"].ok
    assert history(kube, helm_bin, "web") == [(1, "tiny-app-0.1.0")]  # not upgraded
    assert history(kube, helm_bin, "db") == [(1, "tiny-app-0.1.0")]
    # a plan made now shows the upgrade, and is carried out
    again = project.plan()
    assert again["web"].action == "upgrade"
    assert project.apply(again).ok
    assert [r for r, _ in history(kube, helm_bin, "web")] == [1, 2]


def test_library_apply_and_destroy_stop_a_release_changed_by_hand_since_the_plan(
        tmp_path, kube, chart_repo, helm_bin, no_log_redactors):
    """An upgrade planned, its release uninstalled by hand before apply: stopped (apply would have
    installed it afresh, which the plan did not show), and what depends on it skipped; a destroy
    plan of a release upgraded by hand since is stopped too."""
    folder = tmp_path / "p"
    path = two_releases(folder, kube, chart_repo, message="one", web_needs_db=True)
    assert load(path, kube, helm_bin).apply().ok
    path = two_releases(folder, kube, chart_repo, message="two", web_needs_db=True)
    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert [(c.name, c.action) for c in plan.releases] == [("db", "upgrade"), ("web", "upgrade")]
    kube.run([helm_bin, "uninstall", "db", "-n", kube.namespace])
    result = project.apply(plan)
    db = result.releases["db"]
    assert (db.result, db.stage_failed) == ("failed", "check_prerequisites")
    assert ("release 'db' failed at check_prerequisites: the cluster changed since the plan was made (the plan saw revision 1 (deployed), "
            "now not installed)") in db.reason
    assert result.releases["web"].result == "skipped"
    assert "db" not in {r.name for r in kube.helm(helm_bin).list_releases() if r.namespace == kube.namespace}
    assert history(kube, helm_bin, "web") == [(1, "tiny-app-0.1.0")]

    gone = project.plan(["web"], destroy=True)
    kube.run([helm_bin, "upgrade", "web", str(chart_repo.tgz("tiny-app", "0.2.0")), "-n", kube.namespace])
    result = project.destroy(plan=gone)
    web = result.releases["web"]
    assert web.result == "failed"
    assert ("release 'web' failed at check_prerequisites: the cluster changed since the plan was made (the plan saw revision 1 (deployed), "
            "now revision 2 (deployed))") in web.reason
    assert history(kube, helm_bin, "web")[-1] == (2, "tiny-app-0.2.0")  # still installed


def test_library_apply_stops_a_change_whose_unchanged_dependency_was_uninstalled_since_the_plan(
        tmp_path, kube, chart_repo, helm_bin, no_log_redactors):
    """db and web (web depends on db) deployed; only web changes; db uninstalled by hand between
    plan() and apply(plan): web is stopped before any change, its reason naming db (it runs only
    once db is deployed, which the plan saw it be); db is not installed afresh either (the plan
    left it alone)."""
    folder = tmp_path / "p"
    path = two_releases(folder, kube, chart_repo, message="one", web_needs_db=True)
    assert load(path, kube, helm_bin).apply().ok
    path = two_releases(folder, kube, chart_repo, message="one", web="two", web_needs_db=True)
    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert [(c.name, c.action) for c in plan.releases] == [("db", "no-op"), ("web", "upgrade")]
    kube.run([helm_bin, "uninstall", "db", "-n", kube.namespace])
    result = project.apply(plan)
    web = result.releases["web"]
    assert (web.result, web.stage_failed) == ("failed", "check_prerequisites")
    assert ("release 'web' failed at check_prerequisites: its dependency 'db' (which the plan leaves as it is): "
            "the cluster changed since the plan was made (the plan saw revision 1 (deployed), now not installed); "
            "nothing of it was changed") in web.reason, web.reason
    assert history(kube, helm_bin, "web") == [(1, "tiny-app-0.1.0")]  # not upgraded
    assert "db" not in {r.name for r in kube.helm(helm_bin).list_releases() if r.namespace == kube.namespace}
