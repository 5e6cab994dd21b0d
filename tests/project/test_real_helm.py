"""Project against the emulated cluster with the real helm 3 and helm 4 (marked ``helm``)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firestream_core.cli.main import main
from firestream_core.deploy.results import ApplyEvent
from firestream_core.plugin.spec import STAGES
from firestream_core.project import Project
from firestream_core.state.store import StateStore

from .conftest import release_blocks, write_config

pytestmark = pytest.mark.helm

SECRET = "Zq9-import-secret-7731"


def load(path: Path, kube, helm_bin) -> Project:
    return Project.load(path, helm_binary=helm_bin, kubeconfig=kube.kubeconfig, env=kube.env,
                        kubectl_binary=kube.tools["kubectl"])


def five_release_config(folder: Path, kube, chart_repo, web_message: str = "v1") -> Path:
    releases = [
        ("db", [], {"message": "db"}),
        ("cache", [], {"message": "cache"}),
        ("queue", [], {"message": "queue"}),
        ("api", ["db", "cache"], {"message": "api"}),
        ("web", ["api", "queue"], {"message": web_message}),
    ]
    body = release_blocks(releases, chart="tiny-app", repository=chart_repo.name,
                          namespace=kube.namespace, version="0.2.0")
    return write_config(folder, f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

        [defaults]
        timeout = "60s"

    """ + body)


def revisions(kube, helm_bin) -> dict[str, int]:
    return {r.name: r.revision for r in kube.helm(helm_bin).list_releases() if r.namespace == kube.namespace}


def test_create_noop_upgrade_destroy(tmp_path, kube, chart_repo, helm_bin, no_log_redactors):
    path = five_release_config(tmp_path / "p", kube, chart_repo)
    project = load(path, kube, helm_bin)
    deps = {"db": [], "cache": [], "queue": [], "api": ["db", "cache"], "web": ["api", "queue"]}

    # create: every release, each after its dependencies
    events: list[ApplyEvent] = []
    result = project.apply(on_event=events.append)
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert {o.action for o in result.releases.values()} == {"create"}
    started = {e.release: i for i, e in enumerate(events) if e.kind == "started"}
    finished = {e.release: i for i, e in enumerate(events) if e.kind == "finished"}
    for name, needs in deps.items():
        assert all(finished[d] < started[name] for d in needs), name
        # each stage reported once it starts (validate again per poll), between start and finish
        stages = [(i, e.stage) for i, e in enumerate(events) if e.kind == "stage" and e.release == name]
        assert list(dict.fromkeys(s for _, s in stages)) == list(STAGES), name
        assert all(started[name] < i < finished[name] for i, _ in stages), name
        assert {e.action for e in events if e.kind == "stage" and e.release == name} == {"create"}
    assert revisions(kube, helm_bin) == dict.fromkeys(deps, 1)

    # no-op: nothing to do, nothing run
    plan = load(path, kube, helm_bin).plan()
    assert not plan.has_changes, [(c.name, c.reasons) for c in plan.releases]
    again = load(path, kube, helm_bin).apply()
    assert again.ok and {o.action for o in again.releases.values()} == {"no-op"}
    assert revisions(kube, helm_bin) == dict.fromkeys(deps, 1)

    # one value changed: only that release is upgraded
    five_release_config(tmp_path / "p", kube, chart_repo, web_message="v2")
    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert [(c.name, c.action) for c in plan.changes] == [("web", "upgrade")]
    assert plan["web"].reasons == ("values changed: message",)
    result = project.apply(plan)
    assert result.ok
    assert revisions(kube, helm_bin) == {**dict.fromkeys(deps, 1), "web": 2}

    # destroy: reverse order, every release gone
    events = []
    result = load(path, kube, helm_bin).destroy(on_event=events.append)
    assert result.ok and {o.action for o in result.releases.values()} == {"destroy"}
    started = {e.release: i for i, e in enumerate(events) if e.kind == "started"}
    finished = {e.release: i for i, e in enumerate(events) if e.kind == "finished"}
    for name, needs in deps.items():
        assert all(finished[name] < started[d] for d in needs), name
    assert revisions(kube, helm_bin) == {}


