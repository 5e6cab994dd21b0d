"""``firestream plugins --check``: every chart type checked against the config's rules.

It lives with the config, not the plugin manager, because what it checks is
how a chart type's defaults, presets and options read back through the
config: the release keys, the one converter, ``ChartInfo.check()``.
"""

from __future__ import annotations

from typing import Any

import attrs

from firestream_core.config.converter import converter, repository_url_problem, structure
from firestream_core.config.model import RELEASE_KEYS
from firestream_core.model import ChartInfo, HelmChart, unset_chart_fields
from firestream_core.plugin.chart_methods import chart_method_problems, misnamed_chart_methods
from firestream_core.plugin.manager import FirestreamPluginManager, RegisteredChartType, one_line

__all__ = ["check_plugins"]


def check_plugins(manager: FirestreamPluginManager) -> list[str]:
    """Every problem ``firestream plugins --check`` reports, all at once.

    Loading problems (broken plugins, clashes), then for each chart type: its
    defaults and every preset must build a ``HelmChart`` of the chart type's
    class whose ``ChartInfo.check()`` passes, whose ``chart_type`` routes to
    this plugin and whose options are the chart type's options class and
    survive the config converter; its ``options`` must be an attrs class
    whose keys do not shadow release keys. A chart class's lifecycle methods
    must take only their stage's arguments, and a method named close to a
    stage (``validat``) is named: it would never be called.
    """
    problems = manager.problems()
    release_keys = RELEASE_KEYS
    for name in sorted(manager.chart_types):
        reg = manager.chart_types[name]
        ct = reg.chart_type
        where = f"chart type '{name}' of plugin {reg.origin}"
        classes = {ct.chart_class}
        builders: list[tuple[str, Any]] = [("defaults", lambda ct=ct: ct.default_chart())]
        builders += [(f"preset '{p}'", fn) for p, fn in sorted(ct.presets.items())]
        for label, fn in builders:
            try:
                chart = fn()
            except (Exception, SystemExit) as exc:
                problems.append(f"{where}: {label} failed: {one_line(exc)}")
                continue
            if not isinstance(chart, HelmChart):
                problems.append(f"{where}: {label} returned {type(chart).__name__}, not a HelmChart")
                continue
            unset = unset_chart_fields(chart)
            if unset:
                problems.append(f"{where}: {label} returned a {type(chart).__name__}: {unset}")
                continue
            if type(chart) not in classes:
                classes.add(type(chart))
                problems += [f"{where}: {label}: {p}" for p in chart_method_problems(type(chart))]
            if not isinstance(chart.chart_info, ChartInfo):
                problems.append(f"{where}: {label} has no ChartInfo")
                continue
            supplied = type(chart).config_supplies_chart
            for p in chart.chart_info.check():
                if supplied and p.startswith("chart:"):
                    continue
                problems.append(f"{where}: {label}: {p}")
            problems += [f"{where}: {label}: {p}" for p in _routing_and_options(manager, reg, chart)]
        for cls in sorted(classes, key=lambda c: c.__name__):
            problems += [f"{where}: {p}" for p in misnamed_chart_methods(cls)]
        if ct.options is not None:
            if not attrs.has(ct.options):
                problems.append(f"{where}: options must be an attrs class")
            else:
                clash = sorted(a.name for a in attrs.fields(ct.options) if a.name in release_keys)
                if clash:
                    problems.append(f"{where}: options shadow release keys: {', '.join(clash)}")
        for repo, url in ct.repositories.items():  # the [repositories] rule: they are merged with it
            problem = repository_url_problem(url)
            if problem:
                problems.append(f"{where}: repository '{repo}': {problem}")
    return problems


def _routing_and_options(
    manager: FirestreamPluginManager, reg: RegisteredChartType, chart: HelmChart
) -> list[str]:
    """What ``check_plugins`` finds wrong with a built chart beyond its ``ChartInfo``.

    * ``chart.chart_type`` routes the release's hooks: naming a chart type of
      another plugin (typically the inherited ``generic``) means this
      plugin's hooks are silently never called for its releases;
    * its options must be an instance of the chart type's options class and
      survive the config converter (the config re-structures them whenever
      a release sets an option key).
    """
    out: list[str] = []
    name = reg.name
    routed = manager.chart_types.get(chart.chart_type)
    if chart.chart_type != name and (routed is None or routed.plugin is not reg.plugin):
        out.append(
            f"builds a {type(chart).__name__} whose chart_type is '{chart.chart_type}', so this "
            f"plugin's hooks would never be called for its releases: build a "
            f"{reg.chart_type.chart_class.__name__} (the class registered as '{name}')"
        )
    cls = reg.chart_type.options
    if cls is None or not attrs.has(cls) or chart.options is None:
        return out
    if not isinstance(chart.options, cls):
        out.append(f"options is {type(chart.options).__name__}, expected {cls.__name__}")
        return out
    try:
        data = converter().unstructure(chart.options)
    except Exception as exc:
        return [*out, f"options cannot be read back by the config: {one_line(exc)}"]
    out += structure(data, cls, "options")[1]
    return out
