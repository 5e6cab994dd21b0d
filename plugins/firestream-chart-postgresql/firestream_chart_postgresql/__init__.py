"""firestream chart plugin: bitnami/postgresql.

Install it and ``[[deployments.postgresql]]`` works in ``firestream.toml``::

    pip install firestream-chart-postgresql

From Python, as in the seed::

    from firestream_chart_postgresql import PostgresqlChart

    chart = PostgresqlChart.development()
    chart.get_chart_info_mut().timeout = "600s"

No password is ever hard-coded or passed on helm's command line: the
passwords are taken from the configuration or the environment, or generated,
and kept in a Kubernetes Secret the chart reads (``auth.existingSecret``).
"""

from __future__ import annotations

from .chart import PostgresqlChart, PostgresqlOptions
from .hooks import (
    check_prerequisites,
    contribute_values,
    post_exec,
    pre_exec,
    register_chart_types,
    validate,
)

FIRESTREAM_PLUGIN_API = 5  # contribute_values with context.note / refuse / require_breaking_version /
#                             exec_step / out_of_date / creates_namespace; ChartType.destroy_steps

__all__ = [
    "FIRESTREAM_PLUGIN_API",
    "PostgresqlChart",
    "PostgresqlOptions",
    "check_prerequisites",
    "contribute_values",
    "post_exec",
    "pre_exec",
    "register_chart_types",
    "validate",
]
