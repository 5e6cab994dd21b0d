"""The command lines Helm and Kubectl build, checked without running anything."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from firestream_core.errors import ClusterUnreachableError, HelmCommandError, HelmTimeoutError
from firestream_core.model import ChartInfo
from firestream_core.tools.helm import Helm
from firestream_core.tools.kubectl import Kubectl
from firestream_core.tools.process import Completed, Runner
from firestream_core.tools.redact import Redactor


class StubRunner(Runner):
    """Records each call and answers from ``respond(argv) -> (code, stdout, stderr)``."""

    def __init__(self, respond: Callable[[list[str]], tuple[int, str, str]] | None = None) -> None:
        super().__init__()
        self.calls: list[dict] = []
        self.respond = respond or (lambda argv: (0, "", ""))

    def run(self, argv, *, env=None, stdin=None, timeout=None, label=None, cwd=None) -> Completed:  # noqa: ANN001
        args = [str(a) for a in argv]
        self.calls.append({"argv": args, "env": env, "stdin": stdin, "timeout": timeout, "label": label})
        code, out, err = self.respond(args)
        return Completed(tuple(args), code, out, err, 0.0, label)


def helm_with(major: int, **kw) -> tuple[Helm, StubRunner]:  # noqa: ANN003
    def respond(argv: list[str]) -> tuple[int, str, str]:
        if argv[1] == "version":
            return 0, f"v{major}.9.0", ""
        if argv[1] == "upgrade":
            return 0, '{"version": 4}', ""
        return 0, "[]", ""

    runner = StubRunner(respond)
    return Helm(runner, "/opt/helm", kubeconfig="/k/config", kube_context="ctx", env={"A": "1"}, **kw), runner


@pytest.mark.parametrize(
    ("major", "atomic", "wait", "expected", "absent"),
    [
        (3, True, True, ["--atomic", "--wait", "--wait-for-jobs"], ["--rollback-on-failure"]),
        (3, True, False, ["--atomic", "--wait-for-jobs"], ["--wait"]),  # --atomic implies --wait
        (3, False, False, [], ["--atomic", "--wait", "--wait-for-jobs"]),
        (4, True, True, ["--rollback-on-failure", "--wait=watcher", "--wait-for-jobs"], ["--atomic", "--wait"]),
        (4, True, False, ["--rollback-on-failure", "--wait-for-jobs"], ["--wait=watcher"]),
        (4, False, True, ["--wait=watcher"], ["--rollback-on-failure"]),
    ],
)
def test_atomic_and_wait_per_major(major: int, atomic: bool, wait: bool, expected: list[str], absent: list[str]) -> None:
    helm, _ = helm_with(major)
    args = helm.upgrade_install_args(ChartInfo(name="r", chart="c", atomic=atomic, wait=wait), Path("/p"))
    assert set(expected) <= set(args)
    assert not set(absent) & set(args)


@pytest.mark.parametrize(("major", "atomic"), [(3, "--atomic"), (4, "--rollback-on-failure")])
def test_replace_installs_with_install_replace_and_the_same_flags(major: int, atomic: str) -> None:
    """A release helm reports uninstalled: ``install --replace``, whose flags ``upgrade`` shares but
    ``--history-max``, ``--cleanup-on-fail`` and ``--reset-values`` (``install`` has none)."""
    helm, _ = helm_with(major)
    info = ChartInfo(name="web", chart="repo/c", version="1.0.0", namespace="apps")
    upgrade = helm.upgrade_install_args(info, Path("/p"), Path("/tmp/v.yaml"))
    replace = helm.upgrade_install_args(info, Path("/p"), Path("/tmp/v.yaml"), replace=True)
    swapped = {"upgrade": "install", "--install": "--replace"}
    assert replace == [swapped.get(a, a) for a in upgrade
                       if a not in ("--history-max", "50", "--cleanup-on-fail", "--reset-values")]
    assert replace[:3] == ["install", "web", "repo/c"] and "--history-max" in upgrade
    assert atomic in replace and replace[-4:] == ["--values", "/tmp/v.yaml", "--output", "json"]


def test_uninstall_keeps_history_only_when_asked() -> None:
    helm, runner = helm_with(3)
    helm.uninstall("web", "apps", timeout="30s")
    helm.uninstall("web", "apps", timeout="30s", keep_history=True)
    plain, kept = (c["argv"] for c in runner.calls[-2:])
    assert plain[:6] == ["/opt/helm", "uninstall", "web", "--namespace", "apps", "--timeout"]
    assert "--keep-history" not in plain
    assert [a for a in kept if a != "--keep-history"] == plain and kept.count("--keep-history") == 1


def test_upgrade_passes_globals_env_label_and_returns_revision(tmp_path: Path) -> None:
    helm, runner = helm_with(3)
    info = ChartInfo(name="web", chart="c", repository="repo", namespace="apps", timeout="1h")
    assert helm.upgrade_install(info, tmp_path) == 4
    call = runner.calls[-1]
    argv = call["argv"]
    assert argv[0] == "/opt/helm"
    assert argv[-4:] == ["--kubeconfig", "/k/config", "--kube-context", "ctx"]
    assert call["env"] == {"A": "1", **helm.repository_home.env()} and call["label"] == "web"
    assert call["timeout"] == 3600 * 2 + 120  # a safety net beyond helm's own timeout (x2: rollback)
    assert argv[argv.index("--timeout") + 1] == "3600s"


def test_version_asked_once_even_from_threads() -> None:
    import threading

    helm, runner = helm_with(4)
    threads = [threading.Thread(target=lambda: helm.major) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [c["argv"][1] for c in runner.calls] == ["version"]
    assert helm.version == "v4.9.0"


def test_unsupported_helm_2() -> None:
    runner = StubRunner(lambda argv: (0, "v2.17.0", ""))
    with pytest.raises(HelmCommandError, match="not supported"):
        _ = Helm(runner, "helm").major


def test_unknown_wait_strategy() -> None:
    with pytest.raises(ValueError, match="wait strategy"):
        Helm(StubRunner(), "helm", wait_strategy="hookOnly")


def test_runner_timeout_is_a_helm_timeout() -> None:
    class TimingOut(StubRunner):
        def run(self, argv, **kw) -> Completed:  # noqa: ANN001, ANN003
            return Completed(tuple(argv), -15, "", "", 9.0, kw.get("label"), timed_out=True)

    helm = Helm(TimingOut(), "helm")
    helm._version = "v3.19.0"
    with pytest.raises(HelmTimeoutError, match="did not finish"):
        helm.status("r", "ns")


def test_stderr_redacted_with_the_instance_redactor() -> None:
    runner = StubRunner(lambda argv: (1, "", "Error: Kubernetes cluster unreachable: token tok-123456 refused"))
    helm = Helm(runner, "helm", redactor=Redactor(["tok-123456"]))
    helm._version = "v3.19.0"
    with pytest.raises(ClusterUnreachableError) as exc:
        helm.list_releases()
    assert "tok-123456" not in str(exc.value) and "tok-123456" not in exc.value.stderr


def test_get_values_teaches_the_redactor_its_secrets() -> None:
    runner = StubRunner(lambda argv: (0, '{"db": {"password": "pw-1234"}, "host": "database"}', ""))
    helm = Helm(runner, "helm")
    helm._version = "v3.19.0"
    assert helm.get_values("r", "ns", all_values=True) == {"db": {"password": "pw-1234"}, "host": "database"}
    assert "--all" in runner.calls[-1]["argv"]
    # The secret is hidden from now on; an ordinary value is not, so a release
    # that happens to be named like it ("database") stays readable in the log.
    assert helm.redactor.redact("pw-1234 for release database") == "*** for release database"


def test_kubectl_command_lines() -> None:
    runner = StubRunner(lambda argv: (0, '{"items": []}' if "get" in argv else "", ""))
    kc = Kubectl(runner, "/opt/kubectl", kubeconfig="/k", kube_context="c1", env={"B": "2"})
    kc.get("pods", namespace="ns", selector="a=b")
    kc.get("crd", all_namespaces=True)
    kc.wait("deployment", namespace="ns", timeout="2m")
    kc.delete("secret", "s", namespace="ns", wait=False)
    kc.events("ns", involved_object="pod-1")
    kc.logs("pod-1", "ns", tail=7, container="app")
    argvs = [c["argv"] for c in runner.calls]
    for argv in argvs:
        assert argv[0] == "/opt/kubectl" and argv[-4:] == ["--kubeconfig", "/k", "--context", "c1"]
    assert argvs[0][1:8] == ["get", "pods", "--output", "json", "--namespace", "ns", "--selector"]
    assert "--all-namespaces" in argvs[1]
    assert argvs[2][1:3] == ["wait", "deployment"] and "--all" in argvs[2] and "--timeout=120s" in argvs[2]
    assert "--wait=false" in argvs[3] and "--ignore-not-found" in argvs[3]
    assert "involvedObject.name=pod-1" in argvs[4]
    assert "--tail=7" in argvs[5] and "app" in argvs[5]
    assert all(c["env"] == {"B": "2"} for c in runner.calls)


def test_kubectl_run_replaces_the_program_and_keeps_the_list() -> None:
    runner = StubRunner()
    kc = Kubectl(runner, "/opt/kubectl")
    kc.run(["kubectl", "delete", "crd", "x.example.com; rm -rf /"], label="rel")
    call = runner.calls[-1]
    assert call["argv"] == ["/opt/kubectl", "delete", "crd", "x.example.com; rm -rf /"]
    assert call["label"] == "rel"


def test_failed_helm_test_without_suite_output_names_the_pods() -> None:
    runner = StubRunner(lambda argv: (1, "", "Error: 1 error occurred:\n\t* pod web-test failed\n"))
    helm = Helm(runner, "helm")
    helm._version = "v3.19.0"
    run = helm.test("web", "ns", timeout="30s")
    assert not run.passed
    assert [(t.name, t.phase) for t in run.tests] == [("web-test", "Failed")]
    assert "web-test failed" in run.message


def test_missing_values_file_is_not_a_missing_chart() -> None:
    from firestream_core.tools.helm_errors import classify

    assert classify("Error: open /p/values/x.yaml: no such file or directory") is HelmCommandError


# -- helm_args' own functions: the flags that differ between helm majors ------------------------


def test_list_wait_and_duration_flags_per_major() -> None:
    from firestream_core.tools import helm_args

    assert helm_args.list_args(3) == ["list", "--all-namespaces", "--all", "--max", "0", "--output", "json"]
    assert helm_args.list_args(4) == ["list", "--all-namespaces", "--max", "0", "--output", "json"]
    assert helm_args.wait_flags(True, 3, "watcher") == ["--wait"]
    assert helm_args.wait_flags(True, 4, "watcher") == ["--wait=watcher"]
    assert helm_args.wait_flags(False, 4, "watcher") == []
    assert (helm_args.seconds("5m"), helm_args.seconds(30), helm_args.duration(300)) == (300, 30, "300s")


def test_kube_flags_name_the_tools_context_flag_and_nothing_unset() -> None:
    from firestream_core.tools.helm_args import kube_flags

    assert kube_flags("/k", "prod", context_flag="--kube-context") == ["--kubeconfig", "/k", "--kube-context", "prod"]
    assert kube_flags(None, "prod", context_flag="--context") == ["--context", "prod"]
    assert kube_flags(None, None, context_flag="--context") == []


# -- the first cluster-state call asks the version beside it ---------------------------------------


def _answering(major: int, list_exit: int = 0, list_err: str = "") -> StubRunner:
    """A stub helm of ``major``: helm 4 refuses ``--all`` as the real one does."""

    def respond(argv: list[str]) -> tuple[int, str, str]:
        if argv[1] == "version":
            return 0, f"v{major}.9.0", ""
        if major >= 4 and "--all" in argv:
            return 1, "", "Error: unknown flag: --all"
        if list_exit:
            return list_exit, "", list_err
        return 0, '[{"name": "web", "namespace": "apps", "revision": "2", "status": "deployed"}]', ""

    return StubRunner(respond)


def test_first_list_on_helm3_is_one_list_beside_the_version() -> None:
    runner = _answering(3)
    helm = Helm(runner, "helm")
    assert [(r.name, r.revision) for r in helm.list_releases()] == [("web", 2)]
    ops = sorted(c["argv"][1] for c in runner.calls)
    assert ops == ["list", "version"]  # one list: helm 3's flags were the right ones
    assert "--all" in next(c["argv"] for c in runner.calls if c["argv"][1] == "list")
    helm.list_releases()  # the version is known now: a plain list, no second version
    assert sorted(c["argv"][1] for c in runner.calls) == ["list", "list", "version"]


def test_first_list_on_helm4_lists_again_with_helm4s_flags() -> None:
    runner = _answering(4)
    helm = Helm(runner, "helm")
    assert [r.name for r in helm.list_releases()] == ["web"]
    lists = [c["argv"] for c in runner.calls if c["argv"][1] == "list"]
    assert len(lists) == 2 and "--all" in lists[0] and "--all" not in lists[1]
    assert helm.major == 4 and [c["argv"][1] for c in runner.calls].count("version") == 1


def test_first_list_raises_the_version_error_first() -> None:
    runner = StubRunner(lambda argv: (0, "v2.17.0", "") if argv[1] == "version" else (0, "[]", ""))
    with pytest.raises(HelmCommandError, match="not supported"):
        Helm(runner, "helm").list_releases()


def test_first_list_failure_is_typed_as_the_lists() -> None:
    runner = _answering(3, 1, "Error: Kubernetes cluster unreachable: token tok-123456 refused")
    helm = Helm(runner, "helm", redactor=Redactor(["tok-123456"]))
    with pytest.raises(ClusterUnreachableError) as exc:
        helm.list_releases()
    assert "helm list failed" in str(exc.value) and "tok-123456" not in str(exc.value)


def test_first_list_in_a_lifecycle_asks_the_version_for_that_release() -> None:
    """The version runs on its own thread, in the caller's context: inside a release's
    lifecycle its call (and log line) names that release like the list's."""
    from firestream_core.tools.release_log import current_release, naming_release

    seen: dict[str, str | None] = {}

    def respond(argv: list[str]) -> tuple[int, str, str]:
        seen[argv[1]] = current_release()
        return (0, "v3.9.0", "") if argv[1] == "version" else (0, "[]", "")

    helm = Helm(StubRunner(respond), "helm")
    with naming_release("web"):
        assert helm.list_releases() == []
    assert seen == {"version": "web", "list": "web"}
