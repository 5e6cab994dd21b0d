"""OCI registries: config, login once per registry per run, oci:// charts through firestream.

The real-registry tests use the kit's ``oci_registry`` (Debian's
docker-registry on loopback, basic auth on, fixture charts pushed with the
real ``helm push``) and run with helm 3 and helm 4.
"""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

import pytest
import yaml
from firestream_testing.argv_watch import assert_not_on_command_lines, watch_argv
from firestream_testing.registry import start_registry

from firestream_core.config.parse import parse_config
from firestream_core.errors import (
    ConfigError,
    HelmCommandError,
    RegistryAuthError,
)
from firestream_core.model import ChartInfo, HelmChart
from firestream_core.tools import helm_repos
from firestream_core.tools.helm_errors import classify
from firestream_core.tools.oci import (
    RegistryConfig,
    RegistryCredentialsError,
    RegistryLogins,
    oci_host,
    read_password,
    resolve_oci_charts,
)

from .helpers import load, record_argv, write_config

# -- config and references (no binaries) ------------------------------------------------


def test_registries_section_is_parsed(tmp_path):
    config = parse_config(
        {
            "registries": {
                "127.0.0.1:5000": {"username": "alice", "password_env": "PW", "plain_http": True},
                "ghcr.io": {"username": "bob", "password_file": "pw.txt", "insecure": True},
            },
        },
        tmp_path / "firestream.toml",
    )
    assert config.registries["127.0.0.1:5000"] == RegistryConfig("alice", "PW", None, False, True)
    assert config.registries["ghcr.io"].password_file == "pw.txt"


def test_registries_problems_name_their_path(tmp_path):
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "registries": {
                    "oci://x.io": {"username": "a", "password_env": "PW"},
                    "y.io": {"username": "a"},
                    "z.io": {"username": "a", "password_env": "PW", "password_file": "f"},
                    "w.io": {"usrname": "a"},
                    "v.io": {"password_env": "1BAD"},
                },
            },
            tmp_path / "firestream.toml",
        )
    problems = info.value.problems
    assert 'registries."oci://x.io": write the registry host without a scheme (e.g. "x.io")' in problems
    assert '"y.io": username given without password_env or password_file' in " ".join(problems)
    assert "registries.\"z.io\": give password_env or password_file, not both" in problems
    assert any("w.io" in p and "usrname: unknown key" in p for p in problems)
    assert any("v.io" in p and "a password needs a username" in p for p in problems)
    assert any("v.io" in p and "not an environment variable name" in p for p in problems)


def test_oci_host():
    assert oci_host("oci://127.0.0.1:5000/charts/app") == "127.0.0.1:5000"
    assert oci_host("oci://ghcr.io/org/app") == "ghcr.io"
    assert oci_host("ghcr.io/org/app") == "ghcr.io"


def _chart(**kw) -> HelmChart:
    return HelmChart(ChartInfo(**{"name": "web", **kw}))


def test_oci_repository_becomes_the_chart_reference():
    charts = [
        _chart(chart="tiny-app", repository="internal", version="0.2.0"),
        _chart(name="b", chart="internal/tiny-app", repository="internal"),
        _chart(name="c", chart="tiny-app", repository="plain"),
        _chart(name="d", chart="oci://h/x/app"),
    ]
    out = resolve_oci_charts(charts, {"internal": "oci://h:5000/charts/", "plain": "https://x"})
    assert out[0].chart_info.chart == "oci://h:5000/charts/tiny-app"
    assert out[0].chart_info.repository is None and out[0].chart_info.version == "0.2.0"
    assert out[0].chart_info.chart_ref == "oci://h:5000/charts/tiny-app"
    assert out[1].chart_info.chart_ref == "oci://h:5000/charts/tiny-app"
    assert out[2] is charts[2] and out[3] is charts[3]


def test_a_repo_in_chart_names_the_oci_repository_as_helm_reads_it():
    """``chart = "internal/api"`` is the repository's chart without ``repository`` too, and a
    ``repo/`` naming another repository wins over ``repository`` (a chart type's default)."""
    charts = [
        _chart(chart="internal/tiny-app"),
        _chart(name="b", chart="plain/tiny-app", repository="internal"),
    ]
    out = resolve_oci_charts(charts, {"internal": "oci://h:5000/charts/", "plain": "https://x"})
    assert out[0].chart_info.chart_ref == "oci://h:5000/charts/tiny-app"
    assert out[1] is charts[1] and out[1].chart_info.chart_ref == "plain/tiny-app"


