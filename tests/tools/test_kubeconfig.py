"""Which cluster a run talks to, read from the kubeconfig as helm and kubectl read it (no credential)."""

from __future__ import annotations

from pathlib import Path

from firestream_core.tools.kubeconfig import ClusterIdentity, cluster_identity, kubeconfig_files

FIRST = """
apiVersion: v1
kind: Config
clusters:
- {name: a, cluster: {server: "https://user:pw-Zq9@a.example:6443", certificate-authority-data: Q0E=}}
users: [{name: u, user: {token: tok-Zq9}}]
contexts: [{name: ctx-a, context: {cluster: a, user: u}}]
current-context: ctx-a
"""

SECOND = """
clusters:
- {name: a, cluster: {server: "https://not-this-one.example"}}
- {name: b, cluster: {server: "https://b.example/"}}
contexts:
- {name: ctx-a, context: {cluster: b}}
- {name: ctx-b, context: {cluster: b}}
current-context: ctx-b
"""


def test_the_first_file_wins_and_no_credential_is_read(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text(FIRST)
    second.write_text(SECOND)
    env = {"KUBECONFIG": f"{first}:{tmp_path / 'missing'}:{second}", "HOME": str(tmp_path)}
    assert cluster_identity(environ=env) == ClusterIdentity("ctx-a", "https://a.example:6443")
    assert cluster_identity(kube_context="ctx-b", environ=env) == ClusterIdentity("ctx-b", "https://b.example")
    assert cluster_identity(kube_context="nope", environ=env) == ClusterIdentity("nope", None)
    # --kubeconfig: that file alone
    assert cluster_identity(second, environ=env) == ClusterIdentity("ctx-b", "https://b.example")
    assert "pw-Zq9" not in repr(cluster_identity(environ=env))


def test_the_default_file_and_in_cluster(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(SECOND)
    assert kubeconfig_files(None, {"HOME": str(tmp_path)}) == [tmp_path / ".kube" / "config"]
    assert cluster_identity(environ={"HOME": str(tmp_path)}) == ClusterIdentity("ctx-b", "https://b.example")
    pod = {"HOME": str(tmp_path / "none"), "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert cluster_identity(environ=pod) == ClusterIdentity(None, "https://10.96.0.1:443")
    (tmp_path / "bad").write_text("clusters: [")
    assert cluster_identity(tmp_path / "bad", "x", environ={}) == ClusterIdentity("x", None)


def test_a_fifo_or_a_device_as_kubeconfig_is_skipped_not_read_forever(tmp_path: Path, monkeypatch) -> None:
    """A ``KUBECONFIG`` naming a FIFO (no writer: an unbounded read would wait forever) or
    ``/dev/zero`` (endless bytes) is passed over as unreadable; the next file still counts."""
    import os

    from firestream_core.tools import readfile

    fifo, second, big = tmp_path / "fifo", tmp_path / "second", tmp_path / "big"
    os.mkfifo(fifo)
    second.write_text(SECOND)
    env = {"KUBECONFIG": f"{fifo}:/dev/zero:{second}", "HOME": str(tmp_path)}
    assert cluster_identity(environ=env) == ClusterIdentity("ctx-b", "https://b.example")
    big.write_text(FIRST + "#" * 200)
    monkeypatch.setattr(readfile, "KUBECONFIG_LIMIT", len(FIRST) + 100)
    assert cluster_identity(environ={"KUBECONFIG": f"{big}:{second}"}) == ClusterIdentity(
        "ctx-b", "https://b.example")
