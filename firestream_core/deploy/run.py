"""One ``apply`` / ``destroy`` run: the plan's releases through the scheduler and the lifecycle.

:class:`Project.apply <firestream_core.project.Project.apply>` takes the
lock, makes (or checks) the plan, then hands it here. A :class:`Run`

* starts each changed release the moment its own dependencies succeeded
  (:mod:`~firestream_core.deploy.scheduler`), no-op releases counting as satisfied;
* runs its lifecycle on a deep copy of its chart (:mod:`~firestream_core.deploy.lifecycle`),
  reporting each stage as an :class:`~firestream_core.deploy.results.ApplyEvent`
  (``run_release`` tells the run before each stage's hooks: ``on_stage``); the lifecycle's
  :class:`~firestream_core.deploy.results.ReleaseOutcome` is the scheduler
  node's value and the release's entry in the result;
* stops every helm process of the run as soon as ``cancel`` is set;
* records each finished release in the state at once
  (:func:`~firestream_core.deploy.results.release_state`): O(1) per release
  through a :class:`~firestream_core.state.store.StateWriter` backend (the
  local journal, the Secret's batches), compacted once when the run ends;
* returns an :class:`~firestream_core.deploy.results.ApplyResult`.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from firestream_core.deploy.desired import changed_since_plan
from firestream_core.deploy.lifecycle import run_release
from firestream_core.deploy.plan import blocked_by_skipped, not_as_planned
from firestream_core.deploy.results import ApplyEvent, ApplyResult, ReleaseOutcome, release_state
from firestream_core.deploy.scheduler import NodeResult, Scheduler, SchedulerEvent
from firestream_core.errors import HelmNotInstalledError, StateError, first_line
from firestream_core.model import HelmAction, HelmChart
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.spec import ALL_HOOKS
from firestream_core.state.store import ReleaseState, StateWriter
from firestream_core.tools.chartfiles import RecentDigests
from firestream_core.tools.kubetool import KubeTool, check_startable
from firestream_core.tools.release_log import naming_release
from firestream_core.tools.sensitivity import secret_file_paths

if TYPE_CHECKING:
    from firestream_core.deploy.plan import Change, Plan
    from firestream_core.plugin.manager import FirestreamPluginManager
    from firestream_core.state.store import State, StateBackend
    from firestream_core.tools.helm import Helm
    from firestream_core.tools.kubectl import Kubectl
    from firestream_core.tools.process import Runner
    from firestream_core.tools.redact import Redactor

__all__ = ["Run", "RunInput", "RunOptions", "Tools"]

log = logging.getLogger("firestream.project")

Tools = tuple["Runner", "Helm", "Kubectl"]
"""``(runner, helm, kubectl)`` sharing one process runner (:meth:`Project.tools`)."""

_SCHEDULER_RESULT = {
    "succeeded": "ok",
    "failed": "failed",
    "skipped": "skipped",
    "not_started": "not_started",
    "cancelled": "cancelled",
}


@attrs.frozen
class RunOptions:
    """How a run goes: :meth:`Project.apply`'s keyword arguments, defaults resolved."""

    concurrency: int
    fail_fast: bool
    dry_run: bool = False
    on_event: Callable[[ApplyEvent], None] | None = None
    cancel: threading.Event = attrs.field(factory=threading.Event)
    lock_timeout: float = 0.0
    """Seconds to wait for the project lock another run holds (0: refuse at once)."""
    stop_new: Callable[[], str | None] | None = None
    """Asked before each release starts: once it gives a reason (the project lock was
    lost), no release starts any more and those left end ``not_started`` with it."""


