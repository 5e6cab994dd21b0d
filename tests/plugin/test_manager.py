"""The plugin manager: load order, broken plugins, disable list, chart-type ownership."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from firestream_core import hookimpl
from firestream_core.config.plugin_check import check_plugins
from firestream_core.errors import PluginError, UnknownChartTypeError
from firestream_core.model import (
    ChartInfo,
    ChartPayload,
    ChartType,
    ExecOutcome,
    HelmChart,
    ValidationResult,
)
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.plugin.spec import ALL_HOOKS, STAGES
from tests.conftest import chart_plugin_source

GOOD = chart_plugin_source("demo", "DemoChart")


def broken_names(manager) -> list[tuple[str, str | None, str | None, str]]:
    return [(b.name, b.distribution, b.version, b.cause) for b in manager.broken]


# -- loading and broken plugins ------------------------------------------------------------


def test_entry_point_plugin_is_loaded_with_its_distribution(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-demo", "demo", GOOD, "2.1.0")
    m = get_plugin_manager(disabled=["defaults"])
    assert m.broken == []
    reg = m.chart_type("demo")
    assert (reg.plugin_name, reg.distribution, reg.version) == ("demo", "firestream-chart-demo", "2.1.0")
    infos = {i.name: i for i in m.plugin_infos()}
    assert list(infos) == ["generic", "chart-methods", "demo"]  # built-ins first, then entry points
    assert infos["demo"].to_dict() == {
        "name": "demo",
        "distribution": "firestream-chart-demo",
        "version": "2.1.0",
        "chart_types": ["demo"],
        "hooks": [],
        "builtin": False,
    }
    assert infos["generic"].builtin and infos["generic"].distribution == "firestream-core"


def test_import_error_is_recorded_and_other_plugins_keep_working(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-kafka", "kafka", "raise RuntimeError('kaboom at import')\n", "0.3.0")
    fake_dists.plugin("firestream-chart-demo", "demo", GOOD)
    m = get_plugin_manager(disabled=["defaults"])
    assert broken_names(m) == [
        ("kafka", "firestream-chart-kafka", "0.3.0", "import failed: RuntimeError: kaboom at import")
    ]
    assert "kaboom at import" in m.broken[0].traceback and "Traceback" in m.broken[0].traceback
    assert m.chart_type("demo").name == "demo"
    with pytest.raises(PluginError) as exc:
        m.chart_type("kafka")
    assert str(exc.value) == (
        "plugin 'kafka' (firestream-chart-kafka 0.3.0) is broken: import failed: "
        "RuntimeError: kaboom at import"
    )


def test_hookimpl_not_matching_its_spec_is_broken(fake_dists) -> None:
    fake_dists.plugin(
        "firestream-chart-bad",
        "bad",
        """
        from firestream_core import hookimpl

        @hookimpl
        def pre_exec(chart, context, payload, cluster):
            pass
        """,
    )
    m = get_plugin_manager(disabled=["defaults"])
    ((name, dist, _, cause),) = broken_names(m)
    assert (name, dist) == ("bad", "firestream-chart-bad")
    assert cause == (
        "hook does not match the hookspec: hook 'pre_exec' is defined as "
        "pre_exec(chart, context, payload, cluster) and takes 'cluster', which the hook does not "
        "pass; pre_exec passes chart, context, payload (an implementation may take fewer of them, "
        "by these names)"
    )
    assert m.pm.get_plugin("bad") is None


def test_unknown_hook_is_caught_by_check_pending(fake_dists) -> None:
    src = GOOD + "\n\n@hookimpl\ndef pre_exce(chart):\n    pass\n"
    fake_dists.plugin("firestream-chart-typo", "typo", src)
    m = get_plugin_manager(disabled=["defaults"])
    ((name, _, _, cause),) = broken_names(m)
    assert name == "typo"
    assert cause.startswith("unknown hook: PluginValidationError: unknown hook 'pre_exce' in plugin")
    assert m.pm.get_plugin("typo") is None
    # the chart type it had registered is gone with it and named as broken
    assert "demo" not in m.chart_types
    with pytest.raises(PluginError, match="plugin 'typo' .* is broken: unknown hook"):
        m.chart_type("demo")


def test_plugin_for_a_newer_api_is_refused_with_a_clear_message(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-future", "future", GOOD.replace("FIRESTREAM_PLUGIN_API = 1", "FIRESTREAM_PLUGIN_API = 99"))
    m = get_plugin_manager(disabled=["defaults"])
    assert broken_names(m) == [
        (
            "future",
            "firestream-chart-future",
            "1.0.0",
            "it needs plugin API 99 but this firestream-core provides API 6; upgrade firestream-core",
        )
    ]
    assert m.chart_types.keys() == {"generic"}


def test_same_chart_type_from_two_distributions_names_both(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-pg", "pg", chart_plugin_source("postgresql", "A"), "1.0.0")
    fake_dists.plugin("acme-postgres", "postgres", chart_plugin_source("postgresql", "B"), "3.2.0")
    m = get_plugin_manager(disabled=["defaults"])
    with pytest.raises(PluginError) as exc:
        m.chart_type("postgresql")
    assert str(exc.value) == (
        "chart type 'postgresql' is registered by more than one plugin: "
        "'pg' (firestream-chart-pg 1.0.0) and 'postgres' (acme-postgres 3.2.0)"
    )
    assert m.problems() == [str(exc.value)]


def test_registering_a_builtin_chart_type_again_is_a_clash(fake_dists) -> None:
    fake_dists.plugin("my-generic", "mygeneric", chart_plugin_source("generic", "G"))
    m = get_plugin_manager(disabled=["defaults"])
    with pytest.raises(PluginError, match="'generic' \\(firestream-core .*\\) and 'mygeneric' \\(my-generic 1.0.0\\)"):
        m.chart_type("generic")


def test_a_plugin_calling_sys_exit_is_broken_not_the_end_of_firestream(fake_dists) -> None:
    """``sys.exit("install X first")`` at import or in register_chart_types made every command
    (``firestream plugins`` included) exit silently with the plugin's code."""
    fake_dists.plugin("firestream-chart-quits", "quits", "import sys\nsys.exit('install libfoo first')\n")
    fake_dists.plugin("firestream-chart-quits2", "quits2", """
        import sys
        from firestream_core import hookimpl

        @hookimpl
        def register_chart_types(register):
            sys.exit(3)
        """)
    fake_dists.plugin("firestream-chart-demo", "demo", GOOD)
    m = get_plugin_manager(disabled=["defaults"])
    assert [(b.name, b.cause) for b in m.broken] == [
        ("quits", "import failed: SystemExit: install libfoo first"),
        ("quits2", "register_chart_types failed: SystemExit: 3"),
    ]
    assert m.chart_type("demo").name == "demo"


