"""``KafkaChart``: the Strimzi Kafka operator 1.2.0 (the seed had 0.38.0), and optionally a Kafka cluster.

The original only installed the operator and printed "create a Kafka
cluster using Strimzi CRs" as the next step. Here the ``kafka_cluster``
option makes the plugin create that ``Kafka`` resource after the operator
is up (see :mod:`.cluster`).
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from firestream_core.plugin import (
    BreakingVersion,
    ChartInfo,
    ChartPresets,
    HelmChart,
    HelmChartNamespace,
    OptionValueError,
    ReleaseSettings,
    breaking_version_at,
)
from firestream_core.plugin import notes_crossed as core_notes_crossed
from firestream_core.plugin import options_of as core_options_of

REPOSITORY = "strimzi"
REPOSITORY_URL = "https://strimzi.io/charts/"
CHART = "strimzi-kafka-operator"
VERSION = "1.2.0"
"""The default chart version (the seed's was 0.38.0; see docs/charts.md for where it was read)."""

UPGRADE_NOTES: tuple[tuple[str, str], ...] = (
    ("0.40.0", "CRD label and annotation values must be strings (CHANGELOG 0.40.0)"),
    ("0.46.0", "ZooKeeper-based Kafka clusters and MirrorMaker 1 removed: every Kafka cluster "
               "must use KRaft before the upgrade (CHANGELOG 0.46.0)"),
    ("0.48.0", "KRaft and node pools are the default; the strimzi.io/kraft and strimzi.io/node-pools "
               "annotations are ignored (CHANGELOG 0.48.0)"),
    ("0.49.0", "the v1 API added to the CRDs, v1beta2 deprecated; KafkaUser ACL rules must use "
               "operations, not operation, before the upgrade, and helm users must update the CRDs "
               "(CHANGELOG 0.49.0)"),
    ("1.0.0", "v1beta2 removed from the CRDs: every Strimzi custom resource and the CRDs' stored "
              "versions must have been converted to v1 (Strimzi's v1 API conversion tool) under "
              "0.49-0.51 (Strimzi proposal 113; the 1.x CHANGELOG was not in the stored snapshot)"),
)
"""strimzi-kafka-operator versions whose CHANGELOG notes change the CRDs or require action first.

The default's breaking version is the last of them at or below :data:`VERSION`:
``plan`` shows an upgrade across it with the CRD step ``exec`` takes
(``hooks.destructive_steps``). An upgrade from below :data:`V1_API_SINCE` to
:data:`V1_ONLY_SINCE` or later is refused (``hooks.contribute_values``):
Strimzi supports it only through 0.49-0.51 and the v1 conversion.
"""

V1_API_SINCE = "0.49.0"
"""The first strimzi-kafka-operator whose CRDs serve ``kafka.strimzi.io/v1``."""
V1_ONLY_SINCE = "1.0.0"
"""The first whose CRDs serve only ``v1`` (``v1beta2`` removed)."""
STEP_VERSION = "0.51.0"
"""The version to stop at on the way from below 0.49.0 to 1.x (the last before 1.0.0)."""


def notes_crossed(installed: str, target: str | None) -> list[tuple[str, str]]:
    """The :data:`UPGRADE_NOTES` with ``installed < version <= target`` (semver; no target: all above installed)."""
    return core_notes_crossed(UPGRADE_NOTES, installed, target)


def default_breaking_version(version: str = VERSION) -> BreakingVersion | None:
    """The last :data:`UPGRADE_NOTES` version at or below ``version``: no uninstall, the CRDs are applied."""
    return breaking_version_at(UPGRADE_NOTES, version)


OPERATOR_VALUES: dict[str, Any] = {
    "watchAnyNamespace": False,
    "resources.limits.cpu": "500m",
    "resources.requests.cpu": "200m",
    "resources.limits.memory": "384Mi",
    "resources.requests.memory": "256Mi",
}
"""The original's values for the operator."""

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # compiled on first use, not at import
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"  # compiled on first use, not at import
_KAFKA_VERSION = r"^[0-9]+\.[0-9]+\.[0-9]+$"  # compiled on first use, not at import


def _cluster_name(_inst: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if len(value) > 40 or not re.fullmatch(_DNS_LABEL, value):
        raise OptionValueError(
            attribute.name, f"{value!r} must be a DNS label of at most 40 characters "
            "(Strimzi derives longer names from it)"
        )


def _positive(_inst: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise OptionValueError(attribute.name, f"{attribute.name} = {value!r} is below the minimum of 1")


def _storage(_inst: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value != "ephemeral" and not re.fullmatch(_QUANTITY, value):
        raise OptionValueError(attribute.name, f"{value!r} must be 'ephemeral' or a volume size such as '10Gi'")


def _version(_inst: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not re.fullmatch(_KAFKA_VERSION, value):
        raise OptionValueError(attribute.name, f"{value!r} must be a Kafka version such as '3.6.0'")


def _no_zookeeper(_inst: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None:
        raise OptionValueError(
            attribute.name,
            f"{attribute.name} = {value!r}: Strimzi 0.46.0 and later run Kafka without ZooKeeper "
            "(KRaft): remove it; replicas sizes the controller-and-broker node pool",
        )


def _duration(_inst: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    from firestream_core.plugin import parse_duration

    if value is None:
        return
    try:
        parse_duration(value)
    except ValueError as e:  # name the option and the value, not only the class
        raise OptionValueError(attribute.name, f"{attribute.name} = {value!r}: {e}") from None


@attrs.frozen
class KafkaCluster:
    """The ``Kafka`` resource the plugin creates (``kafka_cluster = {...}`` in the config).

    :ivar name: the Kafka cluster's name (a DNS label, at most 40 characters).
    :ivar replicas: Kafka nodes (each a KRaft controller and a broker).
    :ivar storage: ``ephemeral``, or a volume size (``10Gi``) for a
        ``persistent-claim`` volume per node (it keeps the KRaft metadata too).
    :ivar zookeeper_replicas: refused: Strimzi 0.46.0 removed ZooKeeper (the
        cluster runs KRaft); kept only to say so when a config still sets it.
    :ivar version: the Kafka version; default: the operator's default.
    :ivar delete_claim: delete the volumes when the cluster is deleted.
    :ivar ready_timeout: how long post_exec waits for ``Ready``; default:
        the release's timeout.
    """

    name: str = attrs.field(default="kafka", validator=_cluster_name)
    replicas: int = attrs.field(default=1, validator=_positive)
    storage: str = attrs.field(default="ephemeral", validator=_storage)
    zookeeper_replicas: int | None = attrs.field(default=None, validator=_no_zookeeper)
    version: str | None = attrs.field(default=None, validator=_version)
    delete_claim: bool = False
    ready_timeout: str | None = attrs.field(default=None, validator=_duration)


@attrs.frozen
class KafkaOptions:
    """Options of the ``kafka`` chart type.

    :ivar kafka_cluster: a Kafka cluster to create once the operator is up
        (None: the operator only, as in the original).
    :ivar delete_cluster_on_destroy: delete that Kafka resource before the
        operator is uninstalled (default), rather than leave it unmanaged.
    :ivar upgrade_crds: server-side apply the chart's Strimzi CRDs before an
        upgrade (helm never upgrades ``crds/``). Default: on.
    """

    kafka_cluster: KafkaCluster | None = None
    delete_cluster_on_destroy: bool = True
    upgrade_crds: bool = True


PRESETS = ChartPresets("kafka", chart=CHART, version=VERSION, repository=REPOSITORY,
                       namespace=HelmChartNamespace.DEFAULT,
                       fields={"last_breaking_version_requiring_restart": default_breaking_version()})


@attrs.define
class KafkaChart(HelmChart):
    """The Strimzi Kafka operator, as the seed's ``KafkaChart``.

    ``KafkaChart.strimzi_operator()`` (also ``KafkaChart()`` and
    ``KafkaChart.default()``): strimzi-kafka-operator 1.2.0 watching its own
    namespace. ``options=KafkaOptions(kafka_cluster=KafkaCluster(...))``
    adds a Kafka cluster, created and waited for after the operator.
    """

    chart_info: ChartInfo = attrs.field(factory=PRESETS.factory("strimzi_operator", OPERATOR_VALUES))
    options: KafkaOptions = attrs.field(factory=KafkaOptions)
    settings: ReleaseSettings = attrs.field(factory=ReleaseSettings)

    @classmethod
    def strimzi_operator(cls) -> KafkaChart:
        """strimzi-kafka-operator 1.2.0 in ``default``, watching its own namespace."""
        return cls()

    @classmethod
    def default(cls) -> KafkaChart:
        """The same as :meth:`strimzi_operator`."""
        return cls.strimzi_operator()

    def with_cluster(self, **cluster: Any) -> KafkaChart:
        """This chart with a Kafka cluster: ``KafkaChart.strimzi_operator().with_cluster(replicas=3)``."""
        return attrs.evolve(self, options=attrs.evolve(self.options, kafka_cluster=KafkaCluster(**cluster)))


def options_of(chart: HelmChart) -> KafkaOptions:
    """The chart's options, or the defaults when it carries none."""
    return core_options_of(chart, KafkaOptions)
