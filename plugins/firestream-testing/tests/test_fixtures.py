"""The test kit's fixtures, exercised with the real helm 3 / helm 4 and the emulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from firestream_testing.chartrepo import ChartRepo
from firestream_testing.kube_fixtures import KubeEnv

# Filled by the tests below, in file order, to compare what consecutive tests saw.
_SEEN_PIDS: list[int] = []
_SEEN_HELM_HOMES: list[str] = []


def test_helm_bin_matches_its_parameter(
    helm_bin: Path, helm_major: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    param = request.node.callspec.params["helm_bin"]
    assert param == f"helm{helm_major}"
    version = subprocess.run(  # noqa: S603
        [str(helm_bin), "version", "--template", "{{.Version}}"],
        capture_output=True, text=True, check=True,
        env={"HELM_CACHE_HOME": str(tmp_path), "PATH": os.defpath},
    ).stdout
    assert version.startswith(f"v{helm_major}.")


def test_helm_tools_and_kubectl_bin(helm_tools: dict[str, Path], kubectl_bin: Path) -> None:
    assert set(helm_tools) >= {"helm", "helm4", "kubectl"}
    assert kubectl_bin == helm_tools["kubectl"]
    assert all(path.is_file() and os.access(path, os.X_OK) for path in helm_tools.values())


def test_kube_env_is_complete_and_isolated(kube: KubeEnv, tmp_path: Path) -> None:
    assert set(kube.env) == {
        "KUBECONFIG", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "PATH", "HOME",
    }
    assert kube.env["KUBECONFIG"] == str(kube.kubeconfig)
    for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "HOME"):
        assert Path(kube.env[key]).is_dir()
        assert Path(kube.env[key]).is_relative_to(tmp_path)
    assert kube.kubeconfig.is_relative_to(tmp_path)
    assert kube.url in kube.kubeconfig.read_text()
    assert kube.url == kube.cluster.url
    assert re.fullmatch(r"t-[0-9a-f]{8}", kube.namespace)


def test_namespace_is_fresh_and_not_created(kube: KubeEnv) -> None:
    done = kube.run([kube.tools["kubectl"], "get", "namespace", kube.namespace], check=False)
    assert done.returncode != 0
    assert "NotFound" in done.stderr or "not found" in done.stderr


def test_kubectl_talks_to_the_emulator(kube: KubeEnv, kubectl_bin: Path) -> None:
    kube.run([kubectl_bin, "create", "namespace", kube.namespace])
    kube.run([kubectl_bin, "-n", kube.namespace, "create", "configmap", "c",
              "--from-literal=k=v"])
    got = json.loads(kube.run([kubectl_bin, "-n", kube.namespace, "get", "configmap", "c",
                               "-o", "json"]).stdout)
    assert got["data"] == {"k": "v"}


def test_install_tiny_app_from_the_repo(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path, kubectl_bin: Path
) -> None:
    kube.run([helm_bin, "repo", "add", chart_repo.name, chart_repo.url])
    kube.run([helm_bin, "install", "app", chart_repo.ref("tiny-app"), "--version", "0.1.0",
              "-n", kube.namespace, "--create-namespace", "--set", "message=hi", "--wait",
              "--timeout", "60s"])
    releases = json.loads(kube.run([helm_bin, "list", "-n", kube.namespace, "-o", "json"]).stdout)
    assert [(r["name"], r["chart"], r["status"]) for r in releases] == [
        ("app", "tiny-app-0.1.0", "deployed")
    ]
    cm = json.loads(kube.run([kubectl_bin, "-n", kube.namespace, "get", "configmap",
                              "app-tiny-app", "-o", "json"]).stdout)
    assert cm["data"]["message"] == "hi"
    assert cm["data"]["chartVersion"] == "0.1.0"
    pods_selector = "app.kubernetes.io/instance=app,app.kubernetes.io/name=tiny-app"
    deploy = json.loads(kube.run([kubectl_bin, "-n", kube.namespace, "get", "deployments",
                                  "-l", pods_selector, "-o", "json"]).stdout)
    assert [d["metadata"]["name"] for d in deploy["items"]] == ["app-tiny-app"]


def test_kube_helm_and_kubectl_are_wired_to_this_env(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path, helm_major: int
) -> None:
    helm = kube.helm(helm_bin)
    assert helm.major == helm_major
    assert kube.helm().major == 3  # default binary: helm 3
    kube.run([helm_bin, "install", "wired", chart_repo.tgz("tiny-app", "0.2.0"),
              "-n", kube.namespace, "--create-namespace", "--set", "message=wired"])
    mine = [r for r in helm.list_releases() if r.namespace == kube.namespace]
    assert [(r.name, r.chart, r.status) for r in mine] == [("wired", "tiny-app-0.2.0", "deployed")]
    cm = kube.kubectl().get("configmap", "wired-tiny-app", namespace=kube.namespace)
    assert cm is not None and cm["data"]["message"] == "wired"


def test_helm_homes_are_fresh_per_test(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path
) -> None:
    """Runs once per helm major: the second run must not see the first one's repository."""
    _SEEN_HELM_HOMES.append(kube.env["HELM_CONFIG_HOME"])
    before = kube.run([helm_bin, "repo", "list", "-o", "json"], check=False)
    assert before.returncode != 0 or json.loads(before.stdout or "[]") == []
    kube.run([helm_bin, "repo", "add", "leak-check", chart_repo.url])
    after = json.loads(kube.run([helm_bin, "repo", "list", "-o", "json"]).stdout)
    assert [r["name"] for r in after] == ["leak-check"]
    assert len(set(_SEEN_HELM_HOMES)) == len(_SEEN_HELM_HOMES)