def test_an_entry_point_naming_something_with_no_hook_is_broken_not_a_silent_generic_chart(
        fake_dists, tmp_path) -> None:
    """An entry point naming the wrong target (the ChartType, the chart module) registered a plugin
    with no hook: its chart type was unknown, so ``[[deployments.demo]]`` with a ``path`` was
    planned and deployed as a generic chart, none of the plugin's hooks run, and
    ``plugins --check`` said "no problems"."""
    from firestream_core.config.load import load_config
    from firestream_core.errors import ConfigError

    mod = fake_dists.module(GOOD)
    fake_dists.dist("firestream-chart-demo", "1.0.0", {"demo": f"{mod}:DemoChart"})
    fake_dists.dist("firestream-chart-other", "1.0.0", {"other": "textwrap"})
    m = get_plugin_manager(disabled=["defaults"])
    assert broken_names(m) == [
        ("demo", "firestream-chart-demo", "1.0.0",
         f"its entry point '{mod}:DemoChart' names a type, which has no @hookimpl function "
         "(register_chart_types, a stage): it would register no chart type and run no hook; "
         "name the plugin's module, where the hooks are"),
        ("other", "firestream-chart-other", "1.0.0",
         "its entry point 'textwrap' names module 'textwrap', which has no @hookimpl function "
         "(register_chart_types, a stage): it would register no chart type and run no hook; "
         "name the plugin's module, where the hooks are"),
    ]
    assert "demo" not in m.chart_types
    (tmp_path / "charts" / "demo").mkdir(parents=True)
    (tmp_path / "charts" / "demo" / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (tmp_path / "firestream.toml").write_text('[[deployments.demo]]\nname = "d"\npath = "charts/demo"\n')
    with pytest.raises(ConfigError, match=r"deployments\.demo\[0\]: plugin 'demo' \(firestream-chart-demo "
                       r"1\.0\.0\) is broken: its entry point"):
        load_config(tmp_path / "firestream.toml", m)
    assert any("plugin 'demo'" in p and "no @hookimpl function" in p for p in check_plugins(m))


def test_register_chart_types_returning_its_chart_types_is_broken_not_silently_empty(fake_dists) -> None:
    """``return [ChartType(...)]`` instead of ``register(...)`` registered nothing: the chart type
    was unknown, and a ``[[deployments.<it>]]`` with a ``path`` deployed as a generic chart."""
    fake_dists.plugin("firestream-chart-returns", "returns", """
        from firestream_core import ChartType, HelmChart, hookimpl

        class ReturnsChart(HelmChart):
            pass

        @hookimpl
        def register_chart_types(register):
            return [ChartType(name="returns", chart_class=ReturnsChart)]
        """)
    m = get_plugin_manager(disabled=["defaults"])
    assert [(b.name, b.cause) for b in m.broken] == [
        ("returns", "register_chart_types failed: TypeError: register_chart_types returned a list; it "
                    "returns nothing: call register(chart_type) for each chart type"),
    ]
    with pytest.raises(PluginError, match="plugin 'returns'"):
        m.chart_type("returns")


def test_failing_register_chart_types_is_broken(fake_dists) -> None:
    fake_dists.plugin(
        "bad-names",
        "badname",
        """
        from firestream_core import ChartType, HelmChart, hookimpl

        @hookimpl
        def register_chart_types(register):
            register(ChartType(name="Bad Name", chart_class=HelmChart))
        """,
    )
    fake_dists.plugin(
        "not-a-type",
        "notatype",
        """
        from firestream_core import hookimpl

        @hookimpl
        def register_chart_types(register):
            register({"name": "x"})
        """,
    )
    m = get_plugin_manager(disabled=["defaults"])
    assert [(b.name, b.cause) for b in m.broken] == [
        (
            "badname",
            "register_chart_types failed: ValueError: chart type name 'Bad Name' is invalid: "
            "use lower-case letters, digits, '-' and '_'",
        ),
        (
            "notatype",
            "register_chart_types failed: TypeError: register() takes a firestream_core.ChartType, got dict",
        ),
    ]
    assert m.pm.get_plugin("badname") is None


def test_a_chart_type_with_wrongly_typed_fields_is_broken_naming_the_plugin_and_fields(fake_dists) -> None:
    """``repositories={"x": 5}`` was accepted and failed later, in a release's helm call;
    now the plugin is broken when it registers, and a release of its type names it."""
    fake_dists.plugin("firestream-chart-typos", "typos", """
        from firestream_core import ChartType, HelmChart, hookimpl

        class Web(HelmChart):
            pass

        @hookimpl
        def register_chart_types(register):
            register(ChartType(name="web", chart_class=Web, repositories={"x": 5}, presets={"dev": 3},
                               options={"a": 1}, description=7, destructive_steps="no",
                               destroy_steps=["delete it"]))
        """)
    fake_dists.plugin("firestream-chart-demo", "demo", GOOD)
    m = get_plugin_manager(disabled=["defaults"])
    assert [(b.name, b.cause) for b in m.broken] == [(
        "typos",
        "register_chart_types failed: TypeError: chart type 'web': presets['dev'] must be a callable "
        "returning a HelmChart, got an int; options must be an attrs class or None, got a dict; "
        "repositories['x'] must be a URL string, got an int; description must be a str, got an int; "
        "destructive_steps must be a callable or None, got a str; destroy_steps must be a callable or None, "
        "got a list",
    )]
    with pytest.raises(PluginError, match="^plugin 'typos' .*is broken: .*repositories\\['x'\\]"):
        m.chart_type("web")
    assert m.chart_type("demo").name == "demo"


def test_a_chart_type_default_repository_with_credentials_is_broken_not_sent_to_helm(fake_dists) -> None:
    """``repositories={"s": "https://user:pw@host/charts"}`` passed validate and apply ran
    ``helm repo add s https://user:pw@host/charts``: the password on a child's command line."""
    fake_dists.plugin("firestream-chart-leaky", "leaky", """
        from firestream_core import ChartType, HelmChart, hookimpl

        class Web(HelmChart):
            pass

        @hookimpl
        def register_chart_types(register):
            register(ChartType(name="web", chart_class=Web,
                               repositories={"s": "https://user:s3cretpw@charts.example.com/x"}))
        """)
    m = get_plugin_manager(disabled=["defaults"])
    ((name, cause),) = [(b.name, b.cause) for b in m.broken]
    assert name == "leaky" and "s3cretpw" not in cause
    assert cause.startswith("register_chart_types failed: TypeError: chart type 'web': repositories['s'] "
                            "must not hold credentials")


def test_two_entry_points_with_one_name(fake_dists) -> None:
    fake_dists.plugin("dist-a", "same", GOOD)
    fake_dists.plugin("dist-b", "same", chart_plugin_source("other", "O"))
    m = get_plugin_manager(disabled=["defaults"])
    assert [(b.name, b.distribution, b.cause) for b in m.broken] == [
        ("same", "dist-b", "the plugin name is already used by 'same' (dist-a 1.0.0)")
    ]


def test_unknown_chart_type_lists_installed_ones(manager) -> None:
    with pytest.raises(UnknownChartTypeError) as exc:
        manager.chart_type("nope")
    assert str(exc.value) == "unknown chart type 'nope': no installed plugin provides it (installed chart types: generic)"


# -- disable list ------------------------------------------------------------------------------


def test_disable_list_from_env_and_argument_blocks_before_loading(fake_dists, monkeypatch) -> None:
    fake_dists.plugin("dist-a", "alpha", chart_plugin_source("alpha", "A"))
    fake_dists.plugin("dist-b", "beta", "raise RuntimeError('must never be imported')\n")
    fake_dists.plugin("dist-c", "gamma", chart_plugin_source("gamma", "C"))
    monkeypatch.setenv("FIRESTREAM_DISABLE_PLUGINS", " beta , ,gamma")
    m = get_plugin_manager(disabled=["defaults", "alpha"])
    assert m.broken == []  # beta was blocked before its import could fail
    assert set(m.chart_types) == {"generic"}
    assert m.disabled == ["beta", "gamma", "defaults", "alpha"]
    with pytest.raises(PluginError, match="chart type 'alpha' is provided by a disabled plugin"):
        m.chart_type("alpha")


def test_builtin_generic_can_be_disabled(no_entry_points) -> None:
    m = get_plugin_manager(disabled=["defaults", "generic", "chart-methods"])
    assert m.chart_types == {}
    assert [i.name for i in m.plugin_infos()] == []


def test_entry_points_can_be_skipped(fake_dists) -> None:
    fake_dists.plugin("dist-a", "alpha", chart_plugin_source("alpha", "A"))
    m = get_plugin_manager(disabled=["defaults"], load_entry_points=False)
    assert set(m.chart_types) == {"generic"}


# -- ownership: which implementations run for which chart ---------------------------------------


class Recorder:
    """Collects (plugin, hook, release) for every call, in call order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []


def make_chart_plugin(rec: Recorder, ctype: str, *, exec_result: bool = False) -> Any:
    @attrs.define
    class Chart(HelmChart):
        chart_type = ctype

    class Plugin:
        firestream_plugin_name = f"plugin-{ctype}"
        chart_class = Chart

        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name=ctype, chart_class=Chart))

        @hookimpl
        def check_prerequisites(self, chart):
            rec.calls.append((ctype, "check_prerequisites", chart.name))
            return [f"{ctype} problem for {chart.name}"]

        @hookimpl
        def pre_exec(self, chart, payload):
            rec.calls.append((ctype, "pre_exec", chart.name))
            payload["seen_by"] = ctype

        @hookimpl
        def exec(self, chart, payload):
            rec.calls.append((ctype, "exec", chart.name))
            return ExecOutcome("deployed", 7, payload["seen_by"]) if exec_result else None

        @hookimpl
        def post_exec(self, chart):
            rec.calls.append((ctype, "post_exec", chart.name))

        @hookimpl
        def validate(self, chart):
            rec.calls.append((ctype, "validate", chart.name))
            return [ValidationResult.ok(f"{ctype}_ok")]

        @hookimpl
        def on_deploy_failure(self, chart, stage, error):
            rec.calls.append((ctype, "on_deploy_failure", chart.name))
            return [f"{ctype}: {stage} failed: {error}"]

    return Plugin()


def make_cross_cutting(rec: Recorder, name: str, **marker: Any) -> Any:
    class Audit:
        firestream_plugin_name = name

        @hookimpl(**marker)
        def pre_exec(self, chart, context):
            rec.calls.append((name, "pre_exec", chart.name))

        @hookimpl(**marker)
        def exec(self, chart):
            rec.calls.append((name, "exec", chart.name))
            return ExecOutcome("deployed", 1, name) if marker.get("trylast") else None

        @hookimpl(**marker)
        def validate(self, chart):
            rec.calls.append((name, "validate", chart.name))
            return [ValidationResult.ok(f"{name}_ok")]

        @hookimpl(**marker)
        def on_deploy_failure(self, chart):
            rec.calls.append((name, "on_deploy_failure", chart.name))
            return None

    return Audit()


@pytest.fixture
def owned(no_entry_points):
    rec = Recorder()
    alpha = make_chart_plugin(rec, "alpha", exec_result=True)
    beta = make_chart_plugin(rec, "beta")
    audit = make_cross_cutting(rec, "audit")
    fallback = make_cross_cutting(rec, "fallback-default", trylast=True)
    m = get_plugin_manager(disabled=["defaults"], extra_plugins=[fallback, alpha, beta, audit])
    assert m.broken == []
    return rec, m, alpha.chart_class, beta.chart_class


def test_only_the_owner_and_cross_cutting_plugins_run_for_a_chart(owned) -> None:
    rec, m, Alpha, Beta = owned
    a = Alpha(ChartInfo(name="a1", chart="x/a"))
    b = Beta(ChartInfo(name="b1", chart="x/b"))
    ctx = object()

    pa, pb = ChartPayload(), ChartPayload()
    m.pre_exec(a, ctx, pa)
    m.pre_exec(b, ctx, pb)
    assert pa == {"seen_by": "alpha"} and pb == {"seen_by": "beta"}
    assert sorted(rec.calls) == sorted(
        [
            ("alpha", "pre_exec", "a1"),
            ("audit", "pre_exec", "a1"),
            ("fallback-default", "pre_exec", "a1"),
            ("beta", "pre_exec", "b1"),
            ("audit", "pre_exec", "b1"),
            ("fallback-default", "pre_exec", "b1"),
        ]
    )
    # the trylast implementation runs after the chart plugin's
    calls_a = [c[0] for c in rec.calls if c[2] == "a1"]
    assert calls_a.index("alpha") < calls_a.index("fallback-default")


def test_exec_first_result_wins_and_none_falls_through_to_the_default(owned) -> None:
    rec, m, Alpha, Beta = owned
    a = Alpha(ChartInfo(name="a1", chart="x/a"))
    b = Beta(ChartInfo(name="b1", chart="x/b"))
    pa = ChartPayload(seen_by="alpha")
    assert m.exec(a, object(), pa) == ExecOutcome("deployed", 7, "alpha")
    # alpha answered: the trylast fallback was never asked
    assert [c[0] for c in rec.calls] == ["audit", "alpha"]
    rec.calls.clear()
    assert m.exec(b, object(), ChartPayload()) == ExecOutcome("deployed", 1, "fallback-default")
    assert [c[0] for c in rec.calls] == ["audit", "beta", "fallback-default"]


def test_list_results_are_concatenated(owned) -> None:
    rec, m, Alpha, _ = owned
    a = Alpha(ChartInfo(name="a1", chart="x/a"))
    assert m.check_prerequisites(a, object(), ChartPayload()) == ["alpha problem for a1"]
    assert sorted(r.name for r in m.validate(a, object(), ChartPayload())) == [
        "alpha_ok",
        "audit_ok",
        "fallback-default_ok",
    ]
    err = RuntimeError("boom")
    assert m.on_deploy_failure(a, object(), ChartPayload(), "exec", err) == ["alpha: exec failed: boom"]
    m.post_exec(a, object(), ChartPayload())
    assert ("alpha", "post_exec", "a1") in rec.calls


def test_stage_order_across_charts_follows_the_graph(owned) -> None:
    """A recorder over a whole (sequential) run: dependencies first, stages in order."""
    from firestream_core.graph import build_graph

    rec, m, Alpha, Beta = owned
    charts = {
        c.name: c
        for c in [
            Beta(ChartInfo(name="web", chart="x/web", depends_on=["db"])),
            Alpha(ChartInfo(name="db", chart="x/db")),
        ]
    }
    for name in build_graph(charts.values()).order():
        chart, payload = charts[name], ChartPayload()
        for stage in STAGES:
            getattr(m, stage)(chart, object(), payload)
    owner_calls = [(c[2], c[1]) for c in rec.calls if c[0] in ("alpha", "beta")]
    assert owner_calls == [("db", s) for s in STAGES] + [("web", s) for s in STAGES]
    assert not [c for c in rec.calls if c[0] == "beta" and c[2] == "db"]
    assert not [c for c in rec.calls if c[0] == "alpha" and c[2] == "web"]


def test_hook_callers_are_cached_per_chart_type(owned) -> None:
    _, m, Alpha, _ = owned
    assert m.hook_caller("pre_exec", "alpha") is m.hook_caller("pre_exec", "alpha")
    assert m.hook_caller("pre_exec", "alpha") is not m.hook_caller("pre_exec", "beta")


def test_calling_a_stage_for_an_unregistered_chart_type_fails_clearly(owned) -> None:
    _, m, _, _ = owned

    @attrs.define
    class Stray(HelmChart):
        chart_type = "stray"

    with pytest.raises(UnknownChartTypeError, match="unknown chart type 'stray'"):
        m.pre_exec(Stray(ChartInfo(name="s", chart="x/s")), object(), ChartPayload())


def test_plugin_infos_list_hooks_in_lifecycle_order(owned) -> None:
    _, m, _, _ = owned
    infos = {i.name: i for i in m.plugin_infos()}
    assert infos["plugin-alpha"].hooks == (
        "check_prerequisites", "pre_exec", "exec", "post_exec", "validate", "on_deploy_failure"
    )
    assert infos["plugin-alpha"].chart_types == ("alpha",)
    assert infos["audit"].hooks == ("pre_exec", "exec", "validate", "on_deploy_failure")
    assert infos["audit"].chart_types == ()
    assert set(ALL_HOOKS) - {"register_chart_types", "contribute_values"} == set(infos["plugin-alpha"].hooks)


# -- plugins --check -----------------------------------------------------------------------------


def test_check_reports_every_problem_of_defaults_presets_and_options(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-demo", "demo", GOOD)
    fake_dists.plugin(
        "firestream-chart-sloppy",
        "sloppy",
        """
        import attrs
        from firestream_core import ChartInfo, ChartType, HelmChart, hookimpl

        @attrs.define
        class Sloppy(HelmChart):
            chart_type = "sloppy"

            @classmethod
            def default(cls):
                return cls(ChartInfo(name="Sloppy", chart="x/sloppy", timeout="forever"))

        class NotAttrs:
            pass

        @attrs.frozen
        class Shadow:
            timeout: str = "1s"

        def boom():
            raise RuntimeError("preset exploded")

        def quits():
            raise SystemExit(0)

        @hookimpl
        def register_chart_types(register):
            register(ChartType(name="sloppy", chart_class=Sloppy, options=NotAttrs,
                               presets={"broken": boom, "quits": quits, "wrong": lambda: 3},
                               repositories={"r": "ftp://x"}))
            register(ChartType(name="shadow", chart_class=Sloppy, options=Shadow))
        """,
    )
    fake_dists.plugin("firestream-chart-dead", "dead", "import nowhere_at_all\n")
    m = get_plugin_manager(disabled=["defaults"])
    where = "chart type 'sloppy' of plugin 'sloppy' (firestream-chart-sloppy 1.0.0)"
    shadow = "chart type 'shadow' of plugin 'sloppy' (firestream-chart-sloppy 1.0.0)"
    assert check_plugins(m) == [
        "plugin 'dead' (firestream-chart-dead 1.0.0) is broken: import failed: "
        "ModuleNotFoundError: No module named 'nowhere_at_all'",
        f"{shadow}: defaults: name: release name 'Sloppy' is not a DNS-1123 label "
        "(lower-case letters, digits and '-', starting and ending with a letter or digit)",
        f"{shadow}: defaults: timeout: invalid duration 'forever': expected e.g. '300s', '5m' or '1h'",
        f"{shadow}: options shadow release keys: timeout",
        f"{where}: defaults: name: release name 'Sloppy' is not a DNS-1123 label "
        "(lower-case letters, digits and '-', starting and ending with a letter or digit)",
        f"{where}: defaults: timeout: invalid duration 'forever': expected e.g. '300s', '5m' or '1h'",
        f"{where}: preset 'broken' failed: RuntimeError: preset exploded",
        f"{where}: preset 'quits' failed: SystemExit: 0",
        f"{where}: preset 'wrong' returned int, not a HelmChart",
        f"{where}: options must be an attrs class",
        f"{where}: repository 'r': scheme 'ftp' is not supported: expected an https://, http:// or oci:// URL",
    ]


def test_check_of_good_plugins_is_clean(fake_dists) -> None:
    fake_dists.plugin("firestream-chart-demo", "demo", GOOD)
    assert check_plugins(get_plugin_manager(disabled=["defaults"])) == []


def quiet_contributor(ctype: str) -> Any:
    """A plugin owning chart type ``ctype`` (its class: ``.chart_class``) whose
    ``contribute_values`` is implemented and answers None."""

    @attrs.define
    class Chart(HelmChart):
        pass

    class Plugin:
        firestream_plugin_name = ctype
        chart_class = Chart

        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name=ctype, chart_class=Chart))

        @hookimpl
        def contribute_values(self, chart, context):
            return None

    return Plugin()


def test_contributes_values_names_the_owner_and_cross_cutting_plugins_only(no_entry_points) -> None:
    """What ``validate`` asks before working out a release's offline notes: a chart type's
    owner or a plugin registering no chart type implements ``contribute_values``;
    firestream's own (``chart-methods``, the defaults) do not count."""
    rec = Recorder()
    alpha, beta = make_chart_plugin(rec, "alpha"), make_chart_plugin(rec, "beta")
    m = get_plugin_manager(extra_plugins=[alpha, beta, quiet_contributor("gamma")])
    assert m.broken == []
    assert (m.contributes_values("gamma"), m.contributes_values("alpha"), m.contributes_values("generic")) == (
        True, False, False)

    class Everyone:
        firestream_plugin_name = "everyone"

        @hookimpl
        def contribute_values(self, chart, context):
            return None

    m = get_plugin_manager(extra_plugins=[alpha, Everyone()])
    assert m.contributes_values("alpha") and m.contributes_values("generic")


def test_calls_contribute_values_says_whether_the_desired_state_stage_has_anything_to_call(
    no_entry_points,
) -> None:
    """The desired-state stage builds a release's context and copy of its chart only when
    something would be called: a concerned plugin's hookimpl (even one answering None), or
    the chart class's own ``contribute_values`` (through the built-in ``chart-methods``)."""
    rec = Recorder()
    alpha = make_chart_plugin(rec, "alpha")

    @attrs.define
    class Own(HelmChart):
        def contribute_values(self, context):
            return {"from": "the class"}

    class OwnPlugin:
        firestream_plugin_name = "own"

        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="own", chart_class=Own))

    quiet = quiet_contributor("quiet")

    class Wrapping:
        firestream_plugin_name = "wrapping"

        @hookimpl(wrapper=True)
        def contribute_values(self, chart, context):
            return (yield)

    m = get_plugin_manager(extra_plugins=[alpha, OwnPlugin(), quiet, Wrapping()])
    assert m.broken == []
    info = ChartInfo(name="r", chart="tiny-app")
    plain = alpha.chart_class(info)
    assert not m.calls_contribute_values(plain)  # chart-methods would call nothing, a wrapper is no callee
    assert m.calls_contribute_values(Own(info))
    assert m.calls_contribute_values(quiet.chart_class(info))
    # and the stage agrees: what it calls is what contribute_values returns
    assert [p for p, _ in m.contribute_values(Own(info), None)] == ["chart-methods"]  # type: ignore[arg-type]
    assert m.contribute_values(plain, None) == []  # type: ignore[arg-type]


