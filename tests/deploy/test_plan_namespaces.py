"""make_plan and namespaces: those apply creates, the refusal of a release whose namespace
nothing creates, the note when existence cannot be learned, the destroy plan's note."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from firestream_core.deploy.desired import desired_state
from firestream_core.deploy.plan import NamespaceToCreate, Plan, make_plan, namespaces_to_check
from firestream_core.deploy.saved import check_unchanged
from firestream_core.errors import PlanMismatchError
from firestream_core.model import HelmAction, InstalledRelease
from firestream_core.plugin.generic import GenericChart
from firestream_core.state.store import State
from firestream_core.tools.kubectl import NamespaceLookup


def chart(name: str, namespace: str, *, deps: tuple[str, ...] = (), **info: object) -> GenericChart:
    c = GenericChart.for_chart(name, "repo/app", version="1.0.0", namespace=namespace, **info)
    c.chart_info.depends_on = list(deps)
    return c


def installed(name: str, namespace: str, status: str = "deployed") -> InstalledRelease:
    return InstalledRelease(name, namespace, 1, status, "app-1.0.0")


class Lookup:
    """The namespaces that exist (None: unknown), counting the reads."""

    def __init__(self, exists: dict[str, bool | None], problem: str | None = None) -> None:
        self.exists, self.problem, self.reads = exists, problem, 0

    def __call__(self) -> NamespaceLookup:
        self.reads += 1
        return NamespaceLookup(self.exists, self.problem, 1)


def never() -> NamespaceLookup:
    raise AssertionError("the namespaces were read")


def plan_of(charts, live=(), lookup=never, *, desired=None, **kw) -> Plan:
    return make_plan(charts, list(live), State(), project_dir=Path("/nowhere"), namespaces=lookup,
                     desired=desired, **kw)


def test_a_create_into_a_missing_namespace_lists_it_once_with_every_release_and_who_creates_it() -> None:
    lookup = Lookup({"data": False, "apps": True})
    plan = plan_of([chart("db", "data"), chart("cache", "data"), chart("web", "apps")], lookup=lookup)
    assert lookup.reads == 1
    assert plan.namespaces_to_create == (NamespaceToCreate("data", (("db", "helm"), ("cache", "helm"))),)
    assert plan.problems == [] and plan.notes == ()
    assert plan.summary() == "3 to create; 1 namespace to create"
    data = json.loads(plan.to_json())
    assert data["namespaces_to_create"] == [{"namespace": "data", "releases": [
        {"release": "db", "created_by": "helm"}, {"release": "cache", "created_by": "helm"}]}]
    assert data["notes"] == []


def test_no_read_when_every_change_goes_where_a_listed_release_lives_nor_without_changes() -> None:
    # web is created in "apps", where api (not in the config) lives; db upgrades in place
    live = [installed("api", "apps"), installed("db", "data", status="failed")]
    plan = plan_of([chart("web", "apps"), chart("db", "data")], live)
    assert [c.action for c in plan.releases] == ["create", "upgrade"]
    assert plan.namespaces_to_create == ()
    assert namespaces_to_check([chart("web", "apps"), chart("db", "data")], live) == []
    # a release helm lists as uninstalled (--keep-history) keeps its record in its namespace
    assert namespaces_to_check([chart("db", "data")], [installed("db", "data", "uninstalled")]) == []
    # nothing to deploy: skipped and destroyed releases need no namespace
    skipped = chart("web", "apps", action=HelmAction.SKIP)
    gone = chart("db", "data", action=HelmAction.DESTROY)
    assert namespaces_to_check([skipped, gone], []) == []
    assert not plan_of([skipped, gone]).has_changes


def test_a_release_whose_namespace_was_deleted_is_a_create_and_its_namespace_is_read() -> None:
    # helm's record lived in the namespace: with it deleted, helm lists nothing there
    charts = [chart("db", "data")]
    assert namespaces_to_check(charts, [installed("other", "apps")]) == ["data"]
    plan = plan_of(charts, [installed("other", "apps")], Lookup({"data": False}))
    assert plan["db"].action == "create"
    assert [n.name for n in plan.namespaces_to_create] == ["data"]


def test_create_namespace_false_into_a_missing_namespace_is_refused_naming_release_namespace_and_key() -> None:
    plan = plan_of([chart("db", "data", create_namespace=False), chart("web", "data", deps=("db",))],
                   lookup=Lookup({"data": False}))
    (release, problem), = plan.problems
    assert release == "db"
    assert "release 'db'" in problem and "namespace 'data'" in problem and "create_namespace" in problem
    assert plan["db"].reasons[0].startswith("refused: namespace 'data' does not exist")
    # web would create it with helm's --create-namespace, but apply stops web with db, its
    # dependency: no namespace is promised; cache, on its own, is
    assert plan.namespaces_to_create == ()
    plan = plan_of([chart("db", "data", create_namespace=False), chart("web", "data", deps=("db",)),
                    chart("cache", "data")], lookup=Lookup({"data": False}))
    assert plan.namespaces_to_create == (NamespaceToCreate("data", (("cache", "helm"),)),)


def test_create_namespace_false_into_an_existing_namespace_is_fine() -> None:
    plan = plan_of([chart("db", "data", create_namespace=False)], lookup=Lookup({"data": True}))
    assert plan.problems == [] and plan.namespaces_to_create == ()


def test_a_plugin_that_says_its_pre_exec_creates_the_namespace_is_not_refused_and_is_named() -> None:
    db = chart("db", "data", create_namespace=False)
    web = chart("web", "data")
    desired = {"db": attrs.evolve(desired_state(db, project_dir="/nowhere"), creates_namespace=True),
               "web": attrs.evolve(desired_state(web, project_dir="/nowhere"), creates_namespace=True)}
    plan = plan_of([db, web], lookup=Lookup({"data": False}), desired=desired)
    assert plan.problems == []
    assert plan.namespaces_to_create == (NamespaceToCreate("data", (("db", "plugin"), ("web", "plugin"))),)


def test_a_release_refused_for_another_reason_creates_no_namespace() -> None:
    db = chart("db", "data")
    refused = attrs.evolve(desired_state(db, project_dir="/nowhere"), problems=("release 'db': no",))
    plan = plan_of([db], lookup=Lookup({"data": False}), desired={"db": refused})
    assert plan.namespaces_to_create == ()
    assert plan.summary() == "1 to create"


def test_unknown_existence_is_a_note_never_a_refusal_nor_a_guess() -> None:
    plan = plan_of([chart("db", "data", create_namespace=False), chart("web", "shop")],
                   lookup=Lookup({"data": None, "shop": None}, problem="kubectl get namespace: forbidden"))
    assert plan.problems == [] and plan.namespaces_to_create == ()
    (note,) = plan.notes
    assert note.startswith("could not learn whether namespaces data, shop exist (kubectl get namespace: forbidden)")
    assert json.loads(plan.to_json())["notes"] == [note]


def test_a_destroy_plan_reads_nothing_and_says_once_that_the_namespaces_stay() -> None:
    charts = [chart("db", "data"), chart("cache", "data"), chart("web", "default")]
    live = [installed("db", "data"), installed("cache", "data"), installed("web", "default")]
    plan = plan_of(charts, live, destroy=True)
    assert plan.notes == ("firestream never deletes a namespace: data stays, with anything else in it",)
    assert plan.namespaces_to_create == ()
    assert plan_of(charts, [], destroy=True).notes == ()  # nothing removed, nothing left behind


def test_without_a_lookup_the_plan_says_nothing_of_namespaces() -> None:
    plan = make_plan([chart("db", "data", create_namespace=False)], [], State(), project_dir="/nowhere")
    assert plan.namespaces_to_create == () and plan.problems == [] and plan.notes == ()


def test_plans_differing_only_in_their_namespaces_are_not_equal_and_the_shown_one_is_held_to() -> None:
    charts = [chart("db", "data")]
    shown = plan_of(charts, lookup=Lookup({"data": True}))
    fresh = plan_of(charts, lookup=Lookup({"data": False}))  # deleted while the prompt waited
    assert shown != fresh
    assert shown == plan_of(charts, lookup=Lookup({"data": True}))
    check_unchanged(shown, plan_of(charts, lookup=Lookup({"data": True})))
    with pytest.raises(PlanMismatchError) as err:
        check_unchanged(shown, fresh)
    assert str(err.value) == ("refusing to apply the plan shown: namespace 'data': the plan now creates it "
                              "(for db), the shown plan did not")
    with pytest.raises(PlanMismatchError, match="namespace 'data': the shown plan creates it, it exists now"):
        check_unchanged(fresh, shown, command="apply")
