"""The issue's acceptance list, with the real helm 3 and helm 4 against the emulated API.

One emulator serves the whole module (``kube_cluster`` is module-scoped);
each test has its own namespace and HELM homes. Waiting for a state
(a pending release, a running helm) polls with a generous deadline and
asserts on the state reached, never on how long it took.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from firestream_testing.argv_watch import watch_argv

from firestream_core.errors import (
    CancelledError,
    ChartNotFoundError,
    ClusterUnreachableError,
    HelmCommandError,
    HelmNotInstalledError,
    HelmTimeoutError,
    ReleaseLockedError,
    RenderError,
)
from firestream_core.model import ChartInfo, ChartSetValue, ChartValuesGenerated, InstalledRelease
from firestream_core.tools.helm import Helm
from firestream_core.tools.helm_errors import ReleaseNotFoundError

pytestmark = pytest.mark.helm

SECRET = "s3cr3t-Pa55w0rd-never-on-argv"


def wait_for(condition: Callable[[], object], what: str, deadline: float = 60.0) -> object:
    """Poll ``condition`` until truthy; fail naming ``what`` if it never is."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"never happened: {what}")


def tiny(chart_repo, version: str = "0.1.0", **kw) -> ChartInfo:  # noqa: ANN001
    """A ChartInfo for the fixture ``tiny-app`` packaged archive (no repo add needed)."""
    kw.setdefault("name", "app")
    return ChartInfo(path=chart_repo.tgz("tiny-app", version), **kw)


def release(helm: Helm, name: str, namespace: str) -> InstalledRelease | None:
    for r in helm.list_releases():
        if r.name == name and r.namespace == namespace:
            return r
    return None


@pytest.fixture
def helm(kube, helm_bin) -> Helm:  # noqa: ANN001
    return kube.helm(helm_bin)


# -- create, upgrade, history, rollback, uninstall -----------------------------------------


def test_release_lifecycle_seen_by_the_cluster_state_call(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    ns = kube.namespace
    assert helm.repo_add(chart_repo.name, chart_repo.url) is True
    assert helm.repo_add(chart_repo.name, chart_repo.url) is False  # once per repository
    info = ChartInfo(name="web", chart="tiny-app", repository=chart_repo.name, version="0.1.0",
                     namespace=ns, values=[ChartSetValue("message", "first")])

    assert helm.upgrade_install(info, tmp_path) == 1
    seen = release(helm, "web", ns)
    assert seen is not None
    assert (seen.revision, seen.status, seen.chart_name, seen.chart_version) == (1, "deployed", "tiny-app", "0.1.0")

    info.values = [ChartSetValue("message", "second")]
    info.version = "0.2.0"
    assert helm.upgrade_install(info, tmp_path) == 2
    seen = release(helm, "web", ns)
    assert seen is not None and (seen.revision, seen.chart_version) == (2, "0.2.0")
    assert helm.get_values("web", ns) == {"message": "second"}

    history = helm.history("web", ns)
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "deployed")]

    helm.rollback("web", ns, 1)
    seen = release(helm, "web", ns)
    assert seen is not None and (seen.revision, seen.status, seen.chart_version) == (3, "deployed", "0.1.0")
    assert helm.get_values("web", ns) == {"message": "first"}
    assert helm.status("web", ns)["info"]["status"] == "deployed"
    assert "kind: ConfigMap" in helm.get_manifest("web", ns)

    assert helm.uninstall("web", ns) is True
    assert release(helm, "web", ns) is None
    assert helm.uninstall("web", ns) is False
    with pytest.raises(ReleaseNotFoundError):
        helm.uninstall("web", ns, ignore_not_found=False)
    with pytest.raises(ReleaseNotFoundError) as info_exc:
        helm.status("web", ns)
    assert "web" in str(info_exc.value) and "status" in str(info_exc.value)


