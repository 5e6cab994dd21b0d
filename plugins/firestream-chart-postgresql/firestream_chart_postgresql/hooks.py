"""The ``postgresql`` chart type's hook implementations.

Only the stages it changes: the built-in defaults add the repository, run
``helm upgrade --install`` / ``helm uninstall`` and check the release and
its pods.

* ``check_prerequisites`` - the environment variables the options name are set.
* ``contribute_values`` (deploy; pure: plan and template see it too) - the
  chart is pointed at the passwords' Secret with ``auth.existingSecret``;
  ``metrics.serviceMonitor.enabled`` (on in the presets, as in the original)
  stays on only when the ServiceMonitor CRD is installed or the release
  depends on the project's prometheus-operator release; otherwise it is
  turned off and the plan says why. Set by the user without the CRD: the
  plan refuses the release. A PostgreSQL major crossed without a documented
  way (``major_upgrade``) is refused the same way (:mod:`.major`).
* ``pre_exec`` (deploy) - the passwords go to that Secret (:mod:`.auth`).
* ``post_exec`` (destroy) - the Secret is deleted only with
  ``delete_secret_on_destroy = true``.
* ``validate`` (deploy) - the StatefulSets are ready, the primary Service and
  the auth Secret exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from firestream_core.plugin import ChartType, HelmAction, ValidationResult, hookimpl, is_dry_run

from .chart import REPOSITORY, REPOSITORY_URL, PostgresqlChart, PostgresqlOptions, options_of

if TYPE_CHECKING:
    from pathlib import Path

    from firestream_core.plugin import ChartPayload, DeployContext, HelmChart

PAYLOAD_KEY = "postgresql"


def chart_type() -> ChartType:
    """The ``postgresql`` chart type as registered."""
    return ChartType(
        name="postgresql",
        chart_class=PostgresqlChart,
        presets={
            "default": PostgresqlChart.default,
            "development": PostgresqlChart.development,
            "production": PostgresqlChart.production,
        },
        options=PostgresqlOptions,
        repositories={REPOSITORY: REPOSITORY_URL},
        description="bitnami/postgresql 17.1.0; passwords kept in a Secret, never on argv",
        destroy_steps=_destroy_steps,
    )


def _destroy_steps(chart: HelmChart, project_dir: Path) -> list[str]:
    """``ChartType.destroy_steps``: :func:`.auth.destroy_steps` (imported when a destroy is planned)."""
    from .auth import destroy_steps

    return destroy_steps(chart, project_dir)


@hookimpl
def register_chart_types(register: Callable[[ChartType], None]) -> None:
    """Register the ``postgresql`` chart type."""
    register(CHART_TYPE)


CHART_TYPE = chart_type()
"""The chart type, built on import: from then on the chart class's ``chart_type`` is its name."""


SERVICEMONITOR_CRD = "servicemonitors.monitoring.coreos.com"


@hookimpl
def check_prerequisites(chart: HelmChart, context: DeployContext) -> list[str] | None:
    """The ``*_password_env`` variables are set; a ServiceMonitor can be created if asked."""
    from .auth import missing_environment

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    return missing_environment(chart) or None


def servicemonitor_values(chart: HelmChart, context: DeployContext) -> dict[str, Any] | None:
    """``metrics.serviceMonitor.enabled = false`` when the preset's ServiceMonitor cannot be created.

    Decided in the desired state (:func:`~firestream_core.plugin.needs_crd`):
    the plan notes why it is off; one the user asked for without its CRD is
    refused.
    """
    from firestream_core.plugin import needs_crd, value_of

    if not value_of(chart, context, "metrics.enabled", False):
        return None
    return needs_crd(chart, context, "metrics.serviceMonitor.enabled", SERVICEMONITOR_CRD,
                     provider="prometheus-operator")


@hookimpl
def contribute_values(chart: HelmChart, context: DeployContext) -> dict[str, Any] | None:
    """``auth.existingSecret`` (the user's own Secret, else the one ``pre_exec`` keeps), what
    ``pre_exec`` will change in that Secret (:func:`.auth.plan_auth`), the ServiceMonitor
    decision, and the PostgreSQL major-version decision (:mod:`.major`).
    When ``pre_exec`` keeps the Secret and ``create_namespace`` is on, it creates the namespace
    first (``ensure_namespace``): said for the plan (``context.creates_namespace``)."""
    from .auth import auth_secret, plan_auth, user_secret
    from .major import decide_major_upgrade

    if chart.chart_info.action is not HelmAction.DEPLOY:
        return None
    decide_major_upgrade(chart, context)
    plan_auth(chart, context)
    if chart.chart_info.create_namespace and user_secret(chart, context) is None:
        context.creates_namespace()  # prepare_auth's ensure_namespace, before helm
    values: dict[str, Any] = {"auth": {"existingSecret": auth_secret(chart, context)}}
    values.update(servicemonitor_values(chart, context) or {})  # {"metrics": ...}: no key shared
    return values


@hookimpl
def pre_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """Keep the passwords in the Secret the chart reads (``auth.existingSecret``)."""
    from .auth import prepare_auth

    if chart.chart_info.action is not HelmAction.DEPLOY:
        return
    payload[PAYLOAD_KEY] = prepare_auth(chart, context)


@hookimpl
def post_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """On destroy, delete the managed Secret when ``delete_secret_on_destroy`` is set (the step
    the destroy plan shows: :func:`.auth.destroy_steps` decides both; never the user's own Secret)."""
    from .auth import destroy_steps

    info = chart.chart_info
    if info.action is not HelmAction.DESTROY or not destroy_steps(chart, context.project_dir):
        return
    name = options_of(chart).secret_name(info.name)
    if is_dry_run(chart, context):
        context.log.info("release '%s': would delete Secret '%s'", info.name, name)
        return
    context.kubectl.delete("secret", name, namespace=info.namespace_name, ignore_not_found=True)
    context.log.info("release '%s': deleted Secret '%s'", info.name, name)


@hookimpl
def validate(
    chart: HelmChart, context: DeployContext, payload: ChartPayload
) -> list[ValidationResult] | None:
    """StatefulSets ready, primary Service and auth Secret present."""
    from firestream_core.plugin import checks

    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return None
    ns = info.namespace_name
    release = f"app.kubernetes.io/instance={info.name}"
    secret = (payload.get(PAYLOAD_KEY) or {}).get("auth_secret") or options_of(chart).secret_name(
        info.name
    )
    return [
        checks.statefulset_ready(
            context, namespace=ns, selector=release, check="postgresql_statefulset_ready"
        ),
        checks.service_exists(
            context,
            namespace=ns,
            selector=f"{release},app.kubernetes.io/component=primary",
            check="postgresql_service",
        ),
        _secret_exists(context, secret, ns),
    ]


def _secret_exists(context: DeployContext, name: str, namespace: str) -> ValidationResult:
    check = "postgresql_auth_secret"
    if context.kubectl.get("secret", name, namespace=namespace) is None:
        return ValidationResult.fail(check, f"Secret '{name}' not found in namespace '{namespace}'")
    return ValidationResult.ok(check, f"Secret '{name}' holds the passwords")
