"""Helm hooks and tests: plan --hooks, hooks_disabled -> --no-hooks, firestream test, run_tests rollback.

Against the emulator with helm 3 and helm 4. On the emulator a test pod
annotated ``emulator.firestream.dev/ready: "false"`` ends ``Failed``.
"""

from __future__ import annotations

import json

import attrs
import pytest

from firestream_core.deploy.plan import Change, Plan
from firestream_core.errors import RenderError
from firestream_core.ops.helm_hooks import (
    HooksInput,
    ReleaseHooks,
    format_hooks,
    hooks_in,
    plan_hooks,
)
from firestream_core.project import Project
from firestream_core.state.store import StateStore
from tests.deploy.fakes import FakeHelm

from .conftest import CHARTS
from .helpers import extras_app_config, interrupted_upgrade, load, record_argv, write_config

# -- reading hooks (no binaries) ------------------------------------------------------------


def test_hooks_are_read_sorted_and_fired_by_action():
    text = """
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "5",
                "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}
---
apiVersion: v1
kind: Pod
metadata: {name: smoke, annotations: {"helm.sh/hook": test}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: plain}
"""
    hooks = hooks_in(text)
    assert [(h.kind, h.name, h.events, h.weight) for h in hooks] == [
        ("Pod", "smoke", ("test",), 0), ("Job", "migrate", ("pre-install", "pre-upgrade"), 5)]
    assert hooks[1].delete_policy == ("before-hook-creation", "hook-succeeded")
    create = ReleaseHooks("web", "create", tuple(hooks))
    assert [h.name for h in create.will_run] == ["migrate"] and [h.name for h in create.tests] == ["smoke"]
    assert create.events == ["pre-install", "pre-upgrade", "test"]
    assert ReleaseHooks("web", "destroy", tuple(hooks)).will_run == []
    off = ReleaseHooks("web", "create", tuple(hooks), disabled=True)
    assert off.will_run == []
    assert "none run (hooks_disabled: --no-hooks)" in format_hooks({"web": off})


class _Helm(FakeHelm):
    """The test fakes' helm, rendering a pre-install Job (``db`` fails to render) in a dry run of apply's call."""

    def render_release(self, info, project_dir, *, replace=False):
        self.calls.append(("dry run", info.name, str(project_dir), info.plugin_values.get("from")))
        if info.name == "db":
            raise RenderError("db: template: Tk-secret-in-an-error-77 is not a value")
        return ("---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n"
                "  annotations: {\"helm.sh/hook\": pre-install}\n")


def test_the_hooks_input_is_frozen_and_holds_only_what_plan_hooks_uses(tmp_path):
    path = write_config(tmp_path, """
        [[deployments.generic]]
        name = "web"
        chart = "web"
        repository = "repo"
        namespace = "shop"

        [[deployments.generic]]
        name = "db"
        chart = "repo/db"
        namespace = "shop"

        [repositories]
        repo = "https://charts.example.com"
    """)
    project = Project.load(path)
    project.redactor.add("Tk-secret-in-an-error-77")
    target = project.hooks_input()
    assert list(target.charts) == ["web", "db"] and target.charts["web"] is project.chart("web")
    assert (target.project_dir, target.redactor) == (tmp_path, project.redactor)
    assert target.repositories == {"repo": "https://charts.example.com"}
    assert set(attrs.fields_dict(HooksInput)) == {"charts", "project_dir", "redactor", "repositories"}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        target.repositories = {}  # type: ignore[misc]

    helm = _Helm()
    plan = Plan(releases=(Change("web", "shop", "generic", "create", plugin_values={"from": "the-plan"}),
                          Change("db", "shop", "generic", "create")))
    hooks = plan_hooks(target, plan, helm)
    assert [h.name for h in hooks["web"].will_run] == ["migrate"]
    assert ("dry run", "web", str(tmp_path), "the-plan") in helm.calls  # the plan's desired state
    assert ("repo_add", "repo", "https://charts.example.com") in helm.calls
    assert hooks["db"].error and "Tk-secret-in-an-error-77" not in hooks["db"].error


