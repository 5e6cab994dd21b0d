"""The emulated API server against the real helm 3.19 / helm 4.3 and kubectl 1.34 binaries.

One emulator subprocess serves the whole module; every test uses its own
namespaces/releases and its own HELM_*_HOME folders.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from firestream_testing.cluster import ClusterProcess, start_cluster
from firestream_testing.tools import ensure_tools

pytestmark = pytest.mark.helm

# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tools() -> dict[str, Path]:
    return ensure_tools()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcess]:
    folder = tmp_path_factory.mktemp("emulator")
    started = time.monotonic()
    with start_cluster(folder / "kubeconfig", log_file=folder / "emulator.log") as running:
        print(f"emulator started in {time.monotonic() - started:.2f}s")
        yield running


@dataclass
class Env:
    """Environment of one test: tools, isolated helm homes, the kubeconfig."""

    tools: dict[str, Path]
    vars: dict[str, str]
    cluster: ClusterProcess
    charts: Path

    def run(self, tool: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [str(self.tools[tool]), *args]
        done = subprocess.run(argv, env=self.vars, capture_output=True, text=True,  # noqa: S603
                              timeout=timeout, check=False)
        if check and done.returncode != 0:
            pytest.fail(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.run("kubectl", *args, "-o", "json").stdout)


@pytest.fixture
def env(tools: dict[str, Path], cluster: ClusterProcess, tmp_path: Path) -> Iterator[Env]:
    cluster.set_controller(True)
    cluster.set_loadbalancer(True)
    homes = {name: tmp_path / name.lower() for name in
             ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")}
    variables = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
        "KUBECONFIG": str(cluster.kubeconfig), **{k: str(v) for k, v in homes.items()},
    }
    yield Env(tools=tools, vars=variables, cluster=cluster, charts=tmp_path / "charts")
    cluster.set_controller(True)
    cluster.set_loadbalancer(True)


@pytest.fixture(params=["helm", "helm4"])
def helm(request: pytest.FixtureRequest) -> str:
    """Which helm binary: ``helm`` (3.19.0) or ``helm4`` (4.3.1)."""
    return str(request.param)


def unique(request: pytest.FixtureRequest, prefix: str) -> str:
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]
    return f"{prefix}-{digest}"


# -- throwaway charts ------------------------------------------------------------------------

CHART_YAML = "apiVersion: v2\nname: {name}\nversion: 0.1.0\nappVersion: '1.0'\n"
VALUES = "replicas: 1\nmessage: one\nserviceType: ClusterIP\nready: true\n"
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels: {app: {{ .Release.Name }}-web}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
      annotations:
        message: {{ .Values.message | quote }}
        emulator.firestream.dev/ready: {{ .Values.ready | quote }}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{containerPort: 80, name: http}]
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-svc
spec:
  type: {{ .Values.serviceType }}
  selector: {app: {{ .Release.Name }}-web}
  ports: [{port: 80, targetPort: http}]
"""
HOOK_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox, command: [echo, migrated]}]
"""
TEST_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-smoke
  annotations: {helm.sh/hook: test}
spec:
  restartPolicy: Never
  containers: [{name: smoke, image: busybox, command: [wget, {{ .Release.Name }}-svc]}]
"""


