"""The hooks firestream calls, in the order it calls them.

``contribute_values(chart, context)`` comes first: the pure desired-state
stage that ``plan``, ``apply``, ``template`` and ``diff`` share. Every stage
hook is called **for one release at a time** and receives the same three
arguments:

* ``chart`` - the release's :class:`~firestream_core.model.HelmChart`
  (``chart.chart_info`` is its :class:`~firestream_core.model.ChartInfo`,
  ``chart.options`` its chart-type options),
* ``context`` - the :class:`~firestream_core.plugin.context.DeployContext`: the helm
  and kubectl runners, the cluster state seen for this release, the
  repositories, the logger and the redactor,
* ``payload`` - the release's :class:`~firestream_core.model.ChartPayload`,
  one mapping shared by all of its stages so an earlier stage can hand data
  to a later one; each plugin keeps its data under its own
  :meth:`~firestream_core.model.ChartPayload.section`.

Only the implementations that concern the release are called: the
implementations of the plugin that registered the release's chart type,
the implementations of plugins that register no chart type at all
(cross-cutting plugins such as an audit logger) and the core's built-in
defaults. Per stage, the release's chart class's own method runs first (when
the class overrides the stage: the built-in ``chart-methods`` plugin is
``tryfirst``), then the plugins' implementations last-registered-first, then
the built-in defaults (``trylast``). pluggy knows nothing of ``depends_on``:
the core orders the releases and calls these hooks for each release in turn.

An implementation may accept fewer arguments than its spec (pluggy passes
only those it names), so hooks gain arguments without breaking plugins.
A stage fails by raising; any exception from ``pre_exec``, ``exec``,
``post_exec`` or ``validate``, and a failed validation, make the runner call
``on_deploy_failure``. The core prefixes errors and problems with the
release (``release 'db' failed at pre_exec: ...``): a message need not name it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from firestream_core.plugin.markers import hookspec

if TYPE_CHECKING:
    from firestream_core.model import ChartPayload, ChartType, HelmChart, ValidationResult
    from firestream_core.plugin.context import DeployContext


# -----------------------------------------------------------------------------
# Registration: called once when the plugin manager is built
# -----------------------------------------------------------------------------


@hookspec
def register_chart_types(register: Callable[[ChartType], None]) -> None:
    """Register the chart types this plugin provides.

    Call ``register(ChartType(name=..., chart_class=..., presets=...))`` once
    per chart type. The core checks names and refuses a chart type that two
    distributions register.

    :param register: callback taking a :class:`~firestream_core.model.ChartType`.
    :return: nothing; all implementations are called.
    """


# -----------------------------------------------------------------------------
# The desired state of one release: pure, run by plan, apply, template and diff
# -----------------------------------------------------------------------------


@hookspec
def contribute_values(chart: HelmChart, context: DeployContext) -> Mapping[str, Any] | None:
    """Contribute chart values computed from the release's options and config.

    The **desired-state stage**: the values a plugin adds to the chart (a
    Secret's name for ``auth.existingSecret``, Grafana pointed at its admin
    Secret) belong here, not in ``check_prerequisites`` or ``pre_exec``, which
    ``plan`` and ``template`` never run. ``plan``, ``apply``, ``template`` and
    ``diff`` all call it the same way, once per release, before anything
    else, so what the plan shows is what apply deploys and what template
    renders. ``pre_exec`` keeps only the side effects on the cluster (create
    the Secret the contributed value names, apply CRDs, make namespaces).

    It must be **pure**: the same chart gives the same values, and nothing in
    the cluster is changed. Reads are allowed (``context.kubectl.get``,
    ``context.helm.get_values``); ``context.helm`` and ``context.kubectl`` are
    read-only views that raise on any write. ``context.installed`` is the
    release as the plan's cluster-state call saw it; ``context.change`` is
    None (the action is not decided yet).

    A chart-type option that only acts after helm (a Kafka cluster created in
    ``post_exec``) needs no value: every option is part of the release's
    desired state, and changing it plans an upgrade (``option kafka_cluster
    changed``) that runs the lifecycle, ``post_exec`` included.

    :param chart: the release's chart (its ``chart_info`` and ``options``).
    :param context: read-only tools, the plan's view of the release, settings.
    :return: a nested values mapping (``{"auth": {"existingSecret": "db-auth"}}``)
        or None. All implementations are called; their mappings are merged
        in call order (a later one wins on the same key) and over every other
        value of the release (config, preset, values files).
    """


# -----------------------------------------------------------------------------
# The lifecycle of one release, in order
# -----------------------------------------------------------------------------


@hookspec
def check_prerequisites(
    chart: HelmChart, context: DeployContext, payload: ChartPayload
) -> list[str] | None:
    """Check that the release can be deployed, before anything is changed.

    The default checks that every values file exists and is readable.

    :param chart: the release's chart (its ``chart_info`` and ``options``).
    :param context: tools, cluster state and settings of this run.
    :param payload: data shared with this release's later stages.
    :return: a list of problems (each one readable sentence), or None when
        there are none. All implementations are called; their problems are
        collected and any problem stops the release before ``pre_exec``.
    """


@hookspec
def pre_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """Prepare the cluster for the release, before helm runs.

    The default adds the chart's helm repository (once per run). Charts add
    their own preparation: apply CRDs, create Secrets, adapt old resources.

    :param chart: the release's chart.
    :param context: tools, cluster state and settings of this run.
    :param payload: data shared with this release's later stages.
    :return: nothing; all implementations are called. Raise to fail.
    """


@hookspec(firstresult=True)
def exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> Any | None:  # noqa: A001
    """Carry out the release's action.

    The default is two steps. First, around every other implementation, the
    built-in wrapper prepares a ``Deploy``: a ``pending-*`` release is
    recovered and the plan's breaking-version step taken; what it did is
    ``context.prepared`` (:class:`~firestream_core.plugin.context.PreparedRelease`).
    Last, ``helm upgrade --install`` for ``Deploy``, ``helm uninstall`` for
    ``Destroy`` and nothing for ``Skip``.

    A chart plugin with a step of its own before helm (an operator's CRDs)
    implements it as a pluggy new-style wrapper, ``@hookimpl(wrapper=True)``:
    its code before ``return (yield)`` runs between the preparation and helm,
    and the value of ``yield`` is the outcome of the implementations inside
    it. It never returns None from a plain ``exec`` to run first.

    :param chart: the release's chart.
    :param context: tools, cluster state and settings of this run.
    :param payload: data shared with this release's later stages.
    :return: an :class:`~firestream_core.model.ExecOutcome` (any non-None
        value). **First non-None result wins**: a chart plugin that returns
        a value replaces the default; returning None lets the default run.
    """


@hookspec
def post_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """Finish the release after helm succeeded.

    Wait for resources, create additional objects, configure integrations.
    The default does nothing.

    :param chart: the release's chart.
    :param context: tools, cluster state and settings of this run.
    :param payload: data shared with this release's later stages.
    :return: nothing; all implementations are called. Raise to fail.
    """


@hookspec
def validate(
    chart: HelmChart, context: DeployContext, payload: ChartPayload
) -> list[ValidationResult] | None:
    """Check that the release works.

    The default checks ``release_exists`` and ``pods_running`` (the workloads of
    the release's manifest, the pods labelled ``app.kubernetes.io/instance=<name>``) for ``Deploy`` and
    ``release_removed`` for ``Destroy``.

    :param chart: the release's chart.
    :param context: tools, cluster state and settings of this run.
    :param payload: data shared with this release's later stages.
    :return: a list of :class:`~firestream_core.model.ValidationResult`, or
        None. All implementations are called and their results concatenated;
        a failed result fails the release (unless configured as a warning),
        a pending one makes the runner ask again until the release timeout.
    """


@hookspec
def on_deploy_failure(
    chart: HelmChart,
    context: DeployContext,
    payload: ChartPayload,
    stage: str,
    error: BaseException,
) -> list[str] | None:
    """Collect debug information after a stage raised or validation failed.

    The default gathers the release's events, its pods' status and their
    last log lines, redacted.

    :param chart: the release's chart.
    :param context: tools, cluster state and settings of this run.
    :param payload: data shared with this release's stages.
    :param stage: the stage that failed (``pre_exec``, ``exec``, ``post_exec``,
        ``validate``).
    :param error: the exception it raised; for a failed validation a
        :class:`~firestream_core.errors.ValidationFailedError`.
    :return: lines of debug information, or None. All implementations are
        called; an exception raised here is logged, never masks ``error``.
    """


STAGES: tuple[str, ...] = (
    "check_prerequisites",
    "pre_exec",
    "exec",
    "post_exec",
    "validate",
)
"""The lifecycle stages in the order the runner calls them."""

ALL_HOOKS: tuple[str, ...] = ("register_chart_types", "contribute_values", *STAGES, "on_deploy_failure")
"""Every hook of this spec, in order (used by the docs meta-test)."""
