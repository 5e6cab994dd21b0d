"""The project lock, across real processes."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from firestream_core.errors import StateError, StateLockedError
from firestream_core.state.lock import LockInfo, ProjectLock, force_unlock, lock_path, read_lock
from firestream_core.state.store import StateStore

HOLDER = textwrap.dedent(
    """
    import sys
    from firestream_core.state import lock as L
    from firestream_core.state.lock import ProjectLock
    from firestream_core.errors import StateLockedError
    if sys.argv[3:] == ["racer"]:
        # the racer that gets to test the stale lock's holder says so and waits
        # until told: every other racer tries meanwhile, and only the lock's own
        # mechanism can keep them apart
        real = L._pid_running
        def checking(pid):
            print("checking", flush=True)
            sys.stdin.readline()
            return real(pid)
        L._pid_running = checking
        print("ready", flush=True)
        sys.stdin.readline()
    try:
        lock = ProjectLock(sys.argv[1], sys.argv[2]).__enter__()
    except StateLockedError as exc:
        print("locked", exc, flush=True)
        sys.exit(1)
    print("got", flush=True)
    sys.stdin.readline()  # hold until told (or killed)
    lock.__exit__(None, None, None)
    print("released", flush=True)
    """
)


def spawn(project: Path, command: str = "firestream apply", *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - the test interpreter
        [sys.executable, "-c", HOLDER, str(project), command, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate("\n", timeout=30)
    return out


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    proc.wait()
    return proc.pid


def write_lock(project: Path, **fields: object) -> None:
    data = {"pid": dead_pid(), "host": socket.gethostname(), "since": "2026-01-01T00:00:00Z",
            "command": "firestream apply", "id": "old"}
    data.update(fields)
    path = lock_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_lock_file_records_the_holder_and_is_removed_on_exit(tmp_path):
    with ProjectLock(tmp_path, "firestream apply") as lock:
        info = read_lock(tmp_path)
        assert info == lock.info
        assert info.pid == os.getpid()
        assert info.host == socket.gethostname()
        assert info.command == "firestream apply"
        assert info.since.endswith("Z")
    assert not lock_path(tmp_path).exists()
    assert read_lock(tmp_path) is None


def test_second_acquire_in_another_process_is_refused_naming_the_holder(tmp_path):
    holder = spawn(tmp_path, "firestream apply --target db")
    try:
        assert holder.stdout.readline().strip() == "got"
        with pytest.raises(StateLockedError) as info:
            ProjectLock(tmp_path, "firestream destroy").acquire()
        message = str(info.value)
        assert f"locked by pid {holder.pid} on host {socket.gethostname()} since " in message
        assert "running 'firestream apply --target db'" in message
        assert "firestream state unlock --force" in info.value.hint
        # and the other way round: a process refused while this one holds it
    finally:
        assert finish(holder).strip() == "released"
    with ProjectLock(tmp_path, "firestream apply"):
        other = spawn(tmp_path)
        out = finish(other)
        assert other.returncode == 1
        assert out.startswith("locked") and f"pid {os.getpid()}" in out


def test_a_second_lock_in_the_same_process_is_refused(tmp_path):
    with ProjectLock(tmp_path, "firestream apply"):
        with pytest.raises(StateLockedError, match=f"pid {os.getpid()}"):
            StateStore(tmp_path).lock("firestream plan").acquire()
    assert not lock_path(tmp_path).exists()


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_warning(tmp_path, caplog):
    write_lock(tmp_path, command="firestream apply --yes")
    old = read_lock(tmp_path)
    with caplog.at_level(logging.WARNING, logger="firestream_core.state.lock"):
        with ProjectLock(tmp_path, "firestream apply") as lock:
            assert read_lock(tmp_path) == lock.info
            assert lock.info.pid == os.getpid()
    assert f"taking over the lock of pid {old.pid}" in caplog.text
    assert "firestream apply --yes" in caplog.text
    assert not lock_path(tmp_path).exists()


def test_lock_of_a_killed_holder_is_taken_over(tmp_path):
    holder = spawn(tmp_path)
    assert holder.stdout.readline().strip() == "got"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert read_lock(tmp_path).pid == holder.pid  # left behind
    with ProjectLock(tmp_path, "firestream apply") as lock:
        assert lock.info.pid == os.getpid()


HOLDER_WITH_CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from firestream_core.state.lock import ProjectLock
    from firestream_core.tools.process import Runner
    lock = ProjectLock(sys.argv[1], "firestream apply").__enter__()
    runner = Runner()
    threading.Thread(target=runner.run, args=(["sleep", "60"],), daemon=True).start()
    while not runner.running():
        time.sleep(0.01)
    print(runner.running()[0].pid, flush=True)
    sys.stdin.readline()  # hold until killed
    """
)