def _wait_for(predicate, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def _status(kube, helm_bin, name: str) -> str | None:
    for r in kube.helm(helm_bin).list_releases():
        if r.name == name and r.namespace == kube.namespace:
            return r.status
    return None


def test_pending_release_is_recovered(tmp_path, kube, chart_repo, helm_bin, no_log_redactors):
    path = write_config(tmp_path / "p", f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

    """ + release_blocks([("app", [], {"message": "one"})], chart="tiny-app",
                         repository=chart_repo.name, namespace=kube.namespace, version="0.2.0"))
    assert load(path, kube, helm_bin).apply().ok

    # an upgrade that waits for pods that never get ready, killed mid-way
    kube.cluster.set_controller(False)
    kube.run([helm_bin, "repo", "add", chart_repo.name, chart_repo.url])
    proc = subprocess.Popen(  # noqa: S603 - the test plays a helm killed by its user
        [str(helm_bin), "upgrade", "app", chart_repo.ref("tiny-app"), "--version", "0.2.0",
         "-n", kube.namespace, "--wait", "--timeout", "120s", "--set", "message=two"],
        env=kube.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _status(kube, helm_bin, "app") == "pending-upgrade", "pending-upgrade")
    finally:
        proc.kill()
        proc.wait()
    kube.cluster.set_controller(True)

    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert (plan["app"].action, plan["app"].reasons) == ("recover", ("status is pending-upgrade",))
    result = project.apply(plan)
    assert result.ok, result.releases["app"].reason
    assert _status(kube, helm_bin, "app") == "deployed"
    assert not load(path, kube, helm_bin).plan().has_changes


def test_import_hand_installed_release_gives_noop_plan(tmp_path, kube, chart_repo, helm_bin,
                                                      no_log_redactors):
    kube.run([helm_bin, "repo", "add", chart_repo.name, chart_repo.url])
    values = tmp_path / "hand.yaml"
    values.write_text(f"message: by hand\nreplicaCount: 2\npassword: {SECRET}\n")
    kube.run([helm_bin, "install", "legacy", chart_repo.ref("tiny-app"), "--version", "0.1.0",
              "-n", kube.namespace, "--create-namespace", "-f", values])
    path = write_config(tmp_path / "p", f"""
        # my project
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"
    """)
    before = path.read_text()
    project = load(path, kube, helm_bin)
    result = project.import_release("legacy", kube.namespace, chart=chart_repo.ref("tiny-app"))

    text = path.read_text()
    assert text.startswith(before)  # appended, never rewritten
    assert "[[deployments.generic]]" in text and 'name = "legacy"' in text
    assert SECRET not in text
    assert result.secret_keys == ("password",)
    assert result.values_file is not None
    assert stat.S_IMODE(result.values_file.stat().st_mode) == 0o600
    assert SECRET in result.values_file.read_text()
    assert result.version == "0.1.0" and result.revision == 1

    plan = load(path, kube, helm_bin).plan()
    assert [(c.name, c.action) for c in plan.releases] == [("legacy", "no-op")], plan["legacy"].reasons
    assert SECRET not in plan.to_json()


def test_import_writes_a_complete_block_and_the_next_upgrade_works(tmp_path, kube, chart_repo, helm_bin,
                                                                  no_log_redactors):
    """Issue 11 point 10: no --chart, no [repositories]: the repository is found among helm's own
    (``helm search repo``), written with its URL; plan is a no-op; a version bump upgrades."""
    kube.run([helm_bin, "repo", "add", chart_repo.name, chart_repo.url])
    kube.run([helm_bin, "install", "adopted", chart_repo.ref("tiny-app"), "--version", "0.1.0",
              "-n", kube.namespace, "--create-namespace", "--set", "message=by hand"])
    path = write_config(tmp_path / "p", """
        # my project, no repositories yet
        [project]
        name = "adopt"
    """)
    result = load(path, kube, helm_bin).import_release("adopted", kube.namespace)
    assert result.version == "0.1.0" and result.warnings == ()

    import tomllib

    data = tomllib.loads(path.read_text())
    assert "# my project, no repositories yet" in path.read_text()  # the user's text kept
    assert data["repositories"] == {chart_repo.name: chart_repo.url}
    (block,) = data["deployments"]["generic"]
    assert block == {"name": "adopted", "namespace": kube.namespace, "chart": "tiny-app",
                     "repository": chart_repo.name, "version": "0.1.0", "values": {"message": "by hand"}}

    assert main(["validate", "-f", str(path)]) == 0
    plan = load(path, kube, helm_bin).plan()
    assert [(c.name, c.action) for c in plan.releases] == [("adopted", "no-op")], plan["adopted"].reasons

    path.write_text(path.read_text().replace('version = "0.1.0"', 'version = "0.2.0"'))
    project = load(path, kube, helm_bin)
    result = project.apply()
    assert result.ok, result
    (rel,) = [r for r in kube.helm(helm_bin).list_releases()
              if r.name == "adopted" and r.namespace == kube.namespace and r.status == "deployed"]
    assert (rel.chart_version, rel.revision) == ("0.2.0", 2)
    assert [c.action for c in load(path, kube, helm_bin).plan().releases] == ["no-op"]


def test_import_refuses_when_the_repository_cannot_be_told(tmp_path, kube, chart_repo, helm_bin,
                                                          no_log_redactors):
    """A chart installed from an archive is in none of helm's repositories: refused, file untouched;
    --chart repo/chart --repo-url gives the complete block."""
    kube.run([helm_bin, "install", "fromtgz", chart_repo.tgz("tiny-app", "0.2.0"), "-n", kube.namespace,
              "--create-namespace"])
    path = write_config(tmp_path / "p", "[project]\nname = \"adopt\"\n")
    before = path.read_bytes()
    from firestream_core.errors import FirestreamError

    with pytest.raises(FirestreamError, match="does not record where the chart") as err:
        load(path, kube, helm_bin).import_release("fromtgz", kube.namespace)
    assert "--repo-url" in (err.value.hint or "")
    assert path.read_bytes() == before
    load(path, kube, helm_bin).import_release("fromtgz", kube.namespace, chart="mine/tiny-app",
                                              repo_url=chart_repo.url)
    import tomllib

    data = tomllib.loads(path.read_text())
    assert data["repositories"] == {"mine": chart_repo.url}
    assert data["deployments"]["generic"][0]["repository"] == "mine"
    assert [c.action for c in load(path, kube, helm_bin).plan().releases] == ["no-op"]


def test_ctrl_c_during_apply(tmp_path, kube, chart_repo, helm_bin):
    releases = [
        ("fast", [], {}),
        ("slow", [], {"podAnnotations": {"emulator.firestream.dev/ready": "false"}}),
        ("after", ["slow"], {}),
    ]
    blocks = []
    for name, deps, values in releases:
        b = release_blocks([(name, deps, {})], chart="tiny-app", repository=chart_repo.name,
                           namespace=kube.namespace, version="0.2.0")
        if values:
            b += '[deployments.generic.values]\npodAnnotations = { "emulator.firestream.dev/ready" = "false" }\n'
        blocks.append(b)
    path = write_config(tmp_path / "p", f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

        [defaults]
        timeout = "120s"

    """ + "\n".join(blocks))
    state_file = path.parent / ".firestream" / "state.json"
    lock_file = path.parent / ".firestream" / "lock"
    env = {**os.environ, **kube.env}
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "firestream_core.cli.main", "apply", "--yes", "-f", str(path),
         "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=tmp_path,
    )
    try:
        # mid-run the record is in the state's journal; any reader sees it (StateStore.load)
        _wait_for(lambda: f"{kube.namespace}/fast" in StateStore(path.parent).load().releases, "fast recorded")
        _wait_for(lambda: _status(kube, helm_bin, "slow") == "pending-install", "slow in helm")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (out, err)
    assert not lock_file.exists()
    import json

    state = json.loads(state_file.read_text())
    assert sorted(state["releases"]) == [f"{kube.namespace}/fast"]
    assert "cancelled" in out and "fast" in out
    # what the interrupted run left behind is recovered by the next one
    plan = load(path, kube, helm_bin).plan()
    assert plan["fast"].action == "no-op"
    assert plan["slow"].action in ("recover", "upgrade", "create")


