"""tools/manifests.py: rendered manifests split into objects, each with helm's ``# Source:``."""

from __future__ import annotations

from firestream_core.tools.manifests import split_manifest

# What helm template prints for an upstream CRD file that starts with a comment and its own
# "---" (kube-prometheus-stack's charts/crds/crds/*.yaml do), then a file with two documents.
RENDERED = """---
# Source: kps/charts/crds/crds/crd-alertmanagerconfigs.yaml
# https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/v0.63.0/example/...
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: alertmanagerconfigs.monitoring.coreos.com
spec:
  versions:
    - schema:
        openAPIV3Schema:
          properties:
            matchType:
              enum:
                - "!="
                - =
                - =~
---
# Source: kps/templates/services.yaml
apiVersion: v1
kind: Service
metadata:
  name: a
  namespace: kube-system
---
apiVersion: v1
kind: Service
metadata:
  name: b
"""


def test_a_files_source_holds_for_every_document_after_it_until_the_next_source() -> None:
    objs = split_manifest(RENDERED)
    assert [(o.obj["kind"], o.obj["metadata"]["name"], o.source) for o in objs] == [
        ("CustomResourceDefinition", "alertmanagerconfigs.monitoring.coreos.com",
         "kps/charts/crds/crds/crd-alertmanagerconfigs.yaml"),
        ("Service", "a", "kps/templates/services.yaml"),
        ("Service", "b", "kps/templates/services.yaml"),
    ]
    assert [o.from_crds_folder for o in objs] == [True, False, False]
    enum = objs[0].obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["matchType"]["enum"]
    assert enum == ["!=", "=", "=~"]  # YAML 1.2: a bare '=' is a string
