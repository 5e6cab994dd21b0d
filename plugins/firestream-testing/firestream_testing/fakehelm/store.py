"""The fake helm's state folder: its releases as JSON under a lock, and the call log.

Read by the script (:mod:`.cli`) and by the test side (:mod:`.api`) alike.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ENV_STATE = "FAKE_HELM_STATE"
VERSIONS = {3: "v3.19.0", 4: "v4.3.1"}

STATE_FILE = "state.json"
CALLS_FILE = "calls.jsonl"
LOCK_FILE = "lock"


def now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d} +0000 UTC"


class Store:
    """The fake's state folder: JSON state under a lock, and the call log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """The state, locked; written back when the block ends without error."""
        with open(self.root / LOCK_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self._read()
                yield state
                tmp = self.root / f".{STATE_FILE}.{os.getpid()}"
                tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
                os.replace(tmp, self.root / STATE_FILE)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        with open(self.root / LOCK_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            try:
                return self._read()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            state = json.loads((self.root / STATE_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            state = {}
        state.setdefault("major", 3)
        state.setdefault("releases", {})
        state.setdefault("repos", {})
        state.setdefault("repo_configs", {})  # $HELM_REPOSITORY_CONFIG -> its repositories
        state.setdefault("registries", [])
        state.setdefault("delays", {})
        state.setdefault("manifest_extra", {})  # release -> YAML documents its next revisions add
        state.setdefault("failures", [])
        state.setdefault("namespaces", [])  # made by an install with --create-namespace
        return state

    def log_call(self, record: Mapping[str, Any]) -> None:
        line = (json.dumps(record) + "\n").encode()
        fd = os.open(self.root / CALLS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)



def key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def latest(rel: Mapping[str, Any]) -> dict[str, Any]:
    return rel["revisions"][-1]



def find(state: Mapping[str, Any], name: str, namespace: str) -> dict[str, Any] | None:
    return state["releases"].get(key(namespace, name))


def failure_for(state: dict[str, Any], release: str, op: str) -> str | None:
    """The injected failure message for (release, op), consuming one use."""
    for f in state["failures"]:
        if f["release"] in (release, "*") and f["op"] == op:
            if f.get("times") is not None:
                if f["times"] <= 0:
                    continue
                f["times"] -= 1
            return str(f["message"])
    return None


def render_failure(state: dict[str, Any], release: str, chart: str) -> str | None:
    """helm's error line when ``release``'s chart does not render (``FakeHelm.fail_render``)."""
    message = failure_for(state, release, "render")
    if message is None:
        return None
    return message or (f"execution error at ({chart}/templates/secret.yaml:7:15): "
                       "A valid .Values.auth.password entry is required!")


def delay_of(state: Mapping[str, Any], release: str) -> float:
    delays = state["delays"]
    return float(delays.get(release, delays.get("*", 0.0)))