def make_chart(root: Path, name: str, extra: dict[str, str] | None = None) -> Path:
    """A small chart dir: ConfigMap + Deployment + Service (+ ``extra`` files)."""
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART_YAML.format(name=name))
    (chart / "values.yaml").write_text(VALUES)
    (chart / "templates" / "configmap.yaml").write_text(CONFIGMAP)
    (chart / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    (chart / "templates" / "service.yaml").write_text(SERVICE)
    for relative, text in (extra or {}).items():
        (chart / relative).parent.mkdir(parents=True, exist_ok=True)
        (chart / relative).write_text(text)
    return chart


def release(env: Env, helm: str, name: str, namespace: str) -> dict[str, Any] | None:
    every = ["--all"] if helm == "helm" else []  # helm 4 lists every status by default
    listed = json.loads(env.run(helm, "list", "--all-namespaces", *every, "-o", "json").stdout)
    return next((r for r in listed if r["name"] == name and r["namespace"] == namespace), None)


# -- helm ------------------------------------------------------------------------------------


def test_release_lifecycle(env: Env, helm: str, request: pytest.FixtureRequest) -> None:
    name, ns = unique(request, "life"), unique(request, "ns-life")
    chart = make_chart(env.charts, "lifecycle")
    env.run(helm, "install", name, str(chart), "-n", ns, "--create-namespace")
    first = release(env, helm, name, ns)
    assert first is not None and (first["revision"], first["status"]) == ("1", "deployed")

    started = time.monotonic()
    env.run(helm, "upgrade", "--install", name, str(chart), "-n", ns, "--set", "message=two")
    print(f"{helm} upgrade --install took {time.monotonic() - started:.2f}s")
    second = release(env, helm, name, ns)
    assert second is not None and (second["revision"], second["status"]) == ("2", "deployed")
    config = env.kubectl_json("get", "configmap", f"{name}-config", "-n", ns)
    assert config["data"] == {"message": "two"}

    history = json.loads(env.run(helm, "history", name, "-n", ns, "-o", "json").stdout)
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "deployed")]

    env.run(helm, "rollback", name, "1", "-n", ns)
    third = release(env, helm, name, ns)
    assert third is not None and (third["revision"], third["status"]) == ("3", "deployed")
    assert env.kubectl_json("get", "configmap", f"{name}-config", "-n", ns)["data"] == {"message": "one"}
    values = json.loads(env.run(helm, "get", "values", name, "-n", ns, "-o", "json").stdout)
    assert not values  # revision 1 had no user-supplied values
    assert "kind: Deployment" in env.run(helm, "get", "manifest", name, "-n", ns).stdout

    env.run(helm, "uninstall", name, "-n", ns)
    assert release(env, helm, name, ns) is None
    gone = env.run("kubectl", "get", "configmap", f"{name}-config", "-n", ns, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    # Garbage collection removed what the Deployment's controller made.
    assert env.kubectl_json("get", "replicasets,pods", "-n", ns, "-l", f"app={name}-web")["items"] == []


def test_wait_with_and_without_controller(env: Env, helm: str, request: pytest.FixtureRequest) -> None:
    ns = unique(request, "ns-wait")
    chart = make_chart(env.charts, "waiting")
    ok, stuck = unique(request, "ok"), unique(request, "stuck")
    env.run(helm, "upgrade", "--install", ok, str(chart), "-n", ns, "--create-namespace",
            "--set", "replicas=2", "--wait", "--timeout", "30s")
    deployment = env.kubectl_json("get", "deployment", f"{ok}-web", "-n", ns)
    assert deployment["status"]["readyReplicas"] == 2
    assert deployment["status"]["observedGeneration"] == deployment["metadata"]["generation"]

    env.cluster.set_controller(False)
    assert env.cluster.state()["enabled"] is False
    started = time.monotonic()
    timed_out = env.run(helm, "install", stuck, str(chart), "-n", ns, "--wait", "--timeout", "3s",
                        check=False)
    assert timed_out.returncode != 0
    assert time.monotonic() - started >= 3  # helm waited its --timeout (speed is bench/'s)
    assert "context deadline exceeded" in timed_out.stderr or "timed out" in timed_out.stderr
    failed = release(env, helm, stuck, ns)
    assert failed is not None and failed["status"] == "failed"
    assert "status" not in env.kubectl_json("get", "deployment", f"{stuck}-web", "-n", ns)

    env.cluster.set_controller(True)  # what was pending gets reconciled
    env.run("kubectl", "rollout", "status", f"deployment/{stuck}-web", "-n", ns, "--timeout=10s")


def test_rollback_on_failed_wait(env: Env, helm: str, request: pytest.FixtureRequest) -> None:
    """--atomic (helm 3) / --rollback-on-failure (helm 4) after an upgrade that never gets ready.

    The controller stays on (so the rollback itself can become ready); the new
    pods are broken through the emulator's ``emulator.firestream.dev/ready``
    pod annotation instead, like a bad image on a real cluster.
    """
    name, ns = unique(request, "atomic"), unique(request, "ns-atomic")
    chart = make_chart(env.charts, "atomic")
    env.run(helm, "install", name, str(chart), "-n", ns, "--create-namespace", "--wait",
            "--timeout", "30s")
    flag = "--atomic" if helm == "helm" else "--rollback-on-failure"
    broken = env.run(helm, "upgrade", name, str(chart), "-n", ns, "--set", "message=broken",
                     "--set", "ready=false", flag, "--wait", "--timeout", "3s", check=False)
    assert broken.returncode != 0
    assert "rolled back" in broken.stderr, broken.stderr
    history = json.loads(env.run(helm, "history", name, "-n", ns, "-o", "json").stdout)
    assert [h["status"] for h in history] == ["superseded", "failed", "deployed"]
    assert history[-1]["description"] == "Rollback to 1"
    config = env.kubectl_json("get", "configmap", f"{name}-config", "-n", ns)
    assert config["data"] == {"message": "one"}  # revision 1's content is live again
    deployment = env.kubectl_json("get", "deployment", f"{name}-web", "-n", ns)
    assert deployment["status"]["readyReplicas"] == 1


def test_create_namespace(env: Env, helm: str, request: pytest.FixtureRequest) -> None:
    name, ns = unique(request, "nsrel"), unique(request, "fresh")
    chart = make_chart(env.charts, "nsdemo")
    refused = env.run(helm, "install", name, str(chart), "-n", ns, check=False)
    assert refused.returncode != 0 and f'namespaces "{ns}" not found' in refused.stderr
    env.run(helm, "install", name, str(chart), "-n", ns, "--create-namespace")
    namespace = env.kubectl_json("get", "namespace", ns)
    assert namespace["status"]["phase"] == "Active"
    assert "namespace" not in namespace["metadata"]  # cluster-scoped


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget, shortNames: [wdg]}}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {{status: {{}}}}
      schema:
        openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