def test_read_password_from_env_and_file(tmp_path):
    cfg = RegistryConfig("u", password_env="PW")
    assert read_password("h", cfg, environ={"PW": "p1"}) == "p1"
    with pytest.raises(RegistryCredentialsError, match=r"\$PW is not set"):
        read_password("h", cfg, environ={})
    (tmp_path / "pw").write_text("p2\n")
    assert read_password("h", RegistryConfig("u", password_file="pw"), project_dir=tmp_path) == "p2"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(RegistryCredentialsError, match="'empty' is empty"):
        read_password("h", RegistryConfig("u", password_file="empty"), project_dir=tmp_path)
    with pytest.raises(RegistryCredentialsError, match="cannot read the password file 'nope'"):
        read_password("h", RegistryConfig("u", password_file="nope"), project_dir=tmp_path)


class _LoginHelm:
    """Records registry_login calls; optionally refuses them like helm does."""

    env: dict[str, str] = {}

    def __init__(self, refuse: bool = False) -> None:
        self.logins: list[tuple[str, str, str, bool, bool]] = []
        self.refuse = refuse
        self.gate = threading.Event()
        self.gate.set()

    def registry_login(self, host, username, password, insecure=False, *, plain_http=False):
        self.gate.wait(10)
        self.logins.append((host, username, password, insecure, plain_http))
        if self.refuse:
            raise RegistryAuthError("helm registry login failed: 401", stderr="401")


def test_login_once_per_registry_even_from_parallel_releases():
    logins = RegistryLogins({"h:1": RegistryConfig("u", password_env="PW", plain_http=True),
                             "anon:2": RegistryConfig(insecure=True)}, environ={"PW": "pw"})
    helm = _LoginHelm()
    helm.gate.clear()
    flags: list[list[str]] = []
    threads = [threading.Thread(target=lambda: flags.append(logins.prepare(helm, "oci://h:1/c/app")))
               for _ in range(5)]
    for t in threads:
        t.start()
    helm.gate.set()
    for t in threads:
        t.join()
    assert helm.logins == [("h:1", "u", "pw", False, True)]
    assert flags == [["--plain-http"]] * 5
    assert logins.prepare(helm, "oci://anon:2/c/app") == ["--insecure-skip-tls-verify"]
    assert logins.prepare(helm, "oci://unknown/c/app") == []
    assert len(helm.logins) == 1 and logins.logged_in == ["h:1"]


def test_refused_login_is_typed_named_and_not_repeated():
    logins = RegistryLogins({"h:1": RegistryConfig("deploy", password_env="REG_PW")},
                            environ={"REG_PW": "Sup3r-Secret-77"})
    helm = _LoginHelm(refuse=True)
    for _ in range(3):
        with pytest.raises(RegistryAuthError) as info:
            logins.ensure(helm, "oci://h:1/charts/app")
        message = str(info.value)
        assert message == "registry 'h:1' refused the login of user 'deploy' (password from $REG_PW)"
        assert "Sup3r-Secret-77" not in message + (info.value.hint or "")
    assert len(helm.logins) == 1


@pytest.mark.parametrize(
    "stderr",
    [
        'Error: authenticating to "127.0.0.1:5000": GET "http://127.0.0.1:5000/v2/": '
        "response status code 401: unauthorized: authentication required",
        'Error: failed to perform "FetchReference" on source: GET '
        '"http://127.0.0.1:5000/v2/charts/app/manifests/0.2.0": basic credential not found',
    ],
)
def test_registry_auth_failures_are_classified(stderr):
    assert classify(stderr, op="upgrade") is RegistryAuthError


def test_kube_unauthorized_is_not_a_registry_error():
    assert classify("error: You must be logged in to the server (Unauthorized)") is HelmCommandError


# -- the real registry ---------------------------------------------------------------------


def _oci_project(tmp_path, kube, oci_registry, *, password: str = "", via_repository: bool = False,
                 password_file: str | None = None, releases=("web",)):
    source = f'password_file = "{password_file}"' if password_file else 'password_env = "FS_TEST_OCI_PW"'
    if via_repository:
        chart_lines = 'repository = "internal"\nchart = "tiny-app"'
        repos = f'[repositories]\ninternal = "{oci_registry.url}/charts"\n'
    else:
        chart_lines = f'chart = "{oci_registry.ref("tiny-app")}"'
        repos = ""
    blocks = "\n".join(
        f"""
[[deployments.generic]]
name = "{name}"
{chart_lines}
version = "0.2.0"
namespace = "{kube.namespace}"
timeout = "60s"
[deployments.generic.values]
message = "from-oci-{name}"
"""
        for name in releases
    )
    return write_config(tmp_path / "p", f"""
{repos}
[registries."{oci_registry.host}"]
username = "{oci_registry.username}"
{source}
plain_http = true
{blocks}
""")


