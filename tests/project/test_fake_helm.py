"""Project runs against the recording fake helm: fast, every call logged with its times.

Ordering is asserted from the fake's call log (start/end of each helm
process); no test asserts a duration.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from firestream_core import hookimpl
from firestream_core.cli.main import main
from firestream_core.errors import HelmNotInstalledError, StateLockedError
from firestream_core.project import Project
from firestream_core.state.store import StateStore
from firestream_core.tools.helm import Helm

from .conftest import write_config

SECRET = "fk-sec-91X-do-not-show"
REPOS = """
[repositories]
fixtures = "http://127.0.0.1:9/fixtures"
mirror = "http://127.0.0.1:9/mirror"
"""



def applied_upgrades(fake_helm):
    """The ``helm upgrade`` calls that change a release: not apply's check of an upgrade for
    immutable fields (helm's ``--dry-run=server`` of the same call, before any change)."""
    return [c for c in fake_helm.call_log("upgrade") if "--dry-run=server" not in c.argv]

def block(name: str, deps: tuple[str, ...] = (), *, repo: str = "fixtures", version: str = "0.1.0",
          extra: str = "") -> str:
    dep = f"depends_on = [{', '.join(repr(d) for d in deps)}]\n" if deps else ""
    return (f'[[deployments.generic]]\nname = "{name}"\nchart = "tiny-app"\nrepository = "{repo}"\n'
            f'version = "{version}"\n{dep}{extra}\n')


@pytest.fixture
def env(fake_helm, fake_kubectl, tmp_path, monkeypatch, no_log_redactors):
    """The project folder, CLI flags and a loader wired to the fake helm."""
    for k, v in fake_helm.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("FAKE_SECRET", SECRET)
    monkeypatch.setenv("FIRESTREAM_KUBECTL_BINARY", str(fake_kubectl))
    folder = tmp_path / "project"

    class Env:
        dir = folder
        flags = ["--helm-binary", str(fake_helm.binary)]
        path = folder / "firestream.toml"

        @staticmethod
        def write(*blocks: str) -> Path:
            return write_config(folder, REPOS + "\n" + "".join(blocks))

        @staticmethod
        def load() -> Project:
            return Project.load(folder / "firestream.toml", helm_binary=fake_helm.binary,
                                env=fake_helm.env, kubectl_binary=fake_kubectl)

    return Env


def state_keys(folder: Path) -> list[str]:
    """The releases the state holds, as any reader sees it (mid-run: state.json + its journal)."""
    return sorted(StateStore(folder).load().releases)


# -- scheduling -----------------------------------------------------------------------------


def test_failure_skips_only_dependents_and_nothing_starts_before_its_dependencies(env, fake_helm):
    env.write(block("a"), block("b", ("a",)), block("c", ("b",)), block("d"), block("e", ("d",)),
              block("f", ("d", "a")), block("g"), block("h", ("g", "e")))
    fake_helm.fail_on("a", "upgrade", "boom")
    fake_helm.set_delay("d", 0.3)
    fake_helm.set_delay("g", 0.1)
    result = env.load().apply(concurrency=0)
    got = {n: (o.result, o.reason) for n, o in result.releases.items()}
    assert got["a"][0] == "failed" and "boom" in got["a"][1]
    assert got["b"] == ("skipped", "dependency 'a' failed")
    assert got["c"][0] == "skipped" and "'a'" in got["c"][1]
    assert got["f"][0] == "skipped"
    for name in "degh":
        assert got[name][0] == "ok", got[name]
    assert not result.ok and result.exit_code == 1
    assert {c.release for c in fake_helm.call_log("upgrade")} == set("adegh")

    deps = {"e": ["d"], "h": ["g", "e"]}
    for name, needs in deps.items():
        first = min(c.start for c in fake_helm.call_log(release=name))
        for d in needs:
            assert first >= max(c.end for c in fake_helm.call_log(release=d)), (name, d)


def test_fail_fast_starts_nothing_new(env, fake_helm):
    env.write(block("a"), block("b", ("a",)), block("c", ("a",)))
    fake_helm.fail_on("a", "upgrade", "boom")
    result = env.load().apply(fail_fast=True, concurrency=1)
    assert result.releases["a"].result == "failed"
    assert {result.releases[n].result for n in "bc"} <= {"skipped", "not_started"}


def test_skipped_release_satisfies_dependents_only_when_deployed(env, fake_helm):
    env.write(block("base", extra='action = "skip"\n'), block("app", ("base",)))
    result = env.load().apply()
    assert result.releases["base"].action == "no-op"
    assert result.releases["app"].result == "skipped"
    assert result.releases["app"].reason == "dependency 'base' is not deployed (action is skip)"

    fake_helm.seed_release("base")
    result = env.load().apply()
    assert result.ok and result.releases["app"].result == "ok"
    assert [c.release for c in fake_helm.call_log("upgrade")] == ["app"]


def test_destroy_leaves_a_skipped_release_as_it_stands_and_its_plan_says_so(env, fake_helm, capsys):
    """``action = "skip"`` leaves a release as it stands: destroy (of the whole project, or with the
    release among its dependents) used to plan it 'destroy requested' and uninstall it."""
    env.write(block("base"), block("app", ("base",)), block("web"))
    assert env.load().apply().ok
    env.write(block("base"), block("app", ("base",), extra='action = "skip"\n'), block("web"))
    plan = env.load().plan(destroy=True)
    assert [(c.name, c.action) for c in plan.releases] == [("web", "destroy"), ("app", "no-op"),
                                                           ("base", "destroy")]
    assert plan["app"].reasons == ('action is skip: destroy leaves it as it stands (set action = "deploy" '
                                   'to let destroy remove it)',
                                   "its dependency 'base' is destroyed: it stays, without it")
    assert plan["web"].reasons == ("destroy requested",)
    assert main(["destroy", "--dry-run", "-f", str(env.path), *env.flags]) == 0
    out = capsys.readouterr().out
    assert "app" in out and "action is skip: destroy leaves it as it stands" in out
    assert "its dependency 'base' is destroyed: it stays, without it" in out
    result = env.load().destroy()
    assert result.ok and [n for n, o in result.releases.items() if o.action == "destroy"] == ["web", "base"]
    assert [r["name"] for r in fake_helm.releases()] == ["app"]
    assert sorted(c.release for c in fake_helm.call_log("uninstall")) == ["base", "web"]
    # a target whose dependents go too: the skipped one stays
    env.write(block("base"), block("app", ("base",)))
    assert env.load().apply().ok
    env.write(block("base"), block("app", ("base",), extra='action = "skip"\n'))
    gone = env.load().destroy(targets=["base"], include_deps=True)
    assert gone.ok and [(n, o.action) for n, o in gone.releases.items()] == [("app", "no-op"), ("base", "destroy")]
    assert [r["name"] for r in fake_helm.releases()] == ["app"]


# -- helm calls ----------------------------------------------------------------------------------


def test_one_list_one_repo_add_per_repository_and_noop_is_free(env, fake_helm):
    env.write(block("r1"), block("r2", ("r1",)), block("r3", repo="mirror"), block("r4", ("r3",), repo="mirror"),
              block("r5"))
    assert env.load().apply().ok
    assert len(fake_helm.call_log("list")) == 1
    assert sorted(c.argv[2] for c in fake_helm.call_log("repo add")) == ["fixtures", "mirror"]
    assert len(fake_helm.call_log("upgrade")) == 5

    fake_helm.reset_calls()
    plan = env.load().plan()
    assert [c.action for c in plan.releases] == ["no-op"] * 5
    result = env.load().apply()
    assert result.ok and {o.action for o in result.releases.values()} == {"no-op"}
    ops = [c.op for c in fake_helm.call_log()]
    assert ops.count("list") == 2  # one per run (plan, apply)
    assert set(ops) <= {"list", "version"}  # no upgrade, status, repo add, get for no-ops


def test_cli_apply_asks_helm_version_once(env, fake_helm, capsys):
    """``firestream apply --yes`` plans and applies with one helm layer: one ``version``, one ``list``."""
    path = env.write(block("a"), block("b", ("a",)))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    ops = [c.op for c in fake_helm.call_log()]
    assert ops.count("version") == 1
    assert ops.count("list") == 1


def test_cli_apply_called_in_process_freezes_nothing(env, fake_helm, monkeypatch):
    """``gc.freeze()`` speeds up a console-script run's end; a program calling ``main()`` keeps living."""
    import gc

    frozen: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(1))
    path = env.write(block("a"))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    assert frozen == []
    env.write(block("a"), block("b"))  # something to apply again
    monkeypatch.setattr(sys, "argv", ["firestream", "apply", "--yes", "-f", str(path), *env.flags])
    assert main() == 0  # as the console script calls it
    assert frozen == [1, 1]  # before the run, and when the command ends


def test_one_value_changed_upgrades_only_that_release(env, fake_helm):
    env.write(block("a"), block("b", ("a",), extra="[deployments.generic.values]\nmessage = 'one'\n"))
    assert env.load().apply().ok
    env.write(block("a"), block("b", ("a",), extra="[deployments.generic.values]\nmessage = 'two'\n"))
    fake_helm.reset_calls()
    plan = env.load().plan()
    assert [(c.name, c.action, c.reasons) for c in plan.changes] == [
        ("b", "upgrade", ("values changed: message",))]
    assert env.load().apply(plan).ok
    assert [c.release for c in applied_upgrades(fake_helm)] == ["b"]
    assert fake_helm.release("b")["values"]["message"] == "two"


def test_local_chart_edited_without_a_version_bump_is_upgraded(env, fake_helm):
    chart = env.dir / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicaCount: 1\n")
    (chart / "templates" / "cm.yaml").write_text("kind: ConfigMap\n")
    env.write('[[deployments.generic]]\nname = "web"\npath = "charts/web"\n', block("other"))
    assert env.load().apply().ok
    assert not env.load().plan().has_changes
    (chart / "templates" / "cm.yaml").write_text("kind: ConfigMap\ndata: {}\n")  # Chart.yaml as it was
    plan = env.load().plan()
    assert [(c.name, c.action, c.reasons) for c in plan.changes] == [
        ("web", "upgrade", ("chart files changed",))]
    fake_helm.reset_calls()
    assert env.load().apply(plan).ok
    assert [c.release for c in applied_upgrades(fake_helm)] == ["web"]
    assert not env.load().plan().has_changes
    (chart / "values.yaml").write_text("replicaCount: 2\n")  # the chart's own values are chart files
    assert [c.reasons for c in env.load().plan().changes] == [("chart files changed",)]

def test_files_edited_between_plan_and_apply_are_refused_never_deployed_unseen(env, fake_helm):
    """A values file or local chart edited after the plan (at the confirmation prompt, or while
    the release waited for its dependencies) stops that release before any change: helm would
    otherwise read what the plan never showed."""
    chart = env.dir / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text("kind: ConfigMap\n")
    (env.dir / "api.yaml").write_text("message: planned\n")
    env.write(block("db"), block("api", ("db",), extra='values_files = ["api.yaml"]\n'),
              '[[deployments.generic]]\nname = "web"\npath = "charts/web"\n')
    plan = env.load().plan()
    assert [c.action for c in plan.changes] == ["create"] * 3
    project = env.load()
    (env.dir / "api.yaml").write_text("message: unseen\n")
    (chart / "templates" / "cm.yaml").write_text("kind: ConfigMap\ndata: {}\n")
    result = project.apply(plan)
    assert result.releases["db"].ok
    assert [c.release for c in fake_helm.call_log("upgrade")] == ["db"]
    for name, what in (("api", "its values (values files: api.yaml)"), ("web", "its local chart 'charts/web'")):
        outcome = result.releases[name]
        assert (outcome.result, outcome.stage_failed) == ("failed", "check_prerequisites")
        assert f"{what} changed since the plan was made: nothing was changed" in outcome.reason
    assert "unseen" not in result.releases["api"].reason
    # planned again, the edits are shown and applied
    plan = env.load().plan()
    assert [c.name for c in plan.changes] == ["api", "web"]
    assert env.load().apply(plan).ok
    assert fake_helm.release("api")["values"]["message"] == "unseen"