def test_the_lock_of_a_killed_holder_is_not_taken_over_while_a_program_it_started_runs(tmp_path):
    """``kill -9`` of firestream leaves its helm running (its own session, so a Ctrl-C in the
    terminal reaches firestream only): the next run took the lock over at once, planned the
    release helm still worked on as ``pending-*`` and 'recovered' it (uninstall, rollback)
    under that helm. The children keep the holder's ``flock``: the lock is taken over only
    once they are gone too."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER_WITH_CHILD, str(tmp_path)],  # noqa: S603
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    child = int(holder.stdout.readline())
    try:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with pytest.raises(StateLockedError) as info:
            ProjectLock(tmp_path, "firestream apply").__enter__()
        assert f"pid {holder.pid} " in str(info.value)
        assert "that process is gone, but a program it started still runs" in str(info.value)
        assert "wait for it to end" in info.value.hint
    finally:
        os.killpg(child, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the orphan is reaped by init
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    with ProjectLock(tmp_path, "firestream apply") as lock:
        assert lock.info.pid == os.getpid()


def test_processes_racing_for_a_stale_lock_get_it_exactly_once(tmp_path):
    write_lock(tmp_path)
    procs = [spawn(tmp_path, f"racer {i}", "racer") for i in range(6)]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 6
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        first_lines = [p.stdout.readline().split()[0] for p in procs]
        assert sorted(first_lines) == ["checking"] + ["locked"] * 5
        winner = procs[first_lines.index("checking")]
        winner.stdin.write("\n")  # the others have all tried: let it go on
        winner.stdin.flush()
        assert winner.stdout.readline().split()[0] == "got"
        assert read_lock(tmp_path).pid == winner.pid
    finally:
        for p in procs:
            finish(p)


def test_lock_from_another_host_is_never_taken_over(tmp_path):
    write_lock(tmp_path, host="ci-runner-7")
    with pytest.raises(StateLockedError, match="on host ci-runner-7") as info:
        ProjectLock(tmp_path, "firestream apply").acquire()
    assert "another host" in info.value.hint
    assert read_lock(tmp_path).host == "ci-runner-7"


def test_lock_naming_a_running_process_is_not_taken_over(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)  # noqa: S603
    try:
        write_lock(tmp_path, pid=sleeper.pid)
        with pytest.raises(StateLockedError, match=f"pid {sleeper.pid}"):
            ProjectLock(tmp_path, "firestream apply").acquire()
    finally:
        sleeper.communicate(b"")


def test_force_unlock(tmp_path):
    assert force_unlock(tmp_path) is None
    write_lock(tmp_path, host="elsewhere")
    with pytest.raises(StateError, match="not the one with id nope"):
        force_unlock(tmp_path, lock_id="nope")
    removed = force_unlock(tmp_path, lock_id="old")
    assert removed.host == "elsewhere"
    assert not lock_path(tmp_path).exists()
    with ProjectLock(tmp_path, "firestream apply"):
        pass


@pytest.mark.parametrize("text", ["", "{not json", "[]", '{"pid": 1}'])
def test_force_unlock_of_a_lock_file_it_cannot_parse_says_it_removed_one(tmp_path, text):
    """None means "there was no lock": a removed unreadable file is an ``UnknownHolder``, for
    the local store's backend too (``StateBackend.force_unlock``)."""
    from firestream_core.state.lock import UnknownHolder

    for unlock in (force_unlock, lambda d: StateStore(d).force_unlock()):
        lock_path(tmp_path).parent.mkdir(parents=True, exist_ok=True)
        lock_path(tmp_path).write_text(text)
        removed = unlock(tmp_path)
        assert isinstance(removed, UnknownHolder) and isinstance(removed, LockInfo)
        assert str(removed) == "an unknown holder (the lock file could not be read)"
        assert not lock_path(tmp_path).exists()
        assert unlock(tmp_path) is None