def test_oci_chart_deploys_with_basic_auth_password_never_on_argv_or_logged(
    tmp_path, kube, helm_bin, oci_registry, monkeypatch, caplog
):
    monkeypatch.setenv("FS_TEST_OCI_PW", oci_registry.password)
    path = _oci_project(tmp_path, kube, oci_registry, releases=("web", "api"))
    caplog.set_level(logging.DEBUG)
    with record_argv(monkeypatch) as rec, watch_argv(binary=helm_bin) as watcher:
        result = load(path, kube, helm_bin).apply()
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    cm = kube.kubectl().get("configmap", "web-tiny-app", namespace=kube.namespace)
    assert cm["data"]["message"] == "from-oci-web" and cm["data"]["chartVersion"] == "0.2.0"

    logins = rec.of("login")
    assert len(logins) == 1, logins  # two releases, one registry: one login
    assert logins[0][1:8] == ["registry", "login", oci_registry.host, "--username",
                              oci_registry.username, "--password-stdin", "--plain-http"]
    assert rec.stdins[rec.argvs.index(logins[0])] == oci_registry.password.encode()
    upgrades = rec.of("upgrade")
    assert len(upgrades) == 2
    for argv in upgrades:
        assert argv[3] == oci_registry.ref("tiny-app") and "--plain-http" in argv
    assert not rec.of("add"), "no helm repo add for an oci:// chart"
    assert watcher.argvs, "the /proc watcher saw no helm process"
    assert_not_on_command_lines([*rec.argvs, *watcher.argvs], [oci_registry.password])
    assert oci_registry.password not in caplog.text


def test_oci_repository_entry_and_password_file(tmp_path, kube, helm_bin, oci_registry, monkeypatch):
    (tmp_path / "p").mkdir()
    pw = tmp_path / "p" / "registry-password"
    pw.write_text(oci_registry.password + "\n")
    pw.chmod(0o600)
    path = _oci_project(tmp_path, kube, oci_registry, via_repository=True, password_file="registry-password")
    project = load(path, kube, helm_bin)
    assert project.chart("web").chart_info.chart_ref == oci_registry.ref("tiny-app")
    plan = project.plan()
    assert [(c.name, c.action, c.desired_chart) for c in plan.releases] == [("web", "create", "tiny-app")]
    with record_argv(monkeypatch) as rec:
        result = project.apply(plan)
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert not rec.of("add")
    assert len(rec.of("login")) == 1
    assert load(path, kube, helm_bin).plan().has_changes is False


def test_wrong_password_is_a_typed_readable_error(tmp_path, kube, helm_bin, oci_registry, monkeypatch):
    wrong = "Wr0ng-pass-" + oci_registry.password[:4]
    monkeypatch.setenv("FS_TEST_OCI_PW", wrong)
    path = _oci_project(tmp_path, kube, oci_registry, releases=("web", "api"))
    with record_argv(monkeypatch) as rec:
        result = load(path, kube, helm_bin).apply()
    assert not result.ok
    for name in ("web", "api"):
        reason = result.releases[name].reason
        assert f"registry '{oci_registry.host}' refused the login of user 'firestream'" in reason
        assert "$FS_TEST_OCI_PW" in reason
        assert wrong not in reason
    assert len(rec.of("login")) == 1  # remembered for the run, not retried per release
    assert not rec.of("upgrade")


def test_helm_login_error_is_registry_auth_error(kube, helm_bin, oci_registry):
    helm = kube.helm(helm_bin)
    with pytest.raises(RegistryAuthError) as info:
        helm.registry_login(oci_registry.host, "firestream", "not-the-password", plain_http=True)
    assert "not-the-password" not in str(info.value) + info.value.stderr


def test_chart_without_login_fails_as_registry_auth(tmp_path, kube, helm_bin, oci_registry):
    helm = kube.helm(helm_bin, registries=RegistryLogins({oci_registry.host: RegistryConfig(plain_http=True)}))
    info = ChartInfo(name="anon", chart=oci_registry.ref("tiny-app"), version="0.2.0")
    with pytest.raises(RegistryAuthError):
        helm.template(info, tmp_path)


def _chart_version(manifest: str) -> str:
    docs = [d for d in yaml.safe_load_all(manifest) if d and d.get("kind") == "ConfigMap"]
    return docs[0]["data"]["chartVersion"]


