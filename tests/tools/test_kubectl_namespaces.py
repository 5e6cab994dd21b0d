"""``Kubectl.namespaces_exist``: one list, a per-name get when RBAC refuses it, unknown otherwise.

Run against the test kit's fake kubectl (``fake_kubectl``), which words RBAC refusals as
kubectl does (``$FAKE_KUBECTL_FORBID_LIST``, ``$FAKE_KUBECTL_FORBIDDEN``).
"""

from __future__ import annotations

import json
from pathlib import Path

from firestream_core.tools.kubectl import Kubectl

RECORDING = """#!/bin/sh
printf '%s\\n' "$*" >> "{log}"
exec "{fake}" "$@"
"""


def recording(tmp_path: Path, fake: Path) -> tuple[Path, Path]:
    log = tmp_path / "calls.log"
    script = tmp_path / "kubectl"
    script.write_text(RECORDING.format(log=log, fake=fake))
    script.chmod(0o755)
    return script, log


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_one_list_answers_every_name(tmp_path: Path, fake_kubectl: Path) -> None:
    binary, log = recording(tmp_path, fake_kubectl)
    kube = Kubectl(binary=binary, env={"FAKE_KUBECTL_NAMESPACES": "data"})
    found = kube.namespaces_exist(["data", "shop", "default", "data"])
    assert found.exists == {"data": True, "shop": False, "default": True}
    assert (found.missing, found.unknown, found.problem, found.calls) == (("shop",), (), None, 1)
    assert calls(log) == ["get namespaces --output json"]
    assert kube.namespaces_exist([]).calls == 0 and len(calls(log)) == 1


def test_a_refused_list_falls_back_to_one_get_of_the_names(tmp_path: Path, fake_kubectl: Path) -> None:
    binary, log = recording(tmp_path, fake_kubectl)
    kube = Kubectl(binary=binary, env={"FAKE_KUBECTL_FORBID_LIST": "1", "FAKE_KUBECTL_NAMESPACES": "data"})
    found = kube.namespaces_exist(["data", "shop"])
    assert found.exists == {"data": True, "shop": False} and found.problem is None and found.calls == 2
    assert calls(log) == ["get namespaces --output json",
                          "get namespace data shop --ignore-not-found --output json"]
    # one name: kubectl prints the object itself, not a List
    assert kube.namespaces_exist(["data"]).exists == {"data": True}


def test_names_the_user_may_not_get_stay_unknown_with_kubectls_reason(tmp_path: Path, fake_kubectl: Path) -> None:
    kube = Kubectl(binary=fake_kubectl, env={"FAKE_KUBECTL_FORBID_LIST": "1", "FAKE_KUBECTL_FORBIDDEN": "team-b",
                                             "FAKE_KUBECTL_NAMESPACES": "team-a,team-b"})
    found = kube.namespaces_exist(["team-a", "team-b", "gone"])
    assert found.exists == {"team-a": True, "team-b": None, "gone": False}
    assert found.problem is not None and 'namespaces "team-b" is forbidden' in found.problem


def test_a_cluster_that_cannot_be_asked_leaves_every_name_unknown_without_raising(tmp_path: Path) -> None:
    broken = tmp_path / "kubectl"
    broken.write_text("#!/bin/sh\necho 'The connection to the server 127.0.0.1:6443 was refused' >&2\nexit 1\n")
    broken.chmod(0o755)
    found = Kubectl(binary=broken).namespaces_exist(["data"])
    assert found.exists == {"data": None} and found.calls == 1
    assert found.problem == "kubectl get namespaces: The connection to the server 127.0.0.1:6443 was refused"


def test_the_fake_kubectl_answers_the_namespaces_the_fake_helm_made(tmp_path: Path, fake_kubectl: Path,
                                                                    fake_helm) -> None:
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: chart\nversion: 0.1.0\n")
    helm = fake_helm.helm()
    helm.runner.run([str(fake_helm.binary), "upgrade", "--install", "web", str(chart), "--namespace", "shop",
                     "--create-namespace"], env=fake_helm.env)
    kube = Kubectl(binary=fake_kubectl, env=fake_helm.env)
    assert kube.namespaces_exist(["shop", "data"]).exists == {"shop": True, "data": False}
    every = json.loads(kube.runner.run([str(fake_kubectl), "get", "namespaces", "-o", "json"],
                                       env=fake_helm.env).stdout)
    assert [i["metadata"]["name"] for i in every["items"]] == [
        "default", "kube-node-lease", "kube-public", "kube-system", "shop"]


def test_no_kubectl_installed_leaves_every_name_unknown(tmp_path: Path) -> None:
    """A plan needs only helm: a missing kubectl makes the namespaces unknown, not the plan fail."""
    found = Kubectl(binary=tmp_path / "no-kubectl").namespaces_exist(["data"])
    assert found.exists == {"data": None}
    assert found.problem is not None and found.problem.startswith("kubectl cannot be run: ")