def test_a_chart_edited_in_code_between_plan_and_apply_is_refused_never_deployed_unseen(env, fake_helm):
    """A program's edit of a planned release (its namespace, version or a helm setting, through
    ``project.chart(name)`` or ``add_chart``) after ``plan()``: ``apply(plan)`` must not install
    into another namespace or at another version than the plan showed."""
    env.write(block("db"), block("api"), block("web"))
    project = env.load()
    plan = project.plan()
    assert [(c.name, c.namespace, c.desired_version) for c in plan.changes] == [
        ("db", "default", "0.1.0"), ("api", "default", "0.1.0"), ("web", "default", "0.1.0")]
    project.chart("api").chart_info.namespace = "elsewhere"
    project.chart("web").chart_info.version = "0.2.0"
    project.chart("db").chart_info.timeout = "17s"
    result = project.apply(plan)
    assert fake_helm.call_log("upgrade") == []
    for name, what in (("api", "its namespace (the plan has default, now elsewhere)"),
                       ("web", "its chart (the plan has tiny-app 0.1.0, now tiny-app 0.2.0)"),
                       ("db", "its setting timeout")):
        outcome = result.releases[name]
        assert (outcome.result, outcome.stage_failed) == ("failed", "check_prerequisites"), name
        assert f"{what} changed since the plan was made: nothing was changed" in outcome.reason
    # planned again, the edits are shown and applied
    plan = project.plan()
    assert {c.name: c.action for c in plan.changes} == {"db": "create", "api": "create", "web": "create"}
    assert project.apply(plan).ok


def test_pending_release_is_recovered_and_breaking_version_reinstalled(env, fake_helm):
    bv = 'last_breaking_version_requiring_restart = { version = "0.2.0", requires_uninstall = true }\n'
    env.write(block("stuck"), block("old", version="0.2.0", extra=bv))
    fake_helm.seed_release("stuck", revision=2, status="pending-upgrade")
    fake_helm.seed_release("old", version="0.1.0")
    plan = env.load().plan()
    assert (plan["stuck"].action, plan["stuck"].reasons) == ("recover", ("status is pending-upgrade",))
    assert plan["old"].action == "reinstall"
    result = env.load().apply(plan)
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert [c.op for c in fake_helm.call_log(release="stuck") if c.op in ("rollback", "upgrade")] == [
        "rollback", "upgrade"]
    assert [c.op for c in fake_helm.call_log(release="old") if c.op in ("uninstall", "upgrade")] == [
        "uninstall", "upgrade"]
    assert fake_helm.release("stuck")["status"] == "deployed"
    assert fake_helm.release("old")["version"] == "0.2.0"
    assert not env.load().plan().has_changes


def test_a_release_left_uninstalling_is_recovered_by_rolling_back_to_itself(env, fake_helm):
    """An uninstall stopped half-way (a failed pre-delete hook, a killed helm) leaves the release
    'uninstalling', which `helm upgrade` refuses ("has no deployed releases"): the plan says
    `recover` and apply rolls it back to its own revision (no pre-delete hook again), then upgrades."""
    env.write(block("top"))
    fake_helm.seed_release("top", revision=1, status="uninstalling")
    plan = env.load().plan()
    assert (plan["top"].action, plan["top"].reasons) == ("recover", ("status is uninstalling",))
    assert plan["top"].destructive == (
        "roll back release 'top' to revision 1 (an uninstall did not finish), then upgrade",)
    result = env.load().apply(plan)
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert [c.op for c in fake_helm.call_log(release="top") if c.op in ("rollback", "uninstall", "upgrade")] == [
        "rollback", "upgrade"]
    assert fake_helm.release("top")["status"] == "deployed"
    assert not env.load().plan().has_changes


def test_dry_run_changes_nothing(env, fake_helm):
    env.write(block("a"), block("b", ("a",)))
    result = env.load().apply(dry_run=True)
    assert result.ok and result.dry_run
    assert fake_helm.releases() == []
    assert state_keys(env.dir) == []


def test_targets(env, fake_helm):
    env.write(block("db"), block("api", ("db",)), block("web", ("api",)))
    result = env.load().apply(targets=["api"], include_deps=True)
    assert list(result.releases) == ["db", "api"]
    assert [r["name"] for r in fake_helm.releases()] == ["api", "db"]
    gone = env.load().destroy(targets=["db"], include_deps=True)
    assert list(gone.releases) == ["web", "api", "db"]
    assert [o.action for o in gone.releases.values()] == ["no-op", "destroy", "destroy"]
    assert fake_helm.releases() == []


def test_destroy_refuses_for_a_deployed_dependent_not_for_one_uninstalled_with_its_history(env, fake_helm):
    from firestream_core.errors import DependentsDeployedError

    env.write(block("op4"), block("api", ("op4",)))
    assert env.load().apply().ok
    with pytest.raises(DependentsDeployedError, match=r"'op4' is needed by 'api' \(still deployed\)"):
        env.load().destroy(targets=["op4"])
    # `helm uninstall --keep-history api`: helm still lists it, as uninstalled; it is gone
    fake_helm.seed_release("api", status="uninstalled", revision=2)
    gone = env.load().destroy(targets=["op4"])
    assert gone.ok and [(n, o.action) for n, o in gone.releases.items()] == [("op4", "destroy")]
    assert [(r["name"], r["status"]) for r in fake_helm.releases()] == [("api", "uninstalled")]


def test_destroy_runs_in_reverse_order(env, fake_helm):
    env.write(block("db"), block("api", ("db",)), block("web", ("api",)), block("cache"))
    assert env.load().apply().ok
    fake_helm.reset_calls()
    result = env.load().destroy()
    assert result.ok
    end = {c.release: c.end for c in fake_helm.call_log("uninstall")}
    start = {c.release: c.start for c in fake_helm.call_log("uninstall")}
    assert end["web"] <= start["api"] and end["api"] <= start["db"]
    assert state_keys(env.dir) == []


def test_apply_uninstalls_action_destroy_releases_dependents_first(env, fake_helm):
    """``action = "destroy"`` on a release and on what depends on it: apply uninstalled the
    dependency first (the deploy order), leaving its dependent running without it."""
    env.write(block("db"), block("api", ("db",)), block("web", ("api",)), block("cache"))
    assert env.load().apply().ok
    fake_helm.reset_calls()
    env.write(block("db", extra='action = "destroy"\n'), block("api", ("db",), extra='action = "destroy"\n'),
              block("web", ("api",), extra='action = "destroy"\n'), block("cache"))
    result = env.load().apply(concurrency=0)
    assert result.ok and {n: o.action for n, o in result.releases.items()} == {
        "db": "destroy", "api": "destroy", "web": "destroy", "cache": "no-op"}
    end = {c.release: c.end for c in fake_helm.call_log("uninstall")}
    start = {c.release: c.start for c in fake_helm.call_log("uninstall")}
    assert end["web"] <= start["api"] and end["api"] <= start["db"]
    assert state_keys(env.dir) == ["default/cache"]


def test_a_failed_action_destroy_keeps_what_the_release_depends_on(env, fake_helm):
    env.write(block("db"), block("api", ("db",)))
    assert env.load().apply().ok
    env.write(block("db", extra='action = "destroy"\n'), block("api", ("db",), extra='action = "destroy"\n'))
    fake_helm.fail_on("api", "uninstall", "boom")
    result = env.load().apply()
    assert result.releases["api"].result == "failed"
    assert (result.releases["db"].result, result.releases["db"].reason) == ("skipped", "dependent 'api' failed")
    assert [r["name"] for r in fake_helm.releases()] == ["api", "db"]


# -- the CLI -------------------------------------------------------------------------------------


def test_refuses_without_yes_off_a_terminal(env, fake_helm, monkeypatch, capsys):
    path = env.write(block("a"))
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - closed by pytest
    assert main(["apply", "-f", str(path), *env.flags]) == 1
    err = capsys.readouterr().err
    assert "refusing to apply without confirmation: stdin is not a terminal" in err
    # (the plan shown renders the create: helm's dry run, which changes nothing)
    assert applied_upgrades(fake_helm) == [] and fake_helm.releases() == []


@pytest.mark.parametrize("fails", [False, True])
def test_a_reader_that_goes_away_neither_stops_an_apply_nor_hides_its_exit_code(env, fake_helm, fails):
    """``firestream apply --yes | head -1``: the closed pipe raised BrokenPipeError at the plan's
    print (nothing applied, exit 0) or at the summary's (a failed apply exiting 0)."""
    path = env.write(block("a"), block("b", ("a",)))
    if fails:
        fake_helm.fail_on("b", "upgrade", "boom")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away: every write to the pipe is EPIPE
    saved = sys.stdout
    with open(write_end, "w", buffering=1) as closed:  # line buffered: the first line fails
        sys.stdout = closed
        try:
            code = main(["apply", "--yes", "-f", str(path), *env.flags])
        finally:
            sys.stdout = saved
    assert code == (1 if fails else 0)
    assert fake_helm.release("a") is not None  # the run went on after its plan was printed
    assert (fake_helm.release("b") is None) is fails


def test_a_reader_that_goes_away_does_not_turn_plans_answer_into_no_changes(env, fake_helm):
    """``firestream plan --detailed-exitcode | grep -q web``: a closed pipe made plan exit 0,
    "no changes", while the plan had changes."""
    path = env.write(block("a"), block("b", ("a",)))
    read_end, write_end = os.pipe()
    os.close(read_end)
    saved = sys.stdout
    with open(write_end, "w", buffering=1) as closed:
        sys.stdout = closed
        try:
            code = main(["plan", "--detailed-exitcode", "-f", str(path), *env.flags])
        finally:
            sys.stdout = saved
    assert code == 2


def test_detailed_exitcode(env, capsys):
    path = env.write(block("a"))
    flags = ["-f", str(path), *env.flags]
    assert main(["plan", "--detailed-exitcode", *flags]) == 2
    assert main(["apply", "--yes", *flags]) == 0
    assert main(["plan", "--detailed-exitcode", *flags]) == 0
    bad = write_config(env.dir / "bad", "[[deployments.generic]]\nname = 'x'\ntimeout = 'soon'\n")
    assert main(["plan", "--detailed-exitcode", "-f", str(bad), *env.flags]) == 1
    assert "timeout" in capsys.readouterr().err


def test_plan_json_never_contains_a_value(env, fake_helm, monkeypatch, capsys):
    secret = "[deployments.generic.secret_values]\nauth.password = { env = 'FAKE_SECRET' }\n"
    path = env.write(block("a", extra=secret + "[deployments.generic.values]\nreplicaCount = 1\n"))
    flags = ["-f", str(path), *env.flags]
    assert main(["plan", "--json", *flags]) == 0
    assert main(["apply", "--yes", *flags]) == 0
    assert fake_helm.release("a")["values"]["auth"]["password"] == SECRET  # it did reach helm
    monkeypatch.setenv("FAKE_SECRET", SECRET + "-new")
    env.write(block("a", extra=secret + "[deployments.generic.values]\nreplicaCount = 2\n"))
    assert main(["plan", "--json", *flags]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out[out.rindex('{\n  "schema_version"'):])
    assert doc["releases"][0]["changed_keys"] == ["auth.password", "replicaCount"]
    for text in (out, err, json.dumps(fake_helm.calls())):
        assert SECRET not in text


