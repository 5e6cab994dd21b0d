"""The ``Kafka`` and ``KafkaNodePool`` resources created from the ``kafka_cluster`` option.

A KRaft cluster, as Strimzi runs it since 0.46.0 (ZooKeeper was removed
then; the default chart is 1.2.0): one ``KafkaNodePool`` whose nodes are
both controllers and brokers, holding the replicas and the storage
(``ephemeral``, or a ``persistent-claim`` JBOD volume that also keeps the
KRaft metadata), and a ``Kafka`` with ``plain`` (9092) and ``tls`` (9093)
internal listeners, replication factors that fit the number of brokers, and
the Topic and User operators. Both are applied server-side (stdin) in the
release's namespace, which is the one the operator watches.

Both are written in API ``kafka.strimzi.io/v1`` (Strimzi 0.49.0 added it,
1.0.0 removed ``v1beta2``), or ``v1beta2`` with the KRaft and node-pool
opt-in annotations for a chart pinned below 0.49.0 / 0.48.0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .chart import KafkaCluster

if TYPE_CHECKING:
    from firestream_core.plugin import ChartInfo, DeployContext

KIND = "kafkas.kafka.strimzi.io"
POOL_KIND = "kafkanodepools.kafka.strimzi.io"
API_VERSION = "kafka.strimzi.io/v1"
"""What the plugin writes for strimzi-kafka-operator 0.49.0 and later: 0.49.0 added ``v1``, 1.0.0
removed ``v1beta2`` (the 1.2.0 default serves only ``v1``)."""
OLD_API_VERSION = "kafka.strimzi.io/v1beta2"
"""What it writes for a chart pinned below 0.49.0, which does not serve ``v1``."""
V1_SINCE = "0.49.0"
ANNOTATIONS_UNTIL = "0.48.0"
"""From 0.48.0 KRaft and node pools are the default and the opt-in annotations are ignored."""


def _below(info: ChartInfo, version: str) -> bool:
    """The release's chart version is older than ``version`` (False when unknown: the default is newer)."""
    from firestream_core.plugin import SemVer

    try:
        return SemVer.parse(str(info.version)) < SemVer.parse(version)
    except ValueError:
        return False


def api_version(info: ChartInfo) -> str:
    """``kafka.strimzi.io/v1``, or ``v1beta2`` for a chart pinned below 0.49.0.

    >>> from firestream_core.plugin import ChartInfo
    >>> api_version(ChartInfo(name="kafka", version="1.2.0")), api_version(ChartInfo(name="kafka", version="0.45.0"))
    ('kafka.strimzi.io/v1', 'kafka.strimzi.io/v1beta2')
    """
    return OLD_API_VERSION if _below(info, V1_SINCE) else API_VERSION


def _storage(cluster: KafkaCluster) -> dict[str, Any]:
    if cluster.storage == "ephemeral":
        return {"type": "ephemeral", "kraftMetadata": "shared"}
    return {
        "type": "jbod",
        "volumes": [{
            "id": 0, "type": "persistent-claim", "size": cluster.storage,
            "deleteClaim": cluster.delete_claim, "kraftMetadata": "shared",
        }],
    }


def _metadata(cluster: KafkaCluster, info: ChartInfo, name: str, **labels: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": info.namespace_name,
        "labels": {
            "app.kubernetes.io/managed-by": "firestream",
            "app.kubernetes.io/instance": info.name,
            **labels,
        },
    }


def pool_name(cluster: str) -> str:
    """The node pool's name of the Kafka cluster named ``cluster``: ``<cluster>-nodes``."""
    return f"{cluster}-nodes"


def node_pool_manifest(cluster: KafkaCluster, info: ChartInfo) -> dict[str, Any]:
    """The ``KafkaNodePool`` of ``cluster``: ``replicas`` nodes, each controller and broker."""
    return {
        "apiVersion": api_version(info),
        "kind": "KafkaNodePool",
        "metadata": _metadata(cluster, info, pool_name(cluster.name), **{"strimzi.io/cluster": cluster.name}),
        "spec": {
            "replicas": cluster.replicas,
            "roles": ["controller", "broker"],
            "storage": _storage(cluster),
        },
    }


def cluster_manifests(cluster: KafkaCluster, info: ChartInfo) -> list[dict[str, Any]]:
    """What ``post_exec`` applies: the node pool, then the ``Kafka`` that uses it."""
    return [node_pool_manifest(cluster, info), kafka_manifest(cluster, info)]


def kafka_manifest(cluster: KafkaCluster, info: ChartInfo) -> dict[str, Any]:
    """The ``Kafka`` object for ``cluster`` (KRaft, node pools), owned (by label) by release ``info.name``."""
    n = cluster.replicas
    factor, isr = min(n, 3), min(n, 2)
    kafka: dict[str, Any] = {
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
    }
    if cluster.version:
        kafka["version"] = cluster.version
    metadata = _metadata(cluster, info, cluster.name)
    if _below(info, ANNOTATIONS_UNTIL):  # Strimzi 0.36-0.47: KRaft and node pools are opt-in
        metadata["annotations"] = {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}
    return {
        "apiVersion": api_version(info),
        "kind": "Kafka",
        "metadata": metadata,
        "spec": {
            "kafka": kafka,
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }


def create_and_wait(context: DeployContext, cluster: KafkaCluster, info: ChartInfo) -> None:
    """Apply the Kafka resource and wait for its ``Ready`` condition.

    :raises HelmTimeoutError: it is not Ready within ``ready_timeout`` (or
        the release's timeout).
    """
    from firestream_core.plugin import HelmTimeoutError

    context.kubectl.apply_server_side(cluster_manifests(cluster, info), namespace=info.namespace_name)
    timeout = cluster.ready_timeout or info.timeout
    context.log.info(
        "release '%s': waiting for Kafka cluster '%s' (%d nodes) to be Ready", info.name, cluster.name,
        cluster.replicas,
    )
    if not context.kubectl.wait(
        KIND, cluster.name, namespace=info.namespace_name, condition="condition=Ready", timeout=timeout
    ):
        raise HelmTimeoutError(
            f"Kafka cluster '{cluster.name}' of release '{info.name}' was not Ready within {timeout}",
            release=info.name,
        )


def delete(context: DeployContext, cluster: KafkaCluster, info: ChartInfo) -> bool:
    """Delete the Kafka resource and its node pool (before their operator goes); True when
    the Kafka was deleted."""
    deleted = bool(
        context.kubectl.delete(
            KIND, cluster.name, namespace=info.namespace_name, ignore_not_found=True,
            timeout=info.timeout,
        )
    )
    context.kubectl.delete(
        POOL_KIND, pool_name(cluster.name), namespace=info.namespace_name, ignore_not_found=True,
        timeout=info.timeout,
    )
    return deleted
