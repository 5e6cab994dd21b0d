"""Where the PostgreSQL passwords come from, and the Secret that keeps them.

For each of the three passwords bitnami/postgresql reads from
``auth.existingSecret`` (``postgres-password``, ``password``,
``replication-password``), in order:

1. the environment variable named by the option (``password_env``,
   ``user_password_env``, ``replication_password_env``);
2. the chart's values (``auth.postgresPassword``, ``auth.password``,
   ``auth.replicationPassword``), e.g. from ``secret_values`` in the config;
3. the value already in the Secret (never regenerated);
4. a newly generated random password.

Nothing here logs or returns a password; each one is registered with the
run's redactor before anything else happens.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from firestream_core.plugin import PrerequisiteError, is_dry_run

from .chart import (
    ADMIN_PASSWORD_KEY,
    REPLICATION_PASSWORD_KEY,
    USER_PASSWORD_KEY,
    PostgresqlOptions,
    options_of,
)

if TYPE_CHECKING:
    from pathlib import Path

    from firestream_core.plugin import DeployContext, HelmChart

VALUE_KEYS: dict[str, str] = {
    ADMIN_PASSWORD_KEY: "auth.postgresPassword",
    USER_PASSWORD_KEY: "auth.password",
    REPLICATION_PASSWORD_KEY: "auth.replicationPassword",
}
"""Secret key -> the chart value that would otherwise carry that password."""


def _env_options(opts: PostgresqlOptions) -> dict[str, str | None]:
    return {
        ADMIN_PASSWORD_KEY: opts.password_env,
        USER_PASSWORD_KEY: opts.user_password_env,
        REPLICATION_PASSWORD_KEY: opts.replication_password_env,
    }


def missing_environment(chart: HelmChart, environ: Mapping[str, str] | None = None) -> list[str]:
    """Problems with the environment variables the options name (unset or empty)."""
    env = os.environ if environ is None else environ
    opts = options_of(chart)
    fields = {
        ADMIN_PASSWORD_KEY: "password_env",
        USER_PASSWORD_KEY: "user_password_env",
        REPLICATION_PASSWORD_KEY: "replication_password_env",
    }
    problems = []
    for key, var in _env_options(opts).items():
        if var is not None and not env.get(var):
            problems.append(
                f"release '{chart.chart_info.name}': environment variable '{var}' "
                f"(option {fields[key]}) is not set or empty"
            )
    return problems


def configured_passwords(
    chart: HelmChart, context: DeployContext, environ: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """Secret key -> the configured password, or None (keep or generate)."""
    from firestream_core.plugin import chart_value

    env = os.environ if environ is None else environ
    info = chart.chart_info
    out: dict[str, str | None] = {}
    for key, var in _env_options(options_of(chart)).items():
        value: Any = env.get(var) if var else None
        if not value:
            value = chart_value(info, VALUE_KEYS[key], project_dir=context.project_dir)
        out[key] = str(value) if value not in (None, "") else None
    return out


def user_secret(chart: HelmChart, context: DeployContext) -> str | None:
    """The Secret the user manages, if any: option ``existing_secret`` or their own value."""
    return user_secret_in(chart, context.project_dir)


def user_secret_in(chart: HelmChart, project_dir: Path) -> str | None:
    """:func:`user_secret` from the config alone (the project folder resolves values files)."""
    from firestream_core.plugin import chart_value

    opts = options_of(chart)
    if opts.existing_secret:
        return opts.existing_secret
    given = chart_value(chart.chart_info, "auth.existingSecret", project_dir=project_dir)
    if given and given != opts.secret_name(chart.chart_info.name):
        return str(given)
    return None


def destroy_steps(chart: HelmChart, project_dir: Path) -> list[str]:
    """What a destroy removes besides helm's uninstall (``ChartType.destroy_steps``), as
    ``post_exec`` decides it: the Secret firestream keeps the passwords in, with
    ``delete_secret_on_destroy`` (never the user's own Secret)."""
    if not options_of(chart).delete_secret_on_destroy or user_secret_in(chart, project_dir) is not None:
        return []
    name = options_of(chart).secret_name(chart.chart_info.name)
    return [f"delete Secret '{name}' (namespace '{chart.chart_info.namespace_name}') holding the "
            "database passwords (delete_secret_on_destroy = true)"]


def auth_secret(chart: HelmChart, context: DeployContext) -> str:
    """The Secret the chart reads its passwords from: the user's own, else firestream's."""
    return user_secret(chart, context) or options_of(chart).secret_name(chart.chart_info.name)


def plan_auth(chart: HelmChart, context: DeployContext) -> None:
    """Tell the plan what ``pre_exec`` (:func:`prepare_auth`) will do to an installed release's Secret.

    A password configured through a variable (``password_env``) is in no value helm
    holds: a new one planned the release as up to date, and the next upgrade for
    another reason then wrote it into the Secret unseen, while PostgreSQL keeps the
    password it was initialised with (its clients, reading the Secret, are then
    refused). So the Secret is read (its values registered with the run's redactor)
    and compared: a configured password it does not hold, or a missing Secret, makes
    the release out of date, with the step said (``plan_secret``). For a create, a Secret an
    earlier install left (a destroy keeps it for the volumes) whose passwords ``pre_exec`` will
    set is said as a step too. Nothing for the user's own Secret, or ``firestream validate``.
    """
    from firestream_core.plugin import plan_secret

    info = chart.chart_info
    if user_secret(chart, context) is not None:
        return
    plan_secret(
        context,
        name=options_of(chart).secret_name(info.name),
        namespace=info.namespace_name,
        keys=configured_passwords(chart, context),
        holding="the database passwords",
        keeps="PostgreSQL keeps the passwords it was initialised with until they are changed in the database too",
    )


def prepare_auth(chart: HelmChart, context: DeployContext) -> dict[str, Any]:
    """Keep the passwords in the Secret the chart reads; return a payload summary (no values).

    The chart is pointed at the Secret by ``contribute_values``
    (:func:`auth_secret`), not here.

    :raises PrerequisiteError: a user-managed Secret does not exist.
    """
    from firestream_core.plugin import ensure_namespace, ensure_secret

    info = chart.chart_info
    ns = info.namespace_name
    theirs = user_secret(chart, context)
    if theirs is not None:
        if not is_dry_run(chart, context) and context.kubectl.get("secret", theirs, namespace=ns) is None:
            raise PrerequisiteError(
                f"release '{info.name}': Secret '{theirs}' (existing_secret) does not exist "
                f"in namespace '{ns}'",
                hint="create it with the keys postgres-password (and password / "
                "replication-password when used), or drop existing_secret to let firestream "
                "create one",
            )
        return {"auth_secret": theirs, "managed": False}

    opts = options_of(chart)
    name = opts.secret_name(info.name)
    wanted = configured_passwords(chart, context)
    if info.create_namespace:
        ensure_namespace(context, ns)
    outcome = ensure_secret(
        context,
        name=name,
        namespace=ns,
        keys=wanted,
        release=info.name,
        length=opts.password_length,
        labels={"app.kubernetes.io/component": "postgresql-auth"},
    )
    if outcome.existed and outcome.configured and outcome.written:
        context.log.warning(
            "release '%s': Secret '%s' now holds the configured password for %s; "
            "PostgreSQL keeps the password it was initialised with until it is changed "
            "in the database too",
            info.name, name, ", ".join(outcome.configured),
        )
    if outcome.generated:
        context.log.info(
            "release '%s': generated %s in Secret '%s' (namespace '%s')",
            info.name, ", ".join(outcome.generated), name, ns,
        )
    return {"auth_secret": name, "managed": True, **outcome.to_payload()}