def test_a_secret_no_longer_declared_stays_hidden_in_the_plan(env, fake_helm, monkeypatch, capsys):
    """A ``secret_values`` entry at a path whose key says nothing (``config.dsn``) is removed
    from the config: helm still holds the secret, and the plan shows the path ``(sensitive)``,
    never the deployed value, from the paths the state recorded; ordinary values stay readable."""
    secret = "[deployments.generic.secret_values]\nconfig.dsn = { env = 'FAKE_SECRET' }\n"
    path = env.write(block("a", extra=secret + "[deployments.generic.values]\nlevel = 'info'\n"))
    flags = ["-f", str(path), *env.flags]
    assert main(["apply", "--yes", *flags]) == 0
    assert fake_helm.release("a")["values"]["config"]["dsn"] == SECRET  # it did reach helm
    assert state_entry(env.dir, "default/a")["secret_paths"] == ["config.dsn"]
    monkeypatch.delenv("FAKE_SECRET")  # not read any more: the redactor does not know it
    env.write(block("a", extra="[deployments.generic.values]\nlevel = 'debug'\n"))
    assert main(["plan", *flags]) == 0
    assert main(["plan", "--json", *flags]) == 0
    out, err = capsys.readouterr()
    assert "config.dsn: (sensitive) -> (none)" in out and "level: info -> debug" in out
    assert SECRET not in out + err
    # a failed apply keeps the paths: helm rolled back to the values holding the secret
    fake_helm.fail_on("a", "upgrade", "boom")
    assert main(["apply", "--yes", *flags]) == 1
    assert state_entry(env.dir, "default/a")["secret_paths"] == ["config.dsn"]
    capsys.readouterr()
    assert main(["plan", *flags]) == 0
    out, err = capsys.readouterr()
    assert "config.dsn: (sensitive) -> (none)" in out and SECRET not in out + err


def test_progress_and_summary_on_the_cli(env, fake_helm, capsys):
    path = env.write(block("a"), block("b", ("a",)))
    fake_helm.fail_on("b", "upgrade", "boom")
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 1
    out, err = capsys.readouterr()
    assert "a: create ok" in err and "b: create failed" in err  # one line each off a terminal
    lines = out.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.split()[:3] == ["release", "action", "result"]):]
    assert table[0].split() == ["release", "action", "result", "duration", "why"]
    assert table[2].split()[:3] == ["a", "create", "ok"]
    assert table[3].split()[:3] == ["b", "create", "failed"]


def test_quiet_off_a_terminal_prints_only_the_releases_that_did_not_end_ok(env, fake_helm, capsys):
    """``-q`` (warnings and errors only) still printed one line per release off a terminal; now
    only a release that did not end ok has its line (its full reason), and the summary stays."""
    path = env.write(block("a"), block("b", ("a",)))
    fake_helm.fail_on("b", "upgrade", "boom")
    assert main(["-q", "apply", "--yes", "-f", str(path), *env.flags]) == 1
    out, err = capsys.readouterr()
    assert "a: create ok" not in err and "b: create failed" in err and "boom" in err
    assert [line.split()[:3] for line in out.splitlines() if line.split()[:1] in (["a"], ["b"])] == [
        ["a", "create", "ok"], ["b", "create", "failed"]]


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(f"apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n"
                    f"    server: {server}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n"
                    "users:\n- name: u\n  user: {}\n")
    return path


def test_a_failure_on_another_cluster_does_not_record_this_clusters_revision(env, fake_helm, fake_kubectl):
    """A release that failed without a revision keeps its previous record's revision; not one a
    run on another API server recorded (that revision is the other cluster's)."""
    env.write(block("a"))

    def load(server: str) -> Project:
        kubeconfig = _kubeconfig(env.dir / f"kc-{server.rsplit(':', 1)[-1]}", server)
        return Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                            kubectl_binary=fake_kubectl, kubeconfig=kubeconfig)

    assert load("https://a.example:6443").apply().ok
    first = StateStore(env.dir).load().releases["default/a"]
    assert (first.cluster, first.revision) == ("https://a.example:6443", 1)
    env.write(block("a", extra="[deployments.generic.values]\nreplicaCount = 2\n"))
    fake_helm.fail_on("a", "upgrade", "boom")
    on_b = load("https://b.example:6443")
    assert not on_b.apply(on_b.plan(), concurrency=1).ok
    entry = StateStore(env.dir).load().releases["default/a"]
    assert (entry.cluster, entry.result, entry.revision, entry.last_success) == (
        "https://b.example:6443", "failed", None, None)


def test_state_unlock_force(env, capsys):
    path = env.write(block("a"))
    lock = path.parent / ".firestream" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": 999999, "host": "elsewhere", "since": "t", "command": "firestream apply",
                                "id": "x"}))
    assert main(["state", "unlock", "-f", str(path)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["state", "unlock", "--force", "-f", str(path)]) == 0
    assert not lock.exists()
    assert capsys.readouterr().out == (
        "removed the lock of pid 999999 on host elsewhere since t running 'firestream apply'\n")


@pytest.mark.parametrize("text", ["", "garbage{", '{"pid": 1, "host": "h", "time": "t"}'],
                         ids=["empty", "not-json", "not-firestreams"])
def test_state_unlock_force_of_an_unreadable_lock_says_it_removed_it(text, env, capsys):
    """It removed the file (its warning said so) and then printed "the project was not locked"."""
    path = env.write(block("a"))
    lock = path.parent / ".firestream" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(text)
    assert main(["state", "unlock", "--force", "-f", str(path)]) == 0
    assert not lock.exists()
    out, err = capsys.readouterr()
    assert out == "removed the lock of an unknown holder (the lock file could not be read)\n"
    assert "not locked" not in out + err
    assert main(["state", "unlock", "--force", "-f", str(path)]) == 0  # nothing left to remove
    assert capsys.readouterr().out == "the project was not locked\n"


# -- lock and interruption -------------------------------------------------------------------


def test_a_run_whose_lock_is_removed_meanwhile_starts_no_more_releases(env, fake_helm, capsys):
    """``firestream state unlock --force`` while a run goes on (here from a hook of release
    ``a``): the run notices before it starts ``b``, which ends not started with the reason
    (exit code 1); what was running finished. ``Project.apply`` takes the lock itself here;
    the CLI's path, under ``project.lock``, is tests/state/test_kubernetes_two_machines.py's."""
    from firestream_core.plugin.manager import get_plugin_manager
    from firestream_core.state.lock import force_unlock

    class UnlockAfterA:
        @hookimpl
        def post_exec(self, chart):
            if chart.chart_info.name == "a":
                force_unlock(env.dir)

    env.write(block("a"), block("b", ("a",)))
    manager = get_plugin_manager(load_entry_points=False, extra_plugins=[UnlockAfterA()])
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=os.environ["FIRESTREAM_KUBECTL_BINARY"], manager=manager)
    result = project.apply(concurrency=1)
    assert result.releases["a"].result == "ok"
    b = result.releases["b"]
    assert b.result == "not_started" and b.reason.startswith("not started: the project lock ")
    assert result.stopped and "was removed or replaced meanwhile" in result.stopped
    assert result.exit_code == 1
    assert [c[c.index("upgrade") + 1] for c in fake_helm.calls("upgrade")] == ["a"]


def test_a_plugin_stage_raising_keyboard_interrupt_interrupts_project_apply(env, fake_helm):
    """The library's apply: the run is interrupted as by Ctrl-C (exit code 130, nothing new
    started, what finished recorded, the lock released), not one failed release."""
    from firestream_core.plugin.manager import get_plugin_manager
    from firestream_core.state.lock import lock_path

    class InterruptB:
        @hookimpl
        def pre_exec(self, chart):
            if chart.chart_info.name == "b":
                raise KeyboardInterrupt

    env.write(block("a"), block("b", ("a",)), block("c", ("b",)))
    manager = get_plugin_manager(load_entry_points=False, extra_plugins=[InterruptB()])
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=os.environ["FIRESTREAM_KUBECTL_BINARY"], manager=manager)
    result = project.apply()
    assert (result.interrupted, result.exit_code) == (True, 130)
    assert {n: o.result for n, o in result.releases.items()} == {
        "a": "ok", "b": "cancelled", "c": "not_started"}
    assert sorted(project.state_backend().load().releases) == ["default/a"]
    assert not lock_path(env.dir).exists()


def test_an_interrupted_upgrade_is_not_said_changed_outside_firestream(env, fake_helm):
    """Ctrl-C during an upgrade: helm 3, stopped with SIGTERM, rolls an ``--atomic`` upgrade back
    (a failed revision, then a rollback). The state kept the apply before it as the last word, so
    the next plan said ``changed outside firestream (revision 3 in the cluster, 1 recorded)``:
    revisions firestream's own interrupted run made. The interrupted release is recorded as
    such (``cancelled``, the revision before it kept)."""
    env.write(block("a", extra="[deployments.generic.values]\nmessage = 'one'\n"))
    assert env.load().apply().ok
    env.write(block("a", extra="[deployments.generic.values]\nmessage = 'two'\n"))
    fake_helm.set_delay("a", 1.5)  # apply's render of the upgrade (a dry run), then the upgrade
    cancel = threading.Event()
    results = []
    project = env.load()
    run = threading.Thread(target=lambda: results.append(project.apply(cancel=cancel)))
    run.start()
    deadline = time.monotonic() + 30
    while (fake_helm.release("a") or {}).get("status") != "pending-upgrade":
        assert time.monotonic() < deadline, "the upgrade did not start"
        time.sleep(0.02)
    cancel.set()
    run.join(60)
    assert results[0].releases["a"].result == "cancelled"
    entry = StateStore(env.dir).load().releases["default/a"]
    assert (entry.result, entry.revision, entry.last_success.revision) == ("cancelled", 1, 1)
    fake_helm.seed_release("a", revision=3, values={"message": "one"})  # helm 3's atomic rollback
    change = env.load().plan()["a"]
    assert change.action == "upgrade"
    assert not [r for r in change.reasons if "outside firestream" in r], change.reasons
    assert change.reasons[0] == "last apply cancelled in exec"
    fake_helm.set_delay("a", 0)
    assert env.load().apply().ok
    assert not env.load().plan().has_changes


def test_lock_refuses_a_second_run_in_process(env):
    env.write(block("a"))
    project = env.load()
    with project.lock("firestream apply"), pytest.raises(StateLockedError) as err:
        env.load().apply()
    assert "firestream apply" in str(err.value)


def test_second_process_is_refused_and_ctrl_c_keeps_what_finished(env, fake_helm):
    path = env.write(block("fast"), block("slow"), block("after", ("slow",)))
    fake_helm.set_delay("slow", 60)
    argv = [sys.executable, "-m", "firestream_core.cli.main", "apply", "--yes", "-f", str(path), *env.flags]
    first = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                             stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not (fake_helm.call_log("upgrade", release="fast")
                   and "fast" in " ".join(state_keys(env.dir))
                   and (fake_helm.release("slow") or {}).get("status") == "pending-install"):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first apply did not get going"
            time.sleep(0.05)
        second = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,  # noqa: S603
                                env=os.environ.copy(), timeout=60)
        assert second.returncode == 1
        assert str(first.pid) in second.stderr and "firestream apply" in second.stderr
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 130, err
    assert not (env.dir / ".firestream" / "lock").exists()
    assert state_keys(env.dir) == ["default/fast"]
    rows = {line.split()[0]: line.split()[2] for line in out.splitlines()
            if line.split() and line.split()[0] in ("fast", "slow", "after")}
    assert rows == {"fast": "ok", "slow": "cancelled", "after": "not_started"}


# -- import ---------------------------------------------------------------------------------------


def test_import_appends_block_and_next_plan_is_noop(env, fake_helm, capsys):
    fake_helm.seed_release("legacy", "apps", version="0.1.0", revision=3,
                           values={"replicaCount": 2, "db": {"password": SECRET, "host": "pg"}, "n": None})
    path = env.write("# keep me\n")
    before = path.read_text()
    flags = ["-f", str(path), *env.flags]
    assert main(["import", "deployment", "legacy", "-n", "apps", "--chart", "fixtures/tiny-app", *flags]) == 0
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    text = path.read_text()
    assert text.startswith(before) and SECRET not in text
    assert 'chart = "fixtures/tiny-app"' in text and 'version = "0.1.0"' in text
    secret_file = env.dir / "values" / "legacy.secret.yaml"
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600" and SECRET in secret_file.read_text()
    assert "db.password" in err
    assert main(["plan", "--detailed-exitcode", *flags]) == 0
    assert "no-op" in capsys.readouterr().out
    # helm's values are kept as they were (the null made TOML give way to a values file)
    assert (env.dir / "values" / "legacy.yaml").exists()
    assert fake_helm.call_log("upgrade") == []