WIDGET = """\
apiVersion: {group}/v1
kind: Widget
metadata:
  name: {{{{ .Release.Name }}}}-widget
spec:
  size: 3
"""


def test_chart_with_crds(env: Env, helm: str, request: pytest.FixtureRequest) -> None:
    name, ns = unique(request, "crd"), unique(request, "ns-crd")
    group = f"{helm}.example.com"
    chart = make_chart(env.charts, "withcrds", {
        "crds/widgets.yaml": CRD.format(group=group),
        "templates/widget.yaml": WIDGET.format(group=group),
    })
    env.run(helm, "install", name, str(chart), "-n", ns, "--create-namespace", "--wait",
            "--timeout", "30s")
    crd = env.kubectl_json("get", "crd", f"widgets.{group}")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    widget = env.kubectl_json("get", f"widgets.{group}", f"{name}-widget", "-n", ns)
    assert widget["spec"] == {"size": 3} and widget["apiVersion"] == f"{group}/v1"
    resources = env.run("kubectl", "api-resources", f"--api-group={group}", "-o", "name").stdout
    assert resources.split() == [f"widgets.{group}"]


def test_hook_job_and_helm_test(env: Env, helm: str, request: pytest.FixtureRequest) -> None:
    name, ns = unique(request, "hooks"), unique(request, "ns-hooks")
    chart = make_chart(env.charts, "hooked", {
        "templates/hook-job.yaml": HOOK_JOB, "templates/tests/smoke.yaml": TEST_POD,
    })
    env.run(helm, "install", name, str(chart), "-n", ns, "--create-namespace", "--wait",
            "--timeout", "30s")
    job = env.kubectl_json("get", "job", f"{name}-migrate", "-n", ns)
    assert job["status"]["succeeded"] == 1
    assert {"type": "Complete", "status": "True"}.items() <= job["status"]["conditions"][-1].items()
    tested = env.run(helm, "test", name, "-n", ns, "--timeout", "30s")
    assert "Phase:          Succeeded" in tested.stdout
    pod = env.kubectl_json("get", "pod", f"{name}-smoke", "-n", ns)
    assert pod["status"]["phase"] == "Succeeded"


