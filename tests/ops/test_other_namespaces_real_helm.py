"""Real helm 3.19 and 4.3 against the emulator: a chart that puts objects in a namespace other
than its release's. helm creates only the release's namespace (``--create-namespace``), so an
object in a namespace that does not exist fails the install or the upgrade there, after the
objects before it. plan refuses such a change, naming the namespace and its objects; one that
exists (kube-system) or that the plan creates (another release's namespace) is no refusal.

The stand-in reproduces the upstream structures: strimzi-kafka-operator's
``templates/020-RoleBinding-strimzi-cluster-operator.yaml`` (a RoleBinding in each of
``watchNamespaces``) and kube-prometheus-stack's ``templates/exporters/core-dns/service.yaml``
(a Service in ``kube-system``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import write_config

pytestmark = pytest.mark.helm

# strimzi-kafka-operator templates/020-RoleBinding-strimzi-cluster-operator.yaml, reduced
ROLEBINDINGS = """{{- range append .Values.watchNamespaces .Release.Namespace }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: strimzi-cluster-operator
  namespace: {{ . }}
subjects:
  - kind: ServiceAccount
    name: strimzi-cluster-operator
    namespace: {{ $.Release.Namespace }}
roleRef:
  kind: ClusterRole
  name: strimzi-cluster-operator-namespaced
  apiGroup: rbac.authorization.k8s.io
{{- end }}
"""

# kube-prometheus-stack templates/exporters/core-dns/service.yaml, reduced
KUBE_SYSTEM_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Namespace }}-{{ .Release.Name }}-coredns  # one per test: the emulator is shared
  namespace: kube-system
spec:
  clusterIP: None
  ports:
    - name: http-metrics
      port: 9153
  selector:
    k8s-app: kube-dns
"""


def _chart(root: Path) -> Path:
    chart = root / "operator"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: operator\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("watchNamespaces: []\n")
    (chart / "templates" / "rolebindings.yaml").write_text(ROLEBINDINGS)
    (chart / "templates" / "service.yaml").write_text(KUBE_SYSTEM_SERVICE)
    return chart


def _release(name: str, chart: Path, ns: str, watch: list[str] | None = None) -> str:
    out = f'[[deployments.generic]]\nname = "{name}"\npath = "{chart}"\nnamespace = "{ns}"\ntimeout = "60s"\n'
    if watch is not None:
        out += f"[deployments.generic.values]\nwatchNamespaces = {json.dumps(watch)}\n"
    return out + "\n"


def _revisions(kube, helm_bin) -> dict[str, int]:
    out = kube.run([helm_bin, "list", "-n", kube.namespace, "-o", "json"]).stdout
    return {r["name"]: int(r["revision"]) for r in json.loads(out)}


def test_plan_refuses_a_create_with_objects_in_a_namespace_that_does_not_exist(tmp_path, kube, helm_bin, cli):
    ns = kube.namespace
    apps = f"{ns}-apps"
    chart = _chart(tmp_path / "charts")
    path = write_config(tmp_path / "p", _release("op", chart, ns, [apps]))
    code, out, err = cli(path, "plan")
    assert code == 1, out + err
    assert "Traceback" not in out + err
    refused = out.split("Refused (apply stops these releases before any change):\n", 1)[1].splitlines()[0]
    assert refused == (
        f"  ! op: the chart puts objects in a namespace that does not exist and that nothing in this plan "
        f"creates (namespace {apps}: RoleBinding/strimzi-cluster-operator): helm creates only the release's "
        f"namespace ({ns}) and fails at the first of them; create it first, or change the values that name it")
    assert "kube-system" not in refused  # it exists: the Service there is no refusal
    code, out, err = cli(path, "plan", "--json")
    assert code == 1
    assert [r["problems"] != [] for r in json.loads(out)["releases"]] == [True]

    # diff says the same of the release it shows
    code, out, err = cli(path, "diff", "--detailed-exitcode")
    assert code == 2, out + err
    assert (f"   ! apply refuses: the chart puts objects in namespace {apps}, which does not exist and that "
            "nothing in this plan creates (RoleBinding/strimzi-cluster-operator): helm creates only the "
            "release's namespace") in out.splitlines()
    assert out.rstrip().endswith("; apply refuses (namespaces that do not exist): op")
    code, out, err = cli(path, "diff", "--json")
    assert [r["missing_namespaces"] for r in json.loads(out)["releases"]] == [
        [f"{apps}: RoleBinding/strimzi-cluster-operator"]]

    # what helm does with it: the install fails at that namespace (plan told the truth)
    code, out, err = cli(path, "apply", "--yes")
    assert code == 1
    assert f'namespaces "{apps}" not found' in out + err
    assert _revisions(kube, helm_bin) == {}

    # once the namespace exists the same plan is no refusal, and apply installs it
    kube.run([kube.tools["kubectl"], "create", "namespace", apps])
    code, out, err = cli(path, "plan")
    assert code == 0, out + err
    assert "Refused" not in out
    code, out, err = cli(path, "diff")
    assert code == 0 and "apply refuses" not in out, out + err
    code, out, err = cli(path, "apply", "--yes")
    assert code == 0, out + err
    assert _revisions(kube, helm_bin) == {"op": 1}


def test_a_namespace_another_release_of_the_plan_creates_is_no_refusal(tmp_path, kube, helm_bin, cli):
    ns = kube.namespace
    other = f"{ns}-team"
    chart = _chart(tmp_path / "charts")
    path = write_config(tmp_path / "p", _release("team", chart, other) + _release("op", chart, ns, [other]))
    code, out, err = cli(path, "plan")
    assert code == 0, out + err
    assert "Refused" not in out
    assert f"namespace {other} (created for team)" in out


def test_apply_yes_refuses_an_upgrade_into_a_missing_namespace_before_any_change(tmp_path, kube, helm_bin, cli):
    ns = kube.namespace
    apps = f"{ns}-later"
    chart = _chart(tmp_path / "charts")
    path = write_config(tmp_path / "p", _release("op", chart, ns))
    assert cli(path, "apply", "--yes")[0] == 0
    path = write_config(tmp_path / "p", _release("op", chart, ns, [apps]))
    code, out, err = cli(path, "apply", "--yes")
    assert code == 1
    assert f"objects in a namespace that does not exist: {apps}" in out
    assert f"namespace {apps}: RoleBinding/strimzi-cluster-operator" in out + err
    assert _revisions(kube, helm_bin) == {"op": 1}  # stopped before helm ran the upgrade
