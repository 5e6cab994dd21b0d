"""Real helm 3.19 and 4.3 against the emulator: the ``crds/`` folder of a chart whose CRD the
cluster already has. helm 3's install skips a CRD that exists; helm 4's install server-side
applies it (``installCRDs``), so installing a second release of a chart whose CRD differs from
the cluster's (an older chart version's, one changed since) rewrites that cluster-wide CRD.
``diff`` shows it for a create under helm 4, and nothing under helm 3, as each helm then does.

The stand-in reproduces the upstream structure: strimzi-kafka-operator's and
kube-prometheus-stack's CRDs in a ``crds/`` folder (``crds/040-Crd-kafka.yaml``,
``charts/crds/crds/crd-*.yaml``), one operator release per namespace. Each test names its own
API group (CRDs are cluster-wide; the emulator is shared by the module's tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import operator_chart, write_config

pytestmark = pytest.mark.helm


def _release(name: str, chart: Path, ns: str) -> str:
    return f'[[deployments.generic]]\nname = "{name}"\npath = "{chart}"\nnamespace = "{ns}"\ntimeout = "60s"\n\n'


def test_diff_shows_the_crds_helm_4s_install_applies_over_the_clusters(tmp_path, kube, helm_bin, helm_major, cli):
    ns = kube.namespace
    group = f"{ns}.kafka.firestream.dev"
    crd = f"kafkas.{group}"
    chart = operator_chart(tmp_path / "charts", group)
    kubectl = str(kube.tools["kubectl"])
    path = write_config(tmp_path / "p", _release("a", chart, ns))
    assert cli(path, "apply", "--yes")[0] == 0
    # the cluster's CRD moves on: a newer chart (another release) added a version
    kube.run([kubectl, "patch", "crd", crd, "--type", "json", "-p", json.dumps([{
        "op": "add", "path": "/spec/versions/-",
        "value": {"name": "v1", "served": True, "storage": False,
                  "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}])])
    path = write_config(tmp_path / "p", _release("a", chart, ns) + _release("b", chart, f"{ns}-b"))
    code, out, err = cli(path, "diff", "--detailed-exitcode")
    assert code == 2, out + err
    line = (f"   ~ CRD {crd} (from the chart's crds/ folder: helm 4's install applies it over the cluster's, "
            "for every release using it): spec.versions drops v1 (the cluster's CRD has it)")
    if helm_major >= 4:
        assert line in out.splitlines()
        assert "; 1 CRD(s) of a crds/ folder applied over the cluster's (helm 4)" in out
    else:
        assert "~ CRD" not in out and "applied over" not in out
    code, out, err = cli(path, "diff", "--json")
    applied = {r["name"]: r["crds_applied"] for r in json.loads(out)["releases"]}
    assert applied == {"b": [f"{crd}: spec.versions drops v1 (the cluster's CRD has it)"] if helm_major >= 4 else []}

    # what each helm does (diff told the truth): helm 4 rewrites the CRD, helm 3 leaves it
    assert cli(path, "apply", "--yes")[0] == 0
    live = json.loads(kube.run([kubectl, "get", "crd", crd, "-o", "json"]).stdout)
    versions = [v["name"] for v in live["spec"]["versions"]]
    assert versions == (["v1beta2"] if helm_major >= 4 else ["v1beta2", "v1"])
