"""The seed's Python snippets work as written, in Python spelling."""

from __future__ import annotations

from pathlib import Path

import attrs

from firestream_core import (
    BreakingVersion,
    ChartInfo,
    ChartPayload,
    ChartSetValue,
    HelmAction,
    HelmChart,
    HelmChartNamespace,
    ValidationResult,
    hookimpl,
)
from firestream_core.graph import build_graph
from firestream_core.plugin.generic import GenericChart


@attrs.define
class PostgresqlChart(HelmChart):
    """A stand-in for the postgresql plugin's chart (the seed's ``PostgresqlChart``)."""

    chart_type = "postgresql"

    @classmethod
    def default(cls) -> PostgresqlChart:
        return cls(ChartInfo(name="postgresql", chart="postgresql", repository="bitnami",
                             version="13.2.24"))


def test_postgresql_with_custom_configuration() -> None:
    # let mut postgres = PostgresqlChart::default();
    postgres = PostgresqlChart.default()
    # let info = postgres.get_chart_info_mut();
    info = postgres.get_chart_info_mut()
    # info.values.push(ChartSetValue { key: "auth.database", value: "myapp" });
    info.values.append(ChartSetValue(key="auth.database", value="myapp"))
    # info.values_files.push(PathBuf::from("values/postgres-custom.yaml"));
    info.values_files.append(Path("values/postgres-custom.yaml"))
    # info.timeout = "600s".to_string();
    info.timeout = "600s"

    seen = postgres.get_chart_info()
    assert seen is info
    assert seen.values == [ChartSetValue("auth.database", "myapp")]
    assert seen.values_files == [Path("values/postgres-custom.yaml")]
    assert seen.timeout_seconds == 600
    assert seen.chart_ref == "bitnami/postgresql"
    assert seen.check() == []


def test_breaking_version_and_dependencies() -> None:
    chart_info = GenericChart.for_chart("my-app", "example/my-app", version="2.1.0").chart_info
    breaking_version = BreakingVersion(
        version="2.0.0",
        requires_uninstall=True,
        pre_upgrade_commands=["kubectl delete crd my-old-crd.example.com"],
    )
    chart_info.last_breaking_version_requiring_restart = breaking_version
    # chart_info.depends_on = vec!["postgresql", "redis"];
    chart_info.depends_on = ["postgresql", "redis"]

    assert breaking_version.pre_upgrade_commands == [["kubectl", "delete", "crd", "my-old-crd.example.com"]]
    assert breaking_version.applies_to("1.9.0") and not breaking_version.applies_to("10.0.0")
    graph = build_graph(
        [
            GenericChart.for_chart("postgresql", "bitnami/postgresql"),
            GenericChart.for_chart("redis", "bitnami/redis"),
            GenericChart(chart_info),
        ]
    )
    assert graph.order() == ["postgresql", "redis", "my-app"]


def test_enums_in_seed_spelling() -> None:
    info = ChartInfo(name="x", chart="c/x", action=HelmAction.Destroy, namespace=HelmChartNamespace.KubeSystem)
    assert info.action is HelmAction.DESTROY
    assert info.namespace_name == "kube-system"
    info.action = "skip"  # strings are converted on assignment too
    assert info.action is HelmAction.SKIP


def test_namespace_and_path_are_converted_on_assignment() -> None:
    info = ChartInfo(name="x", chart="c/x")
    info.namespace = "kube-system"  # a well-known name becomes its member
    assert info.namespace is HelmChartNamespace.KUBE_SYSTEM
    info.namespace = "shop"  # any other name stays a string
    assert info.namespace == "shop" and info.namespace_name == "shop"
    info.path = "charts/x"
    assert info.path == Path("charts/x") and isinstance(info.path, Path)
    folder = Path("charts/y")
    info.path = folder
    assert info.path == folder
    info.path = None
    assert info.path is None


def test_custom_chart_overriding_some_methods() -> None:
    """The seed's MyCustomChart: a chart plugin implements only what it changes."""
    from firestream_core.model import ChartType
    from firestream_core.plugin.manager import get_plugin_manager

    @attrs.define
    class MyCustomChart(HelmChart):
        chart_type = "my-custom"

    class MyPlugin:
        @hookimpl
        def register_chart_types(self, register):
            register(ChartType(name="my-custom", chart_class=MyCustomChart))

        @hookimpl
        def validate(self, chart, payload):
            return [ValidationResult.ok("endpoint", f"{chart.name} answers", port=payload["port"])]

    m = get_plugin_manager(disabled=["defaults"], load_entry_points=False, extra_plugins=[MyPlugin()])
    chart = MyCustomChart(ChartInfo(name="mine", chart="x/mine"))
    (result,) = m.validate(chart, object(), ChartPayload(port=8080))
    assert str(result) == "Validation 'endpoint': PASSED - mine answers"
    assert result.details == {"port": 8080}


def test_a_deep_copy_of_a_chart_is_equal_and_independent() -> None:
    """Charts are deep-copied per release (desired state, contribute_values, the run): the copy
    (a field-wise one since issue 13) must be equal and share nothing that can change."""
    import copy

    from firestream_core.model import (
        BreakingVersion,
        ChartSetValue,
        ChartValuesGenerated,
        ReleaseSettings,
    )

    info = ChartInfo(name="db", path="charts/db", namespace="data", values=[ChartSetValue("a", "1")],
                     values_files=[Path("v.yaml")], depends_on=["x"],
                     yaml_files_content=[ChartValuesGenerated("g.yaml", "k: v")],
                     last_breaking_version_requiring_restart=BreakingVersion("2.0.0", pre_upgrade_commands=["a b"]),
                     plugin_values={"nested": {"list": [1, {"deep": True}]}})

    @attrs.define
    class Options:
        items: list[str] = attrs.field(factory=list)

    chart = GenericChart(info, options=Options(["o"]), settings=ReleaseSettings(retries=2))
    dup = copy.deepcopy(chart)
    assert dup == chart
    d = dup.chart_info
    d.values.append(ChartSetValue("b", "2"))
    d.values[0].value = "changed"
    d.values_files.append(Path("w.yaml"))
    d.depends_on.append("y")
    d.yaml_files_content[0].yaml_content = "k: other"
    d.last_breaking_version_requiring_restart.pre_upgrade_commands[0].append("c")  # type: ignore[union-attr]
    d.plugin_values["nested"]["list"][1]["deep"] = False
    dup.options.items.append("p")
    assert info.values == [ChartSetValue("a", "1")] and info.values_files == [Path("v.yaml")]
    assert info.depends_on == ["x"] and info.yaml_files_content[0].yaml_content == "k: v"
    assert info.last_breaking_version_requiring_restart.pre_upgrade_commands == [["a", "b"]]  # type: ignore[union-attr]
    assert info.plugin_values == {"nested": {"list": [1, {"deep": True}]}}
    assert chart.options.items == ["o"]
    shared = copy.deepcopy([info, info])  # one object copied once, as copy.deepcopy does
    assert shared[0] is shared[1] and shared[0] is not info
