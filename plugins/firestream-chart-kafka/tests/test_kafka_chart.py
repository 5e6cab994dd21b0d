"""The kafka chart type without a cluster: the operator's defaults, options, the Kafka manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from firestream_chart_kafka import KafkaChart, KafkaCluster, KafkaOptions
from firestream_chart_kafka.cluster import cluster_manifests, kafka_manifest, node_pool_manifest

from firestream_core.config.build import build_charts
from firestream_core.config.load import load_config
from firestream_core.config.plugin_check import check_plugins
from firestream_core.errors import ConfigError
from firestream_core.model import HelmChartNamespace
from firestream_core.plugin.manager import get_plugin_manager
from firestream_core.tools.values import merged_values


def test_strimzi_operator_is_the_originals() -> None:
    for chart in (KafkaChart.strimzi_operator(), KafkaChart(), KafkaChart.default()):
        info = chart.get_chart_info()
        assert (info.name, info.repository, info.chart, info.version) == (
            "kafka", "strimzi", "strimzi-kafka-operator", "1.2.0",
        )
        assert info.namespace is HelmChartNamespace.DEFAULT
        assert merged_values(info) == {
            "watchAnyNamespace": False,
            "resources": {
                "limits": {"cpu": "500m", "memory": "384Mi"},
                "requests": {"cpu": "200m", "memory": "256Mi"},
            },
        }
        assert chart.options == KafkaOptions()
        assert chart.options.kafka_cluster is None


def test_with_cluster() -> None:
    chart = KafkaChart.strimzi_operator().with_cluster(name="events", replicas=3, storage="10Gi")
    assert chart.options.kafka_cluster == KafkaCluster(name="events", replicas=3, storage="10Gi")
    assert chart.chart_info.name == "kafka"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Events"),
        ("name", "x" * 41),
        ("replicas", 0),
        ("storage", "lots"),
        ("zookeeper_replicas", 3),  # refused at any value: Strimzi 0.46.0 removed ZooKeeper
        ("version", "latest"),
        ("ready_timeout", "soon"),
    ],
)
def test_cluster_options_are_checked(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        KafkaCluster(**{field: value})  # type: ignore[arg-type]


def test_zookeeper_replicas_says_why_it_is_refused() -> None:
    with pytest.raises(ValueError, match=r"zookeeper_replicas = 1: Strimzi 0.46.0 and later run Kafka "
                                         r"without ZooKeeper \(KRaft\): remove it"):
        KafkaCluster(zookeeper_replicas=1)


def test_registered_through_the_entry_point() -> None:
    manager = get_plugin_manager()
    reg = manager.chart_type("kafka")
    assert reg.distribution == "firestream-chart-kafka"
    ct = reg.chart_type
    assert ct.chart_class is KafkaChart
    assert set(ct.presets) == {"default", "strimzi_operator"}
    assert ct.options is KafkaOptions
    assert ct.repositories == {"strimzi": "https://strimzi.io/charts/"}
    assert not [p for p in check_plugins(manager) if "'kafka'" in p]
    info = next(i for i in manager.plugin_infos() if i.name == "kafka")
    assert info.hooks == ("contribute_values", "pre_exec", "exec", "post_exec", "validate", "on_deploy_failure")


def _load(tmp_path: Path, text: str) -> list:
    path = tmp_path / "firestream.toml"
    path.write_text(text)
    return build_charts(load_config(path), get_plugin_manager())


def test_config_with_a_kafka_cluster(tmp_path: Path) -> None:
    (chart,) = _load(
        tmp_path,
        """
[[deployments.kafka]]
name = "kafka-operator"
preset = "strimzi_operator"
namespace = "streaming"
kafka_cluster = { name = "events", replicas = 3, storage = "10Gi" }
""",
    )
    assert isinstance(chart, KafkaChart)
    assert chart.chart_info.name == "kafka-operator"
    assert chart.options == KafkaOptions(kafka_cluster=KafkaCluster("events", 3, "10Gi"))


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(
            tmp_path,
            """
