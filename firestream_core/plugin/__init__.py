"""The chart author's surface: everything a chart plugin imports.

A chart plugin is a module (registered through the ``firestream.charts``
entry point) that registers its chart types and implements lifecycle stages::

    from firestream_core.plugin import ChartInfo, ChartType, HelmChart, checks, hookimpl

    class MyChart(HelmChart):
        ...

    @hookimpl
    def register_chart_types(register):
        register(ChartType(name="my-chart", chart_class=MyChart))

    @hookimpl
    def validate(chart, context, payload):
        info = chart.chart_info
        return [checks.deployment_available(
            context, namespace=info.namespace_name,
            selector=f"app.kubernetes.io/instance={info.name}")]

The names below are the whole, documented surface (``docs/hooks.md``,
``docs/writing-a-chart-plugin.md``); they are imported lazily so that loading
a plugin costs only what it uses. The modules of this package hold:

``markers``  the project name and the ``hookimpl`` / ``hookspec`` markers
``spec``     every hook, in lifecycle order
``manager``  the plugin manager: discovery, chart types, per-type hook calls
``generic``  the built-in ``generic`` chart type
``context``  ``DeployContext`` (what a stage receives) and ``PreparedRelease`` (``context.prepared``)
``checks``   reusable validation checks
``secrets``  Secrets a plugin creates and keeps (generated passwords)
``options``  attrs validators for a chart type's options
``presets``  ``ChartPresets`` (what every preset shares), ``preset_values`` (its values document)
``crds``     CRD upgrades helm does not do
``helpers``  ``options_of``, ``value_of``, ``is_dry_run``, ``current_release``, ``needs_crd``, ...

A plugin whose chart needs a step of its own before helm (an operator's CRDs)
writes an ``exec`` *wrapper*: the core has recovered a pending release and
taken the plan's breaking-version step before it runs, and says what it did in
``context.prepared`` (a ``PreparedRelease``)::

    @hookimpl(wrapper=True)
    def exec(chart, context, payload):
        if context.prepared is not None:           # a Deploy that changes the cluster
            apply_crds(context, chart.chart_info)  # the plugin's own step
        return (yield)                             # the default helm upgrade --install
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firestream_core.lazy import lazy_attribute

if TYPE_CHECKING:
    from firestream_core.errors import (
        FirestreamError,
        HelmError,
        HelmTimeoutError,
        PrerequisiteError,
        ValidationFailedError,
    )
    from firestream_core.model import (
        BreakingVersion,
        ChartInfo,
        ChartPayload,
        ChartSetValue,
        ChartType,
        ChartValuesGenerated,
        ExecOutcome,
        HelmAction,
        HelmChart,
        HelmChartNamespace,
        InstalledRelease,
        ReleaseSettings,
        SemVer,
        ValidationResult,
        ValidationStatus,
        parse_duration,
    )
    from firestream_core.plugin import checks
    from firestream_core.plugin.checks import chart_value
    from firestream_core.plugin.context import DeployContext, PreparedRelease
    from firestream_core.plugin.crds import (
        apply_crds,
        chart_crds,
        crd_names,
        crds_step_due,
        newer_crds_in_cluster,
        newer_crds_problem,
        upgrade_chart_crds,
    )
    from firestream_core.plugin.helpers import (
        breaking_version_at,
        current_release,
        downgrade_problem,
        is_dry_run,
        needs_crd,
        notes_crossed,
        options_of,
        release_downgrade_problem,
        value_of,
    )
    from firestream_core.plugin.markers import NAME, PLUGIN_API_VERSION, hookimpl, hookspec
    from firestream_core.plugin.options import OptionValueError, at_least, env_var_name, secret_name
    from firestream_core.plugin.presets import ChartPresets, preset_values
    from firestream_core.plugin.secrets import (
        SecretOutcome,
        ensure_namespace,
        ensure_secret,
        generate_password,
        plan_secret,
        read_secret,
    )

_EXPORTS = {
    "hookimpl": "plugin.markers",
    "hookspec": "plugin.markers",
    "NAME": "plugin.markers",
    "PLUGIN_API_VERSION": "plugin.markers",
    **{
        name: "model"
        for name in (
            "BreakingVersion", "ChartInfo", "ChartPayload", "ChartSetValue", "ChartType",
            "ChartValuesGenerated", "ExecOutcome", "HelmAction", "HelmChart",
            "HelmChartNamespace", "InstalledRelease", "ReleaseSettings", "SemVer",
            "ValidationResult", "ValidationStatus", "parse_duration",
        )
    },
    **{
        name: "errors"
        for name in (
            "FirestreamError", "HelmError", "HelmTimeoutError", "PrerequisiteError",
            "ValidationFailedError",
        )
    },
    "DeployContext": "plugin.context",
    "PreparedRelease": "plugin.context",
    "apply_crds": "plugin.crds",
    "chart_crds": "plugin.crds",
    "crd_names": "plugin.crds",
    "crds_step_due": "plugin.crds",
    "newer_crds_in_cluster": "plugin.crds",
    "newer_crds_problem": "plugin.crds",
    "upgrade_chart_crds": "plugin.crds",
    "at_least": "plugin.options",
    "OptionValueError": "plugin.options",
    "env_var_name": "plugin.options",
    "secret_name": "plugin.options",
    "ChartPresets": "plugin.presets",
    "preset_values": "plugin.presets",
    "SecretOutcome": "plugin.secrets",
    "ensure_namespace": "plugin.secrets",
    "ensure_secret": "plugin.secrets",
    "generate_password": "plugin.secrets",
    "read_secret": "plugin.secrets",
    "plan_secret": "plugin.secrets",
    "chart_value": "plugin.checks",
    "breaking_version_at": "plugin.helpers",
    "downgrade_problem": "plugin.helpers",
    "current_release": "plugin.helpers",
    "is_dry_run": "plugin.helpers",
    "needs_crd": "plugin.helpers",
    "notes_crossed": "plugin.helpers",
    "release_downgrade_problem": "plugin.helpers",
    "options_of": "plugin.helpers",
    "value_of": "plugin.helpers",
}
_MODULES = {"checks": "plugin.checks"}

__all__ = [
    "BreakingVersion",
    "ChartInfo",
    "ChartPayload",
    "ChartPresets",
    "ChartSetValue",
    "ChartType",
    "ChartValuesGenerated",
    "DeployContext",
    "ExecOutcome",
    "FirestreamError",
    "HelmAction",
    "HelmChart",
    "HelmChartNamespace",
    "HelmError",
    "HelmTimeoutError",
    "InstalledRelease",
    "NAME",
    "OptionValueError",
    "PLUGIN_API_VERSION",
    "PreparedRelease",
    "PrerequisiteError",
    "ReleaseSettings",
    "SecretOutcome",
    "SemVer",
    "ValidationFailedError",
    "ValidationResult",
    "ValidationStatus",
    "apply_crds",
    "at_least",
    "breaking_version_at",
    "chart_crds",
    "chart_value",
    "checks",
    "crd_names",
    "crds_step_due",
    "newer_crds_in_cluster",
    "newer_crds_problem",
    "current_release",
    "downgrade_problem",
    "ensure_namespace",
    "ensure_secret",
    "env_var_name",
    "generate_password",
    "hookimpl",
    "hookspec",
    "is_dry_run",
    "needs_crd",
    "notes_crossed",
    "options_of",
    "parse_duration",
    "plan_secret",
    "preset_values",
    "read_secret",
    "release_downgrade_problem",
    "secret_name",
    "upgrade_chart_crds",
    "value_of",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        import importlib

        module = importlib.import_module(f"firestream_core.{_MODULES[name]}")
        globals()[name] = module
        return module
    return lazy_attribute(globals(), _EXPORTS, name)


def __dir__() -> list[str]:
    return __all__