# -- against the emulator --------------------------------------------------------------------


def app_config(tmp_path, kube, *, name="web", test_fails=False, run_tests=False, atomic=True,
               hooks_disabled=False, message="m1"):
    annotations = '\n[deployments.generic.values.testPodAnnotations]\n"emulator.firestream.dev/ready" = "false"' \
        if test_fails else ""
    keys = (f"run_tests = {str(run_tests).lower()}\natomic = {str(atomic).lower()}\n"
            f"hooks_disabled = {str(hooks_disabled).lower()}")
    return extras_app_config(tmp_path, kube, name=name, keys=keys, values={"message": message},
                             more=annotations)


def test_plan_shows_hooks(tmp_path, kube, helm_bin, cli):
    path = app_config(tmp_path, kube)
    code, out, _ = cli(path, "plan", "--hooks")
    assert code == 0
    assert "Hooks:" in out
    assert ("web  pre-install, post-install, post-upgrade, test; runs ConfigMap/web-pre-install (pre-install), "
            "ConfigMap/web-post-upgrade (post-install/post-upgrade)") in out
    code, out, _ = cli(path, "plan", "--hooks", "--json")
    data = json.loads(out)
    hooks = data["releases"][0]["hooks"]
    assert hooks["events"] == ["pre-install", "post-install", "post-upgrade", "test"]
    assert hooks["tests"] == ["Pod/web-smoke"] and hooks["disabled"] is False
    # without --hooks the plan renders nothing
    code, out, _ = cli(path, "plan", "--json")
    assert "hooks" not in json.loads(out)["releases"][0]


def test_hooks_disabled_maps_to_no_hooks(tmp_path, kube, helm_bin, cli, monkeypatch):
    path = app_config(tmp_path, kube, hooks_disabled=True)
    code, out, _ = cli(path, "plan", "--hooks")
    assert "none run (hooks_disabled: --no-hooks)" in out
    with record_argv(monkeypatch) as rec:
        assert load(path, kube, helm_bin).apply().ok
    (upgrade,) = rec.of("upgrade")
    assert "--no-hooks" in upgrade
    kc = kube.kubectl()
    assert kc.get("configmap", "web-pre-install", namespace=kube.namespace) is None
    assert kc.get("configmap", "web-config", namespace=kube.namespace) is not None


def test_hooks_disabled_runs_no_delete_hook_on_destroy(tmp_path, kube, helm_bin, cli, monkeypatch):
    """``plan --hooks`` says no hook runs; the uninstall ran the chart's post-delete hook anyway."""
    keys = "hooks_disabled = true"
    path = extras_app_config(tmp_path, kube, keys=keys, values={"message": "m1", "postDeleteHook": True})
    assert load(path, kube, helm_bin).apply().ok
    path = extras_app_config(tmp_path, kube, keys=keys + '\naction = "destroy"',
                             values={"message": "m1", "postDeleteHook": True})
    code, out, _ = cli(path, "plan", "--hooks")
    assert "post-delete, test; none run (hooks_disabled: --no-hooks)" in out, out
    with record_argv(monkeypatch) as rec:
        assert load(path, kube, helm_bin).apply().ok
    (uninstall,) = rec.of("uninstall")
    assert "--no-hooks" in uninstall
    assert kube.kubectl().get("configmap", "web-post-delete", namespace=kube.namespace) is None