def test_loadbalancer_switch(env: Env, request: pytest.FixtureRequest) -> None:
    ns = unique(request, "ns-lb")
    chart = make_chart(env.charts, "lb")
    env.run("helm", "install", "served", str(chart), "-n", ns, "--create-namespace",
            "--set", "serviceType=LoadBalancer", "--wait", "--timeout", "30s")
    svc = env.kubectl_json("get", "service", "served-svc", "-n", ns)
    assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == "127.0.0.1"
    assert svc["spec"]["clusterIP"] and svc["spec"]["ports"][0]["nodePort"] >= 30000

    env.cluster.set_loadbalancer(False)
    env.run("helm", "install", "pending", str(chart), "-n", ns, "--set", "serviceType=LoadBalancer")
    svc = env.kubectl_json("get", "service", "pending-svc", "-n", ns)
    assert svc["status"]["loadBalancer"] == {}
    env.cluster.set_loadbalancer(True)  # turning it on serves the pending ones
    svc = env.kubectl_json("get", "service", "pending-svc", "-n", ns)
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1", "ipMode": "VIP"}]


# -- kubectl ---------------------------------------------------------------------------------

APP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, labels: {tier: app}}
data: {color: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, labels: {tier: app}}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - {name: main, image: nginx, env: [{name: A, value: "1"}]}
        - {name: side, image: busybox}