def test_upgrade_output_gives_the_workloads_even_when_helm_leaves_the_manifest_out(
    kube, helm, chart_repo, tmp_path
) -> None:  # noqa: ANN001
    # helm 3 and 4 write the release JSON with "manifest,omitempty": a chart rendering nothing
    # prints no manifest at all. That is an empty manifest (no workloads), not an unknown one:
    # pods_running must not ask `helm get manifest` for it.
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "Chart.yaml").write_text("apiVersion: v2\nname: empty\nversion: 0.1.0\n")
    up = helm.upgrade_install_release(ChartInfo(name="nothing", path=empty, namespace=kube.namespace,
                                                wait=False, atomic=False), tmp_path)
    assert (up.revision, up.status, up.workloads) == (1, "deployed", ())
    assert helm.get_manifest("nothing", kube.namespace).strip() == ""

    up = helm.upgrade_install_release(tiny(chart_repo, namespace=kube.namespace, wait=False, atomic=False),
                                      tmp_path)
    assert up.workloads == (("Deployment", kube.namespace, "app-tiny-app"),)


def test_major_is_detected(helm, helm_major) -> None:  # noqa: ANN001
    assert helm.major == helm_major
    assert helm.version.startswith(f"v{helm_major}.")


# -- waiting and atomic ---------------------------------------------------------------------


