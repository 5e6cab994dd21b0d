"""Running one release's lifecycle through the hooks.

``run_release(chart, manager, context)`` calls, for that release only::

    (contribute_values) -> check_prerequisites -> pre_exec -> exec -> post_exec -> validate
                              \\________ on_deploy_failure on error ____/

and returns the release's :class:`~firestream_core.deploy.results.ReleaseOutcome`
(also known as ``ReleaseResult``); it never raises for a failed stage.

* ``contribute_values`` (the pure desired-state stage) runs here only
  outside a plan (``context.change`` is None): in a run the plan already
  computed it and the chart carries the contributed values
  (``chart_info.plugin_values``). A failure there fails the release at
  ``check_prerequisites``, before anything changed; so do the problems it
  reported (``context.refuse``, the plan's ``Change.problems``). Outside a
  plan a version constraint is resolved there too, as the plan resolves it
  (``ChartVersions`` on ``context.helm``): the chart's ``version`` becomes the
  exact version helm installs; one nothing matches is such a problem.
* Problems reported by ``check_prerequisites`` stop the release before
  ``pre_exec``: nothing in the cluster has changed.
* An exception from ``pre_exec``, ``exec``, ``post_exec`` or ``validate``
  (not only ``exec``, unlike the original) fails the release at that stage
  and calls ``on_deploy_failure``; an exception raised there is logged and
  never hides the first error.
* Validation: ``PENDING`` results make the runner validate again every
  second or so (``context.settings["validation_interval"]``) until the
  release's ``timeout``; a check still pending then counts as failed. A
  failed check fails the release unless ``on_validation_failure = "warn"``
  (per release, or run-wide in ``context.settings``), which turns it into
  a warning. When validation fails for an ``atomic`` Deploy, the release is
  rolled back to its previous working revision, or uninstalled when it was
  just created.
* Retries: a stage raising ``ClusterUnreachableError`` or
  ``HelmTimeoutError`` is run again up to ``chart.settings.retries`` times,
  ``retry_delay`` apart; any other error (a render error, a missing chart,
  a prerequisite problem) is final.
* ``context.cancel`` (Ctrl-C) is checked between stages and during every
  wait; a ``CancelledError`` marks the release interrupted (no debug
  collection, no rollback).
* ``Skip`` releases only go through ``exec`` (which logs and does nothing
  by default); ``dry_run`` releases are not validated.

What ``exec`` did and the ``helm test`` results are the core's bookkeeping:
the runner keeps them in ``context.lifecycle`` (a
:class:`~firestream_core.plugin.context.LifecycleRecord`, new for every
release) and hands them on as the outcome's ``executed`` and ``tests``; the
payload stays the plugins' own.

Every message kept or logged is passed through ``context.redactor``.
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import attrs

from firestream_core.deploy.recovery import find_installed, rollback_release
from firestream_core.deploy.results import ReleaseOutcome
from firestream_core.errors import (
    CancelledError,
    ClusterUnreachableError,
    FirestreamError,
    HelmTimeoutError,
    PluginError,
    PrerequisiteError,
    StageFailedError,
    ValidationFailedError,
)
from firestream_core.model import (
    ChartPayload,
    ExecOutcome,
    HelmAction,
    ValidationResult,
    ValidationStatus,
    overrides_chart_method,
    parse_duration,
)
from firestream_core.plugin.context import LifecycleRecord
from firestream_core.plugin.manager import a_type, raised_by
from firestream_core.plugin.spec import STAGES
from firestream_core.tools.release_log import ReleaseLogger, naming_release, redacting

if TYPE_CHECKING:
    from firestream_core.model import HelmChart
    from firestream_core.plugin.context import DeployContext
    from firestream_core.plugin.manager import FirestreamPluginManager

__all__ = [
    "DEFAULT_VALIDATION_INTERVAL",
    "TRANSIENT_ERRORS",
    "ReleaseResult",
    "StageListener",
    "run_release",
    "validation_failure_mode",
]

T = TypeVar("T")

StageListener = Callable[[str, str], None]
"""Told ``(release, stage)`` just before each call of a stage's hooks (a retry or another
validation poll is told again): ``check_prerequisites``, ``pre_exec``, ``exec``,
``post_exec``, ``validate``, ``on_deploy_failure``. A run turns it into its ``stage`` events."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ClusterUnreachableError, HelmTimeoutError)
"""Errors worth retrying: the cluster may answer next time. Nothing else is retried."""

