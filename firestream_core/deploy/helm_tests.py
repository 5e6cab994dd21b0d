"""``firestream test``: run the deployed releases' ``helm test`` hooks and keep the results.

For each release of the project (or of ``--target``) that helm reports
``deployed``, ``helm test`` runs its ``helm.sh/hook: test`` pods; each test's
name and final phase (``Succeeded`` / ``Failed``), start and end times are
returned and written into the state, in the release's ``tests`` field, under
the project lock (``firestream status --json`` and the state file show them).
A release that is not deployed is not tested; one that fails to run its
tests (cluster unreachable...) is an ``error``, and the others still run.

``run_tests = true`` on a release makes ``apply`` run the same tests as a
validation (``helm_tests``): a failing test fails the release and, when it
is ``atomic``, rolls it back (see ``docs/helm-tests.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import FirestreamError, HelmError, StateLockedError, first_line
from firestream_core.tools.helm_output import as_test_dict, state_test_entries

if TYPE_CHECKING:
    from firestream_core.model import HelmChart
    from firestream_core.state.store import StateBackend
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.helm_output import TestResult
    from firestream_core.tools.redact import Redactor

__all__ = ["ReleaseTestResult", "TestInput", "format_test_results", "run_helm_tests"]

log = logging.getLogger("firestream.test")

STATUSES = ("passed", "failed", "no-tests", "not-deployed", "skipped", "error")


@attrs.frozen
class TestInput:
    """What ``firestream test`` needs of its project, and nothing more (``Project.test_input()`` builds it)."""

    __test__ = False  # not a pytest class

    charts: Mapping[str, HelmChart]
    """The project's charts by release name, in config order."""
    order: tuple[str, ...]
    """The release names in dependency order (dependencies first): the order releases are tested in."""
    redactor: Redactor
    backend: StateBackend
    """Where the results are recorded."""
    locked: bool = False
    """The caller already holds the project lock (``Project.lock``): recording does not take it again."""


@attrs.frozen
class ReleaseTestResult:
    """The ``helm test`` outcome of one release.

    :ivar status: ``passed``, ``failed``, ``no-tests`` (the chart has none),
        ``not-deployed``, ``skipped`` (helm status not ``deployed``) or ``error``.
    :ivar tests: each test hook's result (``name``, ``phase``, ``started``, ``completed``).
    :ivar message: helm's reason for a failure or error (redacted).
    :ivar recorded: the results were written into the state.
    """

    __test__ = False  # not a pytest class

    name: str
    namespace: str
    status: str
    tests: tuple[TestResult, ...] = ()
    message: str = ""
    recorded: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "no-tests", "not-deployed", "skipped")

    def state_entries(self, when: str) -> list[dict[str, Any]]:
        """What the state keeps: one mapping per test."""
        return state_test_entries(self.tests, when)

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.name,
            "namespace": self.namespace,
            "status": self.status,
            "message": self.message or None,
            "recorded": self.recorded,
            "tests": [as_test_dict(t) for t in self.tests],
        }


def run_helm_tests(
    project: TestInput,
    helm: Helm,
    targets: Iterable[str] | None = None,
    *,
    record: bool = True,
    timeout: str | int | None = None,
) -> list[ReleaseTestResult]:
    """Run ``helm test`` for every deployed release (of ``targets``), in dependency order.

    :param record: write the results into the state (under the project lock).
    :param timeout: per release (default: the release's ``timeout``).
    :raises FirestreamError: a target that is not a release of the project.
    :raises StateError: with ``record``, a state file that cannot be read (damaged, from a
        newer firestream), before any helm call.
    """
    wanted = set(targets or ())
    unknown = wanted - set(project.charts)
    if unknown:
        raise FirestreamError(f"unknown release(s): {', '.join(sorted(unknown))}",
                              hint="the releases are: " + ", ".join(project.charts))
    if record:  # a state file the results cannot go into is refused before a test pod starts
        project.backend.load()
    live = {r.key: r for r in helm.list_releases()}
    results: list[ReleaseTestResult] = []
    for name in project.order:
        if wanted and name not in wanted:
            continue
        info = project.charts[name].chart_info
        ns = info.namespace_name
        inst = live.get((ns, name))
        if inst is None or inst.status == "uninstalled":
            results.append(ReleaseTestResult(name, ns, "not-deployed"))
            continue
        if inst.status != "deployed":
            results.append(ReleaseTestResult(name, ns, "skipped", message=f"status is {inst.status}"))
            continue
        log.info("release '%s': Running helm tests", name)
        try:
            run = helm.test(name, ns, timeout if timeout is not None else info.timeout)
        except HelmError as exc:
            results.append(ReleaseTestResult(name, ns, "error", message=project.redactor.redact(first_line(exc))))
            continue
        tests = tuple(run.tests)
        if run.passed:
            status = "passed" if tests else "no-tests"
        else:
            status = "failed"
        results.append(ReleaseTestResult(name, ns, status, tests, project.redactor.redact(run.message or "")))
    if record:
        results = _record(project, results)
    return results


def _record(project: TestInput, results: Sequence[ReleaseTestResult]) -> list[ReleaseTestResult]:
    """Write the results of tested releases into the state; mark those written."""
    from firestream_core.state.lock import utc_now

    tested = [r for r in results if r.status in ("passed", "failed", "no-tests")]
    if not tested:
        return list(results)
    backend = project.backend
    try:
        with nullcontext() if project.locked else backend.lock("firestream test"):
            state = backend.load()
            when = utc_now()
            written: set[str] = set()
            for r in tested:
                key = f"{r.namespace}/{r.name}"
                entry = state.releases.get(key)
                if entry is None:
                    continue  # not applied or imported by firestream: nothing to attach them to
                state.releases[key] = attrs.evolve(entry, tests=r.state_entries(when))
                written.add(r.name)
            if written:
                backend.save(state)
    except StateLockedError as exc:
        log.warning("test results not recorded in the state: %s", exc)
        return list(results)
    return [attrs.evolve(r, recorded=r.name in written) for r in results]


_LABELS = {"passed": "PASSED", "failed": "FAILED", "no-tests": "no tests", "not-deployed": "not deployed",
           "skipped": "not tested", "error": "ERROR"}


def format_test_results(results: Sequence[ReleaseTestResult]) -> str:
    """The table ``firestream test`` prints, then one line per failing test and a summary."""
    if not results:
        return "No releases.\n"
    width = max(len(r.name) for r in results)
    lines = []
    for r in results:
        detail = ", ".join(f"{t.name} {t.phase or 'unknown'}" for t in r.tests)
        extra = f"  ({detail})" if detail else (f"  ({r.message})" if r.message and r.status != "failed" else "")
        lines.append(f"{r.name:<{width}}  {_LABELS[r.status]}{extra}")
        if r.status == "failed" and r.message:
            lines.append(f"{'':<{width}}  {r.message.splitlines()[0]}")
    failed = [r.name for r in results if not r.ok]
    lines.append("")
    lines.append(f"{len(failed)} release(s) failed their tests: {', '.join(failed)}" if failed
                 else "All tests passed." if any(r.status == "passed" for r in results) else "No tests ran.")
    return "\n".join(lines) + "\n"