def test_another_project_files_saved_plan_names_both_files(env, fake_helm):
    """A plan saved from prod.toml applied to the folder's firestream.toml: the refusal named only
    a release's changed namespace; it now says which file the plan came from and which this run
    reads (the file's name alone: a saved plan may be applied from another checkout)."""
    from firestream_core.errors import PlanMismatchError

    env.write(block("web", extra='namespace = "apps"\n'))
    prod = env.dir / "prod.toml"
    prod.write_text(env.path.read_text().replace('namespace = "apps"', 'namespace = "prod"'))
    source = Project.load(prod, helm_binary=fake_helm.binary, env=fake_helm.env)
    source.save_plan(source.plan(), env.dir / "prod.plan")
    with pytest.raises(PlanMismatchError) as caught:
        env.load().saved_plan(env.dir / "prod.plan")
    assert "namespace changed" in str(caught.value)
    assert f"the plan was saved from {prod}, this run reads {env.path}" in str(caught.value)
    assert source.saved_plan(env.dir / "prod.plan").releases[0].namespace == "prod"  # its own: no refusal
    assert fake_helm.call_log("upgrade") == []


def test_import_keeps_a_project_files_crlf_line_ends(env, fake_helm):
    """A firestream.toml written with CRLF (an editor on Windows) was rewritten with LF line ends
    by import: every line of it changed in the user's diff. Its line ends stay, the block's too."""
    fake_helm.seed_release("legacy", "apps", version="0.1.0", revision=1, values={"replicaCount": 2})
    path = env.write("# keep me\n")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    before = path.read_bytes()
    flags = ["-f", str(path), *env.flags]
    assert main(["import", "deployment", "legacy", "-n", "apps", "--chart", "fixtures/tiny-app", *flags]) == 0
    after = path.read_bytes()
    assert after.startswith(before) and b'name = "legacy"\r\n' in after
    assert b"\n" not in after.replace(b"\r\n", b"")  # no bare LF anywhere
    assert main(["plan", "--detailed-exitcode", *flags]) == 0


def test_import_reads_the_users_repositories_and_says_when_the_project_gives_another_url(env, fake_helm, capsys):
    """The user's own ``fixtures`` (their mirror) is where import looks, never what a run writes
    or installs from: the block names ``fixtures``, whose URL the project gives, and import warns
    that the next apply upgrades from the project's URL (the user's URL is not printed)."""
    fake_helm.seed_release("legacy", "apps", version="0.1.0", values={"message": "hi"})
    fake_helm.publish("fixtures/tiny-app", "0.1.0")
    mirror = "http://127.0.0.1:9/internal-mirror"
    subprocess.run([str(fake_helm.binary), "repo", "add", "fixtures", mirror],  # noqa: S603 - by hand
                   env={**os.environ, **fake_helm.env}, check=True, capture_output=True)
    path = env.write("")
    flags = ["-f", str(path), *env.flags]
    assert main(["import", "deployment", "legacy", "-n", "apps", *flags]) == 0  # found by helm search repo
    err = capsys.readouterr().err
    assert ("your helm repository 'fixtures' has another URL than the project's (http://127.0.0.1:9/fixtures): "
            "firestream never uses your helm repositories, so the next apply upgrades release 'legacy' "
            "from http://127.0.0.1:9/fixtures") in err
    assert mirror not in err and mirror not in path.read_text()
    assert 'chart = "tiny-app"\nrepository = "fixtures"' in path.read_text()

    assert main(["template", *flags]) == 0  # repo add of the project's URL, in the run's own repositories
    capsys.readouterr()
    assert ["repo", "add", "fixtures", "http://127.0.0.1:9/fixtures"] in [c[:4] for c in fake_helm.calls()]
    assert fake_helm.repos() == {"fixtures": mirror}  # the user's: as they were


def test_import_under_a_chart_type_plans_the_values_its_defaults_add(env, fake_helm, fake_kubectl):
    """``import --type T``: T's default preset adds values the release never had. Its digest was
    recorded as if helm held them, so the next plan said ``no-op`` while template, diff and the
    next upgrade used the preset's values; the plan now names them."""
    import attrs

    from firestream_core.model import ChartInfo, ChartType, HelmChart
    from firestream_core.plugin import ChartPresets, hookimpl
    from firestream_core.plugin.manager import get_plugin_manager

    presets = ChartPresets("tuned", chart="tiny-app", version="0.1.0", repository="fixtures")

    @attrs.define
    class Tuned(HelmChart):
        chart_info: ChartInfo = attrs.field(factory=presets.factory("default", {"replicaCount": 3}))

    class Plugin:
        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="tuned", chart_class=Tuned))

    fake_helm.seed_release("legacy", "apps", version="0.1.0", values={"message": "hi"})
    fake_helm.seed_release("plain", "apps", version="0.1.0", values={"message": "hi"})
    env.write("")
    manager = get_plugin_manager(extra_plugins=[Plugin()])

    def load() -> Project:
        return Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                            kubectl_binary=fake_kubectl, manager=manager)

    load().import_release("legacy", "apps", chart_type="tuned", chart="fixtures/tiny-app")
    load().import_release("plain", "apps", chart="fixtures/tiny-app")
    plan = load().plan()
    assert plan["legacy"].action == "upgrade"
    assert list(plan["legacy"].changed_keys) == ["replicaCount"]
    assert plan["plain"].action == "no-op" and list(plan["plain"].reasons) == ["up to date"]


def _render_template(project):
    assert project.template()["web"]


def _render_diff(project):
    (diff,) = project.diff()
    assert diff.status != "error", diff.message


def _render_hooks(project):
    from firestream_core.ops.helm_hooks import plan_hooks

    _, helm, _ = project.tools()
    hooks = plan_hooks(project.hooks_input(), project.plan(helm=helm), helm)
    assert not hooks["web"].error


@pytest.mark.parametrize("render", [_render_template, _render_diff, _render_hooks])
def test_rendering_adds_a_repository_the_chart_names_as_repo_slash_chart(env, fake_helm, render):
    """The seed's ``chart = "bitnami/postgresql"`` form with an exact version: apply added the
    repository, but template, diff and plan --hooks only added one named by ``repository``, so
    on a machine whose helm did not know it they failed with 'repo fixtures not found'."""
    env.write('[[deployments.generic]]\nname = "web"\nchart = "fixtures/tiny-app"\nversion = "0.1.0"\n')
    render(env.load())
    assert ["repo", "add", "fixtures"] in [c[:3] for c in fake_helm.calls()]


def test_a_repo_in_chart_wins_over_the_chart_types_default_repository(env, fake_helm, fake_kubectl):
    """``chart = "mirror/tiny-app"`` in a release of a chart type whose default repository is
    another: helm got ``mirror/tiny-app`` but pre_exec added the chart type's repository (the
    public one, unreachable from an air-gapped cluster), failing the release the plan created."""
    import attrs

    from firestream_core.model import ChartInfo, ChartType, HelmChart
    from firestream_core.plugin import ChartPresets, hookimpl
    from firestream_core.plugin.manager import get_plugin_manager

    presets = ChartPresets("stock", chart="tiny-app", version="0.1.0", repository="upstream")

    @attrs.define
    class Stock(HelmChart):
        chart_info: ChartInfo = attrs.field(factory=presets.factory("default", {}))

    class Plugin:
        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="stock", chart_class=Stock,
                               repositories={"upstream": "https://charts.example.com/upstream"}))

    fake_helm.fail_on("upstream", "repo add", "dial tcp: lookup charts.example.com: no such host")
    env.write('[[deployments.stock]]\nchart = "mirror/tiny-app"\n')
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=get_plugin_manager(extra_plugins=[Plugin()]))
    result = project.apply()
    assert result.ok, result.releases["stock"].reason
    added = [c[2] for c in fake_helm.calls() if c[:2] == ["repo", "add"]]
    assert added == ["mirror"]
    assert project.template()["stock"]


def test_import_that_cannot_write_the_project_file_leaves_nothing_behind(env, fake_helm, monkeypatch, capsys):
    """A full disk while the project file was written: the import said ``unexpected OSError``
    (no file named) and left ``values/legacy.secret.yaml`` behind, so running it again once
    space was freed was refused (``... already exists; move it away``)."""
    import errno

    from firestream_core.ops import importer

    fake_helm.seed_release("legacy", "apps", version="0.1.0",
                           values={"replicaCount": 2, "db": {"password": SECRET}, "n": None})
    path = env.write("# keep me\n")
    before = path.read_text()
    flags = ["-f", str(path), *env.flags]
    real_write = importer.atomic_text_write

    def disk_full(target, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(importer, "atomic_text_write", disk_full)
    argv = ["import", "deployment", "legacy", "-n", "apps", "--chart", "fixtures/tiny-app", *flags]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        f"error: cannot write {path}: No space left on device; nothing was imported "
        "(firestream.toml and the values files are as they were)"
    )
    assert "Traceback" not in err and SECRET not in err
    assert path.read_text() == before
    assert not (env.dir / "values").exists()  # the files and the folder it made are gone
    monkeypatch.setattr(importer, "atomic_text_write", real_write)
    assert main(argv) == 0  # once the disk has room again, the same command works
    assert (env.dir / "values" / "legacy.secret.yaml").exists()


def test_import_with_a_damaged_state_file_writes_nothing_and_asks_helm_nothing(env, fake_helm):
    """The block was appended to firestream.toml (and the values files written) before the
    state was read: the import then failed on the damaged state, and once the state was
    restored, importing again was refused (``release 'legacy' is already defined``)."""
    from firestream_core.errors import StateError

    path = env.write("# keep me\n")
    before = path.read_text()
    fake_helm.seed_release("legacy", "apps", values={"db": {"password": SECRET}, "replicaCount": 2})
    state = env.dir / ".firestream" / "state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text('{"schema_version": 1, "releases": {')
    fake_helm.reset_calls()
    with pytest.raises(StateError, match="state.json is not valid JSON"):
        env.load().import_release("legacy", "apps", chart="fixtures/tiny-app")
    assert path.read_text() == before
    assert not (env.dir / "values").exists()
    assert fake_helm.call_log() == []
    state.unlink()
    assert env.load().import_release("legacy", "apps", chart="fixtures/tiny-app").name == "legacy"


def test_import_refuses_unknown_ambiguous_and_undeployed(env, fake_helm):
    env.write("")
    fake_helm.seed_release("twin", "a")
    fake_helm.seed_release("twin", "b")
    fake_helm.seed_release("broken", status="failed")
    project = env.load()
    from firestream_core.errors import FirestreamError

    with pytest.raises(FirestreamError, match="no helm release named 'ghost'"):
        project.import_release("ghost")
    with pytest.raises(FirestreamError, match=r"several namespaces \(a, b\)"):
        project.import_release("twin")
    with pytest.raises(FirestreamError, match="is failed; only a deployed release"):
        project.import_release("broken")


def test_import_into_repositories_written_inline_names_them_not_deployments(env, fake_helm, tmp_path):
    """A project file writing ``repositories = { ... }`` inline: the repository line import
    adds cannot go there; the hint named ``[deployments.generic]``, which had nothing to do with it."""
    from firestream_core.errors import ConfigError

    env.dir.mkdir(parents=True)
    env.path.write_text('repositories = { fixtures = "http://127.0.0.1:9/fixtures" }\n')
    before = env.path.read_text()
    fake_helm.seed_release("legacy", "apps")
    with pytest.raises(ConfigError) as info:
        env.load().import_release("legacy", "apps", chart="mirror/tiny-app", repo_url="http://127.0.0.1:9/mirror")
    assert "[repositories]" in info.value.hint and 'add mirror = "<its URL>"' in info.value.hint
    assert "deployments" not in info.value.hint
    assert env.path.read_text() == before


