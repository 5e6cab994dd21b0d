"""The default chart version, its breaking version and the CRD step an old install's plan shows."""

from __future__ import annotations

from pathlib import Path

import attrs
from firestream_chart_kafka import KafkaChart, KafkaOptions
from firestream_chart_kafka.chart import UPGRADE_NOTES, VERSION, notes_crossed
from firestream_chart_kafka.hooks import chart_type

from firestream_core.deploy.plan import Plan, make_plan
from firestream_core.model import InstalledRelease

DOCS = Path(__file__).resolve().parents[3] / "docs" / "charts.md"
SEED_VERSION = "0.38.0"


def test_the_default_version_is_the_documented_one() -> None:
    assert VERSION == "1.2.0"
    assert KafkaChart.strimzi_operator().chart_info.version == VERSION
    text = DOCS.read_text(encoding="utf-8")
    assert f"strimzi/strimzi-kafka-operator {VERSION}" in text
    assert f"| `kafka` | strimzi-kafka-operator | {SEED_VERSION} | {VERSION} |" in text


def test_the_breaking_version_is_the_last_noted_version_of_the_default() -> None:
    bv = KafkaChart.default().chart_info.last_breaking_version_requiring_restart
    assert bv is not None and bv.version == "1.0.0"
    assert not bv.requires_uninstall and bv.pre_upgrade_commands == []
    assert [v for v, _ in notes_crossed(SEED_VERSION, VERSION)] == [v for v, _ in UPGRADE_NOTES]
    assert [v for v, _ in notes_crossed("0.45.0", "0.46.0")] == ["0.46.0"]


def plan_from(installed_version: str, chart: KafkaChart, tmp_path: Path) -> Plan:
    info = chart.chart_info
    live = InstalledRelease(info.name, info.namespace_name, 2, "deployed",
                            f"strimzi-kafka-operator-{installed_version}")
    return make_plan([chart], [live], None, project_dir=tmp_path,
                     extra_steps=chart_type().destructive_steps)


def test_the_crd_step_names_each_note_it_crosses(tmp_path: Path) -> None:
    """The step's lines (the breaking version alone, as make_plan sees it; the project's plan refuses
    0.38.0 -> 1.2.0 straight, test_kafka_project.py)."""
    change = plan_from(SEED_VERSION, KafkaChart.default(), tmp_path)["kafka"]
    assert change.action == "upgrade"
    assert change.reasons[0] == "breaking version 1.0.0: upgrade across it (installed 0.38.0)"
    assert change.destructive[0] == (
        "server-side apply the Strimzi CRDs of strimzi-kafka-operator 1.2.0 before the upgrade "
        "(helm never updates crds/)"
    )
    assert [line.split(":")[0].strip() for line in change.destructive[1:]] == [
        "which covers the note of 0.40.0", "which covers the note of 0.46.0",
        "which covers the note of 0.48.0", "which covers the note of 0.49.0",
        "which covers the note of 1.0.0",
    ]
    assert any("must use KRaft before the upgrade" in line for line in change.destructive)
    assert any("v1beta2 removed from the CRDs" in line for line in change.destructive)


def test_a_seed_era_install_is_refused_straight_to_1x_and_allowed_through_0_51() -> None:
    """Strimzi proposal 113: the path passes one of 0.49-0.51 (the v1 conversion) before 1.x."""
    from firestream_chart_kafka.hooks import v1_upgrade_problem

    from firestream_core.model import InstalledRelease
    from firestream_core.plugin import DeployContext

    def problem(installed: str, target: str) -> str | None:
        chart = KafkaChart.default()
        chart.chart_info.version = target
        live = InstalledRelease("kafka", "default", 1, "deployed", f"strimzi-kafka-operator-{installed}")
        return v1_upgrade_problem(chart, DeployContext(helm=None, kubectl=None, change="upgrade", installed=live))

    assert problem("0.38.0", "1.2.0") is not None
    assert "set version = \"0.51.0\" and apply" in (problem("0.48.0", "1.0.0") or "")
    assert [problem(a, b) for a, b in [("0.38.0", "0.51.0"), ("0.49.0", "1.2.0"), ("0.51.0", "1.2.0"),
                                       ("1.0.0", "1.2.0")]] == [None] * 4


