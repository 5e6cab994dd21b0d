"""Credentials of a classic (``https://``) chart repository: its host's ``[registries]`` entry.

The repository is the kit's chart repository served behind HTTP basic
authentication (``make_chart_repo(..., auth=...)``), reached with the real
helm 3 and helm 4: ``helm repo add --username USER --password-stdin``, the
password on standard input, never on a command line or in a log line.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from firestream_testing.argv_watch import assert_not_on_command_lines, watch_argv
from firestream_testing.chartrepo import fixture_chart_dirs

from firestream_core.tools.oci import oci_host

from .helpers import load, record_argv, write_config

PASSWORD = "chart-repo-pw-7Hq2"


@pytest.fixture(scope="module")
def private_repo(make_chart_repo):
    """tiny-app 0.2.0, served only to ``deploy`` / ``PASSWORD``."""
    return make_chart_repo([d for d in fixture_chart_dirs() if d.name == "tiny-app"], "private",
                           auth=("deploy", PASSWORD))


def _project(tmp_path, kube, repo, *, credentials: str | None = 'password_env = "FS_TEST_REPO_PW"'):
    registries = "" if credentials is None else (
        f'[registries."{oci_host(repo.url)}"]\nusername = "deploy"\n{credentials}\n')
    return write_config(tmp_path / "p", f"""
[repositories]
private = "{repo.url}"

{registries}
[[deployments.generic]]
name = "web"
chart = "tiny-app"
repository = "private"
version = "0.2.0"
namespace = "{kube.namespace}"
timeout = "60s"
""")


def test_a_private_repository_is_added_with_its_hosts_credentials_on_stdin(
    tmp_path, kube, helm_bin, private_repo, monkeypatch, caplog
):
    monkeypatch.setenv("FS_TEST_REPO_PW", PASSWORD)
    path = _project(tmp_path, kube, private_repo)
    caplog.set_level(logging.DEBUG)
    with record_argv(monkeypatch) as rec, watch_argv(binary=helm_bin) as watcher:
        project = load(path, kube, helm_bin)
        rendered = project.template()
        result = load(path, kube, helm_bin).apply()
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert "kind: ConfigMap" in rendered["web"]  # template reaches the repository the same way
    cm = kube.kubectl().get("configmap", "web-tiny-app", namespace=kube.namespace)
    assert cm["data"]["chartVersion"] == "0.2.0"
    adds = rec.of("add")
    assert adds and all(a[1:9] == ["repo", "add", "private", private_repo.url, "--force-update",
                                   "--username", "deploy", "--password-stdin"] for a in adds), adds
    assert all(rec.stdins[rec.argvs.index(a)] == PASSWORD.encode() for a in adds)
    assert watcher.argvs, "the /proc watcher saw no helm process"
    assert_not_on_command_lines([*rec.argvs, *watcher.argvs], [PASSWORD])
    assert PASSWORD not in caplog.text
    assert load(path, kube, helm_bin).plan().has_changes is False

    # helm keeps the credentials in the run's own repositories.yaml: 0600, in a 0700 folder that
    # goes with the run; the user's helm configuration never holds them
    _, helm, _ = load(path, kube, helm_bin).tools()
    assert helm.repo_add("private", private_repo.url)
    home = helm.repository_home
    assert PASSWORD in Path(home.config).read_text()
    assert stat.S_IMODE(Path(home.config).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(home.path).stat().st_mode) == 0o700
    user_config = Path(kube.env["HELM_CONFIG_HOME"])
    assert not [p for p in user_config.rglob("*") if p.is_file() and PASSWORD in p.read_text(errors="replace")]
    folder = Path(home.path)
    home.close()
    assert not folder.exists()


def test_a_wrong_password_is_one_readable_error_naming_the_repository_and_its_source(
    tmp_path, kube, helm_bin, private_repo, monkeypatch
):
    wrong = "Wr0ng-" + PASSWORD[:5]
    monkeypatch.setenv("FS_TEST_REPO_PW", wrong)
    result = load(_project(tmp_path, kube, private_repo), kube, helm_bin).apply()
    outcome = result.releases["web"]
    assert outcome.result == "failed"
    assert (f"chart repository 'private' ({private_repo.url}) refused the credentials of user 'deploy' "
            "(password from $FS_TEST_REPO_PW)") in outcome.reason
    assert wrong not in outcome.reason


def test_a_repository_that_asks_for_credentials_names_where_to_give_them(tmp_path, kube, helm_bin,
                                                                        private_repo):
    result = load(_project(tmp_path, kube, private_repo, credentials=None), kube, helm_bin).apply()
    reason = result.releases["web"].reason
    host = oci_host(private_repo.url)
    assert f"chart repository 'private' ({private_repo.url}) asks for credentials" in reason
    assert f"none are configured for {host}" in reason


def test_an_unset_password_variable_is_named(tmp_path, kube, helm_bin, private_repo, monkeypatch):
    monkeypatch.delenv("FS_TEST_REPO_PW", raising=False)
    with record_argv(monkeypatch) as rec:
        result = load(_project(tmp_path, kube, private_repo), kube, helm_bin).apply()
    assert "the password variable $FS_TEST_REPO_PW is not set" in result.releases["web"].reason
    assert not rec.of("add")  # nothing asked of helm without the password
