"""firestream chart plugin: the Strimzi Kafka operator, and optionally a Kafka cluster.

Install it and ``[[deployments.kafka]]`` works in ``firestream.toml``::

    pip install firestream-chart-kafka

From Python, as in the seed::

    from firestream_chart_kafka import KafkaChart

    kafka = KafkaChart.strimzi_operator().with_cluster(name="events", replicas=3, storage="10Gi")
"""

from __future__ import annotations

from .chart import KafkaChart, KafkaCluster, KafkaOptions
from .hooks import (
    contribute_values,
    exec,
    on_deploy_failure,
    post_exec,
    pre_exec,
    register_chart_types,
    validate,
)

FIRESTREAM_PLUGIN_API = 5  # contribute_values with context.refuse / exec_step; ChartType.destroy_steps

__all__ = [
    "FIRESTREAM_PLUGIN_API",
    "KafkaChart",
    "KafkaCluster",
    "KafkaOptions",
    "contribute_values",
    "exec",
    "on_deploy_failure",
    "post_exec",
    "pre_exec",
    "register_chart_types",
    "validate",
]