def test_wait_passes_with_the_controller_on(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    info = tiny(chart_repo, namespace=kube.namespace, wait=True, atomic=False, timeout="60s")
    assert helm.upgrade_install(info, tmp_path) == 1
    kube.cluster.set_controller(True)
    deployment = kube.kubectl().get("deployment", "app-tiny-app", namespace=kube.namespace)
    assert deployment is not None
    assert deployment["status"].get("readyReplicas") == 1


def test_wait_times_out_with_the_controller_off(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    kube.cluster.set_controller(False)
    info = tiny(chart_repo, namespace=kube.namespace, wait=True, atomic=False, timeout="2s")
    with pytest.raises(HelmTimeoutError) as exc:
        helm.upgrade_install(info, tmp_path)
    assert "upgrade" in str(exc.value) and "'app'" in str(exc.value)
    assert exc.value.release == "app"


def test_helm4_legacy_wait_strategy(kube, helm_tools, chart_repo, tmp_path) -> None:  # noqa: ANN001
    helm = kube.helm(helm_tools["helm4"], wait_strategy="legacy")
    info = tiny(chart_repo, namespace=kube.namespace, wait=True, atomic=False, timeout="60s")
    assert helm.upgrade_install(info, tmp_path) == 1
    kube.cluster.set_controller(False)
    info.values = [ChartSetValue("message", "changed")]
    info.timeout = "2s"
    # the emulator's controller is off, but the Deployment is already
    # ready: change a pod template field so it needs a new rollout
    info.values.append(ChartSetValue("image.tag", "2.0.0"))
    with pytest.raises(HelmTimeoutError):
        helm.upgrade_install(info, tmp_path)


BROKEN_PODS = ChartValuesGenerated(
    "broken-pods.yaml", 'podAnnotations:\n  emulator.firestream.dev/ready: "false"\n'
)
"""Values that make tiny-app's pods never ready (the emulator's broken-workload switch)."""


def test_atomic_failure_leaves_the_previous_revision_deployed(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    ns = kube.namespace
    info = tiny(chart_repo, namespace=ns, values=[ChartSetValue("message", "good")], timeout="60s")
    assert info.atomic
    assert helm.upgrade_install(info, tmp_path) == 1
    info.values = [ChartSetValue("message", "bad")]
    info.yaml_files_content = [BROKEN_PODS]
    info.timeout = "2s"
    with pytest.raises(HelmTimeoutError) as exc:
        helm.upgrade_install(info, tmp_path)
    assert "rolled the release back" in str(exc.value)
    seen = release(helm, "app", ns)
    assert seen is not None and seen.status == "deployed" and seen.revision == 3
    assert helm.get_values("app", ns) == {"message": "good"}
    statuses = [h["status"] for h in helm.history("app", ns)]
    assert statuses == ["superseded", "failed", "deployed"]


# -- values and secrets ------------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def test_values_and_secret_reach_the_release_but_never_argv_or_logs(
    kube, helm, helm_bin, chart_repo, tmp_path, debug_logs  # noqa: ANN001
) -> None:
    ns = kube.namespace
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "web.yaml").write_text("message: from-values-file\nreplicaCount: 2\n")
    info = tiny(
        chart_repo,
        name="secure",
        namespace=ns,
        values_files=[Path("values/web.yaml")],
        # a secret value from the config lands in the generated document
        yaml_files_content=[ChartValuesGenerated("firestream.toml:deployments.generic[0].values",
                                                 f"service:\n  port: 8080\npassword: {SECRET}\n")],
        values=[ChartSetValue("image.tag", "1.2.3")],
    )
    with watch_argv(binary=helm_bin) as watcher:  # this test's helm processes, from /proc
        revision = helm.upgrade_install(info, tmp_path)
    assert revision == 1

    # the values reached the release
    assert helm.get_values("secure", ns) == {
        "message": "from-values-file", "replicaCount": 2, "service": {"port": 8080}, "password": SECRET,
        "image": {"tag": "1.2.3"},
    }
    cm = kube.kubectl().get("configmap", "secure-tiny-app", namespace=ns)
    assert cm is not None and cm["data"]["password"] == SECRET

    # helm ran, and no helm command line held the secret
    upgrades = watcher.of("upgrade")
    assert upgrades, "the watcher never saw the helm upgrade process"
    watcher.assert_absent(SECRET)
    argv = upgrades[0]
    values_args = [v for f, v in zip(argv, argv[1:], strict=False) if f == "--values"]
    assert values_args[0] == str(tmp_path / "values" / "web.yaml")  # config file by path, first
    temp_file = values_args[-1]  # the merged values last
    assert watcher.values_files.get(temp_file) == 0o600
    assert not os.path.exists(temp_file)
    assert not os.path.exists(os.path.dirname(temp_file))

    # nothing logged holds it, though helm's argv was logged at DEBUG
    assert any("upgrade" in r.getMessage() for r in debug_logs.records)
    assert SECRET not in debug_logs.text


# -- failures, typed -----------------------------------------------------------------------------


def test_render_failure_is_a_render_error(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    info = ChartInfo(name="bad", path=chart_repo.tgz("broken", "0.1.0"), namespace=kube.namespace)
    with pytest.raises(RenderError) as exc:
        helm.upgrade_install(info, tmp_path)
    message = str(exc.value)
    assert "helm upgrade failed for release 'bad'" in message
    assert ".Values.missing is required" in message
    assert exc.value.hint


def test_unknown_chart_version_is_chart_not_found(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    helm.repo_add(chart_repo.name, chart_repo.url)
    info = ChartInfo(name="x", chart="tiny-app", repository=chart_repo.name, version="9.9.9",
                     namespace=kube.namespace)
    with pytest.raises(ChartNotFoundError):
        helm.upgrade_install(info, tmp_path)


def test_unreachable_api_server(kube, helm_bin, tmp_path) -> None:  # noqa: ANN001
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(kube.kubeconfig.read_text().replace(kube.url, "http://127.0.0.1:9"))
    dead.chmod(0o600)
    helm = Helm(binary=helm_bin, kubeconfig=dead, env=kube.env)
    with pytest.raises(ClusterUnreachableError) as exc:
        helm.list_releases()
    assert "helm list failed" in str(exc.value)
    assert "127.0.0.1:9" in str(exc.value)
    assert exc.value.hint and "kubeconfig" in exc.value.hint


def test_helm_not_installed(tmp_path) -> None:  # noqa: ANN001
    helm = Helm(binary=tmp_path / "no-helm-here")
    with pytest.raises(HelmNotInstalledError) as exc:
        helm.list_releases()
    assert "no-helm-here" in str(exc.value)
    assert "testing.tools" in (exc.value.hint or "")


def test_helm_binary_from_environment(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    monkeypatch.setenv("FIRESTREAM_HELM_BINARY", str(tmp_path / "env-helm"))
    assert Helm().binary == str(tmp_path / "env-helm")


def _start_stuck_upgrade(kube, helm, chart_repo, tmp_path, existing: bool):  # noqa: ANN001, ANN202
    """Start an upgrade that waits forever (broken pods) in a thread; return (info, thread, outcome)."""
    info = tiny(chart_repo, name="stuck", namespace=kube.namespace, atomic=False, wait=True, timeout="120s")
    if existing:
        assert helm.upgrade_install(info, tmp_path) == 1
    info.yaml_files_content = [BROKEN_PODS]
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            helm.upgrade_install(info, tmp_path)
        except BaseException as exc:  # noqa: BLE001 - inspected by the test
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    expected = "pending-upgrade" if existing else "pending-install"
    wait_for(lambda: (r := release(helm, "stuck", kube.namespace)) is not None and r.status == expected,
             f"release in {expected}")
    return info, worker, outcome


@pytest.mark.parametrize("existing", [False, True], ids=["pending-install", "pending-upgrade"])
def test_killed_helm_leaves_a_locked_release(kube, helm, chart_repo, tmp_path, existing) -> None:  # noqa: ANN001
    """helm killed outright (SIGKILL, a crash, a lost machine) leaves pending-*: reported as locked."""
    import signal

    info, worker, outcome = _start_stuck_upgrade(kube, helm, chart_repo, tmp_path, existing)
    (proc,) = helm.runner.running()
    assert proc.label == "stuck"
    os.kill(proc.pid, signal.SIGKILL)
    worker.join()
    assert "killed by signal SIGKILL" in str(outcome.get("error"))

    expected = "pending-upgrade" if existing else "pending-install"
    seen = release(helm, "stuck", kube.namespace)
    assert seen is not None and seen.is_pending and seen.status == expected
    info.yaml_files_content = []
    with pytest.raises(ReleaseLockedError) as exc:
        helm.upgrade_install(info, tmp_path)
    assert "'stuck'" in str(exc.value)
    assert exc.value.hint and "recovers" in exc.value.hint


def test_terminate_all_cancels_helm_and_names_the_release(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    """Ctrl-C / a stage timeout: helm gets SIGTERM and the caller learns which release stopped."""
    _info, worker, outcome = _start_stuck_upgrade(kube, helm, chart_repo, tmp_path, existing=False)
    assert helm.runner.terminate_all(grace=10) == ["stuck"]
    worker.join()
    error = outcome.get("error")
    assert isinstance(error, CancelledError)
    assert error.releases == ["stuck"]
    assert "stuck" in str(error)
    # helm handles SIGTERM itself and records the release as failed rather
    # than leaving it pending (it is pending only when helm was killed).
    seen = release(helm, "stuck", kube.namespace)
    assert seen is not None and seen.status in ("failed", "pending-install")


# -- the other operations ------------------------------------------------------------------------


def test_template_renders_offline_with_the_same_values(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    info = tiny(chart_repo, values=[ChartSetValue("message", "rendered-msg")], namespace="anywhere")
    text = helm.template(info, tmp_path)
    assert 'message: "rendered-msg"' in text
    with pytest.raises(RenderError):
        helm.template(ChartInfo(name="b", path=chart_repo.tgz("broken", "0.1.0")), tmp_path)


def test_helm_test_runs_test_hooks(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    info = ChartInfo(name="hooked", path=chart_repo.tgz("with-hooks", "0.1.0"), namespace=kube.namespace)
    assert helm.upgrade_install(info, tmp_path) == 1
    run = helm.test("hooked", kube.namespace, timeout="60s")
    assert run.passed
    assert [t.name for t in run.tests] == ["hooked-test"]
    assert run.tests[0].phase == "Succeeded"


def test_pull_and_repo_update(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    helm.repo_add(chart_repo.name, chart_repo.url)
    helm.repo_update([chart_repo.name])
    path = helm.pull(f"{chart_repo.name}/tiny-app", "0.2.0", tmp_path / "charts")
    assert path == tmp_path / "charts" / "tiny-app-0.2.0.tgz"
    assert path.is_file()


def test_no_hooks_reaches_helm(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    kc = kube.kubectl()
    ns = kube.namespace
    for name, disabled in (("nohooks", True), ("hooks", False)):
        info = ChartInfo(name=name, path=chart_repo.tgz("with-hooks", "0.1.0"), namespace=ns,
                         hooks_disabled=disabled)
        assert helm.upgrade_install(info, tmp_path) == 1
    assert kc.get("job", "nohooks-pre-install", namespace=ns) is None
    assert kc.get("job", "hooks-pre-install", namespace=ns) is not None


def test_skip_crds_reaches_helm(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    kc = kube.kubectl()
    crd = "widgets.fixtures.firestream.dev"
    kc.delete("crd", crd)  # cluster-wide, and the emulator is shared by the module
    assert kc.get("crd", crd) is None
    skipped = ChartInfo(name="skipped", path=chart_repo.tgz("with-crds", "0.1.0"),
                        namespace=kube.namespace, skip_crds=True)
    with pytest.raises(RenderError):  # the Widget's kind is unknown without its CRD
        helm.upgrade_install(skipped, tmp_path)
    assert kc.get("crd", crd) is None
    with_crds = ChartInfo(name="withcrds", path=chart_repo.tgz("with-crds", "0.1.0"),
                          namespace=kube.namespace)
    assert helm.upgrade_install(with_crds, tmp_path) == 1
    assert kc.get("crd", crd) is not None
    assert kc.get("widget", "withcrds", namespace=kube.namespace) is not None


def test_dry_run_changes_nothing(kube, helm, chart_repo, tmp_path) -> None:  # noqa: ANN001
    info = tiny(chart_repo, name="dry", namespace=kube.namespace, dry_run=True, create_namespace=True)
    helm.upgrade_install(info, tmp_path)
    assert release(helm, "dry", kube.namespace) is None


def test_render_release_is_apply_s_call_dry_run_and_keeps_nothing_of_the_values(
    kube, helm, chart_repo, tmp_path, debug_logs, monkeypatch  # noqa: ANN001
) -> None:
    """diff and plan --hooks render with helm's dry run of apply's own call: the same argument
    list but --dry-run=server (a dry_run release's --dry-run=client replaced), at the revision
    helm would record, nothing changed; of helm's JSON only the manifest and hooks are kept
    (its ``config`` holds every value: one no template renders appears nowhere)."""
    from firestream_core.tools.process import Runner

    unrendered = "Zq-never-rendered-9981"
    info = tiny(chart_repo, name="rr", namespace=kube.namespace, dry_run=True,
                yaml_files_content=[ChartValuesGenerated("firestream.toml", f"apiToken: {unrendered}\n")])
    assert helm.upgrade_install(attrs.evolve(info, dry_run=False), tmp_path) == 1
    argvs: list[list[str]] = []
    original = Runner.run

    def run(self, argv, **kwargs):  # noqa: ANN001, ANN202
        argvs.append([os.fspath(a) for a in argv])
        return original(self, argv, **kwargs)

    monkeypatch.setattr(Runner, "run", run)
    text = helm.render_release(info, tmp_path)
    (argv,) = [a for a in argvs if "upgrade" in a]
    expected = helm.argv(helm.upgrade_install_args(info, tmp_path, Path("VALUES"), server_dry_run=True))
    assert [("VALUES" if "firestream-values" in a else a) for a in argv] == expected
    assert "--dry-run=server" in argv and "--dry-run=client" not in argv and "--reset-values" in argv
    assert "name: rr-tiny-app" in text and unrendered not in text and unrendered not in debug_logs.text
    assert release(helm, "rr", kube.namespace).revision == 1  # nothing changed


# -- the version and the first list at once ---------------------------------------------------------

_MEETING_HELM = """#!/bin/bash
# version and list each say they started, then wait (at most 20 s) for the other to have
# started: run one after the other, the first finds itself alone and says so
dir={dir}
case "$1" in
  version) me=version other=list ;;
  list) me=list other=version ;;
  *) exit 3 ;;
esac
: > "$dir/$me.started"
for _ in $(seq 400); do
  [[ -e $dir/$other.started ]] && break
  sleep 0.05
done
if [[ -e $dir/$other.started ]]; then echo met >> "$dir/$me.log"; else echo alone >> "$dir/$me.log"; fi
case "$1" in
  version) printf 'v3.19.0' ;;
  list) printf '[]' ;;
esac
"""


def test_version_and_first_list_run_at_the_same_time(tmp_path) -> None:  # noqa: ANN001
    binary = tmp_path / "helm"
    binary.write_text(_MEETING_HELM.format(dir=tmp_path))
    binary.chmod(0o755)
    helm = Helm(binary=binary)
    assert helm.list_releases() == []
    # each saw the other running: both were spawned before either was waited for
    assert (tmp_path / "version.log").read_text() == "met\n"
    assert (tmp_path / "list.log").read_text() == "met\n"
    assert helm.major == 3


def test_a_fresh_helm_lists_what_another_installed(kube, helm, helm_bin, helm_major, chart_repo, tmp_path) -> None:  # noqa: ANN001
    helm.upgrade_install(tiny(chart_repo, namespace=kube.namespace, wait=False, atomic=False), tmp_path)
    fresh = kube.helm(helm_bin)  # version not asked yet: its first list asks it at the same time
    seen = [r for r in fresh.list_releases() if r.namespace == kube.namespace]
    assert [(r.name, r.revision, r.status) for r in seen] == [("app", 1, "deployed")]
    assert fresh.major == helm_major


@pytest.mark.parametrize(("printed", "version"), [
    ("v5.0.0+g1234abc", "v5.0.0"),
    ("v2.17.0", "v2.17.0"),
    # helm 2's own format, where the version is quoted: the quote and comma are not part of it
    ('Client: &version.Version{SemVer:"v2.17.0", GitCommit:"a9c0a1b", GitTreeState:"clean"}', "v2.17.0"),
])
def test_a_helm_other_than_3_or_4_is_refused_naming_its_version(tmp_path, printed: str, version: str) -> None:  # noqa: ANN001
    """helm 5 was taken for helm 4 (its command lines written for a helm nobody tested) and
    helm 2's version was read with the quote and comma that follow it."""
    binary = tmp_path / "helm"
    binary.write_text(f"#!/bin/sh\n[ \"$1\" = version ] && printf '%s' '{printed}' && exit 0\nexit 3\n")
    binary.chmod(0o755)
    with pytest.raises(HelmCommandError) as caught:
        Helm(binary=binary).major  # noqa: B018
    assert str(caught.value) == f"helm {version} is not supported: firestream needs helm 3 or 4"


def test_a_helm_4_prerelease_is_taken(tmp_path) -> None:  # noqa: ANN001
    binary = tmp_path / "helm"
    binary.write_text("#!/bin/sh\nprintf 'v4.1.0-rc.1+gabc'\n")
    binary.chmod(0o755)
    helm = Helm(binary=binary)
    assert (helm.version, helm.major) == ("v4.1.0-rc.1", 4)


# -- client-go's watch retries during a wait --------------------------------------------------


class _FlakyApiServer:
    """A TCP relay to the emulator that refuses connections for ``outage`` seconds from the
    first list of Jobs in ``namespace`` (the informer of helm 3's hook wait), then calls
    ``after``: client-go retries that list and logs ``connection refused`` lines (klog), as it
    does while an API server restarts."""

    def __init__(self, port: int, namespace: str, outage: float, after: Callable[[], object]) -> None:
        import socket

        self._socket = socket
        self.port_to = port
        self.trigger = f"GET /apis/batch/v1/namespaces/{namespace}/jobs?".encode()
        self.outage = outage
        self.after = after
        self.triggered = False
        self.closed = False
        self.conns: list = []
        self.lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listen()

    def _listen(self) -> None:
        s = self._socket
        self.server = s.socket()
        self.server.setsockopt(s.SOL_SOCKET, s.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen(64)
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def _accept(self, server) -> None:  # noqa: ANN001
        while True:
            try:
                client, _ = server.accept()
                upstream = self._socket.create_connection(("127.0.0.1", self.port_to))
            except OSError:
                return
            with self.lock:
                self.conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, a, b, from_client: bool) -> None:  # noqa: ANN001
        try:
            while data := a.recv(65536):
                first = data.split(b"\r\n", 1)[0]
                if from_client and not self.triggered and self.trigger in first and b"watch=true" not in first:
                    self.triggered = True
                    self._refuse()
                    return
                b.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(a, b)

    def _drop(self, *conns) -> None:  # noqa: ANN002
        for c in conns:
            try:
                c.shutdown(self._socket.SHUT_RDWR)
            except OSError:
                pass

    def _refuse(self) -> None:
        try:
            self.server.shutdown(self._socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        with self.lock:
            self._drop(*self.conns)
            self.conns = []
        threading.Timer(self.outage, self._back).start()

    def _back(self) -> None:
        if not self.closed:
            self._listen()
            self.after()

    def close(self) -> None:
        self.closed = True
        self.server.close()
        with self.lock:
            self._drop(*self.conns)


def test_a_failed_hook_stays_a_helm_error_when_client_go_logged_connection_refused(
    kube, chart_repo, tmp_path
) -> None:  # noqa: ANN001
    """helm 3.19 waiting for a hook Job while the API server refused connections for a moment:
    client-go logs ``reflector.go:205] "Failed to watch" err="failed to list ...: dial tcp ...:
    connect: connection refused"``, then the Job fails. Any "connection refused" in stderr made
    that a ``ClusterUnreachableError`` (retried as transient, "check the kubeconfig")."""
    chart = tmp_path / "hooky"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hooky\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  a: b\n")
    (chart / "templates" / "job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\n"
        "  annotations:\n    helm.sh/hook: post-install\nspec:\n  backoffLimit: 0\n  template:\n"
        "    metadata:\n      annotations:\n        emulator.firestream.dev/ready: \"false\"\n"
        "    spec:\n      restartPolicy: Never\n      containers:\n      - name: m\n        image: busybox\n")
    # client-go retries the refused list after a jittered backoff, which a busy machine can push
    # past the outage (it then logs no "connection refused"): the scenario is run again, on a new
    # release, until its retries were refused; the classification is checked on that run
    for attempt in range(4):
        kube.cluster.set_controller(False)  # the Job stays pending until the outage is over
        relay = _FlakyApiServer(kube.cluster.port, kube.namespace, 2.0, lambda: kube.cluster.set_controller(True))
        try:
            flaky = tmp_path / "flaky-kubeconfig"
            flaky.write_text(kube.kubeconfig.read_text().replace(kube.url, f"http://127.0.0.1:{relay.port}"))
            flaky.chmod(0o600)
            helm = Helm(binary=kube.tools["helm"], kubeconfig=flaky, env=kube.env)
            info = ChartInfo(name=f"web{attempt}", path=str(chart), namespace=kube.namespace, wait=True,
                             atomic=False, timeout="60s")
            with pytest.raises(HelmCommandError) as caught:
                helm.upgrade_install(info, tmp_path)
        finally:
            relay.close()
            kube.cluster.set_controller(True)
        assert relay.triggered
        if "connect: connection refused" in caught.value.stderr:
            break
    assert "connect: connection refused" in caught.value.stderr  # client-go did log its retries
    assert type(caught.value) is HelmCommandError, caught.value.stderr
    assert "BackoffLimitExceeded" in str(caught.value)
    assert "connection refused" not in str(caught.value)
    assert caught.value.hint is None  # not "check the kubeconfig"
