"""What helm prints, read: the results of its operations and the parsers of its output.

``UpgradedRelease`` (``upgrade --install --output json``), ``TestRun`` /
``TestResult`` (``helm test``), the ``list`` JSON as
:class:`~firestream_core.model.InstalledRelease`\\ s. Never the values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from firestream_core.errors import HelmCommandError
from firestream_core.model import InstalledRelease

__all__ = ["TestResult", "TestRun", "UpgradedRelease", "as_test_dict", "helm_time", "parse_json", "parse_list",
           "parse_rendered", "parse_test_suite", "parse_upgrade", "state_test_entries"]

_HELM_TIME = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))? ([+-]\d{4})")


def helm_time(text: str) -> datetime | None:
    """A time as ``helm list`` prints it (``updated``: Go's ``2006-01-02 15:04:05.999999999
    -0700 MST``), aware; None when it is not one.

    >>> helm_time("2026-01-02 03:04:05.123456789 +0100 CET").isoformat()
    '2026-01-02T03:04:05.123456+01:00'
    >>> helm_time("") is None
    True
    """
    found = _HELM_TIME.match(text.strip())
    if found is None:
        return None
    day, clock, fraction, offset = found.groups()
    try:
        return datetime.strptime(f"{day} {clock}.{(fraction or '0')[:6]:0<6} {offset}", "%Y-%m-%d %H:%M:%S.%f %z")
    except ValueError:
        return None


@attrs.frozen
class UpgradedRelease:
    """The release as ``helm upgrade --install --output json`` printed it once done.

    helm's own record of the revision it just wrote: ``revision`` (its
    ``version``) and ``status`` (its ``info.status``: ``deployed``, or for a
    dry run ``pending-install``...; None when helm printed none). Never the
    values.
    """

    name: str
    namespace: str
    revision: int
    status: str | None = None
    workloads: tuple[tuple[str, str, str], ...] | None = None
    """The revision's workloads ``(kind, namespace, name)`` from its manifest; None: not reported."""
    pod_free: bool = False
    """The manifest holds nothing that may run pods (``manifests.read_workloads``); False: not known."""


@attrs.frozen
class TestResult:
    """One ``helm test`` hook: its name and final phase (``Succeeded``, ``Failed``, ...)."""

    __test__ = False  # not a pytest class

    name: str
    phase: str
    started: str = ""
    completed: str = ""

    @property
    def passed(self) -> bool:
        return self.phase == "Succeeded"


def as_test_dict(test: TestResult) -> dict[str, Any]:
    """One test hook's result (a ``TestResult``) as plain data: name, phase, passed, times.

    >>> as_test_dict(TestResult("web-smoke", "Succeeded"))
    {'name': 'web-smoke', 'phase': 'Succeeded', 'passed': True, 'started': None, 'completed': None}
    """
    return {"name": test.name, "phase": test.phase, "passed": bool(test.passed),
            "started": test.started or None, "completed": test.completed or None}


def state_test_entries(tests: Iterable[TestResult], when: str) -> list[dict[str, Any]]:
    """What the state's ``tests`` field keeps: one mapping per test, stamped ``run_at``
    (``firestream test``'s results, and ``apply``'s ``helm_tests`` validation's through
    its :class:`~firestream_core.deploy.results.ReleaseOutcome`).

    >>> [e["run_at"] for e in state_test_entries([TestResult("t", "Failed")], "2026-01-01T00:00:00Z")]
    ['2026-01-01T00:00:00Z']
    """
    return [{**as_test_dict(t), "run_at": when} for t in tests]


@attrs.frozen
class TestRun:
    """The outcome of ``helm test``: ``passed`` and each test's phase."""

    __test__ = False

    release: str
    namespace: str
    passed: bool
    tests: tuple[TestResult, ...] = ()
    message: str = ""  # helm's stderr (redacted) when a test failed


# -- parsing -----------------------------------------------------------------------------------


