"""The desired state: one function for plan, apply, template and diff (issue 11)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from firestream_core.deploy.desired import (
    ChartVersions,
    ReadOnlyHelm,
    ReadOnlyKubectl,
    desired_state,
    desired_states,
    part_reasons,
)
from firestream_core.deploy.plan import make_plan
from firestream_core.errors import PluginError
from firestream_core.model import ChartInfo, InstalledRelease
from firestream_core.plugin.generic import GenericChart
from firestream_core.state.store import ReleaseState, State
from firestream_core.tools.helm import Helm
from firestream_core.tools.kubectl import Kubectl
from firestream_core.tools.process import Completed, Runner

from .contrib_plugin import ContribChart, ContribOptions, Plugin, manager


def contrib(name: str = "c", **options: object) -> ContribChart:
    c = ContribChart.default()
    c.chart_info.name = name
    c.chart_info.version = "0.1.0"
    return attrs.evolve(c, options=ContribOptions(**options))  # type: ignore[arg-type]


def recorded_from(plan_change, tmp_path: Path) -> ReleaseState:
    return ReleaseState(
        name=plan_change.name, namespace=plan_change.namespace, chart_type="contrib", chart="tiny-app",
        version="0.1.0", values_digest=plan_change.values_digest or "", revision=1,
        applied_at="2026-01-01T00:00:00Z", action="create", result="succeeded", duration=1.0,
        desired_digest=plan_change.desired_digest, desired_parts=dict(plan_change.parts),
    )


def deployed(name: str = "c") -> InstalledRelease:
    return InstalledRelease(name, "default", 1, "deployed", "tiny-app-0.1.0")


def test_contributed_values_are_in_the_desired_chart_and_digest(tmp_path: Path) -> None:
    states = desired_states([contrib(greeting="hi")], manager=manager(), project_dir=tmp_path)
    ds = states["c"]
    assert ds.chart.chart_info.plugin_values == {"message": "hi"}
    assert list(ds.contributed.values()) == [{"message": "hi"}]
    other = desired_states([contrib(greeting="ho")], manager=manager(), project_dir=tmp_path)["c"]
    assert other.values_digest != ds.values_digest and other.digest != ds.digest
    # without the plugins the chart's own values give another digest
    assert desired_state(contrib(greeting="hi"), project_dir=tmp_path).values_digest != ds.values_digest



@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({1: "a", (2, 3): "b"}, "returned the key 1 (an int), not a string"),
        ({"a": {"b": {None: 1}}}, "returned the key None (a NoneType) under key 'a.b', not a string"),
        ({"a": object()}, "returned an object at key 'a'"),
        ({"a": {"list": [1, {"x": {1, 2}}]}}, "returned a set at key 'a.list[1].x'"),
        ({"a": float("nan")}, "returned the float nan at key 'a'"),
    ],
)
def test_contributed_values_that_are_not_plain_data_are_refused_naming_plugin_and_key(
    tmp_path: Path, given: dict, said: str
) -> None:
    """``{1: "a"}`` and ``{"a": object()}`` were deployed (the plan showed
    ``<object object at 0x...>``): refused in the desired state, before any cluster change."""
    with pytest.raises(PluginError) as refused:
        desired_state(contrib(), project_dir=tmp_path, contributed=[("quirky", given)])
    assert str(refused.value).startswith(f"plugin 'quirky': contribute_values for release 'c' {said}")
    assert "plain YAML data" in str(refused.value)


def _holding_itself() -> dict:
    looped: dict = {"b": []}
    looped["b"].append(looped)
    return {"a": looped}


def _nested(depth: int) -> dict:
    out: dict = {}
    node = out
    for _ in range(depth - 1):
        node["k"] = {}
        node = node["k"]
    return out


@pytest.mark.parametrize(("given", "said"), [
    (_holding_itself, "returned values that hold themselves at key 'a.b[0]'"),
    (lambda: _nested(5000), "returned values nested more than 100 levels deep at key 'k.k.k"),
])
def test_contributed_values_without_end_are_refused_at_once(tmp_path: Path, given, said: str) -> None:
    """A mapping inside itself made plan walk it forever (ten minutes, then killed), and 5,000
    nested levels raised ``unexpected RecursionError`` from plan and validate."""
    import threading

    raised: list[BaseException] = []

    def check() -> None:
        try:
            desired_state(contrib(), project_dir=tmp_path, contributed=[("quirky", given())])
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            raised.append(exc)

    walker = threading.Thread(target=check, daemon=True)  # a regression walks forever: not here
    walker.start()
    walker.join(30)
    assert not walker.is_alive(), "the values were still being walked after 30 s"
    assert len(raised) == 1 and isinstance(raised[0], PluginError), raised
    assert str(raised[0]).startswith(f"plugin 'quirky': contribute_values for release 'c' {said}")


def test_contributed_values_may_share_a_mapping_and_nest_a_hundred_levels(tmp_path: Path) -> None:
    shared = {"x": 1}
    ds = desired_state(contrib(), project_dir=tmp_path, contributed=[("fine", {"a": shared, "b": shared,
                                                                             "deep": _nested(99)})])
    assert ds.chart.chart_info.plugin_values["b"] == {"x": 1}


def test_plain_contributed_values_pass(tmp_path: Path) -> None:
    plain = {"a": {"b": [1, 2.5, True, None, "x", {"c": ()}]}}
    ds = desired_state(contrib(), project_dir=tmp_path, contributed=[("fine", plain)])
    assert ds.chart.chart_info.plugin_values["a"]["b"][0] == 1


class Recorder(Runner):
    """A runner that records each command and answers ``stdout``."""

    def __init__(self, stdout: str = "") -> None:
        super().__init__()
        self.argv: list[list[str]] = []
        self.stdout = stdout

    def run(self, argv, *, env=None, stdin=None, timeout=None, label=None, cwd=None) -> Completed:  # noqa: ANN001
        self.argv.append([str(a) for a in argv])
        return Completed(tuple(argv), 0, self.stdout, "", 0.0, label)


def test_a_contribute_values_that_raises_is_named_by_its_plugin(tmp_path: Path) -> None:
    """A plugin's bug in the desired-state stage: one readable message naming the plugin and the release."""
    plugin = manager()
    name = next(n for n, p in plugin.pm.list_name_plugin() if type(p).__name__ == "Plugin")
    with pytest.raises(PluginError) as refused:
        desired_states([contrib(greeting="crash")], manager=plugin, project_dir=tmp_path)
    assert str(refused.value) == f"plugin '{name}': contribute_values for release 'c' raised KeyError: 'replicas'"