@pytest.mark.parametrize(("args", "said"), [
    (["Bad_Name"], "cannot import: release name 'Bad_Name' is not a DNS-1123 label"),
    (["ok", "-n", "Bad_NS"], "cannot import: namespace 'Bad_NS' is not a DNS-1123 label"),
    (["ok", "--chart", "./charts/web"], "cannot import: --chart './charts/web' is a local path; import "
                                        "writes a repository chart"),
    (["ok", "--chart", "/srv/charts/web"], "cannot import: --chart '/srv/charts/web' is a local path"),
    # a URL [repositories] refuses: the credentials one passed the CLI's own check and was refused
    # only after helm's list and get values, by the block check, at a key the user never wrote
    (["ok", "--chart", "x/web", "--repo-url", "https://u:s3cret@charts.example.com/x"],
     "cannot import: the repository URL (--repo-url): credentials must not be written in a URL"),
    (["ok", "--chart", "x/web", "--repo-url", "ftp://charts.example.com/x"],
     "cannot import: the repository URL (--repo-url): scheme 'ftp' is not supported"),
])
def test_import_of_a_name_no_release_can_have_calls_no_helm(env, fake_helm, capsys, args, said):
    """``import deployment Bad_Name`` listed the cluster's releases (and took the lock) to say
    ``no helm release named 'Bad_Name'``."""
    path = env.write("")
    fake_helm.reset_calls()
    assert main(["import", "deployment", *args, "-f", str(path), *env.flags]) == 1
    assert capsys.readouterr().err.startswith(f"error: {said}")
    assert fake_helm.calls() == []


class _AppendsInPreExec:
    """A chart plugin that edits its chart in place during pre_exec (the seed's style)."""

    @staticmethod
    def make():
        from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl

        class MutatingChart(HelmChart):
            chart_type = "mutating"

            @classmethod
            def default(cls):
                return cls(ChartInfo(name="mutating", chart="tiny-app"))

        class Plugin:
            @hookimpl
            def register_chart_types(self, register):
                register(ChartType(name="mutating", chart_class=MutatingChart))

            @hookimpl
            def pre_exec(self, chart):
                from firestream_core import ChartSetValue

                chart.get_chart_info_mut().values.append(ChartSetValue(key="fromPreExec", value="x"))

        return Plugin()


def test_stage_edits_to_a_chart_do_not_leak_into_the_next_plan(env, fake_helm, fake_kubectl):
    from firestream_core.plugin.manager import get_plugin_manager

    env.write('[[deployments.mutating]]\nrepository = "fixtures"\nversion = "0.1.0"\n')
    manager = get_plugin_manager(load_entry_points=False, extra_plugins=[_AppendsInPreExec.make()])
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=manager)
    assert project.apply().ok
    assert fake_helm.release("mutating")["values"]["fromPreExec"] == "x"
    # The same Project object plans again: its desired state is what the config
    # says, not what pre_exec made of the run's copy.
    assert [c.action for c in project.plan().releases] == ["no-op"]
    assert project.chart("mutating").chart_info.values == []


# -- helm tests in apply and status, lock timeout, drift repair ----------------------------------

RUN_TESTS = "run_tests = true\n"
SECRET_VALUE = "[deployments.generic.secret_values]\nauth.password = { env = 'FAKE_SECRET' }\n"


def state_entry(folder: Path, key: str) -> dict:
    return json.loads((folder / ".firestream" / "state.json").read_text())["releases"][key]


def test_apply_with_run_tests_records_the_tests_in_state(env, fake_helm):
    """The ``helm_tests`` validation's results land in the entry's ``tests``, as ``firestream test`` writes them."""
    env.write(block("a", extra=RUN_TESTS), block("b"))
    result = env.load().apply()
    assert result.ok
    entry = state_entry(env.dir, "default/a")
    assert [(t["name"], t["phase"], t["passed"]) for t in entry["tests"]] == [("a-test", "Succeeded", True)]
    assert entry["tests"][0]["run_at"] == entry["applied_at"]
    assert entry["tests"][0]["started"] and entry["tests"][0]["completed"]
    assert state_entry(env.dir, "default/b")["tests"] is None  # no run_tests: no test ran

    # an upgrade whose test fails: the release fails, is rolled back (atomic), and the failure is kept
    env.write(block("a", extra=RUN_TESTS + "[deployments.generic.values]\nmessage = 'two'\n"), block("b"))
    fake_helm.fail_on("a", "test", "smoke failed")
    result = env.load().apply()
    assert result.releases["a"].result == "failed" and result.releases["a"].rolled_back
    entry = state_entry(env.dir, "default/a")
    assert entry["result"] == "failed"
    assert [(t["name"], t["phase"], t["passed"]) for t in entry["tests"]] == [("a-test", "Failed", False)]


class _PayloadWatcher:
    """A cross-cutting plugin: the payload keys it sees at each stage; what exec did, from its context."""

    firestream_plugin_name = "payload-watcher"

    def __init__(self) -> None:
        self.keys: set[str] = set()

    @hookimpl
    def post_exec(self, chart, context, payload):
        self.keys.update(payload)
        payload.section("watcher")["revision"] = context.lifecycle.executed.revision

    @hookimpl
    def validate(self, chart, context, payload):
        self.keys.update(payload)


def test_apply_keeps_the_exec_record_and_tests_out_of_the_payload(env, fake_helm, fake_kubectl):
    """In a run, a plugin's payload holds only plugins' data; what exec did and helm test's
    results are the release's outcome's typed fields, and the state is written from that outcome."""
    from firestream_core.plugin.manager import get_plugin_manager

    watcher = _PayloadWatcher()
    env.write(block("a", extra=RUN_TESTS), block("b", ("a",)))
    manager = get_plugin_manager(load_entry_points=False, extra_plugins=[watcher])
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=manager)
    result = project.apply()
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert watcher.keys == {"watcher"}  # never a firestream.* key, at post_exec or validate
    a, b = result.releases["a"], result.releases["b"]
    assert a.payload == {"watcher": {"revision": 1}} and b.payload == {"watcher": {"revision": 1}}
    assert (a.executed.performed, a.executed.revision, a.revision) == ("deployed", 1, 1)
    assert [(t.name, t.passed) for t in a.tests] == [("a-test", True)] and b.tests is None
    assert (a.action, a.namespace, a.reason) == ("create", "default", "not deployed")
    entry = StateStore(env.dir).load().releases["default/a"]
    assert entry.tests is not None
    assert [(t["name"], t["passed"], t["run_at"]) for t in entry.tests] == [("a-test", True, entry.applied_at)]
    assert [v["name"] for v in entry.validations] == [v.name for v in a.validations]


