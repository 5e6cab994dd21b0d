"""The local chart repository and the fixture charts, with the real helm 3 and helm 4."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from firestream_testing.chartrepo import (
    ChartRepo,
    ChartRepoError,
    build_chart_repo,
    fixture_chart_dirs,
)
from firestream_testing.kube_fixtures import KubeEnv

EXPECTED = {
    "broken": ["0.1.0"],
    "tiny-app": ["0.1.0", "0.2.0"],
    "with-crds": ["0.1.0"],
    "with-hooks": ["0.1.0"],
}


def _add_repo(kube: KubeEnv, helm_bin: Path, repo: ChartRepo) -> None:
    kube.run([helm_bin, "repo", "add", repo.name, repo.url])


def test_fixture_charts_are_packaged_and_served(chart_repo: ChartRepo) -> None:
    assert chart_repo.name == "fixtures"
    assert chart_repo.charts == EXPECTED
    assert chart_repo.url.startswith("http://127.0.0.1:")
    for name, versions in EXPECTED.items():
        assert (chart_repo.chart_dir(name) / "Chart.yaml").is_file()
        for version in versions:
            assert chart_repo.tgz(name, version).name == f"{name}-{version}.tgz"
    with urllib.request.urlopen(f"{chart_repo.url}/index.yaml", timeout=10) as response:  # noqa: S310
        index = yaml.safe_load(response.read())
    assert sorted(index["entries"]) == sorted(EXPECTED)


def test_unknown_chart_or_version_is_a_key_error(chart_repo: ChartRepo) -> None:
    with pytest.raises(KeyError, match="nope"):
        chart_repo.chart_dir("nope")
    with pytest.raises(KeyError, match="tiny-app 9.9.9"):
        chart_repo.tgz("tiny-app", "9.9.9")


def test_search_finds_every_chart_and_both_tiny_app_versions(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path
) -> None:
    _add_repo(kube, helm_bin, chart_repo)
    found = json.loads(
        kube.run([helm_bin, "search", "repo", "fixtures/", "--versions", "-o", "json"]).stdout
    )
    by_chart: dict[str, list[str]] = {}
    for entry in found:
        by_chart.setdefault(entry["name"], []).append(entry["version"])
    assert {name: sorted(v) for name, v in by_chart.items()} == {
        f"fixtures/{name}": versions for name, versions in EXPECTED.items()
    }


def test_tiny_app_upgrades_from_0_1_0_to_0_2_0(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path, kubectl_bin: Path
) -> None:
    _add_repo(kube, helm_bin, chart_repo)
    common = ["-n", kube.namespace, "--create-namespace"]
    kube.run([helm_bin, "upgrade", "--install", "app", "fixtures/tiny-app", "--version", "0.1.0",
              *common])
    kube.run([helm_bin, "upgrade", "--install", "app", "fixtures/tiny-app", "--version", "0.2.0",
              "--set", "replicaCount=2", *common])
    history = json.loads(kube.run([helm_bin, "history", "app", "-n", kube.namespace,
                                   "-o", "json"]).stdout)
    assert [(h["revision"], h["chart"]) for h in history] == [
        (1, "tiny-app-0.1.0"), (2, "tiny-app-0.2.0")
    ]
    deploy = json.loads(kube.run([kubectl_bin, "-n", kube.namespace, "get", "deployment",
                                  "app-tiny-app", "-o", "json"]).stdout)
    assert deploy["spec"]["replicas"] == 2


def test_broken_fails_to_render(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path, helm_major: int
) -> None:
    _add_repo(kube, helm_bin, chart_repo)
    template = kube.run([helm_bin, "template", "b", "fixtures/broken"], check=False)
    assert template.returncode != 0
    assert "broken: .Values.missing is required" in template.stderr
    install = kube.run([helm_bin, "install", "b", "fixtures/broken", "-n", kube.namespace,
                        "--create-namespace"], check=False)
    assert install.returncode != 0
    assert "missing is required" in install.stderr
    every_status = ["--all"] if helm_major == 3 else []  # helm 4 lists all by default
    listed = json.loads(kube.run([helm_bin, "list", *every_status, "-n", kube.namespace,
                                  "-o", "json"]).stdout)
    assert listed == []


def test_with_crds_installs_its_crd_and_object(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path, kubectl_bin: Path
) -> None:
    # The CRD is cluster-scoped and shared by the module's tests: helm skips it if present.
    kube.run([helm_bin, "install", "w", chart_repo.tgz("with-crds", "0.1.0"),
              "-n", kube.namespace, "--create-namespace", "--set", "size=5"])
    widget = json.loads(kube.run([kubectl_bin, "-n", kube.namespace, "get",
                                  "widgets.fixtures.firestream.dev", "w", "-o", "json"]).stdout)
    assert widget["spec"] == {"size": 5}


def test_with_hooks_runs_its_hooks_and_its_test_pod(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path, kubectl_bin: Path
) -> None:
    tgz = chart_repo.tgz("with-hooks", "0.1.0")
    ns = ["-n", kube.namespace]
    kube.run([helm_bin, "install", "h", tgz, *ns, "--create-namespace", "--wait",
              "--timeout", "60s"])
    kube.run([helm_bin, "upgrade", "h", tgz, *ns, "--set", "message=again", "--wait",
              "--timeout", "60s"])
    jobs = json.loads(kube.run([kubectl_bin, *ns, "get", "jobs", "-o", "json"]).stdout)
    assert sorted(j["metadata"]["name"] for j in jobs["items"]) == [
        "h-pre-install", "h-pre-upgrade"
    ]
    tested = kube.run([helm_bin, "test", "h", *ns, "--timeout", "60s"])
    assert "h-test" in tested.stdout
    pod = json.loads(kube.run([kubectl_bin, *ns, "get", "pod", "h-test", "-o", "json"]).stdout)
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["status"]["phase"] == "Succeeded"


def test_make_chart_repo_serves_an_authors_chart(
    make_chart_repo: Callable[..., ChartRepo], kube: KubeEnv, tmp_path: Path
) -> None:
    chart = tmp_path / "mine"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: mine\nversion: 0.3.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ .Release.Name }}'}\n"
    )
    repo = make_chart_repo([chart], versions={"mine": ["0.3.0", "0.4.0-rc.1"]})
    assert repo.name == "extra"
    assert repo.charts == {"mine": ["0.3.0", "0.4.0-rc.1"]}
    assert repo.chart_dir("mine") == chart.resolve()
    helm = kube.tools["helm"]
    kube.run([helm, "repo", "add", repo.name, repo.url])
    kube.run([helm, "install", "m", "extra/mine", "--devel", "-n", kube.namespace,
              "--create-namespace"])
    listed = json.loads(kube.run([helm, "list", "-n", kube.namespace, "-o", "json"]).stdout)
    assert [r["chart"] for r in listed] == ["mine-0.4.0-rc.1"]


def test_a_repository_served_with_auth_answers_only_with_those_credentials(
    make_chart_repo: Callable[..., ChartRepo]
) -> None:
    import base64
    import urllib.error

    repo = make_chart_repo([d for d in fixture_chart_dirs() if d.name == "tiny-app"], "locked",
                           auth=("deploy", "pw-1"))

    def get(user: str | None, password: str = "") -> int:
        request = urllib.request.Request(f"{repo.url}/index.yaml")
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                return int(response.status)
        except urllib.error.HTTPError as exc:
            assert exc.headers.get("WWW-Authenticate") == 'Basic realm="charts"'
            return int(exc.code)

    assert (get(None), get("deploy", "nope"), get("other", "pw-1"), get("deploy", "pw-1")) == (401, 401, 401, 200)


def test_two_charts_with_one_name_are_refused(
    helm_tools: dict[str, Path], tmp_path: Path
) -> None:
    dirs = fixture_chart_dirs()
    tiny = next(d for d in dirs if d.name == "tiny-app")
    with pytest.raises(ChartRepoError, match="two charts named 'tiny-app'"):
        build_chart_repo([tiny, tiny], tmp_path / "repo", helm=helm_tools["helm"], serve=False)


def test_a_chart_helm_cannot_package_names_helm_stderr(
    helm_tools: dict[str, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Chart.yaml").write_text("apiVersion: v2\nname: bad\nversion: not-semver\n")
    with pytest.raises(ChartRepoError, match="helm.* package .*failed"):
        build_chart_repo([bad], tmp_path / "repo", helm=helm_tools["helm"], serve=False)


# --set-string key escaping the dots of the emulator's "play broken" annotation.
_NOT_READY = r"emulator\.firestream\.dev/ready=false"


def test_tiny_app_pods_can_play_a_broken_workload(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path, kubectl_bin: Path
) -> None:
    kube.run([helm_bin, "install", "sick", chart_repo.tgz("tiny-app", "0.2.0"),
              "-n", kube.namespace, "--create-namespace",
              "--set-string", f"podAnnotations.{_NOT_READY}"])
    deploy = json.loads(kube.run([kubectl_bin, "-n", kube.namespace, "get", "deployment",
                                  "sick-tiny-app", "-o", "json"]).stdout)
    annotations = deploy["spec"]["template"]["metadata"]["annotations"]
    assert annotations["emulator.firestream.dev/ready"] == "false"
    assert not deploy.get("status", {}).get("readyReplicas")


def test_with_hooks_failing_hook_fails_the_install(
    kube: KubeEnv, chart_repo: ChartRepo, helm_bin: Path
) -> None:
    done = kube.run([helm_bin, "install", "hf", chart_repo.tgz("with-hooks", "0.1.0"),
                     "-n", kube.namespace, "--create-namespace", "--timeout", "60s",
                     "--set-string",
                     f"hookPodAnnotations.{_NOT_READY}"],
                    check=False)
    assert done.returncode != 0
    assert "pre-install" in done.stderr
