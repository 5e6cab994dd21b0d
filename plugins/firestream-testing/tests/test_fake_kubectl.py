"""``fake_kubectl``: the stand-in kubectl for runs on the fake helm."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from firestream_core.tools.kubectl import Kubectl


def test_every_answer_is_an_empty_list(fake_kubectl: Path) -> None:
    done = subprocess.run(  # noqa: S603
        [fake_kubectl, "get", "pods", "-n", "x", "-o", "json"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert json.loads(done.stdout) == {"apiVersion": "v1", "kind": "List", "items": []}
    assert Kubectl(binary=fake_kubectl).get("pods", namespace="x") == {
        "apiVersion": "v1", "kind": "List", "items": [],
    }


def test_namespaces_are_the_clusters_own_and_those_named_with_kubectls_refusals(fake_kubectl: Path) -> None:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [fake_kubectl, *args], capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", **env},
        )

    listed = json.loads(run("get", "namespaces", "-o", "json", FAKE_KUBECTL_NAMESPACES="data").stdout)
    assert [i["metadata"]["name"] for i in listed["items"]] == [
        "data", "default", "kube-node-lease", "kube-public", "kube-system"]
    one = run("get", "namespace", "data", "--output", "json", FAKE_KUBECTL_NAMESPACES="data")
    assert json.loads(one.stdout)["kind"] == "Namespace"
    missing = run("get", "namespace", "shop", "--output", "json")
    assert missing.returncode == 1 and missing.stderr.strip() == 'Error from server (NotFound): namespaces "shop" not found'
    assert run("get", "namespace", "shop", "--ignore-not-found", "-o", "json").returncode == 0
    refused = run("get", "namespaces", "-o", "json", FAKE_KUBECTL_FORBID_LIST="1")
    assert refused.returncode == 1 and "(Forbidden): namespaces is forbidden" in refused.stderr
