"""plugin.stage_tools: ``context.helm`` / ``context.kubectl`` have one typed shape, the tools' own.

The protocols list every public call of ``Helm`` and ``Kubectl`` with the same signature, so
a stage type-checks the same against the run's tools and the desired-state stage's read-only
views; a new public call on a tool fails here until it is in the protocol (and the read-only
view decides whether it reads or refuses).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from firestream_core.deploy.desired import ReadOnlyHelm, ReadOnlyKubectl
from firestream_core.errors import PluginError
from firestream_core.plugin.stage_tools import HelmTool, KubectlTool
from firestream_core.tools.helm import Helm
from firestream_core.tools.kubectl import Kubectl

PAIRS = [(Helm, HelmTool, ReadOnlyHelm), (Kubectl, KubectlTool, ReadOnlyKubectl)]

ATTRIBUTES = {"binary", "kubeconfig", "kube_context", "env", "redactor", "runner"}  # set in __init__
NOT_FOR_STAGES = {"registries", "wait_strategy"}  # Helm's own settings, not a stage's call

READS = {
    ReadOnlyHelm: {"binary", "kubeconfig", "kube_context", "env", "redactor", "version", "major", "argv",
                   "program_env", "list_releases", "status", "history", "get_values", "get_manifest",
                   "get_hooks", "template", "render_release", "repo_add", "pull", "resolve_version"},
    ReadOnlyKubectl: {"binary", "kubeconfig", "kube_context", "env", "redactor", "argv", "program_env", "get",
                      "get_labelled", "get_manifest_objects", "logs", "events", "namespaces_exist"},
}


def members(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def signature(obj: Any) -> inspect.Signature:
    return inspect.signature(obj, eval_str=False)


@pytest.mark.parametrize(("tool", "protocol", "view"), PAIRS)
def test_the_protocol_is_every_public_call_of_the_tool_with_its_signature(
    tool: type, protocol: type, view: type
) -> None:
    assert members(protocol) == (members(tool) | ATTRIBUTES) - NOT_FOR_STAGES - {"program", "binary_env",
                                                                                  "context_flag"}
    for name in members(protocol):
        declared = inspect.getattr_static(protocol, name)
        if isinstance(declared, property):
            assert isinstance(inspect.getattr_static(view, name), property), name
            continue
        assert signature(getattr(tool, name)) == signature(declared), name
        assert signature(getattr(view, name)) == signature(declared), name


@pytest.mark.parametrize(("tool", "protocol", "view"), PAIRS)
def test_the_read_only_view_refuses_every_call_but_its_reads(tool: type, protocol: type, view: type) -> None:
    ro = view(tool(binary="x"))
    kind = tool.__name__.lower()
    for name in sorted(members(protocol) - READS[view]):
        declared = inspect.getattr_static(protocol, name)
        with pytest.raises(PluginError, match=rf"must not change the cluster: {kind}\.{name} is not allowed"):
            if isinstance(declared, property):
                getattr(ro, name)
            else:
                params = [p for p in signature(declared).parameters.values() if p.name != "self"]
                args = [None for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
                kwargs = {p.name: None for p in params if p.default is p.empty and p.kind is p.KEYWORD_ONLY}
                getattr(ro, name)(*args, **kwargs)


def test_the_runs_tools_are_read_by_the_views() -> None:
    helm = Helm(binary="/opt/helm", kubeconfig="/k/config", env={"A": "b"})
    ro = ReadOnlyHelm(helm)
    assert (ro.binary, ro.kubeconfig, ro.env, ro.redactor) == (helm.binary, helm.kubeconfig, helm.env, helm.redactor)
    assert ro.program_env() == {"A": "b", "KUBECONFIG": "/k/config", **helm.repository_home.env()}
    kubectl = Kubectl(binary="kubectl", kube_context="prod")
    assert ReadOnlyKubectl(kubectl).argv(["get", "pods"]) == ["kubectl", "get", "pods", "--context", "prod"]
