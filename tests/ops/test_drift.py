"""firestream drift: per-object drift of deployed releases, masked; apply --repair-drift.

Real-helm tests run with helm 3 and helm 4 against the emulator: objects
are changed or deleted behind helm's back with kubectl, then found and
repaired.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from firestream_core.deploy.plan import Change, Plan
from firestream_core.errors import FirestreamError
from firestream_core.model import InstalledRelease
from firestream_core.ops.drift import (
    DriftInput,
    compare_object,
    drift_project,
    format_drift,
    repair_plan,
)
from firestream_core.project import Project
from firestream_core.tools.manifests import HIDDEN, HIDDEN_CHANGED
from firestream_core.tools.redact import Redactor
from tests.deploy.fakes import FakeHelm, FakeKubectl

from .conftest import CHARTS
from .helpers import extras_app_config, load, write_config

# -- the input the project builds (fake helm and kubectl) --------------------------------------

TOML = """
[[deployments.generic]]
name = "web"
chart = "repo/web"
namespace = "shop"
depends_on = ["db"]

[[deployments.generic]]
name = "db"
chart = "repo/db"
namespace = "shop"

[repositories]
repo = "https://charts.example.com"
"""

MANIFEST = """---
# Source: web/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  greeting: hello
  token: Tk-held-by-helm-42
"""


def _drift_input(tmp_path: Path) -> tuple[Project, DriftInput]:
    (tmp_path / "firestream.toml").write_text(TOML)
    project = Project.load(tmp_path / "firestream.toml")
    return project, project.drift_input()


class _Helm(FakeHelm):
    """The test fakes' helm, holding values for the release (which drift hides)."""

    def get_values(self, name: str, namespace: str) -> dict[str, Any]:
        self.calls.append(("get_values", name, namespace))
        return {"token": "Tk-held-by-helm-42"}


class _Kubectl(FakeKubectl):
    """The test fakes' kubectl, answering ``get -f -`` with ``live``."""

    def __init__(self, live: list[dict[str, Any]]) -> None:
        super().__init__()
        self.live = live

    def get_manifest_objects(self, manifest: str, *, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.live


def _cluster(greeting: str, token: str = "Tk-changed-live-43") -> tuple[_Helm, _Kubectl]:
    helm = _Helm()
    helm.manifest = MANIFEST
    helm.seed("web", "shop", (2, "deployed", "web-1.0.0"))
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "shop"},
            "data": {"greeting": greeting, "token": token}}
    return helm, _Kubectl([live])


def test_the_input_is_frozen_and_holds_only_what_drift_uses(tmp_path: Path) -> None:
    project, target = _drift_input(tmp_path)
    assert target.order == ("db", "web")  # dependencies first: the report's order
    assert list(target.charts) == ["web", "db"] and target.charts["web"] is project.chart("web")
    assert target.redactor is project.redactor
    assert set(attrs.fields_dict(DriftInput)) == {"charts", "order", "redactor"}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        target.order = ()  # type: ignore[misc]


def test_drift_runs_on_its_input_masked_in_dependency_order(tmp_path: Path) -> None:
    _, target = _drift_input(tmp_path)
    helm, kubectl = _cluster("changed by hand")
    db, web = drift_project(target, helm, kubectl)
    assert (db.name, db.status) == ("db", "not-deployed")
    assert (web.name, web.status, web.revision, web.checked) == ("web", "drifted", 2, 1)
    [obj] = web.objects
    fields = {f.path: (f.desired, f.live) for f in obj.fields}
    assert fields["data.greeting"] == ("hello", "changed by hand")
    assert "Tk-held-by-helm-42" not in str(fields["data.token"])  # helm's values hidden
    assert "Tk-held-by-helm-42" not in format_drift([db, web])
    with pytest.raises(FirestreamError, match="unknown release") as info:
        drift_project(target, helm, kubectl, ["nope"])
    assert info.value.hint == "the releases are: web, db"