def test_status_shows_the_last_test_results_never_a_value(env, fake_helm, capsys):
    path = env.write(block("a", extra=RUN_TESTS + SECRET_VALUE), block("b", extra=SECRET_VALUE))
    flags = ["-f", str(path), *env.flags]
    assert main(["apply", "--yes", *flags]) == 0
    capsys.readouterr()

    assert main(["status", "--json", *flags]) == 0
    out = capsys.readouterr().out
    doc = {s["name"]: s for s in json.loads(out)["releases"]}
    applied_at = state_entry(env.dir, "default/a")["applied_at"]
    assert doc["a"]["tests"]["result"] == "passed"
    assert doc["a"]["tests"]["run_at"] == applied_at
    assert [(t["name"], t["phase"], t["passed"]) for t in doc["a"]["tests"]["tests"]] == [
        ("a-test", "Succeeded", True)]
    assert doc["b"]["tests"] is None  # never tested
    assert SECRET not in out

    assert main(["status", *flags]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[-1] == "tests"
    row = {line.split()[0]: line for line in lines[2:]}
    assert row["a"].endswith(f"passed at {applied_at}")
    assert row["b"].rstrip().endswith("-")
    assert SECRET not in out

    # `firestream test` records a failure: status shows it, naming the failed test
    fake_helm.fail_on("*", "test", "smoke failed")
    assert main(["test", *flags]) == 1
    capsys.readouterr()
    assert main(["status", "--json", *flags]) == 0
    out = capsys.readouterr().out
    doc = {s["name"]: s for s in json.loads(out)["releases"]}
    assert doc["b"]["tests"]["result"] == "failed"
    assert doc["b"]["tests"]["run_at"] == state_entry(env.dir, "default/b")["tests"][0]["run_at"]
    assert main(["status", *flags]) == 0
    out = capsys.readouterr().out
    assert "failed (b-test) at " in out
    assert SECRET not in out


def test_apply_and_destroy_wait_lock_timeout_for_a_held_lock(env, monkeypatch):
    """``lock_timeout`` reaches the lock: the first wait (the other run then lets go) is followed by success."""
    import types

    from firestream_core.state import lock as lock_module

    env.write(block("a"))
    other = env.load().state_backend().lock("firestream other-run")
    other.acquire()
    try:
        with pytest.raises(StateLockedError):
            env.load().apply()  # default: refuse at once
        waits = []

        def sleep(seconds: float) -> None:  # the lock's wait between attempts: the other run ends
            waits.append(seconds)
            other.release()

        monkeypatch.setattr(lock_module, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
        assert env.load().apply(lock_timeout=60).ok
        assert len(waits) == 1
        other.acquire()
        assert env.load().destroy(lock_timeout=60).ok
        assert len(waits) == 2
    finally:
        other.release()


def test_import_waits_lock_timeout_for_a_held_lock(env, fake_helm, monkeypatch, capsys):
    """``firestream import --lock-timeout``: refused at once without it, naming the holder; with
    it, the import waits for the other run to let go, then appends its block."""
    import types

    from firestream_core.state import lock as lock_module

    fake_helm.seed_release("legacy", "apps", version="0.1.0", revision=1, values={"replicaCount": 2})
    path = env.write("# keep me\n")
    flags = ["-f", str(path), *env.flags]
    argv = ["import", "deployment", "legacy", "-n", "apps", "--chart", "fixtures/tiny-app", *flags]
    other = env.load().state_backend().lock("firestream other-run")
    other.acquire()
    try:
        assert main(argv) == 1
        assert "firestream other-run" in capsys.readouterr().err
        assert "legacy" not in path.read_text()
        waits = []

        def sleep(seconds: float) -> None:  # the lock's wait between attempts: the other run ends
            waits.append(seconds)
            other.release()

        monkeypatch.setattr(lock_module, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
        assert main([*argv, "--lock-timeout", "60"]) == 0
        assert len(waits) == 1 and 'name = "legacy"' in path.read_text()
    finally:
        other.release()


def test_cli_apply_repair_drift_asks_helm_version_once(env, fake_helm, capsys):
    """The drift check and the run reuse the plan's tools: one ``version`` for plan, drift check and apply."""
    path = env.write(block("a"), block("b", ("a",)))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    fake_helm.reset_calls()
    # the fake kubectl finds none of the manifests' objects: both releases drifted
    assert main(["apply", "--yes", "--repair-drift", "-f", str(path), *env.flags]) == 0
    assert "drift repair" in capsys.readouterr().out
    ops = [c.op for c in fake_helm.call_log()]
    assert ops.count("version") == 1
    assert ops.count("list") == 1
    assert sorted(c.release for c in applied_upgrades(fake_helm)) == ["a", "b"]


# -- plan: the Python work that needs no cluster is done while helm lists ----------------------


def test_plan_selects_the_hooks_while_helm_lists(env, fake_helm, monkeypatch):
    """plan() has the plugin manager import and select the ``contribute_values`` hooks while
    helm lists: the list waits (at most 20 s) for that selection and says whether it came."""
    env.write(block("a"), block("b", ("a",)))
    project = env.load()
    selected = threading.Event()
    real_caller = project.manager.hook_caller

    def hook_caller(hook, chart_type):
        if hook == "contribute_values":
            selected.set()
        return real_caller(hook, chart_type)

    monkeypatch.setattr(project.manager, "hook_caller", hook_caller)
    seen = []
    real_list = Helm.list_releases

    def list_releases(self):
        seen.append(selected.wait(20))
        return real_list(self)

    monkeypatch.setattr(Helm, "list_releases", list_releases)
    plan = project.plan()
    assert seen == [True]
    assert [(c.name, c.action) for c in plan.changes] == [("a", "create"), ("b", "create")]
    assert [c.op for c in fake_helm.call_log()].count("list") == 1


def test_plan_raises_the_lists_failure(env, tmp_path):
    env.write(block("a"))
    project = Project.load(env.path, helm_binary=tmp_path / "no-helm-here")
    with pytest.raises(HelmNotInstalledError, match="no-helm-here"):
        project.plan()


# -- version constraints: the plan names the version apply installs ----------------------------------


def test_a_version_constraint_is_planned_applied_rendered_and_recorded_at_one_version(env, fake_helm, tmp_path,
                                                                                     capsys):
    """``version = "^0.1"``: the plan resolves it with helm (one ``search repo``), says when a newer
    match appeared with nothing else changed, apply installs exactly that version (``--version
    0.1.1``, never the constraint), template renders it, the state records it; a saved plan
    carried out after a still newer match appeared is refused."""
    fake_helm.publish("fixtures/tiny-app", "0.1.0", "0.2.0")
    path = env.write(block("web", version="^0.1"))
    assert env.load().apply().ok
    assert fake_helm.release("web")["version"] == "0.1.0"
    assert state_entry(env.dir, "default/web")["version"] == "0.1.0"
    assert env.load().plan()["web"].reasons == ("up to date",)

    fake_helm.publish("fixtures/tiny-app", "0.1.1")
    fake_helm.reset_calls()
    plan = env.load().plan()
    assert (plan["web"].action, plan["web"].reasons) == ("upgrade", ("version changed 0.1.0 -> 0.1.1 (^0.1)",))
    assert [c[:2] for c in fake_helm.calls() if c[0] != "version"] == [
        ["list", "--all-namespaces"], ["repo", "add"], ["search", "repo"]]
    assert "chartVersion: \"0.1.1\"" in env.load().template()["web"]

    plan_file = tmp_path / "plan.json"
    assert main(["plan", "--out", str(plan_file), "-f", str(path), *env.flags]) == 0
    fake_helm.publish("fixtures/tiny-app", "0.1.2")  # after the review
    capsys.readouterr()
    assert main(["apply", "--yes", str(plan_file), "-f", str(path), *env.flags]) == 1
    assert "release 'web': its desired state changed since the plan was saved" in capsys.readouterr().err
    assert fake_helm.release("web")["version"] == "0.1.0"

    fake_helm.reset_calls()
    project = env.load()
    plan = project.plan()
    assert plan["web"].reasons == ("version changed 0.1.0 -> 0.1.2 (^0.1)",)
    assert project.apply(plan).ok
    (upgrade,) = [list(c.argv) for c in applied_upgrades(fake_helm)]
    assert upgrade[upgrade.index("--version") + 1] == "0.1.2"
    # the immutable-field check before it rendered the same version (helm's dry run of the upgrade)
    (check,) = [c for c in fake_helm.calls("upgrade") if "--dry-run=server" in c]
    assert check[check.index("--version") + 1] == "0.1.2"
    assert [c[:2] for c in fake_helm.calls("repo add")] == [["repo", "add"]]  # once: the plan's, not pre_exec's
    assert fake_helm.release("web")["version"] == "0.1.2"
    assert state_entry(env.dir, "default/web")["version"] == "0.1.2"
    assert env.load().plan()["web"].reasons == ("up to date",)


def test_a_constraint_nothing_matches_is_a_plan_problem(env, fake_helm, capsys):
    fake_helm.publish("fixtures/tiny-app", "0.1.0")
    path = env.write(block("web", version="^9"))
    assert main(["plan", "-f", str(path), *env.flags]) == 1
    err = capsys.readouterr()
    assert "no version of chart 'fixtures/tiny-app' matches '^9'" in err.out + err.err
    assert "Traceback" not in err.out + err.err
    result = env.load().apply()
    assert result.releases["web"].stage_failed == "check_prerequisites"
    assert fake_helm.calls("upgrade") == []


# -- events ---------------------------------------------------------------------------------------


def test_no_stage_event_comes_before_its_releases_started_event(env):
    """The scheduler announces the releases it dispatched together after handing them all out: a
    slow display of the first ``started`` lets the others reach their first stage meanwhile.
    Their stages are held until their own ``started`` is out, in order."""
    import threading
    import time

    env.write(*(block(name) for name in ("a", "b", "c", "d")))
    events = []
    lock = threading.Lock()

    def slow_display(event) -> None:
        with lock:
            events.append(event)
        if event.kind == "started" and len([e for e in events if e.kind == "started"]) == 1:
            time.sleep(0.5)  # the others' workers run meanwhile

    result = env.load().apply(concurrency=0, on_event=slow_display)
    assert result.ok
    for name in "abcd":
        kinds = [(e.kind, e.stage) for e in events if e.release == name]
        assert kinds[0] == ("started", None), (name, kinds)
        stages = [s for k, s in kinds if k == "stage"]
        assert list(dict.fromkeys(stages))[:2] == ["check_prerequisites", "pre_exec"], (name, stages)
        assert kinds[-1][0] == "finished", (name, kinds)


def test_status_shows_the_last_failed_applys_whole_error_redacted(env, fake_helm, capsys):
    """The apply's summary cuts a failure to its column; the state keeps the whole text (secrets
    hidden) and ``firestream status`` shows it, until the release succeeds again."""
    from firestream_core.cli.main import main

    secret = "[deployments.generic.secret_values]\nauth.password = { env = 'FAKE_SECRET' }\n"
    env.write(block("a", extra=secret))
    long_tail = "x" * 150
    fake_helm.fail_on("a", message=f"chart refused: password {SECRET} rejected {long_tail}")
    assert main(["apply", "--yes", "-f", str(env.path), *env.flags]) == 1
    capsys.readouterr()
    entry = StateStore(env.dir).load().releases["default/a"]
    assert entry.error is not None and SECRET not in entry.error and long_tail in entry.error
    assert main(["status", "-f", str(env.path), *env.flags]) == 0
    out = capsys.readouterr().out
    assert "Last apply's errors:\n  a: " in out and long_tail in out and SECRET not in out
    fake_helm.clear_failures()
    assert main(["apply", "--yes", "-f", str(env.path), *env.flags]) == 0
    assert StateStore(env.dir).load().releases["default/a"].error is None
    capsys.readouterr()
    assert main(["status", "-f", str(env.path), *env.flags]) == 0
    assert "Last apply's errors" not in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["a file", "under a file"])
def test_template_output_dir_that_cannot_be_made_is_named_before_any_helm_call(env, fake_helm, capsys, kind):
    """``template --output-dir`` naming a file (or a folder under one) rendered every release,
    then failed with ``unexpected FileExistsError`` / ``NotADirectoryError``."""
    path = env.write(block("web"))
    (env.dir / "taken").write_text("")
    out = env.dir / "taken" if kind == "a file" else env.dir / "taken" / "out"
    fake_helm.reset_calls()
    assert main(["template", "--output-dir", str(out), "-f", str(path), *env.flags]) == 1
    err = capsys.readouterr().err
    why = "it is not a folder" if kind == "a file" else "Not a directory"
    assert err.splitlines()[0] == f"error: template: cannot write {out}: {why}"
    assert "Traceback" not in err
    assert fake_helm.calls() == []


def test_template_output_dir_never_replaces_a_values_file_named_like_a_release(env, fake_helm, capsys):
    """``template --output-dir values`` wrote the manifest of release 'web' over values/web.yaml,
    the release's own values file: refused before any helm call, the file left as it was."""
    path = env.write(block("web", extra='values_files = ["values/web.yaml"]\n'), block("db"))
    (env.dir / "values").mkdir()
    (env.dir / "values" / "web.yaml").write_text("message: mine\n")
    fake_helm.reset_calls()
    assert main(["template", "--output-dir", str(env.dir / "values"), "-f", str(path), *env.flags]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (f"error: template: cannot write {env.dir / 'values' / 'web.yaml'}: it is a "
                                   "values file of release 'web', which the manifest of release 'web' would replace")
    assert (env.dir / "values" / "web.yaml").read_text() == "message: mine\n"
    assert not (env.dir / "values" / "db.yaml").exists() and fake_helm.calls() == []
    assert main(["template", "--output-dir", str(env.dir / "values"), "--target", "db", "-f", str(path),
                 *env.flags]) == 0  # a file no other is
    assert (env.dir / "values" / "db.yaml").exists()


def test_template_output_file_that_was_there_is_made_private(env, fake_helm):
    """A ``web.yaml`` left readable by all (0644) by an earlier tool kept that mode, and the
    rendered manifest, sensitive values included, was written into it."""
    env.write(block("web"))
    out = env.dir / "rendered"
    out.mkdir()
    (out / "web.yaml").write_text("old\n")
    (out / "web.yaml").chmod(0o644)
    env.load().template(out)
    assert oct((out / "web.yaml").stat().st_mode & 0o777) == "0o600"
    assert (out / "web.yaml").read_text() != "old\n"


def test_destroy_runs_no_contribute_values_so_a_broken_plugin_blocks_no_destroy(env, fake_helm, fake_kubectl):
    """A plugin whose contribute_values raised made every destroy fail (``plugin 'x':
    contribute_values ... raised``), a targeted one of an unrelated release too: the destroy plan
    computed every release's desired state, values and version constraints, and used none."""
    from firestream_core.plugin.manager import get_plugin_manager

    class Broken:
        firestream_plugin_name = "broken-values"

        @hookimpl
        def contribute_values(self, chart, context):
            raise RuntimeError("boom")

    env.write(block("web"), block("db"))
    fake_helm.seed_release("web", version="0.1.0")
    fake_helm.seed_release("db", version="0.1.0")
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=get_plugin_manager(extra_plugins=[Broken()]))
    result = project.destroy(["web"])
    assert result.ok, result
    assert fake_helm.release("web") is None and fake_helm.release("db") is not None


def test_an_apply_of_a_selection_runs_no_contribute_values_of_releases_it_leaves_out(env, fake_helm, fake_kubectl):
    """``apply --target web`` failed on db's plugin raising in contribute_values: the plan
    computed the desired state of every release, then planned web alone."""
    from firestream_core.plugin.manager import get_plugin_manager

    class BrokenForDb:
        firestream_plugin_name = "broken-for-db"

        @hookimpl
        def contribute_values(self, chart, context):
            if chart.chart_info.name == "db":
                raise RuntimeError("boom")

    env.write(block("web"), block("db"))
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=get_plugin_manager(extra_plugins=[BrokenForDb()]))
    assert project.apply(project.plan(["web"])).ok
    assert fake_helm.release("web") is not None and fake_helm.release("db") is None
    from firestream_core.errors import PluginError

    with pytest.raises(PluginError, match="plugin 'broken-for-db': contribute_values for release 'db'"):
        project.plan()  # the whole project still needs db's desired state


def test_template_output_dir_with_a_trailing_slash_names_each_file_once(env, fake_helm, capsys):
    """``--output-dir rendered/`` printed ``rendered//web.yaml``."""
    path = env.write(block("web"))
    out = env.dir / "rendered"
    assert main(["template", "--output-dir", f"{out}/", "-f", str(path), *env.flags]) == 0
    assert capsys.readouterr().out.splitlines() == [f"web: {out}/web.yaml"]
    assert (out / "web.yaml").exists()


def test_template_refuses_an_unknown_target_as_plan_does(env, fake_helm):
    """A typo in ``template(targets=...)`` is named, not an empty result; no helm call is made."""
    from firestream_core.errors import GraphError

    env.write(block("web"), block("api", ("web",)))
    project = env.load()
    fake_helm.reset_calls()
    with pytest.raises(GraphError, match=r"unknown release: 'wbe' \(releases: web, api\)"):
        project.template(targets=["wbe"])
    with pytest.raises(GraphError, match="'wbe'"):
        project.desired_states(names=["api", "wbe"])
    assert fake_helm.calls() == []
    assert list(project.template(targets=["api"])) == ["api"]


def test_reload_keeps_the_set_values_and_values_files_the_project_was_loaded_with(env, fake_helm, tmp_path,
                                                                                   monkeypatch):
    """``reload()`` after an import is the same project: its overrides still apply, so the
    next plan is not an upgrade taking them away (even after the program changed folder)."""
    env.write(block("web"))
    (tmp_path / "hotfix.yaml").write_text("extra: 1\n")
    monkeypatch.chdir(tmp_path)
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=os.environ["FIRESTREAM_KUBECTL_BINARY"],
                           set_values=[("image.tag", "1.2.3")], values_files=["hotfix.yaml"])
    assert project.apply().ok
    monkeypatch.chdir(env.dir)
    again = project.reload()
    assert again.overrides == ("--set image.tag", "--values hotfix.yaml")
    assert again.values_files == project.values_files
    plan = again.plan()
    assert [c.action for c in plan.releases] == ["no-op"], [c.reasons for c in plan.releases]