def uninstall_order(deps: Mapping[str, Sequence[str]], destroyed: Collection[str]) -> dict[str, list[str]]:
    """``deps`` with each edge between two ``destroyed`` releases turned round: in an apply, a
    release with ``action = "destroy"`` is uninstalled only after the releases depending on it
    that are destroyed too (as ``firestream destroy`` does), so no dependent runs without it.

    >>> uninstall_order({"db": [], "api": ["db"], "web": ["api"], "cache": []}, {"db", "api", "web"})
    {'db': ['api'], 'api': ['web'], 'web': [], 'cache': []}
    """
    out: dict[str, list[str]] = {n: [] for n in deps}
    for name, needs in deps.items():
        for d in needs:
            if name in destroyed and d in destroyed:
                out.setdefault(d, []).append(name)
            else:
                out[name].append(d)
    return out


# -- one run ----------------------------------------------------------------------------------


@attrs.frozen
class RunInput:
    """What a run needs of its project, and nothing more (the project builds it)."""

    charts: Mapping[str, HelmChart]
    """The project's charts by release name (a release's stages get a copy)."""
    manager: FirestreamPluginManager
    project_dir: Path
    redactor: Redactor
    repositories: Mapping[str, str]
    """Repository name -> URL (chart types' defaults, overridden by ``[repositories]``)."""
    cluster: str | None = None
    """The API server the project's kubeconfig names (``Project.cluster_identity``), recorded with
    each release (``ReleaseState.cluster``)."""

    def chart(self, name: str) -> HelmChart:
        return self.charts[name]


