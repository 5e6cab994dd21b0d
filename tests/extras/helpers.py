"""Shared helpers for the extras tests (OCI, diff, helm tests, drift)."""

from __future__ import annotations

import os
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from firestream_core.project import Project


def write_config(folder: Path, text: str) -> Path:
    """Write ``firestream.toml`` (dedented) into ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "firestream.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def load(path: Path, kube: Any, helm_bin: Any, env: dict[str, str] | None = None) -> Project:
    """The project at ``path``, wired to the test's emulated cluster and helm binary."""
    return Project.load(path, helm_binary=helm_bin, kubeconfig=kube.kubeconfig,
                        env={**kube.env, **(env or {})}, kubectl_binary=kube.tools["kubectl"])


class ArgvRecorder:
    """Every argument list firestream's Runner is given (complete, unlike polling /proc)."""

    def __init__(self) -> None:
        self.argvs: list[list[str]] = []
        self.stdins: list[bytes | None] = []
        self._lock = threading.Lock()

    def of(self, word: str) -> list[list[str]]:
        """The recorded argvs holding ``word``."""
        return [a for a in self.argvs if word in a]


@contextmanager
def record_argv(monkeypatch: Any) -> Iterator[ArgvRecorder]:
    from firestream_core.process import Runner

    recorder = ArgvRecorder()
    original = Runner.run

    def run(self: Runner, argv: Any, **kwargs: Any) -> Any:
        with recorder._lock:
            recorder.argvs.append([os.fspath(a) for a in argv])
            recorder.stdins.append(kwargs.get("stdin"))
        return original(self, argv, **kwargs)

    monkeypatch.setattr(Runner, "run", run)
    yield recorder


class ProcWatcher:
    """Reads ``/proc/<pid>/cmdline`` of every ``binary`` process this test starts, while it runs."""

    def __init__(self, binary: Path | str) -> None:
        self.binary = str(binary)
        self.cmdlines: dict[int, list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProcWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                        raw = f.read()
                except OSError:
                    continue
                argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
                if argv and argv[0] == self.binary and _parent(entry.name) == me:
                    self.cmdlines[int(entry.name)] = argv


def _parent(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            line = f.read()
    except OSError:
        return -1
    return int(line.rsplit(b")", 1)[1].split()[1])
