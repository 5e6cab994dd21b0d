"""A chart plugin for the desired-state tests: an option turned into a value in ``contribute_values``."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from firestream_core.model import ChartInfo, ChartType, HelmAction, HelmChart
from firestream_core.plugin.markers import hookimpl


@attrs.frozen
class ContribOptions:
    greeting: str = "hello"
    """Becomes the chart's ``message`` value (contributed)."""
    flag: bool = False
    """Acts after helm only (no value): still part of the desired state."""


@attrs.define
class ContribChart(HelmChart):
    chart_type: ClassVar[str] = "contrib"

    @classmethod
    def default(cls) -> ContribChart:
        return cls(ChartInfo(name="contrib", chart="tiny-app"), options=ContribOptions())


class Plugin:
    """Registers ``contrib``; ``contribute_values`` reads ``context.kubectl`` only when asked to write."""

    FIRESTREAM_PLUGIN_API = 1
    seen: ClassVar[list[str]] = []
    versions: ClassVar[list[tuple[str, str | None]]] = []
    """``(release, chart version)`` as each ``contribute_values`` call saw it."""

    @hookimpl
    def register_chart_types(self, register: Any) -> None:
        register(ChartType(name="contrib", chart_class=ContribChart, options=ContribOptions))

    @hookimpl
    def contribute_values(self, chart: HelmChart, context: Any) -> dict[str, Any] | None:
        if chart.chart_info.action is not HelmAction.DEPLOY:
            return None
        Plugin.seen.append(chart.chart_info.name)
        Plugin.versions.append((chart.chart_info.name, chart.chart_info.version))
        opts = chart.options
        if opts.greeting == "write":
            context.kubectl.delete("configmap", "x", namespace="default")
        if opts.greeting == "read":  # a read goes to the run's kubectl
            found = context.kubectl.get("configmap", "settings", namespace="default")
            context.note(f"configmap settings {'found' if found else 'absent'}")
        if opts.greeting == "note":  # said twice: shown once
            context.note("message is 'note' (because the test says so)")
            context.note("message is 'note' (because the test says so)")
        if opts.greeting == "crash":  # a plugin's bug
            raise KeyError("replicas")
        if opts.greeting == "quit":
            raise SystemExit(0)
        if opts.greeting == "refuse":
            context.refuse(f"release '{chart.chart_info.name}': greeting 'refuse' cannot be deployed")
        if opts.greeting == "step":  # exec does more than helm whenever the release changes
            context.exec_step("apply the widgets CRD before helm")
        if opts.greeting in ("secret", "secret-crash"):  # a value the plugin registers, then says
            context.redactor.add("ctb-secret-4471")
            if opts.greeting == "secret-crash":
                raise RuntimeError("login ctb-secret-4471 refused")
            for say in (context.note, context.refuse, context.exec_step, context.out_of_date):
                say(f"release '{chart.chart_info.name}': token ctb-secret-4471 is used")
        if opts.greeting == "breaking":
            from firestream_core.model import BreakingVersion

            context.require_breaking_version(BreakingVersion("0.2.0", requires_uninstall=True))
        return {"message": opts.greeting}


def manager() -> Any:
    from firestream_core.plugin.manager import get_plugin_manager

    return get_plugin_manager(load_entry_points=False, extra_plugins=[Plugin()])
