"""Plugin API compatibility: old plugins keep working, newer ones are refused clearly.

* Hookspecs only ever **gain** arguments within one plugin API version: an
  implementation may take fewer arguments than its spec (pluggy passes only
  those it names), so a plugin written against an older spec keeps working.
  ``API_SIGNATURES`` records the arguments of every hook as each API version
  shipped them; a hook losing or reordering one fails here.
* A plugin declaring ``FIRESTREAM_PLUGIN_API`` newer than the core's
  ``PLUGIN_API_VERSION`` is recorded as broken with a message saying to
  upgrade firestream-core (``firestream plugins`` lists it, exit 1), and only
  the releases that use its chart types fail, with that message.
* ``firestream plugins --check`` reports every problem of every plugin in
  one run.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import attrs
import pluggy
import pytest

from firestream_core import hookimpl
from firestream_core.cli.main import main
from firestream_core.config.plugin_check import check_plugins
from firestream_core.errors import ConfigError, PluginError
from firestream_core.model import ChartInfo, ChartPayload, ChartType, HelmChart, ValidationResult
from firestream_core.plugin import spec as hookspecs
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.plugin.markers import NAME, PLUGIN_API_VERSION, hookspec
from tests.conftest import chart_plugin_source

API_SIGNATURES: dict[int, dict[str, tuple[str, ...]]] = {
    1: {
        "register_chart_types": ("register",),
        "check_prerequisites": ("chart", "context", "payload"),
        "pre_exec": ("chart", "context", "payload"),
        "exec": ("chart", "context", "payload"),
        "post_exec": ("chart", "context", "payload"),
        "validate": ("chart", "context", "payload"),
        "on_deploy_failure": ("chart", "context", "payload", "stage", "error"),
    },
    2: {
        "register_chart_types": ("register",),
        "contribute_values": ("chart", "context"),
        "check_prerequisites": ("chart", "context", "payload"),
        "pre_exec": ("chart", "context", "payload"),
        "exec": ("chart", "context", "payload"),
        "post_exec": ("chart", "context", "payload"),
        "validate": ("chart", "context", "payload"),
        "on_deploy_failure": ("chart", "context", "payload", "stage", "error"),
    },
    3: {  # the same hooks; DeployContext gained note / refuse / require_breaking_version
        "register_chart_types": ("register",),
        "contribute_values": ("chart", "context"),
        "check_prerequisites": ("chart", "context", "payload"),
        "pre_exec": ("chart", "context", "payload"),
        "exec": ("chart", "context", "payload"),
        "post_exec": ("chart", "context", "payload"),
        "validate": ("chart", "context", "payload"),
        "on_deploy_failure": ("chart", "context", "payload", "stage", "error"),
    },
    4: {  # the same hooks; DeployContext gained exec_step
        "register_chart_types": ("register",),
        "contribute_values": ("chart", "context"),
        "check_prerequisites": ("chart", "context", "payload"),
        "pre_exec": ("chart", "context", "payload"),
        "exec": ("chart", "context", "payload"),
        "post_exec": ("chart", "context", "payload"),
        "validate": ("chart", "context", "payload"),
        "on_deploy_failure": ("chart", "context", "payload", "stage", "error"),
    },
    5: {  # the same hooks; ChartType gained destroy_steps, DeployContext out_of_date and creates_namespace
        "register_chart_types": ("register",),
        "contribute_values": ("chart", "context"),
        "check_prerequisites": ("chart", "context", "payload"),
        "pre_exec": ("chart", "context", "payload"),
        "exec": ("chart", "context", "payload"),
        "post_exec": ("chart", "context", "payload"),
        "validate": ("chart", "context", "payload"),
        "on_deploy_failure": ("chart", "context", "payload", "stage", "error"),
    },
    6: {  # the same hooks; destroy_steps may take a read-only context, DeployContext gained planned_steps
        "register_chart_types": ("register",),
        "contribute_values": ("chart", "context"),
        "check_prerequisites": ("chart", "context", "payload"),
        "pre_exec": ("chart", "context", "payload"),
        "exec": ("chart", "context", "payload"),
        "post_exec": ("chart", "context", "payload"),
        "validate": ("chart", "context", "payload"),
        "on_deploy_failure": ("chart", "context", "payload", "stage", "error"),
    },
}
"""Every hook's arguments as each plugin API version shipped them. Append, never edit."""


