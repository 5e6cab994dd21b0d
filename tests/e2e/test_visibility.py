"""Hide secrets, show everything else (issue 12): the quickstart and the five built-in plugins.

Each project is applied, planned, diffed, shown and destroyed with
``firestream -v`` (debug logging) against the emulator with the real helm,
while the ``/proc`` watcher reads every child's command line and
environment. Two counts must be zero:

* **sensitive values leaked**: every sensitive value of the run (the
  ``secret_values``, the ``*_env`` passwords, the passwords the plugins
  generate, read back from their Secrets) in each spelling (plain, base64,
  JSON-escaped) searched in stdout + stderr of every command, in the state
  file, on every child's command line and in every child's environment;
* **non-sensitive names or values masked**: every namespace, release and
  Secret name the run involves must appear in clear, and no ``***`` may
  appear at all (none of these runs prints a secret that would need it).

The quickstart also proves the issue's headline cases: its namespace equals
``auth.database`` (once masked everywhere), and after changing a log level
``plan`` and ``diff`` show ``env.LOG_LEVEL: info -> debug``.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from firestream_testing.chartrepo import ChartRepo, RepoServer, package_charts, read_index

from .conftest import clean_env, firestream, watched, write_config

pytestmark = pytest.mark.helm

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
QS_PASSWORD = "qs-E2E-Pass-77123"
TOKEN = "e2e-Token-Value-51fQ"  # a secret_values value every plugin release gets


def spellings(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode(), json.dumps(secret)[1:-1]]


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The spellings of ``secrets`` found in ``text`` (by position only, never shown)."""
    return [f"secret #{i}" for i, s in enumerate(secrets) for form in spellings(s) if form in text]


class Run:
    """Runs firestream commands on one project and collects everything they showed."""

    def __init__(self, project_dir: Path, flags: list[str], env: dict[str, str]) -> None:
        self.dir, self.flags, self.env = project_dir, flags, env
        self.texts: dict[str, str] = {}
        self.watchers: list = []

    def __call__(self, *args: str, watch: bool = False, ok: tuple[int, ...] = (0,)) -> str:
        if watch:
            done, watcher = watched([*args, *self.flags], cwd=self.dir, env=self.env)
            self.watchers.append(watcher)
        else:
            done = firestream([*args, *self.flags], cwd=self.dir, env=self.env)
        text = done.stdout + done.stderr
        assert done.returncode in ok, (args, text)
        self.texts[" ".join(args)] = text
        return text

    def check(self, secrets: list[str], names: list[str]) -> None:
        """Both counts are zero: no secret anywhere, every name in clear, no mask."""
        leaked = {cmd: leaks(t, secrets) for cmd, t in self.texts.items()}
        state = self.dir / ".firestream" / "state.json"
        if state.exists():
            leaked["state.json"] = leaks(state.read_text(), secrets)
        assert {k: v for k, v in leaked.items() if v} == {}, "sensitive values leaked"
        everything = "\n".join(self.texts.values())
        assert everything.count("***") == 0, "something was masked:\n" + everything
        missing = [n for n in names if n not in everything]
        assert missing == [], f"names not shown: {missing}"
        forms = [f for s in secrets for f in spellings(s)]
        for w in self.watchers:
            w.assert_absent(*forms)
            w.assert_env_absent(*forms)


def setup(project_dir: Path, kube, helm_bin, **env: str) -> Run:
    flags = ["-v", "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig)]
    full = clean_env({**kube.env, "FIRESTREAM_KUBECTL_BINARY": str(kube.tools["kubectl"]), **env})
    return Run(project_dir, flags, full)


def test_quickstart_shows_every_name_and_no_secret(kube, helm_bin, tmp_path):
    project_dir = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, project_dir, ignore=shutil.ignore_patterns(".firestream"))
    toml = project_dir / "firestream.toml"
    ns = kube.namespace
    text = toml.read_text()
    # the namespace equals auth.database, as in the quickstart (the first case)
    text = text.replace('namespace = "quickstart"', f'namespace = "{ns}"')
    text = text.replace('auth.database = "quickstart"', f'auth.database = "{ns}"')
    text = text.replace('env.CACHE_HOST = "cache"', 'env.CACHE_HOST = "cache"\nenv.LOG_LEVEL = "info"')
    toml.write_text(text)
    run = setup(project_dir, kube, helm_bin, QUICKSTART_DB_PASSWORD=QS_PASSWORD)

    out = run("apply", "--yes", watch=True)
    assert f"--namespace {ns}" in out  # the -v command lines name it
    assert run.watchers[0].environ_of("upgrade"), run.watchers[0].argvs
    run("plan")
    run("status")

    toml.write_text(text.replace('env.LOG_LEVEL = "info"', 'env.LOG_LEVEL = "debug"'))
    plan = run("plan")
    assert "env.LOG_LEVEL: info -> debug" in plan
    diff = run("diff", ok=(0, 2))
    assert "env.LOG_LEVEL: info -> debug" in diff
    assert "-  LOG_LEVEL: info\n+  LOG_LEVEL: debug" in diff  # the ConfigMap, in clear
    done = firestream(["plan", "--json", *run.flags], cwd=project_dir, env=run.env)
    run.texts["plan --json"] = done.stdout + done.stderr
    plan_json = json.loads(done.stdout)
    (api,) = [r for r in plan_json["releases"] if r["name"] == "api"]
    assert {"path": "env.LOG_LEVEL", "old": "info", "new": "debug"} in api["value_changes"]
    run("apply", "--yes", watch=True)

    # the password changes: (sensitive), never the value
    run.env["QUICKSTART_DB_PASSWORD"] = QS_PASSWORD + "-rotated"
    plan = run("plan")
    assert "auth.password: (sensitive) -> (sensitive)" in plan
    run("diff", ok=(0, 2))
    run("destroy", "--yes", watch=True)

    run.check([QS_PASSWORD, QS_PASSWORD + "-rotated"], [ns, "database", "cache", "api", "web"])


