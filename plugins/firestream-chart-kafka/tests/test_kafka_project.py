"""The kafka plugin as a user drives it: ``firestream.toml`` -> plan -> apply, on helm 3 and helm 4.

Install (with a Kafka cluster the emulator marks Ready through its status
rule, and a watched namespace besides the release's), a no-op plan and a
clean drift after apply, destroy (the cluster deleted before the operator);
the upgrade from the seed's 0.38.0: refused straight to the default (Strimzi
supports it only through 0.49-0.51 and the v1 conversion), taken in the two
steps Strimzi documents, each plan naming the CRD step apply takes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firestream_core.cli.progress import format_plan
from firestream_core.project import Project

KIND = "kafkas.kafka.strimzi.io"
STRIMZI_CRDS = [KIND, "kafkatopics.kafka.strimzi.io", "kafkausers.kafka.strimzi.io",
                "kafkanodepools.kafka.strimzi.io"]


@pytest.fixture(autouse=True)
def uninstall_afterwards(kube: Any) -> Iterator[None]:
    """The chart's ClusterRole has a fixed name: one release of it on the module's cluster at a time."""
    yield
    kube.run(["helm", "uninstall", "kafka", "-n", kube.namespace], check=False)


def project(kube: Any, helm_bin: Path, repo: Any, tmp_path: Path, body: str) -> Project:
    path = tmp_path / "firestream.toml"
    path.write_text(f'[repositories]\nstrimzi = "{repo.url}"\n\n[[deployments.kafka]]\n'
                    f'namespace = "{kube.namespace}"\ntimeout = "60s"\n{body}')
    return Project.load(path, helm_binary=helm_bin, kubectl_binary=kube.tools["kubectl"],
                        kubeconfig=kube.kubeconfig, env=kube.env)


def history(kube: Any, helm_bin: Path) -> list[str]:
    out = kube.run([str(helm_bin), "history", "kafka", "-n", kube.namespace, "-o", "json"]).stdout
    return [h["chart"] for h in json.loads(out)]


def served(kube: Any, crd: str) -> list[str]:
    obj = kube.kubectl().get("customresourcedefinition", crd)
    return [v["name"] for v in obj["spec"]["versions"] if v.get("served")]


def test_install_noop_drift_and_destroy_with_a_cluster(
    kube: Any, kube_cluster: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    kube_cluster.set_status_rules([{"kind": "Kafka", "group": "kafka.strimzi.io", "after": 0.5}])
    watched = f"{kube.namespace}-apps"
    kube.run(["kubectl", "create", "namespace", watched])
    body = (f'kafka_cluster = {{ name = "events", replicas = 1 }}\n\n'
            f'[deployments.kafka.values]\nwatchNamespaces = ["{watched}"]\n')

    plan = project(kube, helm_bin, deploy_chart_repo, tmp_path, body).plan()
    assert [(c.name, c.action) for c in plan.releases] == [("kafka", "create")]
    result = project(kube, helm_bin, deploy_chart_repo, tmp_path, body).apply(plan)
    assert result.ok, result.to_dict()
    assert history(kube, helm_bin) == ["strimzi-kafka-operator-1.2.0"]
    # the operator's pods carry only Strimzi's labels, not the release's instance label
    pods = kube.kubectl().get("pods", namespace=kube.namespace,
                              selector="name=strimzi-cluster-operator,strimzi.io/kind=cluster-operator")
    (pod,) = pods["items"]
    assert "app.kubernetes.io/instance" not in pod["metadata"].get("labels", {})
    # the RoleBinding in the watched namespace, beside the release's own
    binding = kube.kubectl().get("rolebinding", "strimzi-cluster-operator", namespace=watched)
    assert binding["subjects"][0]["namespace"] == kube.namespace
    kafka = kube.kubectl().get(KIND, "events", namespace=kube.namespace)
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1"
    assert [c["status"] for c in kafka["status"]["conditions"] if c["type"] == "Ready"] == ["True"]

    again = project(kube, helm_bin, deploy_chart_repo, tmp_path, body)
    assert [(c.name, c.action) for c in again.plan().releases] == [("kafka", "no-op")]
    (drift,) = again.drift()
    assert drift.status == "in-sync", drift.to_dict()
    assert drift.checked >= 6  # ServiceAccount, ClusterRole, 2 RoleBindings, ConfigMap, Deployment

    # the Kafka cluster post_exec made, deleted behind firestream's back: the plan says so, apply makes it again
    kube.run(["kubectl", "delete", KIND, "events", "-n", kube.namespace])
    change = project(kube, helm_bin, deploy_chart_repo, tmp_path, body).plan()["kafka"]
    assert change.action == "upgrade"
    assert f"Kafka cluster 'events' (namespace '{kube.namespace}') missing: post_exec creates it" in change.reasons
    assert project(kube, helm_bin, deploy_chart_repo, tmp_path, body).apply().ok
    assert kube.kubectl().get(KIND, "events", namespace=kube.namespace) is not None
    assert project(kube, helm_bin, deploy_chart_repo, tmp_path, body).plan()["kafka"].action == "no-op"

    # kafka_cluster removed from the config: the cluster post_exec applied stays, and the plan says so
    plain = body.replace('kafka_cluster = { name = "events", replicas = 1 }\n', "")
    change = project(kube, helm_bin, deploy_chart_repo, tmp_path, plain).plan()["kafka"]
    left = (f"Kafka cluster 'events' and its node pool 'events-nodes' (namespace '{kube.namespace}'), applied by "
            "an earlier deploy, are left running (no longer in kafka_cluster): neither apply nor destroy deletes "
            f"them; 'kubectl delete {KIND}/events kafkanodepools.kafka.strimzi.io/events-nodes -n {kube.namespace}'"
            " does")
    assert change.action == "upgrade" and left in change.reasons, change.reasons
    assert left in format_plan(project(kube, helm_bin, deploy_chart_repo, tmp_path, plain).plan())
    renamed = project(kube, helm_bin, deploy_chart_repo, tmp_path, body.replace('"events"', '"logs"')).plan()
    assert any(r.startswith("Kafka cluster 'events' and its node pool 'events-nodes'") and
               "(kafka_cluster now names 'logs')" in r for r in renamed["kafka"].reasons), renamed["kafka"].reasons
    assert not any("left running" in r for r in again.plan()["kafka"].reasons)

    gone = again.destroy()
    assert gone.ok, gone.to_dict()
    assert kube.kubectl().get(KIND, "events", namespace=kube.namespace) is None
    assert kube.kubectl().get("kafkanodepools.kafka.strimzi.io", "events-nodes", namespace=kube.namespace) is None
    assert kube.kubectl().get("deployment", "strimzi-cluster-operator", namespace=kube.namespace) is None
    assert kube.kubectl().get("rolebinding", "strimzi-cluster-operator", namespace=watched) is None
    assert kube.kubectl().get("customresourcedefinition", KIND) is not None  # helm keeps crds/


def test_the_seed_era_operator_upgrade_is_refused_straight_and_taken_in_two_steps(
    kube: Any, helm_bin: Path, deploy_chart_repo: Any, tmp_path: Path
) -> None:
    """0.38.0 -> 1.2.0: refused (v1beta2 removed); 0.38.0 -> 0.51.0 -> 1.2.0, each plan naming its CRD step."""
    def at(version: str | None) -> Project:
        line = f'version = "{version}"\n' if version else ""
        return project(kube, helm_bin, deploy_chart_repo, tmp_path, line)

    # CRDs are cluster-wide: the 1.2.0 stand-in's (v1 only), as another release would leave them. 0.38.0's
    # v1beta2-only CRDs over them would remove v1: refused by plan and apply, nothing written
    crds = Path(__file__).parent / "charts/strimzi-kafka-operator/crds"
    kube.run(["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(crds)])
    assert served(kube, KIND) == ["v1"]
    (newer,) = at("0.38.0").plan().problems
    assert newer[1].startswith("release 'kafka': the Strimzi CRDs in the cluster serve v1 "
                               "(kafkas.kafka.strimzi.io serves v1: strimzi-kafka-operator 0.49.0 or newer"), newer
    assert not at("0.38.0").apply().ok
    assert served(kube, KIND) == ["v1"]
    assert kube.run(["helm", "list", "-n", kube.namespace, "-q"]).stdout.strip() == ""
    kube.run(["kubectl", "delete", "crd", *STRIMZI_CRDS, "--ignore-not-found"])  # a fresh cluster from here

    assert at("0.38.0").apply().ok
    assert served(kube, KIND) == ["v1beta2"]

    refused = at(None).plan()
    (problem,) = refused.problems
    assert problem == ("kafka", (
        "release 'kafka': strimzi-kafka-operator 0.38.0 -> 1.2.0 crosses 0.49.0 (the v1 API added) and "
        "1.0.0 (v1beta2 removed), which Strimzi supports only in two steps: set version = \"0.51.0\" "
        "and apply, convert the Strimzi custom resources and CRDs to v1 with Strimzi's v1 API "
        "conversion tool (convert-resource, then crd-upgrade), then remove the pin and apply again"))
    # a constraint is judged at the version helm resolves it to (1.2.0), never let through
    assert at("^1").plan().problems == refused.problems
    assert not at(">=0.38.0").apply().ok
    stopped = at(None).apply(refused)
    assert not stopped.ok
    assert history(kube, helm_bin) == ["strimzi-kafka-operator-0.38.0"]  # nothing changed
    assert served(kube, KIND) == ["v1beta2"]

    step = at("0.51.0").plan()
    (change,) = step.releases
    assert (change.action, change.breaking.version if change.breaking else None) == ("upgrade", "0.49.0")
    text = format_plan(step)
    assert ("! kafka: server-side apply the Strimzi CRDs of strimzi-kafka-operator 0.51.0 before the "
            "upgrade (helm never updates crds/)") in text
    assert [v for v in ("0.40.0", "0.46.0", "0.48.0", "0.49.0", "1.0.0")
            if f"which covers the note of {v}" in text] == ["0.40.0", "0.46.0", "0.48.0", "0.49.0"]
    assert at("0.51.0").apply(step).ok
    assert served(kube, KIND) == ["v1", "v1beta2"]  # applied before helm: helm never updates crds/

    # (Strimzi's conversion tool would run here; an operator-only install has no resources to convert)
    last = at(None).plan()
    assert last.problems == []
    (change,) = last.releases
    assert (change.action, change.breaking.version if change.breaking else None) == ("upgrade", "1.0.0")
    assert "! kafka: which covers the note of 1.0.0: v1beta2 removed from the CRDs" in format_plan(last)
    assert at(None).apply(last).ok
    assert history(kube, helm_bin) == [f"strimzi-kafka-operator-{v}" for v in ("0.38.0", "0.51.0", "1.2.0")]
    assert {crd: served(kube, crd) for crd in STRIMZI_CRDS} == {crd: ["v1"] for crd in STRIMZI_CRDS}
    assert [c.action for c in at(None).plan().releases] == ["no-op"]
    (drift,) = at(None).drift()
    assert drift.status == "in-sync", drift.to_dict()
