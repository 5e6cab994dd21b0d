"""helm and kubectl calls per deployed release in a whole ``apply``, on the recording fake helm.

Per run: one ``helm version``, one ``helm list`` (the plan's cluster state)
and one ``repo add`` per distinct repository; one ``kubectl get namespaces`` when a
release is created in a namespace no listed release lives in (none otherwise). Per changed release: one
``helm upgrade --install`` (its ``--output json`` says the revision is
``deployed``, so no ``helm status``) and, when its manifest may run pods (here a
custom resource, as an operator's chart has), one ``kubectl get
pods,deployments,statefulsets,daemonsets`` per validation poll (releases
validating at the same time may share one: ``-l 'instance in (a,d)'``); a release
of ConfigMaps alone (the fake helm's own manifest) asks kubectl nothing; a values
change also costs the plan one ``helm get values`` (to name the changed
keys). No-op releases: nothing. A re-poll asks helm and kubectl again.
Counts, never durations.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from firestream_core.project import Project

from .conftest import write_config

NS = "calls"
MIXED_GET = "pods,deployments,statefulsets,daemonsets"
NAMESPACES = ["get", "namespaces", "--output", "json"]

RECORDING_KUBECTL = """#!{python}
# A kubectl stand-in that logs each call's arguments and answers a List: empty, or, per
# label selector, the next answer of kubectl-answers.json (the last one repeats).
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
argv = sys.argv[1:]
with open(os.path.join(here, "kubectl-calls.jsonl"), "a") as f:
    f.write(json.dumps(argv) + "\\n")
items = []
answers = os.path.join(here, "kubectl-answers.json")
if os.path.exists(answers):
    selector = argv[argv.index("--selector") + 1] if "--selector" in argv else ""
    with open(answers) as f:
        data = json.load(f)
    queue = data.get(selector) or []
    if queue:
        items = queue.pop(0) if len(queue) > 1 else queue[0]
        with open(answers, "w") as f:
            json.dump(data, f)
print(json.dumps({{"apiVersion": "v1", "kind": "List", "items": items}}))
"""


class RecordingKubectl:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.binary = folder / "kubectl"
        self.binary.write_text(RECORDING_KUBECTL.format(python=sys.executable))
        self.binary.chmod(0o755)
        self.log = folder / "kubectl-calls.jsonl"
        self.answers = folder / "kubectl-answers.json"

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def reset(self) -> None:
        self.log.unlink(missing_ok=True)

    def answer(self, release: str, *polls: list[dict[str, Any]]) -> None:
        self.answers.write_text(json.dumps({f"app.kubernetes.io/instance={release}": list(polls)}))


OPERATED = """apiVersion: kafka.strimzi.io/v1beta2
kind: Kafka
metadata:
  name: events