def test_repair_turns_a_drifted_no_op_into_an_upgrade_through_the_input(tmp_path: Path) -> None:
    _, target = _drift_input(tmp_path)
    web = InstalledRelease("web", "shop", 2, "deployed", "web-1.0.0")
    plan = Plan(releases=(Change("db", "shop", "generic", "create"),
                          Change("web", "shop", "generic", "no-op", installed=web)))
    helm, kubectl = _cluster("changed by hand")
    repaired, drifts = repair_plan(target, plan, helm, kubectl)
    assert [(c.name, c.action) for c in repaired.releases] == [("db", "create"), ("web", "upgrade")]
    assert next(c for c in repaired.releases if c.name == "web").reasons == ("drift repair: 1 changed object(s)",)
    assert [d.name for d in drifts] == ["web"]  # only the no-op was checked
    assert ("list_releases",) not in helm.calls  # the plan's cluster state, no second helm list
    helm, kubectl = _cluster("hello", "Tk-held-by-helm-42")
    same, _ = repair_plan(target, plan, helm, kubectl)
    assert same is plan


# -- comparing (no binaries) ------------------------------------------------------------------


def test_only_fields_the_chart_sets_are_compared():
    desired = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"a": "1"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "app", "image": "x:1", "ports": [{"name": "http", "containerPort": 8080}],
             "resources": {"limits": {"memory": "1Gi", "cpu": "0.5"}}}]}}},
    }
    live = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "n", "uid": "u", "resourceVersion": "9", "generation": 4,
                     "labels": {"a": "1", "extra": "added-by-someone"}, "managedFields": []},
        "spec": {"replicas": 2, "progressDeadlineSeconds": 600, "template": {"spec": {"containers": [
            {"name": "sidecar", "image": "mesh:1"},
            {"name": "app", "image": "x:1", "imagePullPolicy": "IfNotPresent",
             "ports": [{"name": "http", "containerPort": "8080", "protocol": "TCP"}],
             "resources": {"limits": {"memory": "1024Mi", "cpu": "500m"}}}]}}},
        "status": {"replicas": 2},
    }
    assert compare_object(desired, live) == []
    live["spec"]["replicas"] = 5
    live["spec"]["template"]["spec"]["containers"][1]["image"] = "x:2"
    del live["metadata"]["labels"]["a"]
    found = {f.path: (f.desired, f.live) for f in compare_object(desired, live)}
    assert found == {
        "metadata.labels.a": ("1", "(absent)"),
        "spec.replicas": ("2", "5"),
        "spec.template.spec.containers[name=app].image": ("x:1", "x:2"),
    }


def test_secret_drift_names_keys_never_values():
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
               "data": {"password": base64.b64encode(b"pw-one").decode(), "user": "YXBw"},
               "stringData": {"token": "tok-one"}}
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": base64.b64encode(b"pw-two").decode(), "user": "YXBw",
                     "token": base64.b64encode(b"tok-one").decode()}}
    found = compare_object(desired, live)
    assert [(f.path, f.desired, f.live) for f in found] == [("data.password", HIDDEN, HIDDEN_CHANGED)]
    del live["data"]["token"]
    found = compare_object(desired, live)
    assert [(f.path, f.live) for f in found] == [("data.password", HIDDEN_CHANGED), ("data.token", "(absent)")]
    assert "pw-" not in json.dumps([str(f) for f in found])