"""


def test_kubectl_apply_wait_delete(env: Env, request: pytest.FixtureRequest) -> None:
    ns = unique(request, "ns-kubectl")
    manifest = env.charts / "app.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(APP)
    env.run("kubectl", "create", "namespace", ns)
    applied = env.run("kubectl", "apply", "--server-side", "-n", ns, "-f", str(manifest))
    assert "serverside-applied" in applied.stdout
    env.run("kubectl", "wait", "--for=condition=Available", "deployment/app", "-n", ns,
            "--timeout=20s")
    env.run("kubectl", "rollout", "status", "deployment/app", "-n", ns, "--timeout=20s")
    pods = env.kubectl_json("get", "pods", "-n", ns, "-l", "app=app")["items"]
    assert len(pods) == 2 and {p["status"]["phase"] for p in pods} == {"Running"}

    # Server-side apply again without the side container and with a changed value: pruned.
    manifest.write_text(APP.replace("        - {name: side, image: busybox}\n", "")
                        .replace("color: blue", "color: green"))
    env.run("kubectl", "apply", "--server-side", "-n", ns, "-f", str(manifest))
    deployment = env.kubectl_json("get", "deployment", "app", "-n", ns)
    assert [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]] == ["main"]
    assert deployment["metadata"]["generation"] == 2
    assert env.kubectl_json("get", "configmap", "app-config", "-n", ns)["data"] == {"color": "green"}

    # Client-side apply (strategic merge patch) and a field-selected list.
    env.run("kubectl", "apply", "-n", ns, "-f", str(manifest))
    env.run("kubectl", "scale", "deployment/app", "--replicas=3", "-n", ns)
    env.run("kubectl", "rollout", "status", "deployment/app", "-n", ns, "--timeout=20s")
    selected = env.kubectl_json("get", "pods", "-n", ns, "--field-selector=status.phase=Running")
    assert len(selected["items"]) == 3
    events = env.kubectl_json("get", "events", "-n", ns)["items"]
    assert {"Scheduled", "Started", "ScalingReplicaSet"} <= {e["reason"] for e in events}
    printed = env.run("kubectl", "get", "pods", "-n", ns).stdout.splitlines()  # server-side Table
    assert printed[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert all(line.split()[1:3] == ["1/1", "Running"] for line in printed[1:]) and len(printed) == 4
    assert "Scheduled" in env.run("kubectl", "get", "events", "-n", ns).stdout
    logs = env.run("kubectl", "logs", selected["items"][0]["metadata"]["name"], "-n", ns)
    assert "no real process runs here" in logs.stdout

    env.run("kubectl", "delete", "deployment", "app", "-n", ns, "--wait", "--timeout=20s")
    assert env.kubectl_json("get", "replicasets,pods", "-n", ns)["items"] == []
    env.run("kubectl", "delete", "namespace", ns, "--timeout=20s")
    gone = env.run("kubectl", "get", "configmap", "app-config", "-n", ns, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def _is_subset(small: Any, big: Any) -> bool:
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and _is_subset(v, big[k]) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(small) == len(big) and all(
            _is_subset(a, b) for a, b in zip(small, big, strict=True))
    return bool(small == big)


@pytest.mark.parametrize("args", [
    ["deployment", "web", "--image=nginx", "--replicas=2", "--port=80"],
    ["job", "once", "--image=busybox"],
    ["service", "nodeport", "np", "--tcp=80:http"],
    ["role", "reader", "--verb=get,list", "--resource=pods"],
    ["poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1"],
    ["ingress", "ing", "--rule=foo.com/bar=svc1:8080", "--class=nginx"],
], ids=lambda args: args[0])
def test_kubectl_create_sends_protobuf_we_decode(env: Env, args: list[str], request: pytest.FixtureRequest) -> None:
    """``kubectl create <kind>`` posts protobuf; what is stored must equal what kubectl meant."""
    ns = unique(request, "ns-create")
    env.run("kubectl", "create", "namespace", ns)
    intended = json.loads(env.run("kubectl", "create", *args, "-n", ns, "--dry-run=client",
                                  "-o", "json").stdout)
    stored = json.loads(env.run("kubectl", "create", *args, "-n", ns, "-o", "json").stdout)
    intended["metadata"]["namespace"] = ns
    assert _is_subset(_without_empty(intended), stored), (intended, stored)
    if args[0] == "job":
        env.run("kubectl", "wait", "--for=condition=complete", "job/once", "-n", ns, "--timeout=10s")


CLUSTER_WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.cluster.example.com}
spec:
  group: cluster.example.com
  scope: Cluster
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
    - {name: v1, served: true, storage: true,
       schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
---
apiVersion: cluster.example.com/v1
kind: Gadget
metadata: {name: big}
spec: {size: 10}
"""


def test_cluster_scoped_crd_and_cr_via_kubectl(env: Env) -> None:
    manifest = env.charts / "gadget.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(CLUSTER_WIDGET_CRD)
    # The CR in the same file fails to map until the CRD is served; a second apply succeeds.
    env.run("kubectl", "apply", "-f", str(manifest), check=False)
    env.run("kubectl", "apply", "-f", str(manifest))
    gadget = env.kubectl_json("get", "gadgets", "big")
    assert gadget["spec"] == {"size": 10} and "namespace" not in gadget["metadata"]
    env.run("kubectl", "delete", "crd", "gadgets.cluster.example.com")
    gone = env.run("kubectl", "get", "gadgets", check=False)
    assert gone.returncode != 0
    # kubectl's discovery cache may still know the type: either way the server denies it.
    assert ("the server doesn't have a resource type" in gone.stderr
            or "could not find the requested resource" in gone.stderr), gone.stderr


def test_annotations_over_256k_are_refused_so_only_a_server_side_apply_takes_a_large_object(env: Env) -> None:
    """As a real API server: a client-side apply stores the whole object in an annotation."""
    manifest = env.charts / "large.yaml"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: large\n"
                        f"data:\n  big: {'x' * 300_000}\n")
    refused = env.run("kubectl", "apply", "-f", str(manifest), check=False)
    assert refused.returncode != 0
    assert "metadata.annotations: Too long: must have at most 262144 bytes" in refused.stderr
    env.run("kubectl", "apply", "--server-side", "-f", str(manifest))
    assert len(env.kubectl_json("get", "configmap", "large")["data"]["big"]) == 300_000
    env.run("kubectl", "delete", "configmap", "large")