"""
"""A custom resource: its operator may run pods labelled as the release, so pods_running asks."""


def mixed_get(release: str) -> list[str]:
    return ["get", MIXED_GET, "--output", "json", "--namespace", NS,
            "--selector", f"app.kubernetes.io/instance={release}"]


def read_for(call: list[str]) -> list[str]:
    """The releases one kubectl call read: ``mixed_get(name)``, or the same call shared by several
    releases validating at the same time (``--selector 'app.kubernetes.io/instance in (a,d)'``)."""
    selector = call[-1]
    assert call[:-1] == mixed_get("x")[:-1], call
    if selector.startswith("app.kubernetes.io/instance in ("):
        names = selector[len("app.kubernetes.io/instance in ("):-1].split(",")
        assert len(names) > 1, call
        return names
    assert selector.startswith("app.kubernetes.io/instance="), call
    return [selector.split("=", 1)[1]]


def running_pod(name: str, ready: bool) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def block(name: str, deps: tuple[str, ...] = (), values: str = "") -> str:
    dep = f"depends_on = [{', '.join(repr(d) for d in deps)}]\n" if deps else ""
    extra = f"[deployments.generic.values]\n{values}\n" if values else ""
    return (f'[[deployments.generic]]\nname = "{name}"\nchart = "tiny-app"\nrepository = "fixtures"\n'
            f'version = "0.1.0"\nnamespace = "{NS}"\n{dep}{extra}\n')


@pytest.fixture
def kubectl(tmp_path: Path) -> RecordingKubectl:
    return RecordingKubectl(tmp_path / "kubectl")


@pytest.fixture
def project(tmp_path, fake_helm, kubectl, no_log_redactors):
    folder = tmp_path / "project"

    def write(*blocks: str) -> None:
        write_config(folder, '[repositories]\nfixtures = "http://127.0.0.1:9/fixtures"\n\n' + "".join(blocks))

    def load() -> Project:
        return Project.load(folder / "firestream.toml", helm_binary=fake_helm.binary, env=fake_helm.env,
                            kubectl_binary=kubectl.binary)

    load.write = write  # type: ignore[attr-defined]
    return load


def helm_ops(fake_helm, release: str | None = None) -> list[str]:
    return [c.op for c in fake_helm.call_log(release=release)]


@pytest.mark.parametrize("major", [3, 4])
def test_each_created_release_costs_one_upgrade_and_one_kubectl_get(project, fake_helm, kubectl, major):
    fake_helm.set_major(major)
    for name in "abcd":
        fake_helm.set_manifest_extra(name, OPERATED)
    project.write(block("a"), block("b", ("a",)), block("c", ("b",)), block("d"))
    result = project().apply(concurrency=0)
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    calls = fake_helm.call_log()
    # the first list starts beside `helm version`, with helm 3's flags: helm 4 refuses its
    # --all (before any cluster call) and the list runs again with helm 4's
    refused = [(c.op, "--all" in c.argv) for c in calls if c.exit != 0]
    assert refused == ([("list", True)] if major == 4 else [])
    assert Counter(c.op for c in calls if c.exit == 0) == {"version": 1, "list": 1, "repo add": 1, "upgrade": 4}
    for name in "abcd":
        assert helm_ops(fake_helm, name) == ["upgrade"], name  # no status, history or get
        assert next(v for v in result.releases[name].validations
                    if v.name == "release_exists").message == f"Helm release '{name}' exists"
    # the plan's one read of the namespaces (none of its releases is installed), then
    # one read each: alone, or in one call shared by releases validating together (a and d may)
    first, *reads = kubectl.calls()
    assert first == NAMESPACES
    assert sorted(name for call in reads for name in read_for(call)) == list("abcd")


def test_a_release_of_config_objects_alone_costs_no_kubectl_call(project, fake_helm, kubectl):
    project.write(block("a"), block("b", ("a",)))
    result = project().apply()
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert Counter(helm_ops(fake_helm)) == {"version": 1, "list": 1, "repo add": 1, "upgrade": 2}
    assert kubectl.calls() == [NAMESPACES]  # the plan's namespace read alone
    for name in "ab":
        check = next(v for v in result.releases[name].validations if v.name == "pods_running")
        assert check.message.startswith(f"release '{name}' creates nothing that runs pods"), check.message


def test_only_the_changed_release_costs_calls_on_the_next_apply(project, fake_helm, kubectl):
    fake_helm.set_manifest_extra("b", OPERATED)
    project.write(block("a"), block("b", ("a",), "message = 'one'"), block("c", ("b",)))
    assert project().apply().ok
    fake_helm.reset_calls()
    kubectl.reset()
    project.write(block("a"), block("b", ("a",), "message = 'two'"), block("c", ("b",)))
    result = project().apply()
    assert result.ok
    assert [o.action for o in result.releases.values()] == ["no-op", "upgrade", "no-op"]
    # the plan reads b's values from helm to name the changed keys; apply renders b's upgrade
    # (helm's dry run of it) and reads the manifest helm holds, to refuse an immutable field
    # before any change; then one upgrade
    assert Counter(helm_ops(fake_helm)) == {"version": 1, "list": 1, "get values": 1, "repo add": 1,
                                            "get manifest": 1, "upgrade": 2}
    assert sorted(helm_ops(fake_helm, "b")[1:3]) == ["get manifest", "upgrade"]
    assert helm_ops(fake_helm, "b")[::3] == ["get values", "upgrade"]
    assert result.releases["b"].reason == "values changed: message"
    assert helm_ops(fake_helm, "a") == helm_ops(fake_helm, "c") == []
    assert kubectl.calls() == [mixed_get("b")]


def test_a_re_poll_asks_helm_and_kubectl_again(project, fake_helm, kubectl):
    fake_helm.set_manifest_extra("web", OPERATED)
    project.write(block("web"))
    kubectl.answer("web", [running_pod("web-1", ready=False)], [running_pod("web-1", ready=True)])
    result = project().apply()
    assert result.ok, result.releases["web"].reason
    assert next(v for v in result.releases["web"].validations
                if v.name == "pods_running").message == "1 pods of release 'web' running"
    # poll 1: the upgrade's record + one kubectl get; poll 2: helm status + one kubectl get
    assert helm_ops(fake_helm, "web") == ["upgrade", "status"]
    assert kubectl.calls() == [NAMESPACES, *[mixed_get("web")] * 2]  # the plan's namespace read first