DEFAULT_VALIDATION_INTERVAL = 1.0
"""Seconds between two validations while a check is pending."""


_STAGE_LINE = {
    HelmAction.DEPLOY: "Deploying Helm chart",
    HelmAction.DESTROY: "Destroying Helm chart",
    HelmAction.SKIP: "Skipping Helm chart",
}


ReleaseResult = ReleaseOutcome
"""The name ``run_release``'s result had before a release's outcome got one type: the same class."""


def validation_failure_mode(chart: HelmChart, context: DeployContext) -> str:
    """``warn`` when the release or the run (``context.settings["on_validation_failure"]``) says
    so, else ``fail``. The run-wide key's old name ``validation_failure`` is still read, with a
    ``DeprecationWarning``."""
    run_wide = context.settings.get("on_validation_failure")
    if run_wide is None and "validation_failure" in context.settings:
        warnings.warn(
            "context.settings['validation_failure'] is deprecated: use 'on_validation_failure'",
            DeprecationWarning,
            stacklevel=2,
        )
        run_wide = context.settings["validation_failure"]
    return "warn" if "warn" in (chart.settings.on_validation_failure, run_wide) else "fail"


class _Failed(Exception):
    """Internal: the release has failed and its result is filled in."""


class _LifecycleRun:
    """The state of one release's run; see :func:`run_release`."""

    def __init__(
        self,
        chart: HelmChart,
        manager: FirestreamPluginManager,
        context: DeployContext,
        payload: ChartPayload | None,
        on_stage: StageListener | None = None,
    ) -> None:
        self.chart = chart
        self.info = chart.chart_info
        self.manager = manager
        self.on_stage = on_stage
        self.context = context
        # every line of this lifecycle names the release (tools/release_log.py): the core's,
        # and the plugins' through context.log
        # and what they log is redacted before any handler sees it (a library user's has no filter)
        context.log = self.log = ReleaseLogger(context.log, chart.chart_info.name, redactor=context.redactor)
        self.payload = payload if payload is not None else ChartPayload()
        try:
            self.namespace = self.info.namespace_name
        except ValueError:
            self.namespace = str(self.info.custom_namespace or "")
        # what becomes the release's outcome, filled in as the stages go
        self.ok = False
        self.interrupted = False
        self.stage_failed: str | None = None
        self.error: str | None = None
        self.exception: FirestreamError | None = None
        self.validations: list[ValidationResult] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.debug: list[str] = []
        self.rolled_back = False
        self.rollback: str | None = None
        self.retries_used = 0
        self.durations: dict[str, float] = {}
        context.lifecycle = LifecycleRecord()  # exec's record and the tests: this release's alone
        self.record = context.lifecycle

    # -- helpers ----------------------------------------------------------------

    def redact(self, text: str) -> str:
        r = self.context.redactor
        return r.redact(text) if r is not None else text

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def dry_run(self) -> bool:
        return bool(self.context.dry_run or self.info.dry_run)

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.durations[stage] = self.durations.get(stage, 0.0) + (time.monotonic() - start)

    def _calling(self, stage: str) -> None:
        """The hooks of ``stage`` are about to be called: tell the listener."""
        if self.on_stage is not None:
            self.on_stage(self.name, stage)

    def _check_cancel(self, stage: str) -> None:
        if self.context.cancel.is_set():
            raise CancelledError(f"release '{self.name}' interrupted at {stage}", releases=[self.name])

    def _reason(self, exc: BaseException) -> str:
        text = str(exc).strip()
        if isinstance(exc, FirestreamError):
            return self.redact(text or type(exc).__name__)
        who = raised_by(exc)  # a plugin's stage raised it: named, as its wrong results are
        what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return self.redact(f"{who}: {what}" if who else what)

    def _call(self, stage: str, fn: Callable[[], T]) -> T:
        """Run ``fn``; retry it on transient errors as the release's settings allow."""
        attempt = 0
        while True:
            self._check_cancel(stage)
            try:
                if attempt and stage == "exec" and self.info.action is not HelmAction.SKIP:
                    # the failed attempt may have changed the release: look again
                    self.context.installed = find_installed(self.context, self.info)
                if stage in STAGES:  # not the rollback after a failed validation
                    self._calling(stage)
                return fn()
            except TRANSIENT_ERRORS as exc:
                retries, delay = self._retry_settings()  # read only when a retry may follow
                if attempt >= retries:
                    raise
                attempt += 1
                self.retries_used += 1
                self.log.warning(
                    "%s failed (%s: %s); retry %d of %d in %ss",
                    stage,
                    type(exc).__name__,
                    self._reason(exc),
                    attempt,
                    retries,
                    f"{delay:g}",
                )
                if self.context.cancel.wait(delay):
                    raise CancelledError(
                        f"release '{self.name}' interrupted at {stage}", releases=[self.name]
                    ) from exc

    def _retry_settings(self) -> tuple[int, float]:
        """How often and how far apart a stage failing transiently is run again."""
        settings = self.chart.settings
        retries = max(0, int(settings.retries))
        try:
            delay = float(parse_duration(settings.retry_delay))
        except ValueError:
            delay = 10.0
        return retries, delay

    # -- the run -------------------------------------------------------------------

    def _desired(self) -> None:
        """Outside a plan (``context.change`` is None), the desired-state stage runs here.

        In a run, the plan computed the release's desired state once and the
        chart arrives with its contributed values and the exact version the plan
        resolved a version constraint to; a caller of ``run_release`` on its own
        (a plugin's tests, a program) gets the same chart through the same
        function (:func:`~firestream_core.deploy.desired.desired_states`, with
        :class:`~firestream_core.deploy.desired.ChartVersions` on ``context.helm``
        and ``context.repositories``, as the plan): a constraint nothing matches
        is a problem that stops the release at ``check_prerequisites``.
        """
        if self.context.change is not None or self.info.action is not HelmAction.DEPLOY:
            return  # a run's release: no import statement on the way
        from firestream_core.deploy.desired import ChartVersions, desired_states

        c = self.context
        wanted = desired_states(
            [self.chart], manager=self.manager, project_dir=c.project_dir, helm=c.helm,
            kubectl=c.kubectl, repositories=c.repositories, redactor=c.redactor,
            installed={} if c.installed is None else {c.installed.key: c.installed},
            versions=ChartVersions(c.helm, c.repositories) if c.helm is not None else None,
        )
        state = wanted[self.name]
        if state.resolved_version is not None:  # the version the plan shows: exec installs it
            self.chart.chart_info.version = state.resolved_version
        self.chart.chart_info.plugin_values = state.chart.chart_info.plugin_values
        if state.breaking_version is not None:
            self.chart.chart_info.last_breaking_version_requiring_restart = state.breaking_version
        c.problems = [*state.problems, *self._missing_dependencies()]

    def _missing_dependencies(self) -> list[str]:
        """Outside a plan, "dependencies are satisfied" (``check_prerequisites``' promise, which
        a run keeps through its plan and scheduler): each ``depends_on`` release must be
        installed, by the rule the plan applies to a selection (absent or uninstalled: missing).
        One ``helm list``, only for a release that depends on others."""
        deps = list(self.info.depends_on or ())
        if not deps or self.context.helm is None:
            return []
        there = {r.name for r in self.context.helm.list_releases() if r.status != "uninstalled"}
        missing = [d for d in deps if d not in there]
        if not missing:
            return []
        names = ", ".join(f"'{d}'" for d in missing)
        return [f"release '{self.name}': it depends on {names}, not deployed: deploy {names} first "
                "(run_release runs one release; Project.apply deploys dependencies first)"]

    def run(self) -> ReleaseOutcome:
        self.log.info("Running lifecycle")
        started = time.monotonic()
        stage = "check_prerequisites"
        try:
            if self.info.action is not HelmAction.SKIP:
                with self._timed(stage):
                    self._desired()
                with self._timed(stage):
                    self._prerequisites()
            for stage, step in self._stages():
                with self._timed(stage):
                    self._check_cancel(stage)
                    step()
        except _Failed:
            pass
        except CancelledError as exc:
            self._interrupted(stage, exc)
        except (Exception, SystemExit) as exc:  # any stage failure, whatever a plugin raised (sys.exit too)
            self._failed(stage, exc)
        else:
            self.ok = True
        self._finish()
        return self.outcome(time.monotonic() - started)

    def outcome(self, duration: float) -> ReleaseOutcome:
        """The release's outcome, once its lifecycle ended."""
        executed, tests = self.record.executed, self.record.tests
        if self.ok:
            result, reason = "ok", ""
        else:
            result = "cancelled" if self.interrupted else "failed"
            reason = self.error or (f"{self.stage_failed} failed" if self.stage_failed else "failed")
        return ReleaseOutcome(
            name=self.name,
            action=self.context.change or self.info.action.value,
            result=result,
            reason=reason,
            duration=duration,
            validations=tuple(self.validations),
            stage_failed=self.stage_failed,
            revision=executed.revision if executed is not None else None,
            rolled_back=self.rolled_back,
            debug=tuple(self.debug),
            namespace=self.namespace,
            executed=executed,
            tests=tests.tests if tests is not None else None,
            problems=tuple(self.problems),
            warnings=tuple(self.warnings),
            rollback=self.rollback,
            retries_used=self.retries_used,
            durations=dict(self.durations),
            exception=self.exception,
            payload=self.payload,
        )

    def _stages(self) -> list[tuple[str, Callable[[], None]]]:
        if self.info.action is HelmAction.SKIP:
            return [("exec", self._exec)]
        steps = [("pre_exec", self._pre_exec), ("exec", self._exec), ("post_exec", self._post_exec)]
        if not self.dry_run:
            steps.append(("validate", self._validate))
        return steps

    def _finish(self) -> None:
        done = self.record.executed
        if self.ok:
            what = done.message if done and done.message else "succeeded"
            self.log.info("Lifecycle succeeded: %s", self.redact(what))
        elif self.interrupted:
            self.log.warning("Lifecycle interrupted at %s", self.stage_failed)
        else:
            self.log.error("Lifecycle failed at %s: %s", self.stage_failed, self.error)

    # -- stages -----------------------------------------------------------------------

    def _prerequisites(self) -> None:
        self.log.info("Checking prerequisites")
        problems = self._call(
            "check_prerequisites",
            lambda: self.manager.check_prerequisites(self.chart, self.context, self.payload),
        )
        # the desired state's problems first (context.refuse): the plan showed them
        problems = [self.redact(str(p)) for p in [*self.context.problems, *(problems or [])]]
        if not problems:
            return
        self.problems = problems  # as the implementations said them
        self.stage_failed = "check_prerequisites"
        # the error and the log lines name the release once: a problem starting with it loses that
        prefix = f"release '{self.name}': "
        said = [p.removeprefix(prefix) for p in problems]
        for p in said:
            self.log.error("Prerequisite not met: %s", p)
        self.error = f"release '{self.name}' failed at check_prerequisites: " + "; ".join(said)
        self.exception = PrerequisiteError(self.error)
        raise _Failed

    def _pre_exec(self) -> None:
        self.log.debug("Pre-exec")
        self._call("pre_exec", lambda: self.manager.pre_exec(self.chart, self.context, self.payload))

    def _exec(self) -> None:
        self.log.info(_STAGE_LINE[self.info.action])
        value = self._call("exec", lambda: self.manager.exec(self.chart, self.context, self.payload))
        if value is None:
            raise FirestreamError(
                f"no exec implementation returned an outcome for release '{self.name}' "
                "(is the built-in 'defaults' plugin disabled?)"
            )
        if not isinstance(value, ExecOutcome):  # an exec wrapper's (each plugin's own is checked)
            raise PluginError(f"exec returned {a_type(value)}, not an ExecOutcome")
        self.record.executed = value
        # helm's own report of the revision it just wrote (and its workloads, which pods_running
        # checks): the first validation may rely on it instead of asking helm again (see
        # _post_exec and _validate_once)
        self.record.status_fresh = value.status is not None
        if value.message:
            self.log.debug("Exec: %s", self.redact(value.message))

    def _post_exec(self) -> None:
        self.log.debug("Post-exec")
        if not self._only_builtin("post_exec"):
            # a plugin's post_exec may run for minutes or act on the release itself
            self._exec_status_stale()
        self._call("post_exec", lambda: self.manager.post_exec(self.chart, self.context, self.payload))

    def _only_builtin(self, hook: str) -> bool:
        """True when the only implementation of ``hook`` for this release is the built-in default
        (a chart class overriding the stage counts as a plugin's implementation)."""
        if overrides_chart_method(type(self.chart), hook):
            return False
        return self.manager.only_builtin(hook, self.chart.chart_type)

    def _exec_status_stale(self) -> None:
        """From now on helm's status must be asked again, not taken from ``exec``'s record."""
        self.record.status_fresh = False

    def _validate_once(self) -> list[ValidationResult]:
        def validate() -> list[ValidationResult]:
            try:
                return self.manager.validate(self.chart, self.context, self.payload)
            finally:
                self._exec_status_stale()  # a later poll (or retry) reads fresh state

        raw = self._call("validate", validate)
        out = []
        for r in raw or []:
            if not isinstance(r, ValidationResult):
                raise TypeError(f"validate returned a {type(r).__name__}, not a ValidationResult")
            out.append(attrs.evolve(r, message=self.redact(r.message)))
        return out

    def _validate(self) -> None:
        self.log.debug("Validating")
        interval = float(self.context.settings.get("validation_interval", DEFAULT_VALIDATION_INTERVAL))
        deadline = time.monotonic() + self.info.timeout_seconds
        while True:
            results = self._validate_once()
            pending = [r for r in results if r.status is ValidationStatus.PENDING]
            remaining = deadline - time.monotonic()
            if not pending or remaining <= 0:
                break
            for r in pending:
                self.log.debug("%s", r)
            if self.context.cancel.wait(min(interval, remaining)):
                raise CancelledError(f"release '{self.name}' interrupted at validate", releases=[self.name])
        final = [
            ValidationResult(
                r.name,
                ValidationStatus.FAILED,
                f"still pending after {self.info.timeout}: {r.message}",
                r.details,
            )
            if r.status is ValidationStatus.PENDING
            else r
            for r in results
        ]
        warn = validation_failure_mode(self.chart, self.context) == "warn"
        failed = [r for r in final if r.status is ValidationStatus.FAILED]
        if warn and failed:
            final = [
                attrs.evolve(r, status=ValidationStatus.WARNING)
                if r.status is ValidationStatus.FAILED
                else r
                for r in final
            ]
            self.warnings.extend(f"{r.name}: {r.message}" for r in failed)
        self.validations = final
        for r in final:
            # every line names its release: parallel releases' lines are told apart
            if r.status is ValidationStatus.FAILED:
                self.log.error("%s", r)
            elif r.status is ValidationStatus.WARNING:
                self.log.warning("%s (on_validation_failure = warn)", r)
            else:
                self.log.info("%s", r)
        if failed and not warn:
            raise ValidationFailedError(
                f"release '{self.name}' failed at validate: "
                + "; ".join(f"{r.name}: {r.message}" for r in failed)
            )

    # -- failure handling ----------------------------------------------------------------

    def _interrupted(self, stage: str, exc: CancelledError) -> None:
        self.interrupted = True
        self.stage_failed = stage
        self.error = f"release '{self.name}' interrupted at {stage}"
        self.exception = CancelledError(self.error, releases=[self.name])

    def _failed(self, stage: str, exc: BaseException) -> None:
        self.stage_failed = stage
        if isinstance(exc, ValidationFailedError):
            self.error = self.redact(str(exc))
            self.exception = exc
        else:
            self.error = f"release '{self.name}' failed at {stage}: {self._reason(exc)}"
            self.exception = StageFailedError(self.error, release=self.name, stage=stage, cause=exc)
            self.exception.__cause__ = exc
            if not isinstance(exc, FirestreamError):
                tb = "".join(traceback.format_exception(exc))
                self.log.debug("Traceback at %s:\n%s", stage, self.redact(tb))
        if stage == "check_prerequisites":
            return  # nothing was changed: nothing to collect
        with self._timed("on_deploy_failure"):
            self._collect_debug(stage, exc)
        # a release that could not be checked (cluster unreachable) is not known to be bad
        if stage == "validate" and not isinstance(exc, TRANSIENT_ERRORS) and self._should_roll_back():
            with self._timed("rollback"):
                self._roll_back()

    def _collect_debug(self, stage: str, exc: BaseException) -> None:
        self._calling("on_deploy_failure")
        try:
            lines = self.manager.on_deploy_failure(self.chart, self.context, self.payload, stage, exc)
        except (Exception, SystemExit) as hook_exc:  # never let it hide the first error
            self.log.warning(
                "on_deploy_failure raised %s; calling each implementation alone",
                self._reason(hook_exc),
            )
            try:
                lines = self._collect_debug_one_by_one(stage, exc)
            except (Exception, SystemExit) as again:  # noqa: BLE001 - whatever happens, the first error stays
                lines = [f"on_deploy_failure could not be called: {self._reason(again)}"]
        self.debug = [self.redact(str(line)) for line in lines or []]
        if self.debug:
            self.log.info("Debug information:")
            for line in self.debug:
                self.log.info("  %s", line)

    def _collect_debug_one_by_one(self, stage: str, exc: BaseException) -> list[str]:
        return self.manager.on_deploy_failure_each(
            self.chart, self.context, self.payload, stage, exc, describe=self._reason
        )

    def _should_roll_back(self) -> bool:
        o = self.record.executed
        return (
            self.info.atomic
            and self.info.action is HelmAction.DEPLOY
            and not self.dry_run
            and o is not None
            and o.performed == "deployed"
        )

    def _roll_back(self) -> None:
        try:
            done = self.record.executed
            what = self._call(
                "rollback",
                lambda: rollback_release(self.context, self.info, done.revision if done else None),
            )
        except Exception as exc:  # the validation error stays the release's error
            self.rollback = f"rollback failed: {self._reason(exc)}"
            self.log.error("%s", self.rollback)
        else:
            self.rolled_back = True
            self.rollback = what
            self.log.warning("%s after failed validation", what)
        self.error = f"{self.error}; {self.rollback}"
        if self.exception is not None:
            self.exception.args = (self.error,)  # raise_for_status() tells the whole story


