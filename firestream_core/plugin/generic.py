"""The built-in ``generic`` chart type: any chart, named in the config.

A ``[[deployments.<key>]]`` block whose key is not an installed chart type but
which gives a ``chart`` (or a local ``path``) is deployed as a generic chart.
The generic chart implements no stage hook: the built-in defaults do all the
work (values files checked, repository added, ``helm upgrade --install``,
release and pods validated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import attrs

from firestream_core.model import ChartInfo, ChartType, HelmChart
from firestream_core.plugin.markers import hookimpl

FIRESTREAM_PLUGIN_API = 1


@attrs.define
class GenericChart(HelmChart):
    """A chart with no behaviour of its own; ``chart``/``path`` come from the config."""

    chart_type: ClassVar[str] = "generic"
    config_supplies_chart: ClassVar[bool] = True
    """The config gives the chart, so the defaults need none (``plugins --check``)."""

    @classmethod
    def default(cls, name: str = "generic") -> GenericChart:
        """A chart with the original's ``ChartInfo`` defaults and no chart yet."""
        return cls(ChartInfo(name=name))

    @classmethod
    def for_chart(cls, name: str, chart: str, **info: object) -> GenericChart:
        """``GenericChart.for_chart("web", "bitnami/nginx", version="15.0.0")``."""
        return cls(ChartInfo(name=name, chart=chart, **info))  # type: ignore[arg-type]


GENERIC = ChartType(
    name="generic",
    chart_class=GenericChart,
    description="any chart named by 'chart' or 'path' in firestream.toml; the default stages",
)


@hookimpl
def register_chart_types(register: Callable[[ChartType], None]) -> None:
    """Register the ``generic`` chart type."""
    register(GENERIC)