def test_sensitive_values_are_masked_in_field_drift():
    """A field whose chart side is hidden is hidden on the live side, whatever the live value."""
    red = Redactor()
    red.add_values({"message": "configured-message", "apiToken": "configured-token"})
    desired = {"kind": "ConfigMap", "metadata": {"name": "c"},
               "data": {"message": "configured-message", "token": "configured-token",
                        "other": "configured-token"}}
    live = {"kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"message": "edited", "token": "edited-tok", "other": "abc"}}
    found = compare_object(desired, live, red)
    assert [(f.path, f.desired, f.live) for f in found] == [
        ("data.message", "configured-message", "edited"),
        ("data.token", HIDDEN, HIDDEN_CHANGED),
        ("data.other", HIDDEN, HIDDEN_CHANGED),  # a short live value is hidden all the same
    ]
    live["data"]["token"] = {"nested": "edited-tok"}  # a live value of another shape
    found = {f.path: f.live for f in compare_object(desired, live, red)}
    assert found["data.token"] == HIDDEN_CHANGED
    # a list compared whole (its length changed) holding a hidden item: the live list is hidden whole
    pod = {"kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "a", "args": ["--token", "configured-token"]}]}}
    live_pod = {"kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "a", "args": ["--debug", "--token", "edited-tok"]}]}}
    [field] = compare_object(pod, live_pod, red)
    assert (field.desired, field.live) == ('["--token", "<hidden>"]', HIDDEN_CHANGED)


# -- against the emulator -----------------------------------------------------------------------

PW = "Drift-pw-5521"
MSG = "drift-message-77"


def app_config(tmp_path, kube, name="web"):
    return extras_app_config(tmp_path, kube, name=name,
                             values={"message": MSG, "password": PW, "replicaCount": 1})


def tamper(kube, kubectl_bin, ns):
    k = [str(kubectl_bin), "--namespace", ns]
    kube.run([*k, "scale", "deployment", "web-app", "--replicas", "3"])
    pw = base64.b64encode(b"tampered-pw").decode()
    kube.run([*k, "patch", "secret", "web-creds", "--type", "merge", "-p", json.dumps({"data": {"password": pw}})])
    kube.run([*k, "delete", "configmap", "web-config"])


def test_drift_found_masked_and_repaired(tmp_path, kube, helm_bin, kubectl_bin, cli):
    path = app_config(tmp_path, kube)
    assert load(path, kube, helm_bin).apply().ok
    (d,) = load(path, kube, helm_bin).drift()
    assert (d.status, d.checked, d.revision) == ("in-sync", 3, 1)
    assert cli(path, "drift")[0] == 0

    tamper(kube, kubectl_bin, kube.namespace)
    (d,) = load(path, kube, helm_bin).drift()
    assert d.status == "drifted"
    got = {(o.key.kind, o.state): [(f.path, f.desired, f.live) for f in o.fields] for o in d.objects}
    assert got == {
        ("Secret", "changed"): [("data.password", HIDDEN, HIDDEN_CHANGED)],
        ("Deployment", "changed"): [("spec.replicas", "1", "3")],
        ("ConfigMap", "missing"): [],
    }
    code, out, err = cli(path, "drift")
    assert code == 2
    assert "web-config (namespace" in out and "missing" in out and "spec.replicas: chart 1, live 3" in out
    for secret in (PW, "tampered-pw", base64.b64encode(b"tampered-pw").decode(),
                   base64.b64encode(PW.encode()).decode(), MSG):
        assert secret not in out + err
    code, out, _ = cli(path, "drift", "--json")
    assert code == 2 and json.loads(out)["drifted"] is True

    # plain apply leaves drift alone (the plan is a no-op)
    code, out, _ = cli(path, "apply", "--yes")
    assert code == 0 and "Nothing to do." in out
    assert load(path, kube, helm_bin).drift()[0].drifted

    code, out, err = cli(path, "apply", "--yes", "--repair-drift")
    assert code == 0, out + err
    assert "drift repair: 1 missing, 2 changed object(s)" in out
    (d,) = load(path, kube, helm_bin).drift()
    assert (d.status, d.revision) == ("in-sync", 2), format_drift([d])
    assert cli(path, "drift")[0] == 0


def test_repair_drift_leaves_in_sync_releases_alone(tmp_path, kube, helm_bin, cli):
    path = app_config(tmp_path, kube)
    assert load(path, kube, helm_bin).apply().ok
    code, out, _ = cli(path, "apply", "--yes", "--repair-drift")
    assert code == 0 and "Nothing to do." in out
    assert load(path, kube, helm_bin).drift()[0].revision == 1


def test_not_deployed_and_unknown_target(tmp_path, kube, helm_bin, cli):
    path = app_config(tmp_path, kube)
    (d,) = load(path, kube, helm_bin).drift()
    assert d.status == "not-deployed"
    assert format_drift([d]).startswith("web  not deployed\n")
    code, _, err = cli(path, "drift", "--target", "nope")
    assert code == 1 and "unknown release: 'nope' (releases: web)" in err


def test_project_library_methods(tmp_path, kube, helm_bin):
    path = app_config(tmp_path, kube)
    project = load(path, kube, helm_bin)
    assert [(d.name, d.action) for d in project.diff()] == [("web", "create")]
    assert project.apply().ok
    project = load(path, kube, helm_bin)
    assert project.diff() == []
    assert [(d.name, d.status) for d in project.drift(["web"])] == [("web", "in-sync")]
    assert [(r.name, r.status, r.recorded) for r in project.test()] == [("web", "passed", True)]


# -- real charts' shapes (issue 11 point 7) ---------------------------------------------------------

REAL_SHAPES = CHARTS / "real-shapes"


def test_lists_are_matched_by_their_strategic_merge_keys():
    mounts = [{"name": "empty-dir", "mountPath": p, "subPath": s}
              for p, s in (("/tmp", "tmp-dir"), ("/opt/conf", "conf-dir"), ("/opt/tmp", "app-tmp-dir"))]
    desired = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {
        "containers": [{"name": "db", "volumeMounts": mounts,
                        "ports": [{"containerPort": 5353, "protocol": "UDP"}, {"containerPort": 5353},
                                  {"containerPort": 5432}]}]}}}}
    live = json.loads(json.dumps(desired))
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["volumeMounts"] = list(reversed(container["volumeMounts"]))
    container["ports"] = [{"containerPort": 5432, "protocol": "TCP"}, {"containerPort": 5353, "protocol": "TCP"},
                          {"containerPort": 5353, "protocol": "UDP"}]
    assert compare_object(desired, live) == []
    container["volumeMounts"][0]["subPath"] = "moved"
    container["ports"] = [p for p in container["ports"] if p["protocol"] == "TCP"]
    found = {f.path: f.live for f in compare_object(desired, live)}
    assert found == {
        "spec.template.spec.containers[name=db].volumeMounts[mountPath=/opt/tmp].subPath": "moved",
        "spec.template.spec.containers[name=db].ports[containerPort=5353,protocol=UDP]": "(absent)",
    }
    svc = {"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [
        {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}}
    live_svc = json.loads(json.dumps(svc))
    live_svc["spec"]["ports"].reverse()
    assert compare_object(svc, live_svc) == []