def test_hooks_disabled_runs_no_rollback_hook(tmp_path, kube, helm_bin, cli, monkeypatch):
    """A pre-rollback hook (kube-prometheus-stack's CRD upgrade Job has one) of a release with
    hooks_disabled ran on ``firestream rollback`` (and on the recovery's rollbacks)."""
    def config(message: str):
        return extras_app_config(tmp_path, kube, keys="hooks_disabled = true",
                                 values={"message": message, "preRollbackHook": True})

    assert load(config("m1"), kube, helm_bin).apply().ok
    path = config("m2")
    assert load(path, kube, helm_bin).apply().ok
    with record_argv(monkeypatch) as rec:
        code, out, err = cli(path, "rollback", "web", "--to-revision", "1", "--yes")
    assert code == 0, out + err
    (rollback,) = rec.of("rollback")
    assert "--no-hooks" in rollback
    assert kube.kubectl().get("configmap", "web-pre-rollback", namespace=kube.namespace) is None


def test_firestream_test_passes_and_is_kept_in_state(tmp_path, kube, helm_bin, cli):
    path = app_config(tmp_path, kube)
    code, out, _ = cli(path, "test")
    assert code == 0 and out.startswith("web  not deployed")
    assert load(path, kube, helm_bin).apply().ok
    code, out, _ = cli(path, "test")
    assert code == 0, out
    assert "web  PASSED  (web-smoke Succeeded)" in out
    entry = StateStore(path.parent).load().releases[f"{kube.namespace}/web"]
    assert [(t["name"], t["phase"], t["passed"]) for t in entry.tests] == [("web-smoke", "Succeeded", True)]
    assert entry.tests[0]["run_at"]
    assert entry.action == "create"  # the last apply is kept as it was


def test_failing_test_is_reported_and_recorded(tmp_path, kube, helm_bin, cli):
    path = app_config(tmp_path, kube, test_fails=True)
    assert load(path, kube, helm_bin).apply().ok  # run_tests is off: the apply does not test
    code, out, _ = cli(path, "test", "--json")
    assert code == 1
    (release,) = json.loads(out)["releases"]
    assert release["status"] == "failed" and release["recorded"] is True
    assert [(t["name"], t["phase"]) for t in release["tests"]] == [("web-smoke", "Failed")]
    entry = StateStore(path.parent).load().releases[f"{kube.namespace}/web"]
    assert [(t["name"], t["passed"]) for t in entry.tests] == [("web-smoke", False)]
    code, out, _ = cli(path, "test")
    assert "web  FAILED  (web-smoke Failed)" in out and "1 release(s) failed their tests: web" in out


def test_run_tests_failure_fails_validation_and_rolls_back_when_atomic(tmp_path, kube, helm_bin):
    path = app_config(tmp_path, kube, run_tests=True, message="good")
    first = load(path, kube, helm_bin).apply()
    assert first.ok, {n: o.reason for n, o in first.releases.items()}
    tests = [v for v in first.releases["web"].validations if v.name == "helm_tests"]
    assert tests and tests[0].passed

    path = app_config(tmp_path, kube, run_tests=True, test_fails=True, message="bad")
    second = load(path, kube, helm_bin).apply()
    outcome = second.releases["web"]
    assert not second.ok and outcome.stage_failed == "validate", outcome
    assert outcome.rolled_back
    assert "helm_tests" in outcome.reason
    history = kube.helm(helm_bin).history("web", kube.namespace)
    assert [h["revision"] for h in history] == [1, 2, 3]
    assert history[-1]["status"] == "deployed" and "Rollback to 1" in history[-1]["description"]
    cm = kube.kubectl().get("configmap", "web-config", namespace=kube.namespace)
    assert cm["data"]["message"] == "good"  # back to the first revision's values


def test_run_tests_failure_without_atomic_fails_but_stays(tmp_path, kube, helm_bin):
    path = app_config(tmp_path, kube, run_tests=True, test_fails=True, atomic=False, message="kept")
    result = load(path, kube, helm_bin).apply()
    outcome = result.releases["web"]
    assert not result.ok and outcome.stage_failed == "validate" and not outcome.rolled_back
    cm = kube.kubectl().get("configmap", "web-config", namespace=kube.namespace)
    assert cm["data"]["message"] == "kept"


# -- plan --hooks shows the hooks apply runs (real helm) ---------------------------------------

HOOK_SHAPES = CHARTS / "hook-shapes"