def test_what_a_plugin_says_in_the_desired_state_hides_the_secrets_it_registered(tmp_path: Path) -> None:
    """A plugin registering a value (its ``password_env``'s) with ``context.redactor``, then naming it in
    a note, a refusal, a step, an out-of-date reason or its exception: the library's ``Plan`` (and
    ``plan.to_json()``) and ``PluginError`` held it in clear; only the CLI masked what it printed."""
    from firestream_core.tools.redact import Redactor

    ds = desired_states([contrib(greeting="secret")], manager=manager(), project_dir=tmp_path,
                        redactor=Redactor())["c"]
    said = "release 'c': token *** is used"
    assert (ds.notes, ds.problems, ds.steps, ds.out_of_date) == ((said,), (said,), (said,), (said,))
    with pytest.raises(PluginError, match=r"raised RuntimeError: login \*\*\* refused$"):
        desired_states([contrib(greeting="secret-crash")], manager=manager(), project_dir=tmp_path,
                       redactor=Redactor())


def test_a_contribute_values_calling_sys_exit_fails_the_plan_by_name(tmp_path: Path) -> None:
    """``sys.exit(0)`` in the desired-state stage made ``firestream plan`` exit 0, printing nothing."""
    with pytest.raises(PluginError, match=r"^plugin '.+': contribute_values for release 'c' raised SystemExit: 0$"):
        desired_states([contrib(greeting="quit")], manager=manager(), project_dir=tmp_path)