@pytest.mark.parametrize(("kwargs", "said"), [
    ({"values_files": "hotfix.yaml"}, "values_files is a list of paths, not one path: ['hotfix.yaml']"),
    ({"values_files": Path("hotfix.yaml")}, "values_files is a list of paths, not one path: ['hotfix.yaml']"),
    ({"set_values": ["auth.password=lib-sv-9Xq-secret"]},
     "set_values is a list of (key, value) pairs: write ('auth.password', value), not 'auth.password=...'"),
    ({"set_values": "image.tag=1.2"}, "set_values is a list of (key, value) pairs: write ('image.tag', value)"),
    ({"set_values": [("image.tag", "1", "x")]}, "set_values is a list of (key, value) pairs with a str key; item 1"),
])
def test_project_load_refuses_overrides_of_the_wrong_shape_naming_keys_never_values(env, kwargs, said):
    """``values_files="hotfix.yaml"`` was read letter by letter (files 'h', 'o', ...) and
    ``set_values=["a=b"]`` failed with Python's unpacking error; neither file is read."""
    path = env.write(block("web"))
    with pytest.raises(TypeError) as caught:
        Project.load(path, **kwargs)
    assert str(caught.value).startswith(said)
    assert "lib-sv-9Xq-secret" not in str(caught.value)


OWN_LOGGER_PLUGIN = """
import logging, os
from firestream_core import hookimpl

log = logging.getLogger(__name__)

@hookimpl
def pre_exec(chart, context, payload):
    log.warning("token is %s", os.environ["FAKE_SECRET"])
    log.info("an info line of the plugin's")
    log.debug("a debug line of the plugin's")
"""


@pytest.mark.parametrize("flags, shown, hidden", [
    ([], ["WARNING release 'web': token is ***\n", "INFO release 'web': an info line of the plugin's\n"],
     ["a debug line"]),
    (["-v"], ["WARNING release 'web': token is ***\n", "INFO release 'web': an info line",
              "DEBUG release 'web': a debug line of the plugin's\n"], []),
    (["-q"], ["WARNING release 'web': token is ***\n"], ["an info line", "a debug line"]),
])
def test_the_cli_prints_a_plugins_own_logger_like_its_own_lines_leveled_named_redacted(
        env, fake_helm, fake_dists, capsys, flags, shown, hidden):
    """A plugin logging through ``logging.getLogger(__name__)``, not ``context.log``: its warning
    was printed bare by Python's last-resort handler (no level, no release), and its info and
    debug lines not at all, even with ``-v``. They now follow firestream's level."""
    fake_dists.plugin("firestream-audit", "audit", OWN_LOGGER_PLUGIN)
    env.write(block("web", extra=SECRET_VALUE))
    assert main([*flags, "apply", "--yes", "-f", str(env.path), *env.flags]) == 0
    err = capsys.readouterr().err
    for line in shown:
        assert line in err
    for text in hidden:
        assert text not in err
    assert SECRET not in err


def test_import_release_inside_project_lock_does_not_refuse_itself(env, fake_helm):
    """``with project.lock(): project.import_release(...)`` imports (as apply would run): the lock
    is the caller's; outside it, another holder still refuses the import."""
    env.write(block("web"))
    fake_helm.seed_release("legacy", "apps", version="0.1.0", values={"message": "hi"})
    project = env.load()
    with project.lock("deploy-bot"):
        imported = project.import_release("legacy", "apps", chart="fixtures/tiny-app")
    assert imported.name == "legacy"
    assert project.reload().names == ["web", "legacy"]
    fake_helm.seed_release("other", "apps", version="0.1.0")
    with env.load().lock("someone else"), pytest.raises(StateLockedError, match="someone else"):
        project.import_release("other", "apps", chart="fixtures/tiny-app")


def test_a_plan_naming_a_release_the_project_no_longer_defines_is_refused_typed(env, fake_helm):
    """A service plans, the file loses a release, it reloads and applies the old plan: a
    ``PlanMismatchError`` naming the release, nothing run (it was a bare ``KeyError``)."""
    from firestream_core.errors import PlanMismatchError

    env.write(block("web"), block("api", ("web",)))
    project = env.load()
    plan, gone = project.plan(), project.plan(destroy=True)
    env.write(block("web"))
    again = project.reload()
    fake_helm.reset_calls()
    with pytest.raises(PlanMismatchError, match="names release 'api', which this project .* does not define") as err:
        again.apply(plan)
    assert err.value.release == "api"
    with pytest.raises(PlanMismatchError, match="'api'"):
        again.destroy(plan=gone)
    assert fake_helm.call_log("upgrade") == [] and fake_helm.call_log("uninstall") == []
    assert not (env.dir / ".firestream" / "lock").exists()
    assert again.apply(again.plan()).ok


class _Terminal:
    """stdin as a terminal, for the confirmation prompt."""

    def isatty(self) -> bool:
        return True


def test_what_changes_while_the_plan_is_read_at_the_prompt_is_refused_whole(env, fake_helm, monkeypatch, capsys):
    """The minutes a person reads the plan: a helm run by hand, or an edited values file, makes the
    plan made again differ from the one shown, and nothing runs; unchanged, the plan runs."""
    path = env.write(block("a"), block("b", ("a",), extra='values_files = ["b.yaml"]\n'))
    (env.dir / "b.yaml").write_text("message: one\n")
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    env.write(block("a", extra="[deployments.generic.values]\nmessage = 'two'\n"),
              block("b", ("a",), extra='values_files = ["b.yaml"]\n'))
    monkeypatch.setattr(sys, "stdin", _Terminal())
    capsys.readouterr()

    def by_hand(question: str) -> str:  # someone upgrades 'b' with helm while the plan is on screen
        for argv in (["repo", "add", "fixtures", "http://127.0.0.1:9/fixtures"],  # in their own helm's repositories
                     ["upgrade", "b", "fixtures/tiny-app", "--install", "--namespace", "default"]):
            subprocess.run([str(fake_helm.binary), *argv], env={**os.environ, **fake_helm.env},  # noqa: S603
                           check=True, capture_output=True)
        return "y"

    monkeypatch.setattr("builtins.input", by_hand)
    fake_helm.reset_calls()
    assert main(["apply", "-f", str(path), *env.flags]) == 1
    err = capsys.readouterr().err
    assert ("error: refusing to apply the plan shown: release 'b': the cluster changed since the plan was shown "
            "(the plan saw revision 1 (deployed), now revision 2 (deployed))") in err
    assert "hint: run 'firestream apply' again to see the plan as things are now" in err
    # the hand's, and firestream's dry runs of the plan (immutable fields), but no upgrade of firestream's
    assert [c.release for c in fake_helm.call_log("upgrade") if "--dry-run=server" not in c.argv] == ["b"]

    def edits(question: str) -> str:  # an edited values file: the digest differs
        (env.dir / "b.yaml").write_text("message: edited\n")
        return "y"

    monkeypatch.setattr("builtins.input", edits)
    fake_helm.reset_calls()
    assert main(["apply", "-f", str(path), *env.flags]) == 1
    assert "release 'b': its desired state changed since the plan was shown" in capsys.readouterr().err
    assert [c for c in fake_helm.call_log("upgrade") if "--dry-run=server" not in c.argv] == []

    monkeypatch.setattr("builtins.input", lambda question: "y")  # nothing changed meanwhile: it runs
    fake_helm.reset_calls()
    assert main(["apply", "-f", str(path), *env.flags]) == 0
    assert sorted(c.release for c in fake_helm.call_log("upgrade") if "--dry-run=server" not in c.argv) == ["a", "b"]
    monkeypatch.setattr("builtins.input", by_hand)  # destroy checks the same way
    fake_helm.reset_calls()
    assert main(["destroy", "-f", str(path), *env.flags]) == 1
    assert "error: refusing to destroy the plan shown: release 'b': the cluster changed" in capsys.readouterr().err
    assert fake_helm.call_log("uninstall") == []


@pytest.mark.parametrize("command", [["apply"], ["destroy"], ["rollback", "a", "--to-revision", "1"]])
def test_ctrl_d_at_the_prompt_cancels_as_a_no(env, fake_helm, monkeypatch, capsys, command):
    """Ctrl-D at ``[y/N]`` (input() raising EOFError) is a no: 'Cancelled', exit 1, nothing
    changed; not an 'unexpected EOFError'."""
    path = env.write(block("a", extra="[deployments.generic.values]\nmessage = 'one'\n"))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    env.write(block("a", extra="[deployments.generic.values]\nmessage = 'two'\n"))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0  # revision 1 to roll back to
    if command == ["apply"]:
        env.write(block("a", extra="[deployments.generic.values]\nmessage = 'three'\n"))
    monkeypatch.setattr(sys, "stdin", _Terminal())
    capsys.readouterr()

    def ctrl_d(question: str) -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", ctrl_d)
    fake_helm.reset_calls()
    assert main([*command, "-f", str(path), *env.flags]) == 1
    out, err = capsys.readouterr()
    assert "Cancelled: nothing was changed." in out
    assert "unexpected" not in err and "error" not in err
    assert applied_upgrades(fake_helm) == [] and fake_helm.call_log("uninstall") == []
    assert fake_helm.call_log("rollback") == []
    assert not (env.dir / ".firestream" / "lock").exists()


def test_a_rollback_whose_revisions_move_at_the_prompt_is_refused(env, fake_helm, monkeypatch, capsys):
    path = env.write(block("a", extra="[deployments.generic.values]\nmessage = 'one'\n"))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    env.write(block("a", extra="[deployments.generic.values]\nmessage = 'two'\n"))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    fake_helm.fail_on("upgrade", "a")
    env.write(block("a", extra="[deployments.generic.values]\nmessage = 'three'\n"))
    main(["apply", "--yes", "-f", str(path), *env.flags])  # fails: 'a' is rolled back by --atomic
    monkeypatch.setattr(sys, "stdin", _Terminal())
    capsys.readouterr()
    before = fake_helm.release("a")["revision"]

    def by_hand(question: str) -> str:
        subprocess.run([str(fake_helm.binary), "rollback", "a", "1"], env={**os.environ, **fake_helm.env},  # noqa: S603
                       check=True, capture_output=True)
        return "y"

    monkeypatch.setattr("builtins.input", by_hand)
    fake_helm.reset_calls()
    assert main(["rollback", "a", "--to-revision", "2", "-f", str(path), *env.flags]) == 1
    err = capsys.readouterr().err
    assert "error: refusing to roll back the plan shown: the cluster changed while it was shown: release 'a': " in err
    assert [c.release for c in fake_helm.call_log("rollback")] == ["a"]  # the hand's only
    assert fake_helm.release("a")["revision"] == before + 1


