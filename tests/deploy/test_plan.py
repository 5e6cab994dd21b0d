"""make_plan: one action per release, with reasons and never a value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firestream_core.deploy.desired import desired_state
from firestream_core.deploy.plan import make_plan
from firestream_core.model import (
    BreakingVersion,
    ChartSetValue,
    ChartValuesGenerated,
    HelmAction,
    InstalledRelease,
)
from firestream_core.plugin.generic import GenericChart
from firestream_core.state.store import ReleaseState, State
from firestream_core.tools.chartfiles import chart_digest
from firestream_core.tools.values import values_digest

SECRET = "s3cr3t-Hunter2-value"


def chart(name: str, *, version: str = "1.0.0", deps: tuple[str, ...] = (), values: str = "",
          **info: object) -> GenericChart:
    c = GenericChart.for_chart(name, f"repo/{info.pop('chart_name', 'app')}", version=version, **info)
    c.chart_info.depends_on = list(deps)
    if values:
        c.chart_info.yaml_files_content.append(ChartValuesGenerated("firestream.toml:x.values", values))
    return c


def installed(name: str, *, status: str = "deployed", version: str = "1.0.0", revision: int = 1,
              chart_name: str = "app", namespace: str = "default") -> InstalledRelease:
    return InstalledRelease(name, namespace, revision, status, f"{chart_name}-{version}")


def recorded(c: GenericChart, tmp_path: Path, *, revision: int = 1, result: str = "succeeded",
             digest: str | None = None) -> ReleaseState:
    info = c.chart_info
    return ReleaseState(
        name=info.name, namespace=info.namespace_name, chart_type="generic", chart=info.chart_ref,
        version=info.version, values_digest=digest or values_digest(info, tmp_path),
        revision=revision, applied_at="2026-01-01T00:00:00Z", action="create", result=result,
        duration=1.0,
    )


def state_of(*entries: ReleaseState) -> State:
    s = State()
    for e in entries:
        s.record(e)
    return s


def test_not_deployed_is_create_in_dependency_order(tmp_path: Path) -> None:
    charts = [chart("web", deps=("api",)), chart("api", deps=("db",)), chart("db")]
    plan = make_plan(charts, [], State(), project_dir=tmp_path)
    assert [c.name for c in plan.releases] == ["db", "api", "web"]
    assert {c.action for c in plan.releases} == {"create"}
    assert plan["db"].reasons == ("not deployed",)
    assert plan.has_changes and len(plan.changes) == 3
    assert plan.deps == {"web": ("api",), "api": ("db",), "db": ()}


def test_recorded_and_equal_is_noop(tmp_path: Path) -> None:
    c = chart("db", values="replicaCount: 1\n")
    plan = make_plan([c], [installed("db")], state_of(recorded(c, tmp_path)), project_dir=tmp_path)
    assert plan["db"].action == "no-op"
    assert not plan.has_changes
    assert plan.summary() == "no changes (1 unchanged)"


def test_values_changed_names_keys_never_values(tmp_path: Path) -> None:
    old = chart("db", values="auth:\n  database: a\n  password: old\nreplicaCount: 1\n")
    new = chart("db", values=f"auth:\n  database: b\n  password: {SECRET}\nreplicaCount: 2\n")
    helm_values = {"auth": {"database": "a", "password": "old"}, "replicaCount": 1}
    calls: list[tuple[str, str]] = []

    def get_values(name: str, ns: str) -> dict:
        calls.append((name, ns))
        return helm_values

    plan = make_plan([new], [installed("db")], state_of(recorded(old, tmp_path)),
                     project_dir=tmp_path, get_values=get_values)
    change = plan["db"]
    assert change.action == "upgrade"
    assert change.reasons == ("values changed: auth.database, auth.password, replicaCount",)
    assert change.changed_keys == ("auth.database", "auth.password", "replicaCount")
    assert calls == [("db", "default")]
    text = plan.to_json()
    assert SECRET not in text and "old" not in json.loads(text)["releases"][0]["reasons"][0]
    assert "sha256" not in text  # not even the digest


def test_values_changed_without_get_values(tmp_path: Path) -> None:
    old = chart("db", values="a: 1\n")
    new = chart("db", values="a: 2\n")
    plan = make_plan([new], [installed("db")], state_of(recorded(old, tmp_path)), project_dir=tmp_path)
    assert plan["db"].action == "upgrade"
    assert plan["db"].reasons == ("values changed",)


def test_set_values_count_as_values(tmp_path: Path) -> None:
    old = chart("db")
    new = chart("db")
    new.chart_info.values.append(ChartSetValue("image.tag", "2"))
    plan = make_plan([new], [installed("db")], state_of(recorded(old, tmp_path)), project_dir=tmp_path,
                     get_values=lambda n, ns: {})
    assert plan["db"].reasons == ("values changed: image",)


def test_version_and_chart_changes(tmp_path: Path) -> None:
    c = chart("db", version="1.1.0")
    d = chart("cache", chart_name="redis")
    st = state_of(recorded(c, tmp_path), recorded(d, tmp_path))
    plan = make_plan([c, d], [installed("db"), installed("cache", chart_name="memcached")], st,
                     project_dir=tmp_path)
    assert plan["db"].action == "upgrade"
    assert plan["db"].reasons == ("version changed 1.0.0 -> 1.1.0",)
    assert plan["cache"].reasons == ("chart changed memcached -> redis",)


def test_version_constraint_is_compared_at_the_version_helm_resolved(tmp_path: Path) -> None:
    """A constraint is planned at the exact version helm resolved it to (the desired state's
    ``resolved_version``): a newer match is an upgrade naming both versions and the constraint,
    with nothing else changed; the same version is a no-op."""
    c = chart("db", version="^1.0")
    state = state_of(recorded(c, tmp_path))
    newer = desired_state(c, project_dir=tmp_path, resolved_version="1.5.0")
    plan = make_plan([c], [installed("db", version="1.4.2")], state, project_dir=tmp_path,
                     desired={"db": newer})
    change = plan["db"]
    assert (change.action, change.reasons) == ("upgrade", ("version changed 1.4.2 -> 1.5.0 (^1.0)",))
    assert (change.desired_version, change.resolved_version) == ("1.5.0", "1.5.0")
    assert change.to_dict()["desired"] == {"chart": "app", "version": "1.5.0", "constraint": "^1.0"}
    same = desired_state(c, project_dir=tmp_path, resolved_version="1.4.2")
    plan = make_plan([c], [installed("db", version="1.4.2")], state, project_dir=tmp_path,
                     desired={"db": same})
    assert (plan["db"].action, plan["db"].reasons) == ("no-op", ("up to date",))


def test_no_version_is_compared_at_the_latest_helm_resolved(tmp_path: Path) -> None:
    c = chart("db", version="")
    latest = desired_state(c, project_dir=tmp_path, resolved_version="2.0.0")
    plan = make_plan([c], [installed("db", version="1.4.2")], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path, desired={"db": latest})
    assert plan["db"].reasons == ("version changed 1.4.2 -> 2.0.0 (latest)",)
    assert plan["db"].to_dict()["desired"] == {"chart": "app", "version": "2.0.0", "constraint": "latest"}
    exact = chart("db", version="1.4.2")
    plan = make_plan([exact], [installed("db", version="1.4.2")], state_of(recorded(exact, tmp_path)),
                     project_dir=tmp_path)
    assert plan["db"].to_dict()["desired"] == {"chart": "app", "version": "1.4.2", "constraint": None}


def test_resolved_version_decides_the_breaking_step(tmp_path: Path) -> None:
    """The breaking-version rule sees the resolved version, not the constraint (unknown target)."""
    c = chart("db", version="^1.0",
              last_breaking_version_requiring_restart=BreakingVersion("2.0.0", requires_uninstall=True))
    below = desired_state(c, project_dir=tmp_path, resolved_version="1.5.0")
    plan = make_plan([c], [installed("db", version="1.4.2")], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path, desired={"db": below})
    assert (plan["db"].action, plan["db"].breaking) == ("upgrade", None)
    c = chart("db", version=">=1.0",
              last_breaking_version_requiring_restart=BreakingVersion("2.0.0", requires_uninstall=True))
    across = desired_state(c, project_dir=tmp_path, resolved_version="2.1.0")
    plan = make_plan([c], [installed("db", version="1.4.2")], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path, desired={"db": across})
    assert plan["db"].action == "reinstall"
    assert plan["db"].reasons[1] == "version changed 1.4.2 -> 2.1.0 (>=1.0)"


@pytest.mark.parametrize("status", ["pending-install", "pending-upgrade", "pending-rollback"])
def test_pending_is_recover(tmp_path: Path, status: str) -> None:
    c = chart("db")
    plan = make_plan([c], [installed("db", status=status)], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path)
    assert plan["db"].action == "recover"
    assert plan["db"].reasons == (f"status is {status}",)
    assert plan["db"].destructive[0].startswith(
        "uninstall release 'db' (pending-install, nothing to return to)" if status == "pending-install"
        else "roll back release 'db' to its last deployed revision below 1")


@pytest.mark.parametrize("status", ["failed", "uninstalling", "superseded"])
def test_not_deployed_status_is_never_noop(tmp_path: Path, status: str) -> None:
    c = chart("db")
    plan = make_plan([c], [installed("db", status=status)], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path)
    # helm upgrade refuses an 'uninstalling' release ("has no deployed releases"): it is recovered
    assert plan["db"].action == ("recover" if status == "uninstalling" else "upgrade")
    assert f"status is {status}" in plan["db"].reasons


def test_uninstalled_with_history_is_create(tmp_path: Path) -> None:
    plan = make_plan([chart("db")], [installed("db", status="uninstalled")], State(), project_dir=tmp_path)
    assert plan["db"].action == "create"
    assert plan["db"].reasons == ("not deployed (status is uninstalled)",)


def test_breaking_version_requiring_uninstall_is_reinstall(tmp_path: Path) -> None:
    c = chart("db", version="2.1.0")
    c.chart_info.last_breaking_version_requiring_restart = BreakingVersion("2.0.0", requires_uninstall=True)
    plan = make_plan([c], [installed("db", version="1.9.0")], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path)
    assert plan["db"].action == "reinstall"
    assert plan["db"].reasons[0] == "breaking version 2.0.0: reinstall (requires_uninstall) (installed 1.9.0)"
    assert plan["db"].destructive == (
        "uninstall release 'db', then install it afresh (helm history restarts)",
    )


def test_a_chart_types_own_destructive_steps_follow_the_uninstall(tmp_path: Path) -> None:
    c = chart("db", version="2.1.0")
    c.chart_info.last_breaking_version_requiring_restart = BreakingVersion("2.0.0", requires_uninstall=True)
    plan = make_plan([c], [installed("db", version="1.9.0")], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path, extra_steps=lambda ch, step: ["delete its CRDs"])
    assert plan["db"].destructive[-1] == "delete its CRDs"
    assert len(plan["db"].destructive) == 2


def test_a_release_a_plugin_says_is_out_of_date_is_upgraded_with_its_step(tmp_path: Path) -> None:
    """``context.out_of_date``: what only a plugin sees (a Secret's password) turns an up-to-date
    release into an upgrade naming why, with the step exec takes; a create stays a create."""
    c = chart("db")
    state = state_of(recorded(c, tmp_path))
    stale = desired_state(c, project_dir=tmp_path, out_of_date=["Secret 'db-auth': password differs"],
                          steps=["set password in Secret 'db-auth'"])
    plan = make_plan([c], [installed("db")], state, project_dir=tmp_path, desired={"db": stale})
    change = plan["db"]
    assert (change.action, change.reasons) == ("upgrade", ("Secret 'db-auth': password differs",))
    assert change.destructive == ("set password in Secret 'db-auth'",)
    assert stale.digest == desired_state(c, project_dir=tmp_path).digest  # not a part of the desired state
    created = make_plan([c], [], State(), project_dir=tmp_path, desired={"db": stale})["db"]
    assert (created.action, created.reasons) == ("create", ("not deployed",))


def test_a_chart_types_destroy_steps_are_shown_on_its_destroy_only(tmp_path: Path) -> None:
    """What a chart type's hooks remove besides helm's uninstall (its CRDs, a Secret) is in the
    destroy plan, never on a deploy, nor for a release that is not installed."""
    asked: list[str] = []

    def steps(ch):
        asked.append(ch.chart_info.name)
        return ["delete Secret 'db-auth' (namespace 'default')", "delete Secret 'db-auth' (namespace 'default')"]

    c, other = chart("db"), chart("gone")
    plan = make_plan([c, other], [installed("db")], state_of(recorded(c, tmp_path)), project_dir=tmp_path,
                     destroy=True, destroy_steps=steps)
    assert plan["db"].action == "destroy"
    assert plan["db"].destructive == ("delete Secret 'db-auth' (namespace 'default')",)  # said once
    assert plan["gone"].action == "no-op" and plan["gone"].destructive == ()
    assert asked == ["db"]
    deploy = make_plan([c], [installed("db")], state_of(recorded(c, tmp_path)), project_dir=tmp_path,
                       destroy_steps=steps)
    assert deploy["db"].destructive == () and asked == ["db"]
    c.chart_info.action = HelmAction.DESTROY  # action = "destroy" in the config: the same removal
    undeploy = make_plan([c], [installed("db")], state_of(recorded(c, tmp_path)), project_dir=tmp_path,
                         destroy_steps=steps)
    assert undeploy["db"].action == "destroy" and undeploy["db"].destructive == plan["db"].destructive


def test_breaking_version_above_the_target_is_a_plain_upgrade(tmp_path: Path) -> None:
    """installed 0.1.0, target 0.1.0, breaking 10.0.0, one value changed: an upgrade, nothing destroyed."""
    c = chart("db", version="0.1.0", values="a: 2\n")
    c.chart_info.last_breaking_version_requiring_restart = BreakingVersion("10.0.0", requires_uninstall=True)
    old = chart("db", version="0.1.0", values="a: 1\n")
    plan = make_plan([c], [installed("db", version="0.1.0")], state_of(recorded(old, tmp_path)),
                     project_dir=tmp_path)
    assert plan["db"].action == "upgrade"
    assert plan["db"].breaking is None and plan["db"].destructive == ()
    assert plan["db"].reasons == ("values changed",)


def test_breaking_version_commands_are_shown_with_secrets_hidden(tmp_path: Path) -> None:
    c = chart("db", version="2.0.0")
    c.chart_info.last_breaking_version_requiring_restart = BreakingVersion(
        "2.0.0", pre_upgrade_commands=[f"kubectl delete secret x --token {SECRET}", "kubectl delete crd y"]
    )
    plan = make_plan([c], [installed("db", version="1.0.0")], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path, redact=lambda t: t.replace(SECRET, "***"))
    change = plan["db"]
    assert change.action == "upgrade"
    assert change.reasons[0] == "breaking version 2.0.0: runs 2 pre-upgrade commands (installed 1.0.0)"
    assert change.destructive == ("run: kubectl delete secret x --token ***", "run: kubectl delete crd y")
    assert SECRET not in plan.to_json()
    assert json.loads(plan.to_json())["releases"][0]["destructive"] == list(change.destructive)


def test_breaking_version_is_semver_not_string(tmp_path: Path) -> None:
    c = chart("db", version="10.0.0")
    c.chart_info.last_breaking_version_requiring_restart = BreakingVersion("9.0.0", requires_uninstall=True)
    # installed 10.0.0 is newer than 9.0.0 (a string comparison would say older)
    plan = make_plan([c], [installed("db", version="10.0.0")], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path)
    assert plan["db"].action == "no-op"


def test_breaking_version_without_uninstall_is_upgrade(tmp_path: Path) -> None:
    c = chart("db", version="2.0.0")
    c.chart_info.last_breaking_version_requiring_restart = BreakingVersion("2.0.0")
    plan = make_plan([c], [installed("db", version="1.0.0")], state_of(recorded(c, tmp_path)),
                     project_dir=tmp_path)
    assert plan["db"].action == "upgrade"
    assert plan["db"].reasons[0].startswith("breaking version 2.0.0: upgrade across it")


def test_actions_destroy_and_skip(tmp_path: Path) -> None:
    gone = chart("old", action=HelmAction.DESTROY)
    absent = chart("never", action=HelmAction.DESTROY)
    skip = chart("skip", action=HelmAction.SKIP)
    plan = make_plan([gone, absent, skip], [installed("old")], State(), project_dir=tmp_path)
    assert (plan["old"].action, plan["old"].reasons) == ("destroy", ("action is destroy",))
    assert (plan["never"].action, plan["never"].reasons) == ("no-op", ("not deployed",))
    assert (plan["skip"].action, plan["skip"].reasons) == ("no-op", ("action is skip",))


def test_a_change_depending_on_a_skipped_release_not_deployed_is_refused(tmp_path: Path) -> None:
    """``base`` has action skip and is not deployed: apply skips what depends on it, so the plan
    refuses those changes (and exits 1) instead of showing a create apply never makes; a
    dependent already running unchanged, or a deployed skip release, stops nothing."""
    base = chart("base", action=HelmAction.SKIP)
    mid, top = chart("mid", deps=("base",)), chart("top", deps=("mid",))
    plan = make_plan([base, mid, top], [], State(), project_dir=tmp_path)
    text = ("it depends on 'base', whose action is skip and which is not deployed: deploy 'base' "
            "first (or set its action to deploy)")
    assert plan.problems[0] == ("mid", f"release 'mid': {text}")
    assert plan["mid"].reasons[0] == f"refused: {text}"
    assert [n for n, _ in plan.problems] == ["mid", "top"]  # apply skips top too
    failed = make_plan([base, mid, top], [installed("base", status="failed")], State(), project_dir=tmp_path)
    assert [n for n, _ in failed.problems] == ["mid", "top"]
    deployed = make_plan([base, mid, top], [installed("base")], State(), project_dir=tmp_path)
    assert deployed.problems == []
    running = make_plan([base, mid, top], [installed("mid")], state_of(recorded(mid, tmp_path)),
                        project_dir=tmp_path)
    assert running["mid"].action == "no-op" and running.problems == []


def test_destroy_plan_is_reverse_order_and_skips_absent(tmp_path: Path) -> None:
    charts = [chart("db"), chart("api", deps=("db",)), chart("web", deps=("api",))]
    plan = make_plan(charts, [installed("db"), installed("api")], State(), project_dir=tmp_path,
                     destroy=True)
    assert [c.name for c in plan.releases] == ["web", "api", "db"]
    assert [c.action for c in plan.releases] == ["no-op", "destroy", "destroy"]
    assert plan.destroy


def test_releases_not_in_config_are_not_touched(tmp_path: Path) -> None:
    plan = make_plan([chart("db")], [installed("stranger"), installed("db", namespace="other")],
                     State(), project_dir=tmp_path)
    assert [c.name for c in plan.releases] == ["db"]
    assert plan["db"].action == "create"  # same name in another namespace is another release


def test_targets_with_and_without_deps(tmp_path: Path) -> None:
    charts = [chart("db"), chart("cache"), chart("api", deps=("db", "cache")), chart("web", deps=("api",))]
    alone = make_plan(charts, [], State(), project_dir=tmp_path, targets=["api"])
    assert [c.name for c in alone.releases] == ["api"]
    assert alone.deps == {"api": ()}
    withdeps = make_plan(charts, [], State(), project_dir=tmp_path, targets=["api"], include_deps=True)
    assert [c.name for c in withdeps.releases] == ["db", "cache", "api"]
    gone = make_plan(charts, [], State(), project_dir=tmp_path, targets=["api"], include_deps=True,
                     destroy=True)
    assert [c.name for c in gone.releases] == ["web", "api"]


def test_a_selection_whose_dependency_is_not_deployed_is_refused(tmp_path: Path) -> None:
    """``--target api`` while ``db``, which api depends on, was never deployed (or was
    uninstalled): apply would deploy api without it. The plan refuses api, naming db and
    the way on; a deployed dependency, --include-deps, a no-op and a destroy are fine."""
    charts = [chart("db"), chart("cache"), chart("api", deps=("db", "cache"))]
    alone = make_plan(charts, [installed("cache")], State(), project_dir=tmp_path, targets=["api"])
    text = ("it depends on 'db', not deployed and not in this selection: add --include-deps "
            "(or deploy 'db' first)")
    assert alone.problems == [("api", f"release 'api': {text}")]
    assert alone["api"].reasons[0] == f"refused: {text}"
    assert alone["api"].to_dict()["problems"] == [f"release 'api': {text}"]
    gone = make_plan(charts, [installed("cache"), installed("db", status="uninstalled")], State(),
                     project_dir=tmp_path, targets=["api"])
    assert gone.problems == alone.problems
    both = make_plan(charts, [], State(), project_dir=tmp_path, targets=["api"])
    assert "'db', 'cache', not deployed" in both.problems[0][1]
    ok = make_plan(charts, [installed("db"), installed("cache", status="failed")], State(),
                   project_dir=tmp_path, targets=["api"])
    assert ok.problems == [] and ok["api"].action == "create"
    assert make_plan(charts, [], State(), project_dir=tmp_path, targets=["api"], include_deps=True).problems == []
    running = make_plan(charts, [installed("api")], state_of(recorded(charts[2], tmp_path)),
                        project_dir=tmp_path, targets=["api"])
    assert running["api"].action == "no-op" and running.problems == []
    assert make_plan(charts, [installed("api")], State(), project_dir=tmp_path, targets=["api"],
                     destroy=True).problems == []


def test_unrecorded_release_matching_cluster_is_noop(tmp_path: Path) -> None:
    c = chart("db", values="a: 1\n")
    same = make_plan([c], [installed("db")], State(), project_dir=tmp_path, get_values=lambda n, ns: {"a": 1})
    assert same["db"].action == "no-op"
    differs = make_plan([c], [installed("db")], State(), project_dir=tmp_path,
                        get_values=lambda n, ns: {"a": 2})
    assert differs["db"].reasons == ("values changed: a",)
    unknown = make_plan([c], [installed("db")], State(), project_dir=tmp_path)
    assert unknown["db"].reasons == ("not recorded in state: values unknown",)


def test_changed_outside_firestream(tmp_path: Path) -> None:
    c = chart("db")
    plan = make_plan([c], [installed("db", revision=3)], state_of(recorded(c, tmp_path, revision=2)),
                     project_dir=tmp_path)
    assert plan["db"].action == "upgrade"
    assert plan["db"].reasons == ("changed outside firestream (revision 3 in the cluster, 2 recorded)",)


def test_revisions_of_firestreams_own_failed_apply_are_not_changes_outside_it(tmp_path: Path) -> None:
    """A failed atomic upgrade leaves helm two revisions on (the failed one and its rollback) while
    the record keeps the revision before it: firestream made them, and the plan says so."""
    c = chart("api", values="message: two\n")
    rec = recorded(c, tmp_path, revision=2, result="failed")
    rec.stage_failed = "exec"
    plan = make_plan([c], [installed("api", revision=4)], state_of(rec), project_dir=tmp_path,
                     get_values=lambda n, ns: {"message": "one"})
    assert plan["api"].reasons == ("last apply failed in exec", "values changed: message")
    # a succeeded record still tells a revision made by hand
    rec.result = "succeeded"
    plan = make_plan([c], [installed("api", revision=4)], state_of(rec), project_dir=tmp_path,
                     get_values=lambda n, ns: {"message": "one"})
    assert plan["api"].reasons[0] == "changed outside firestream (revision 4 in the cluster, 2 recorded)"


def test_last_apply_failed_is_retried(tmp_path: Path) -> None:
    c = chart("db")
    rec = recorded(c, tmp_path, result="failed")
    rec.stage_failed = "validate"
    plan = make_plan([c], [installed("db")], state_of(rec), project_dir=tmp_path)
    assert plan["db"].action == "upgrade"
    assert plan["db"].reasons == ("last apply failed in validate",)


def test_local_chart_reads_chart_yaml(tmp_path: Path) -> None:
    d = tmp_path / "charts" / "web"
    d.mkdir(parents=True)
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: webapp\nversion: 0.3.0\n")
    c = GenericChart.for_chart("web", "", path=Path("charts/web"))
    rec = recorded(c, tmp_path)
    rec.chart_digest = chart_digest(d)
    plan = make_plan([c], [installed("web", chart_name="webapp", version="0.2.0")],
                     state_of(rec), project_dir=tmp_path)
    assert plan["web"].desired_chart == "webapp"
    assert plan["web"].reasons == ("version changed 0.2.0 -> 0.3.0",)


def test_a_chart_yaml_with_a_second_document_is_planned_by_its_first_as_helm_reads_it(tmp_path: Path) -> None:
    """helm (and ``validate``) read the first document of ``Chart.yaml``; the plan's reader refused
    the file as a whole, planned the release by the folder's name and the config's version, and
    so showed ``chart changed webapp -> web`` on every plan."""
    d = tmp_path / "charts" / "web"
    d.mkdir(parents=True)
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: webapp\nversion: 0.3.0\n---\nfoo: bar\n")
    c = GenericChart.for_chart("web", "", path=Path("charts/web"))
    rec = recorded(c, tmp_path)
    rec.chart_digest = chart_digest(d)
    plan = make_plan([c], [installed("web", chart_name="webapp", version="0.3.0")],
                     state_of(rec), project_dir=tmp_path)
    assert (plan["web"].desired_chart, plan["web"].desired_version) == ("webapp", "0.3.0")
    assert plan["web"].action == "no-op"


def test_missing_values_file_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    c = chart("db")
    c.chart_info.values_files.append(tmp_path / "nope.yaml")
    plan = make_plan([c], [installed("db")], State(), project_dir=tmp_path)
    assert plan["db"].action == "upgrade"
    assert plan["db"].reasons[0].startswith("values cannot be read")


def test_json_shape(tmp_path: Path) -> None:
    plan = make_plan([chart("db", values=f"password: {SECRET}\n")], [], State(), project_dir=tmp_path)
    data = json.loads(plan.to_json())
    assert data["has_changes"] is True
    assert data["summary"]["create"] == 1
    (rel,) = data["releases"]
    assert rel["release"] == "db" and rel["action"] == "create" and rel["installed"] is None
    assert SECRET not in plan.to_json()


def local_chart(tmp_path: Path) -> GenericChart:
    d = tmp_path / "charts" / "web"
    (d / "templates").mkdir(parents=True)
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (d / "templates" / "cm.yaml").write_text("kind: ConfigMap\n")
    return GenericChart.for_chart("web", "", path=Path("charts/web"))


def test_local_chart_files_changed_without_a_version_bump_is_upgrade(tmp_path: Path) -> None:
    c = local_chart(tmp_path)
    rec = recorded(c, tmp_path)
    rec.chart_digest = chart_digest(tmp_path / "charts" / "web")
    live = [installed("web", chart_name="web", version="0.1.0")]
    plan = make_plan([c], live, state_of(rec), project_dir=tmp_path)
    assert plan["web"].action == "no-op"
    assert plan["web"].chart_digest == rec.chart_digest
    (tmp_path / "charts" / "web" / "templates" / "cm.yaml").write_text("kind: ConfigMap\ndata: {}\n")
    plan = make_plan([c], live, state_of(rec), project_dir=tmp_path)
    assert plan["web"].action == "upgrade"
    assert plan["web"].reasons == ("chart files changed",)
    assert plan["web"].chart_digest != rec.chart_digest
    assert "chart_digest" not in plan.to_json()


def test_local_chart_recorded_before_digests_upgrades_once(tmp_path: Path) -> None:
    c = local_chart(tmp_path)
    rec = recorded(c, tmp_path)  # an entry of an older firestream: no chart_digest
    plan = make_plan([c], [installed("web", chart_name="web", version="0.1.0")], state_of(rec),
                     project_dir=tmp_path)
    assert plan["web"].action == "upgrade"
    assert plan["web"].reasons == ("chart files not recorded in state",)


def test_repository_chart_has_no_chart_digest(tmp_path: Path) -> None:
    c = chart("db")
    plan = make_plan([c], [installed("db")], state_of(recorded(c, tmp_path)), project_dir=tmp_path)
    assert plan["db"].action == "no-op" and plan["db"].chart_digest is None


def test_a_local_chart_with_no_state_entry_upgrades_even_when_helm_holds_its_values(tmp_path: Path) -> None:
    """The state lost (or a new environment's state): helm's values say nothing of the files the
    cluster runs, so the release is not "matches the cluster" and recorded as such."""
    c = local_chart(tmp_path)
    plan = make_plan([c], [installed("web", chart_name="web", version="0.1.0")], State(),
                     project_dir=tmp_path, get_values=lambda n, ns: {})
    assert plan["web"].action == "upgrade"
    assert plan["web"].reasons == ("chart files not recorded in state",)
    assert not plan.to_record
    repo = chart("db")  # a repository chart is named by its version: matching values are enough
    plan = make_plan([repo], [installed("db")], State(), project_dir=tmp_path, get_values=lambda n, ns: {})
    assert plan["db"].action == "no-op" and [r.name for r in plan.to_record] == ["db"]


def rolled_back(c: GenericChart, tmp_path: Path, *, revision: int, result: str = "succeeded") -> ReleaseState:
    """What ``firestream rollback`` records: the previous apply's digests, the new revision."""
    rec = recorded(c, tmp_path, revision=revision, result=result)
    rec.action = "rollback"
    if result != "succeeded":
        rec.stage_failed = "rollback"
    return rec


def test_after_a_rollback_the_plan_upgrades_back_to_the_config_and_names_the_values(tmp_path: Path) -> None:
    c = chart("web", values=f"message: v2\npassword: {SECRET}\n")
    helm_now = {"message": "v1", "password": "old-one"}  # revision 3 = revision 1's values
    plan = make_plan([c], [installed("web", revision=3)], state_of(rolled_back(c, tmp_path, revision=3)),
                     project_dir=tmp_path, get_values=lambda n, ns: helm_now)
    change = plan["web"]
    assert change.action == "upgrade"
    assert change.reasons == (
        "rolled back to an earlier revision by 'firestream rollback' (revision 3): the config is not what runs",
        "values changed: message, password")
    assert change.value_changes == (("message", "v1", "v2"), ("password", "(sensitive)", "(sensitive)"))
    assert SECRET not in plan.to_json() and "old-one" not in plan.to_json()
    # helm's values and chart version equal to the config's: nothing of the rollback to undo
    same = make_plan([c], [installed("web", revision=3)], state_of(rolled_back(c, tmp_path, revision=3)),
                     project_dir=tmp_path, get_values=lambda n, ns: {"message": "v2", "password": SECRET})
    assert same["web"].action == "no-op"
    assert same["web"].reasons == ("matches the config: rolled back to an earlier revision by 'firestream "
                                   "rollback' (revision 3), whose chart version and values are the config's",)
    assert [r.name for r in same.to_record] == ["web"]  # the rollback's record gives way to the config's
    # the same values, an older chart version: an upgrade, the version named (not "the config is not what runs")
    older = make_plan([c], [installed("web", revision=3, version="0.0.9")],
                      state_of(rolled_back(c, tmp_path, revision=3)),
                      project_dir=tmp_path, get_values=lambda n, ns: {"message": "v2", "password": SECRET})
    assert older["web"].action == "upgrade" and not any("rollback" in r for r in older["web"].reasons)
    # helm's values not read: the plan cannot say the revision is the config's
    unread = make_plan([c], [installed("web", revision=3)], state_of(rolled_back(c, tmp_path, revision=3)),
                       project_dir=tmp_path)
    assert unread["web"].reasons == (
        "rolled back to an earlier revision by 'firestream rollback' (revision 3): the config is not what runs",)
    failed = make_plan([c], [installed("web", revision=2)],
                       state_of(rolled_back(c, tmp_path, revision=2, result="failed")), project_dir=tmp_path)
    assert failed["web"].reasons == ("last rollback failed in rollback",)


def test_after_a_rollback_of_a_local_chart_to_the_configs_values_its_files_still_upgrade(tmp_path: Path) -> None:
    c = local_chart(tmp_path)
    rec = rolled_back(c, tmp_path, revision=3)  # the apply before it recorded the folder's digest
    rec.chart_digest = make_plan([c], [], State(), project_dir=tmp_path)["web"].chart_digest
    plan = make_plan([c], [installed("web", chart_name="web", version="0.1.0", revision=3)],
                     state_of(rec), project_dir=tmp_path, get_values=lambda n, ns: {})
    assert plan["web"].action == "upgrade"
    assert plan["web"].reasons == ("rolled back to an earlier revision by 'firestream rollback' (revision 3): its "
                                   "values are the config's, but its chart files cannot be compared with the "
                                   "local chart's",)


@pytest.mark.parametrize("how", ["failed", "outside"])
def test_value_changes_are_listed_against_helm_when_the_record_cannot_say(tmp_path: Path, how: str) -> None:
    """A failed apply recorded the new digest though helm rolled back; a helm upgrade made outside
    firestream changed values the state never saw: the plan lists what differs from helm's."""
    c = chart("api", values="message: hello-api-2\nreplicaCount: 1\n")
    rec = recorded(c, tmp_path, revision=2, result="failed" if how == "failed" else "succeeded")
    if how == "failed":
        rec.stage_failed = "exec"
    live = installed("api", revision=2 if how == "failed" else 3)
    helm_now = {"message": "hello-api" if how == "failed" else "oob", "replicaCount": 1}
    calls: list[str] = []

    def get_values(name: str, ns: str) -> dict[str, object]:
        calls.append(name)
        return helm_now

    plan = make_plan([c], [live], state_of(rec), project_dir=tmp_path, get_values=get_values)
    first = "last apply failed in exec" if how == "failed" else \
        "changed outside firestream (revision 3 in the cluster, 2 recorded)"
    assert plan["api"].action == "upgrade" and calls == ["api"]
    assert plan["api"].reasons == (first, "values changed: message")
    assert plan["api"].changed_keys == ("message",)
    assert plan["api"].value_changes == (("message", helm_now["message"], "hello-api-2"),)
    # helm holds the config's values: the same decision, no values reason, one get_values call
    same = make_plan([c], [live], state_of(rec), project_dir=tmp_path,
                     get_values=lambda n, ns: {"message": "hello-api-2", "replicaCount": 1})
    assert same["api"].action == "upgrade" and same["api"].reasons == (first,)
    # a clean record with the same digest and revision asks helm nothing
    calls.clear()
    clean = make_plan([c], [installed("api", revision=2)], state_of(recorded(c, tmp_path, revision=2)),
                      project_dir=tmp_path, get_values=get_values)
    assert clean["api"].action == "no-op" and calls == []


def test_a_release_renamed_or_moved_is_left_running_and_the_plan_says_so(tmp_path: Path) -> None:
    from firestream_core.cli.progress import format_plan

    old = chart("web", namespace="shop")
    moved = chart("web", namespace="shop2")
    gone = chart("old", namespace="shop")
    state = state_of(recorded(old, tmp_path, revision=3), recorded(gone, tmp_path, revision=1),
                     recorded(chart("removed", namespace="shop"), tmp_path))
    live = [installed("web", namespace="shop", revision=3), installed("web", namespace="shop2"),
            installed("old", namespace="shop", status="uninstalled")]  # "removed" is not in helm any more
    plan = make_plan([moved], live, state, project_dir=tmp_path)
    assert plan.left_behind == (("shop/web", "in the state (last create succeeded), revision 3 running: "
                                              "not in the config any more, left as it is"),)
    assert json.loads(plan.to_json())["left_behind"] == [{"key": "shop/web", "note": plan.left_behind[0][1]}]
    assert "  ? shop/web: in the state" in format_plan(plan)
    assert [(c.name, c.namespace) for c in plan.releases] == [("web", "shop2")]  # nothing is done to it
    assert make_plan([moved], live, state, project_dir=tmp_path, targets=["web"]).left_behind == ()
    assert "Not in the config" not in format_plan(make_plan([old], live[:1], state_of(recorded(old, tmp_path)),
                                                            project_dir=tmp_path))