def test_failed_upgrade_is_rolled_back_and_next_plan_retries(tmp_path, kube, chart_repo, helm_bin,
                                                           no_log_redactors):
    def config(broken: bool) -> Path:
        values = {"message": "v2" if broken else "v1"}
        body = release_blocks([("app", [], values)], chart="tiny-app", repository=chart_repo.name,
                              namespace=kube.namespace, version="0.2.0")
        if broken:  # the new pods never get ready: the atomic upgrade is rolled back
            body += 'podAnnotations = { "emulator.firestream.dev/ready" = "false" }\n'
        return write_config(tmp_path / "p", f"""
            [repositories]
            {chart_repo.name} = "{chart_repo.url}"

            [defaults]
            timeout = "3s"

        """ + body)

    assert load(config(False), kube, helm_bin).apply().ok
    result = load(config(True), kube, helm_bin).apply()
    outcome = result.releases["app"]
    assert (outcome.action, outcome.result) == ("upgrade", "failed")
    assert outcome.stage_failed in ("exec", "validate")
    assert result.exit_code == 1
    values = kube.helm(helm_bin).get_values("app", kube.namespace)
    assert values.get("message") == "v1"  # the previous revision is back
    plan = load(config(True), kube, helm_bin).plan()
    assert plan["app"].action == "upgrade"
    assert f"last apply failed in {outcome.stage_failed}" in plan["app"].reasons


