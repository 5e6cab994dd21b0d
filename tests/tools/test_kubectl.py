"""Kubectl against the emulated API with the real kubectl: get / wait / apply / delete / logs / events."""

from __future__ import annotations

from pathlib import Path

import pytest
from firestream_testing.plugin_fixtures import RecordingRunner

from firestream_core.errors import ClusterUnreachableError, HelmCommandError
from firestream_core.model import ChartInfo, ChartValuesGenerated
from firestream_core.tools.kubectl import Kubectl

pytestmark = pytest.mark.helm

SECRET = "kubectl-secret-value-0987"


def namespace_manifest(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def test_get_answers_none_for_missing_objects_and_kinds(kube) -> None:  # noqa: ANN001
    kc = kube.kubectl()
    assert kc.get("configmap", "nope", namespace="default") is None
    assert kc.get("widgets.nothing.example.com") is None  # a kind the server does not know
    assert kc.get("namespace", "default")["metadata"]["name"] == "default"
    listed = kc.get("namespaces")
    assert listed is not None and any(i["metadata"]["name"] == "default" for i in listed["items"])


def test_apply_server_side_sends_manifests_on_stdin_only(kube) -> None:  # noqa: ANN001
    runner = RecordingRunner()
    kc = kube.kubectl(runner=runner)
    ns = kube.namespace
    assert kc.apply_server_side(namespace_manifest(ns)) == [f"namespace/{ns}"]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": ns},
              "stringData": {"password": SECRET}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns},
              "data": {"a": "1"}}
    assert sorted(kc.apply_server_side([secret, config])) == ["configmap/cfg", "secret/creds"]
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-text\ndata:\n  b: '2'\n"
    assert kc.apply_server_side(text, namespace=ns) == ["configmap/from-text"]
    assert kc.get("configmap", "from-text", namespace=ns)["data"] == {"b": "2"}
    applies = [(argv, stdin) for argv, stdin in zip(runner.argvs, runner.stdins, strict=True)
               if argv[1] == "apply"]
    assert len(applies) == 3
    for argv, _stdin in applies:
        assert SECRET not in " ".join(argv)
        assert {"--server-side", "--filename", "-", "--field-manager=firestream", "--force-conflicts"} <= set(argv)
    assert SECRET.encode() in applies[1][1]


def test_delete_reports_whether_something_was_deleted(kube) -> None:  # noqa: ANN001
    kc = kube.kubectl()
    ns = kube.namespace
    kc.apply_server_side([namespace_manifest(ns), {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "gone", "namespace": ns}}])
    assert kc.delete("configmap", "gone", namespace=ns) is True
    assert kc.get("configmap", "gone", namespace=ns) is None
    assert kc.delete("configmap", "gone", namespace=ns) is False
    with pytest.raises(HelmCommandError):
        kc.delete("configmap", "gone", namespace=ns, ignore_not_found=False)


def test_wait_logs_and_events_of_a_release(kube, chart_repo, tmp_path: Path) -> None:  # noqa: ANN001
    ns = kube.namespace
    helm = kube.helm()
    info = ChartInfo(name="obs", path=chart_repo.tgz("tiny-app", "0.1.0"), namespace=ns)
    assert helm.upgrade_install(info, tmp_path) == 1
    kc = kube.kubectl()
    assert kc.wait("deployment", "obs-tiny-app", namespace=ns, condition="condition=Available", timeout="30s")
    selector = "app.kubernetes.io/instance=obs"
    assert kc.wait("pod", namespace=ns, selector=selector, timeout="30s")
    pods = kc.get("pods", namespace=ns, selector=selector)
    assert pods is not None and len(pods["items"]) == 1
    pod = pods["items"][0]["metadata"]["name"]
    assert "no real process runs here" in kc.logs(pod, ns, tail=5)
    assert kc.logs("no-such-pod", ns) == ""
    events = kc.events(ns)
    assert events and all("message" in e for e in events)
    assert kc.events(ns, involved_object=pod)
    assert all(e["involvedObject"]["name"] == pod for e in kc.events(ns, involved_object=pod))


