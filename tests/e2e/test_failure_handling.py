"""A broken plugin, a bad journal line, a tool that cannot start, a state that cannot be
written: one readable message, a non-zero exit, no traceback, nothing lost.

Each case runs ``firestream`` as a subprocess on the recording fake helm
(``tests/e2e/conftest.py``). A plugin is installed for the subprocess only: a
``*.dist-info`` with its ``firestream.charts`` entry point and the module, on
``PYTHONPATH``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from .conftest import assert_one_error, firestream, write_config

REPOS = """
[repositories]
fixtures = "http://127.0.0.1:9/fixtures"
"""


def release(name: str, deps: tuple[str, ...] = ()) -> str:
    dep = f"depends_on = [{', '.join(repr(d) for d in deps)}]\n" if deps else ""
    return f'[[deployments.generic]]\nname = "{name}"\nchart = "fixtures/tiny-app"\nversion = "0.1.0"\n{dep}\n'


def plugin_site(root: Path, source: str, name: str = "e2equirk") -> dict[str, str]:
    """Install the plugin module ``source`` for a subprocess; the variables to add to its env."""
    dist = root / f"firestream_chart_{name}-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: firestream-chart-{name}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[firestream.charts]\n{name} = {name}_plugin\n")
    (root / f"{name}_plugin.py").write_text(textwrap.dedent(source))
    return {"PYTHONPATH": str(root), "FIRESTREAM_PLUGIN_CACHE": "off"}


@pytest.fixture
def run(project_dir, cli_env, fake_helm, fake_kubectl):
    """``run(*args, env=None)``: firestream in the project, on the fake helm and kubectl."""
    base = {**cli_env, **fake_helm.env, "FIRESTREAM_KUBECTL_BINARY": str(fake_kubectl)}

    def go(*args: str, env: dict[str, str] | None = None):
        return firestream([*args, "--helm-binary", fake_helm.binary], cwd=project_dir,
                          env={**base, **(env or {})})

    return go


def state_of(project_dir: Path) -> dict:
    return json.loads((project_dir / ".firestream" / "state.json").read_text())


def summary_rows(stdout: str, *names: str) -> dict[str, str]:
    return {line.split()[0]: line for line in stdout.splitlines() if line.split() and line.split()[0] in names}


# -- a plugin's hook returning the wrong type ------------------------------------------------


def test_on_deploy_failure_returning_an_int_keeps_and_records_the_real_error(run, project_dir, tmp_path):
    env = plugin_site(tmp_path / "site", """
        from firestream_core import hookimpl

        @hookimpl
        def pre_exec(chart):
            raise RuntimeError("pre_exec exploded")

        @hookimpl
        def on_deploy_failure(chart):
            return 12345
    """)
    write_config(project_dir, REPOS + release("web"))
    done = run("apply", "--yes", env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    row = summary_rows(done.stdout, "web")["web"]
    assert "failed" in row and "release 'web' failed at pre_exec" in row
    assert "not iterable" not in done.stdout + done.stderr
    assert "RuntimeError: pre_exec exploded" in done.stderr
    assert "on_deploy_failure of plugin 'e2equirk' returned an int" in done.stderr
    web = state_of(project_dir)["releases"]["default/web"]
    assert (web["result"], web["stage_failed"]) == ("failed", "pre_exec")


def test_check_prerequisites_returning_a_str_fails_the_release_naming_the_plugin(run, project_dir, tmp_path,
                                                                                  fake_helm):
    env = plugin_site(tmp_path / "site", """
        from firestream_core import hookimpl

        @hookimpl
        def check_prerequisites(chart):
            return "abc"
    """)
    write_config(project_dir, REPOS + release("web"))
    done = run("apply", "--yes", env=env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "Prerequisite not met: a" not in done.stderr  # not one problem per character
    assert ("release 'web' failed at check_prerequisites: plugin 'e2equirk': check_prerequisites "
            "returned a str, not a list of problems (strings) or None") in done.stderr
    assert fake_helm.calls("upgrade") == []


def test_contributed_values_that_are_not_plain_data_are_one_error_before_any_change(
    run, project_dir, tmp_path, fake_helm
):
    env = plugin_site(tmp_path / "site", """
        from firestream_core import hookimpl

        @hookimpl
        def contribute_values(chart):
            return {"image": {"tag": object()}}
    """)
    write_config(project_dir, REPOS + release("web"))
    for command in (["plan"], ["apply", "--yes"]):
        done = run(*command, env=env)
        assert done.returncode == 1, done.stdout
        assert_one_error(done.stderr, "plugin 'e2equirk'", "contribute_values", "release 'web'",
                         "an object at key 'image.tag'")
        assert "<object object" not in done.stdout + done.stderr
    assert fake_helm.calls("upgrade") == []
    assert not (project_dir / ".firestream" / "state.json").exists()


# -- a plugin's stage raising KeyboardInterrupt --------------------------------------------


@pytest.mark.parametrize("stage", ["check_prerequisites", "pre_exec", "exec", "post_exec", "validate",
                                   "on_deploy_failure"])
def test_a_stage_raising_keyboard_interrupt_is_handled_as_ctrl_c(stage, run, project_dir, tmp_path):
    """It ended the release ``cancelled`` but the run went on and exited 1; a Ctrl-C exits 130,
    starts nothing new, keeps in the state what finished and releases the lock."""
    fails_first = ("@hookimpl\ndef pre_exec(chart):\n    if chart.chart_info.name == 'web':\n"
                   "        raise RuntimeError('pre_exec exploded')\n") if stage == "on_deploy_failure" else ""
    env = plugin_site(tmp_path / "site", f"""
