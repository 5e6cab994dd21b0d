"""What a run returns: :class:`ApplyResult` with one :class:`ReleaseOutcome` per
release, the :class:`ApplyEvent`\\ s a progress display receives, and
:class:`ReleaseStatus` (``firestream status``).

One release's result has one type, :class:`ReleaseOutcome`: the lifecycle
returns it, the scheduler carries it as the node's value, :class:`ApplyResult`
collects it and :func:`release_state` turns it into the state's record.

Plain frozen data; nothing here runs anything. Each has ``to_dict()`` for
``--json`` output, which never holds a value (reasons are redacted upstream).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import FirestreamError, StateError
from firestream_core.model import ChartPayload, ExecOutcome, ValidationResult
from firestream_core.state.lock import utc_now
from firestream_core.state.store import ReleaseState
from firestream_core.tools.helm_output import state_test_entries

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Plan
    from firestream_core.model import HelmChart
    from firestream_core.tools.helm_output import TestResult

__all__ = [
    "RESULTS",
    "ApplyEvent",
    "ApplyResult",
    "ReleaseOutcome",
    "ReleaseStatus",
    "release_state",
    "validation_dict",
]

RESULTS: tuple[str, ...] = ("ok", "failed", "skipped", "not_started", "cancelled")
"""What can become of a release in a run."""


@attrs.frozen
class ApplyEvent:
    """Something that happened during a run, for progress displays.

    :ivar kind: ``started`` (the release's lifecycle began), ``stage`` (it
        entered ``stage``), ``finished`` (with ``result``) or ``skipped``.
    :ivar release: the release name.
    :ivar action: what the plan decided for it.
    :ivar stage: the lifecycle stage (``check_prerequisites`` ... ``validate``,
        ``on_deploy_failure``) for ``stage`` events.
    :ivar result: one of :data:`RESULTS` for ``finished`` / ``skipped``.
    :ivar reason: why (``dependency 'db' failed``), never a value.
    :ivar time: ``time.monotonic()`` when it happened.
    """

    kind: str
    release: str
    action: str = ""
    stage: str | None = None
    result: str | None = None
    reason: str | None = None
    time: float = attrs.field(factory=time.monotonic)


@attrs.frozen
class ReleaseOutcome:
    """What became of one release: the one result type of a release, from its lifecycle to the state.

    :func:`~firestream_core.deploy.lifecycle.run_release` returns one (its
    older name ``ReleaseResult`` is the same class), a run keeps one per
    release in :attr:`ApplyResult.releases` (the scheduler carries it as the
    node's value) and :func:`release_state` turns one into the state's
    record. ``firestream rollback`` returns one per rolled-back release.

    :ivar name: the release name.
    :ivar action: the plan's action (``create`` ... ``no-op``, ``rollback``);
        outside a plan, the chart's action (``deploy``, ``destroy``, ``skip``).
    :ivar result: one of :data:`RESULTS` (a ``no-op`` is ``ok``).
    :ivar reason: why it failed or was skipped (one redacted line naming the
        release and the stage); the plan's reason otherwise.
    :ivar duration: seconds its lifecycle ran (0 when it did not run).
    :ivar validations: the final validation results (pending ones turned
        failed at the timeout, failed ones turned warnings in ``warn`` mode).
    :ivar stage_failed: the lifecycle stage that failed or was interrupted, if any.
    :ivar revision: helm's revision after the run, when known.
    :ivar rolled_back: the release was rolled back after a failed validation.
    :ivar debug: ``on_deploy_failure``'s lines (redacted).
    :ivar namespace: the release's namespace.
    :ivar executed: what ``exec`` did, when it ran (``performed``, ``revision``,
        helm's ``status`` and the revision's ``workloads``); kept by the runner,
        never in the payload.
    :ivar tests: the ``helm test`` results of the ``helm_tests`` validation
        (``run_tests = true``), None when helm ran no test in this lifecycle.
    :ivar problems: what ``check_prerequisites`` reported (and the plan's refusals).
    :ivar warnings: validation failures accepted as warnings.
    :ivar rollback: what the rollback after a failed validation did, or why it failed.
    :ivar retries_used: how many stage calls were retried.
    :ivar durations: seconds spent per stage (retries and polling included).
    :ivar exception: the typed error behind ``reason`` (``StageFailedError``,
        ``PrerequisiteError``, ``ValidationFailedError``, ``CancelledError``).
    :ivar payload: the plugins' payload as the stages left it (the core keeps
        nothing of its own in it).
    :ivar unrecorded: why this outcome is not in the state (the state could not be
        written: a full disk, a read-only folder), else None. What helm did stands: the
        next plan finds it in the cluster.

    >>> from firestream_core.model import ExecOutcome, ValidationResult
    >>> outcome = ReleaseOutcome("web", "upgrade", "ok", revision=4,
    ...                          validations=(ValidationResult.ok("endpoint", "answers"),),
    ...                          executed=ExecOutcome("deployed", 4, "release 'web' upgraded, revision 4"))
    >>> outcome.ok, outcome.status, outcome.executed.performed, outcome.to_dict()["validations"]
    (True, 'succeeded', 'deployed', [{'name': 'endpoint', 'status': 'passed', 'message': 'answers'}])
    """

    name: str
    action: str
    result: str
    reason: str = ""
    duration: float = 0.0
    validations: tuple[ValidationResult, ...] = ()
    stage_failed: str | None = None
    revision: int | None = None
    rolled_back: bool = False
    debug: tuple[str, ...] = ()
    namespace: str = ""
    executed: ExecOutcome | None = None
    tests: tuple[TestResult, ...] | None = None
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    rollback: str | None = None
    retries_used: int = 0
    durations: Mapping[str, float] = attrs.field(factory=dict, eq=False)
    exception: FirestreamError | None = attrs.field(default=None, eq=False, repr=False)
    payload: ChartPayload = attrs.field(factory=ChartPayload, eq=False, repr=False)
    unrecorded: str | None = None

    @property
    def ok(self) -> bool:
        """True when the release ended ``ok`` (a ``no-op`` is ``ok``).

        >>> ReleaseOutcome("db", "no-op", "ok").ok, ReleaseOutcome("web", "create", "skipped").ok
        (True, False)
        """
        return self.result == "ok"

    @property
    def interrupted(self) -> bool:
        """True when the run was cancelled while the release ran.

        >>> ReleaseOutcome("web", "create", "cancelled").interrupted
        True
        """
        return self.result == "cancelled"

    @property
    def status(self) -> str:
        """``succeeded``, ``failed`` or ``interrupted`` (how the lifecycle ended).

        >>> ReleaseOutcome("web", "create", "cancelled").status
        'interrupted'
        """
        if self.interrupted:
            return "interrupted"
        return "succeeded" if self.ok else "failed"

    @property
    def error(self) -> str | None:
        """Why the release did not end ``ok`` (its ``reason``), None when it did.

        >>> ReleaseOutcome("web", "create", "failed", "release 'web' failed at exec: boom").error
        "release 'web' failed at exec: boom"
        """
        return None if self.ok else (self.reason or f"release '{self.name}' {self.result}")

    def raise_for_status(self) -> None:
        """Raise the release's error when it did not end ``ok``.

        >>> ReleaseOutcome("web", "create", "failed", "release 'web' failed at exec: boom").raise_for_status()
        Traceback (most recent call last):
        ...
        firestream_core.errors.FirestreamError: release 'web' failed at exec: boom
        """
        if not self.ok:
            raise self.exception or FirestreamError(self.error or f"release '{self.name}' failed")

    def to_dict(self) -> dict[str, Any]:
        """The outcome as plain data (``--json``); reasons are redacted, never a value.

        >>> ReleaseOutcome("web", "create", "skipped", reason="dependency 'db' failed").to_dict()["reason"]
        "dependency 'db' failed"
        """
        return {
            "release": self.name,
            "action": self.action,
            "result": self.result,
            "reason": self.reason,
            "duration": round(self.duration, 3),
            "stage_failed": self.stage_failed,
            "revision": self.revision,
            "rolled_back": self.rolled_back,
            "validations": [validation_dict(v) for v in self.validations],
            "unrecorded": self.unrecorded,
        }


@attrs.frozen
class ApplyResult:
    """The outcome of :meth:`Project.apply` / :meth:`Project.destroy`.

    :ivar plan: the plan that was carried out.
    :ivar releases: release name -> :class:`ReleaseOutcome`, in plan order.
    :ivar cancelled: the run was cancelled (nothing new was started).
    :ivar interrupted: Ctrl-C reached the run (the CLI exits 130).
    :ivar dry_run: nothing was changed.
    :ivar duration: seconds the whole run took.
    :ivar stopped: why the run stopped starting releases while it ran (it lost the
        project lock: its file was removed, or another run holds the state lease
        now; the state cannot be written), or None; the releases it did not start end
        ``not_started`` with that reason.
    :ivar state_error: the first error writing the state (``cannot write the state at
        PATH: No space left on device``), or None. The run is then not ``ok``; the releases
        whose outcome it could not record say so (``ReleaseOutcome.unrecorded``).

    What :meth:`Project.apply <firestream_core.project.Project.apply>` returns, read the way a
    caller reads it:

    >>> from firestream_core.deploy.plan import Change, Plan
    >>> plan = Plan((Change("db", "data", "postgresql", "no-op"),
    ...              Change("web", "default", "generic", "upgrade", depends_on=("db",))))
    >>> result = ApplyResult(plan, {
    ...     "db": ReleaseOutcome("db", "no-op", "ok"),
    ...     "web": ReleaseOutcome("web", "upgrade", "failed", reason="endpoint: connection refused",
    ...                           stage_failed="validate", rolled_back=True),
    ... })
    >>> result.ok, result.exit_code, result.with_result("failed")
    (False, 1, ['web'])
    >>> for name, outcome in result.releases.items():
    ...     print(name, outcome.action, outcome.result, outcome.stage_failed)
    db no-op ok None
    web upgrade failed validate
    """

    plan: Plan
    releases: dict[str, ReleaseOutcome]
    cancelled: bool = False
    interrupted: bool = False
    dry_run: bool = False
    duration: float = 0.0
    stopped: str | None = None
    state_error: StateError | None = attrs.field(default=None, eq=False)

    @property
    def ok(self) -> bool:
        """True when every release ended ``ok``, the run was not interrupted and its state
        was written.

        >>> from firestream_core.deploy.plan import Plan
        >>> ApplyResult(Plan(()), {"db": ReleaseOutcome("db", "no-op", "ok")}).ok
        True
        """
        return (not (self.cancelled or self.interrupted) and self.state_error is None
                and all(o.ok for o in self.releases.values()))

    def with_result(self, result: str) -> list[str]:
        """The releases that ended with ``result``, in plan order.

        >>> from firestream_core.deploy.plan import Plan
        >>> result = ApplyResult(Plan(()), {"db": ReleaseOutcome("db", "create", "failed"),
        ...                                 "web": ReleaseOutcome("web", "create", "skipped")})
        >>> result.with_result("skipped")
        ['web']
        """
        return [n for n, o in self.releases.items() if o.result == result]

    @property
    def exit_code(self) -> int:
        """0 when ok, 130 when interrupted or cancelled, else 1.

        >>> from firestream_core.deploy.plan import Plan
        >>> ApplyResult(Plan(()), {}, interrupted=True).exit_code
        130
        """
        if self.interrupted or self.cancelled:
            return 130
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        """The run as plain data (``apply --json``): one entry per release, never a value.

        >>> from firestream_core.deploy.plan import Plan
        >>> ApplyResult(Plan(()), {"db": ReleaseOutcome("db", "no-op", "ok")}, dry_run=True).to_dict()["dry_run"]
        True
        """
        return {
            "ok": self.ok,
            "cancelled": self.cancelled,
            "interrupted": self.interrupted,
            "stopped": self.stopped,
            "state_error": None if self.state_error is None else str(self.state_error),
            "dry_run": self.dry_run,
            "duration": round(self.duration, 3),
            "releases": [o.to_dict() for o in self.releases.values()],
        }


@attrs.frozen
class ReleaseStatus:
    """One release as the cluster and the state file see it (``firestream status``).

    :ivar status: helm's status (``deployed``, ``failed``, ``pending-upgrade``...)
        or ``not deployed``.
    :ivar validations: the last validation results recorded in state.
    :ivar last_error: the last apply's error when it did not succeed (redacted, from the state).
    :ivar tests: the last ``helm test`` results recorded in state (by
        ``firestream test`` or an apply with ``run_tests = true``), one mapping
        per test (``name``, ``phase``, ``passed``, ``started``, ``completed``,
        ``run_at``); None when no test result is recorded.

    :meth:`Project.status <firestream_core.project.Project.status>` returns one per release:

    >>> status = ReleaseStatus("web", "default", "generic", "deployed", revision=4, last_result="ok",
    ...                        tests=({"name": "web-test-connection", "phase": "Succeeded",
    ...                                "passed": True, "run_at": "2026-12-06T06:00:00Z"},))
    >>> status.tests_result, status.tests_run_at
    ('passed', '2026-12-06T06:00:00Z')
    >>> ReleaseStatus("db", "data", "postgresql", "not deployed").tests_result is None
    True
    """

    name: str
    namespace: str
    chart_type: str
    status: str
    revision: int | None = None
    chart: str | None = None
    version: str | None = None
    app_version: str | None = None
    updated: str | None = None
    last_action: str | None = None
    last_result: str | None = None
    applied_at: str | None = None
    validations: tuple[Mapping[str, Any], ...] = ()
    tests: tuple[Mapping[str, Any], ...] | None = None
    last_error: str | None = None

    @property
    def tests_result(self) -> str | None:
        """``passed``, ``failed``, ``no-tests`` (the chart has none) or None (no result recorded).

        >>> ReleaseStatus("web", "default", "generic", "deployed", tests=()).tests_result
        'no-tests'
        """
        if self.tests is None:
            return None
        if not self.tests:
            return "no-tests"
        return "passed" if all(t.get("passed") for t in self.tests) else "failed"

    @property
    def tests_run_at(self) -> str | None:
        """When the recorded tests ran (ISO 8601 UTC), when known.

        >>> ReleaseStatus("web", "default", "generic", "deployed",
        ...               tests=({"name": "t", "passed": False, "run_at": "2026-12-06T06:00:00Z"},)).tests_run_at
        '2026-12-06T06:00:00Z'
        """
        return max((str(t["run_at"]) for t in self.tests or () if t.get("run_at")), default=None)

    def tests_dict(self) -> dict[str, Any] | None:
        """The recorded tests for ``--json``: result, when, and each test's name, phase and times.

        >>> status = ReleaseStatus("web", "default", "generic", "deployed",
        ...                        tests=({"name": "web-test", "phase": "Failed", "passed": False},))
        >>> status.tests_dict()["result"], status.tests_dict()["tests"][0]["phase"]
        ('failed', 'Failed')
        """
        if self.tests is None:
            return None
        keys = ("name", "phase", "passed", "started", "completed")
        return {
            "result": self.tests_result,
            "run_at": self.tests_run_at,
            "tests": [{k: t.get(k) for k in keys} for t in self.tests],
        }

    def to_dict(self) -> dict[str, Any]:
        """The status as plain data (``status --json``).

        >>> ReleaseStatus("db", "data", "postgresql", "not deployed").to_dict()["status"]
        'not deployed'
        """
        return {
            "release": self.name,
            "namespace": self.namespace,
            "chart_type": self.chart_type,
            "status": self.status,
            "revision": self.revision,
            "chart": self.chart,
            "version": self.version,
            "app_version": self.app_version,
            "updated": self.updated,
            "last_action": self.last_action,
            "last_result": self.last_result,
            "applied_at": self.applied_at,
            "validations": [dict(v) for v in self.validations],
            "tests": self.tests_dict(),
            "last_error": self.last_error,
        }


def validation_dict(v: ValidationResult) -> dict[str, Any]:
    """A validation result as plain data: ``name``, ``status`` (its value) and ``message``.

    >>> validation_dict(ValidationResult.ok("endpoint", "answers"))
    {'name': 'endpoint', 'status': 'passed', 'message': 'answers'}
    """
    return {"name": v.name, "status": v.status.value, "message": v.message}


def _same(text: str) -> str:
    return text


def release_state(
    outcome: ReleaseOutcome,
    chart: HelmChart,
    *,
    version: str | None,
    values_digest: str,
    chart_digest: str | None = None,
    desired_digest: str | None = None,
    desired_parts: Mapping[str, str] | None = None,
    secret_paths: Iterable[str] = (),
    redact: Callable[[str], str] = _same,
    cluster: str | None = None,
) -> ReleaseState:
    """The state's record of ``outcome``, stamped now: the one place a release's result becomes state.

    The release's identity, revision, action, result (``ok`` is written
    ``succeeded``), duration, failed stage, validations and ``helm test``
    results come from the outcome; its chart type and chart reference from
    ``chart``; what was applied (version, digests, the values paths of its
    ``secret_values``) and where (``cluster``: the API server's URL) from the keywords.
    Every message passes through ``redact``.

    >>> from firestream_core.model import ChartInfo, HelmChart
    >>> chart = HelmChart(ChartInfo(name="web", chart="repo/web", namespace="shop"))
    >>> entry = release_state(ReleaseOutcome("web", "create", "ok", namespace="shop", revision=1, duration=2.5),
    ...                       chart, version="1.0.0", values_digest="sha256:ab")
    >>> entry.key, entry.result, entry.revision, entry.tests
    ('shop/web', 'succeeded', 1, None)
    """
    when = utc_now()
    tests = None
    if outcome.tests is not None:
        tests = [{k: redact(v) if isinstance(v, str) else v for k, v in t.items()}
                 for t in state_test_entries(outcome.tests, when)]
    return ReleaseState(
        name=outcome.name,
        namespace=outcome.namespace,
        chart_type=chart.chart_type,
        chart=chart.chart_info.chart_ref,
        version=version,
        values_digest=values_digest,
        revision=outcome.revision,
        applied_at=when,
        action=outcome.action,
        result="succeeded" if outcome.ok else outcome.result,
        duration=outcome.duration,
        stage_failed=outcome.stage_failed,
        validations=[
            {k: redact(v) if isinstance(v, str) else v for k, v in validation_dict(v).items()}
            for v in outcome.validations
        ],
        tests=tests,
        chart_digest=chart_digest,
        desired_digest=desired_digest,
        desired_parts=dict(desired_parts) if desired_parts else None,
        error=redact(outcome.reason) if not outcome.ok and outcome.reason else None,
        secret_paths=sorted(set(secret_paths)) or None,
        cluster=cluster,
    )
