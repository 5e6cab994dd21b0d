"""The ``Kafka`` resource created from the ``kafka_cluster`` option.

A Strimzi 0.38 cluster in ZooKeeper mode: ``plain`` (9092) and ``tls``
(9093) internal listeners, replication factors that fit the number of
brokers, the Topic and User operators, and ``ephemeral`` or
``persistent-claim`` storage. It is applied server-side (stdin) in the
release's namespace, which is the one the operator watches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .chart import KafkaCluster

if TYPE_CHECKING:
    from firestream_core.plugin import ChartInfo, DeployContext

KIND = "kafkas.kafka.strimzi.io"
API_VERSION = "kafka.strimzi.io/v1beta2"


def _storage(cluster: KafkaCluster) -> dict[str, Any]:
    if cluster.storage == "ephemeral":
        return {"type": "ephemeral"}
    return {"type": "persistent-claim", "size": cluster.storage, "deleteClaim": cluster.delete_claim}


def zookeeper_replicas(cluster: KafkaCluster) -> int:
    if cluster.zookeeper_replicas is not None:
        return cluster.zookeeper_replicas
    return 1 if cluster.replicas < 3 else 3


def kafka_manifest(cluster: KafkaCluster, info: ChartInfo) -> dict[str, Any]:
    """The ``Kafka`` object for ``cluster``, owned (by label) by release ``info.name``."""
    n = cluster.replicas
    factor, isr = min(n, 3), min(n, 2)
    kafka: dict[str, Any] = {
        "replicas": n,
        "listeners": [
            {"name": "plain", "port": 9092, "type": "internal", "tls": False},
            {"name": "tls", "port": 9093, "type": "internal", "tls": True},
        ],
        "config": {
            "offsets.topic.replication.factor": factor,
            "transaction.state.log.replication.factor": factor,
            "transaction.state.log.min.isr": isr,
            "default.replication.factor": factor,
            "min.insync.replicas": isr,
        },
        "storage": _storage(cluster),
    }
    if cluster.version:
        kafka["version"] = cluster.version
    return {
        "apiVersion": API_VERSION,
        "kind": "Kafka",
        "metadata": {
            "name": cluster.name,
            "namespace": info.namespace_name,
            "labels": {
                "app.kubernetes.io/managed-by": "firestream",
                "app.kubernetes.io/instance": info.name,
            },
        },
        "spec": {
            "kafka": kafka,
            "zookeeper": {"replicas": zookeeper_replicas(cluster), "storage": _storage(cluster)},
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }


def create_and_wait(context: DeployContext, cluster: KafkaCluster, info: ChartInfo) -> None:
    """Apply the Kafka resource and wait for its ``Ready`` condition.

    :raises HelmTimeoutError: it is not Ready within ``ready_timeout`` (or
        the release's timeout).
    """
    from firestream_core.plugin import HelmTimeoutError

    context.kubectl.apply_server_side(kafka_manifest(cluster, info), namespace=info.namespace_name)
    timeout = cluster.ready_timeout or info.timeout
    context.log.info(
        "Post-exec: Waiting for Kafka cluster '%s' (%d brokers) to be Ready", cluster.name, cluster.replicas
    )
    if not context.kubectl.wait(
        KIND, cluster.name, namespace=info.namespace_name, condition="condition=Ready", timeout=timeout
    ):
        raise HelmTimeoutError(
            f"Kafka cluster '{cluster.name}' of release '{info.name}' was not Ready within {timeout}",
            release=info.name,
        )


def delete(context: DeployContext, cluster: KafkaCluster, info: ChartInfo) -> bool:
    """Delete the Kafka resource (before its operator goes); True when one was deleted."""
    return bool(
        context.kubectl.delete(
            KIND, cluster.name, namespace=info.namespace_name, ignore_not_found=True,
            timeout=info.timeout,
        )
    )