from firestream_core import hookimpl
{fails_first}
@hookimpl
def {stage}(chart):
    if chart.chart_info.name == "web":
        raise KeyboardInterrupt
""")
    write_config(project_dir, REPOS + release("db") + release("web", ("db",)) + release("after", ("web",)))
    done = run("apply", "--yes", env=env)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert "interrupted: starting nothing new" in done.stderr  # the scheduler's Ctrl-C path
    rows = {line.split()[0]: line.split()[2] for line in done.stdout.splitlines()
            if line.split() and line.split()[0] in ("db", "web", "after")}
    assert rows == {"db": "ok", "web": "cancelled", "after": "not_started"}
    assert "interrupted in" in done.stdout
    assert sorted(state_of(project_dir)["releases"]) == ["default/db"]
    assert sorted(p.name for p in (project_dir / ".firestream").iterdir()) == ["state.json"]  # no lock


# -- a tool that cannot be started -----------------------------------------------------------


@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"]])
def test_a_helm_that_is_not_a_program_is_one_error_with_the_hint(command, project_dir, cli_env, tmp_path):
    """It was ``error: unexpected OSError: [Errno 8] Exec format error``."""
    helm = tmp_path / "bin" / "helm"
    helm.parent.mkdir()
    helm.write_text("this is not a program\n")
    helm.chmod(0o755)
    write_config(project_dir, REPOS + release("web"))
    done = firestream([*command, "--helm-binary", helm], cwd=project_dir, env=cli_env)
    assert done.returncode == 1
    message = assert_one_error(done.stderr, f"cannot run '{helm}': Exec format error")
    assert "unexpected" not in message
    assert "hint: install helm" in done.stderr
    assert not (project_dir / ".firestream" / "state.json").exists()


def test_a_missing_kubectl_refuses_apply_before_helm_changes_anything(
    project_dir, cli_env, fake_helm, tmp_path
):
    """It used to install the release with helm, then fail at validate and roll it back."""
    write_config(project_dir, REPOS + release("web"))
    kubectl = tmp_path / "nowhere" / "kubectl"
    done = firestream(["apply", "--yes", "--helm-binary", fake_helm.binary], cwd=project_dir,
                      env={**cli_env, **fake_helm.env, "FIRESTREAM_KUBECTL_BINARY": str(kubectl)})
    assert done.returncode == 1
    assert_one_error(done.stderr, f"cannot run '{kubectl}': not found or not executable",
                     "nothing was changed")
    assert "hint: install kubectl" in done.stderr
    assert fake_helm.calls("upgrade") == [] and fake_helm.releases() == []
    assert not (project_dir / ".firestream" / "state.json").exists()
    assert not (project_dir / ".firestream" / "lock").exists()


# -- a state (or lock) that cannot be written --------------------------------------------------

FULL_DISK = """
import errno, os
from firestream_core.state import store