def test_without_upgrade_crds_the_plan_says_the_crds_are_left(tmp_path: Path) -> None:
    chart = attrs.evolve(KafkaChart.default(), options=KafkaOptions(upgrade_crds=False))
    change = plan_from("0.51.0", chart, tmp_path)["kafka"]
    assert change.destructive[0] == (
        "Strimzi CRDs NOT updated (upgrade_crds = false): apply those of strimzi-kafka-operator 1.2.0 "
        "yourself first"
    )
    assert [line.split(":")[0].strip() for line in change.destructive[1:]] == ["upgrade note of 1.0.0"]


def test_with_skip_crds_the_plan_says_the_crds_are_left_as_exec_leaves_them(tmp_path: Path) -> None:
    chart = KafkaChart.default()
    chart.chart_info.skip_crds = True
    change = plan_from("0.51.0", chart, tmp_path)["kafka"]
    assert change.destructive[0] == (
        "Strimzi CRDs NOT updated (skip_crds = true): apply those of strimzi-kafka-operator 1.2.0 "
        "yourself first"
    )


def test_every_deploy_over_installed_crds_names_the_crd_step_in_the_plan() -> None:
    """Across notes: the last as breaking version (its destructive steps); any upgrade, a values-only
    one too, applies the CRDs first: said for the plan (``context.exec_step``), never as a note."""
    from firestream_chart_kafka.hooks import contribute_values

    from firestream_core.model import InstalledRelease
    from firestream_core.plugin import DeployContext

    def decided(installed: str, target: str, **options: bool) -> tuple[str | None, list[str]]:
        chart = attrs.evolve(KafkaChart.default(), options=KafkaOptions(**options))
        chart.chart_info.version = target
        live = InstalledRelease("kafka", "default", 1, "deployed", f"strimzi-kafka-operator-{installed}")
        context = DeployContext(helm=None, kubectl=None, change="upgrade", installed=live)
        assert contribute_values(chart, context) is None
        assert context.notes == []
        bv = context.breaking_version
        return (bv.version if bv else None), context.steps

    def step(version: str) -> list[str]:
        return [f"server-side apply the Strimzi CRDs of strimzi-kafka-operator {version} before the upgrade "
                "(helm never updates crds/)"]

    assert decided("0.38.0", "0.51.0") == ("0.49.0", step("0.51.0"))
    assert decided("0.51.0", "1.2.0") == ("1.0.0", step("1.2.0"))
    assert decided("1.1.0", "1.2.0") == (None, step("1.2.0"))
    assert decided("1.1.0", "1.2.0", upgrade_crds=False) == (None, [])
    assert decided("1.2.0", "1.2.0") == (None, step("1.2.0"))


def test_the_kafka_cluster_post_exec_applies_is_a_step_of_every_planned_deploy(tmp_path: Path) -> None:
    """post_exec applies the Kafka and its node pool (brokers, volumes) on every create and
    upgrade: the plan names it, a create and a breaking upgrade alike, never a no-op."""
    from firestream_chart_kafka.chart import KafkaCluster
    from firestream_chart_kafka.hooks import contribute_values

    from firestream_core.plugin import DeployContext

    line = ("post_exec: apply Kafka cluster 'events' and node pool 'events-nodes' (3 nodes, a 20Gi volume "
            "each) in namespace 'default' and wait until it is Ready")
    chart = attrs.evolve(KafkaChart.default(), options=KafkaOptions(
        kafka_cluster=KafkaCluster(name="events", replicas=3, storage="20Gi")))
    context = DeployContext(helm=None, kubectl=None, change="create", offline=True)
    assert contribute_values(chart, context) is None
    assert context.steps == [line]
    breaking = plan_from("0.51.0", chart, tmp_path)["kafka"]
    assert breaking.action == "upgrade" and breaking.destructive[-1] == line
    bare = attrs.evolve(KafkaChart.default(), options=KafkaOptions())
    context = DeployContext(helm=None, kubectl=None, change="create", offline=True)
    contribute_values(bare, context)
    assert context.steps == []