def test_the_desired_state_stage_cannot_write(tmp_path: Path) -> None:
    runner = Recorder()
    with pytest.raises(PluginError, match=r"^plugin '.+': contribute_values must not change the cluster: "
                                          r"kubectl.delete is not"):
        desired_states([contrib(greeting="write")], manager=manager(), project_dir=tmp_path,
                       kubectl=Kubectl(runner, "kubectl"))
    helm = ReadOnlyHelm(Helm(runner, "helm"))
    kubectl = ReadOnlyKubectl(Kubectl(runner, "kubectl"))
    writes = [
        ("helm.upgrade_install", lambda: helm.upgrade_install(contrib().chart_info, tmp_path)),
        ("helm.uninstall", lambda: helm.uninstall("c", "default")),
        ("helm.rollback", lambda: helm.rollback("c", "default", 1)),
        ("helm.runner", lambda: helm.runner),
        ("kubectl.apply_server_side", lambda: kubectl.apply_server_side({"kind": "ConfigMap"})),
        ("kubectl.run", lambda: kubectl.run(["kubectl", "delete", "ns", "x"])),
        ("kubectl.runner", lambda: kubectl.runner),
    ]
    for name, call in writes:
        with pytest.raises(PluginError) as refused:
            call()
        assert str(refused.value) == (
            f"contribute_values must not change the cluster: {name} is not allowed "
            "in the desired-state stage (do it in pre_exec)"
        )
    assert runner.argv == []  # nothing ran


def test_a_stage_reads_through_the_runs_tools(tmp_path: Path) -> None:
    runner = Recorder('{"kind": "ConfigMap", "metadata": {"name": "settings"}}')
    kubectl = Kubectl(runner, "kubectl", kubeconfig="/k/config")
    ds = desired_states([contrib(greeting="read")], manager=manager(), project_dir=tmp_path, kubectl=kubectl)["c"]
    assert ds.notes == ("configmap settings found",)
    assert runner.argv == [
        ["kubectl", "get", "configmap", "settings", "--output", "json", "--namespace", "default",
         "--kubeconfig", "/k/config"]
    ]
    helm = ReadOnlyHelm(Helm(Recorder('{"message": "hi"}'), "helm"))
    assert helm.get_values("c", "default") == {"message": "hi"}
    assert (helm.binary, helm.argv(["list"])) == ("helm", ["helm", "list"])


def test_without_a_cluster_a_read_names_the_missing_tool(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"there is no kubectl in this desired-state stage, so kubectl.get"):
        desired_states([contrib(greeting="read")], manager=manager(), project_dir=tmp_path)
    with pytest.raises(PluginError, match=r"no helm .* helm.status cannot be called"):
        ReadOnlyHelm(None).status("c", "default")


def plan_after(old: ContribChart, new: ContribChart, tmp_path: Path):
    first = make_plan([old], [], State(), project_dir=tmp_path,
                      desired=desired_states([old], manager=manager(), project_dir=tmp_path))
    state = State()
    state.record(recorded_from(first["c"], tmp_path))
    return make_plan([new], [deployed()], state, project_dir=tmp_path,
                     desired=desired_states([new], manager=manager(), project_dir=tmp_path),
                     get_values=lambda n, ns: {"message": old.options.greeting})


def test_an_option_that_becomes_a_value_is_planned(tmp_path: Path) -> None:
    plan = plan_after(contrib(greeting="one"), contrib(greeting="two"), tmp_path)
    assert plan["c"].action == "upgrade"
    assert plan["c"].reasons == ("values changed: message", "option greeting changed")
    assert plan["c"].plugin_values == {"message": "two"}


def test_an_option_acting_after_helm_only_is_planned(tmp_path: Path) -> None:
    plan = plan_after(contrib(flag=False), contrib(flag=True), tmp_path)
    assert (plan["c"].action, plan["c"].reasons) == ("upgrade", ("option flag changed",))


