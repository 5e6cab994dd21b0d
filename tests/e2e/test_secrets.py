"""Secrets never leave the values file: the ``firestream`` command, end to end, real helm.

A project holds two secrets: one from the environment through
``secret_values`` and one written in ``[deployments.x.values]`` under
``auth.password``. ``firestream -v`` (debug logging) applies it with the real
helm 3 and helm 4 against the emulator while ``/proc/*/cmdline`` of every
process it starts is polled. Neither secret may appear on a command line, on
stdout or stderr, in ``.firestream/state.json``, in ``plan --json``,
``status --json``, ``state show --json`` or ``diff``, nor in the error when the
chart fails to render with the secrets in its message. Values reach helm
through files created 0600 and removed afterwards (here in the default
place, ``/dev/shm``); the release really got them.

The last test is static: only ``firestream_core/tools/process.py`` (and the test
kit) may run programs, and never through a shell.
"""

from __future__ import annotations

import ast
import base64
import json
import os
from pathlib import Path

import pytest

import firestream_core
from firestream_core.tools.values import VALUES_DIR_PREFIX

from .conftest import clean_env, firestream, watched, write_config

ENV_SECRET = "e2e-Env-Secret-4f9Kq"  # from $E2E_SECRET_PW via secret_values
PLAIN_SECRET = "e2e-Plain-Pass-8Zr2w"  # written in [values] under auth.password
ROTATED = "e2e-Rotated-Secret-Vb71"  # the env secret after a change


def spellings(*secrets: str) -> list[str]:
    """Each secret as written and base64-encoded (how Secrets and helm show values)."""
    return [*secrets, *(base64.b64encode(s.encode()).decode() for s in secrets)]


def assert_hidden(text: str, *secrets: str) -> None:
    for s in spellings(*secrets):
        assert s not in text, f"a secret ({s[:6]}...) leaked:\n{text}"


def project(folder: Path, *, repo_url: str, namespace: str, chart: str) -> Path:
    return write_config(folder, f"""
        [repositories]
        fixtures = "{repo_url}"

        [[deployments.generic]]
        name = "vault-app"
        chart = "{chart}"
        version = "0.1.0"
        namespace = "{namespace}"

        [deployments.generic.values]
        message = "hello"
        auth.password = "{PLAIN_SECRET}"

        [deployments.generic.secret_values]
        password = {{ env = "E2E_SECRET_PW" }}
        """)


@pytest.fixture
def setup(kube, helm_bin, chart_repo, project_dir):
    """(flags, env) to run firestream on the test's cluster; no FIRESTREAM_TMPDIR: the default place."""
    env = clean_env({**kube.env, "E2E_SECRET_PW": ENV_SECRET,
                     "FIRESTREAM_KUBECTL_BINARY": str(kube.tools["kubectl"])})
    flags = ["-v", "--helm-binary", str(helm_bin), "--kubeconfig", str(kube.kubeconfig)]
    return flags, env


def assert_values_files_private_and_gone(watcher) -> None:
    """Every values file firestream gave helm was 0600 while it ran and is gone now."""
    files = {p: m for p, m in watcher.values_files.items() if VALUES_DIR_PREFIX in p}
    assert files, f"no values file seen on a helm command line: {watcher.argvs}"
    for path, mode in files.items():
        assert mode in (0o600, None), f"{path}: mode {oct(mode or 0)}"
        assert not os.path.exists(path), f"{path} was left behind"
        assert not os.path.exists(os.path.dirname(path)), f"{os.path.dirname(path)} was left behind"