class Run:
    """One ``apply``/``destroy``: the plan's releases through the scheduler and the lifecycle."""

    def __init__(
        self, project: RunInput, plan: Plan, tools: Tools, backend: StateBackend, options: RunOptions
    ) -> None:
        self.project = project
        self.plan = plan
        self.chart_digests = RecentDigests()  # a local chart many releases share: read once per 0.1 s
        self.runner, self.helm, self.kubectl = tools
        self.backend = backend
        self.concurrency = options.concurrency
        self.fail_fast = options.fail_fast
        self.dry_run = options.dry_run
        self.on_event = options.on_event
        self.cancel = options.cancel
        self._stop_new = options.stop_new
        self.state_error: StateError | None = None
        """The first error writing the state: no release starts after it (:meth:`stop_new`)."""
        self._state_error_lock = threading.Lock()
        self.repositories = dict(project.repositories)
        self.changes = {c.name: c for c in plan.releases}
        self.state: State | None = None
        self.manager = project.manager
        self._events_broken = False
        self._watching = threading.Lock()
        self._writer = backend if isinstance(backend, StateWriter) else None
        self._log = logging.getLogger("firestream")
        self._events_lock = threading.Lock()
        self._announced: set[str] = set()  # releases whose ``started`` event is out
        self._held: dict[str, list[ApplyEvent]] = {}  # stages that came before it (:meth:`_stage`)

    def stop_new(self) -> str | None:
        """Asked before each release starts: once the state cannot be written, nothing more is
        deployed (what helm would do could not be recorded either); else the run's own reason
        (``RunOptions.stop_new``: the project lock was lost)."""
        if self.state_error is not None:
            return "the state cannot be written (the error follows)"
        return self._stop_new() if self._stop_new is not None else None

    def _state_failed(self, exc: StateError | OSError) -> StateError:
        """Keep the first error writing the state (logged once); return it as a ``StateError``."""
        error = exc if isinstance(exc, StateError) else StateError(
            f"cannot write the state at {self.backend.describe()}: {exc.strerror or exc}")
        with self._state_error_lock:
            first = self.state_error is None
            if first:
                self.state_error = error
        if first:
            log.error("%s; starting no more releases", error)
        return error

    # -- events ------------------------------------------------------------------------------

    def emit(self, event: ApplyEvent) -> None:
        if self.on_event is None or self._events_broken:
            return
        try:
            self.on_event(event)
        except Exception:  # a broken progress display must not break a deploy
            self._events_broken = True
            log.exception("progress callback failed; no further events are sent to it")

    def _stage(self, release: str, stage: str) -> None:
        """A worker's ``stage`` event; held until the release's ``started`` is out.

        The scheduler announces the releases it dispatched together after handing
        them all to workers (so a slow display delays none of them): a worker may
        reach its first stage first. Its stages then wait here, in order, and go
        out right after ``started``; nobody ever sees a stage before its start.
        """
        if self.on_event is None:
            return
        change = self.changes.get(release)
        event = ApplyEvent("stage", release, change.action if change else "", stage=stage)
        with self._events_lock:
            if release not in self._announced:
                self._held.setdefault(release, []).append(event)
                return
        self.emit(event)

    def _skip_reason(self, name: str, reason: str | None) -> str | None:
        """The scheduler's ``dependency 'x' failed``, said ``dependent`` when both releases are
        uninstalled (:func:`uninstall_order` turned their edge round: ``x`` depends on ``name``)."""
        m = re.match(r"dependency '([^']+)' failed", reason or "")
        change, blocker = self.changes.get(name), self.changes.get(m.group(1)) if m else None
        if m and change is not None and blocker is not None and not self.plan.destroy \
                and change.action == "destroy" and blocker.action == "destroy":
            return "dependent" + (reason or "")[len("dependency"):]
        return reason

    def _scheduler_event(self, event: SchedulerEvent) -> None:
        change = self.changes.get(event.name)
        result = _SCHEDULER_RESULT.get(str(event.status)) if event.status is not None else None
        self.emit(
            ApplyEvent(
                event.kind,
                event.name,
                change.action if change else "",
                result=result,
                reason=self._skip_reason(event.name, event.reason) if event.kind == "skipped" else event.reason,
                time=event.time,
            )
        )
        if event.kind == "started" and self.on_event is not None:
            with self._events_lock:  # held stages go out before any later one of the release
                self._announced.add(event.name)
                for held in self._held.pop(event.name, ()):
                    self.emit(held)

    # -- the run -------------------------------------------------------------------------------

    def blocked(self) -> dict[str, str]:
        """Releases that cannot run: changes depending on a skipped release that is not
        deployed, as the plan refused them (:func:`~firestream_core.deploy.plan.blocked_by_skipped`)."""
        if self.plan.destroy:
            return {}
        return blocked_by_skipped(self.plan.releases, self.plan.deps,
                                  lambda n: self.project.chart(n).chart_info.action)

    def _prepare_plugins(self, names: Iterable[str]) -> None:
        """Every plugin the releases will call is imported, and its hook callers built, before
        the first release starts: no import inside a lifecycle, no two workers importing one."""
        for chart_type in {self.project.chart(n).chart_type for n in names}:
            for hook in ALL_HOOKS[1:]:
                self.manager.hook_caller(hook, chart_type)

    def _check_kubectl(self) -> None:
        """An apply that changes releases needs kubectl to validate them: a kubectl that cannot be
        started (missing, not executable) refuses the run before the first release changes
        anything, rather than after helm installed it (then rolled back). A file lookup only."""
        if self.plan.destroy or self.dry_run or not any(c.is_change for c in self.plan.releases):
            return
        if not isinstance(self.kubectl, KubeTool):  # a test's stand-in
            return
        try:
            check_startable(self.kubectl)
        except HelmNotInstalledError as exc:
            raise HelmNotInstalledError(
                f"{exc}; apply needs it to validate the releases, so nothing was changed", hint=exc.hint
            ) from None

    def go(self) -> ApplyResult:
        started = time.monotonic()
        self._check_kubectl()
        self.state = self.backend.load()
        blocked = self.blocked()
        deps = {n: list(ds) for n, ds in self.plan.deps.items() if n not in blocked}
        satisfied = [n for n in deps if not self.changes[n].is_change]
        if not self.plan.destroy:
            deps = uninstall_order(deps, {c.name for c in self.plan.releases if c.action == "destroy"})
        estimates = self.state.estimates_for(
            (c.name, c.namespace, c.name) for c in self.plan.releases
        )
        for name, why in blocked.items():
            self.emit(ApplyEvent("skipped", name, self.changes[name].action, result="skipped", reason=why))
        self._prepare_plugins(n for n in deps if self.changes[n].is_change)
        # what the stages read manifests and values documents with (PyYAML) and name their
        # values files' folder with (tools/digest.py, from tools/values.py), imported here and
        # not by the first release using them (usually imported already by the plan)
        import firestream_core.tools.digest  # noqa: F401
        import firestream_core.tools.kube_yaml  # noqa: F401
        done = threading.Event()
        watcher = threading.Thread(target=_watch_cancel, args=(self.cancel, done, self._watching, self.runner),
                                   daemon=True, name="firestream-cancel")
        watcher.start()
        try:
            result = Scheduler(self.concurrency, self.fail_fast).run(
                deps,
                self.work,
                reverse=self.plan.destroy,
                estimates=estimates,
                on_event=self._scheduler_event,
                cancel=self.cancel,
                satisfied=satisfied,
                stop_new=self.stop_new,
            )
        finally:
            with self._watching:  # from here on the watcher stops nothing (it ends by itself)
                done.set()
            if not self.dry_run and self._writer is not None:
                try:
                    self.record_adopted(satisfied)
                    self._writer.flush(self.state)  # the journal compacted, the last batch written
                except (StateError, OSError) as exc:  # the summary still tells what happened
                    self._state_failed(exc)
        if not self.dry_run and self._writer is None:
            try:
                self.record_adopted(satisfied)
            except (StateError, OSError) as exc:
                self._state_failed(exc)
        releases: dict[str, ReleaseOutcome] = {}
        for c in self.plan.releases:
            releases[c.name] = self.outcome_of(c, result.nodes.get(c.name), blocked.get(c.name))
        return ApplyResult(
            plan=self.plan,
            releases=releases,
            cancelled=bool(result.cancelled),
            interrupted=bool(result.interrupted),
            stopped=result.stopped,
            dry_run=self.dry_run,
            duration=time.monotonic() - started,
            state_error=self.state_error,
        )

    def chart_for(self, change: Change) -> HelmChart:
        """The release's chart as this run deploys it: a deep copy, destroy / dry-run set.

        Always a copy: stages may edit the chart in place (the seed's
        ``info.values.push(...)``), and such edits must not leak into the
        project's desired state, or the next ``plan()`` on the same object
        would see a change. The copy carries the values plugins contributed
        in the desired-state stage, as the plan computed them, and the exact
        version the plan resolved a version constraint to.
        """
        chart = copy.deepcopy(self.project.chart(change.name))
        # the desired state the plan computed: the values plugins contributed (contribute_values)
        chart.chart_info.plugin_values = copy.deepcopy(dict(change.plugin_values))
        if change.breaking_version is not None:  # decided by a plugin in the desired state
            chart.chart_info.last_breaking_version_requiring_restart = change.breaking_version
        if change.resolved_version is not None:  # the version the plan resolved a constraint to
            chart.chart_info.version = change.resolved_version
        if self.plan.destroy:
            chart.chart_info.action = HelmAction.DESTROY
        if self.dry_run:
            chart.chart_info.dry_run = True
        return chart

    def context_for(self, chart: HelmChart, change: Change) -> DeployContext:
        return DeployContext(
            helm=self.helm,
            kubectl=self.kubectl,
            project_dir=self.project.project_dir,
            repositories=self.repositories,
            installed=change.installed,
            change=change.action,
            breaking=change.breaking,
            problems=list(change.problems),
            planned_steps=tuple(change.destructive),
            redactor=self.project.redactor,
            log=self._log,
            dry_run=self.dry_run,
            settings={
                "on_validation_failure": chart.settings.on_validation_failure,
                "run_tests": chart.settings.run_tests,
            },
            cancel=self.cancel,
        )

    def work(self, name: str) -> ReleaseOutcome:
        """One release's lifecycle (on a worker thread); its state is saved as soon as it ends."""
        with naming_release(name):  # its state's lines too name the release
            change = self.changes[name]
            chart = self.chart_for(change)
            context = self.context_for(chart, change)
            if chart.chart_info.action is HelmAction.DEPLOY:  # the plan is the truth: nothing unseen
                context.problems += changed_since_plan(
                    chart, project_dir=self.project.project_dir,
                    values_digest=change.values_digest, chart_digest=change.chart_digest,
                    chart_digests=self.chart_digests,
                ) + not_as_planned(chart, change, self.project.project_dir)
            outcome = run_release(chart, self.manager, context, on_stage=self._stage)
            if outcome.ok:  # the plan's reason stays the release's reason
                outcome = attrs.evolve(outcome, reason=change.reason)
            interrupted = outcome.result == "cancelled" or (not outcome.ok and self.cancel.is_set())
            if not self.dry_run and interrupted and self._recorded(change):
                # helm may have made revisions (helm 3 rolls an --atomic upgrade back when stopped):
                # they are this run's, not a change outside firestream
                outcome = attrs.evolve(outcome, result="cancelled")
            elif interrupted:
                return outcome
            if not self.dry_run:
                try:
                    self.record(change, outcome)
                except (StateError, OSError) as exc:  # what helm did stands: say it, not a failed create
                    error = self._state_failed(exc)
                    outcome = attrs.evolve(outcome, unrecorded=str(error))
            return outcome

    def _recorded(self, change: Change) -> bool:
        """The state records ``change``'s release: an interrupted change of it is recorded too
        (``cancelled``, the revision before it kept), so the next plan does not take the
        revisions helm made meanwhile for a change outside firestream. An interrupted create
        or destroy of a release the state does not hold leaves the state as it is."""
        assert self.state is not None
        return change.action != "destroy" and change.key in self.state.releases

    # -- state ----------------------------------------------------------------------------------

    def record(self, change: Change, outcome: ReleaseOutcome) -> None:
        """Write what happened to ``change``'s release into the state file, atomically.

        The entry is :func:`~firestream_core.deploy.results.release_state` of
        the outcome: its validations and, when the ``helm_tests`` validation ran
        (``run_tests = true``), its ``helm test`` results, kept in the entry's
        ``tests`` field as ``firestream test`` keeps them.
        """
        assert self.state is not None
        if change.action == "destroy":
            if outcome.ok:
                self.state.forget(change.key)
                self._persist(change.key)
            return
        previous = self.state.releases.get(change.key)
        if outcome.revision is None and not outcome.ok and previous is not None \
                and not previous.made_elsewhere(self.project.cluster):  # not another cluster's revision
            outcome = attrs.evolve(outcome, revision=previous.revision)
        self.state.record(self._release_state(change, outcome))
        self._persist(change.key)

    def _persist(self, key: str) -> None:
        """Make ``key``'s new state durable: O(1) through a ``StateWriter``, else the whole state."""
        assert self.state is not None
        if self._writer is not None:
            self._writer.save_release(self.state, key)
        else:
            self.backend.save(self.state)

    def record_adopted(self, satisfied: Iterable[str]) -> None:
        """Record the no-op releases whose state entry is missing or stale (``record_state``).

        The cluster already holds their desired state (helm finished after a
        killed firestream, the release was installed by hand and matches, or
        the entry predates a field); each is logged. The entry of a destroyed
        release helm no longer runs is removed.
        """
        assert self.state is not None
        changed = False
        for name in satisfied:
            c = self.changes[name]
            inst = c.installed
            if c.record_state and (inst is None or inst.status == "uninstalled"):
                # destroyed, and no longer run by helm (uninstalled by hand): the entry goes
                if self.state.releases.get(c.key) is not None:
                    log.info("Removed release '%s' from the state: helm no longer runs it", c.name)
                    self.state.forget(c.key)
                    changed = True
                    if self._writer is not None:
                        self._writer.save_release(self.state, c.key)
                continue
            if self.plan.destroy or inst is None or c.values_digest is None or not c.record_state:
                continue
            previous = self.state.releases.get(c.key)
            if previous is None or previous.revision != inst.revision:
                log.info("Recorded release '%s' in the state: it already matches the cluster "
                         "(revision %d, %s)", c.name, inst.revision, c.reason)
            # a rollback's record gives way: the release runs what the config says (deploy/plan.py)
            action = previous.action if previous is not None and previous.action != "rollback" else "no-op"
            adopted = ReleaseOutcome(
                c.name, action, "ok", c.reason,
                duration=0.0 if previous is None else previous.duration,
                revision=inst.revision, namespace=c.namespace,
            )
            entry = self._release_state(c, adopted, version=inst.chart_version or c.desired_version)
            if previous is not None:
                entry.applied_at = previous.applied_at if previous.revision == inst.revision else entry.applied_at
                entry.validations = previous.validations
                entry.tests = previous.tests
            self.state.record(entry)
            changed = True
            if self._writer is not None:
                self._writer.save_release(self.state, c.key)
        if changed and self._writer is None:
            self.backend.save(self.state)

    def _release_state(self, change: Change, outcome: ReleaseOutcome, *, version: str | None = None) -> ReleaseState:
        """The state record of ``change``'s release: its outcome, and what the plan applied."""
        chart = self.project.chart(change.name)
        return release_state(
            outcome,
            chart,
            version=version or change.desired_version,
            values_digest=change.values_digest or "",
            chart_digest=change.chart_digest,
            desired_digest=change.desired_digest,
            desired_parts=change.parts,
            secret_paths=secret_file_paths(chart.chart_info),
            redact=self.project.redactor.redact,
            cluster=self.project.cluster,
        )

    # -- results ---------------------------------------------------------------------------------

    def outcome_of(
        self, change: Change, node: NodeResult[ReleaseOutcome] | None, blocked: str | None
    ) -> ReleaseOutcome:
        """The release's entry in the run's result: its lifecycle's outcome (the node's value), or
        why it did not run."""
        if blocked is not None:
            return ReleaseOutcome(change.name, change.action, "skipped", blocked, namespace=change.namespace)
        if not change.is_change:
            return ReleaseOutcome(change.name, change.action, "ok", change.reason, namespace=change.namespace)
        if node is None:
            reason = "not started (interrupted)" if self.cancel.is_set() else "not started"
            return ReleaseOutcome(change.name, change.action, "not_started", reason, namespace=change.namespace)
        result = _SCHEDULER_RESULT.get(str(node.status), str(node.status))
        mine = node.value
        if mine is not None:
            if result == "cancelled":
                return attrs.evolve(mine, result="cancelled", reason=f"interrupted ({mine.reason})")
            return mine
        reason = (self._skip_reason(change.name, node.reason) if result == "skipped" else node.reason) or ""
        if result == "failed":  # the work raised instead of returning an outcome
            reason = self.project.redactor.redact(
                f"{type(node.error).__name__}: {first_line(node.error)}" if node.error else reason
            )
        if result == "not_started" and not reason:
            reason = "not started (interrupted)" if self.cancel.is_set() else "not started"
        return ReleaseOutcome(change.name, change.action, result, reason, node.duration or 0.0,
                              namespace=change.namespace)


def _watch_cancel(cancel: threading.Event, done: threading.Event, watching: threading.Lock,
                  runner: Runner) -> None:
    """Stop every helm process of a run (its ``runner``'s) as soon as ``cancel`` is set.

    ``done`` is set under ``watching`` when the run ends: the run does not wait for this
    thread's next wake-up (up to 50 ms on every run), yet once ``done`` is set no process
    is stopped and no refusal is left on the runner. The thread is given what it needs and
    not the run: a run's tools (its helm's own folder, :mod:`~firestream_core.tools.helm_repos`)
    go when the run does, not at this thread's last wake-up.
    """
    while not done.is_set():
        if cancel.wait(0.05):
            with watching:
                if done.is_set():
                    return
                stopped = runner.terminate_all(refuse_new=True)
            if stopped:
                log.warning("interrupted: stopped helm for %s", ", ".join(stopped))
            return