def test_release_uninstalled_with_keep_history_is_created_again(tmp_path, kube, chart_repo, helm_bin,
                                                                no_log_redactors):
    # `helm uninstall --keep-history` of a release at revision 10: helm's `upgrade --install`
    # looks at the last history entry in storage order (v9 after v10), takes the upgrade
    # path and fails with '"web" has no deployed releases' on every run; the plan's `create`
    # must work, with helm 3 and helm 4 alike
    path = write_config(tmp_path / "p", f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

        [defaults]
        timeout = "60s"

    """ + release_blocks([("web", [], {"message": "one"})], chart="tiny-app",
                         repository=chart_repo.name, namespace=kube.namespace, version="0.2.0"))
    assert load(path, kube, helm_bin).apply().ok
    for _ in range(9):  # revisions 2..10, the same values
        kube.run([helm_bin, "upgrade", "web", chart_repo.tgz("tiny-app", "0.2.0"), "-n", kube.namespace,
                  "--reuse-values"])
    kube.run([helm_bin, "uninstall", "web", "-n", kube.namespace, "--keep-history"])
    assert _status(kube, helm_bin, "web") == "uninstalled"

    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert (plan["web"].action, plan["web"].reasons) == ("create", ("not deployed (status is uninstalled)",))
    result = project.apply(plan)
    outcome = result.releases["web"]
    assert result.ok, outcome.reason
    assert (outcome.action, outcome.revision) == ("create", 11)
    assert outcome.executed is not None
    assert outcome.executed.message == "release 'web' installed, revision 11"
    assert _status(kube, helm_bin, "web") == "deployed"
    assert kube.helm(helm_bin).get_values("web", kube.namespace) == {"message": "one"}
    again = load(path, kube, helm_bin).plan()
    assert not again.has_changes, [(c.name, c.reasons) for c in again.releases]


def test_failed_validation_of_a_release_installed_again_leaves_it_uninstalled(tmp_path, kube, chart_repo, helm_bin,
                                                                             no_log_redactors):
    # an atomic release helm lists `uninstalled` (--keep-history) is installed again, helm's own
    # wait passes, then the validate stage fails (a crashing pod carrying the release's instance
    # label): it is uninstalled again, its history kept, and the revision `install --replace`
    # marked superseded is not brought back to life
    path = write_config(tmp_path / "p", f"""
        [repositories]
        {chart_repo.name} = "{chart_repo.url}"

        [defaults]
        timeout = "20s"

    """ + release_blocks([("web", [], {"message": "one"})], chart="tiny-app", repository=chart_repo.name,
                         namespace=kube.namespace, version="0.2.0"))
    assert load(path, kube, helm_bin).apply().ok
    kube.run([helm_bin, "uninstall", "web", "-n", kube.namespace, "--keep-history"])
    crashing = tmp_path / "crashing.yaml"
    crashing.write_text(f"""
apiVersion: v1
kind: Pod
metadata:
  name: web-sidecar
  namespace: {kube.namespace}
  labels: {{app.kubernetes.io/instance: web}}
  annotations: {{emulator.firestream.dev/ready: "false"}}
spec:
  containers: [{{name: c, image: busybox:1.36}}]
""")
    kube.run([kube.tools["kubectl"], "apply", "-f", str(crashing)])
    project = load(path, kube, helm_bin)
    plan = project.plan()
    assert plan["web"].action == "create"
    outcome = project.apply(plan).releases["web"]
    assert (outcome.result, outcome.stage_failed, outcome.rolled_back) == ("failed", "validate", True), outcome.reason
    assert outcome.rollback == "release 'web' uninstalled again (it was uninstalled before; its history is kept)"
    assert _status(kube, helm_bin, "web") == "uninstalled"
    history = kube.helm(helm_bin).history("web", kube.namespace)
    assert [int(e["revision"]) for e in history] == [1, 2]
    assert "deployed" not in [e["status"] for e in history]