# -- raw protocol ----------------------------------------------------------------------------


def _http(cluster: ClusterProcess, method: str, path: str, body: Any = None,
          content_type: str = "application/json") -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"{cluster.url}{path}", data=data, method=method,  # noqa: S310
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _pb_field(number: int, payload: bytes) -> bytes:
    def varint(n: int) -> bytes:
        out = b""
        while True:
            byte, n = n & 0x7F, n >> 7
            out += bytes([byte | (0x80 if n else 0)])
            if not n:
                return out
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def test_watch_list_bookmark_selectors_and_timeout(cluster: ClusterProcess) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    for name, tier in (("watched-a", "x"), ("watched-b", "y")):
        status, _, _ = _http(cluster, "POST", base, {"metadata": {"name": name, "labels": {"tier": tier}}})
        assert status == 201
    started = time.monotonic()
    status, headers, raw = _http(
        cluster, "GET", f"{base}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
        "&resourceVersionMatch=NotOlderThan&labelSelector=tier%3Dx&timeoutSeconds=1")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert time.monotonic() - started > 0.9  # held open until timeoutSeconds
    events = [json.loads(line) for line in raw.splitlines()]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "watched-a"), ("BOOKMARK", None)]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}

    listed = json.loads(_http(cluster, "GET", f"{base}?labelSelector=tier+in+(x,y)")[2])
    assert listed["kind"] == "ConfigMapList" and listed["apiVersion"] == "v1"
    assert {i["metadata"]["name"] for i in listed["items"]} >= {"watched-a", "watched-b"}
    assert all(i["metadata"]["uid"] and i["metadata"]["resourceVersion"] for i in listed["items"])


def test_protobuf_secret_and_put_replace(cluster: ClusterProcess) -> None:
    meta = _pb_field(1, b"pb-secret") + _pb_field(11, _pb_field(1, b"owner") + _pb_field(2, b"helm"))
    secret = _pb_field(1, meta) + _pb_field(2, _pb_field(1, b"release") + _pb_field(2, b"\x00\x01"))
    envelope = b"k8s\x00" + _pb_field(1, _pb_field(1, b"v1") + _pb_field(2, b"Secret")) + _pb_field(2, secret)
    base = "/api/v1/namespaces/default/secrets"
    status, _, raw = _http(cluster, "POST", base, envelope, "application/vnd.kubernetes.protobuf")
    assert status == 201, raw
    created = json.loads(raw)
    assert created["data"] == {"release": base64.b64encode(b"\x00\x01").decode()}
    assert created["metadata"]["labels"] == {"owner": "helm"} and created["type"] == "Opaque"

    replaced = {**created, "data": {}, "metadata": {**created["metadata"], "labels": {"status": "x"}}}
    status, _, raw = _http(cluster, "PUT", f"{base}/pb-secret", replaced)
    assert status == 200 and json.loads(raw)["metadata"]["labels"] == {"status": "x"}
    stale = _http(cluster, "PUT", f"{base}/pb-secret", replaced)  # same old resourceVersion
    assert stale[0] == 409 and json.loads(stale[2])["reason"] == "Conflict"


def test_a_job_whose_pod_template_metadata_is_null_is_created(cluster: ClusterProcess) -> None:
    """kube-prometheus-stack's CRD upgrade Job renders ``metadata:`` with nothing under it (its
    labels are optional): the API server reads null as empty and adds the Job's own labels."""
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "no-labels"},
           "spec": {"template": {"metadata": None,
                                 "spec": {"containers": [{"name": "c", "image": "x"}],
                                          "restartPolicy": "OnFailure"}}}}
    status, _, raw = _http(cluster, "POST", "/apis/batch/v1/namespaces/default/jobs", job)
    assert status == 201, raw
    labels = json.loads(raw)["spec"]["template"]["metadata"]["labels"]
    assert labels["job-name"] == "no-labels" and "app.kubernetes.io/instance" not in labels


