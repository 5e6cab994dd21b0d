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
