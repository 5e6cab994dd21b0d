"""firestream chart plugin: kube-prometheus-stack (the Prometheus Operator).

Install it and ``[[deployments.prometheus-operator]]`` works in ``firestream.toml``::

    pip install firestream-chart-prometheus-operator

From Python, as in the seed::

    from firestream_chart_prometheus_operator import PrometheusOperatorChart

    prometheus = PrometheusOperatorChart()      # the defaults

helm never upgrades a chart's CRDs: this plugin applies them before each
upgrade, handles breaking versions, and deletes them only when asked
(``delete_crds = true``). Grafana's admin password is kept in a Secret.
"""

from __future__ import annotations

from .chart import PrometheusOperatorChart, PrometheusOperatorOptions
from .hooks import (
    check_prerequisites,
    contribute_values,
    exec,
    post_exec,
    pre_exec,
    register_chart_types,
    validate,
)

FIRESTREAM_PLUGIN_API = 6  # contribute_values with context.exec_step / out_of_date / creates_namespace;
#                             ChartType.destroy_steps, with a read-only context; context.planned_steps

__all__ = [
    "FIRESTREAM_PLUGIN_API",
    "PrometheusOperatorChart",
    "PrometheusOperatorOptions",
    "check_prerequisites",
    "contribute_values",
    "exec",
    "post_exec",
    "pre_exec",
    "register_chart_types",
    "validate",
]