def test_a_downgrade_back_across_an_upgrade_note_is_refused_naming_release_versions_and_the_way() -> None:
    """1.2.0 -> 0.38.0 would apply v1beta2-only CRDs over v1-stored ones: refused, nothing decided;
    a downgrade within one note's range is an ordinary deploy."""
    from firestream_chart_kafka.hooks import contribute_values

    from firestream_core.model import InstalledRelease
    from firestream_core.plugin import DeployContext

    def refused(installed: str, target: str) -> list[str]:
        chart = KafkaChart.default()
        chart.chart_info.version = target
        live = InstalledRelease("kafka", "default", 1, "deployed", f"strimzi-kafka-operator-{installed}")
        context = DeployContext(helm=None, kubectl=None, change="upgrade", installed=live)
        assert contribute_values(chart, context) is None
        if context.problems:
            assert (context.breaking_version, context.steps) == (None, [])
        return context.problems

    assert refused("1.2.0", "0.38.0") == [
        "release 'kafka': strimzi-kafka-operator 1.2.0 -> 0.38.0 is a downgrade back across 5 of its upgrade "
        "notes, 0.40.0 to 1.0.0 (exec would server-side apply the older chart's CRDs over the newer ones, "
        "which may no longer serve the API versions the custom resources are stored in), which upstream "
        "does not support and firestream does not do: keep version = \"1.2.0\" (or any version from 1.0.0 up)"]
    assert "back across 1.0.0 (" in refused("1.2.0", "0.51.0")[0]
    assert refused("1.2.0", "1.0.0") == [] and refused("0.51.0", "0.49.0") == []


def test_a_create_over_crds_an_earlier_install_left_at_v1beta2_is_refused_straight_to_1x() -> None:
    """helm keeps crds/ on uninstall: 1.x's v1-only CRDs over v1beta2-stored ones are refused by
    Kubernetes, so the plan refuses the create as it refuses the upgrade; v1-only CRDs pass."""
    from firestream_chart_kafka.hooks import contribute_values

    from firestream_core.plugin import DeployContext

    class Kubectl:
        def __init__(self, served: list[str], stored: list[str]) -> None:
            self.crd = {"spec": {"versions": [{"name": v, "served": True} for v in served]},
                        "status": {"storedVersions": stored}}

        def get(self, kind: str, name: str | None = None, **_: object) -> dict[str, object] | None:
            if (kind, name) == ("kafkas.kafka.strimzi.io", None):
                return None  # the Kafkas an earlier deploy left (hooks.clusters_left): none
            assert (kind, name) == ("customresourcedefinition", "kafkas.kafka.strimzi.io")
            return self.crd

    def problems(target: str, served: list[str], stored: list[str]) -> list[str]:
        chart = KafkaChart.default()
        chart.chart_info.version = target
        context = DeployContext(helm=None, kubectl=Kubectl(served, stored), change="create")  # type: ignore[arg-type]
        contribute_values(chart, context)
        return context.problems

    assert problems("1.2.0", ["v1beta2"], ["v1beta2"]) == [
        "release 'kafka': the Strimzi CRDs an earlier install left in the cluster still hold v1beta2 "
        "(kafkas.kafka.strimzi.io serves v1beta2, stores v1beta2), and strimzi-kafka-operator 1.2.0's CRDs "
        "remove it, which Kubernetes refuses: set version = \"0.51.0\" and apply, convert the Strimzi custom "
        "resources and CRDs to v1 with Strimzi's v1 API conversion tool (convert-resource, then crd-upgrade), "
        "then remove the pin and apply again"]
    assert len(problems("1.2.0", ["v1", "v1beta2"], ["v1beta2"])) == 1  # 0.51's CRDs, not converted
    assert problems("1.2.0", ["v1"], ["v1"]) == []  # converted
    assert problems("0.51.0", ["v1beta2"], ["v1beta2"]) == []  # the documented step