def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

store._write = _no_space           # the journal's os.write
store.atomic_write = _no_space     # state.json
"""

READ_ONLY = """
import errno, os
_mkdir = os.mkdir

def _read_only(path, *args, **kwargs):
    if str(path).endswith(".firestream"):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
    return _mkdir(path, *args, **kwargs)

os.mkdir = _read_only
"""


def injected(root: Path, code: str) -> dict[str, str]:
    """A ``sitecustomize`` making the subprocess's disk full or read-only (we run as root:
    chmod cannot make a folder read-only)."""
    root.mkdir(parents=True)
    (root / "sitecustomize.py").write_text(textwrap.dedent(code))
    return {"PYTHONPATH": str(root)}


def one_error_line(stderr: str, *needles: str) -> str:
    assert "Traceback" not in stderr and "unexpected" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    for needle in needles:
        assert needle in errors[0], stderr
    assert stderr.rstrip("\n").splitlines()[-1].startswith("hint: "), stderr
    return errors[0]


@pytest.mark.parametrize("case", ["state-folder-is-a-file", "lock-is-a-folder", "read-only"])
def test_a_lock_that_cannot_be_taken_is_one_error_before_any_change(case, run, project_dir, fake_helm, tmp_path):
    write_config(project_dir, REPOS + release("web"))
    env = None
    if case == "state-folder-is-a-file":
        (project_dir / ".firestream").write_text("")
        expect = [f"cannot write the lock at {project_dir / '.firestream'}: it is not a folder"]
    elif case == "lock-is-a-folder":
        (project_dir / ".firestream" / "lock").mkdir(parents=True)
        expect = [f"cannot write the lock at {project_dir / '.firestream' / 'lock'}: Is a directory"]
    else:
        env = injected(tmp_path / "inject", READ_ONLY)
        expect = [f"cannot write the lock at {project_dir / '.firestream'}: Read-only file system"]
    done = run("apply", "--yes", env=env)
    assert done.returncode == 1
    assert_one_error(done.stderr, *expect)
    assert fake_helm.calls("upgrade") == []


def test_a_full_disk_mid_run_still_prints_the_summary_and_the_next_run_recovers(
    run, project_dir, fake_helm, tmp_path
):
    """It was: the deployed release reported ``create failed ... No space left on device``, its
    dependents skipped, no summary, ``unexpected OSError``, an empty journal."""
    write_config(project_dir, REPOS + release("a") + release("b", ("a",)))
    done = run("apply", "--yes", "--concurrency", "1", env=injected(tmp_path / "inject", FULL_DISK))
    assert done.returncode == 1
    one_error_line(done.stderr, "cannot write the state at", "No space left on device")
    rows = summary_rows(done.stdout, "a", "b")
    assert " ok " in rows["a"] and "not recorded in the state" in rows["a"], done.stdout
    assert "not_started" in rows["b"].replace("not started", "not_started"), done.stdout
    assert "FAILED in" in done.stdout  # the verdict line of the summary
    assert [c[c.index("upgrade") + 1] for c in fake_helm.calls("upgrade")] == ["a"]

    again = run("apply", "--yes", "--concurrency", "1")  # the disk has space again
    assert again.returncode == 0, again.stdout + again.stderr
    assert [c[c.index("upgrade") + 1] for c in fake_helm.calls("upgrade")] == ["a", "b"]  # a not redone
    assert sorted(state_of(project_dir)["releases"]) == ["default/a", "default/b"]