def hook_shapes_config(tmp_path, kube, *, chart=HOOK_SHAPES, image="busybox:1.36", keys=""):
    return write_config(tmp_path / "p", f"""
        [[deployments.generic]]
        name = "hs"
        path = "{chart}"
        namespace = "{kube.namespace}"
        timeout = "60s"
        {keys}
        [deployments.generic.values]
        image = "{image}"
    """)


def planned_hooks(project):
    _, helm, _ = project.tools()
    plan = project.plan(helm=helm)
    (change,) = plan.releases
    rh = plan_hooks(project.hooks_input(), plan, helm)["hs"]
    assert not rh.error, rh.error
    return change.action, [h.name for h in rh.will_run]


def stored_hooks(kube, helm_bin, events):
    """The hooks helm stored for the release (what it ran), those of ``events`` (in order: an
    event's hooks in helm's order, the first event's first)."""
    out = kube.run([helm_bin, "get", "hooks", "hs", "-n", kube.namespace]).stdout
    hooks = [h for h in hooks_in(out) if set(events) & set(h.events)]
    return [h.name for h in sorted(hooks, key=lambda h: min(events.index(e) for e in h.events if e in events))]


def test_plan_hooks_are_rendered_as_apply_renders_them(tmp_path, kube, helm_bin):
    """Hooks behind ``.Release.IsUpgrade``/``.Release.IsInstall`` and ``lookup`` (the Job that makes
    a certificate while its Secret is missing): plan --hooks rendered offline as an install, so an
    upgrade's plan listed the install-only Job and the certificate Job (which apply does not run)
    and hid the upgrade Job (which it runs). It renders as apply does now, as diff does."""
    path = hook_shapes_config(tmp_path, kube)
    assert planned_hooks(load(path, kube, helm_bin)) == (
        "create", ["hs-init", "hs-admission-create", "hs-certgen", "hs-admission-patch"])
    assert load(path, kube, helm_bin).apply().ok
    assert stored_hooks(kube, helm_bin, ("pre-install", "post-install")) == [
        "hs-init", "hs-admission-create", "hs-certgen", "hs-admission-patch"]
    kube.run([kube.tools["kubectl"], "create", "secret", "generic", "hs-tls", "-n", kube.namespace,
              "--from-literal=tls.crt=x"])

    path = hook_shapes_config(tmp_path, kube, image="busybox:1.37")
    shown = planned_hooks(load(path, kube, helm_bin))
    assert shown == ("upgrade", ["hs-admission-create", "hs-upgrade", "hs-admission-patch"])
    assert load(path, kube, helm_bin).apply().ok
    assert stored_hooks(kube, helm_bin, ("pre-upgrade", "post-upgrade")) == shown[1]  # what helm ran


def hook_shapes_020(tmp_path):
    """hook-shapes 0.2.0, whose cleanup and pre-rollback Jobs are renamed (``hs-purge``, ``hs-rollback-verify``)."""
    import shutil

    chart = tmp_path / "hook-shapes-0.2.0"
    shutil.copytree(HOOK_SHAPES, chart)
    (chart / "Chart.yaml").write_text((chart / "Chart.yaml").read_text().replace("version: 0.1.0", "version: 0.2.0"))
    values = (chart / "values.yaml").read_text()
    (chart / "values.yaml").write_text(values.replace("cleanupName: cleanup", "cleanupName: purge")
                                       .replace("rollbackName: rollback-check", "rollbackName: rollback-verify"))
    return chart


REINSTALL = 'last_breaking_version_requiring_restart = {version = "0.2.0", requires_uninstall = true}'


