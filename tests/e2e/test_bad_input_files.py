"""Hostile input files: one readable error, before any cluster call, and the state untouched.

The ``firestream`` command as a subprocess (``python -m firestream_core.cli.main``) on the
recording fake helm, each run under a memory limit (``RLIMIT_AS``) and a timeout, so that
a regression fails here instead of hanging on a FIFO or eating the machine's memory on
``/dev/zero``:

* ``--values FILE`` gets the checks of a config ``values_files`` entry (a regular file, at
  most 8 MiB, UTF-8, one YAML document holding a mapping) and ``--set`` helm's key syntax,
  when the project loads: ``plan`` and ``apply`` stop with one error naming the flag and
  the file, helm is never run, and an earlier apply's state stays byte for byte;
* the project file, the state file, its journal, ``secret_values`` files and saved plans
  are read with a bound: ``/dev/zero``, a FIFO or a 3 GB sparse file is refused naming it;
* a "billion laughs" (377 bytes of YAML aliases) as a values file, inline
  ``yaml_files_content`` or ``--values`` is refused at once ("too many YAML aliases"),
  as helm refuses it, instead of expanding it.
"""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import FIRESTREAM, assert_one_error, leftovers, snapshot, write_config

TIMEOUT = 60
MEMORY = 2 * 1024**3  # address space of the child: enough for firestream, not for /dev/zero read whole

CONFIG = """
[repositories]
fixtures = "http://127.0.0.1:9/fixtures"

[[deployments.web]]
name = "db"
chart = "fixtures/tiny-app"
version = "0.1.0"

[[deployments.web]]
name = "api"
chart = "fixtures/tiny-app"
version = "0.1.0"
depends_on = ["db"]
"""


def _bomb(levels: int = 10) -> str:
    """A "billion laughs": each level a list of 9 aliases of the one before (377 bytes)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnopqrstuvwxyz"
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * 9) + "]")
    return "\n".join(lines) + "\n"


BOMB = _bomb()


def _limit_memory() -> None:  # preexec_fn: in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


@pytest.fixture
def run(project_dir: Path, cli_env: dict[str, str], fake_helm: Any, fake_kubectl: Path
        ) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run(*args)``: firestream in the project, on the fake helm, bounded in memory and time."""
    env = {**cli_env, **fake_helm.env, "FIRESTREAM_KUBECTL_BINARY": str(fake_kubectl)}

    def go(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - an argument list, our own interpreter
            [*FIRESTREAM, *args, "--helm-binary", str(fake_helm.binary)], cwd=project_dir, env=env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT, check=False,
            preexec_fn=_limit_memory,  # noqa: PLW1509 - only setrlimit, no lock taken
        )

    return go


@pytest.fixture
def applied(project_dir: Path, run: Callable[..., Any], fake_helm: Any) -> dict[str, tuple[int, str]]:
    """The project after a successful apply (its state recorded); the folder's snapshot."""
    write_config(project_dir, CONFIG)
    done = run("apply", "--yes")
    assert done.returncode == 0, done.stderr
    assert (project_dir / ".firestream" / "state.json").is_file()
    fake_helm.reset_calls()
    return snapshot(project_dir)


def _values_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.yaml"
    if kind == "invalid":
        path.write_text("a: [1\n")
    elif kind == "list":
        path.write_text("- a\n- b\n")
    elif kind == "several":
        path.write_text("a: 1\n---\nb: 2\n")
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "missing":
        pass
    elif kind == "bomb":
        path.write_text(BOMB)
    return path


VALUES_CASES = {
    "invalid": "is not valid YAML at line 2, column 1",
    "list": "is YAML holding a list, not a mapping of values",
    "several": "holds several YAML documents",
    "zero": "is not a regular file",
    "fifo": "is not a regular file",
    "missing": "not found",
    "bomb": "has too many YAML aliases",
}


@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"]], ids=["plan", "apply"])
@pytest.mark.parametrize("kind", list(VALUES_CASES))
def test_a_bad_values_flag_is_refused_before_any_cluster_call_and_the_state_is_kept(
    kind: str, command: list[str], tmp_path: Path, project_dir: Path, values_tmp: Path,
    run: Callable[..., subprocess.CompletedProcess[str]], fake_helm: Any, applied: dict[str, Any],
) -> None:
    bad = _values_file(tmp_path, kind)
    done = run(*command, "--values", str(bad))
    assert done.returncode == 1, (done.stdout, done.stderr)
    message = assert_one_error(done.stderr, f"--values {bad}: values file", VALUES_CASES[kind])
    assert len(message.splitlines()) == 1, message
    assert fake_helm.calls() == []  # not even helm's version or list
    assert snapshot(project_dir) == applied  # no release marked failed: the state is as it was
    assert leftovers(values_tmp) == []


@pytest.mark.parametrize("key", ["a[", "a..b", "x]", "a[0]b", "a[999999999]"])
def test_a_bad_set_path_is_refused_before_any_cluster_call(
    key: str, project_dir: Path, run: Callable[..., subprocess.CompletedProcess[str]], fake_helm: Any,
    applied: dict[str, Any],
) -> None:
    done = run("apply", "--yes", "--set", f"{key}=secret-value-9Zq")
    assert done.returncode == 1, done.stderr
    assert_one_error(done.stderr, f"--set {key}: invalid values key")
    assert "secret-value-9Zq" not in done.stderr
    assert fake_helm.calls() == []
    assert snapshot(project_dir) == applied