def test_a_helm_setting_is_planned(tmp_path: Path) -> None:
    new = contrib()
    new.chart_info.timeout = "900s"
    plan = plan_after(contrib(), new, tmp_path)
    assert (plan["c"].action, plan["c"].reasons) == ("upgrade", ("setting timeout changed",))


def test_nothing_changed_is_a_noop(tmp_path: Path) -> None:
    plan = plan_after(contrib(), contrib(), tmp_path)
    assert (plan["c"].action, plan["c"].reasons, plan["c"].record_state) == ("no-op", ("up to date",), False)


def test_entries_without_parts_name_no_option() -> None:
    assert part_reasons(None, {"option a": "x"}) == []
    assert part_reasons({"option a": "x", "setting b": "y"}, {"option a": "z", "setting b": "y"}) == [
        "option a changed"
    ]


# -- what plugins say in the desired state: notes, problems, a breaking version ----------------


def test_a_plugins_note_is_a_reason_on_every_plan_line_and_never_changes_the_action(tmp_path: Path) -> None:
    note = "message is 'note' (because the test says so)"
    ds = desired_states([contrib(greeting="note")], manager=manager(), project_dir=tmp_path)["c"]
    assert ds.notes == (note,) and ds.problems == ()
    create = make_plan([contrib(greeting="note")], [], State(), project_dir=tmp_path, desired={"c": ds})
    assert create["c"].action == "create"
    assert create["c"].reasons == ("not deployed", note)
    assert create["c"].to_dict()["notes"] == [note]
    again = plan_after(contrib(greeting="note"), contrib(greeting="note"), tmp_path)
    assert (again["c"].action, again["c"].reasons) == ("no-op", ("up to date", note))
    assert not again.has_changes
    assert again.problems == []


def test_a_plugins_refusal_is_listed_by_the_plan(tmp_path: Path) -> None:
    from firestream_core.cli.progress import format_plan

    plan = plan_after(contrib(greeting="one"), contrib(greeting="refuse"), tmp_path)
    problem = "release 'c': greeting 'refuse' cannot be deployed"
    assert plan.problems == [("c", problem)]
    assert plan["c"].reasons[0] == "refused: greeting 'refuse' cannot be deployed"
    assert plan["c"].to_dict()["problems"] == [problem]
    text = format_plan(plan)
    assert ("Refused (apply stops these releases before any change):\n"
            "  ! c: greeting 'refuse' cannot be deployed\n") in text


def test_a_plugins_refusal_of_a_release_that_does_not_change_refuses_nothing(tmp_path: Path) -> None:
    """A no-op runs nothing: a refusal (the cluster's CRDs newer than the chart's, put there by
    another release) must not make ``plan`` exit 1, list it under ``Refused``, or keep ``plan
    --out`` from saving, while apply says "Nothing to do"; it is said as what a change meets,
    and becomes a refusal again when ``apply --repair-drift`` upgrades the release."""
    import attrs

    from firestream_core.cli.progress import format_plan

    plan = plan_after(contrib(greeting="refuse"), contrib(greeting="refuse"), tmp_path)
    assert plan["c"].action == "no-op" and not plan.has_changes
    assert plan.problems == []
    assert plan["c"].reasons == ("up to date", "a change of it would be refused: greeting 'refuse' cannot be deployed")
    assert plan["c"].to_dict()["problems"] == []
    assert "Refused" not in format_plan(plan)
    repaired = attrs.evolve(plan, releases=(attrs.evolve(plan["c"], action="upgrade"),))
    assert repaired.problems == [("c", "release 'c': greeting 'refuse' cannot be deployed")]


