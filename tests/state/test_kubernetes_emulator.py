"""The Kubernetes backend against the API emulator, through the real kubectl.

Checks what the in-memory tests take for granted: that ``kubectl create``
and ``kubectl replace`` with a ``resourceVersion`` give AlreadyExists and
Conflict as firestream expects, that racing processes cannot both take an
expired lease, that the Secret holds the state file's very JSON, and that
the state never reaches a command line or a log.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import pytest

from firestream_core.cli.main import main
from firestream_core.errors import HelmCommandError, StateError
from firestream_core.state.kubernetes import KubernetesStateBackend, LeaseLock, format_micro_time
from firestream_core.state.store import ReleaseState, State, StateStore


def entry(name: str, namespace: str = "apps") -> ReleaseState:
    return ReleaseState(name=name, namespace=namespace, chart_type="generic", chart="fixtures/tiny-app",
                        version="0.1.0", values_digest="sha256:" + "ab" * 32, revision=2,
                        applied_at="2026-01-02T03:04:05Z", action="upgrade", result="succeeded",
                        duration=1.5)


def make_backend(kube, **kw) -> KubernetesStateBackend:
    kw.setdefault("project_name", "shop")
    return KubernetesStateBackend(namespace=kube.namespace, kubectl=kube.kubectl(), **kw)


def lease_spec(kube, name: str = "firestream-state-shop") -> dict:
    return kube.kubectl().get("lease", name, namespace=kube.namespace)["spec"]


# -- kubectl create / replace ---------------------------------------------------------------


def test_create_and_replace_honour_existence_and_resource_versions(kube):
    k = kube.kubectl()
    assert k.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": kube.namespace}})
    assert k.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": kube.namespace}}) is None
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": kube.namespace},
          "data": {"a": "1"}}
    first = k.create(cm)
    assert first["data"] == {"a": "1"} and first["metadata"]["resourceVersion"]
    assert k.create(cm) is None  # AlreadyExists
    read_version = first["metadata"]["resourceVersion"]
    second = k.replace({**cm, "metadata": {**cm["metadata"], "resourceVersion": read_version},
                        "data": {"a": "2"}})
    assert second["data"] == {"a": "2"} and second["metadata"]["resourceVersion"] != read_version
    stale = {**cm, "metadata": {**cm["metadata"], "resourceVersion": read_version}, "data": {"a": "3"}}
    assert k.replace(stale) is None  # 409 Conflict: written since that version was read
    assert k.get("configmap", "c", namespace=kube.namespace)["data"] == {"a": "2"}
    gone = {**stale, "metadata": {**stale["metadata"], "name": "never-made"}}
    assert k.replace(gone) is None
    with pytest.raises(HelmCommandError, match='namespaces "t-missing-ns" not found'):
        k.create({**cm, "metadata": {"name": "c", "namespace": "t-missing-ns"}})


# -- the Secret ---------------------------------------------------------------------------------


def test_state_secret_holds_the_state_files_json_and_never_reaches_argv_or_logs(kube, tmp_path, logs):
    backend = make_backend(kube)  # its namespace does not exist yet
    assert backend.load().releases == {}
    state = State()
    state.record(entry("db"))
    state.record(entry("web"))
    backend.save(state)
    state.record(entry("cache"))
    backend.save(state)
    secret = kube.kubectl().get("secret", "firestream-state-shop", namespace=kube.namespace)
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "firestream"}
    local = StateStore(tmp_path)
    local.save(state)
    stored = base64.b64decode(secret["data"]["state.json"])
    assert stored == local.path.read_bytes()
    assert set(make_backend(kube).load().releases) == {"apps/cache", "apps/db", "apps/web"}
    ran = logs.messages("firestream.process")
    assert any("replace" in line for line in ran) and any("create" in line for line in ran)
    encoded = secret["data"]["state.json"]
    for text in (logs.text(), *ran):
        assert "sha256:abab" not in text and encoded[:40] not in text


def test_a_stale_save_is_refused_by_the_api_server(kube):
    one, two = make_backend(kube), make_backend(kube)
    first = State()
    first.record(entry("db"))
    one.load()
    one.save(first)
    s1, s2 = one.load(), two.load()
    s2.record(entry("web"))
    two.save(s2)
    s1.record(entry("cache"))
    with pytest.raises(StateError, match="changed by another firestream run"):
        one.save(s1)
    assert set(make_backend(kube).load().releases) == {"apps/db", "apps/web"}


# -- the Lease ----------------------------------------------------------------------------------


def test_lease_is_created_renewed_and_released(kube):
    backend = make_backend(kube, lease_duration="1s")
    lock = backend.lock("firestream apply")
    with lock:
        spec = lease_spec(kube)
        assert spec["holderIdentity"] == lock.identity and spec["leaseDurationSeconds"] == 1
        assert spec["leaseTransitions"] == 0 and spec["acquireTime"] == spec["renewTime"]
        deadline = time.monotonic() + 60
        while lease_spec(kube)["renewTime"] == spec["renewTime"]:
            assert time.monotonic() < deadline, "never renewed"
            time.sleep(0.1)
        held = backend.lock_holder()
        assert held.identity == lock.identity and held.command == "firestream apply"
    spec = lease_spec(kube)
    assert "holderIdentity" not in spec and backend.lock_holder() is None


RACER = textwrap.dedent(
    """
    import sys
    from firestream_core.errors import StateLockedError
    from firestream_core.tools.kubectl import Kubectl
    from firestream_core.state.kubernetes import KubernetesStateBackend
    kubeconfig, kubectl, namespace = sys.argv[1:4]
    k = Kubectl(binary=kubectl, kubeconfig=kubeconfig)
    real = k.replace
    first = [True]
    def gated(manifest, **kw):  # the lease is read: write only when every racer has read it
        if first[0]:
            first[0] = False
            print("read", flush=True)
            sys.stdin.readline()
        return real(manifest, **kw)
    k.replace = gated
    lock = KubernetesStateBackend(namespace=namespace, name="race", kubectl=k).lock("racer")
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        info = lock.acquire(renew=False)
    except StateLockedError as exc:
        print("locked", exc, flush=True)
        sys.exit(1)
    print("got", info.identity, flush=True)
    """
)


def test_racing_processes_cannot_both_take_an_expired_lease(kube):
    k = kube.kubectl()
    k.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": kube.namespace}})
    long_ago = format_micro_time(datetime.now(UTC) - timedelta(hours=1))
    k.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
              "metadata": {"name": "race", "namespace": kube.namespace},
              "spec": {"holderIdentity": "ghost@gone:1:dead", "leaseDurationSeconds": 5,
                       "acquireTime": long_ago, "renewTime": long_ago, "leaseTransitions": 4}})
    racers = [
        subprocess.Popen(  # noqa: S603 - the test interpreter
            [sys.executable, "-c", RACER, str(kube.kubeconfig), str(kube.tools["kubectl"]), kube.namespace],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=kube.env)
        for _ in range(3)
    ]
    try:
        for r in racers:
            assert r.stdout.readline().strip() == "ready"
        for r in racers:  # all go at once
            r.stdin.write("\n")
            r.stdin.flush()
        # each has read the expired lease before any writes it: the race at its widest
        assert [r.stdout.readline().strip() for r in racers] == ["read"] * 3
        outs = [r.communicate("\n", timeout=120)[0] for r in racers]
    finally:
        for r in racers:
            if r.poll() is None:
                r.kill()
                r.communicate()
    winners = [o.split()[1] for o in outs if o.startswith("got")]
    assert len(winners) == 1, outs
    losers = [o for o in outs if o.startswith("locked")]
    assert len(losers) == 2 and all(f"held by {winners[0]}" in o for o in losers), outs
    spec = k.get("lease", "race", namespace=kube.namespace)["spec"]
    assert spec["holderIdentity"] == winners[0] and spec["leaseTransitions"] == 5


# -- firestream state show / unlock --force --------------------------------------------------


def test_state_command_shows_and_unlocks_the_cluster_state(kube, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FIRESTREAM_KUBECTL_BINARY", str(kube.tools["kubectl"]))
    monkeypatch.setenv("HOME", kube.env["HOME"])
    path = tmp_path / "firestream.toml"
    path.write_text(f'[project]\nname = "shop"\n\n[state]\nbackend = "kubernetes"\n'
                    f'namespace = "{kube.namespace}"\n')
    flags = ["-f", str(path), "--kubeconfig", str(kube.kubeconfig)]
    state = State()
    state.record(entry("db"))
    make_backend(kube).save(state)
    assert main(["state", "show", "--json", *flags]) == 0
    rows = json.loads(capsys.readouterr().out)["releases"]
    assert [(r["key"], r["action"], r["revision"]) for r in rows] == [("apps/db", "upgrade", 2)]
    holder = LeaseLock(kube.kubectl(), kube.namespace, "firestream-state-shop", "firestream apply",
                       identity="ann@build-7:4242:beef")
    holder.acquire(renew=False)
    assert main(["state", "unlock", *flags]) == 1
    assert "held by ann@build-7:4242:beef" in capsys.readouterr().err
    assert main(["state", "unlock", "--force", *flags]) == 0
    assert "removed the lock of ann@build-7:4242:beef since" in capsys.readouterr().out
    assert "holderIdentity" not in lease_spec(kube)
    assert main(["state", "unlock", "--force", *flags]) == 0
    assert "the project was not locked" in capsys.readouterr().out
