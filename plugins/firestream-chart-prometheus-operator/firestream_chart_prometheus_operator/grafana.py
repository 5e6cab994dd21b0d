"""Grafana's admin password, kept in a Secret instead of ``grafana.adminPassword=admin``.

The password comes from the environment variable named by
``grafana_password_env``, else from the chart's ``grafana.adminPassword``
value (e.g. ``secret_values``), else from the Secret already there, else it
is generated. The Grafana subchart is pointed at the Secret with
``grafana.admin.existingSecret`` / ``userKey`` / ``passwordKey``, values the
plugin contributes in the pure ``contribute_values`` stage (:func:`admin_values`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from firestream_core.plugin import value_of

from .chart import options_of

if TYPE_CHECKING:
    from firestream_core.plugin import DeployContext, HelmChart

USER_KEY = "admin-user"
PASSWORD_KEY = "admin-password"


def grafana_enabled(chart: HelmChart, context: DeployContext) -> bool:
    return bool(value_of(chart, context, "grafana.enabled", True))


def grafana_namespace(chart: HelmChart, context: DeployContext) -> str:
    """Where Grafana runs, and so where its admin Secret must be: the grafana subchart's own
    ``grafana.namespaceOverride`` (upstream's ``grafana.namespace``), else the release's namespace."""
    return str(value_of(chart, context, "grafana.namespaceOverride") or chart.chart_info.namespace_name)


def users_own_secret(chart: HelmChart, context: DeployContext) -> str | None:
    """A Grafana admin Secret the user configured themselves (not firestream's)."""
    given = value_of(chart, context, "grafana.admin.existingSecret")
    ours = options_of(chart).grafana_secret_name(chart.chart_info.name)
    return str(given) if given and given != ours else None


def missing_environment(chart: HelmChart, environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    var = options_of(chart).grafana_password_env
    if var is not None and not env.get(var):
        return [
            f"release '{chart.chart_info.name}': environment variable '{var}' "
            "(option grafana_password_env) is not set or empty"
        ]
    return []


def admin_values(chart: HelmChart, context: DeployContext) -> dict[str, Any] | None:
    """Grafana pointed at the admin Secret firestream keeps (``grafana.admin.*``), or None.

    None when Grafana is off or the user configured their own Secret.
    """
    if not grafana_enabled(chart, context) or users_own_secret(chart, context):
        return None
    name = options_of(chart).grafana_secret_name(chart.chart_info.name)
    return {"grafana": {"admin": {"existingSecret": name, "userKey": USER_KEY, "passwordKey": PASSWORD_KEY}}}


def configured_admin(
    chart: HelmChart, context: DeployContext, environ: Mapping[str, str] | None = None
) -> tuple[str, str | None]:
    """The configured admin user and password (None: keep the Secret's, or generate one)."""
    env = os.environ if environ is None else environ
    opts = options_of(chart)
    password = env.get(opts.grafana_password_env) if opts.grafana_password_env else None
    if not password:
        given = value_of(chart, context, "grafana.adminPassword")
        password = str(given) if given not in (None, "") else None
    return str(value_of(chart, context, "grafana.adminUser", opts.grafana_admin_user)), password


def plan_grafana_admin(chart: HelmChart, context: DeployContext) -> None:
    """Tell the plan what :func:`prepare_grafana_admin` will change in an installed release's Secret.

    A password configured through ``grafana_password_env`` is in no value helm holds, so
    the Secret is read (values registered with the redactor) and a configured user or
    password it does not hold, or a deleted Secret, makes the release out of date with
    the step said (``plan_secret``); for a create, a Secret an earlier install left that
    ``pre_exec`` will change is said as a step too. Nothing for Grafana off, the user's own
    Secret, or ``firestream validate``.
    """
    from firestream_core.plugin import plan_secret

    if not grafana_enabled(chart, context) or users_own_secret(chart, context):
        return
    info = chart.chart_info
    user, password = configured_admin(chart, context)
    plan_secret(
        context,
        name=options_of(chart).grafana_secret_name(info.name),
        namespace=grafana_namespace(chart, context),
        keys={PASSWORD_KEY: password},
        plain={USER_KEY: user},
        holding="the Grafana admin password",
        keeps="Grafana keeps the admin password it first started with until it is changed in Grafana too",
    )


def prepare_grafana_admin(
    chart: HelmChart, context: DeployContext, environ: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """Create or reuse the admin Secret Grafana reads (:func:`admin_values`); a payload summary (no values)."""
    from firestream_core.plugin import ensure_namespace, ensure_secret

    if not grafana_enabled(chart, context) or users_own_secret(chart, context):
        return None
    info = chart.chart_info
    opts = options_of(chart)
    name = opts.grafana_secret_name(info.name)
    user, password = configured_admin(chart, context, environ)
    namespace = grafana_namespace(chart, context)
    if info.create_namespace and namespace == info.namespace_name:
        ensure_namespace(context, info.namespace_name)  # an override's namespace is the user's to make
    outcome = ensure_secret(
        context,
        name=name,
        namespace=namespace,
        keys={PASSWORD_KEY: password},
        plain={USER_KEY: user},
        release=info.name,
        length=opts.password_length,
        labels={"app.kubernetes.io/component": "grafana-admin"},
    )
    if PASSWORD_KEY in outcome.generated:
        context.log.info(
            "release '%s': generated the Grafana admin password in Secret '%s' (namespace '%s')",
            info.name, name, namespace,
        )
    return outcome.to_payload()
