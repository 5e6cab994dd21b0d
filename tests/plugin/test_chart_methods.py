"""A chart class's own lifecycle methods (the seed's ``impl HelmChart for MyCustomChart``).

Unit tests on a manager without the defaults, then the real lifecycle with the
real helm 3 and helm 4 on the emulator.
"""

from __future__ import annotations

import attrs
import pytest

from firestream_core.config.plugin_check import check_plugins
from firestream_core.errors import ConfigError
from firestream_core.model import (
    ChartInfo,
    ChartPayload,
    ChartType,
    ExecOutcome,
    HelmChart,
    ValidationResult,
    ValidationStatus,
)
from firestream_core.plugin.chart_methods import (
    STAGE_ARGUMENTS,
    chart_method_problems,
    misnamed_chart_methods,
)
from firestream_core.plugin.markers import hookimpl
from firestream_core.plugin.spec import ALL_HOOKS
from firestream_core.project import Project


@pytest.fixture(autouse=True)
def _no_disable_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIRESTREAM_DISABLE_PLUGINS", raising=False)


def manager_with(*plugins: object):
    from firestream_core.plugin.manager import get_plugin_manager

    return get_plugin_manager(disabled=["defaults"], load_entry_points=False, extra_plugins=plugins)


@attrs.define
class Recorded(HelmChart):
    calls: list[str] = attrs.field(factory=list)

    def check_prerequisites(self, context, payload):
        self.calls.append("chart.check_prerequisites")
        return ["from the chart"]

    def pre_exec(self, payload):  # fewer arguments, by the hook's names
        payload.section("recorded")["pre_exec"] = True
        self.calls.append("chart.pre_exec")

    def validate(self, context, payload):
        self.calls.append("chart.validate")
        return [ValidationResult.ok("chart", "seen pre_exec", seen=payload.section("recorded")["pre_exec"])]

    def on_deploy_failure(self, context, payload, stage, error):
        return [f"chart saw {stage}: {error}"]


RECORDED = ChartType(name="recorded", chart_class=Recorded)


class Owner:
    """The plugin registering ``recorded``; its hookimpls run after the chart's methods."""

    firestream_plugin_name = "owner"

    @hookimpl
    def register_chart_types(self, register):
        register(RECORDED)

    @hookimpl
    def check_prerequisites(self, chart):
        chart.calls.append("plugin.check_prerequisites")
        return ["from the plugin"]

    @hookimpl
    def pre_exec(self, chart):
        chart.calls.append("plugin.pre_exec")

    @hookimpl
    def exec(self, chart):
        chart.calls.append("plugin.exec")
        return ExecOutcome("deployed", 1, "by the plugin")

    @hookimpl
    def validate(self, chart):
        chart.calls.append("plugin.validate")
        return [ValidationResult.ok("plugin")]

    @hookimpl
    def on_deploy_failure(self, chart):
        return ["plugin lines"]


def test_chart_type_sets_the_class_type_name_once() -> None:
    assert Recorded.chart_type == "recorded"  # set by ChartType(name="recorded", ...) above

    @attrs.define
    class Fresh(HelmChart):
        pass

    assert Fresh.chart_type == "generic"
    ChartType(name="fresh", chart_class=Fresh)
    assert Fresh(ChartInfo(name="x", chart="r/x")).chart_type == "fresh"


def test_chart_methods_run_before_the_plugins_with_the_same_results_contract() -> None:
    m = manager_with(Owner())
    chart = Recorded(ChartInfo(name="app", chart="r/app"))
    payload = ChartPayload()
    assert m.check_prerequisites(chart, object(), payload) == ["from the chart", "from the plugin"]
    m.pre_exec(chart, object(), payload)
    assert payload == {"recorded": {"pre_exec": True}}
    assert m.exec(chart, object(), payload) == ExecOutcome("deployed", 1, "by the plugin")
    results = m.validate(chart, object(), payload)
    assert [(r.name, r.status, dict(r.details)) for r in results] == [
        ("chart", ValidationStatus.PASSED, {"seen": True}),
        ("plugin", ValidationStatus.PASSED, {}),
    ]
    assert m.on_deploy_failure(chart, object(), payload, "exec", RuntimeError("boom")) == [
        "chart saw exec: boom",
        "plugin lines",
    ]
    assert chart.calls == [
        "chart.check_prerequisites", "plugin.check_prerequisites",
        "chart.pre_exec", "plugin.pre_exec",
        "plugin.exec",
        "chart.validate", "plugin.validate",
    ]