def test_a_breaking_version_a_plugin_decides_is_the_plans_breaking_step(tmp_path: Path) -> None:
    old, new = contrib(greeting="breaking"), contrib(greeting="breaking")
    new.chart_info.version = "0.2.0"
    ds = desired_states([new], manager=manager(), project_dir=tmp_path)["c"]
    assert ds.chart.chart_info.last_breaking_version_requiring_restart is not None
    assert new.chart_info.last_breaking_version_requiring_restart is None  # the config is untouched
    plan = plan_after(old, new, tmp_path)
    change = plan["c"]
    assert change.action == "reinstall"
    assert change.reasons[0].startswith("breaking version 0.2.0: reinstall (requires_uninstall)")
    assert change.breaking_version is not None and change.breaking_version.version == "0.2.0"
    assert change.destructive  # the uninstall is shown
    # without the plugin's decision the same upgrade is an ordinary one
    plain = plan_after(contrib(greeting="one"), attrs.evolve(new, options=ContribOptions(greeting="one")),
                       tmp_path)
    assert plain["c"].action == "upgrade" and plain["c"].breaking is None


def test_context_problems_stop_run_release_at_check_prerequisites(tmp_path: Path) -> None:
    from firestream_core.deploy.lifecycle import run_release
    from firestream_core.plugin.context import DeployContext

    from .fakes import FakeHelm, FakeKubectl

    context = DeployContext(helm=FakeHelm(), kubectl=FakeKubectl(), project_dir=tmp_path)  # type: ignore[arg-type]
    result = run_release(contrib(greeting="refuse"), manager(), context)
    assert result.stage_failed == "check_prerequisites"
    assert result.problems == ("release 'c': greeting 'refuse' cannot be deployed",)
    assert result.error == "release 'c' failed at check_prerequisites: greeting 'refuse' cannot be deployed"
    assert result.executed is None  # exec never ran


def test_the_digests_the_state_keeps_do_not_change_between_firestream_versions() -> None:
    """The state file keeps these digests; a new firestream computing them differently would
    plan every deployed release as changed. Recorded from the digests firestream wrote
    before ``_hash`` encoded scalars itself (and ``_option_fields`` read the options once)."""
    ds = desired_states([contrib(greeting="hi")], manager=manager(), project_dir=Path("/nonexistent"))["c"]
    assert ds.digest == "sha256:1b0383d72948779aa00bbb39b6cbab24be0b17e634bb0d5bdf9a8ea345e291f6"
    assert ds.values_digest == "sha256:8ca53720cac49471e16a6df5773199388ef2b1d6a7b36763d5f37b7b1c673e77"
    true, false = (
        "sha256:b5bea41b6c623f7c09f1bf24dcae58ebab3c0cdd90ad966bc43a45b44867e12b",
        "sha256:fcbcf165908dd18a9e49f7ff27810176db8e9f63b4352213741664245224f8aa",
    )
    assert dict(ds.parts) == {
        "option greeting": "sha256:b49177e05868b7af8e82a644c1ce20e521af46497adeaffe861d294d9b4bb75e",
        "option flag": false,
        "setting atomic": true,
        "setting force_upgrade": false,
        "setting create_namespace": true,
        "setting timeout": "sha256:a054cb74468176aa7732d8048713e6e3927dbf5305c2ec4a19ba0c6e3d3fe6ef",
        "setting wait": true,
        "setting wait_for_jobs": true,
        "setting hooks_disabled": false,
        "setting skip_crds": false,
        "setting history_max": "sha256:1a6562590ef19d1045d06c4055742d38288e9e6dcd71ccde5cee80f1d5a774eb",
    }


@pytest.mark.parametrize("value", ["10m", "é\u2028\"q\\", "", True, False, None, 0, -5, 10**30, 1.5,
                                   ["a", 1], {"b": 1, "a": [True, None]}])
def test_a_part_digest_is_the_sha256_of_the_values_canonical_json(value: object) -> None:
    import hashlib
    import json

    from firestream_core.deploy.desired import _hash

    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    assert _hash(value) == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# -- version constraints: resolved by helm when the plan is made ---------------------------------------


def repo_chart(name: str, version: str | None, chart: str = "local/app", **info: object) -> GenericChart:
    return GenericChart.for_chart(name, chart, version=version, **info)


