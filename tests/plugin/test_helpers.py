"""The helpers every chart plugin uses (``firestream_core.plugin.helpers``), on their pure side:
options or their defaults, the value helm will see, dry runs, and the plan's view of a release.

``needs_crd`` (which reads the cluster) is exercised by the chart plugins' own tests on the
emulated cluster; the doctests of the module run in ``tests/docs/test_doctests.py``.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from firestream_core.model import ChartInfo, ChartSetValue, HelmChart, InstalledRelease
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.helpers import current_release, is_dry_run, options_of, value_of
from firestream_core.plugin.presets import preset_values


@attrs.frozen
class Options:
    replicas: int = 1


class Other:
    pass


def context(**kwargs: object) -> DeployContext:
    return DeployContext(helm=None, kubectl=None, **kwargs)  # type: ignore[arg-type]


def test_options_of_gives_the_charts_options_or_the_defaults() -> None:
    info = ChartInfo(name="cache", chart="bitnami/redis")
    assert options_of(HelmChart(info, options=Options(3)), Options) == Options(3)
    assert options_of(HelmChart(info), Options) == Options()
    assert options_of(HelmChart(info, options=Other()), Options) == Options()  # another type's: defaults


def test_value_of_merges_like_helm_files_then_presets_then_set_pairs(tmp_path: Path) -> None:
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "web.yaml").write_text("replicaCount: 2\nimage:\n  tag: '1.25'\n")
    info = ChartInfo(
        name="web", chart="bitnami/nginx", values_files=[Path("values/web.yaml")],
        yaml_files_content=[preset_values("web", "dev", {"replicaCount": 4, "service.type": "ClusterIP"})],
        values=[ChartSetValue("service.type", "LoadBalancer")],
    )
    chart, ctx = HelmChart(info), context(project_dir=tmp_path)
    assert value_of(chart, ctx, "image.tag") == "1.25"            # the file, relative to the project
    assert value_of(chart, ctx, "replicaCount") == 4              # the preset document over the file
    assert value_of(chart, ctx, "service.type") == "LoadBalancer"  # --set pairs last
    assert value_of(chart, ctx, "ingress.enabled", False) is False  # unset: the default


def test_is_dry_run_for_the_run_or_the_release() -> None:
    chart = HelmChart(ChartInfo(name="db", chart="bitnami/postgresql"))
    assert not is_dry_run(chart, context())
    assert is_dry_run(chart, context(dry_run=True))
    chart.chart_info.dry_run = True
    assert is_dry_run(chart, context())


def test_current_release_inside_a_plan_is_the_plans_view_without_a_helm_call() -> None:
    chart = HelmChart(ChartInfo(name="db", chart="bitnami/postgresql", namespace="data"))
    seen = InstalledRelease("db", "data", 3, "deployed", "postgresql-13.2.24")
    # helm=None: any helm call would raise
    assert current_release(chart, context(change="upgrade", installed=seen)) is seen
    assert current_release(chart, context(change="create")) is None


def test_current_release_outside_a_plan_asks_helm_once() -> None:
    chart = HelmChart(ChartInfo(name="db", chart="bitnami/postgresql", namespace="data"))
    listed = [InstalledRelease("db", "other", 1, "deployed", "postgresql-13.2.24"),
              InstalledRelease("db", "data", 2, "deployed", "postgresql-13.2.24")]

    class Helm:
        calls = 0

        def list_releases(self) -> list[InstalledRelease]:
            Helm.calls += 1
            return listed

    ctx = DeployContext(helm=Helm(), kubectl=None)  # type: ignore[arg-type]
    assert current_release(chart, ctx) is listed[1]  # the one in the release's namespace
    assert Helm.calls == 1
