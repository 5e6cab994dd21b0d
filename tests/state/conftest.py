"""An in-memory stand-in for the API server's optimistic concurrency, and a settable clock.

``MemoryKube`` answers ``get`` / ``create`` / ``replace`` like
:class:`~firestream_core.tools.kubectl.Kubectl` does against a real API server:
create -> None when the object exists, replace -> None when the given
``resourceVersion`` is not the stored one (409) or the object is gone;
every write bumps the version. It lets the lease logic be tested with an
injected clock and no processes.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firestream_core.errors import HelmCommandError

KINDS = {"Lease": "lease", "Secret": "secret", "Namespace": "namespace"}


class MemoryKube:
    def __init__(self, namespaces: tuple[str, ...] = ("firestream",)) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.namespaces = set(namespaces)
        self.version = 100
        self.calls: list[tuple[str, str]] = []
        self.before_write: Callable[[str, Mapping[str, Any]], None] | None = None
        self._lock = threading.Lock()

    def _bump(self) -> str:
        self.version += 1
        return str(self.version)

    def get(self, kind: str, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
        self.calls.append(("get", kind))
        with self._lock:
            obj = self.objects.get((kind, namespace or "", name))
            return copy.deepcopy(obj)

    def create(self, manifest: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any] | None:
        kind = KINDS[manifest["kind"]]
        self.calls.append(("create", kind))
        self._hook("create", manifest)
        with self._lock:
            meta = manifest["metadata"]
            if kind == "namespace":
                if meta["name"] in self.namespaces:
                    return None
                self.namespaces.add(meta["name"])
                return copy.deepcopy(dict(manifest))
            if meta["namespace"] not in self.namespaces:
                raise HelmCommandError(
                    f'kubectl create failed: namespaces "{meta["namespace"]}" not found',
                    stderr=f'Error from server (NotFound): namespaces "{meta["namespace"]}" not found')
            key = (kind, meta["namespace"], meta["name"])
            if key in self.objects:
                return None
            obj = copy.deepcopy(dict(manifest))
            obj["metadata"]["resourceVersion"] = self._bump()
            self.objects[key] = obj
            return copy.deepcopy(obj)

    def replace(self, manifest: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any] | None:
        kind = KINDS[manifest["kind"]]
        self.calls.append(("replace", kind))
        self._hook("replace", manifest)
        with self._lock:
            meta = manifest["metadata"]
            key = (kind, meta["namespace"], meta["name"])
            old = self.objects.get(key)
            given = meta.get("resourceVersion")
            if old is None or (given and given != old["metadata"]["resourceVersion"]):
                return None
            obj = copy.deepcopy(dict(manifest))
            obj["metadata"]["resourceVersion"] = self._bump()
            self.objects[key] = obj
            return copy.deepcopy(obj)

    def _hook(self, op: str, manifest: Mapping[str, Any]) -> None:
        hook, self.before_write = self.before_write, None  # once
        if hook is not None:
            hook(op, manifest)

    def lease(self, name: str = "firestream-state-shop", namespace: str = "firestream") -> dict[str, Any]:
        return self.objects[("lease", namespace, name)]


class Clock:
    """A settable UTC clock; ``sleep`` advances it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


@pytest.fixture
def mem() -> MemoryKube:
    return MemoryKube()


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Records(logging.Handler):
    """Every record of the loggers it is attached to, whatever the CLI did to ``firestream``."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, logger: str | None = None, level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records
                if (logger is None or r.name == logger) and r.levelno >= level]

    def text(self, level: int = logging.DEBUG) -> str:
        return "\n".join(self.messages(level=level))


@pytest.fixture
def logs():
    """The kubestate and process loggers' records, at DEBUG.

    Attached to those loggers themselves (not propagated): an in-process
    ``firestream`` command earlier in the session turns propagation off on
    the ``firestream`` logger, which would hide them from ``caplog``.
    """
    handler = Records()
    saved = []
    for name in ("firestream.kubestate", "firestream.process"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(handler)
    yield handler
    for logger, level, propagate in saved:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