def test_switches_turned_off_here(kube: KubeEnv) -> None:
    kube.cluster.set_controller(False)
    kube.cluster.set_loadbalancer(False)
    state = kube.cluster.state()
    assert (state["enabled"], state["loadbalancer"]) == (False, False)


def test_switches_are_back_on_in_the_next_test(kube: KubeEnv) -> None:
    state = kube.cluster.state()
    assert (state["enabled"], state["loadbalancer"]) == (True, True)


def test_one_emulator_per_module_a(kube: KubeEnv) -> None:
    _SEEN_PIDS.append(kube.cluster.pid)


def test_one_emulator_per_module_b(kube_cluster: object, kube: KubeEnv) -> None:
    _SEEN_PIDS.append(kube.cluster.pid)
    assert kube.cluster is kube_cluster
    assert len(set(_SEEN_PIDS)) == 1 and kube.cluster.alive


_AUTHOR_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: my-chart\nversion: 1.2.3\n",
    "values.yaml": "greeting: hello\n",
    "templates/cm.yaml": textwrap.dedent(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-my-chart
        data:
          greeting: {{ .Values.greeting | quote }}
        """
    ),
}

_AUTHOR_TEST = textwrap.dedent(
    """\
    import json
    import os
    from pathlib import Path

    CHART = Path(__file__).parent / "charts" / "my-chart"

    def test_deploy(kube, make_chart_repo, helm_bin):
        assert os.getcwd() != {repo!r}
        out = Path(os.environ["PIDS_DIR"]) / (Path(__file__).stem + ".json")
        repo = make_chart_repo([CHART], name="mine")
        assert repo.charts == {{"my-chart": ["1.2.3"]}}
        kube.run([helm_bin, "repo", "add", repo.name, repo.url])
        kube.run([helm_bin, "install", "r", "mine/my-chart", "-n", kube.namespace,
                  "--create-namespace"])
        got = kube.run([kube.tools["kubectl"], "-n", kube.namespace, "get", "configmap",
                        "r-my-chart", "-o", "jsonpath={{.data.greeting}}"]).stdout
        assert got == "hello"
        out.write_text(json.dumps({{"pid": kube.cluster.pid, "port": kube.cluster.port}}))
    """
)


def test_kit_from_another_project_one_emulator_per_module(tmp_path: Path) -> None:
    """A chart author's project elsewhere: two modules, two emulators, both stopped after."""
    project = tmp_path / "author"
    for rel, text in _AUTHOR_CHART.items():
        (project / "tests" / "charts" / "my-chart" / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / "tests" / "charts" / "my-chart" / rel).write_text(text)
    repo_root = str(Path(__file__).resolve().parents[2])
    for module in ("test_one.py", "test_two.py"):
        (project / "tests" / module).write_text(_AUTHOR_TEST.format(repo=repo_root))
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    done = _run_inner_pytest(project, "--helm-major", "3", "tests", PIDS_DIR=str(pids_dir),
                             KUBECONFIG=str(tmp_path / "must-not-be-used"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b2 passed, 2 deselected\b", done.stdout), done.stdout
    seen = [json.loads(p.read_text()) for p in sorted(pids_dir.glob("*.json"))]
    assert len(seen) == 2
    assert seen[0]["pid"] != seen[1]["pid"] and seen[0]["port"] != seen[1]["port"]
    for entry in seen:
        assert not Path(f"/proc/{entry['pid']}").exists() or _is_zombie_or_other(entry["pid"])


def _is_zombie_or_other(pid: int) -> bool:
    """True when ``pid`` is no longer a running emulator (reaped or reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"firestream_testing.cluster" not in cmdline


_PLAIN_AND_HELM_TESTS = textwrap.dedent(
    """\
    def test_plain():
        pass

    def test_needs_helm(helm_bin):
        pass
    """
)


def _run_inner_pytest(project: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(env_extra)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_tools_that_cannot_be_installed_fail_the_tests_not_skip_them(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(_PLAIN_AND_HELM_TESTS)
    unusable = tmp_path / "not-a-folder"
    unusable.write_text("a file where the tools folder should be")
    done = _run_inner_pytest(tmp_path, FIRESTREAM_TOOLS_DIR=str(unusable / "tools"))
    assert done.returncode != 0
    assert re.search(r"\b1 passed, 2 errors\b", done.stdout), done.stdout
    assert "skipped" not in done.stdout
    assert "cannot install helm/kubectl" in done.stdout
    assert "python -m firestream_testing.tools" in done.stdout


def test_tests_using_the_real_binaries_are_marked_helm(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(_PLAIN_AND_HELM_TESTS)
    done = _run_inner_pytest(tmp_path, "-m", "not helm")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b1 passed, 2 deselected\b", done.stdout), done.stdout


_DEAD_EMULATOR_TEST = textwrap.dedent(
    """\
    def test_kill_it(kube_cluster):
        kube_cluster.stop()

    def test_next_one(kube):
        pass
    """
)


def test_a_dead_emulator_fails_the_next_test_with_its_log(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(_DEAD_EMULATOR_TEST)
    done = _run_inner_pytest(tmp_path)
    assert re.search(r"\b1 passed, 1 error\b", done.stdout), done.stdout
    assert "the module's API emulator is unusable" in done.stdout
    assert "apiserver.log" in done.stdout


def test_a_test_run_keeps_firestreams_caches_out_of_the_users_home(tmp_path: Path) -> None:
    """The kit's autouse fixture: a run's ``firestream`` subprocesses write their plugin cache
    into a folder of the run, and nothing into ``~/.cache`` (HOME is a fresh folder here)."""
    project, home, base = tmp_path / "inner", tmp_path / "home", tmp_path / "base"
    project.mkdir()
    home.mkdir()
    (project / "test_inner.py").write_text(textwrap.dedent("""\
        import os, subprocess, sys

        def test_runs_firestream():
            folder = os.environ["FIRESTREAM_CACHE_DIR"]
            done = subprocess.run([sys.executable, "-m", "firestream_core.cli.main", "plugins"],
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            print("CACHE", folder, sorted(os.listdir(folder)))
        """))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_") and k not in ("FIRESTREAM_CACHE_DIR", "XDG_CACHE_HOME",
                                                         "FIRESTREAM_PLUGIN_CACHE")}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--basetemp", str(base)],
        cwd=project, env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = [li for li in done.stdout.splitlines() if li.startswith("CACHE ")]
    folder = line.split()[1]
    assert Path(folder).is_relative_to(base)
    assert "plugins-" in line  # the subprocess did write its plugin cache, there
    assert not (home / ".cache").exists()
    assert os.environ.get("FIRESTREAM_CACHE_DIR") != folder