def test_a_read_failure_is_never_no_drift():
    from firestream_core.ops.drift import ReleaseDrift

    text = format_drift([ReleaseDrift("web", "n", "error", message="kubectl get failed: Unauthorized"),
                         ReleaseDrift("db", "n", "in-sync", checked=2)])
    assert "No drift." not in text
    assert "1 release(s) could not be checked: web" in text


def test_a_release_not_checked_is_named_and_never_said_without_drift():
    """A failed or pending release is not checked: the last line said ``No drift.`` as if it were."""
    from firestream_core.ops.drift import ReleaseDrift

    text = format_drift([ReleaseDrift("web", "n", "skipped", message="status is pending-upgrade"),
                         ReleaseDrift("db", "n", "in-sync", checked=2)])
    assert text.endswith("\n1 release(s) not checked: web (status is pending-upgrade)\n"
                         "No drift in the releases checked.\n")
    assert "No drift.\n" not in text


def shapes_config(tmp_path, kube, system_ns):
    return write_config(tmp_path / "p", f"""
[[deployments.generic]]
name = "shapes"
path = "{REAL_SHAPES}"
namespace = "{kube.namespace}"
timeout = "60s"
[deployments.generic.values]
systemNamespace = "{system_ns}"
""")


def test_drift_on_real_chart_shapes(tmp_path, kube, helm_bin, kubectl_bin, cli):
    system_ns = f"{kube.namespace}-sys"  # a namespace the release does not own, as kube-system
    kube.run([str(kubectl_bin), "create", "namespace", system_ns])
    path = shapes_config(tmp_path, kube, system_ns)
    assert load(path, kube, helm_bin).apply().ok
    (d,) = load(path, kube, helm_bin).drift()
    assert (d.status, d.checked) == ("in-sync", 4), format_drift([d])
    code, out, _ = cli(path, "drift")
    assert code == 0 and "No drift." in out

    k = [str(kubectl_bin)]
    kube.run([*k, "--namespace", system_ns, "patch", "service", "shapes-coredns", "--type", "json", "-p",
              json.dumps([{"op": "replace", "path": "/spec/ports/0/port", "value": 9999}])])
    kube.run([*k, "--namespace", kube.namespace, "patch", "deployment", "shapes-db", "--type", "json", "-p",
              json.dumps([{"op": "replace",
                           "path": "/spec/template/spec/containers/0/volumeMounts/1/subPath",
                           "value": "elsewhere"}])])
    (d,) = load(path, kube, helm_bin).drift()
    got = {(o.key.kind, o.key.namespace): [(f.path, f.live) for f in o.fields] for o in d.objects}
    assert got == {
        ("Service", system_ns): [("spec.ports[port=9153,protocol=TCP]", "(absent)")],
        ("Deployment", kube.namespace): [
            ("spec.template.spec.containers[name=db].volumeMounts[mountPath=/opt/app/conf].subPath",
             "elsewhere")],
    }, format_drift([d])
    code, out, err = cli(path, "apply", "--yes", "--repair-drift")
    assert code == 0, out + err
    (d,) = load(path, kube, helm_bin).drift()
    assert d.status == "in-sync", format_drift([d])