def test_constraints_are_resolved_once_per_chart_and_constraint(tmp_path: Path, fake_helm) -> None:
    """``^0.1`` and no version resolve to the exact version helm installs: one ``repo add`` per
    repository, one ``search repo`` per distinct (chart, constraint); a local chart, an exact
    version and a release to destroy ask nothing."""
    fake_helm.publish("local/app", "0.1.0", "0.1.1", "0.2.0", "1.0.0-rc.1")
    (tmp_path / "charts/own").mkdir(parents=True)
    (tmp_path / "charts/own/Chart.yaml").write_text("apiVersion: v2\nname: own\nversion: 0.3.0\n")
    charts = [repo_chart("a", "^0.1"), repo_chart("b", "^0.1"), repo_chart("c", None),
              repo_chart("d", "0.1.0"), GenericChart(ChartInfo(name="e", path="charts/own", version="^0.3")),
              repo_chart("f", "~0.2", action="destroy")]
    helm = fake_helm.helm()
    versions = ChartVersions(helm, {"local": "http://127.0.0.1:9/charts"})
    states = desired_states(charts, manager=None, project_dir=tmp_path, versions=versions)
    assert {n: s.resolved_version for n, s in states.items()} == {
        "a": "0.1.1", "b": "0.1.1", "c": "0.2.0", "d": None, "e": None, "f": None}
    assert states["a"].chart.chart_info.version == "0.1.1"  # what template renders and exec installs
    assert charts[0].chart_info.version == "^0.1"  # the config is left as it was
    assert [c[:3] for c in fake_helm.calls()] == [
        ["repo", "add", "local"], ["search", "repo", "local/app"], ["search", "repo", "local/app"]]
    assert [c[-2:] for c in fake_helm.calls("search repo")] == [["--version", "^0.1"], ["-o", "json"]]


def test_the_resolved_version_is_part_of_the_digest(tmp_path: Path, fake_helm) -> None:
    """A newer match changes the desired digest (a saved plan is then refused); a release with
    nothing to resolve keeps the digest it had before versions were resolved."""
    fake_helm.publish("local/app", "0.1.0")
    helm = fake_helm.helm()
    chart = repo_chart("a", "^0.1")

    def digest() -> str:
        versions = ChartVersions(helm, {"local": "http://127.0.0.1:9/charts"})
        return desired_states([chart], manager=None, project_dir=tmp_path, versions=versions)["a"].digest

    before = digest()
    fake_helm.publish("local/app", "0.1.1")
    assert digest() != before
    exact = repo_chart("x", "0.1.0")
    assert desired_states([exact], manager=None, project_dir=tmp_path,
                          versions=ChartVersions(helm, {}))["x"].digest == desired_state(
        exact, project_dir=tmp_path).digest


def test_a_constraint_nothing_matches_is_a_problem_naming_release_chart_and_constraint(
        tmp_path: Path, fake_helm) -> None:
    fake_helm.publish("local/app", "0.1.0")
    versions = ChartVersions(fake_helm.helm(), {"local": "http://127.0.0.1:9/charts"})
    state = desired_states([repo_chart("a", "^9")], manager=None, project_dir=tmp_path, versions=versions)["a"]
    assert state.resolved_version is None
    assert state.problems == ("release 'a': no version of chart 'local/app' matches '^9'",)
    # in the plan: refused, listed, never a traceback
    plan = make_plan([repo_chart("a", "^9")], [], State(), project_dir=tmp_path, desired={"a": state})
    assert plan.problems == [("a", "release 'a': no version of chart 'local/app' matches '^9'")]
    assert plan["a"].reasons[0] == "refused: no version of chart 'local/app' matches '^9'"