def test_release_after_force_unlock_leaves_the_new_holders_lock(tmp_path):
    first = ProjectLock(tmp_path, "firestream apply")
    first.acquire()
    assert first.lost_reason() is None
    assert StateStore(tmp_path).force_unlock() == first.info
    lost = f"the project lock {lock_path(tmp_path)} was removed or replaced meanwhile; another run may hold it now"
    assert first.lost_reason() == lost  # the holder can tell, before it starts another release
    second = ProjectLock(tmp_path, "firestream apply")
    second.acquire()
    assert first.lost_reason() == lost and second.lost_reason() is None
    first.release()
    assert read_lock(tmp_path) == second.info
    second.release()
    assert read_lock(tmp_path) is None


def test_lock_is_released_after_keyboard_interrupt(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with ProjectLock(tmp_path, "firestream apply"):
            raise KeyboardInterrupt
    assert not lock_path(tmp_path).exists()
    other = spawn(tmp_path)
    assert finish(other).startswith("got")


def test_waiting_for_a_lock_with_timeout(tmp_path):
    first = ProjectLock(tmp_path, "firestream apply")
    first.acquire()
    got: list[LockInfo] = []
    waiter = threading.Thread(
        target=lambda: got.append(ProjectLock(tmp_path, "firestream plan", timeout=60).acquire())
    )
    waiter.start()
    first.release()
    waiter.join(60)
    assert got and got[0].command == "firestream plan"
    assert read_lock(tmp_path) == got[0]


def test_empty_fresh_lock_file_is_left_to_its_creator(tmp_path):
    path = lock_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("")  # as if a creator were between O_EXCL and its write
    with pytest.raises(StateLockedError, match="taking the lock right now"):
        ProjectLock(tmp_path, "firestream apply").acquire()
    os.utime(path, (0, 0))  # long ago: a crash before the write
    with ProjectLock(tmp_path, "firestream apply") as lock:
        assert read_lock(tmp_path) == lock.info


# -- a lock that cannot be written: one StateError naming the path -----------------------------


def test_a_lock_that_is_a_folder_is_a_state_error_naming_it(tmp_path: Path) -> None:
    lock_path(tmp_path).mkdir(parents=True)
    with pytest.raises(StateError) as info:
        ProjectLock(tmp_path, "firestream apply").acquire()
    assert str(info.value).startswith(f"cannot write the lock at {lock_path(tmp_path)}: Is a directory")
    assert info.value.hint
    with pytest.raises(StateError, match=r"cannot read the lock at .*: it is a folder, not a file"):
        read_lock(tmp_path)


@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_a_lock_file_that_is_a_fifo_or_huge_is_refused_without_reading_it_all(tmp_path: Path, kind: str) -> None:
    path = lock_path(tmp_path)
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)  # no writer: an unbounded open or read would wait for ever
        reason = "is not a regular file"
    else:
        with open(path, "wb") as f:  # sparse: 2 GiB that a plain read_text would take in
            f.truncate(2 * 1024**3)
        reason = "is larger than 64 KiB"
    with pytest.raises(StateError, match=rf"cannot read the lock at {re.escape(str(path))}: it {reason}$"):
        read_lock(tmp_path)


def test_a_state_folder_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / ".firestream").write_text("")
    with pytest.raises(StateError, match=r"cannot write the lock at .*/\.firestream: it is not a folder"):
        ProjectLock(tmp_path, "firestream apply").acquire()


def test_a_read_only_or_full_project_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from firestream_core.state import lock as lock_module

    real_open = os.open

    def read_only(path, flags, *args):  # noqa: ANN001
        if str(path).endswith("/lock") and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(lock_module.os, "open", read_only)
    with pytest.raises(StateError, match=r"cannot write the lock at .*/\.firestream/lock: Read-only file system"):
        ProjectLock(tmp_path, "firestream apply").acquire()
    monkeypatch.undo()

    def full(fd: int, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lock_module, "_write", full)
    with pytest.raises(StateError, match="No space left on device"):
        ProjectLock(tmp_path, "firestream apply").acquire()
    assert not lock_path(tmp_path).exists()  # nothing left half-written