[[deployments.kafka]]
kafka_cluster = { name = "events", replica = 3 }
""",
        )
    assert "deployments.kafka[0].kafka_cluster.replica: unknown key; did you mean 'replicas'?" in str(
        info.value
    )


def test_manifest_for_three_persistent_brokers() -> None:
    chart = KafkaChart().with_cluster(name="events", replicas=3, storage="10Gi", version="3.6.0")
    chart.chart_info.namespace = "streaming"
    m = kafka_manifest(chart.options.kafka_cluster, chart.chart_info)
    assert (m["apiVersion"], m["kind"]) == ("kafka.strimzi.io/v1", "Kafka")  # 1.x serves only v1
    assert "annotations" not in m["metadata"]  # KRaft and node pools need no opt-in since 0.48.0
    assert m["metadata"]["name"] == "events" and m["metadata"]["namespace"] == "streaming"
    kafka = m["spec"]["kafka"]
    assert kafka["version"] == "3.6.0" and "replicas" not in kafka and "storage" not in kafka
    assert kafka["config"]["default.replication.factor"] == 3
    assert kafka["config"]["min.insync.replicas"] == 2
    assert "zookeeper" not in m["spec"]  # KRaft: Strimzi 0.46.0 removed ZooKeeper
    pool = node_pool_manifest(chart.options.kafka_cluster, chart.chart_info)
    assert (pool["apiVersion"], pool["kind"], pool["metadata"]["name"]) == (
        "kafka.strimzi.io/v1", "KafkaNodePool", "events-nodes")
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "events"
    assert pool["spec"]["replicas"] == 3 and pool["spec"]["roles"] == ["controller", "broker"]
    assert pool["spec"]["storage"] == {"type": "jbod", "volumes": [{
        "id": 0, "type": "persistent-claim", "size": "10Gi", "deleteClaim": False, "kraftMetadata": "shared"}]}
    assert [o["kind"] for o in cluster_manifests(chart.options.kafka_cluster, chart.chart_info)] == [
        "KafkaNodePool", "Kafka"]


def test_manifest_for_one_ephemeral_broker() -> None:
    chart = KafkaChart().with_cluster()
    m = kafka_manifest(chart.options.kafka_cluster, chart.chart_info)
    kafka = m["spec"]["kafka"]
    assert "version" not in kafka
    assert set(kafka["config"].values()) == {1}
    pool = node_pool_manifest(chart.options.kafka_cluster, chart.chart_info)
    assert pool["spec"]["replicas"] == 1
    assert pool["spec"]["storage"] == {"type": "ephemeral", "kraftMetadata": "shared"}


def test_a_chart_pinned_below_0_49_gets_v1beta2_and_the_kraft_opt_ins() -> None:
    """0.49.0 added the v1 API and 0.48.0 made KRaft and node pools the default (CHANGELOG)."""
    chart = KafkaChart().with_cluster(name="events")
    cluster = chart.options.kafka_cluster
    for version, api, annotated in [("0.45.0", "v1beta2", True), ("0.48.0", "v1beta2", False),
                                    ("0.49.0", "v1", False), ("0.51.0", "v1", False), ("1.2.0", "v1", False)]:
        chart.chart_info.version = version
        kafka, pool = kafka_manifest(cluster, chart.chart_info), node_pool_manifest(cluster, chart.chart_info)
        assert (kafka["apiVersion"], pool["apiVersion"]) == (f"kafka.strimzi.io/{api}",) * 2, version
        assert ("annotations" in kafka["metadata"]) is annotated, version


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("replicas = 0", "kafka_cluster.replicas: replicas = 0 is below the minimum of 1"),
        ('ready_timeout = "soon"', "kafka_cluster.ready_timeout: ready_timeout = 'soon': invalid duration 'soon'"),
        (f'name = "{"x" * 41}"', f"kafka_cluster.name: '{'x' * 41}' must be a DNS label of at most 40 characters"),
        ('storage = "lots"', "kafka_cluster.storage: 'lots' must be 'ephemeral' or a volume size such as '10Gi'"),
    ],
)
def test_option_errors_name_the_option_the_bound_and_the_value(tmp_path: Path, option: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, f"[[deployments.kafka]]\nkafka_cluster = {{ {option} }}\n")
    assert f"deployments.kafka[0].{message}" in str(info.value)


def test_python_and_the_config_name_the_release_the_same_way(tmp_path: Path) -> None:
    (from_config,) = _load(tmp_path, "[[deployments.kafka]]\n")
    assert {c.chart_info.name for c in (from_config, KafkaChart(), KafkaChart.default(),
                                         KafkaChart.strimzi_operator())} == {"kafka"}


def test_a_destroy_plan_shows_the_kafka_cluster_deletion_only_when_asked() -> None:
    """``ChartType.destroy_steps``: what pre_exec deletes on a destroy, named as the plan shows it."""
    import attrs
    from firestream_chart_kafka.hooks import chart_type

    steps = chart_type().destroy_steps
    assert steps is not None
    chart = KafkaChart.default()
    assert steps(chart, Path(".")) == []  # no cluster
    kept = attrs.evolve(chart, options=KafkaOptions(kafka_cluster=KafkaCluster(name="events", storage="10Gi"),
                                                    delete_cluster_on_destroy=False))
    assert steps(kept, Path(".")) == []  # delete_cluster_on_destroy = false: the cluster stays
    dropped = attrs.evolve(chart, options=KafkaOptions(
        kafka_cluster=KafkaCluster(name="events", storage="10Gi", delete_claim=True), delete_cluster_on_destroy=True))
    assert steps(dropped, Path(".")) == [
        f"delete Kafka cluster 'events' and node pool 'events-nodes' (namespace '{chart.chart_info.namespace_name}') "
        "before the operator is uninstalled (delete_cluster_on_destroy = true); its volume claims and their data "
        "go too (delete_claim = true)"]


def test_a_kafka_cluster_that_cannot_be_read_is_a_note_and_none_is_read_for_a_create() -> None:
    """cluster_out_of_date: a plan that may not read the Kafka resources (RBAC) notes it and stays
    as it was; a create, or a release without kafka_cluster, reads nothing."""
    import attrs
    from firestream_chart_kafka.hooks import cluster_out_of_date

    from firestream_core.errors import HelmError
    from firestream_core.model import InstalledRelease
    from firestream_core.plugin.context import DeployContext

    reads: list[str] = []

    class Forbidden:
        def get(self, kind: str, name: str, **_: object) -> None:
            reads.append(name)
            raise HelmError(f'kafkas.kafka.strimzi.io "{name}" is forbidden: User "ci" cannot get it\nmore')

    chart = attrs.evolve(KafkaChart.default(), options=KafkaOptions(kafka_cluster=KafkaCluster(name="events")))
    info = chart.chart_info
    seen = InstalledRelease(info.name, info.namespace_name, revision=1, status="deployed",
                            chart="strimzi-kafka-operator-1.2.0")
    context = DeployContext(helm=None, kubectl=Forbidden(), installed=seen)  # type: ignore[arg-type]
    cluster_out_of_date(chart, context)
    assert context.notes == ["Kafka cluster 'events' could not be read (kafkas.kafka.strimzi.io \"events\" is "
                             "forbidden: User \"ci\" cannot get it)"]
    assert context.out_of_date_reasons == [] and reads == ["events"]
    cluster_out_of_date(chart, DeployContext(helm=None, kubectl=Forbidden()))  # type: ignore[arg-type]
    cluster_out_of_date(KafkaChart.default(), DeployContext(helm=None, kubectl=Forbidden(), installed=seen))  # type: ignore[arg-type]
    assert reads == ["events"]