def spec_params(hook: str) -> tuple[str, ...]:
    return tuple(inspect.signature(getattr(hookspecs, hook)).parameters)


# -- hookspecs only gain arguments --------------------------------------------------------------


def test_the_declared_api_version_has_recorded_signatures() -> None:
    assert PLUGIN_API_VERSION in API_SIGNATURES, (
        f"PLUGIN_API_VERSION is {PLUGIN_API_VERSION}: record its hook signatures in API_SIGNATURES"
    )
    assert max(API_SIGNATURES) == PLUGIN_API_VERSION


@pytest.mark.parametrize(
    ("version", "hook"),
    [(v, h) for v, hooks in sorted(API_SIGNATURES.items()) for h in hooks],
)
def test_hooks_keep_every_argument_they_ever_had(version: int, hook: str) -> None:
    assert hook in hookspecs.ALL_HOOKS, f"hook '{hook}' of plugin API {version} was removed"
    old = API_SIGNATURES[version][hook]
    now = spec_params(hook)
    assert now[: len(old)] == old, (
        f"{hook}{old} (API {version}) became {hook}{now}: add new arguments after the old ones, "
        "never remove or rename one"
    )


def test_hooks_of_the_current_api_are_exactly_the_recorded_ones() -> None:
    assert {h: spec_params(h) for h in hookspecs.ALL_HOOKS} == API_SIGNATURES[PLUGIN_API_VERSION]


# -- old plugins keep working -------------------------------------------------------------------


@attrs.define
class OldChart(HelmChart):
    chart_type = "old"

    @classmethod
    def default(cls) -> OldChart:
        return cls(ChartInfo(name="old", chart="x/old"))


class OldPlugin:
    """A plugin taking only some of each hook's arguments (any subset, in any position)."""

    firestream_plugin_name = "old"
    FIRESTREAM_PLUGIN_API = 1

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[Any, ...]]] = []

    @hookimpl
    def register_chart_types(self, register):
        register(ChartType(name="old", chart_class=OldChart))

    @hookimpl
    def check_prerequisites(self):
        self.seen.append(("check_prerequisites", ()))
        return ["old problem"]

    @hookimpl
    def pre_exec(self, payload):
        self.seen.append(("pre_exec", (payload,)))
        payload["old"] = True

    @hookimpl
    def validate(self, chart):
        self.seen.append(("validate", (chart,)))
        return [ValidationResult.ok("old_check", chart.name)]

    @hookimpl
    def on_deploy_failure(self, error, chart):
        self.seen.append(("on_deploy_failure", (error, chart)))
        return [f"{chart.name}: {error}"]


def test_a_plugin_taking_fewer_arguments_is_loaded_and_called(no_entry_points: None) -> None:
    old = OldPlugin()
    m = get_plugin_manager(disabled=["defaults"], extra_plugins=[old])
    assert m.broken == [] and m.problems() == []
    chart = OldChart(ChartInfo(name="legacy", chart="x/old"))
    payload = ChartPayload()
    context = object()  # the old plugin never asks for it

    assert m.check_prerequisites(chart, context, payload) == ["old problem"]
    m.pre_exec(chart, context, payload)
    (result,) = m.validate(chart, context, payload)
    error = RuntimeError("boom")
    lines = m.on_deploy_failure(chart, context, payload, "exec", error)

    assert (result.name, result.message) == ("old_check", "legacy")
    assert payload == {"old": True}
    assert lines == ["legacy: boom"]
    assert old.seen == [
        ("check_prerequisites", ()),
        ("pre_exec", (payload,)),
        ("validate", (chart,)),
        ("on_deploy_failure", (error, chart)),
    ]
    assert check_plugins(m) == []