def test_a_reinstalls_uninstall_runs_the_installed_releases_delete_hooks(tmp_path, kube, helm_bin, cli):
    """A reinstall uninstalls first, and helm's uninstall runs the hooks stored with the installed
    release: plan --hooks listed the new chart's post-delete Job (hs-purge) instead of hs-cleanup."""
    assert load(hook_shapes_config(tmp_path, kube), kube, helm_bin).apply().ok
    path = hook_shapes_config(tmp_path, kube, chart=hook_shapes_020(tmp_path), keys=REINSTALL)
    action, shown = planned_hooks(load(path, kube, helm_bin))
    assert action == "reinstall"
    assert stored_hooks(kube, helm_bin, ("pre-delete", "post-delete")) == ["hs-cleanup"]  # what uninstall runs
    assert shown[0] == "hs-cleanup" and "hs-purge" not in shown
    code, out, _ = cli(path, "plan", "--hooks")
    assert "runs Job/hs-cleanup (post-delete, installed release), Job/" in out, out
    code, out, _ = cli(path, "plan", "--hooks", "--json")
    hooks = json.loads(out)["releases"][0]["hooks"]
    uninstall_hooks = [h["name"] for h in hooks["uninstall_hooks"]]
    assert "hs-cleanup" in uninstall_hooks and "hs-purge" not in uninstall_hooks
    assert hooks["will_run"][0] == "Job/hs-cleanup"


def test_a_reinstalls_install_is_rendered_as_an_install(tmp_path, kube, helm_bin):
    """After the uninstall, a reinstall installs afresh (``.Release.IsInstall``): plan --hooks and
    diff rendered it as an upgrade, hiding the install-only Job apply then runs."""
    assert load(hook_shapes_config(tmp_path, kube), kube, helm_bin).apply().ok
    path = hook_shapes_config(tmp_path, kube, chart=hook_shapes_020(tmp_path), keys=REINSTALL)
    project = load(path, kube, helm_bin)
    action, shown = planned_hooks(project)
    assert (action, shown) == (
        "reinstall", ["hs-cleanup", "hs-init", "hs-admission-create", "hs-certgen", "hs-admission-patch"])
    (d,) = project.diff()
    assert [h.split(" ")[0] for h in d.hooks] == [f"Job/{n}" for n in shown]
    assert load(path, kube, helm_bin).apply().ok
    assert stored_hooks(kube, helm_bin, ("pre-install", "post-install")) == shown[1:]  # what the install ran


def jobs_created(kube) -> set[str]:
    """The Jobs the emulator's controller ran in the namespace (from its events)."""
    out = kube.run([kube.tools["kubectl"], "get", "events", "-n", kube.namespace, "-o", "json"]).stdout
    return {e["involvedObject"]["name"] for e in json.loads(out)["items"]
            if e["involvedObject"].get("kind") == "Job"}


def test_a_recoverys_rollback_runs_the_hooks_of_the_revision_it_returns_to(tmp_path, kube, helm_bin):
    """A release left pending-upgrade is rolled back to its last deployed revision, then upgraded;
    helm's rollback runs the pre-rollback hooks stored with that revision. plan --hooks and diff
    listed the new chart's (hs-rollback-verify) instead of revision 1's (hs-rollback-check)."""
    assert load(hook_shapes_config(tmp_path, kube), kube, helm_bin).apply().ok
    chart = hook_shapes_020(tmp_path)
    interrupted_upgrade(kube, helm_bin, "hs", chart)
    path = hook_shapes_config(tmp_path, kube, chart=chart)
    project = load(path, kube, helm_bin)
    action, shown = planned_hooks(project)
    assert (action, shown) == (
        "recover", ["hs-rollback-check", "hs-admission-create", "hs-certgen", "hs-upgrade", "hs-admission-patch"])
    (d,) = project.diff()
    assert [h.split(" ")[0] for h in d.hooks] == [f"Job/{n}" for n in shown]
    _, helm, _ = project.tools()
    rh = plan_hooks(project.hooks_input(), project.plan(helm=helm), helm)["hs"]
    assert "runs Job/hs-rollback-check (pre-rollback, revision 1), Job/hs-admission-create" in format_hooks({"hs": rh})
    assert load(path, kube, helm_bin).apply().ok
    ran = jobs_created(kube)
    assert "hs-rollback-check" in ran and "hs-rollback-verify" not in ran  # what helm's rollback ran
    assert stored_hooks(kube, helm_bin, ("pre-upgrade", "post-upgrade")) == shown[1:]  # and the upgrade


