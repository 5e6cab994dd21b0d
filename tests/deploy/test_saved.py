"""Saved plans: the file holds no value, and anything that differs is refused by release name."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from firestream_core.deploy.plan import Change, NamespaceToCreate, Plan, make_plan
from firestream_core.deploy.saved import (
    FORMAT,
    SavedPlan,
    apply_command,
    check_saved,
    check_target,
    read_saved,
    saved_plan,
    unseen_changes,
    write_saved,
)
from firestream_core.errors import FirestreamError, PlanMismatchError
from firestream_core.model import ChartValuesGenerated, InstalledRelease
from firestream_core.plugin.generic import GenericChart
from firestream_core.state.store import State
from firestream_core.tools.kubeconfig import ClusterIdentity

SECRET = "Zq9-saved-unit-secret"


def chart(name: str, message: str = "one", namespace: str = "default") -> GenericChart:
    c = GenericChart.for_chart(name, "repo/app", version="1.0.0", namespace=namespace)
    c.chart_info.yaml_files_content.append(
        ChartValuesGenerated("firestream.toml:x.values", f"message: {message}\npassword: {SECRET}\n"))
    return c


def test_round_trip_holds_no_value(tmp_path: Path) -> None:
    plan = make_plan([chart("a"), chart("b")], [], State(), project_dir=tmp_path)
    path = tmp_path / "plan.json"
    write_saved(saved_plan(plan, config=tmp_path / "firestream.toml"), path)
    text = path.read_text()
    assert SECRET not in text and "one" not in json.loads(text)["releases"][0]["reasons"][0]
    saved = read_saved(path)
    assert [r.action for r in saved.releases] == ["create", "create"]
    check_saved(saved, make_plan([chart("a"), chart("b")], [], State(), project_dir=tmp_path))  # same: accepted


def test_every_difference_is_refused_by_name(tmp_path: Path) -> None:
    saved = saved_plan(make_plan([chart("a"), chart("b")], [], State(), project_dir=tmp_path), config="x")
    now = make_plan([chart("a", message="two"), chart("c")],
                    [InstalledRelease("a", "default", 1, "deployed", "app-1.0.0")], State(), project_dir=tmp_path)
    with pytest.raises(PlanMismatchError) as err:
        check_saved(saved, now)
    text = str(err.value)
    assert err.value.release == "a"
    assert "release 'a': the cluster changed since the plan was saved (the plan saw not installed, " \
           "now revision 1 (deployed))" in text
    assert "release 'b': no longer in the project" in text
    assert "release 'c': not in the saved plan" in text
    changed = make_plan([chart("a", message="two"), chart("b")], [], State(), project_dir=tmp_path)
    with pytest.raises(PlanMismatchError, match="release 'a': its desired state changed since the plan was saved"):
        check_saved(saved, changed)


def test_a_destructive_step_that_appeared_since_is_named_not_an_action_that_did_not_change(tmp_path: Path) -> None:
    """Same action, another step (a password variable changed: the plugin now resets a Secret):
    the refusal says which step, not 'the plan now says upgrade, the saved plan upgrade'."""
    import attrs

    plan = make_plan([chart("a")], [], State(), project_dir=tmp_path)
    saved = saved_plan(plan, config="x")
    step = "set postgres-password in Secret 'a-auth' (namespace 'default') to the configured value"
    now = attrs.evolve(plan, releases=(attrs.evolve(plan["a"], destructive=(step,)),))
    with pytest.raises(PlanMismatchError) as err:
        check_saved(saved, now)
    assert str(err.value) == ("refusing to apply the saved plan: release 'a': its create's destructive steps "
                              f"changed since the plan was saved (now also: {step})")
    with pytest.raises(PlanMismatchError, match=r"\(no longer: set postgres-password"):
        check_saved(saved_plan(now, config="x"), plan)


@pytest.mark.parametrize(("content", "why"), [
    ("{", "not JSON"),
    ('{"format": "other"}', "format is not 'firestream-plan/4'"),
    ('{"format": "firestream-plan/x"}', "format is not 'firestream-plan/4'"),
    ('{"format": "firestream-plan/4", "releases": [{"action": "create"}]}', "a release entry lacks 'release'"),
    ('{"format": "firestream-plan/4", "releases": []}', "'kube' and 'overrides' must be objects"),
    ('{"format": "firestream-plan/4", "releases": [], "kube": {"context": 1}, "overrides": {}}',
     "'environment', 'kube.context' and 'kube.server' must be strings or null"),
    ('{"format": "firestream-plan/4", "releases": [], "kube": {}, "overrides": {"set": "a"}}',
     "'overrides.set' and 'overrides.values' must be lists of strings"),
])
def test_a_file_that_is_not_a_saved_plan_is_named(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(FirestreamError, match=f"plan.json: not a saved firestream plan \\({why}\\)"):
        read_saved(path)


# -- where the plan was made for: environment, cluster, namespaces, overrides -----------------------------

PROD = ClusterIdentity("prod", "https://prod.example:6443")


def made_for(tmp_path: Path, **kwargs) -> SavedPlan:
    plan = make_plan([chart("a")], [], State(), project_dir=tmp_path)
    return saved_plan(plan, config="firestream.toml", **kwargs)


def test_the_file_records_environment_cluster_and_override_names_only(tmp_path: Path) -> None:
    saved = made_for(tmp_path, environment="prod", cluster=PROD, set_keys=["image.tag"], values_files=["v/o.yaml"])
    path = tmp_path / "plan.json"
    write_saved(saved, path)
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT == "firestream-plan/4"
    assert (data["environment"], data["kube"], data["overrides"]) == (
        "prod", {"context": "prod", "server": "https://prod.example:6443"},
        {"set": ["image.tag"], "values": ["v/o.yaml"]})
    assert read_saved(path) == saved


def test_a_release_in_another_namespace_is_refused(tmp_path: Path) -> None:
    saved = saved_plan(make_plan([chart("nsrel", namespace="ns-a")], [], State(), project_dir=tmp_path), config="x")
    now = make_plan([chart("nsrel", namespace="ns-b")], [], State(), project_dir=tmp_path)
    assert now["nsrel"].desired_digest == saved.releases[0].desired_digest  # only the namespace tells
    with pytest.raises(PlanMismatchError, match=r"release 'nsrel': its namespace changed since the plan was "
                       r"saved \(the plan has ns-a, the config now ns-b\)"):
        check_saved(saved, now)


def check(saved: SavedPlan, **kwargs) -> None:
    run = {"environment": None, "cluster": ClusterIdentity(None, None), "set_keys": (), "values_files": (),
           "command": "firestream apply PLAN", **kwargs}
    check_target(saved, **run)


def test_another_environment_cluster_or_overrides_is_refused_all_at_once(tmp_path: Path) -> None:
    saved = made_for(tmp_path, environment="prod", cluster=PROD, set_keys=["image.tag"])
    check(saved, environment="prod", cluster=PROD, set_keys=["image.tag"])  # the same: accepted
    with pytest.raises(PlanMismatchError) as err:
        check(saved, environment="staging", cluster=ClusterIdentity("staging", None), values_files=["o.yaml"])
    assert str(err.value) == (
        "refusing to apply the saved plan: the plan was made for environment 'prod', this run is for "
        "environment 'staging'; the plan was made against kube context 'prod' (server "
        "https://prod.example:6443), this run uses kube context 'staging' (server unknown); the plan was "
        "made with --set image.tag, this run has --values o.yaml")
    assert err.value.hint == ("carry it out with: firestream apply PLAN (the --set values it was made with); "
                              "or make and review a new plan ('firestream plan --out FILE')")
    with pytest.raises(PlanMismatchError, match="the plan was made for no environment, this run is for "
                       "environment 'prod'; the plan was made with no overrides, this run has --set x"):
        check(made_for(tmp_path), environment="prod", set_keys=["x"])
    with pytest.raises(PlanMismatchError) as err:  # the same context name, another server
        check(saved, environment="prod", cluster=ClusterIdentity("prod", "https://elsewhere:6443"),
              set_keys=["image.tag"])
    assert "(the --set values it was made with, the kubeconfig it was made with)" in str(err.value.hint)


def test_the_apply_command_shows_every_flag_and_no_value(tmp_path: Path) -> None:
    saved = made_for(tmp_path, environment="prod", set_keys=["a.b", "c"], values_files=["v/o.yaml"])
    assert apply_command(saved, "my plan.json", flags=["-f", "deploy/firestream.toml"]) == (
        "firestream apply -f deploy/firestream.toml -e prod --set a.b=<value> --set c=<value> "
        "--values v/o.yaml 'my plan.json'")
    assert apply_command(made_for(tmp_path), "p.json") == "firestream apply p.json"


def test_a_plan_of_the_first_format_is_refused_saying_to_plan_again(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"format": "firestream-plan/1", "config": "firestream.toml", "targets": [],
                                "include_deps": False, "destroy": False, "releases": []}))
    with pytest.raises(FirestreamError) as err:
        read_saved(path)
    assert str(err.value).startswith(f"{path}: a saved plan of an older firestream (format 'firestream-plan/1'): "
                                     "it does not record the environment, kube context and overrides")
    assert err.value.hint == "make and review the plan again: 'firestream plan --out FILE'"
    path.write_text('{"format": "firestream-plan/9"}')
    with pytest.raises(FirestreamError, match="a saved plan of a newer firestream .format 'firestream-plan/9'.; "
                       "this one reads 'firestream-plan/4'"):
        read_saved(path)


@pytest.mark.parametrize(("where", "why"), [
    ("missing/plan.json", "No such file or directory"),
    (".", "it is a folder"),
])
def test_a_plan_file_that_cannot_be_written_is_named(tmp_path: Path, where: str, why: str) -> None:
    """``plan --out`` into a missing folder, or naming a folder, said ``unexpected
    FileNotFoundError`` / ``IsADirectoryError``; ``--out /tmp`` even left ``/.tmp.tmp`` behind."""
    plan = make_plan([chart("a")], [], State(), project_dir=tmp_path)
    target = tmp_path / where
    with pytest.raises(FirestreamError) as caught:
        write_saved(saved_plan(plan, config=tmp_path / "firestream.toml"), target)
    assert str(caught.value) == f"cannot write the plan to {target}: {why}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file left


def test_a_failed_rename_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from firestream_core.deploy import saved as saved_module

    def refuse(src: object, dst: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(saved_module.os, "replace", refuse)
    plan = make_plan([chart("a")], [], State(), project_dir=tmp_path)
    with pytest.raises(FirestreamError, match="Read-only file system"):
        write_saved(saved_plan(plan, config=tmp_path / "firestream.toml"), tmp_path / "plan.json")
    assert list(tmp_path.iterdir()) == []


def test_the_plan_after_the_prompt_must_refuse_exactly_what_the_plan_shown_refused(tmp_path: Path) -> None:
    """A release refused in the plan shown (a chart that did not render) and let through in the
    plan made after the prompt, or the other way round, refuses the apply by name."""
    import attrs

    from firestream_core.deploy.saved import check_unchanged

    plan = make_plan([chart("a"), chart("b")], [], State(), project_dir=tmp_path)

    def refusing(*names: str):  # noqa: ANN202
        return attrs.evolve(plan, releases=tuple(
            attrs.evolve(c, problems=(f"release '{c.name}': the chart does not render",)) if c.name in names else c
            for c in plan.releases))

    check_unchanged(refusing("a"), refusing("a"))  # the same refusals: accepted
    with pytest.raises(PlanMismatchError) as caught:
        check_unchanged(refusing("a"), refusing("b"))
    assert str(caught.value) == (
        "refusing to apply the plan shown: release 'a': the plan shown refused it, now it is not refused; "
        "release 'b': the plan shown did not refuse it, now it is refused")


def test_a_plan_file_is_never_written_over_a_file_the_project_reads(tmp_path: Path, monkeypatch) -> None:
    """``plan --out firestream.toml`` replaced the project file with the plan (the config lost);
    so would a values file or the state file. Each is refused, naming what it is, and left as it was."""
    from firestream_core.project import Project

    (tmp_path / ".git").mkdir()
    config = ('[repositories]\nx = "https://charts.example.com/x"\n\n'
              '[[deployments.generic]]\nname = "a"\nchart = "x/app"\nvalues_files = ["values/a.yaml"]\n')
    (tmp_path / "firestream.toml").write_text(config)
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "a.yaml").write_text("message: one\n")
    (tmp_path / "extra.yaml").write_text("b: 2\n")
    (tmp_path / ".firestream").mkdir()
    (tmp_path / ".firestream" / "state.json").write_text("{}")
    monkeypatch.chdir(tmp_path / "values")  # paths as an operator in a subfolder types them
    project = Project.load("../firestream.toml", values_files=["../extra.yaml"])
    plan = make_plan(project.charts, [], State(), project_dir=tmp_path)
    for target, what in (("../firestream.toml", "the project file"),
                         ("a.yaml", "a values file of release 'a'"),
                         (str(tmp_path / "extra.yaml"), "a --values file"),
                         ("../.firestream/state.json", "the state file")):
        before = Path(target).read_text()
        with pytest.raises(FirestreamError) as caught:
            project.save_plan(plan, target)
        assert str(caught.value) == f"cannot write the plan to {target}: it is {what}, which the plan file would replace"
        assert Path(target).read_text() == before
    project.save_plan(plan, "../a.plan")  # any other file
    assert read_saved(tmp_path / "a.plan").releases[0].name == "a"


def test_unseen_changes_name_what_a_plan_given_to_apply_did_not_show() -> None:
    """Project.apply(plan): a release the plan changes is stopped when, planned again now, helm's
    revision, the action, a destructive step more or a namespace to create differ; not for what
    the run checks itself (its desired state) nor for what the plan added (a drift repair, a step
    a rendered plan found)."""
    seen = InstalledRelease("web", "apps", 2, "deployed", "app-1.0.0")
    made = Plan((Change("web", "apps", "generic", "upgrade", installed=seen, desired_digest="d1",
                        destructive=("delete CRD x",)),
                 Change("db", "apps", "generic", "upgrade", ("drift repair: 1 changed object(s)",), installed=seen),
                 Change("api", "apps", "generic", "create"),
                 Change("old", "apps", "generic", "no-op")))
    same = attrs.evolve(made, releases=(
        attrs.evolve(made["web"], desired_digest="d2", destructive=()),  # edited files: the run's check
        attrs.evolve(made["db"], action="no-op", reasons=("matches",)),
        made["api"], attrs.evolve(made["old"], action="upgrade")))  # a no-op the plan leaves alone
    assert unseen_changes(made, same) == {}
    moved = attrs.evolve(made, releases=(
        attrs.evolve(made["web"], installed=attrs.evolve(seen, revision=3)),
        attrs.evolve(made["db"], destructive=("uninstall release 'db'",)),
        made["api"], made["old"]), namespaces_to_create=(NamespaceToCreate("apps", (("api", "helm"),)),))
    assert unseen_changes(made, moved) == {
        "web": "release 'web': the cluster changed since the plan was made (the plan saw revision 2 (deployed), "
               "now revision 3 (deployed))",
        "db": "release 'db': its upgrade's destructive steps changed since the plan was made "
              "(now also: uninstall release 'db')",
        "api": "release 'api': the plan now creates its namespace 'apps', the earlier plan did not (deleted since)",
    }


def test_unseen_changes_stop_a_change_whose_unchanged_dependency_changed_since() -> None:
    """A release the plan leaves as it is counts when a change depends on it, however indirectly:
    the change runs only once it is deployed, as the plan saw it be. One nothing depends on does
    not (the plan leaves it alone, and so does the run)."""
    seen = InstalledRelease("db", "apps", 1, "deployed", "app-1.0.0")
    made = Plan((Change("db", "apps", "generic", "no-op", installed=seen),
                 Change("cache", "apps", "generic", "no-op", installed=attrs.evolve(seen, name="cache")),
                 Change("api", "apps", "generic", "no-op", installed=attrs.evolve(seen, name="api")),
                 Change("web", "apps", "generic", "upgrade", installed=attrs.evolve(seen, name="web")),
                 Change("lone", "apps", "generic", "no-op", installed=attrs.evolve(seen, name="lone"))),
                deps={"db": (), "cache": (), "api": ("db",), "web": ("api",), "lone": ()})
    gone = attrs.evolve(made, releases=(
        attrs.evolve(made["db"], action="create", installed=None), made["cache"], made["api"], made["web"],
        attrs.evolve(made["lone"], action="create", installed=None)))
    assert unseen_changes(made, gone) == {
        "web": "release 'web': its dependency 'db' (which the plan leaves as it is): the cluster changed since "
               "the plan was made (the plan saw revision 1 (deployed), now not installed)",
    }
    assert unseen_changes(attrs.evolve(made, destroy=True), gone) == {}  # a destroy runs dependents first