def test_a_disabled_name_no_plugin_has_is_warned_about_once(caplog) -> None:
    """``--disable-plugin kafak`` (misspelt) disabled nothing, silently: kafka kept loading."""
    import logging

    caplog.set_level(logging.WARNING, logger="firestream")
    m = get_plugin_manager(disabled=["defaults", "no-such-plugin-xyz"])
    get_plugin_manager(disabled=["no-such-plugin-xyz"])  # a second manager in the process: no repeat
    assert m.unknown_disabled() == ["no-such-plugin-xyz"]  # "defaults" is a plugin's name
    warned = [r.getMessage() for r in caplog.records if "no-such-plugin-xyz" in r.getMessage()]
    assert warned == [
        "no plugin is named 'no-such-plugin-xyz' (--disable-plugin / FIRESTREAM_DISABLE_PLUGINS): nothing "
        "was disabled by it; 'firestream plugins' lists their names"
    ]


def test_a_warning_while_the_plugins_load_is_not_printed_behind_a_programs_back(tmp_path) -> None:
    """A library prints nothing: a program with no logging set-up of its own, whose first call is
    ``get_plugin_manager`` (or ``Project.load``) with a misspelt disabled plugin, got the warning
    on stderr through Python's last-resort handler (the loggers' NullHandler came later)."""
    import os
    import subprocess
    import sys

    code = ("from firestream_core.plugin.manager import get_plugin_manager\n"
            "get_plugin_manager(disabled=['no-such-plugin'])\n"
            "import logging\n"
            "print(logging.getLogger('firestream').handlers)\n")
    # the plugin cache warm, as on a program's second run: no plugin module is imported
    env = {**os.environ, "FIRESTREAM_PLUGIN_CACHE": "on", "FIRESTREAM_CACHE_DIR": str(tmp_path)}
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,  # noqa: S603
                           check=False, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        assert "NullHandler" in r.stdout


def test_a_str_of_plugins_to_disable_is_refused_not_split_into_letters(fake_dists) -> None:
    """``Project.load(..., disabled_plugins="demo")`` blocked the plugins 'd', 'e', 'm', 'o' (none)
    and loaded 'demo', the one the program meant to disable."""
    from firestream_core.project import Project

    fake_dists.plugin("firestream-chart-demo", "demo", GOOD)
    with pytest.raises(TypeError, match=r"^the plugins to disable are a list of names, not a str: \['demo'\]"):
        get_plugin_manager(disabled="demo")
    with pytest.raises(TypeError, match="Project.load's disabled_plugins"):
        Project.load("firestream.toml", disabled_plugins="demo")
    assert "demo" not in get_plugin_manager(disabled=["demo"]).chart_types