def test_kubeconfig_is_the_plain_http_form(cluster: ClusterProcess) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    assert config == {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "emu", "cluster": {"server": f"http://127.0.0.1:{cluster.port}"}}],
        "users": [{"name": "emu", "user": {"token": "dummy"}}],
        "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "emu",
                                                 "namespace": "default"}}],
        "current-context": "emu",
    }
    assert cluster.url == f"http://127.0.0.1:{cluster.port}" and cluster.alive


def test_unreachable_server_fails_clearly(tools: dict[str, Path], tmp_path: Path) -> None:
    stopped = start_cluster(tmp_path / "kubeconfig", controller=False)
    stopped.stop()
    assert not stopped.alive
    variables = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
                 "KUBECONFIG": str(stopped.kubeconfig), "HELM_CACHE_HOME": str(tmp_path / "c"),
                 "HELM_CONFIG_HOME": str(tmp_path / "g"), "HELM_DATA_HOME": str(tmp_path / "d")}
    commands: Sequence[list[str]] = [
        [str(tools["kubectl"]), "get", "namespaces"],
        [str(tools["helm"]), "list"],
        [str(tools["helm4"]), "list"],
    ]
    for argv in commands:
        done = subprocess.run(argv, env=variables, capture_output=True, text=True,  # noqa: S603
                              timeout=30, check=False)
        assert done.returncode != 0, argv
        assert "connection refused" in done.stderr, (argv, done.stderr)


def test_failing_hook_job_fails_the_install(env: Env, helm: str, request: pytest.FixtureRequest) -> None:
    name, ns = unique(request, "badhook"), unique(request, "ns-badhook")
    failing = HOOK_JOB.replace("    spec:\n      restartPolicy: Never",
                               "    metadata:\n      annotations: {emulator.firestream.dev/ready: \"false\"}\n"
                               "    spec:\n      restartPolicy: Never")
    chart = make_chart(env.charts, "badhook", {"templates/hook-job.yaml": failing})
    done = env.run(helm, "install", name, str(chart), "-n", ns, "--create-namespace",
                   "--timeout", "30s", check=False)
    assert done.returncode != 0
    assert "failed pre-install" in done.stderr, done.stderr
    job = env.kubectl_json("get", "job", f"{name}-migrate", "-n", ns)
    assert job["status"]["failed"] == 1
    assert any(c["type"] == "Failed" and c["status"] == "True" for c in job["status"]["conditions"])


# -- pure units: patch semantics and selectors -----------------------------------------------

def test_strategic_merge_patch_directives() -> None:
    from firestream_testing.apiserver.patching import json_patch, strategic_merge_patch

    live = {"spec": {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80}]},
                                    {"name": "b", "image": "y"}],
                     "finalizers": ["f1"]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "a"}],
                      "containers": [{"name": "a", "image": "z"}, {"name": "b", "$patch": "delete"}],
                      "finalizers": ["f2"]}}
    assert strategic_merge_patch(live, patch) == {"spec": {
        "containers": [{"name": "a", "image": "z", "ports": [{"containerPort": 80}]}],
        "finalizers": ["f1", "f2"]}}
    assert strategic_merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"$patch": "replace", "d": 3}}) == {"a": {"d": 3}}
    assert json_patch({"a": [1, 2]}, [{"op": "add", "path": "/a/-", "value": 3},
                                      {"op": "remove", "path": "/a/0"}]) == {"a": [2, 3]}


def test_label_and_field_selectors() -> None:
    from firestream_testing.apiserver.selectors import (
        SelectorError,
        field_matcher,
        label_matcher,
    )

    obj = {"metadata": {"name": "n", "labels": {"owner": "helm", "status": "deployed"}},
           "status": {"phase": "Running"}}
    assert label_matcher("owner=helm,status in (deployed,failed),!missing")(obj)
    assert not label_matcher("owner!=helm")(obj)
    assert not label_matcher("status notin (deployed)")(obj)
    assert field_matcher("metadata.name=n,status.phase!=Pending")(obj)
    with pytest.raises(SelectorError):
        label_matcher("owner in")


