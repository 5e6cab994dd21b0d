"""The plan tells the whole truth, with the real helm 3 and helm 4 on the emulator (marked ``helm``).

Issue 11: one breaking-version rule for plan and exec; the destructive steps
shown; exec refusing a step the plan did not contain.
"""

from __future__ import annotations

import json
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
    result = project.apply(attrs.evolve(plan, releases=(hidden,)))
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