def test_crds_below_0_49_over_v1_serving_crds_of_the_cluster_are_refused_naming_the_ways_on() -> None:
    """CRDs are cluster-wide and Strimzi's carry no version, but v1 served tells 0.49.0 or newer: a
    0.48 chart's CRDs (v1beta2 only) over them would remove v1 for every other Strimzi release. Refused
    whenever they would be written (the CRD step; helm 4's install on a create), never otherwise."""
    from firestream_chart_kafka.hooks import contribute_values

    from firestream_core.plugin import DeployContext

    class Kubectl:
        def __init__(self, served: list[str]) -> None:
            self.served = served

        def get(self, kind: str, name: str | None = None, **_: object) -> dict[str, object] | None:
            if (kind, name) == ("kafkas.kafka.strimzi.io", None):
                return None  # the Kafkas an earlier deploy left (hooks.clusters_left): none
            assert (kind, name) == ("customresourcedefinition", "kafkas.kafka.strimzi.io")
            if not self.served:
                return None
            return {"spec": {"versions": [{"name": v, "served": True} for v in self.served]}}

    def problems(served: list[str], installed: str | None = None, helm_major: int = 3,
                 skip_crds: bool = False, **options: bool) -> list[str]:
        chart = attrs.evolve(KafkaChart.default(), options=KafkaOptions(**options))
        chart.chart_info.version, chart.chart_info.skip_crds = "0.48.0", skip_crds
        live = None if installed is None else InstalledRelease(
            "kafka", "default", 1, "deployed", f"strimzi-kafka-operator-{installed}")
        helm = type("Helm", (), {"major": helm_major})()
        context = DeployContext(helm=helm, kubectl=Kubectl(served), installed=live,  # type: ignore[arg-type]
                                change="create" if live is None else "upgrade")
        contribute_values(chart, context)
        if context.problems:
            assert context.steps == []
        return context.problems

    assert problems(["v1", "v1beta2"]) == [
        "release 'kafka': the Strimzi CRDs in the cluster serve v1 (kafkas.kafka.strimzi.io serves v1, v1beta2: "
        "strimzi-kafka-operator 0.49.0 or newer, another release's or left by a destroyed one), and "
        "strimzi-kafka-operator 0.48.0's CRDs do not: applying them would remove the v1 API every other "
        "Strimzi release in the cluster relies on: deploy version 0.49.0 or newer, or set skip_crds = true "
        "to leave the cluster's CRDs as they are (no CRD step, and helm installs none)"]
    assert len(problems(["v1"], installed="0.47.0")) == 1  # an upgrade of this release, another's CRDs
    assert problems(["v1beta2"]) == [] and problems([]) == []  # as old, or none: helm creates them
    assert problems(["v1"], skip_crds=True) == []
    # no CRD step: helm 3 and every upgrade leave existing CRDs; helm 4's install writes them on a create
    assert problems(["v1"], upgrade_crds=False) == []
    assert problems(["v1"], installed="0.47.0", upgrade_crds=False, helm_major=4) == []
    assert len(problems(["v1"], upgrade_crds=False, helm_major=4)) == 1


def test_exec_writes_no_crd_over_v1_serving_crds_the_plan_did_not_see() -> None:
    """The cluster changed since the plan: exec stops before the CRD step and before helm."""
    from firestream_chart_kafka.hooks import exec as kafka_exec

    from firestream_core.errors import PlanMismatchError
    from firestream_core.plugin import ChartPayload, DeployContext, PreparedRelease

    class Kubectl:
        applied: list[str] = []

        def get(self, kind: str, name: str | None = None, **_: object) -> dict[str, object] | None:
            return {"spec": {"versions": [{"name": "v1", "served": True}]}}

        def apply_server_side(self, manifests: str) -> None:
            self.applied.append(manifests)

    chart = KafkaChart.default()
    chart.chart_info.version = "0.48.0"
    live = InstalledRelease("kafka", "default", 1, "deployed", "strimzi-kafka-operator-0.47.0")
    kubectl = Kubectl()
    context = DeployContext(helm=None, kubectl=kubectl, installed=live, change="upgrade",  # type: ignore[arg-type]
                            prepared=PreparedRelease(installed=live))
    steps = kafka_exec(chart, context, ChartPayload())
    try:
        next(steps)
    except PlanMismatchError as exc:
        assert "the Strimzi CRDs in the cluster serve v1" in str(exc)
        assert str(exc).endswith("; no CRD was applied and helm did not run")
    else:
        raise AssertionError("exec went on to the CRD step and helm")
    assert kubectl.applied == []