@pytest.mark.parametrize("hooks_disabled", [False, True])
def test_plan_hooks_shows_the_test_hooks_run_tests_runs(tmp_path, kube, helm_bin, cli, hooks_disabled):
    """With ``run_tests = true`` apply's validation runs ``helm test``, so the test Pod runs (with
    ``hooks_disabled`` too: ``--no-hooks`` is not a helm test flag); plan --hooks did not say so."""
    code, out, _ = cli(app_config(tmp_path, kube, hooks_disabled=hooks_disabled), "plan", "--hooks", "--json")
    assert json.loads(out)["releases"][0]["hooks"]["tests_run"] is False  # run_tests off
    path = app_config(tmp_path, kube, run_tests=True, hooks_disabled=hooks_disabled)
    code, out, _ = cli(path, "plan", "--hooks")
    assert code == 0 and "; then helm test runs Pod/web-smoke (test, run_tests)" in out, out
    code, out, _ = cli(path, "plan", "--hooks", "--json")
    assert json.loads(out)["releases"][0]["hooks"]["tests_run"] is True
    result = load(path, kube, helm_bin).apply()
    assert result.ok
    tests = result.releases["web"].tests
    assert tests is not None and [t.name for t in tests] == ["web-smoke"]  # helm test ran it


def test_plan_hooks_lists_them_in_the_order_helm_runs_them(tmp_path, kube, helm_bin):
    """kube-prometheus-stack's admission hooks: a ServiceAccount, Role and RoleBinding named
    ``X-admission`` and the Jobs ``X-admission-create`` / ``-patch``, all weight 0. helm runs an
    event's hooks by weight, then name, then its kind order; plan --hooks sorted by kind first
    (alphabetically), so it showed the Jobs before the RBAC they run with."""
    path = write_config(tmp_path / "p", f"""
        [[deployments.generic]]
        name = "hs"
        path = "{HOOK_SHAPES}"
        namespace = "{kube.namespace}"
        timeout = "60s"
        [deployments.generic.values]
        rbac.enabled = true
        rbac.deletePolicy = "before-hook-creation"   # kept: their resourceVersion is when helm made them
    """)
    project = load(path, kube, helm_bin)
    _, helm, _ = project.tools()
    rh = plan_hooks(project.hooks_input(), project.plan(helm=helm), helm)["hs"]
    shown = [(h.kind, h.name) for h in rh.will_run]
    assert shown == [("Job", "hs-init"), ("ServiceAccount", "hs-admission"), ("Role", "hs-admission"),
                     ("RoleBinding", "hs-admission"), ("Job", "hs-admission-create"), ("Job", "hs-certgen"),
                     ("Job", "hs-admission-patch")]  # pre-install's, then post-install's
    assert project.apply().ok

    def made_at(kind, name):  # the resourceVersion helm's create got (a Job: its first event's)
        if kind != "Job":
            return int(kube.kubectl().get(kind.lower(), name, namespace=kube.namespace)["metadata"]["resourceVersion"])
        out = kube.run([kube.tools["kubectl"], "get", "events", "-n", kube.namespace, "-o", "json"]).stdout
        return min(int(e["metadata"]["resourceVersion"]) for e in json.loads(out)["items"]
                   if e["involvedObject"].get("kind") == "Job" and e["involvedObject"]["name"] == name)

    post = [(h.kind, h.name) for h in rh.will_run if "post-install" in h.events]
    assert sorted(post, key=lambda k: made_at(*k)) == post  # the order helm created them in
    jobs = [k for k in shown if k[0] == "Job"]  # the pre-install ones, then the post-install one
    assert sorted(jobs, key=lambda k: made_at(*k)) == jobs
