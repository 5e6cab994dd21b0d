"""tools.kubetool: the plumbing Helm and Kubectl share, each with its own program and flags."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from firestream_core.tools.helm import Helm
from firestream_core.tools.kubectl import Kubectl
from firestream_core.tools.kubetool import KubeTool, check_startable
from firestream_core.tools.process import Completed, ProgramNotFoundError, Runner, install_hint


class Recorder(Runner):
    def __init__(self) -> None:
        super().__init__()
        self.argv: list[list[str]] = []

    def run(self, argv, *, env=None, stdin=None, timeout=None, label=None, cwd=None) -> Completed:  # noqa: ANN001
        self.argv.append([str(a) for a in argv])
        return Completed(tuple(argv), 0, "v3.19.0", "", 0.0, label)


def test_both_tools_are_kube_tools_with_their_own_binary_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRESTREAM_HELM_BINARY", "/opt/helm")
    monkeypatch.setenv("FIRESTREAM_KUBECTL_BINARY", "/opt/kubectl")
    helm, kubectl = Helm(), Kubectl()
    assert isinstance(helm, KubeTool) and isinstance(kubectl, KubeTool)
    assert (helm.binary, kubectl.binary) == ("/opt/helm", "/opt/kubectl")
    monkeypatch.delenv("FIRESTREAM_HELM_BINARY")
    monkeypatch.delenv("FIRESTREAM_KUBECTL_BINARY")
    assert (Helm().binary, Kubectl().binary) == ("helm", "kubectl")
    assert Helm(binary=Path("/x/helm4")).binary == "/x/helm4"


def test_each_adds_its_own_context_flag_and_shares_the_runner() -> None:
    runner = Recorder()
    helm = Helm(runner, "helm", kubeconfig="/k", kube_context="prod")
    kubectl = Kubectl(runner, "kubectl", kubeconfig="/k", kube_context="prod")
    helm.uninstall("web", "apps")
    kubectl.run(["kubectl", "get", "pods"])
    assert runner.argv[-2][-4:] == ["--kubeconfig", "/k", "--kube-context", "prod"]
    assert runner.argv[-1] == ["kubectl", "get", "pods", "--kubeconfig", "/k", "--context", "prod"]
    assert helm.runner is kubectl.runner is runner


def test_a_missing_binary_gets_its_tools_install_hint_whatever_its_file_name(tmp_path: Path) -> None:
    with pytest.raises(ProgramNotFoundError) as caught:
        Kubectl(binary=tmp_path / "k").run(["kubectl", "version"])
    assert caught.value.hint == install_hint("kubectl") != install_hint("k")
    with pytest.raises(ProgramNotFoundError) as caught:
        Helm(binary=tmp_path / "h").uninstall("web", "apps")
    assert caught.value.hint == install_hint("helm") != install_hint("h")


def test_check_startable_names_the_tool_and_its_hint(tmp_path: Path) -> None:
    with pytest.raises(ProgramNotFoundError) as caught:
        check_startable(Kubectl(binary=tmp_path / "k"))
    assert caught.value.hint == install_hint("kubectl")
    assert str(caught.value) == f"cannot run '{tmp_path / 'k'}': not found or not executable"
    check_startable(Kubectl(binary=sys.executable))  # an executable file: fine
    check_startable(Kubectl(Recorder(), "kubectl-nowhere"))  # a runner that starts nothing


def test_argv_and_program_env_give_how_the_tool_reaches_its_cluster() -> None:
    """What ``pre_upgrade_commands`` use to run helm (and other programs) as the run's helm does."""
    helm = Helm(binary="/opt/helm", kubeconfig="/k/config", kube_context="prod", env={"HELM_CACHE_HOME": "/c"})
    assert helm.argv(["uninstall", "old"]) == [
        "/opt/helm", "uninstall", "old", "--kubeconfig", "/k/config", "--kube-context", "prod"
    ]
    # helm's own repositories (tools/helm_repos.py): a `helm repo add` it runs writes the run's
    assert helm.program_env() == {"HELM_CACHE_HOME": "/c", "KUBECONFIG": "/k/config", **helm.repository_home.env()}
    assert Kubectl(binary="kubectl").argv(["get", "pods"]) == ["kubectl", "get", "pods"]
    assert Kubectl(binary="kubectl", env={"KUBECONFIG": "/own"}).program_env() == {"KUBECONFIG": "/own"}
    # set by the tool's own env: not overridden; the instance's env is never changed
    own = Helm(binary="helm", kubeconfig="/k/config", env={"KUBECONFIG": "/own"})
    assert own.program_env() == {"KUBECONFIG": "/own", **own.repository_home.env()}
    assert own.env == {"KUBECONFIG": "/own"} and helm.env == {"HELM_CACHE_HOME": "/c"}
    bare = Helm(binary="helm")
    assert bare.program_env() == bare.repository_home.env()