def test_push_through_firestream_then_deploy(tmp_path, kube, helm_bin, oci_registry, chart_repo):
    logins = RegistryLogins(
        {oci_registry.host: RegistryConfig(oci_registry.username, password_env="PW", plain_http=True)},
        environ={"PW": oci_registry.password},
    )
    helm = kube.helm(helm_bin, registries=logins)
    major = helm.major
    pushed = helm.push(chart_repo.tgz("tiny-app", "0.1.0"), f"{oci_registry.url}/pushed{major}")
    assert pushed == f"{oci_registry.host}/pushed{major}/tiny-app:0.1.0"
    info = ChartInfo(name="pushed", chart=f"{oci_registry.url}/pushed{major}/tiny-app", version="0.1.0",
                     namespace=kube.namespace)
    assert _chart_version(helm.template(info, tmp_path)) == "0.1.0"
    assert helm.upgrade_install(info, tmp_path) == 1


def test_anonymous_registry_needs_no_login(tmp_path, kube, helm_bin, chart_repo):
    with start_registry(tmp_path / "anon") as registry:
        helm = kube.helm(helm_bin, registries=RegistryLogins({registry.host: RegistryConfig(plain_http=True)}))
        helm.push(chart_repo.tgz("tiny-app", "0.2.0"), f"{registry.url}/c")
        info = ChartInfo(name="a", chart=f"{registry.url}/c/tiny-app", version="0.2.0")
        assert _chart_version(helm.template(info, tmp_path)) == "0.2.0"
    assert not registry.alive


def test_the_runs_login_stays_in_its_own_folder_and_the_users_own_logins_still_work(
    tmp_path, kube, helm_bin, oci_registry, monkeypatch
):
    """A [registries] login is stored in the run's registry config (a 0600 copy of the user's, in
    the run's folder): the user's file never holds it. A login the user made with helm still works."""
    users = Path(kube.env["HELM_CONFIG_HOME"]) / "registry" / "config.json"
    monkeypatch.setenv("FS_TEST_OCI_PW", oci_registry.password)
    monkeypatch.setenv("FIRESTREAM_CACHE_DIR", str(tmp_path / "cache"))
    project = load(_oci_project(tmp_path, kube, oci_registry), kube, helm_bin)
    # the run's folder goes when its Helm does (at once, or later by the cyclic collector): what
    # its registry config held is read as it is removed
    held: list[tuple[str, int]] = []
    remove = helm_repos._remove

    def removing(path: str, pid: int) -> None:
        config = Path(path) / "registry.json"
        if config.exists():
            held.append((config.read_text(), config.stat().st_mode & 0o777))
        remove(path, pid)

    monkeypatch.setattr(helm_repos, "_remove", removing)
    result = project.apply()
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert not users.exists() or oci_registry.host not in users.read_text()  # never written there
    del project, result
    gc.collect()
    assert list((tmp_path / "cache" / "helm-repositories").iterdir()) == []  # the run's folder went
    assert any(oci_registry.host in text for text, _ in held)  # the run's own copy had the login
    assert {mode for _, mode in held} == {0o600}
    # (removed with the run's folder when its Helm goes or the process ends: tests/tools/test_helm_repos.py)

    # the user logs in with their own helm; a project without credentials uses that login
    kube.run([helm_bin, "registry", "login", oci_registry.host, "--username", oci_registry.username,
              "--password-stdin", "--plain-http"], input=oci_registry.password)
    assert oci_registry.host in users.read_text()
    before = users.read_bytes()
    path = write_config(tmp_path / "q", f"""
[registries."{oci_registry.host}"]
plain_http = true

[[deployments.generic]]
name = "anon"
chart = "{oci_registry.ref("tiny-app")}"
version = "0.2.0"
namespace = "{kube.namespace}"
timeout = "60s"
""")
    result = load(path, kube, helm_bin).apply()
    assert result.ok, {n: o.reason for n, o in result.releases.items()}
    assert users.read_bytes() == before


def test_a_registry_password_variable_is_a_secret_before_the_login(monkeypatch):
    """helm version, helm list and kubectl run before the first login; with the variable
    allow-listed (FIRESTREAM_CHILD_ENV) they must not inherit the password all the same."""
    from firestream_core.tools.environment import child_environment
    from firestream_core.tools.redact import Redactor

    monkeypatch.setenv("REG_PW", "reg-hunter2-pw")
    monkeypatch.setenv("REG_USER_HOME", "/srv/reg")
    monkeypatch.setenv("FIRESTREAM_CHILD_ENV", "REG_*")
    redactor = Redactor()
    RegistryLogins({"registry.example": RegistryConfig(username="ci", password_env="REG_PW")},
                   redactor=redactor)
    env = child_environment(secrets=redactor)
    assert env.get("REG_USER_HOME") == "/srv/reg"
    assert "REG_PW" not in env
    assert redactor.redact("login reg-hunter2-pw") == "login ***"