def test_secrets_never_on_argv_in_logs_state_or_output(kube, chart_repo, helm_bin, setup,
                                                        project_dir):
    flags, env = setup
    project(project_dir, repo_url=chart_repo.url, namespace=kube.namespace,
            chart="fixtures/tiny-app")

    done, watcher = watched(["apply", "--yes", *flags], cwd=project_dir, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DEBUG" in done.stderr  # -v really logged at debug level
    assert_hidden(done.stdout + done.stderr, ENV_SECRET, PLAIN_SECRET)

    # the /proc watcher saw helm deploy, and no command line held a secret
    assert watcher.of("upgrade"), watcher.argvs
    watcher.assert_absent(*spellings(ENV_SECRET, PLAIN_SECRET))
    assert_values_files_private_and_gone(watcher)
    # ...nor in a child's environment (/proc/<pid>/environ): helm got the allow-list
    upgrade_envs = watcher.environ_of("upgrade")
    assert upgrade_envs, watcher.argvs
    assert all("PATH" in e and "KUBECONFIG" in e and "HOME" in e for e in upgrade_envs)
    watcher.assert_env_absent(*spellings(ENV_SECRET, PLAIN_SECRET), names=("E2E_SECRET_PW",))

    # ...and yet both reached the release
    cm = json.loads(kube.run([kube.tools["kubectl"], "get", "configmap", "vault-app-tiny-app",
                              "-n", kube.namespace, "-o", "json"]).stdout)
    assert cm["data"]["password"] == ENV_SECRET
    values = json.loads(kube.run([helm_bin, "get", "values", "vault-app", "-n", kube.namespace,
                                  "-o", "json"]).stdout)
    assert values["auth"]["password"] == PLAIN_SECRET

    state = (project_dir / ".firestream" / "state.json").read_text()
    assert "vault-app" in state
    assert_hidden(state, ENV_SECRET, PLAIN_SECRET)

    for args in (["plan", "--json"], ["status", "--json"], ["state", "show", "--json"], ["diff"],
                 ["diff", "--json"]):
        out = firestream([*args, *flags], cwd=project_dir, env=env)
        assert out.returncode == 0, (args, out.stdout + out.stderr)
        assert "vault-app" in out.stdout or args[0] == "diff", (args, out.stdout)
        assert_hidden(out.stdout + out.stderr, ENV_SECRET, PLAIN_SECRET)

    # the secret changes: the plan and the diff say so, showing neither value
    rotated = {**env, "E2E_SECRET_PW": ROTATED}
    plan = firestream(["plan", "--json", *flags], cwd=project_dir, env=rotated)
    assert plan.returncode == 0
    (change,) = json.loads(plan.stdout)["releases"]
    assert change["action"] == "upgrade" and "password" in json.dumps(change)
    diff = firestream(["diff", *flags], cwd=project_dir, env=rotated)
    assert diff.returncode == 0, diff.stderr
    assert "<hidden, changed>" in diff.stdout
    for out in (plan, diff):
        assert_hidden(out.stdout + out.stderr, ENV_SECRET, PLAIN_SECRET, ROTATED)

    again, watcher = watched(["apply", "--yes", *flags], cwd=project_dir, env=rotated)
    assert again.returncode == 0, again.stderr
    assert_hidden(again.stdout + again.stderr, ENV_SECRET, PLAIN_SECRET, ROTATED)
    watcher.assert_absent(*spellings(ENV_SECRET, PLAIN_SECRET, ROTATED))
    assert_values_files_private_and_gone(watcher)


LEAKY_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-leaky
data:
  x: {{ fail (printf "refusing password %s and auth %s" .Values.password .Values.auth.password) }}
"""


def test_render_error_never_shows_the_secret(kube, chart_repo, helm_bin, setup, project_dir):
    """The chart fails to render with both secrets in helm's own error message."""
    flags, env = setup
    chart = project_dir / "charts" / "leaky"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: leaky\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(LEAKY_TEMPLATE)
    # the chart itself shows the value when it fails (so the test can leak at all)
    raw = kube.run([helm_bin, "template", "x", str(chart), "--set", "password=visible",
                    "--set", "auth.password=x"], check=False)
    assert raw.returncode != 0 and "refusing password visible" in raw.stderr

    project(project_dir, repo_url=chart_repo.url, namespace=kube.namespace, chart="./charts/leaky")

    done, watcher = watched(["apply", "--yes", *flags], cwd=project_dir, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("vault-app ")]
    # the summary keeps one line per release (the error shortened); the full text is logged
    assert "release 'vault-app' failed at exec" in row
    assert "refusing password ***" in done.stderr
    assert_hidden(done.stdout + done.stderr, ENV_SECRET, PLAIN_SECRET)
    watcher.assert_absent(*spellings(ENV_SECRET, PLAIN_SECRET))
    assert_values_files_private_and_gone(watcher)
    assert_hidden((project_dir / ".firestream" / "state.json").read_text(), ENV_SECRET, PLAIN_SECRET)
    assert not (project_dir / ".firestream" / "lock").exists()

    for args in (["diff"], ["template"]):
        out = firestream([*args, *flags], cwd=project_dir, env=env)
        assert out.returncode == 1, (args, out.stdout + out.stderr)
        assert "refusing password ***" in out.stdout + out.stderr, (args, out.stdout + out.stderr)
        assert_hidden(out.stdout + out.stderr, ENV_SECRET, PLAIN_SECRET)
    for args in (["status", "--json"], ["state", "show", "--json"]):
        out = firestream([*args, *flags], cwd=project_dir, env=env)
        assert out.returncode == 0 and "vault-app" in out.stdout, (args, out.stdout + out.stderr)
        assert_hidden(out.stdout + out.stderr, ENV_SECRET, PLAIN_SECRET)


# -- a secret equal to a name: the name stays readable -------------------------------------------


def test_a_secret_equal_to_a_name_never_masks_that_name(kube, chart_repo, helm_bin, setup, project_dir):
    """``secret_values`` equal to the namespace and to the release name: every output shows both
    names in clear (no ``***``) and says once that such a secret is printed wherever the name is;
    a real secret beside them is still hidden, and none reaches a child's environment."""
    flags, env = setup
    ns = kube.namespace
    write_config(project_dir, f"""
        [repositories]
        fixtures = "{chart_repo.url}"

        [[deployments.generic]]
        name = "billing"
        chart = "fixtures/tiny-app"
        version = "0.1.0"
        namespace = "{ns}"

        [deployments.generic.secret_values]
        apiKey = {{ env = "BILLING_KEY" }}
        owner = {{ env = "BILLING_OWNER" }}
        password = {{ env = "E2E_SECRET_PW" }}
        """)
    env = {**env, "BILLING_KEY": ns, "BILLING_OWNER": "billing", "FIRESTREAM_CHILD_ENV": "BILLING_*"}
    texts = {}
    for args in (["validate"], ["plan"], ["plan", "--json"]):
        done = firestream([*args, *flags], cwd=project_dir, env=env)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
        texts[" ".join(args)] = done.stdout + done.stderr
    apply, watcher = watched(["apply", "--yes", *flags], cwd=project_dir, env=env)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    texts["apply"] = apply.stdout + apply.stderr
    for args in (["status"], ["status", "--json"], ["diff"]):
        done = firestream([*args, *flags], cwd=project_dir, env=env)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
        texts[" ".join(args)] = done.stdout + done.stderr

    for cmd, text in texts.items():
        assert "***" not in text, (cmd, text)
        assert_hidden(text, ENV_SECRET)
    table = texts["plan"]
    assert any(line.split()[:3] == ["+", "billing", ns] for line in table.splitlines()), table
    plan_json = json.loads(firestream(["plan", "--json", *flags], cwd=project_dir, env=env).stdout)
    assert plan_json["releases"][0]["key"] == f"{ns}/billing"
    assert "upgrade billing" in texts["apply"] and f"--namespace {ns}" in texts["apply"], texts["apply"]
    # the user is told, once per command, by the values path and never the value
    for cmd in ("validate", "plan"):
        warnings = [line for line in texts[cmd].splitlines() if "is not hidden" in line]
        assert len(warnings) == 2, (cmd, texts[cmd])
        assert any("'apiKey'" in w and "namespace" in w for w in warnings), warnings
        assert any("'owner'" in w and "release name" in w for w in warnings), warnings
    # still a secret as a value: plan shows it changed as (sensitive), no child gets the variable
    rotated = firestream(["plan", *flags], cwd=project_dir, env={**env, "BILLING_KEY": "Rotated-Key-9"})
    assert "apiKey: (sensitive) -> (sensitive)" in rotated.stdout, rotated.stdout + rotated.stderr
    assert "Rotated-Key-9" not in rotated.stdout + rotated.stderr
    watcher.assert_env_absent(names=("BILLING_KEY", "BILLING_OWNER"))
    state = (project_dir / ".firestream" / "state.json").read_text()
    assert_hidden(state, ENV_SECRET)


# -- no shell strings: only process.py runs programs --------------------------------------------

PACKAGE = Path(firestream_core.__file__).parent
ALLOWED = {PACKAGE / "tools" / "process.py"}
RUNNERS = {"subprocess", "sh", "pty", "pexpect"}
OS_RUNNERS = {"system", "popen", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve",
              "spawnvp", "spawnvpe", "execl", "execle", "execlp", "execlpe", "execv", "execve",
              "execvp", "execvpe", "posix_spawn", "posix_spawnp", "fork", "forkpty"}


def _offences(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(PACKAGE.parent)
    out = [f"{where}: shell=True" for line in text.splitlines()
           if "shell=True" in line.replace(" ", "")]
    for node in ast.walk(ast.parse(text, str(path))):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            out += [f"{where}:{line}: import {a.name}" for a in node.names
                    if a.name.split(".")[0] in RUNNERS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in RUNNERS:
            out.append(f"{where}:{line}: from {node.module} import ...")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            out += [f"{where}:{line}: from os import {a.name}" for a in node.names
                    if a.name in OS_RUNNERS]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "os" and node.attr in OS_RUNNERS:
                out.append(f"{where}:{line}: os.{node.attr}")
            elif node.value.id == "asyncio" and node.attr.startswith("create_subprocess"):
                out.append(f"{where}:{line}: asyncio.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            out.append(f"{where}:{line}: __import__(...)")
    return out


def test_only_process_py_runs_programs_and_never_through_a_shell():
    files = sorted(PACKAGE.rglob("*.py"))
    assert PACKAGE / "tools" / "helm.py" in files and PACKAGE / "cli" / "commands" / "apply.py" in files
    offences = []
    for path in files:
        if path in ALLOWED:
            continue
        offences += _offences(path)
    assert offences == [], "\n".join(offences)
    # process.py itself runs argument lists, never through a shell
    shell = [o for o in _offences(PACKAGE / "tools" / "process.py")
             if o.endswith(("shell=True", "os.system", "os.popen"))]
    assert shell == [], "\n".join(shell)
