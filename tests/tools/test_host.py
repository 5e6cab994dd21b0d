"""``pid_alive``: the one "does that process still run" of the lock, values and helm folders."""

from __future__ import annotations

import os
import subprocess

from firestream_core.tools.host import pid_alive


def test_a_running_process_is_alive_and_a_reaped_one_is_not() -> None:
    child = subprocess.Popen(["sleep", "30"])  # noqa: S603, S607
    try:
        assert pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not pid_alive(child.pid)  # reaped: no process has that pid now
    assert pid_alive(os.getpid())
    assert not pid_alive(0) and not pid_alive(-1)  # 0 and below name a process group, not a process