def test_drift_read_failure_is_an_error(tmp_path, kube, helm_bin, kubectl_bin, cli, monkeypatch):
    import sys

    system_ns = f"{kube.namespace}-sys"
    kube.run([str(kubectl_bin), "create", "namespace", system_ns])
    path = shapes_config(tmp_path, kube, system_ns)
    assert load(path, kube, helm_bin).apply().ok
    broken = tmp_path / "kubectl"
    broken.write_text(f"#!{sys.executable}\nimport sys\n"
                      "sys.stderr.write('error: You must be logged in to the server (Unauthorized)\\n')\n"
                      "sys.exit(1)\n")
    broken.chmod(0o755)
    monkeypatch.setenv("FIRESTREAM_KUBECTL_BINARY", str(broken))
    code, out, err = cli(path, "drift")
    assert code == 1, out + err
    assert "No drift." not in out
    assert "shapes  error:" in out and "1 release(s) could not be checked: shapes" in out
    code, out, err = cli(path, "apply", "--yes", "--repair-drift")
    assert code == 1 and "cannot check drift of release 'shapes'" in err


# -- a sensitive field's live side (the chart side hidden: the live side too) ---------------------

KVSTORE = CHARTS / "kvstore"
ORIGINAL_PW = "Original-Pw-111"
ROTATED_PW = "Rotated-Pw-222"


def test_drift_never_shows_the_live_value_of_a_sensitive_field(tmp_path, kube, helm_bin, kubectl_bin, cli,
                                                              monkeypatch):
    """The review's repro: a rotated password in a StatefulSet's env, a Secret and a ConfigMap."""
    path = write_config(tmp_path / "p", f"""
[[deployments.generic]]
name = "dr"
path = "{KVSTORE}"
namespace = "{kube.namespace}"
timeout = "60s"
[deployments.generic.secret_values]
"auth.password" = {{ env = "DR_PW" }}
""")
    monkeypatch.setenv("DR_PW", ORIGINAL_PW)
    code, out, err = cli(path, "apply", "--yes")
    assert code == 0, out + err
    k = [str(kubectl_bin), "--namespace", kube.namespace]
    kube.run([*k, "set", "env", "statefulset/dr-kvstore", f"PW={ROTATED_PW}", "MODE=cluster"])
    kube.run([*k, "patch", "secret", "dr-kvstore", "--type", "merge",
              "-p", json.dumps({"stringData": {"password": ROTATED_PW}})])
    kube.run([*k, "patch", "configmap", "dr-kvstore", "--type", "merge",
              "-p", json.dumps({"data": {"apiKey": ROTATED_PW, "mode": "cluster"}})])

    code, out, err = cli(path, "-v", "drift")
    assert code == 2, out + err
    assert "env[name=PW].value: chart <hidden>, live <hidden, changed>" in out
    assert "data.apiKey: chart <hidden>, live <hidden, changed>" in out
    assert "data.password: chart <hidden>, live <hidden, changed>" in out
    # ordinary values stay readable
    assert "env[name=MODE].value: chart standalone, live cluster" in out
    assert "data.mode: chart standalone, live cluster" in out
    code, js, err2 = cli(path, "-v", "drift", "--json")
    assert code == 2 and json.loads(js)["drifted"] is True
    code, rep, err3 = cli(path, "-v", "apply", "--yes", "--repair-drift")
    assert code == 0, rep + err3
    assert "drift repair: 3 changed object(s)" in rep
    for secret in (ORIGINAL_PW, ROTATED_PW):
        for spelling in (secret, base64.b64encode(secret.encode()).decode()):
            assert spelling not in out + err + js + err2 + rep + err3
    assert load(path, kube, helm_bin, env={"DR_PW": ORIGINAL_PW}).drift()[0].status == "in-sync"