def test_a_repository_without_url_is_a_problem_and_asks_no_helm(tmp_path: Path, fake_helm) -> None:
    """The run's helm knows the project's repositories alone: with no URL the search could only
    say "no repositories configured", so the problem names what to add instead."""
    fake_helm.publish("local/app", "0.1.0")
    versions = ChartVersions(fake_helm.helm(), {})
    state = desired_states([repo_chart("a", "^0.1")], manager=None, project_dir=tmp_path, versions=versions)["a"]
    assert state.problems == ("release 'a': cannot resolve version '^0.1' of chart 'local/app': "
                              "repository 'local' has no URL in [repositories]",)
    assert fake_helm.calls() == []


def test_a_helm_failure_while_resolving_is_a_problem(tmp_path: Path, fake_helm) -> None:
    fake_helm.fail_on("local", "repo add", "connection refused")
    versions = ChartVersions(fake_helm.helm(), {"local": "http://127.0.0.1:9/charts"})
    state = desired_states([repo_chart("a", "^0.1")], manager=None, project_dir=tmp_path, versions=versions)["a"]
    assert state.resolved_version is None
    assert state.problems[0].startswith("release 'a': cannot resolve version '^0.1' of chart 'local/app': "
                                        "helm repo add failed")


def test_an_oci_constraint_is_resolved_with_show_chart(tmp_path: Path, fake_helm) -> None:
    fake_helm.publish("oci://registry.example/charts/app", "1.2.0", "1.3.0", "2.0.0")
    versions = ChartVersions(fake_helm.helm(), {})
    chart = repo_chart("a", "^1", chart="oci://registry.example/charts/app")
    assert desired_states([chart], manager=None, project_dir=tmp_path,
                          versions=versions)["a"].resolved_version == "1.3.0"
    assert fake_helm.calls("show chart") == [["show", "chart", "oci://registry.example/charts/app",
                                              "--version", "^1"]]


def _run_alone(chart: GenericChart, tmp_path: Path, fake_helm):  # noqa: ANN202
    """``run_release`` called by a program, with no plan (dry run: no validation)."""
    import logging

    from firestream_core.deploy.lifecycle import run_release
    from firestream_core.plugin.context import DeployContext
    from firestream_core.plugin.manager import get_plugin_manager

    context = DeployContext(helm=fake_helm.helm(), kubectl=None, project_dir=tmp_path,  # type: ignore[arg-type]
                            repositories={"local": "http://127.0.0.1:9/charts"}, dry_run=True,
                            log=logging.getLogger("firestream"))
    return run_release(chart, get_plugin_manager(load_entry_points=False), context)


def test_run_release_alone_resolves_a_constraint_as_the_plan_does(tmp_path: Path, fake_helm) -> None:
    """It passed ``--version ^0.1`` on to helm: the version installed was helm's pick at exec
    time, not the one the plan (the same config) shows."""
    fake_helm.publish("local/app", "0.1.0", "0.1.1", "0.2.0")
    planned = desired_states([repo_chart("a", "^0.1")], manager=None, project_dir=tmp_path,
                             versions=ChartVersions(fake_helm.helm(), {"local": "http://127.0.0.1:9/charts"}))
    assert planned["a"].resolved_version == "0.1.1"
    fake_helm.reset_calls()
    chart = repo_chart("a", "^0.1")
    result = _run_alone(chart, tmp_path, fake_helm)
    assert result.ok, result.error
    upgrade = fake_helm.calls("upgrade")[-1]
    assert upgrade[upgrade.index("--version") + 1] == "0.1.1"
    assert chart.chart_info.version == "0.1.1"  # the chart run_release was given, as a run's copy


def test_run_release_alone_refuses_a_constraint_nothing_matches_at_check_prerequisites(
        tmp_path: Path, fake_helm) -> None:
    fake_helm.publish("local/app", "0.1.0")
    result = _run_alone(repo_chart("a", "^9"), tmp_path, fake_helm)
    assert result.stage_failed == "check_prerequisites"
    assert result.problems == ("release 'a': no version of chart 'local/app' matches '^9'",)  # the plan's words
    assert fake_helm.calls("upgrade") == []