class NextSpecs:
    """The hookspecs as a later core might ship them: ``validate`` gained ``attempt``."""

    @hookspec
    def validate(self, chart, context, payload, attempt):
        """Check that the release works (``attempt`` counts re-validations)."""


def test_a_spec_gaining_an_argument_keeps_older_implementations_working() -> None:
    calls: list[tuple[str, Any]] = []

    class WrittenForApi1:
        @hookimpl
        def validate(self, chart, context, payload):
            calls.append(("api1", chart))
            return [ValidationResult.ok("api1")]

    class TakesOnlyTheChart:
        @hookimpl
        def validate(self, chart):
            calls.append(("chart-only", chart))
            return [ValidationResult.ok("chart_only")]

    class UsesTheNewArgument:
        @hookimpl
        def validate(self, chart, attempt):
            calls.append(("new", attempt))
            return [ValidationResult.ok("new")]

    pm = pluggy.PluginManager(NAME)
    pm.add_hookspecs(NextSpecs)
    for plugin in (WrittenForApi1(), TakesOnlyTheChart(), UsesTheNewArgument()):
        pm.register(plugin)
    pm.check_pending()
    results = pm.hook.validate(chart="c", context=None, payload={}, attempt=3)
    assert sorted(r.name for group in results for r in group) == ["api1", "chart_only", "new"]
    assert sorted(calls) == [("api1", "c"), ("chart-only", "c"), ("new", 3)]


# -- plugins built for a newer core ----------------------------------------------------------------

FUTURE = '''
import attrs
from firestream_core import ChartInfo, ChartType, HelmChart, ValidationResult, hookimpl

FIRESTREAM_PLUGIN_API = {api}


@attrs.define
class FutureChart(HelmChart):
    chart_type = "future"

    @classmethod
    def default(cls):
        return cls(ChartInfo(name="future", chart="x/future"))


@hookimpl
def register_chart_types(register):
    register(ChartType(name="future", chart_class=FutureChart))


@hookimpl
def validate(chart, attempt):  # an argument only a newer core passes
    return [ValidationResult.ok("future")]
'''

UPGRADE = (
    "plugin 'future' (firestream-chart-future 2.0.0) is broken: it needs plugin API 7 but "
    "this firestream-core provides API 6; upgrade firestream-core"
)


def test_a_newer_api_gets_the_upgrade_message_not_a_hookspec_error(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-future", "future", FUTURE.format(api=7), "2.0.0")
    fake_dists.plugin("firestream-chart-demo", "demo", chart_plugin_source())
    m = get_plugin_manager(disabled=["defaults"])
    assert [b.message for b in m.broken] == [UPGRADE]
    assert m.pm.get_plugin("future") is None
    assert m.chart_type("demo").name == "demo"  # the others keep working
    with pytest.raises(PluginError) as exc:
        m.chart_type("future")
    assert str(exc.value) == UPGRADE


def test_without_the_declaration_the_same_plugin_is_a_hookspec_mismatch(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-future", "future", FUTURE.replace(
        "FIRESTREAM_PLUGIN_API = {api}\n", ""), "2.0.0")
    m = get_plugin_manager(disabled=["defaults"])
    ((broken),) = m.broken
    assert broken.cause == (
        "hook does not match the hookspec: hook 'validate' is defined as validate(chart, attempt) "
        "and takes 'attempt', which the hook does not pass; validate passes chart, context, "
        "payload (an implementation may take fewer of them, by these names)"
    )
    assert "attempt" in broken.traceback


@pytest.mark.parametrize("api", ["0", "1"])
def test_an_older_or_equal_api_is_accepted(fake_dists, api: str) -> None:
    fake_dists.plugin("firestream-chart-demo", "demo", chart_plugin_source().replace(
        "FIRESTREAM_PLUGIN_API = 1", f"FIRESTREAM_PLUGIN_API = {api}"))
    m = get_plugin_manager(disabled=["defaults"])
    assert m.broken == [] and "demo" in m.chart_types