def test_a_repeated_key_pairs_each_occurrence_with_its_own():
    """ingress-nginx's LD_PRELOAD, named again by ``controller.extraEnvs``: the API keeps both."""
    env = [{"name": "POD_NAME", "value": "p"}, {"name": "LD_PRELOAD", "value": "/usr/local/lib/libmimalloc.so"},
           {"name": "LD_PRELOAD", "value": ""}]
    desired = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {
        "containers": [{"name": "controller", "env": env}]}}}}
    live = json.loads(json.dumps(desired))
    assert compare_object(desired, live) == []
    live["spec"]["template"]["spec"]["containers"][0]["env"][2]["value"] = "/lib/other.so"
    assert [(f.path, f.desired, f.live) for f in compare_object(desired, live)] == [
        ("spec.template.spec.containers[name=controller].env[name=LD_PRELOAD].value", "", "/lib/other.so")]
    del live["spec"]["template"]["spec"]["containers"][0]["env"][2]
    assert [(f.path, f.live) for f in compare_object(desired, live)] == [
        ("spec.template.spec.containers[name=controller].env[name=LD_PRELOAD]", "(absent)")]


INGRESS_NGINX = Path(__file__).resolve().parents[2] / "plugins/firestream-chart-nginx-ingress/tests/charts/ingress-nginx"


def test_ingress_nginx_extra_env_of_a_chart_name_is_not_drift(tmp_path, kube, helm_bin):
    path = write_config(tmp_path / "p", f"""
[[deployments.generic]]
name = "ing"
path = "{INGRESS_NGINX}"
namespace = "{kube.namespace}"
[deployments.generic.values]
controller.extraEnvs = [{{name = "LD_PRELOAD", value = ""}}]
controller.ingressClassResource.enabled = false
controller.admissionWebhooks.enabled = false
""")
    assert load(path, kube, helm_bin).apply().ok
    (d,) = load(path, kube, helm_bin).drift()
    assert d.status == "in-sync", format_drift([d])


KUBE_PROMETHEUS_STACK = (Path(__file__).resolve().parents[2]
                         / "plugins/firestream-chart-prometheus-operator/tests/charts/kube-prometheus-stack")


def test_kube_prometheus_stack_rules_in_a_list_document(tmp_path, kube, helm_bin, kubectl_bin):
    """kube-prometheus-stack writes additionalPrometheusRulesMap as one ``kind: List`` document:
    helm installs its items, drift checks each of them (the emulator used to refuse the List)."""
    path = write_config(tmp_path / "p", f"""
[[deployments.generic]]
name = "kps"
path = "{KUBE_PROMETHEUS_STACK}"
namespace = "{kube.namespace}"
[deployments.generic.values]
nodeExporter.enabled = false
kubeStateMetrics.enabled = false
grafana.enabled = false
[deployments.generic.values.additionalPrometheusRulesMap.rule-a]
groups = [{{name = "g", rules = [{{alert = "A", expr = "up == 0"}}]}}]
[deployments.generic.values.additionalPrometheusRulesMap.rule-b]
groups = [{{name = "g", rules = [{{alert = "B", expr = "up == 1"}}]}}]
""")
    try:
        result = load(path, kube, helm_bin).apply()
        assert result.ok, result.releases["kps"].reason
        (d,) = load(path, kube, helm_bin).drift()
        assert d.status == "in-sync", format_drift([d])
        kube.run([str(kubectl_bin), "delete", "prometheusrule", "kube-prometheus-stack-rule-a", "-n", kube.namespace])
        (d,) = load(path, kube, helm_bin).drift()
        assert [(o.key.kind, o.key.name, o.state) for o in d.objects] == [
            ("PrometheusRule", "kube-prometheus-stack-rule-a", "missing")]
    finally:
        kube.run([str(helm_bin), "uninstall", "kps", "-n", kube.namespace, "--wait"], check=False)