def test_offline_resolves_nothing(tmp_path: Path, fake_helm) -> None:
    """``firestream validate`` stays offline: no helm call, the constraint stays unresolved."""
    versions = ChartVersions(fake_helm.helm(), {"local": "http://127.0.0.1:9/charts"})
    state = desired_states([repo_chart("a", "^0.1")], manager=None, project_dir=tmp_path, versions=versions,
                           offline=True)["a"]
    assert (state.resolved_version, state.problems) == (None, ())
    assert fake_helm.calls() == []


def test_contribute_values_sees_the_resolved_version_never_the_constraint(tmp_path: Path, fake_helm) -> None:
    """A plugin's version rules (a major refused, a breaking version decided) compare the
    version apply installs: ``^0.1`` reaches the hooks as 0.1.1, the config keeps ``^0.1``."""
    fake_helm.publish("local/tiny-app", "0.1.0", "0.1.1", "0.2.0")
    c = contrib()
    c.chart_info.chart = "local/tiny-app"
    c.chart_info.version = "^0.1"
    Plugin.versions.clear()
    versions = ChartVersions(fake_helm.helm(), {"local": "http://127.0.0.1:9/charts"})
    desired = desired_states([c], manager=manager(), project_dir=tmp_path, versions=versions)
    assert Plugin.versions == [("c", "0.1.1")]
    assert desired["c"].resolved_version == "0.1.1" and desired["c"].chart.chart_info.version == "0.1.1"
    assert c.chart_info.version == "^0.1"


def test_a_local_chart_is_planned_and_seen_at_its_chart_yaml_version(tmp_path: Path) -> None:
    """helm installs a folder at its Chart.yaml's version: a chart type's default version (its
    repository chart's) beside ``path`` is never what runs, so neither plugins nor the plan use it."""
    d = tmp_path / "charts" / "app"
    (d / "templates").mkdir(parents=True)
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: tiny-app\nversion: 0.3.0\n")
    c = contrib()  # its chart info names 0.1.0, as a chart type's default does
    c.chart_info.path = Path("charts/app")
    Plugin.versions.clear()
    desired = desired_states([c], manager=manager(), project_dir=tmp_path)
    assert Plugin.versions == [("c", "0.3.0")]
    assert desired["c"].chart.chart_info.version == "0.3.0"
    live = InstalledRelease("c", "default", 1, "deployed", "tiny-app-0.3.0")
    plan = make_plan([c], [live], State(), project_dir=tmp_path, desired=desired,
                     get_values=lambda n, ns: {"message": "hello"})
    assert plan["c"].desired_version == "0.3.0"
    assert not [r for r in plan["c"].reasons if "version" in r]
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: tiny-app\nversion: 0.4.0\n")
    desired = desired_states([c], manager=manager(), project_dir=tmp_path)
    plan = make_plan([c], [live], State(), project_dir=tmp_path, desired=desired,
                     get_values=lambda n, ns: {"message": "hello"})
    assert "version changed 0.3.0 -> 0.4.0" in plan["c"].reasons


def test_an_exec_step_a_plugin_says_is_listed_on_a_change_never_on_a_noop(tmp_path: Path) -> None:
    """``context.exec_step``: what exec does besides helm whenever the release changes (an operator
    plugin's CRD apply) is a destructive step of a create or an upgrade; a no-op runs nothing."""
    step = "apply the widgets CRD before helm"
    ds = desired_states([contrib(greeting="step")], manager=manager(), project_dir=tmp_path)["c"]
    assert ds.steps == (step,) and ds.notes == ()
    create = make_plan([contrib(greeting="step")], [], State(), project_dir=tmp_path, desired={"c": ds})
    assert (create["c"].action, create["c"].destructive) == ("create", (step,))
    assert create["c"].to_dict()["destructive"] == [step]
    again = plan_after(contrib(greeting="step"), contrib(greeting="step"), tmp_path)
    assert (again["c"].action, again["c"].destructive) == ("no-op", ())
    changed = plan_after(contrib(greeting="one"), contrib(greeting="step"), tmp_path)
    assert (changed["c"].action, changed["c"].destructive) == ("upgrade", (step,))
