"""Small helpers every chart plugin needs, written once (they were copied into each plugin).

* :func:`options_of` - the release's chart-type options, or the options class's defaults;
* :func:`value_of` - the value helm will see at a dotted key (``--set`` syntax);
* :func:`is_dry_run` - nothing may change in the cluster (run-wide or for this release);
* :func:`current_release` - the release as installed: the plan's view, else one ``helm list``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from firestream_core.model import HelmChart, InstalledRelease
    from firestream_core.plugin.context import DeployContext

__all__ = ["current_release", "is_dry_run", "options_of", "value_of"]

OptionsT = TypeVar("OptionsT")


def options_of(chart: HelmChart, options_class: type[OptionsT]) -> OptionsT:
    """``chart.options`` when it is an ``options_class``, else ``options_class()`` (its defaults)."""
    opts = chart.options
    return opts if isinstance(opts, options_class) else options_class()


def value_of(chart: HelmChart, context: DeployContext, key: str, default: Any = None) -> Any:
    """The value helm will see at ``key`` for this release, or ``default`` (the chart's own default).

    See :func:`firestream_core.plugin.checks.chart_value`; values files are
    read relative to the project folder.
    """
    from firestream_core.plugin.checks import chart_value

    return chart_value(chart.chart_info, key, default, project_dir=context.project_dir)


def is_dry_run(chart: HelmChart, context: DeployContext) -> bool:
    """True when nothing may change in the cluster (``--dry-run`` for the run or this release)."""
    return bool(context.dry_run or chart.chart_info.dry_run)


def current_release(chart: HelmChart, context: DeployContext) -> InstalledRelease | None:
    """The release as installed: the plan's view (``context.installed``), or one ``helm list`` outside a plan."""
    if context.installed is not None or context.change is not None:
        return context.installed
    info = chart.chart_info
    ns = info.namespace_name
    return next((r for r in context.helm.list_releases() if r.name == info.name and r.namespace == ns), None)
