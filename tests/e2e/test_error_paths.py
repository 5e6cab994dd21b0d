"""Bad input gets one clear error and nothing is lost: the ``firestream`` command, end to end.

Every case runs ``python -m firestream_core.cli.main`` as a subprocess, the way a
user or a CI job runs it, and checks the promise of docs/cli.md and
docs/configuration.md: a non-zero exit, ONE readable message on stderr that
names the file, key, plugin or release (with an optional ``hint:``), no
traceback unless ``-v`` (and one with it), and nothing written: the project
folder is byte-for-byte unchanged (no state file, no ``.firestream/lock``),
no values file is left in ``FIRESTREAM_TMPDIR`` and helm was never asked to
change anything.

Configuration problems are fed to ``apply --yes``, the command that writes
the most, with the recording fake helm; failing helm runs use the fake
helm's ``fail_on`` and the real helm 3 / helm 4 against the emulator.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import (
    FIRESTREAM,
    assert_one_error,
    assert_traceback_then_error,
    firestream,
    leftovers,
    snapshot,
    write_config,
)

PLAIN = "plain-e2e-value-7Qx"  # a value in [values]: never in an error message

REPOS = """
[repositories]
fixtures = "http://127.0.0.1:9/fixtures"
"""


def web(extra: str = "", *, key: str = "web") -> str:
    return (f'[[deployments.{key}]]\nchart = "fixtures/tiny-app"\nversion = "0.1.0"\n{extra}\n'
            f'[deployments.{key}.values]\nauth.password = "{PLAIN}"\n')


@pytest.fixture
def run(project_dir, cli_env, fake_helm, fake_kubectl, values_tmp):
    """``run(*args, env=None) -> CompletedProcess``: firestream in the project, on the fake helm."""
    base = {**cli_env, **fake_helm.env, "FIRESTREAM_KUBECTL_BINARY": str(fake_kubectl)}

    def go(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return firestream([*args, "--helm-binary", fake_helm.binary], cwd=project_dir,
                          env={**base, **(env or {})})

    return go


def state_of(project_dir: Path) -> dict:
    return json.loads((project_dir / ".firestream" / "state.json").read_text())


def assert_nothing_written(project_dir: Path, before: dict, values_tmp: Path, fake_helm) -> None:
    assert snapshot(project_dir) == before
    assert leftovers(values_tmp) == []
    # (plan's dry runs of apply's own calls, --dry-run=server, change nothing)
    changing = [c for c in fake_helm.calls() if c and c[0] in ("upgrade", "install", "uninstall",
                                                                "rollback") and "--dry-run=server" not in c]
    assert changing == []


# -- the configuration: one message naming the file and the dotted key ------------------------

CONFIG_CASES = {
    "toml-syntax": (
        '[[deployments.web]]\nchart = "fixtures/tiny-app"\nversion = \n',
        ["firestream.toml:5:11:", "line 5, column 11"],
    ),
    "unknown-key": (
        web('timout = "5m"'),
        ["firestream.toml is invalid", "deployments.web[0].timout: unknown key",
         "did you mean 'timeout'"],
    ),
    "bad-type": (
        web('atomic = "yes"'),
        ["firestream.toml", "deployments.web[0].atomic: expected a boolean"],
    ),
    "bad-type-in-set": (
        web('set = [{ key = "image.tag", value = ["1", "2"] }]'),
        ["firestream.toml", "deployments.web[0].set[0].value:"],
    ),
    "bad-duration": (
        web('timeout = "soon"'),
        ["firestream.toml", "deployments.web[0].timeout: invalid duration"],
    ),
    "bad-version": (
        web('version = "one.two"', key="api").replace('version = "0.1.0"\n', ""),
        ["firestream.toml", "deployments.api[0].version: invalid chart version"],
    ),
    "bad-release-name": (
        web('name = "Bad_Name"'),
        ["firestream.toml", "deployments.web[0].name: release name 'Bad_Name'", "DNS-1123"],
    ),
    "unknown-chart-type": (
        '[[deployments.mystery]]\nnamespace = "apps"\n',
        ["firestream.toml", "deployments.mystery[0]: unknown chart type 'mystery'",
         "installed chart types: "],
    ),
    "unknown-preset": (
        '[[deployments.postgresql]]\npreset = "nope"\n',
        ["firestream.toml", "deployments.postgresql[0].preset: unknown preset 'nope'",
         "'development'"],
    ),
    "cycle": (
        web('name = "app"\ndepends_on = ["cache"]') + web('name = "cache"\ndepends_on = ["queue"]')
        + web('name = "queue"\ndepends_on = ["app"]'),
        ["dependency cycle in firestream.toml: app -> cache -> queue -> app"],
    ),
    "unknown-dependency": (
        web('depends_on = ["db"]'),
        ["deployments.web[0].depends_on", "release 'web' depends on 'db', which is not defined",
         "(firestream.toml)"],
    ),
    "destroyed-but-needed": (
        web('name = "api"\naction = "destroy"') + web('depends_on = ["api"]'),
        ["firestream.toml is invalid", "deployments.web[0].action: release 'api' has action = "
         "\"destroy\", but release 'web' (deployments.web[1].depends_on) depends on it"],
    ),
    "duplicate-release": (
        web() + web(),
        ["firestream.toml", "deployments.web[1]: release 'web'", "already defined by deployments.web[0]"],
    ),
    "same-name-other-namespace": (
        web('namespace = "a"') + web('name = "web"\nnamespace = "b"', key="front"),
        ["firestream.toml", "deployments.front[0]", "'web'", "deployments.web[0]"],
    ),
    "missing-secret-env": (
        web('secret_values = { "auth.token" = { env = "E2E_NOT_SET_TOKEN" } }'),
        ["firestream.toml", "deployments.web[0].secret_values.auth.token",
         "environment variable 'E2E_NOT_SET_TOKEN' is not set"],
    ),
    "missing-secret-file": (
        web('secret_values = { "auth.token" = { file = "secrets/token.txt" } }'),
        ["firestream.toml", "deployments.web[0].secret_values.auth.token", "secrets/token.txt"],
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES), ids=list(CONFIG_CASES))
def test_bad_config_is_one_error_and_changes_nothing(case, run, project_dir, values_tmp, fake_helm):
    text, needles = CONFIG_CASES[case]
    write_config(project_dir, REPOS + text)
    before = snapshot(project_dir)

    done = run("apply", "--yes")
    assert done.returncode == 1, done.stderr
    message = assert_one_error(done.stderr, *needles)
    assert PLAIN not in done.stdout + done.stderr
    if "is invalid" in message:  # one problem, one line under the file's name
        assert len(message.splitlines()) == 2, message
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)
    assert fake_helm.calls() == []  # stopped before any cluster call

    verbose = run("apply", "--yes", "-v")
    assert verbose.returncode == 1
    assert_traceback_then_error(verbose.stderr, *needles)
    assert PLAIN not in verbose.stdout + verbose.stderr
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)


def test_validate_reports_the_same_problem(run, project_dir):
    write_config(project_dir, REPOS + web('timeout = "soon"'))
    done = run("validate")
    assert done.returncode == 1
    assert_one_error(done.stderr, "deployments.web[0].timeout: invalid duration")


def test_missing_config_file(run, project_dir, values_tmp, fake_helm):
    before = snapshot(project_dir)
    done = run("apply", "--yes", "-f", "elsewhere/firestream.toml")
    assert done.returncode == 1
    assert_one_error(done.stderr, "configuration file not found: elsewhere/firestream.toml")
    assert "hint: " in done.stderr
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)
    verbose = run("plan", "-v", "-f", "elsewhere/firestream.toml")
    assert_traceback_then_error(verbose.stderr, "elsewhere/firestream.toml")


def test_secret_file_value_never_in_a_type_error(run, project_dir):
    """A type error under [values] says what was expected, never the value."""
    write_config(project_dir, REPOS + web(f'set = [{{ key = "auth.password", value = {{ x = "{PLAIN}" }} }}]'))
    done = run("validate")
    assert done.returncode == 1
    assert_one_error(done.stderr, "deployments.web[0].set[0].value")
    assert PLAIN not in done.stderr


def test_corrupt_state_file_is_named_and_kept(run, project_dir, values_tmp, fake_helm):
    write_config(project_dir, REPOS + web())
    (project_dir / ".firestream").mkdir()
    (project_dir / ".firestream" / "state.json").write_text('{"schema_version": 1, "releases": {')
    before = snapshot(project_dir)
    done = run("apply", "--yes")
    assert done.returncode == 1
    assert_one_error(done.stderr, ".firestream/state.json", "is not valid JSON")
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)


@pytest.mark.parametrize(
    ("flag", "value", "code"),
    [  # not a number: a usage error (2); out of range: an error (1, as with --detailed-exitcode)
        ("--concurrency", "-1", 1),
        ("--concurrency", "many", 2),
        ("--lock-timeout", "-5", 1),
        ("--lock-timeout", "inf", 1),
        ("--lock-timeout", "90000", 1),
    ],
)
def test_bad_run_argument_is_refused_naming_the_flag(flag, value, code, run, project_dir, values_tmp, fake_helm):
    write_config(project_dir, REPOS + web())
    before = snapshot(project_dir)
    done = run("apply", "--yes", flag, value)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "error:" in x]
    assert f"argument {flag}" in line
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)


@pytest.mark.parametrize("command", [("rollback", "--yes"), ("import", "deployment", "legacy")])
@pytest.mark.parametrize("value", ["-5", "inf", "90000"])
def test_every_command_that_takes_the_lock_checks_lock_timeout_first(command, value, run, project_dir,
                                                                     values_tmp, fake_helm):
    write_config(project_dir, REPOS + web())
    before = snapshot(project_dir)
    done = run(*command, "--lock-timeout", value)
    assert done.returncode == 1, done.stderr
    assert_one_error(done.stderr, "argument --lock-timeout", "out of range")
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)


# -- plugins ----------------------------------------------------------------------------------


def test_broken_plugin_used_by_a_release(run, project_dir, values_tmp, fake_helm, broken_plugin):
    write_config(project_dir, REPOS + '[[deployments.e2ebroken]]\nnamespace = "apps"\n' + web())
    before = snapshot(project_dir)
    done = run("apply", "--yes", env=broken_plugin)
    assert done.returncode == 1
    assert_one_error(done.stderr, "deployments.e2ebroken[0]", "plugin 'e2ebroken'",
                     "(firestream-chart-e2ebroken 0.3.0)", "is broken",
                     "No module named 'strimzi_e2e_missing'")
    # where to find the plugin's own traceback, as 'firestream plugins' would say
    assert done.stderr.splitlines()[-1] == "hint: run 'firestream plugins -v' for the traceback"
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)
    for command in ("plan", "validate"):  # every command that loads the project says the same
        other = run(command, env=broken_plugin)
        assert other.returncode == 1
        assert_one_error(other.stderr, "deployments.e2ebroken[0]", "is broken")
        assert "hint: run 'firestream plugins -v' for the traceback" in other.stderr, other.stderr

    verbose = run("apply", "--yes", "-v", env=broken_plugin)
    assert verbose.returncode == 1
    assert_traceback_then_error(verbose.stderr, "plugin 'e2ebroken'")
    # -v shows the plugin's own traceback: where its import failed
    assert "e2ebroken_plugin.py" in verbose.stderr, verbose.stderr
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)


def test_broken_plugin_nobody_uses_takes_nothing_down(run, project_dir, broken_plugin):
    write_config(project_dir, REPOS + web())
    done = run("validate", env=broken_plugin)
    assert done.returncode == 0, done.stderr
    assert "is valid" in done.stdout
    assert "plugin 'e2ebroken'" in done.stderr and "no release uses it" in done.stderr
    assert "Traceback" not in done.stderr

    listed = run("plugins", env=broken_plugin)
    assert listed.returncode == 1
    assert "'e2ebroken' (firestream-chart-e2ebroken 0.3.0)" in listed.stdout
    assert "postgresql" in listed.stdout  # the others still load


@pytest.mark.parametrize("how", ["flag", "env"])
def test_disabled_plugin(how, run, project_dir, values_tmp, fake_helm):
    write_config(project_dir, REPOS + '[[deployments.postgresql]]\npreset = "development"\n')
    before = snapshot(project_dir)
    if how == "flag":
        done = run("apply", "--yes", "--disable-plugin", "postgresql")
    else:
        done = run("apply", "--yes", env={"FIRESTREAM_DISABLE_PLUGINS": "kafka, postgresql"})
    assert done.returncode == 1
    assert_one_error(done.stderr, "deployments.postgresql[0]", "'postgresql'", "disabled")
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)
    # the same file is fine with the plugin enabled
    assert run("validate").returncode == 0


# -- apply: confirmation, a failing helm, Ctrl-C ------------------------------------------------


def three_releases() -> str:
    return REPOS + "".join(
        f'[[deployments.generic]]\nname = "{n}"\nchart = "fixtures/tiny-app"\nversion = "0.1.0"\n'
        f"{deps}\n[deployments.generic.values]\nauth.password = \"{PLAIN}\"\n"
        for n, deps in (("db", ""), ("web", 'depends_on = ["db"]'), ("after", 'depends_on = ["web"]'))
    )


def test_apply_without_yes_off_a_terminal_refuses(run, project_dir, values_tmp, fake_helm):
    write_config(project_dir, three_releases())
    before = snapshot(project_dir)
    done = run("apply")
    assert done.returncode == 1
    assert_one_error(done.stderr, "refusing to apply without confirmation",
                     "stdin is not a terminal")
    assert "hint: pass --yes" in done.stderr
    assert "create" in done.stdout  # the plan was shown
    assert_nothing_written(project_dir, before, values_tmp, fake_helm)


def test_failing_helm_names_release_stage_and_reason(run, project_dir, values_tmp, fake_helm):
    write_config(project_dir, three_releases())
    fake_helm.fail_on("web", "upgrade", "boom: quota exceeded")
    done = run("apply", "--yes")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()
            if line.split() and line.split()[0] in ("db", "web", "after")}
    assert " ok " in rows["db"]
    assert "failed" in rows["web"]
    assert "release 'web' failed at exec" in rows["web"]
    # the summary keeps one line per release; the whole error is in the log lines above it
    assert "boom: quota exceeded" in done.stderr
    assert "(helm uninstalled the failed release)" in done.stderr  # a first install: no rollback
    assert "skipped" in rows["after"] and "dependency 'web' failed" in rows["after"]
    assert PLAIN not in done.stdout + done.stderr
    # the state records what finished; the lock is released; no values file is left
    releases = state_of(project_dir)["releases"]
    assert releases["default/db"]["result"] == "succeeded"
    assert releases["default/web"]["result"] == "failed"
    assert releases["default/web"]["stage_failed"] == "exec"
    assert "default/after" not in releases
    assert not (project_dir / ".firestream" / "lock").exists()
    assert leftovers(values_tmp) == []


def test_failing_helm_with_quiet_is_only_the_error(run, project_dir, fake_helm):
    write_config(project_dir, three_releases())
    fake_helm.fail_on("db", "upgrade", "boom")
    done = run("apply", "--yes", "-q")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert not [line for line in done.stderr.splitlines() if line.startswith("INFO")]
    assert "release 'db' failed at exec" in done.stderr


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["ctrl-c", "sigterm"])
def test_interrupted_apply_stops_records_what_finished_and_releases_the_lock(
    signum, code, project_dir, cli_env, fake_helm, fake_kubectl, values_tmp
):
    """Ctrl-C, and ``kill PID`` (a cancelled CI job, a stopped container) the same way: helm
    stopped, what finished recorded, the lock released, no values file left; exit 128 + signal."""
    write_config(project_dir, REPOS + "".join(
        f'[[deployments.generic]]\nname = "{n}"\nchart = "fixtures/tiny-app"\nversion = "0.1.0"\n'
        f"{deps}\n" for n, deps in (("fast", ""), ("slow", 'depends_on = ["fast"]'),
                                    ("after", 'depends_on = ["slow"]'))))
    fake_helm.set_delay("slow", 600)
    env = {**cli_env, **fake_helm.env, "FIRESTREAM_KUBECTL_BINARY": str(fake_kubectl)}
    proc = subprocess.Popen(  # noqa: S603
        [*FIRESTREAM, "apply", "--yes", "--helm-binary", str(fake_helm.binary)],
        cwd=project_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(6000):  # until slow's helm is running (a guard, not a timing)
            if (fake_helm.release("slow") or {}).get("status") == "pending-install":
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        assert (project_dir / ".firestream" / "lock").exists()
        assert leftovers(values_tmp) != []  # slow's values file, while helm holds it
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)  # slow's helm would sleep 600 s: it was stopped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert "interrupted: starting nothing new" in err  # the scheduler's Ctrl-C path
    assert not (project_dir / ".firestream" / "lock").exists()
    releases = state_of(project_dir)["releases"]
    assert releases["default/fast"]["result"] == "succeeded"
    assert "default/slow" not in releases and "default/after" not in releases
    rows = {line.split()[0]: line.split()[2] for line in out.splitlines()
            if line.split() and line.split()[0] in ("fast", "slow", "after")}
    assert rows == {"fast": "ok", "slow": "cancelled", "after": "not_started"}
    assert leftovers(values_tmp) == []


# -- the real helm: a chart that fails to render, a cluster that cannot be reached --------------


def test_real_helm_render_failure(kube, chart_repo, helm_bin, project_dir, cli_env, values_tmp):
    write_config(project_dir, f"""
        [repositories]
        fixtures = "{chart_repo.url}"

        [[deployments.generic]]
        name = "good"
        chart = "fixtures/tiny-app"
        version = "0.1.0"
        namespace = "{kube.namespace}"

        [[deployments.generic]]
        name = "bad"
        chart = "fixtures/broken"
        version = "0.1.0"
        namespace = "{kube.namespace}"
        depends_on = ["good"]
        [deployments.generic.values]
        auth.password = "{PLAIN}"
        """)
    env = {**cli_env, **kube.env, "FIRESTREAM_KUBECTL_BINARY": str(kube.tools["kubectl"])}
    done = firestream(["apply", "--yes", "--helm-binary", helm_bin, "--kubeconfig", kube.kubeconfig],
                      cwd=project_dir, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("bad ")]
    assert "failed" in row and "release 'bad' failed at exec" in row
    assert "missing is required" in done.stderr  # the whole error in the log lines; the row is one line
    assert PLAIN not in done.stdout + done.stderr
    releases = state_of(project_dir)["releases"]
    assert releases[f"{kube.namespace}/good"]["result"] == "succeeded"
    assert releases[f"{kube.namespace}/bad"]["result"] == "failed"
    assert releases[f"{kube.namespace}/bad"]["stage_failed"] == "exec"
    assert not (project_dir / ".firestream" / "lock").exists()
    assert leftovers(values_tmp) == []


@pytest.fixture
def closed_port():
    """A local port that refuses connections (bound, never listening) while the test runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_real_helm_unreachable_cluster(helm_bin, helm_tools, closed_port, project_dir, cli_env,
                                       values_tmp, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters:
- {{cluster: {{server: "http://127.0.0.1:{closed_port}"}}, name: gone}}
contexts:
- {{context: {{cluster: gone, user: nobody}}, name: gone}}
current-context: gone
users:
- {{name: nobody, user: {{}}}}
""")
    write_config(project_dir, REPOS + web())
    before = snapshot(project_dir)
    env = {**cli_env, "HOME": str(tmp_path), "FIRESTREAM_KUBECTL_BINARY": str(helm_tools["kubectl"])}
    args = ["apply", "--yes", "--helm-binary", helm_bin, "--kubeconfig", kubeconfig]
    done = firestream(args, cwd=project_dir, env=env)
    assert done.returncode == 1
    assert_one_error(done.stderr, "cluster unreachable", f"127.0.0.1:{closed_port}")
    assert "hint: check the kubeconfig" in done.stderr
    assert not (project_dir / ".firestream" / "lock").exists()
    assert not (project_dir / ".firestream" / "state.json").exists()
    assert snapshot(project_dir) == before
    assert leftovers(values_tmp) == []
    verbose = firestream([*args, "-v"], cwd=project_dir, env=env)
    assert_traceback_then_error(verbose.stderr, "cluster unreachable")