def test_a_chart_exec_returning_an_outcome_replaces_the_plugins_exec() -> None:
    @attrs.define
    class Own(Recorded):
        def exec(self, context, payload):
            self.calls.append("chart.exec")
            return ExecOutcome("deployed", 7, "by the chart")

    m = manager_with(Owner())
    chart = Own(ChartInfo(name="app", chart="r/app"))
    assert m.exec(chart, object(), ChartPayload()) == ExecOutcome("deployed", 7, "by the chart")
    assert chart.calls == ["chart.exec"]


def test_a_class_that_is_never_registered_is_generic_and_its_methods_still_run() -> None:
    @attrs.define
    class Loose(HelmChart):
        def validate(self, context, payload):
            return [ValidationResult.fail("loose", "down")]

    m = manager_with()
    chart = Loose(ChartInfo(name="app", chart="r/app"))
    assert chart.chart_type == "generic"
    assert [r.name for r in m.validate(chart, object(), ChartPayload())] == ["loose"]


def test_a_method_taking_an_argument_its_stage_does_not_pass_is_a_load_error() -> None:
    @attrs.define
    class Bad(HelmChart):
        def validate(self, ctx):
            return []

    class Plugin:
        firestream_plugin_name = "bad"

        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="bad", chart_class=Bad))

    m = manager_with(Plugin())
    (broken,) = m.broken
    assert broken.message == (
        "plugin 'bad' is broken: register_chart_types failed: TypeError: chart type 'bad': "
        "Bad.validate(self, ctx) takes 'ctx', which the stage does not pass; validate passes "
        "context, payload"
    )
    # such a class handed to a project in code: one readable ConfigError
    @attrs.define
    class Loose(HelmChart):
        def validate(self, ctx):
            return []

    with pytest.raises(ConfigError) as exc:
        Project.from_charts([Loose(ChartInfo(name="app", chart="r/app"))], manager=manager_with())
    assert exc.value.problems == [
        "chart 'app' (Loose): Loose.validate(self, ctx) takes 'ctx', which the stage does not "
        "pass; validate passes context, payload"
    ]


def test_a_class_naming_a_type_its_plugin_does_not_register_is_a_load_error() -> None:
    @attrs.define
    class Wrong(HelmChart):
        chart_type = "generic"

    class Plugin:
        firestream_plugin_name = "wrong"

        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="wrong", chart_class=Wrong))

    m = manager_with(Plugin())
    (broken,) = m.broken
    assert broken.cause == (
        "register_chart_types failed: ValueError: chart type 'wrong': its chart class Wrong says "
        "chart_type = 'generic', which this plugin does not register, so its hooks would never "
        "be called for its releases; remove that line (ChartType(name=...) sets it)"
    )
    assert "wrong" not in m.chart_types


def test_a_hook_with_a_wrong_argument_names_it_and_the_expected_ones() -> None:
    class Plugin:
        firestream_plugin_name = "ctx"

        @hookimpl
        def validate(self, chart, ctx):
            return []

    (broken,) = manager_with(Plugin()).broken
    assert broken.cause == (
        "hook does not match the hookspec: hook 'validate' is defined as validate(chart, ctx) "
        "and takes 'ctx', which the hook does not pass; validate passes chart, context, payload "
        "(an implementation may take fewer of them, by these names)"
    )


def test_plugins_check_names_a_method_that_matches_no_stage() -> None:
    @attrs.define
    class Typo(HelmChart):
        def validat(self, context, payload):
            return []

        def helper(self, context):  # an ordinary method: not flagged
            return None

        @classmethod
        def default(cls):
            return cls(ChartInfo(name="typo", chart="r/typo"))

    class Plugin:
        firestream_plugin_name = "typo"

        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="typo", chart_class=Typo))

    assert misnamed_chart_methods(Typo) == [
        "Typo.validat matches no lifecycle stage and is never called; did you mean validate? "
        "(stages: contribute_values, check_prerequisites, pre_exec, exec, post_exec, validate, on_deploy_failure)"
    ]
    assert check_plugins(manager_with(Plugin())) == [
        f"chart type 'typo' of plugin 'typo': {misnamed_chart_methods(Typo)[0]}"
    ]
    assert chart_method_problems(Typo) == []


