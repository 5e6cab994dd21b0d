"""Manifests and CRDs read as Kubernetes reads them (YAML 1.2 scalars), in every place that parses one."""

from __future__ import annotations

from pathlib import Path

import pytest

from firestream_core.ops.drift import release_drift
from firestream_core.ops.helm_hooks import hooks_in
from firestream_core.plugin.crds import chart_crds, crd_names
from firestream_core.tools import kube_yaml
from firestream_core.tools.manifests import split_manifest

# The shape of kube-prometheus-stack's crd-alertmanagerconfigs.yaml (charts/crds/crds/):
# a leading comment, a separator, enum items written "- =" and "- =~".
ENUM_CRD = """\
# https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/v0.x/example/crd.yaml
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: matchers.example.firestream.dev
spec:
  group: example.firestream.dev
  names:
    kind: Matcher
    listKind: MatcherList
    plural: matchers
    singular: matcher
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              matchType:
                enum:
                - '!='
                - =
                - =~
                - '!~'
                type: string
              answer:
                enum:
                - y
                - n
                - on
                - off
                - no
                type: string
"""

CONFIGMAP = """\
# Source: demo/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: workflow
  labels:
    enabled: y
data:
  on: push
  y: yes
  "n": no
  when: 2024-01-01
  clock: 1:30
"""


def test_yaml_1_2_scalars_are_strings() -> None:
    doc = kube_yaml.load("a: [=, =~, y, Y, n, no, on, off, yes, 2024-01-01, 1:30]\non: 1\ny: 2\n")
    assert doc["a"] == ["=", "=~", "y", "Y", "n", "no", "on", "off", "yes", "2024-01-01", "1:30"]
    assert doc["on"] == 1 and doc["y"] == 2


def test_yaml_1_2_core_schema_still_types_what_json_types() -> None:
    doc = kube_yaml.load("t: true\nf: False\nn: null\ne:\nt2: ~\ni: 012\no: 0o17\nx: 0x1F\nfl: 1.5\n"
                         "inf: -.inf\ns: !!str 12\nbase: &b {k: v}\nmerged:\n  <<: *b\n  j: w\n")
    assert doc == {"t": True, "f": False, "n": None, "e": None, "t2": None, "i": 12, "o": 15, "x": 31,
                   "fl": 1.5, "inf": float("-inf"), "s": "12", "base": {"k": "v"},
                   "merged": {"k": "v", "j": "w"}}


def test_multi_document_streams_with_empty_documents_and_comments() -> None:
    text = f"---\n# nothing here\n---\n\n---\n{ENUM_CRD}\n---\n# Source: demo/templates/cm.yaml\n---\n{CONFIGMAP}---\n"
    objects = split_manifest(text)
    assert [o.kind for o in objects] == ["CustomResourceDefinition", "ConfigMap"]
    enum = objects[0].obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"]
    assert enum["matchType"]["enum"] == ["!=", "=", "=~", "!~"]
    assert enum["answer"]["enum"] == ["y", "n", "on", "off", "no"]
    assert objects[1].obj["data"] == {"on": "push", "y": "yes", "n": "no",
                                      "when": "2024-01-01", "clock": "1:30"}
    assert objects[1].obj["metadata"]["labels"] == {"enabled": "y"}
    assert crd_names(text) == ["matchers.example.firestream.dev"]


def test_a_broken_document_is_a_readable_error() -> None:
    with pytest.raises(ValueError, match="demo/templates/bad.yaml is not valid YAML"):
        split_manifest("# Source: demo/templates/bad.yaml\na: [1\n")


def test_chart_hooks_read_hooks_next_to_enum_crds() -> None:
    manifest = ENUM_CRD + "---\n" + """\
# Source: demo/templates/job.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-upgrade,pre-install
    "on": "y"
spec: {}
"""
    hooks = hooks_in(manifest)
    assert [h.name for h in hooks] == ["migrate"]


def _chart_with_enum_crds(root: Path) -> Path:
    chart = root / "enums"
    (chart / "crds").mkdir(parents=True)
    (chart / "templates").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: enums\nversion: 0.1.0\n")
    (chart / "crds" / "crd-matchers.yaml").write_text(ENUM_CRD)
    (chart / "templates" / "cm.yaml").write_text(CONFIGMAP.replace("# Source: demo/templates/cm.yaml\n", ""))
    return chart


@pytest.mark.helm
def test_kubectl_helpers_crds_and_drift_on_the_emulator(kube, deploy_context, tmp_path) -> None:  # noqa: ANN001
    from firestream_core.model import ChartInfo

    chart = _chart_with_enum_crds(tmp_path)
    context = deploy_context()
    info = ChartInfo(name="enums", chart="enums", path=chart)
    manifests = chart_crds(context, info)
    assert "- =\n" in manifests
    kc = kube.kubectl()
    # the CRD text reaches kubectl as JSON documents read by the YAML 1.2 rules, so no
    # enum item turns into a boolean on the way (kubectl itself reads YAML 1.1)
    assert kc.apply_server_side(manifests) == ["customresourcedefinition.apiextensions.k8s.io/"
                                               "matchers.example.firestream.dev"]
    crd = kc.get("customresourcedefinition", "matchers.example.firestream.dev")
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert props["matchType"]["enum"] == ["!=", "=", "=~", "!~"]
    assert props["answer"]["enum"] == ["y", "n", "on", "off", "no"]
    # objects given as data keep "y" / "on" strings through kubectl
    cm = kube_yaml.load(CONFIGMAP)
    cm["metadata"]["namespace"] = kube.namespace
    kc.apply_server_side([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": kube.namespace}}, cm])
    live = kc.get("configmap", "workflow", namespace=kube.namespace)
    assert live["data"]["on"] == "push" and live["metadata"]["labels"]["enabled"] == "y"
    # drift reads the manifest with the same rules: a fresh object is in sync
    text = CONFIGMAP.replace("  name: workflow\n", f"  name: workflow\n  namespace: {kube.namespace}\n")
    drift = release_drift("enums", kube.namespace, text, kc)
    assert drift.status == "in-sync", drift