def run_release(
    chart: HelmChart,
    manager: FirestreamPluginManager,
    context: DeployContext,
    payload: ChartPayload | None = None,
    *,
    on_stage: StageListener | None = None,
) -> ReleaseOutcome:
    """Run one release's lifecycle and say what happened; never raises for a failed stage.

    :param chart: the release.
    :param manager: the plugin manager (``plugins.get_plugin_manager()``);
        its typed stage methods call only the implementations concerned.
    :param context: helm, kubectl, cluster state and settings for this release.
    :param payload: the payload to thread through the stages (a new one
        when None); the outcome keeps it. The core puts nothing of its own in it.
    :param on_stage: told ``(release, stage)`` before each call of a stage's hooks
        (:data:`StageListener`; a run's progress events).
    :return: the release's :class:`~firestream_core.deploy.results.ReleaseOutcome`
        (its ``action`` is the plan's, ``context.change``, or else the chart's
        action). ``KeyboardInterrupt`` propagates; use ``context.cancel`` to
        interrupt cleanly.
    """
    # the tools' lines (helm, kubectl) name it too; any logger's record (a plugin's own) is redacted
    with naming_release(chart.chart_info.name), redacting(context.redactor):
        return _LifecycleRun(chart, manager, context, payload, on_stage).run()
