"""firestream's own helm repositories (``tools/helm_repos.py``): one folder per ``Helm``, never the user's.

The real helm 3 and 4 are in ``tests/project/test_own_repositories.py``; here the folder's
life (where, its mode, removed with its ``Helm``, a killed run's pruned) and which calls
are given it, with a runner that records the calls.
"""

from __future__ import annotations

import copy
import gc
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from firestream_core.tools.cache_folder import cache_dir
from firestream_core.tools.helm import Helm
from firestream_core.tools.helm_repos import (
    STALE_SECONDS,
    RepositoryHome,
    prune_left_behind,
    users_registry_config,
)

from .test_helm_args import StubRunner


def recording_helm(tmp_path: Path, **kw) -> tuple[Helm, StubRunner]:  # noqa: ANN003
    def respond(argv: list[str]) -> tuple[int, str, str]:
        if argv[1] == "version":
            return 0, "v3.19.0", ""
        if argv[1] == "upgrade":
            return 0, '{"version": 1}', ""
        if argv[1] == "pull":  # the archive helm would write
            (Path(argv[argv.index("--destination") + 1]) / "postgresql-13.2.0.tgz").write_bytes(b"")
        return 0, "[]", ""

    runner = StubRunner(respond)
    home = RepositoryHome(tmp_path / "cache" / "helm-repositories")
    return Helm(runner, "/opt/helm", env={"HELM_CONFIG_HOME": "/user/config"}, repository_home=home, **kw), runner


def test_the_folder_is_private_under_the_cache_folder_and_goes_with_its_owner(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path / "fs-cache"))
    home = RepositoryHome()
    folder = Path(home.path)
    assert folder.parent == tmp_path / "fs-cache" / "helm-repositories" == Path(cache_dir(os.environ),
                                                                                "helm-repositories")
    assert Path(RepositoryHome(environ={"XDG_CACHE_HOME": str(tmp_path / "xdg")}).path).parent == (
        tmp_path / "xdg" / "firestream" / "helm-repositories")
    assert folder.name.startswith(f"{os.getpid()}@")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # credentials helm writes stay the user's
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert home.env() == {"HELM_REPOSITORY_CONFIG": str(folder / "repositories.yaml"),
                          "HELM_REPOSITORY_CACHE": str(folder / "cache"),
                          "HELM_REGISTRY_CONFIG": str(folder / "registry.json")}
    assert copy.deepcopy(home) is home  # a copy would remove the folder under the original

    Path(home.config).write_text("apiVersion: ''\n")
    os.chmod(home.config, 0o644)
    home.keep_private()
    assert stat.S_IMODE(os.stat(home.config).st_mode) == 0o600

    other = RepositoryHome()
    assert other.path != home.path  # two runs never share one

    home.close()
    assert not folder.exists()
    other_folder = Path(other.path)
    del other
    gc.collect()
    assert not other_folder.exists()  # removed with its owner


def test_threads_starting_together_get_one_folder(tmp_path) -> None:
    """helm's version and its list start at once (``Helm.list_releases``): one folder for both."""
    import threading

    home = RepositoryHome(tmp_path)
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(home.path)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and len(os.listdir(tmp_path)) == 1


def test_a_cache_folder_that_cannot_be_made_falls_back_to_the_temporary_folder(tmp_path, monkeypatch) -> None:
    """A read-only or broken ``$FIRESTREAM_CACHE_DIR`` must not stop helm: the run's folder goes
    to the temporary folder, private and removed alike."""
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR read again
    home = RepositoryHome(tmp_path / "a-file" / "helm-repositories")
    folder = Path(home.path)
    assert folder.parent == tmp_path / "tmp" and folder.name.startswith("firestream-helm-repositories-")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    home.close()
    assert not folder.exists()


def test_the_folder_is_removed_when_the_process_exits(tmp_path) -> None:
    code = ("import sys; from firestream_core.tools.helm_repos import RepositoryHome; "
            "home = RepositoryHome(sys.argv[1]); print(home.path)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,  # noqa: S603
                          check=True, timeout=60)
    made = Path(done.stdout.strip())
    assert made.parent == tmp_path and not made.exists()