@pytest.mark.parametrize("api", ['"2"', "True", "1.5"])
def test_a_declaration_that_is_not_an_integer_is_named(fake_dists, api: str) -> None:
    fake_dists.plugin("firestream-chart-demo", "demo", chart_plugin_source().replace(
        "FIRESTREAM_PLUGIN_API = 1", f"FIRESTREAM_PLUGIN_API = {api}"))
    m = get_plugin_manager(disabled=["defaults"])
    assert [b.cause for b in m.broken] == ["FIRESTREAM_PLUGIN_API must be an integer"]


def test_a_plugin_object_declaring_a_newer_api_is_refused(no_entry_points: None) -> None:
    class Future(OldPlugin):
        firestream_plugin_name = "future-object"
        FIRESTREAM_PLUGIN_API = PLUGIN_API_VERSION + 1

    m = get_plugin_manager(disabled=["defaults"], extra_plugins=[Future()])
    assert [(b.name, b.cause) for b in m.broken] == [(
        "future-object",
        f"it needs plugin API {PLUGIN_API_VERSION + 1} but this firestream-core provides "
        f"API {PLUGIN_API_VERSION}; upgrade firestream-core",
    )]
    assert "old" not in m.chart_types


def test_firestream_plugins_lists_the_too_new_plugin_and_fails(fake_dists, capsys) -> None:
    fake_dists.plugin("firestream-chart-future", "future", FUTURE.format(api=7), "2.0.0")
    fake_dists.plugin("firestream-chart-demo", "demo", chart_plugin_source())
    assert main(["plugins", "--disable-plugin", "defaults"]) == 1
    out = capsys.readouterr().out
    assert (
        "broken plugins:\n  'future' (firestream-chart-future 2.0.0): it needs plugin API 7 but "
        "this firestream-core provides API 6; upgrade firestream-core\n"
    ) in out
    assert main(["plugins", "--json", "--disable-plugin", "defaults"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in doc["plugins"]] == ["generic", "chart-methods", "demo"]
    assert doc["problems"] == [UPGRADE]


def test_only_the_releases_of_a_too_new_plugin_fail(fake_dists, write_config, capsys) -> None:
    fake_dists.plugin("firestream-chart-future", "future", FUTURE.format(api=7), "2.0.0")
    path = write_config('''
        [repositories]
        repo = "https://charts.example.com"

        [[deployments.future]]
        name = "f"

        [[deployments.generic]]
        name = "g"
        chart = "repo/g"
    ''')
    assert main(["validate", "-f", str(path), "--disable-plugin", "defaults"]) == 1
    err = capsys.readouterr().err
    assert f"deployments.future[0]: {UPGRADE}" in err
    assert "deployments.generic" not in err

    from firestream_core.config.build import build_charts
    from firestream_core.config.load import load_config

    m = get_plugin_manager(disabled=["defaults"])
    with pytest.raises(ConfigError) as exc:
        build_charts(load_config(path), m)
    assert exc.value.problems == [f"deployments.future[0]: {UPGRADE}"]


# -- plugins --check: every problem at once ---------------------------------------------------------

FORGOT_CHART_TYPE = '''
import attrs
from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl


@attrs.define
class ForgotChart(HelmChart):  # no chart_type = "forgot": ChartType sets it
    @classmethod
    def default(cls):
        return cls(ChartInfo(name="forgot", chart="x/forgot"))


@attrs.define
class Elsewhere(HelmChart):  # never registered: keeps "generic"
    pass


@hookimpl
def register_chart_types(register):
    register(ChartType(name="forgot", chart_class=ForgotChart, presets={
        "elsewhere": lambda: Elsewhere(ChartInfo(name="forgot", chart="x/forgot"))}))


@hookimpl
def validate(chart):
    return []
'''

WRONG_OPTIONS = '''
import attrs
from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl


@attrs.frozen
class Options:
    replicas: int = 1


@attrs.frozen
class Other:
    replicas: int = 1


@attrs.define
class OptsChart(HelmChart):
    chart_type = "opts"

    @classmethod
    def default(cls):
        return cls(ChartInfo(name="opts", chart="x/opts"), options=Other())

    @classmethod
    def big(cls):
        return cls(ChartInfo(name="opts", chart="x/opts"), options=Options(replicas="many"))


@hookimpl
def register_chart_types(register):
    register(ChartType(name="opts", chart_class=OptsChart, options=Options,
                       presets={"big": OptsChart.big}))
'''

EXTRA_ARGUMENT = '''
from firestream_core import hookimpl


@hookimpl
def post_exec(chart, cluster):
    pass
'''

TYPO = '''
from firestream_core import hookimpl


@hookimpl
def post_exce(chart):
    pass
'''


@pytest.fixture
def many_problems(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-demo", "demo", chart_plugin_source())
    fake_dists.plugin("firestream-chart-forgot", "forgot", FORGOT_CHART_TYPE)
    fake_dists.plugin("firestream-chart-opts", "opts", WRONG_OPTIONS)
    fake_dists.plugin("firestream-chart-extra", "extra", EXTRA_ARGUMENT)
    fake_dists.plugin("firestream-chart-typo", "typo", TYPO)
    fake_dists.plugin("firestream-chart-future", "future", FUTURE.format(api=7), "2.0.0")


def test_check_reports_every_problem_of_every_plugin_at_once(many_problems, capsys) -> None:
    assert main(["plugins", "--check", "--json", "--disable-plugin", "defaults"]) == 1
    doc = json.loads(capsys.readouterr().out)
    problems = doc["problems"]
    forgot = "chart type 'forgot' of plugin 'forgot' (firestream-chart-forgot 1.0.0)"
    opts = "chart type 'opts' of plugin 'opts' (firestream-chart-opts 1.0.0)"
    loading = [p for p in problems if p.startswith("plugin ")]
    assert len(loading) == 3, problems
    assert loading[0].startswith(
        "plugin 'extra' (firestream-chart-extra 1.0.0) is broken: hook does not match the "
        "hookspec: hook 'post_exec' is defined as "
    )
    assert loading[1] == UPGRADE
    assert loading[2].startswith(
        "plugin 'typo' (firestream-chart-typo 1.0.0) is broken: unknown hook: "
        "PluginValidationError: unknown hook 'post_exce' in plugin "
    )
    assert f"{forgot}: preset 'elsewhere': builds a Elsewhere whose chart_type is 'generic', so " \
        "this plugin's hooks would never be called for its releases: build a ForgotChart (the " \
        "class registered as 'forgot')" in problems
    assert f"{opts}: defaults: options is Other, expected Options" in problems
    assert any(p.startswith(f"{opts}: preset 'big': options.replicas: ") for p in problems), problems
    assert len(problems) == 6, problems
    assert not any("'demo'" in p for p in problems)
    assert [p["name"] for p in doc["plugins"]] == ["generic", "chart-methods", "demo", "forgot", "opts"]


def test_without_check_only_loading_problems_are_reported(many_problems, capsys) -> None:
    assert main(["plugins", "--json", "--disable-plugin", "defaults"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [p.split(" ")[1] for p in problems] == ["'extra'", "'future'", "'typo'"]


def test_check_prints_every_problem_in_the_table_too(many_problems, capsys) -> None:
    assert main(["plugins", "--check", "--disable-plugin", "defaults"]) == 1
    out = capsys.readouterr().out
    assert "broken plugins:\n" in out and "\nproblems:\n" in out
    assert out.count("\n  'extra'") + out.count("\n  'future'") + out.count("\n  'typo'") == 3
    assert "chart type 'forgot'" in out and "options is Other, expected Options" in out


def test_a_chart_class_shared_by_two_chart_types_of_one_plugin_is_fine(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-pair", "pair", '''
import attrs
from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl


@attrs.define
class PairChart(HelmChart):
    chart_type = "left"

    @classmethod
    def default(cls):
        return cls(ChartInfo(name="pair", chart="x/pair"))


@hookimpl
def register_chart_types(register):
    register(ChartType(name="left", chart_class=PairChart))
    register(ChartType(name="right", chart_class=PairChart))
''')
    assert check_plugins(get_plugin_manager(disabled=["defaults"])) == []