def parse_json(text: str, op: str) -> Any:
    """helm's JSON output (None when empty), skipping notes or warnings printed before it."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # helm prints notes or warnings before the JSON in some versions
        start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
        if start > 0:
            try:
                return json.loads(text[start:])
            except json.JSONDecodeError:
                pass
        raise HelmCommandError(f"helm {op} printed output that is not JSON") from None


def parse_rendered(stdout: str, *, hooks: bool = True) -> str:
    """The manifest and hooks of a dry run's release JSON, as ``helm template`` prints them:
    the manifest, then ``---\\n# Source: PATH\\nMANIFEST`` per hook (none unless ``hooks``).

    Nothing else of the JSON is kept: ``config`` (the values) and ``chart`` (its files and
    default values) may hold secrets."""
    data = parse_json(stdout, "dry run")
    if not isinstance(data, Mapping):
        raise HelmCommandError("helm's dry run printed no release")
    text = str(data.get("manifest") or "")
    for hook in (data.get("hooks") or []) if hooks else []:
        if isinstance(hook, Mapping):
            text += f"---\n# Source: {hook.get('path', '')}\n{hook.get('manifest', '')}\n"
    return text


_SUITE_FIELD = r"^\s*(TEST SUITE|Last Started|Last Completed|Phase):\s*(.*?)\s*$"  # compiled on first use


def parse_test_suite(stdout: str) -> Iterable[TestResult]:
    """The ``TEST SUITE:`` blocks of ``helm test`` output."""
    current: dict[str, str] | None = None
    for line in stdout.splitlines():
        m = re.match(_SUITE_FIELD, line)
        if not m:
            continue
        field, value = m.groups()
        if field == "TEST SUITE":
            if current and current.get("name") and current["name"] != "None":
                yield TestResult(current["name"], current.get("phase", ""), current.get("started", ""), current.get("completed", ""))
            current = {"name": value}
        elif current is not None:
            key = {"Last Started": "started", "Last Completed": "completed", "Phase": "phase"}[field]
            current[key] = value
    if current and current.get("name") and current["name"] != "None":
        yield TestResult(current["name"], current.get("phase", ""), current.get("started", ""), current.get("completed", ""))


def parse_list(stdout: str) -> list[InstalledRelease]:
    """``helm list --output json``: one :class:`InstalledRelease` per release."""
    data = parse_json(stdout, "list") or []
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        raise HelmCommandError("helm list printed JSON that is not a list of releases")
    out = []
    for item in data:
        try:
            revision = int(item.get("revision") or 0)
        except (TypeError, ValueError):
            raise HelmCommandError(f"helm list printed a revision that is not a number for release "
                                   f"{str(item.get('name', ''))!r}") from None
        out.append(
            InstalledRelease(
                name=str(item.get("name", "")),
                namespace=str(item.get("namespace", "")),
                revision=revision,
                status=str(item.get("status", "")),
                chart=str(item.get("chart", "")),
                app_version=str(item.get("app_version", "") or ""),
                updated=str(item.get("updated", "") or ""),
            )
        )
    return out


def parse_upgrade(name: str, namespace: str, stdout: str) -> UpgradedRelease:
    """``helm upgrade --install --output json``: the revision and status helm wrote."""
    data = parse_json(stdout, "upgrade") or {}
    if not isinstance(data, Mapping):
        data = {}
    try:
        revision = int(data.get("version") or 0)
    except (TypeError, ValueError):
        revision = 0
    inner = data.get("info")
    status = inner.get("status") if isinstance(inner, Mapping) else None
    manifest = data.get("manifest")
    if manifest is None and isinstance(inner, Mapping) and data.get("name") and revision:
        # helm's record of the release, without the manifest: helm (3 and 4) leaves an empty
        # manifest out of its JSON ("manifest,omitempty"), so there are no workloads to ask for
        manifest = ""
    workloads, pod_free = None, False
    if isinstance(manifest, str):
        # imported here: PyYAML only when a manifest is read (firestream --version stays light)
        from firestream_core.tools.manifests import read_workloads

        try:
            workloads, pod_free = read_workloads(manifest, namespace)
        except ValueError:
            workloads = None
    return UpgradedRelease(name, namespace, revision, str(status) if status else None, workloads, pod_free)
