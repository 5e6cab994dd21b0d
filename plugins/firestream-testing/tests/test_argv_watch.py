"""``watch_argv``: the command lines of a process's descendants, read from ``/proc`` while they run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from firestream_testing.argv_watch import assert_not_on_command_lines, watch_argv

SLEEP = shutil.which("sleep") or "/bin/sleep"
NAP = "import time; time.sleep(0.5)"


@pytest.fixture
def my_sleep(tmp_path: Path) -> Path:
    """``sleep`` under a path of this test's own (``argv[0]`` names it)."""
    path = tmp_path / "my-sleep"
    path.symlink_to(SLEEP)
    return path


@pytest.fixture
def tool(tmp_path: Path) -> Path:
    """Python under a name of this test's own: ``[tool, "-c", NAP, ...]`` ignores the rest."""
    path = tmp_path / "tool"
    path.symlink_to(os.path.realpath(sys.executable))
    return path


def test_children_of_this_process_are_seen(my_sleep: Path) -> None:
    with watch_argv() as watcher:
        subprocess.run([my_sleep, "0.5"], check=True)  # noqa: S603
    assert [str(my_sleep), "0.5"] in watcher.argvs
    assert watcher.of("0.5") == [[str(my_sleep), "0.5"]]
    assert watcher.root == os.getpid()


def test_binary_keeps_only_that_program(my_sleep: Path) -> None:
    with watch_argv(binary=my_sleep) as watcher:
        subprocess.run([SLEEP, "0.4"], check=True)  # noqa: S603
        subprocess.run([my_sleep, "0.4"], check=True)  # noqa: S603
    assert watcher.argvs == [[str(my_sleep), "0.4"]]


def test_grandchildren_count_and_strangers_do_not(my_sleep: Path) -> None:
    parent = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.argv[1], '0.5'])",
         str(my_sleep)],
    )
    with watch_argv(parent.pid, binary=my_sleep) as watcher:
        stranger = subprocess.Popen([my_sleep, "0.6"])  # noqa: S603 - a sibling, not a descendant
        parent.wait(timeout=30)
        stranger.wait(timeout=30)
    assert watcher.argvs == [[str(my_sleep), "0.5"]]


def test_values_files_are_recorded_with_their_mode(tmp_path: Path, tool: Path) -> None:
    private = tmp_path / "values.yaml"
    private.write_text("a: 1\n")
    private.chmod(0o600)
    shared = tmp_path / "shared.yaml"
    shared.write_text("b: 2\n")
    shared.chmod(0o644)
    gone = tmp_path / "gone.yaml"
    folder = tmp_path / "firestream-values-x-1-abc"
    with watch_argv(binary=tool) as watcher:
        subprocess.run(  # noqa: S603
            [tool, "-c", NAP, "--values", private, f"--values={shared}", "-f", gone, f"{folder}/v"],
            check=True,
        )
    assert watcher.values_files == {
        str(private): 0o600, str(shared): 0o644, str(gone): None, f"{folder}/v": None,
    }


def test_assert_absent_passes_fails_and_never_shows_the_secret(tool: Path) -> None:
    with watch_argv(binary=tool) as watcher:
        subprocess.run([tool, "-c", NAP, "--password", "hunter22"], check=True)  # noqa: S603
    watcher.assert_absent("other-secret")
    with pytest.raises(AssertionError) as exc:
        watcher.assert_absent("other-secret", "hunter22")
    assert "secret #1 is on a command line" in str(exc.value)
    assert "--password ***" in str(exc.value) and "hunter22" not in str(exc.value)
    with pytest.raises(AssertionError, match="secret #0"):  # across arguments too
        watcher.assert_absent("--password hunter22")


def test_seeing_nothing_proves_nothing(my_sleep: Path) -> None:
    with watch_argv(binary=my_sleep) as watcher:
        pass
    assert watcher.argvs == []
    with pytest.raises(AssertionError, match="saw no command line: nothing was proved"):
        watcher.assert_absent("x")
    with pytest.raises(ValueError, match="empty"):
        assert_not_on_command_lines([["helm"]], [""])


def test_environments_of_children_are_read_and_checked(my_sleep: Path) -> None:
    with watch_argv() as watcher:
        subprocess.run([my_sleep, "0.5"], check=True, env={"WATCHED_VAR": "visible-value-1"})  # noqa: S603
    (env,) = watcher.environ_of("0.5")
    assert env == {"WATCHED_VAR": "visible-value-1"}
    watcher.assert_env_absent("some-other-secret", names=("SECRET_VAR",))
    with pytest.raises(AssertionError, match="secret #0 is in the environment"):
        watcher.assert_env_absent("value-1")
    with pytest.raises(AssertionError, match=r"was given \$WATCHED_VAR"):
        watcher.assert_env_absent(names=("WATCHED_VAR",))
