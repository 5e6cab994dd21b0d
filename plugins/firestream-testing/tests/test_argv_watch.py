"""``watch_argv``: the command lines of a process's descendants, read from ``/proc`` while they run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from firestream_testing.argv_watch import ArgvWatcher, assert_not_on_command_lines, watch_argv

SLEEP = shutil.which("sleep") or "/bin/sleep"
HOLD = "import sys; sys.stdin.read()"  # a child that lives until its stdin closes


def until_seen(watcher: ArgvWatcher, word: str) -> list[list[str]]:
    """Wait until the watcher has seen a command line holding ``word`` (children are held
    alive meanwhile, so the test never depends on how fast the watcher polls)."""
    deadline = time.monotonic() + 60
    while not watcher.of(word):
        assert time.monotonic() < deadline, f"the watcher never saw {word!r}"
        time.sleep(0.01)
    return watcher.of(word)


def end(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def held(argv: list[str | Path]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=subprocess.PIPE)  # noqa: S603


@pytest.fixture
def my_sleep(tmp_path: Path) -> Path:
    """``sleep`` under a path of this test's own (``argv[0]`` names it)."""
    path = tmp_path / "my-sleep"
    path.symlink_to(SLEEP)
    return path


@pytest.fixture
def tool(tmp_path: Path) -> Path:
    """Python under a name of this test's own: ``[tool, "-c", HOLD, ...]`` ignores the rest."""
    path = tmp_path / "tool"
    path.symlink_to(os.path.realpath(sys.executable))
    return path


def test_children_of_this_process_are_seen(my_sleep: Path) -> None:
    with watch_argv() as watcher:
        child = held([my_sleep, "61"])
        until_seen(watcher, "61")
        end(child)
    assert [str(my_sleep), "61"] in watcher.argvs
    assert watcher.of("61") == [[str(my_sleep), "61"]]
    assert watcher.root == os.getpid()


def test_binary_keeps_only_that_program(my_sleep: Path) -> None:
    with watch_argv(binary=my_sleep) as watcher:
        other = held([SLEEP, "62"])  # alive for as long as the watcher looks
        mine = held([my_sleep, "62"])
        until_seen(watcher, "62")
        end(mine)
        end(other)
    assert watcher.argvs == [[str(my_sleep), "62"]]


def test_grandchildren_count_and_strangers_do_not(my_sleep: Path) -> None:
    parent = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.argv[1], '63'])",
         str(my_sleep)],
    )
    with watch_argv(parent.pid, binary=my_sleep) as watcher:
        stranger = held([my_sleep, "64"])  # a sibling, not a descendant: alive all along
        until_seen(watcher, "63")
        (grandchild,) = [pid for pid, seen in watcher.by_pid.items() if [str(my_sleep), "63"] in seen]
        os.kill(grandchild, signal.SIGTERM)
        parent.wait(timeout=30)
        end(stranger)
    assert watcher.argvs == [[str(my_sleep), "63"]]


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
        child = held([tool, "-c", HOLD, "--values", private, f"--values={shared}", "-f", gone, f"{folder}/v"])
        until_seen(watcher, str(private))
        child.communicate(b"")
    assert watcher.values_files == {
        str(private): 0o600, str(shared): 0o644, str(gone): None, f"{folder}/v": None,
    }


def test_assert_absent_passes_fails_and_never_shows_the_secret(tool: Path) -> None:
    with watch_argv(binary=tool) as watcher:
        child = held([tool, "-c", HOLD, "--password", "hunter22"])
        until_seen(watcher, "hunter22")
        child.communicate(b"")
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