def test_wait_is_false_when_pods_never_get_ready(kube, chart_repo, tmp_path: Path) -> None:  # noqa: ANN001
    ns = kube.namespace
    info = ChartInfo(
        name="sick", path=chart_repo.tgz("tiny-app", "0.1.0"), namespace=ns, wait=False, atomic=False,
        yaml_files_content=[ChartValuesGenerated("b", 'podAnnotations:\n  emulator.firestream.dev/ready: "false"\n')],
    )
    kube.helm().upgrade_install(info, tmp_path)
    kc = kube.kubectl()
    assert kc.wait("pod", namespace=ns, selector="app.kubernetes.io/instance=sick", timeout="1s") is False
    assert kc.wait("pod", "does-not-exist", namespace=ns, timeout="1s") is False


def test_run_is_for_kubectl_commands(kube) -> None:  # noqa: ANN001
    kc = kube.kubectl()
    done = kc.run(["kubectl", "get", "namespace", "default", "-o", "name"])
    assert done.stdout.strip() == "namespace/default"
    with pytest.raises(ValueError):
        kc.run(["helm", "list"])
    with pytest.raises(HelmCommandError) as exc:
        kc.run(["kubectl", "get", "namespace", "nope-nope"])
    assert "kubectl get namespace failed" in str(exc.value)


def test_unreachable_server(kube, tmp_path: Path) -> None:  # noqa: ANN001
    dead = tmp_path / "dead"
    dead.write_text(kube.kubeconfig.read_text().replace(kube.url, "http://127.0.0.1:9"))
    kc = Kubectl(binary=kube.tools["kubectl"], kubeconfig=dead, env=kube.env)
    with pytest.raises(ClusterUnreachableError) as exc:
        kc.get("namespace", "default")
    assert "127.0.0.1:9" in str(exc.value)


def test_kubectl_binary_from_environment(monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    monkeypatch.setenv("FIRESTREAM_KUBECTL_BINARY", str(tmp_path / "k"))
    assert Kubectl().binary == str(tmp_path / "k")


# client-go's retry lines (klog) that kubectl prints on its way to another failure
KLOG_REFUSED = (
    'E1207 12:00:00.000000   12345 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API '
    'group list: Get \\"https://127.0.0.1:6443/api?timeout=32s\\": dial tcp 127.0.0.1:6443: connect: '
    'connection refused"\n'
)


def _kubectl_saying(tmp_path: Path, stderr: str) -> Kubectl:
    """A kubectl that fails with ``stderr`` (what a real one prints after client-go retried)."""
    (tmp_path / "stderr.txt").write_text(stderr)
    fake = tmp_path / "kubectl"
    fake.write_text(f"#!/bin/sh\ncat '{tmp_path / 'stderr.txt'}' >&2\nexit 1\n")
    fake.chmod(0o755)
    return Kubectl(binary=fake)


def test_a_not_found_after_client_go_logged_a_refused_connection_is_not_found(tmp_path: Path) -> None:
    kc = _kubectl_saying(tmp_path, KLOG_REFUSED + 'Error from server (NotFound): pods "web-0" not found\n')
    assert kc.get("pod", "web-0", namespace="default") is None
    assert kc.logs("web-0", "default") == ""


def test_a_failure_after_client_go_logged_a_refused_connection_is_not_an_unreachable_cluster(tmp_path: Path) -> None:
    kc = _kubectl_saying(tmp_path, KLOG_REFUSED + 'Error from server (Forbidden): pods is forbidden: User '
                                                 '"ci" cannot list resource "pods"\n')
    with pytest.raises(HelmCommandError) as exc:
        kc.get("pods", namespace="default")
    assert not isinstance(exc.value, ClusterUnreachableError)
    assert "forbidden" in str(exc.value)


def test_kubectls_own_refused_connection_is_an_unreachable_cluster(tmp_path: Path) -> None:
    kc = _kubectl_saying(tmp_path, KLOG_REFUSED + "The connection to the server 127.0.0.1:6443 was refused - "
                                                 "did you specify the right host or port?\n")
    with pytest.raises(ClusterUnreachableError):
        kc.get("pod", "web-0", namespace="default")
    kc = _kubectl_saying(tmp_path, KLOG_REFUSED)  # nothing but client-go's lines: they are the account
    with pytest.raises(ClusterUnreachableError):
        kc.get("pod", "web-0", namespace="default")