def test_a_killed_runs_folder_is_pruned_and_a_live_ones_kept(tmp_path) -> None:
    host = os.uname().nodename
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,  # noqa: S603
                          text=True, check=True, timeout=60).stdout.strip()
    left = tmp_path / f"{dead}@{host}@abc123"
    live = tmp_path / f"{os.getpid()}@{host}@def456"
    elsewhere = tmp_path / f"{dead}@another-host@ghi789"
    old_elsewhere = tmp_path / f"{dead}@another-host@jkl012"
    unrelated = tmp_path / "notes"
    for folder in (left, live, elsewhere, old_elsewhere, unrelated):
        (folder / "cache").mkdir(parents=True)
    week_ago = os.stat(old_elsewhere).st_mtime - STALE_SECONDS - 60
    os.utime(old_elsewhere, (week_ago, week_ago))

    prune_left_behind(str(tmp_path))

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, elsewhere.name, "notes"])


def test_every_helm_call_gets_the_runs_repositories_but_import_reads_the_users(tmp_path) -> None:
    from firestream_core.model import ChartInfo

    helm, runner = recording_helm(tmp_path)
    helm.repo_add("bitnami", "https://charts.example.com/bitnami")
    assert helm.repo_add("bitnami", "https://charts.example.com/bitnami") is False  # once per run
    helm.resolve_version("bitnami/postgresql", "^13")
    helm.upgrade_install(ChartInfo(name="db", chart="postgresql", repository="bitnami", version="13.2.0"), tmp_path)
    helm.template(ChartInfo(name="db", chart="postgresql", repository="bitnami", version="13.2.0"), tmp_path)
    helm.pull("bitnami/postgresql", "13.2.0", tmp_path / "pulled")
    helm.list_releases()
    own = helm.repository_home.env()
    assert own["HELM_REPOSITORY_CONFIG"].startswith(str(tmp_path / "cache" / "helm-repositories"))
    ran = [c["argv"][1] for c in runner.calls]
    assert {"repo", "search", "upgrade", "template", "pull", "list", "version"} <= set(ran)
    for call in runner.calls:
        assert call["env"] == {"HELM_CONFIG_HOME": "/user/config", **own}, call["argv"]
    assert "HELM_REPOSITORY_CONFIG" not in helm.env  # the instance's own variables are kept as given

    runner.calls.clear()
    helm.repo_list()
    helm.search_repo("postgresql")
    assert [c["argv"][1:3] for c in runner.calls] == [["repo", "list"], ["search", "repo"]]
    for call in runner.calls:  # firestream import: where the user installed from, read only
        assert call["env"] == {"HELM_CONFIG_HOME": "/user/config"}

    assert helm.program_env()["HELM_REPOSITORY_CONFIG"] == own["HELM_REPOSITORY_CONFIG"]  # pre-upgrade commands


def test_each_helm_has_its_own_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path))
    first, second = Helm(binary="helm"), Helm(binary="helm")
    assert first.repository_home.path != second.repository_home.path
    assert Path(first.repository_home.path).parent == tmp_path / "helm-repositories"


@pytest.mark.parametrize("name", ["HELM_REPOSITORY_CONFIG", "HELM_REPOSITORY_CACHE"])
def test_the_users_variables_do_not_win(tmp_path, monkeypatch, name) -> None:
    """A user's ``HELM_REPOSITORY_CONFIG`` names their own file: firestream's call overrides it."""
    monkeypatch.setenv(name, str(tmp_path / "user-file"))
    helm, runner = recording_helm(tmp_path)
    helm.repo_add("bitnami", "https://charts.example.com/bitnami")
    env = runner._child_env(runner.calls[-1]["env"])
    assert env[name] == helm.repository_home.env()[name] != str(tmp_path / "user-file")


def test_the_users_registry_logins_are_copied_private_and_never_written(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path / "fs-cache"))
    users = tmp_path / "helm-config" / "registry" / "config.json"
    assert users_registry_config({"HELM_CONFIG_HOME": str(tmp_path / "helm-config")}) == str(users)
    assert users_registry_config({"HOME": "/h"}) == "/h/.config/helm/registry/config.json"
    users.parent.mkdir(parents=True)
    users.write_text('{"auths": {"reg.example": {"auth": "dTpw"}}}')
    home = RepositoryHome()
    home.registry_source = str(users)
    copied = Path(home.registry_config)
    assert copied.read_text() == users.read_text() and stat.S_IMODE(copied.stat().st_mode) == 0o600
    without = RepositoryHome()
    without.registry_source = str(tmp_path / "none.json")  # no logins of the user's: helm starts one
    assert not Path(without.registry_config).exists()
    home.close()
    without.close()
    assert not copied.exists()