def test_immutable_fields_are_refused_as_the_api_server_refuses_them() -> None:
    """A StatefulSet's spec beyond replicas, template and the like, and a Deployment's selector,
    are refused with 422 Invalid and the API server's words; what may change still does."""
    from firestream_testing.apiserver.errors import ApiError
    from firestream_testing.apiserver.store import Store

    store = Store()
    sts, deploy = store.catalog.get("apps", "v1", "statefulsets"), store.catalog.get("apps", "v1", "deployments")
    assert sts is not None and deploy is not None
    labels = {"app": "db"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "db", "image": "db:1"}]}}
    claim = {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}
    store.create(sts, "default", {"metadata": {"name": "db"}, "spec": {
        "replicas": 1, "serviceName": "db", "selector": {"matchLabels": labels}, "template": template,
        "volumeClaimTemplates": [claim]}})
    store.create(deploy, "default", {"metadata": {"name": "api"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": labels}, "template": template}})

    store.patch(sts, "default", "db", "application/merge-patch+json", {"spec": {"replicas": 3}})
    store.patch(deploy, "default", "api", "application/merge-patch+json", {"spec": {"replicas": 2}})
    bigger = {**claim, "spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    with pytest.raises(ApiError) as refused:
        store.patch(sts, "default", "db", "application/merge-patch+json", {"spec": {"volumeClaimTemplates": [bigger]}})
    assert (refused.value.code, refused.value.reason) == (422, "Invalid")
    assert refused.value.message.startswith(
        'StatefulSet.apps "db" is invalid: spec: Forbidden: updates to statefulset spec for fields other than')
    with pytest.raises(ApiError) as refused:
        store.patch(deploy, "default", "api", "application/merge-patch+json",
                    {"spec": {"selector": {"matchLabels": {"app": "db", "tier": "x"}}}})
    assert refused.value.code == 422 and refused.value.message.startswith(
        'Deployment.apps "api" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"db", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}')
    assert refused.value.message.endswith(": field is immutable")


def test_a_bindings_role_ref_and_an_ingress_class_controller_are_refused_as_the_api_server_refuses_them() -> None:
    """k8s pkg/apis/rbac/validation (``cannot change roleRef``) and pkg/apis/networking/validation
    (an IngressClass's ``spec.controller`` is immutable); what may change still does."""
    from firestream_testing.apiserver.errors import ApiError
    from firestream_testing.apiserver.store import Store

    store = Store()
    crb = store.catalog.get("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
    ic = store.catalog.get("networking.k8s.io", "v1", "ingressclasses")
    assert crb is not None and ic is not None
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ksm"}
    store.create(crb, None, {"metadata": {"name": "ksm"}, "roleRef": ref, "subjects": []})
    store.create(ic, None, {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}})
    store.patch(crb, None, "ksm", "application/merge-patch+json", {"metadata": {"labels": {"a": "b"}}})
    store.patch(ic, None, "nginx", "application/merge-patch+json", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(ApiError) as refused:
        store.patch(crb, None, "ksm", "application/merge-patch+json", {"roleRef": {"name": "view"}})
    assert (refused.value.code, refused.value.reason) == (422, "Invalid")
    assert refused.value.message == (
        'ClusterRoleBinding.rbac.authorization.k8s.io "ksm" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"view"}: cannot change roleRef')
    with pytest.raises(ApiError) as refused:
        store.patch(ic, None, "nginx", "application/merge-patch+json", {"spec": {"controller": "k8s.io/other"}})
    assert refused.value.message == ('IngressClass.networking.k8s.io "nginx" is invalid: spec.controller: '
                                     'Invalid value: "k8s.io/other": field is immutable')