def test_stage_arguments_are_the_hooks_arguments_but_chart() -> None:
    from firestream_core.plugin import spec

    for hook in ALL_HOOKS[1:]:
        import inspect

        params = list(inspect.signature(getattr(spec, hook)).parameters)
        assert params[0] == "chart"
        assert STAGE_ARGUMENTS[hook] == tuple(params[1:])


def test_payload_sections_keep_plugins_apart() -> None:
    payload = ChartPayload()
    payload.section("a")["port"] = 1
    payload.section("b")["port"] = 2
    assert payload == {"a": {"port": 1}, "b": {"port": 2}}
    payload["c"] = 3
    with pytest.raises(TypeError, match="payload key 'c' holds a int, not a plugin's section"):
        payload.section("c")


# -- the real lifecycle: helm 3 and helm 4 on the emulator -----------------------------------


@attrs.define
class Custom(HelmChart):
    """Every stage overridden; records what it saw in its payload section."""

    def check_prerequisites(self, context, payload):
        payload.section("custom")["order"] = ["check_prerequisites"]
        return []

    def pre_exec(self, context, payload):
        payload.section("custom")["order"].append("pre_exec")

    def post_exec(self, context, payload):
        mine = payload.section("custom")
        mine["order"].append("post_exec")
        mine["revision"] = context.lifecycle.executed.revision  # what exec did: the runner's record

    def validate(self, context, payload):
        payload.section("custom")["order"].append("validate")
        ns = self.get_chart_info().namespace_name
        found = context.kubectl.get("configmap", namespace=ns)
        names = [o["metadata"]["name"] for o in (found or {}).get("items", [])]
        return [ValidationResult.ok("configmap", f"{len(names)} configmaps")
                if names else ValidationResult.fail("configmap", "none")]

    def on_deploy_failure(self, context, payload, stage, error):
        return [f"custom: {stage} failed"]


@pytest.mark.helm
def test_chart_methods_with_the_real_helm(kube, helm_bin, run_lifecycle) -> None:
    chart = Custom(ChartInfo(name="custom", chart="tiny-app", repository="fixtures",
                             version="0.1.0", namespace=kube.namespace, timeout="60s"))
    result = run_lifecycle(chart, helm_bin)
    assert result.ok, result.error
    assert result.payload["custom"] == {
        "order": ["check_prerequisites", "pre_exec", "post_exec", "validate"],
        "revision": 1,
    }
    # the chart's result first, then the built-in defaults' (trylast)
    assert [v.name for v in result.validations] == ["configmap", "release_exists", "pods_running"]


@pytest.mark.helm
def test_a_failing_chart_method_fails_its_stage_and_collects_debug(kube, helm_bin, run_lifecycle) -> None:
    @attrs.define
    class Failing(Custom):
        def post_exec(self, context, payload):
            raise RuntimeError("not today")

    chart = Failing(ChartInfo(name="failing", chart="tiny-app", repository="fixtures",
                              version="0.1.0", namespace=kube.namespace, timeout="60s"))
    result = run_lifecycle(chart, helm_bin)
    assert not result.ok
    assert result.stage_failed == "post_exec"
    assert result.error == "release 'failing' failed at post_exec: chart class Failing: RuntimeError: not today"
    assert result.debug[0] == "custom: post_exec failed"  # before the defaults' lines


def test_a_chart_class_contributes_values_to_the_desired_state_before_the_plugins(tmp_path) -> None:
    """``contribute_values`` as a chart method: part of what plan and template compute; a
    plugin's hookimpl is called after it and wins on the same key (later wins)."""
    from firestream_core.deploy.desired import desired_states
    from firestream_core.model import ChartInfo, ChartType, HelmChart
    from firestream_core.plugin.manager import get_plugin_manager
    from firestream_core.plugin.markers import hookimpl

    class Contributing(HelmChart):
        def contribute_values(self, context):
            assert context.change is None  # the action is not decided yet
            return {"message": "from the class", "replicas": 2}

    class Plugin:
        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="contributing", chart_class=Contributing))

        @hookimpl
        def contribute_values(self, chart, context):
            return {"message": "from the plugin"}

    manager = get_plugin_manager(load_entry_points=False, extra_plugins=[Plugin()])
    chart = Contributing(ChartInfo(name="web", chart="tiny-app", version="0.1.0"))
    state = desired_states([chart], manager=manager, project_dir=tmp_path)["web"]
    assert state.chart.chart_info.plugin_values == {"message": "from the plugin", "replicas": 2}