def _repos(make_chart_repo) -> dict[str, str]:
    charts = {
        "bitnami": [PLUGINS / "firestream-chart-postgresql/tests/charts/postgresql",
                    PLUGINS / "firestream-chart-external-dns/tests/charts/external-dns"],
        "ingress-nginx": [PLUGINS / "firestream-chart-nginx-ingress/tests/charts/ingress-nginx"],
        "prometheus-community": [PLUGINS / "firestream-chart-prometheus-operator/tests/charts/kube-prometheus-stack"],
    }
    versions = {  # the seed's versions and the plugins' defaults
        "postgresql": ["13.2.24", "17.1.0"], "external-dns": ["6.31.0", "9.0.4"],
        "ingress-nginx": ["4.7.1", "4.15.1"],
        "kube-prometheus-stack": ["45.7.1", "81.5.0"],
    }
    return {name: make_chart_repo(dirs, name, versions=versions).url for name, dirs in charts.items()}


STRIMZI = {  # each version from its own stand-in (the 0.38.0 one has the seed-era CRDs)
    "0.38.0": PLUGINS / "firestream-chart-kafka/tests/charts/strimzi-kafka-operator-0.38.0",
    "1.2.0": PLUGINS / "firestream-chart-kafka/tests/charts/strimzi-kafka-operator",
}


@pytest.fixture(scope="module")
def plugin_repos(make_chart_repo, helm_tools, tmp_path_factory):
    urls = _repos(make_chart_repo)
    dest = tmp_path_factory.mktemp("chart-repo-strimzi")
    for chart_dir in STRIMZI.values():  # one chart name per call: the kit refuses two in one
        package_charts(helm_tools["helm"], [chart_dir], dest)
    strimzi = ChartRepo("strimzi", dest, {"strimzi-kafka-operator": STRIMZI["1.2.0"]},
                        read_index(dest / "index.yaml"), RepoServer(dest))
    assert strimzi.charts == {"strimzi-kafka-operator": list(STRIMZI)}
    urls["strimzi"] = strimzi.url
    yield urls
    strimzi.stop()


PLUGIN_CASES = {
    "postgresql": ('name = "orders-db"\npreset = "development"\npassword_env = "E2E_PG_PW"',
                   'auth.database = "orders"\nmetrics.serviceMonitor.enabled = false', ["orders-db-auth"]),
    "prometheus-operator": ('name = "monitoring"\nversion = "45.7.1"\ngrafana_password_env = "E2E_GRAFANA_PW"',
                            "", []),
    "nginx-ingress": ('name = "ingress"', "controller.metrics.serviceMonitor.enabled = false", []),
    "external-dns": ('name = "dns"\npreset = "local"', "", []),
    "kafka": ('name = "events"', "", []),
}
PG_PW = "e2e-Pg-Pass-90Hq2"
GRAFANA_PW = "e2e-Grafana-Pass-3kP"


@pytest.mark.parametrize("chart_type", list(PLUGIN_CASES))
def test_each_builtin_plugin_shows_every_name_and_no_secret(chart_type, kube, helm_bin, tmp_path, plugin_repos):
    keys, values, secret_names = PLUGIN_CASES[chart_type]
    name = keys.split('"')[1]
    repos = "\n".join(f'{k} = "{v}"' for k, v in plugin_repos.items())
    project_dir = tmp_path / "p"
    write_config(project_dir, f"""
[repositories]
{repos}

[defaults]
namespace = "{kube.namespace}"
timeout = "120s"

[[deployments.{chart_type}]]
{keys}

[deployments.{chart_type}.values]
{values}
e2eLogLevel = "info"

[deployments.{chart_type}.secret_values]
e2eToken = {{ env = "E2E_TOKEN" }}
""")
    run = setup(project_dir, kube, helm_bin, E2E_TOKEN=TOKEN, E2E_PG_PW=PG_PW, E2E_GRAFANA_PW=GRAFANA_PW)
    run("apply", "--yes", watch=True)
    # what the plugins generated and keep in Secrets is sensitive too
    generated: list[str] = []
    listed = kube.run([kube.tools["kubectl"], "get", "secrets", "-n", kube.namespace, "-o", "json"]).stdout
    for item in json.loads(listed)["items"]:
        if item.get("type") == "helm.sh/release.v1":
            continue
        generated += [base64.b64decode(v).decode(errors="replace") for v in (item.get("data") or {}).values()]
    generated = [g for g in generated if len(g) >= 8]  # passwords, not 'admin' or a port
    if chart_type == "postgresql":  # the given one and the two it generated
        assert PG_PW in generated and len(generated) >= 3, len(generated)
    if chart_type == "prometheus-operator":
        assert GRAFANA_PW in generated
    run("plan")
    run("status")
    toml = project_dir / "firestream.toml"
    toml.write_text(toml.read_text().replace('e2eLogLevel = "info"', 'e2eLogLevel = "debug"'))
    assert "e2eLogLevel: info -> debug" in run("plan")
    run("diff", ok=(0, 2))
    run("destroy", "--yes", watch=True)
    run.check([TOKEN, PG_PW, GRAFANA_PW, *generated], [kube.namespace, name, *secret_names])
