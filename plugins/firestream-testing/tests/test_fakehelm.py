"""The recording fake helm: firestream's Helm drives it like the real one."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from firestream_testing.fakehelm import FakeHelm

from firestream_core.errors import (
    CancelledError,
    ChartNotFoundError,
    HelmCommandError,
    ReleaseLockedError,
)
from firestream_core.model import ChartInfo, ChartSetValue
from firestream_core.tools.helm import Helm
from firestream_core.tools.helm_errors import ReleaseNotFoundError
from firestream_core.tools.process import Runner

SECRET = "fake-secret-value-1234"


@pytest.fixture
def chart_dir(tmp_path: Path) -> Path:
    chart = tmp_path / "charts" / "demo"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"9.9\"\n")
    return chart


def info(chart_dir: Path, name: str = "app", **kw) -> ChartInfo:  # noqa: ANN003
    kw.setdefault("namespace", "apps")
    return ChartInfo(name=name, path=chart_dir, **kw)


@pytest.mark.parametrize("major", [3, 4])
def test_version_and_major(fake_helm: FakeHelm, major: int) -> None:
    fake_helm.set_major(major)
    helm = fake_helm.helm()
    assert helm.major == major
    assert helm.major == major
    assert len(fake_helm.calls("version")) == 1  # asked once


@pytest.mark.parametrize("major", [3, 4])
def test_release_lifecycle_through_firestream(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path, major: int) -> None:
    fake_helm.set_major(major)
    helm = fake_helm.helm()
    i = info(chart_dir, values=[ChartSetValue("password", SECRET)])
    assert helm.upgrade_install(i, tmp_path) == 1
    i.values.append(ChartSetValue("replicas", "2"))
    assert helm.upgrade_install(i, tmp_path) == 2
    (listed,) = helm.list_releases()
    assert (listed.name, listed.namespace, listed.revision, listed.status, listed.chart) == (
        "app", "apps", 2, "deployed", "demo-1.2.3")
    assert [h["status"] for h in helm.history("app", "apps")] == ["superseded", "deployed"]
    assert helm.get_values("app", "apps") == {"password": SECRET, "replicas": 2}
    helm.rollback("app", "apps")
    assert fake_helm.release("app")["values"] == {"password": SECRET}
    assert fake_helm.release("app")["history"] == ["superseded", "superseded", "deployed"]
    assert "kind: ConfigMap" in helm.get_manifest("app", "apps")
    assert helm.uninstall("app", "apps") is True
    assert helm.list_releases() == []
    assert helm.uninstall("app", "apps") is False
    with pytest.raises(ReleaseNotFoundError):
        helm.status("app", "apps")
    # the secret went through a file, never on a command line
    assert all(SECRET not in " ".join(argv) for argv in fake_helm.calls())


@pytest.mark.parametrize("major", [3, 4])
def test_install_reuses_an_uninstalled_name_only_with_replace(fake_helm: FakeHelm, chart_dir: Path,
                                                              tmp_path: Path, major: int) -> None:
    fake_helm.set_major(major)
    helm = fake_helm.helm()
    i = info(chart_dir)
    assert helm.upgrade_install(i, tmp_path) == 1
    assert helm.upgrade_install(i, tmp_path) == 2
    with pytest.raises(HelmCommandError, match="cannot re-use a name that is still in use"):
        helm.upgrade_install(i, tmp_path, replace=True)  # deployed: install refuses it
    done = helm.runner.run(helm.argv(["uninstall", "app", "--namespace", "apps", "--keep-history"]),
                           env=helm.program_env())
    assert done.ok, done.stderr
    assert [r.status for r in helm.list_releases()] == ["uninstalled"]
    fake_helm.reset_calls()
    assert helm.upgrade_install(i, tmp_path, replace=True) == 3  # the history goes on, as helm's
    assert fake_helm.calls()[0][:2] == ["install", "app"] and "--replace" in fake_helm.calls()[0]
    assert fake_helm.release("app")["history"] == ["superseded", "superseded", "deployed"]


def test_flags_per_major(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    i = info(chart_dir, force_upgrade=True, wait=True, atomic=True)
    fake_helm.helm().upgrade_install(i, tmp_path)
    (h3,) = fake_helm.calls("upgrade")
    assert {"--atomic", "--wait", "--force", "--wait-for-jobs", "--cleanup-on-fail"} <= set(h3)
    fake_helm.set_major(4)
    fake_helm.reset_calls()
    fake_helm.helm().upgrade_install(i, tmp_path)
    (h4,) = fake_helm.calls("upgrade")
    assert {"--rollback-on-failure", "--wait=watcher", "--force-replace", "--server-side=false"} <= set(h4)
    assert "--atomic" not in h4 and "--wait" not in h4 and "--force" not in h4
    fake_helm.helm(wait_strategy="legacy").upgrade_install(i, tmp_path)
    assert "--wait=legacy" in fake_helm.calls("upgrade")[-1]


def test_list_all_flag_per_major(fake_helm: FakeHelm) -> None:
    fake_helm.seed_release("stuck", "apps", status="pending-install")
    assert [r.status for r in fake_helm.helm().list_releases()] == ["pending-install"]
    assert "--all" in fake_helm.calls("list")[-1]
    fake_helm.set_major(4)
    assert [r.status for r in fake_helm.helm().list_releases()] == ["pending-install"]
    assert "--all" not in fake_helm.calls("list")[-1]


def test_fake_rejects_what_the_real_majors_reject(fake_helm: FakeHelm) -> None:
    runner = Runner()
    fake_helm.set_major(4)
    done = runner.run([fake_helm.binary, "list", "-A", "-a"], env=fake_helm.env)
    assert done.returncode == 1 and "unknown shorthand flag" in done.stderr
    fake_helm.set_major(3)
    done = runner.run([fake_helm.binary, "upgrade", "--install", "x", "./c", "--wait=watcher"], env=fake_helm.env)
    assert done.returncode == 1 and "--wait" in done.stderr
    done = runner.run([fake_helm.binary, "diff", "upgrade"], env=fake_helm.env)
    assert done.returncode == 1 and 'unknown command "diff"' in done.stderr


def test_every_chartinfo_option_reaches_the_command_line(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "v1.yaml").write_text("a: 1\n")
    i = ChartInfo(
        name="opt", chart="demo", repository="myrepo", version="1.2.3", namespace="ns1",
        create_namespace=True, atomic=False, force_upgrade=False, timeout="5m", wait=False,
        wait_for_jobs=True, dry_run=True, skip_crds=True, hooks_disabled=True, history_max=7,
        values_files=[Path("v1.yaml")],
    )
    helm = fake_helm.helm()
    helm.repo_add("myrepo", "https://charts.example.org")
    helm.upgrade_install(i, tmp_path)
    (argv,) = fake_helm.calls("upgrade")
    assert argv[:3] == ["upgrade", "opt", "myrepo/demo"] and "--install" in argv
    pairs = dict(zip(argv, argv[1:], strict=False))
    assert pairs["--version"] == "1.2.3"
    assert pairs["--namespace"] == "ns1"
    assert pairs["--timeout"] == "300s"
    assert pairs["--history-max"] == "7"
    assert {"--create-namespace", "--dry-run=client", "--skip-crds", "--no-hooks"} <= set(argv)
    assert "--atomic" not in argv and "--wait" not in argv and "--wait-for-jobs" not in argv
    values = [v for f, v in zip(argv, argv[1:], strict=False) if f == "--values"]
    assert values[0] == str(tmp_path / "v1.yaml")
    assert len(values) == 2  # config file by path, then the merged temp file
    assert not Path(values[1]).exists()
    assert fake_helm.releases() == []  # dry run


def test_repo_add_once_per_repository_even_from_threads(fake_helm: FakeHelm) -> None:
    helm = fake_helm.helm()
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(helm.repo_add("r1", "http://x/r1"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    assert helm.repo_add("r2", "http://x/r2") is True
    assert len(fake_helm.calls("repo add")) == 2
    # into the run's own repositories: the user's stay as they were
    assert fake_helm.repos(helm.repository_home.config) == {"r1": "http://x/r1", "r2": "http://x/r2"}
    assert fake_helm.repos() == {}
    assert helm.repo_add("oci", "oci://registry/charts") is False
    helm.repo_update(["r1"])
    assert fake_helm.calls("repo update")[-1][-1] == "r1"


def test_repo_password_goes_on_stdin(fake_helm: FakeHelm) -> None:
    fake_helm.helm().repo_add("private", "https://x/private", username="u", password=SECRET)
    (argv,) = fake_helm.calls("repo add")
    assert "--password-stdin" in argv and SECRET not in " ".join(argv)
    fake_helm.helm().registry_login("registry.local:5000", "u", SECRET, insecure=True)
    (argv,) = fake_helm.calls("registry login")
    assert "--password-stdin" in argv and SECRET not in " ".join(argv)
    assert SECRET not in (fake_helm.state_dir / "state.json").read_text()


def test_unknown_repository_is_chart_not_found(fake_helm: FakeHelm, tmp_path: Path) -> None:
    with pytest.raises(ChartNotFoundError):
        fake_helm.helm().upgrade_install(ChartInfo(name="x", chart="nope", repository="norepo"), tmp_path)


def test_pending_release_is_locked(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    fake_helm.seed_release("app", "apps", status="pending-upgrade", revision=2)
    with pytest.raises(ReleaseLockedError) as exc:
        fake_helm.helm().upgrade_install(info(chart_dir), tmp_path)
    assert "'app'" in str(exc.value)


def test_injected_failure_is_redacted_and_atomic_rolls_back(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    helm = fake_helm.helm()
    i = info(chart_dir, values=[ChartSetValue("password", SECRET)])
    assert helm.upgrade_install(i, tmp_path) == 1
    fake_helm.fail_on("app", "upgrade", f"admission webhook denied value {SECRET}")
    with pytest.raises(HelmCommandError) as exc:
        helm.upgrade_install(i, tmp_path)
    assert SECRET not in str(exc.value) and SECRET not in exc.value.stderr
    assert "***" in str(exc.value)
    assert "rolled the release back" in str(exc.value)
    assert fake_helm.release("app")["history"] == ["superseded", "failed", "deployed"]


def test_failure_times_limit(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    fake_helm.fail_on("app", "upgrade", "flaky", times=1)
    helm = fake_helm.helm()
    i = info(chart_dir, atomic=False)
    with pytest.raises(HelmCommandError):
        helm.upgrade_install(i, tmp_path)
    assert helm.upgrade_install(i, tmp_path) == 2
    assert fake_helm.release("app")["history"] == ["failed", "deployed"]


def test_call_log_records_start_and_end(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    fake_helm.set_delay("slowish", 0.2)
    helm = fake_helm.helm()
    helm.upgrade_install(info(chart_dir, name="first"), tmp_path)
    helm.upgrade_install(info(chart_dir, name="slowish"), tmp_path)
    (first,) = fake_helm.call_log("upgrade", release="first")
    (slow,) = fake_helm.call_log("upgrade", release="slowish")
    assert first.end <= slow.start  # sequential calls, in order
    assert slow.end - slow.start >= 0.2  # the delay lies inside the recorded span
    assert (slow.namespace, slow.exit, slow.argv[0]) == ("apps", 0, "upgrade")


def wait_for_status(fake: FakeHelm, name: str, status: str) -> None:
    for _ in range(4000):
        r = fake.release(name)
        if r is not None and r["status"] == status:
            return
        threading.Event().wait(0.005)
    pytest.fail(f"{name} never reached {status}")


def test_a_delayed_call_does_not_hold_up_others(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    """The fake never holds its lock while a delay runs: parallel calls really overlap."""
    fake_helm.set_delay("slow", 60)
    helm = fake_helm.helm()
    worker = threading.Thread(target=lambda: pytest.raises(CancelledError, helm.upgrade_install,
                                                           info(chart_dir, name="slow"), tmp_path))
    worker.start()
    wait_for_status(fake_helm, "slow", "pending-install")
    assert helm.upgrade_install(info(chart_dir, name="fast"), tmp_path) == 1  # while slow still runs
    assert fake_helm.release("slow")["status"] == "pending-install"
    assert helm.runner.terminate_all(grace=5) == ["slow"]
    worker.join()


def test_a_delayed_upgrade_is_pending_while_it_runs_and_can_be_cancelled(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    fake_helm.set_delay("app", 30)
    helm = fake_helm.helm()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            helm.upgrade_install(info(chart_dir), tmp_path)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    wait_for_status(fake_helm, "app", "pending-install")
    assert helm.runner.terminate_all(grace=5) == ["app"]
    t.join()
    assert isinstance(errors[0], CancelledError) and errors[0].releases == ["app"]


def test_template_test_and_pull(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    helm = fake_helm.helm()
    text = helm.template(info(chart_dir, values=[ChartSetValue("a.b", "1")]), tmp_path)
    assert 'valueKeys: "a.b"' in text
    helm.upgrade_install(info(chart_dir), tmp_path)
    run = helm.test("app", "apps")
    assert run.passed and [t.name for t in run.tests] == ["app-test"]
    fake_helm.fail_on("app", "test", "exit code 1")
    run = helm.test("app", "apps")
    assert not run.passed and run.tests[0].phase == "Failed"
    helm.repo_add("r", "http://x/r")
    assert helm.pull("r/demo", "2.0.0", tmp_path / "dl") == tmp_path / "dl" / "demo-2.0.0.tgz"
    helm.dependency_build(chart_dir)
    assert fake_helm.calls("dependency")[-1] == ["dependency", "build", str(chart_dir)]


def test_fake_accepts_helmfile_style_arguments(fake_helm: FakeHelm, chart_dir: Path) -> None:
    """helmfile passes flags firestream never uses; the fake ignores what it does not know."""
    runner = Runner()
    argv = [fake_helm.binary, "upgrade", "--install", "rel", str(chart_dir), "--version", "1.2.3",
            "--wait", "--timeout", "300s", "--atomic", "--create-namespace", "--namespace", "hf",
            "--reset-values", "--history-max", "10", "--kube-context", "ctx", "--description", "x",
            "--some-future-flag"]
    done = runner.run(argv, env=fake_helm.env)
    assert done.ok, done.stderr
    assert fake_helm.release("rel", "hf")["status"] == "deployed"
    done = runner.run([fake_helm.binary, "version", "--short"], env=fake_helm.env)
    assert done.stdout.startswith("v3.19.0")
    out = runner.run([fake_helm.binary, "list", "--all-namespaces", "--output", "json"], env=fake_helm.env)
    assert json.loads(out.stdout)[0]["name"] == "rel"


def test_yaml_values_files_are_read(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "v.yaml").write_text("nested:\n  key: from-yaml\n")
    fake_helm.helm().upgrade_install(info(chart_dir, values_files=[Path("v.yaml")]), tmp_path)
    assert fake_helm.release("app")["values"] == {"nested": {"key": "from-yaml"}}


def test_fake_without_state_folder_says_so(tmp_path: Path) -> None:
    fake = FakeHelm(tmp_path / "f")
    done = Runner().run([fake.binary, "version"], env={"FAKE_HELM_STATE": ""})
    assert done.returncode == 1 and "FAKE_HELM_STATE" in done.stderr


def test_helm_class_against_fake_binary_path(fake_helm: FakeHelm) -> None:
    helm = Helm(binary=fake_helm.binary, env=fake_helm.env)
    assert helm.list_releases() == []


@pytest.mark.helm
def test_helmfile_drives_the_fake(fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    """helmfile 0.166 runs sync / template / destroy through the fake (the benchmark's setup)."""
    from firestream_testing.tools import ToolsError, ensure_tools

    try:
        helmfile = ensure_tools(with_helmfile=True)["helmfile"]
    except ToolsError as exc:
        pytest.fail(f"cannot install helmfile: {exc}")
    (tmp_path / "helmfile.yaml").write_text(
        "releases:\n"
        f"- {{name: base, namespace: hf, chart: {chart_dir}}}\n"
        f"- {{name: top, namespace: hf, chart: {chart_dir}, needs: [hf/base], values: [{{x: 1}}]}}\n"
    )
    fake_helm.set_delay("base", 0.2)
    runner = Runner()
    base_argv = [helmfile, "--helm-binary", fake_helm.binary, "--file", "helmfile.yaml"]
    done = runner.run([*base_argv, "sync", "--skip-deps"], env=fake_helm.env, cwd=tmp_path)
    assert done.ok, done.stderr
    assert {r["name"]: r["status"] for r in fake_helm.releases()} == {"base": "deployed", "top": "deployed"}
    assert fake_helm.release("top")["values"] == {"x": 1}
    (base,) = fake_helm.call_log("upgrade", release="base")
    (top,) = fake_helm.call_log("upgrade", release="top")
    assert top.start >= base.end  # helmfile honoured `needs`, and the log shows it
    assert all(c.exit == 0 for c in fake_helm.call_log())
    done = runner.run([*base_argv, "destroy", "--skip-deps"], env=fake_helm.env, cwd=tmp_path)
    assert done.ok, done.stderr
    assert fake_helm.releases() == []


def test_docs_testing_md_documents_the_fake_helm_as_it_is() -> None:
    """docs/testing.md's fake_helm section: every public method and property (and ``binary``), no other."""
    import inspect
    import re

    text = (Path(__file__).resolve().parents[3] / "docs" / "testing.md").read_text()
    section = text[text.index("### The recording fake helm"):text.index("## Running against both helm majors")]
    first_cells = [line.split("|")[1] for line in section.splitlines()
                   if line.startswith("| `") and line.count("|") >= 3]
    documented = {name for cell in first_cells for name in re.findall(r"`([a-z_]+)", cell)}
    public = {n for n, _ in inspect.getmembers(FakeHelm) if not n.startswith("_")} | {"binary"}
    assert documented == public


def test_a_chart_that_does_not_render_fails_every_rendering_and_records_nothing(
        fake_helm: FakeHelm, chart_dir: Path, tmp_path: Path) -> None:
    from firestream_core.errors import RenderError
    from firestream_core.tools.helm_errors import chart_render_failure

    helm = fake_helm.helm()
    fake_helm.fail_render("app")
    i = info(chart_dir)
    for call in (lambda: helm.render_release(i, tmp_path), lambda: helm.upgrade_install(i, tmp_path),
                 lambda: helm.template(i, tmp_path)):
        with pytest.raises(RenderError) as exc:
            call()
        assert chart_render_failure(exc.value.stderr) == (
            "execution error at (demo/templates/secret.yaml:7:15): A valid .Values.auth.password entry is required!")
    assert fake_helm.releases() == []
    assert helm.upgrade_install(info(chart_dir, name="other"), tmp_path) == 1  # only that release's chart
    fake_helm.clear_failures()
    assert helm.upgrade_install(i, tmp_path) == 1