def test_a_rollback_the_state_cannot_record_says_helm_rolled_back_and_exits_1(env, fake_helm, monkeypatch, capsys):
    from firestream_core.errors import StateError
    from firestream_core.state.store import StateStore

    path = env.write(block("a", extra="[deployments.generic.values]\nmessage = 'one'\n"))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    env.write(block("a", extra="[deployments.generic.values]\nmessage = 'two'\n"))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    capsys.readouterr()

    def full(self, state):
        raise StateError(".firestream/state.json: cannot write: No space left on device")

    monkeypatch.setattr(StateStore, "save", full)
    assert main(["rollback", "a", "--to-revision", "1", "--yes", "-f", str(path), *env.flags]) == 1
    out, err = capsys.readouterr()
    assert "not recorded in the state" in out
    assert ("error: release 'a' was rolled back (revision 3), but the state could not record it: "
            ".firestream/state.json: cannot write: No space left on device") in err
    assert fake_helm.release("a")["revision"] == 3


def test_a_rollback_dry_run_takes_no_lock(env, fake_helm, capsys):
    """``rollback --dry-run`` shows the plan only, as ``apply --dry-run`` and ``destroy --dry-run``
    do, without the project lock: it was refused while another run held it, and with
    ``[state] backend = "kubernetes"`` it created the state namespace and Lease in the cluster."""
    path = env.write(block("a", extra="[deployments.generic.values]\nmessage = 'one'\n"))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    env.write(block("a", extra="[deployments.generic.values]\nmessage = 'two'\n"))
    assert main(["apply", "--yes", "-f", str(path), *env.flags]) == 0
    capsys.readouterr()
    fake_helm.reset_calls()
    with env.load().lock("firestream apply"):
        assert main(["rollback", "a", "--to-revision", "1", "--dry-run", "-f", str(path), *env.flags]) == 0
    out, err = capsys.readouterr()
    assert "revision 2 -> 1 (--to-revision)" in out and "locked" not in err
    assert fake_helm.call_log("rollback") == []


def test_a_chart_types_destroy_steps_are_in_the_destroy_plan_and_a_failing_one_is_named(
        env, fake_helm, fake_kubectl):
    """``ChartType.destroy_steps``: what a chart type's hooks remove besides helm's uninstall is listed
    (secrets hidden) under the destroy plan's destructive steps; one that raises blocks no destroy,
    and the plan says what is not known, naming the plugin."""
    import attrs

    from firestream_core.model import ChartInfo, ChartType, HelmChart
    from firestream_core.plugin import ChartPresets
    from firestream_core.plugin.manager import get_plugin_manager

    presets = ChartPresets("stock", chart="tiny-app", version="0.1.0", repository="fixtures")

    @attrs.define
    class Stock(HelmChart):
        chart_info: ChartInfo = attrs.field(factory=presets.factory("default", {}))

    def steps(chart, project_dir):
        if chart.chart_info.name == "broken":
            raise RuntimeError(f"no config for {SECRET}")
        return [f"delete Secret '{chart.chart_info.name}-auth' holding {SECRET}"]

    class Plugin:
        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="stock", chart_class=Stock, destroy_steps=steps))

    secret = "[deployments.stock.secret_values]\nauth.password = { env = 'FAKE_SECRET' }\n"
    env.write('[[deployments.stock]]\nname = "db"\n' + secret)
    manager = get_plugin_manager(extra_plugins=[Plugin()])
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=manager)
    assert project.apply().ok
    assert project.plan()["db"].destructive == ()
    assert project.plan(destroy=True)["db"].destructive == ("delete Secret 'db-auth' holding ***",)
    env.write('[[deployments.stock]]\nname = "broken"\n' + secret)
    broken = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                          kubectl_binary=fake_kubectl, manager=manager)
    assert broken.apply().ok
    (line,) = broken.plan(destroy=True)["broken"].destructive
    assert line.startswith("unknown: plugin '") and line.endswith(
        "' could not say what its hooks delete besides helm's uninstall (destroy_steps: RuntimeError: "
        "no config for ***)")
    assert broken.destroy().ok
    assert [c.release for c in fake_helm.call_log("uninstall")] == ["broken"]


def test_a_destroy_steps_taking_a_context_reads_the_cluster_read_only_and_hooks_see_the_plans_lines(
        env, fake_helm, fake_kubectl):
    """``ChartType.destroy_steps(chart, project_dir, context)``: a callable taking a third argument
    gets a read-only context of the release being destroyed (helm and kubectl reads; a write raises
    ``PluginError``, so the plan changes nothing), and the destroy's hooks find the lines the plan
    listed in ``context.planned_steps``: a step that depends on the cluster is taken only when shown."""
    import attrs

    from firestream_core.errors import PluginError
    from firestream_core.model import ChartInfo, ChartType, HelmChart
    from firestream_core.plugin import ChartPresets
    from firestream_core.plugin.manager import get_plugin_manager

    presets = ChartPresets("stock", chart="tiny-app", version="0.1.0", repository="fixtures")
    seen: dict[str, object] = {}

    @attrs.define
    class Stock(HelmChart):
        chart_info: ChartInfo = attrs.field(factory=presets.factory("default", {}))

    def steps(chart, project_dir, context):
        seen["change"], seen["installed"] = context.change, context.installed.name
        try:
            context.kubectl.delete("service", "x", namespace="default")
        except PluginError as exc:
            seen["write"] = str(exc)
        return [f"delete Service '{chart.chart_info.name}-extra'"]

    class Plugin:
        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="stock", chart_class=Stock, destroy_steps=steps))

        @hookimpl
        def post_exec(self, chart, context):
            seen["planned"] = context.planned_steps

    env.write('[[deployments.stock]]\nname = "db"\n')
    manager = get_plugin_manager(extra_plugins=[Plugin()])
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=manager)
    assert project.apply().ok
    assert seen.get("planned") == ()  # a deploy's plan listed no step
    plan = project.plan(destroy=True)
    assert plan["db"].destructive == ("delete Service 'db-extra'",)
    assert (seen["change"], seen["installed"]) == ("destroy", "db")
    assert seen["write"] == ("destroy_steps must not change the cluster: kubectl.delete is not allowed while "
                             "the plan is made (do it in the hooks the plan describes)")
    assert project.destroy(plan=plan).ok
    assert seen["planned"] == ("delete Service 'db-extra'",)


def test_a_chart_types_option_under_a_secret_looking_key_is_hidden_like_such_a_value(
        env, fake_helm, fake_kubectl):
    """``admin_password = "..."``, an option of a third-party chart type, was registered with no
    redactor: the plugin's ``context.log`` line (or an error holding it) printed it in clear. It is
    hidden by the rule a values key follows; an option naming something (``password_env``) stays
    readable, and so does one whose validator says it names a Secret (``secret_name``)."""
    import attrs

    from firestream_core.model import ChartInfo, ChartType, HelmChart
    from firestream_core.plugin import ChartPresets, secret_name
    from firestream_core.plugin.manager import get_plugin_manager

    presets = ChartPresets("stock", chart="tiny-app", version="0.1.0", repository="fixtures")

    @attrs.frozen
    class StockOptions:
        admin_password: str | None = None
        password_env: str | None = None
        auth_secret: str | None = attrs.field(default=None, validator=secret_name)  # names a Secret

    @attrs.define
    class Stock(HelmChart):
        chart_info: ChartInfo = attrs.field(factory=presets.factory("default", {}))
        options: StockOptions = attrs.field(factory=StockOptions)

    class Plugin:
        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="stock", chart_class=Stock, options=StockOptions))

        @hookimpl
        def pre_exec(self, chart, context):
            opts = chart.options
            context.log.warning("logging in with %s (from %s)", opts.admin_password, opts.password_env)

    env.write('[[deployments.stock]]\nname = "db"\nadmin_password = "adm-Pw-93Z-hidden"\n'
              'password_env = "STOCK_PASSWORD"\nauth_secret = "stock-auth-secret"\n')
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=get_plugin_manager(extra_plugins=[Plugin()]))
    assert "adm-Pw-93Z-hidden" in project.redactor
    assert "STOCK_PASSWORD" not in project.redactor and "stock-auth-secret" not in project.redactor
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep()
    logging.getLogger("firestream").addHandler(handler)
    try:
        assert project.apply().ok
    finally:
        logging.getLogger("firestream").removeHandler(handler)
    assert "release 'db': logging in with *** (from STOCK_PASSWORD)" in records


def test_a_chart_types_step_lines_of_the_wrong_type_or_raising_are_named_never_split_or_unexpected(
        env, fake_helm, fake_kubectl):
    """``ChartType.destroy_steps`` / ``destructive_steps`` returning a str (not a list of lines) is
    named as a hook's wrong result is, never listed a character a line; ``destructive_steps``
    raising refuses the plan with a ``PluginError`` naming the plugin (apply cannot show what its
    exec deletes), not an unexpected ``RuntimeError``; ``sys.exit()`` in either is such an error too,
    never the silent end of ``plan`` or ``destroy`` with exit 0."""
    import attrs

    from firestream_core.errors import PluginError
    from firestream_core.model import ChartInfo, ChartType, HelmChart
    from firestream_core.plugin import ChartPresets
    from firestream_core.plugin.manager import get_plugin_manager

    presets = ChartPresets("stock", chart="tiny-app", version="0.2.0", repository="fixtures")

    @attrs.define
    class Stock(HelmChart):
        chart_info: ChartInfo = attrs.field(factory=presets.factory("default", {}))

    def steps(chart, _where):
        if chart.chart_info.name == "raises":
            raise RuntimeError(f"no config for {SECRET}")
        if chart.chart_info.name == "quits":
            sys.exit(0)  # ended plan and destroy silently, exit 0
        return "delete the widget CRDs"

    class Plugin:
        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="stock", chart_class=Stock, destroy_steps=steps, destructive_steps=steps))

    manager = get_plugin_manager(extra_plugins=[Plugin()])
    bv = 'last_breaking_version_requiring_restart = { version = "0.2.0", requires_uninstall = true }\n'
    secret = "[deployments.stock.secret_values]\nauth.password = { env = 'FAKE_SECRET' }\n"
    for name in ("texty", "raises"):
        fake_helm.seed_release(name, version="0.1.0", chart="tiny-app")
    env.write(f'[[deployments.stock]]\nname = "texty"\n{bv}' + secret)
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=manager)
    (line,) = project.plan(destroy=True)["texty"].destructive
    assert line == ("unknown: plugin 'extra-0-Plugin' could not say what its hooks delete besides helm's uninstall "
                    "(destroy_steps returned a str, not a list of lines (strings) or None)")
    with pytest.raises(PluginError, match=r"^plugin 'extra-0-Plugin': destructive_steps for release 'texty' "
                       r"returned a str, not a list of lines \(strings\) or None$"):
        project.plan()
    env.write(f'[[deployments.stock]]\nname = "raises"\n{bv}' + secret)
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=manager)
    with pytest.raises(PluginError, match=r"^plugin 'extra-0-Plugin': destructive_steps for release 'raises' "
                       r"raised RuntimeError: no config for \*\*\*$"):
        project.plan()
    assert main(["plan", "-f", str(env.path), *env.flags]) == 1  # no traceback: a plugin's error
    fake_helm.seed_release("quits", version="0.1.0", chart="tiny-app")
    env.write(f'[[deployments.stock]]\nname = "quits"\n{bv}' + secret)
    project = Project.load(env.path, helm_binary=fake_helm.binary, env=fake_helm.env,
                           kubectl_binary=fake_kubectl, manager=manager)
    with pytest.raises(PluginError, match=r"^plugin 'extra-0-Plugin': destructive_steps for release 'quits' "
                       r"raised SystemExit: 0$"):
        project.plan()
    (line,) = project.plan(destroy=True)["quits"].destructive
    assert line.endswith("(destroy_steps: SystemExit: 0)")
    assert not fake_helm.call_log("uninstall") and not applied_upgrades(fake_helm)
