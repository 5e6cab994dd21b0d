"""firestream never writes the operator's helm repositories, nor finds a chart through them
(``tools/helm_repos.py``), with the real helm 3 and helm 4, through the ``firestream`` command.

One name, two URLs: two chart repositories of the test kit serve a chart ``app`` under one
repository name, ``shared``; each renders a ConfigMap saying which repository it came from
(``a`` or ``b``). The operator's own helm has ``shared`` pointing at ``b`` (a mirror of theirs);
project one says ``shared`` is ``a``, project two that it is ``b``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write_config

pytestmark = pytest.mark.helm

FIRESTREAM = str(Path(sys.executable).with_name("firestream"))


@pytest.fixture(scope="module")
def two_repos(make_chart_repo, tmp_path_factory):  # noqa: ANN001, ANN201
    root = tmp_path_factory.mktemp("one-name-two-urls")
    repos = {}
    for origin in ("a", "b"):
        chart = root / origin / "app"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 0.1.0\n")
        (chart / "templates" / "origin.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-origin\n"
            f"data:\n  origin: {origin}\n")
        repos[origin] = make_chart_repo([chart], f"origin-{origin}")
    return repos


def _project(folder: Path, release: str, url: str, namespace: str) -> Path:
    # no version: the plan resolves the latest one with helm search repo, in the run's repositories
    return write_config(folder, f"""
        [repositories]
        shared = "{url}"

        [[deployments.generic]]
        name = "{release}"
        chart = "shared/app"
        namespace = "{namespace}"
        timeout = "60s"
    """)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_users_repositories_are_never_written_nor_used(tmp_path, kube, helm_bin, two_repos) -> None:  # noqa: ANN001
    a, b = two_repos["a"], two_repos["b"]
    kube.run([helm_bin, "repo", "add", "shared", b.url])  # the operator's own `shared`: their mirror
    user_config = Path(kube.env["HELM_CONFIG_HOME"]) / "repositories.yaml"
    user_cache = Path(kube.env["HELM_CACHE_HOME"]) / "repository"  # (helm 4's content/ is by digest)
    config_before, cache_before = user_config.read_bytes(), _files(user_cache)
    assert b.url.encode() in config_before and cache_before

    fs_cache = tmp_path / "fs-cache"
    env = {**kube.env, "FIRESTREAM_CACHE_DIR": str(fs_cache)}

    def firestream(project: Path, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(  # noqa: S603 - fixed argv
            [FIRESTREAM, "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig),
             "--kubectl-binary", str(kube.tools["kubectl"]), "-f", str(project), *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def done(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
        out, err = proc.communicate(timeout=300)
        return proc.returncode, out, err

    one = _project(tmp_path / "one", "one", a.url, kube.namespace)
    two = _project(tmp_path / "two", "two", b.url, kube.namespace)

    code, out, err = done(firestream(one, "plan", "--detailed-exitcode"))
    assert code == 2 and "one" in out and "create" in out, err
    code, out, err = done(firestream(one, "template"))
    assert code == 0 and "origin: a" in out and "origin: b" not in out, err  # not the operator's mirror

    # two projects at once, one repository name, two URLs: each installs its own chart
    first, second = firestream(one, "apply", "--yes"), firestream(two, "apply", "--yes")
    for code, out, err in (done(first), done(second)):
        assert code == 0, out + err
    kubectl = kube.kubectl(binary=kube.tools["kubectl"])
    assert kubectl.get("configmap", "one-origin", namespace=kube.namespace)["data"]["origin"] == "a"
    assert kubectl.get("configmap", "two-origin", namespace=kube.namespace)["data"]["origin"] == "b"

    # diff renders what apply would install now, plan compares: nothing changed, from a again
    code, out, err = done(firestream(one, "diff", "--detailed-exitcode"))
    assert code == 0, out + err
    code, out, err = done(firestream(one, "plan", "--detailed-exitcode"))
    assert code == 0, out + err

    assert user_config.read_bytes() == config_before  # byte for byte
    assert _files(user_cache) == cache_before  # no index, no chart archive added to the user's cache
    # every run's own folder went with its run
    assert os.listdir(fs_cache / "helm-repositories") == []


def test_a_chart_whose_repository_only_the_users_helm_knows_is_refused_before_any_call(
    tmp_path, kube, two_repos
) -> None:  # noqa: ANN001
    """firestream never reads the user's repositories to find a chart: a ``chart = "shared/app"``
    without a URL in the project is a config error, not an install from the user's mirror
    (refused before helm runs: one helm major is enough)."""
    kube.run([kube.tools["helm"], "repo", "add", "shared", two_repos["b"].url])
    path = write_config(tmp_path / "p", f"""
        [[deployments.generic]]
        name = "solo"
        chart = "shared/app"
        namespace = "{kube.namespace}"
    """)
    done = subprocess.run(  # noqa: S603 - fixed argv
        [FIRESTREAM, "--helm-binary", str(tmp_path / "no-helm-may-run"), "-f", str(path), "plan"],
        env={**kube.env, "FIRESTREAM_CACHE_DIR": str(tmp_path / "fs-cache")},
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == (
        f"error: {path} is invalid:\n"
        "  deployments.generic[0].chart: the repository 'shared' of chart 'shared/app' has no known URL; "
        'add it to [repositories] (shared = "https://...")\n')