def test_every_bad_override_is_named_in_one_error(
    tmp_path: Path, project_dir: Path, run: Callable[..., subprocess.CompletedProcess[str]], fake_helm: Any,
    applied: dict[str, Any],
) -> None:
    done = run("plan", "--values", str(_values_file(tmp_path, "list")), "--set", "a..b=1",
               "--values", str(_values_file(tmp_path, "invalid")))
    assert done.returncode == 1
    message = assert_one_error(done.stderr, "--set / --values are invalid", "list.yaml", "invalid.yaml",
                               "--set a..b")
    assert len(message.splitlines()) == 4, message
    assert fake_helm.calls() == []


def test_a_good_values_flag_still_reaches_helm(
    tmp_path: Path, project_dir: Path, run: Callable[..., subprocess.CompletedProcess[str]], fake_helm: Any,
    applied: dict[str, Any],
) -> None:
    """The control: a good ``--values`` and ``--set`` pass the checks and are applied."""
    good = tmp_path / "good.yaml"
    good.write_text("replicaCount: 2\n")
    done = run("apply", "--yes", "--values", str(good), "--set", "image.tag=2")
    assert done.returncode == 0, done.stderr
    # two upgrades (not apply's check of each for immutable fields: helm's --dry-run=server of it)
    assert len([c for c in fake_helm.calls("upgrade") if "--dry-run=server" not in c]) == 2


# -- bounded reads: the project file, the state, secret files ------------------------------------


def _hostile(path: Path, kind: str) -> None:
    path.unlink(missing_ok=True)
    if kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:  # a 3 GB sparse file: no disk used, far over every limit
        with path.open("wb") as f:
            f.truncate(3 * 1024**3)


HOSTILE = {"zero": "is not a regular file", "fifo": "is not a regular file", "sparse": "is larger than"}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_project_file_is_refused_naming_it(
    kind: str, project_dir: Path, run: Callable[..., subprocess.CompletedProcess[str]], fake_helm: Any,
) -> None:
    _hostile(project_dir / "z.toml", kind)
    for command in (["validate"], ["apply", "--yes"]):
        done = run(*command, "-f", "z.toml")
        assert done.returncode == 1, done.stderr
        assert_one_error(done.stderr, "configuration file z.toml", HOSTILE[kind])
        if kind == "sparse":
            assert "larger than 16 MiB" in done.stderr
    assert fake_helm.calls() == []


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("which", ["state.json", "state.journal"])
def test_a_hostile_state_file_is_refused_before_any_cluster_call(
    kind: str, which: str, project_dir: Path, run: Callable[..., subprocess.CompletedProcess[str]],
    fake_helm: Any, applied: dict[str, Any],
) -> None:
    target = project_dir / ".firestream" / which
    _hostile(target, kind)
    before = snapshot(project_dir)
    for command in (["plan"], ["apply", "--yes"], ["destroy", "--yes"]):
        done = run(*command)
        assert done.returncode == 1, done.stderr
        what = "state file" if which == "state.json" else "state journal"
        assert_one_error(done.stderr, f"{what} {target}", HOSTILE[kind])
        if kind == "sparse":
            assert "larger than 64 MiB" in done.stderr
    assert fake_helm.calls() == []
    assert snapshot(project_dir) == before


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_secret_file_is_one_problem_naming_the_key(
    kind: str, project_dir: Path, run: Callable[..., subprocess.CompletedProcess[str]], fake_helm: Any,
) -> None:
    write_config(project_dir, CONFIG + '\n[deployments.web.secret_values]\n"auth.password" = { file = "pw" }\n')
    _hostile(project_dir / "pw", kind)
    for command in (["validate"], ["apply", "--yes"]):
        done = run(*command)
        assert done.returncode == 1, done.stderr
        assert_one_error(done.stderr, "deployments.web[1].secret_values.auth.password: secret file 'pw'",
                         HOSTILE[kind])
        if kind == "sparse":
            assert "larger than 1 MiB" in done.stderr
    assert fake_helm.calls() == []
    assert not (project_dir / ".firestream" / "state.json").exists()


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_saved_plan_is_refused_naming_it(
    kind: str, tmp_path: Path, project_dir: Path, run: Callable[..., subprocess.CompletedProcess[str]],
    fake_helm: Any,
) -> None:
    write_config(project_dir, CONFIG)
    plan = tmp_path / "saved.plan"  # outside the folder the snapshot reads
    _hostile(plan, kind)
    before = snapshot(project_dir)
    done = run("apply", str(plan), "--yes")
    assert done.returncode == 1, done.stderr
    assert_one_error(done.stderr, f"{plan}: cannot read the saved plan ({HOSTILE[kind]}")
    if kind == "sparse":
        assert "larger than 64 MiB" in done.stderr
    assert fake_helm.calls() == []
    assert snapshot(project_dir) == before


# -- a "billion laughs" -------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["values_files", "yaml_files_content"])
def test_an_alias_bomb_is_refused_at_once(
    where: str, project_dir: Path, run: Callable[..., subprocess.CompletedProcess[str]], fake_helm: Any,
) -> None:
    assert len(BOMB) == 377
    if where == "values_files":
        (project_dir / "bomb.yaml").write_text(BOMB)
        extra = 'values_files = ["bomb.yaml"]\n'
        needles = ["deployments.web[0].values_files[0]: values file 'bomb.yaml'"]
    else:
        extra = f"yaml_files_content = [{{ filename = 'x.yaml', yaml_content = '''{BOMB}''' }}]\n"
        needles = ["deployments.web[0].yaml_files_content[0].yaml_content"]
    write_config(project_dir, CONFIG.replace('name = "db"\n', 'name = "db"\n' + extra, 1))
    for command in (["validate"], ["plan"], ["apply", "--yes"]):
        done = run(*command)
        assert done.returncode == 1, done.stderr
        assert_one_error(done.stderr, *needles, "has too many YAML aliases")
    assert fake_helm.calls() == []
