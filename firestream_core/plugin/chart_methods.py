"""The built-in ``chart-methods`` plugin: a chart class's own lifecycle methods, called.

The seed writes a custom chart as a class that overrides lifecycle methods
(``impl HelmChart for MyCustomChart``). In firestream a
:class:`~firestream_core.model.HelmChart` subclass may do the same::

    @attrs.define
    class MyCustomChart(HelmChart):
        def check_prerequisites(self, context, payload): ...
        def pre_exec(self, context, payload): ...
        def exec(self, context, payload): ...          # return an ExecOutcome, or None
        def post_exec(self, context, payload): ...
        def validate(self, context, payload): ...      # return ValidationResults
        def on_deploy_failure(self, context, payload, stage, error): ...

This plugin implements every stage hook ``tryfirst`` and calls the release's
chart's override of that stage, if it has one. So, per stage, the order is:

1. the chart class's method,
2. the plugins' hookimpls (the plugin owning the chart type and the
   cross-cutting plugins; pluggy calls them last-registered-first),
3. the built-in defaults (``trylast``); ``pre_exec``'s ``helm repo add`` and
   ``exec``'s preparation excepted, wrappers that run before all three.

The results contract is the hooks': problems, validation results and debug
lines of all three are concatenated; for ``exec`` the first non-None result
wins, so a method returning an ``ExecOutcome`` replaces the default
``helm upgrade --install`` and returning None lets it run. A method may take
fewer of the stage's arguments (``def validate(self, payload)``), by the
hook's names; a name the hook does not pass is an error when the chart type
is registered (or the chart given to ``Project.from_charts``), and
``firestream plugins --check`` also names a method whose name is close to a
stage but matches none (``def validat(self, context, payload)``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from firestream_core.model import (
    CHART_METHODS,
    HelmChart,
    overridden_chart_methods,
    overrides_chart_method,
)
from firestream_core.plugin.markers import hookimpl

if TYPE_CHECKING:
    from firestream_core.model import ChartPayload, ExecOutcome, ValidationResult
    from firestream_core.plugin.context import DeployContext

FIRESTREAM_PLUGIN_API = 1

__all__ = [
    "STAGE_ARGUMENTS",
    "call_chart_method",
    "chart_method_problems",
    "misnamed_chart_methods",
]

STAGE_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "contribute_values": ("context",),
    "check_prerequisites": ("context", "payload"),
    "pre_exec": ("context", "payload"),
    "exec": ("context", "payload"),
    "post_exec": ("context", "payload"),
    "validate": ("context", "payload"),
    "on_deploy_failure": ("context", "payload", "stage", "error"),
}
"""What each lifecycle method is passed besides ``self`` (the hook's arguments but ``chart``)."""


def _signature(cls: type, stage: str) -> tuple[tuple[str, ...], bool, str]:
    """(parameter names but self, takes ``**kwargs``, ``Class.stage(self, ...)`` for messages)."""
    fn = getattr(cls, stage)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or a callable object: pass everything
        return STAGE_ARGUMENTS[stage], True, f"{cls.__name__}.{stage}"
    params = list(sig.parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    names = tuple(
        p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    shown = ", ".join(["self", *(str(p) for p in params)])
    return names, var_kw, f"{cls.__name__}.{stage}({shown})"


def chart_method_problems(cls: type) -> list[str]:
    """What is wrong with the lifecycle methods ``cls`` overrides (empty: nothing).

    A method may take any of its stage's arguments (:data:`STAGE_ARGUMENTS`)
    by name, and no other::

        >>> import attrs
        >>> @attrs.define
        ... class Bad(HelmChart):
        ...     def validate(self, ctx):
        ...         return []
        >>> chart_method_problems(Bad)
        ["Bad.validate(self, ctx) takes 'ctx', which the stage does not pass; validate passes context, payload"]
    """
    problems: list[str] = []
    for stage in overridden_chart_methods(cls):
        if not callable(getattr(cls, stage)):
            problems.append(f"{cls.__name__}.{stage} is not a method")
            continue
        names, _, shown = _signature(cls, stage)
        unknown = [n for n in names if n not in STAGE_ARGUMENTS[stage]]
        if unknown:
            problems.append(
                f"{shown} takes {', '.join(repr(n) for n in unknown)}, which the stage does not "
                f"pass; {stage} passes {', '.join(STAGE_ARGUMENTS[stage])}"
            )
    return problems


def misnamed_chart_methods(cls: type) -> list[str]:
    """Methods of ``cls`` whose name is close to a lifecycle stage but matches none.

    ``def validat(self, context, payload)`` is never called; this names it.
    """
    out: list[str] = []
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is HelmChart or klass is object:
            break
        for name, value in vars(klass).items():
            if name in seen or name.startswith("__") or not callable(value):
                continue
            seen.add(name)
            if name in CHART_METHODS:
                continue
            import difflib  # a class with methods besides the stages only

            close = difflib.get_close_matches(name.lstrip("_"), CHART_METHODS, n=1, cutoff=0.75)
            if close:
                out.append(
                    f"{cls.__name__}.{name} matches no lifecycle stage and is never called; "
                    f"did you mean {close[0]}? (stages: {', '.join(CHART_METHODS)})"
                )
    return out


@cache
def _call_plan(cls: type, stage: str) -> tuple[tuple[str, ...], bool]:
    problems = [p for p in chart_method_problems(cls) if p.startswith(f"{cls.__name__}.{stage}")]
    if problems:
        raise TypeError(problems[0])
    names, var_kw, _ = _signature(cls, stage)
    return names, var_kw


def call_chart_method(chart: Any, stage: str, /, **arguments: Any) -> Any:
    """Call ``chart``'s own ``stage`` method with the arguments it names; None when it has none.

    :param chart: the release's chart.
    :param stage: a lifecycle stage (:data:`~firestream_core.model.CHART_METHODS`).
    :param arguments: the stage's arguments (:data:`STAGE_ARGUMENTS`).
    :raises TypeError: the method takes an argument the stage does not pass.
    """
    if not isinstance(chart, HelmChart) or not overrides_chart_method(type(chart), stage):
        return None
    cls: type = type(chart)
    names, var_kw = _call_plan(cls, stage)
    given = arguments if var_kw else {n: arguments[n] for n in names}
    return getattr(chart, stage)(**given)


# -- the hookimpls: the chart's method first ----------------------------------------------


@hookimpl(tryfirst=True)
def contribute_values(chart: HelmChart, context: DeployContext) -> Mapping[str, Any] | None:
    """The chart class's ``contribute_values``, if it overrides it."""
    result: Mapping[str, Any] | None = call_chart_method(chart, "contribute_values", context=context)
    return result


@hookimpl(tryfirst=True)
def check_prerequisites(
    chart: HelmChart, context: DeployContext, payload: ChartPayload
) -> list[str] | None:
    """The chart class's ``check_prerequisites``, if it overrides it."""
    return call_chart_method(chart, "check_prerequisites", context=context, payload=payload)


@hookimpl(tryfirst=True)
def pre_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """The chart class's ``pre_exec``, if it overrides it."""
    call_chart_method(chart, "pre_exec", context=context, payload=payload)


@hookimpl(tryfirst=True)
def exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> ExecOutcome | None:  # noqa: A001
    """The chart class's ``exec``, if it overrides it (its non-None result wins)."""
    result: ExecOutcome | None = call_chart_method(chart, "exec", context=context, payload=payload)
    return result


@hookimpl(tryfirst=True)
def post_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """The chart class's ``post_exec``, if it overrides it."""
    call_chart_method(chart, "post_exec", context=context, payload=payload)


@hookimpl(tryfirst=True)
def validate(
    chart: HelmChart, context: DeployContext, payload: ChartPayload
) -> list[ValidationResult] | None:
    """The chart class's ``validate``, if it overrides it."""
    result: list[ValidationResult] | None = call_chart_method(
        chart, "validate", context=context, payload=payload
    )
    return result


@hookimpl(tryfirst=True)
def on_deploy_failure(
    chart: HelmChart,
    context: DeployContext,
    payload: ChartPayload,
    stage: str,
    error: BaseException,
) -> list[str] | None:
    """The chart class's ``on_deploy_failure``, if it overrides it."""
    result: list[str] | None = call_chart_method(
        chart, "on_deploy_failure", context=context, payload=payload, stage=stage, error=error
    )
    return result
