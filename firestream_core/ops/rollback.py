"""``firestream rollback``: releases back to the revision of their last successful apply.

:func:`plan_rollback` decides, from one ``helm list`` and the state, each
release's step (``rollback`` from its current revision to the target, or
``no-op`` / ``error`` with why); :func:`run_rollback` carries the steps out
in reverse dependency order (dependents first): ``helm rollback --wait``,
then the release's ``validate`` hooks, then a ``rollback`` record in the
state (result, new revision, validations).

The target is the revision the state recorded for the release's last
successful apply (or import / rollback), kept across the failed applies
after it (``ReleaseState.last_successful``), or ``--to-revision N`` for one
release.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from firestream_core.deploy.results import ReleaseOutcome, release_state
from firestream_core.errors import FirestreamError, StateError, first_line
from firestream_core.model import (
    ChartPayload,
    HelmChart,
    InstalledRelease,
    ValidationResult,
    ValidationStatus,
)
from firestream_core.plugin.context import DeployContext
from firestream_core.tools.release_log import ReleaseLogger

if TYPE_CHECKING:
    from firestream_core.deploy.run import Tools
    from firestream_core.plugin.manager import FirestreamPluginManager
    from firestream_core.state.store import StateBackend
    from firestream_core.tools.redact import Redactor

__all__ = ["RollbackInput", "RollbackStep", "plan_rollback", "run_rollback"]

log = logging.getLogger("firestream")


@attrs.frozen
class RollbackInput:
    """What a rollback needs of its project, and nothing more (``Project.rollback_input()`` builds it)."""

    charts: Mapping[str, HelmChart]
    """The project's charts by release name."""
    order: tuple[str, ...]
    """The release names in dependency order (dependencies first)."""
    manager: FirestreamPluginManager
    project_dir: Path
    backend: StateBackend
    redactor: Redactor
    repositories: Mapping[str, str] = attrs.field(factory=dict)
    """Repository name -> URL (chart types' defaults, overridden by ``[repositories]``)."""
    cluster: str | None = None
    """The API server the project's kubeconfig names (``Project.cluster_identity``), recorded with
    each release (``ReleaseState.cluster``)."""


@attrs.frozen
class RollbackStep:
    """One release's step: ``action`` is ``rollback``, ``no-op`` or ``error``."""

    name: str
    namespace: str
    action: str
    reason: str
    current: int | None = None
    target: int | None = None

    @property
    def is_change(self) -> bool:
        return self.action == "rollback"


def plan_rollback(
    project: RollbackInput,
    names: Sequence[str] | None,
    to_revision: int | None,
    installed: Iterable[InstalledRelease],
) -> list[RollbackStep]:
    """Each named release's rollback step (all releases when ``names`` is None), dependents first.

    :raises FirestreamError: ``to_revision`` with other than exactly one release.
    """
    chosen = list(names) if names else list(project.order)
    if to_revision is not None and len(chosen) != 1:
        raise FirestreamError("--to-revision needs exactly one release",
                              hint="firestream rollback RELEASE --to-revision N")
    live = {r.key: r for r in installed}
    state = project.backend.load()
    steps = []
    for name in [n for n in reversed(project.order) if n in chosen]:
        ns = project.charts[name].chart_info.namespace_name
        inst = live.get((ns, name))
        if inst is None:
            steps.append(RollbackStep(name, ns, "error", "not deployed"))
            continue
        record = state.releases.get(f"{ns}/{name}")
        if to_revision is None and record is not None and record.made_elsewhere(project.cluster):
            steps.append(RollbackStep(name, ns, "error", f"the state's record was made on {record.cluster}, not "
                                      f"on this cluster ({project.cluster}): no revision of this cluster's "
                                      "is recorded; pass --to-revision N", inst.revision))
            continue
        target = to_revision
        why = f"revision {inst.revision} -> {to_revision} (--to-revision)"
        if target is None:
            good = record.last_successful() if record is not None else None
            if record is None or good is None:
                last = f"last: {record.action} {record.result}" if record is not None else "no record"
                steps.append(RollbackStep(name, ns, "error", f"no successful apply recorded ({last}); "
                                          "pass --to-revision N", inst.revision))
                continue
            target = good.revision
            why = f"revision {inst.revision} -> {target} (last successful {good.action} at {good.applied_at})"
        if target == inst.revision and inst.status == "deployed":
            steps.append(RollbackStep(name, ns, "no-op", f"already at revision {target}", inst.revision, target))
        elif target > inst.revision or target < 1:
            steps.append(RollbackStep(name, ns, "error", f"no revision {target} (current {inst.revision})",
                                      inst.revision, target))
        else:
            steps.append(RollbackStep(name, ns, "rollback", why, inst.revision, target))
    return steps


def run_rollback(
    project: RollbackInput, steps: Sequence[RollbackStep], tools: Tools, *, dry_run: bool = False
) -> list[ReleaseOutcome]:
    """Carry the ``rollback`` steps out one by one (dependents first); each is validated and
    recorded in the state. A failure skips the rest.

    :return: one :class:`~firestream_core.deploy.results.ReleaseOutcome` (action
        ``rollback``) per step carried out, skipped or dry-run; one the state could not
        record has ``unrecorded`` (why), and no step starts after it.
    """
    out: list[ReleaseOutcome] = []
    failed: str | None = None
    for step in steps:
        if not step.is_change:
            continue
        if failed is not None:
            out.append(ReleaseOutcome(step.name, "rollback", "skipped", failed, namespace=step.namespace))
            continue
        log.info("Rolling back release '%s' to revision %d", step.name, step.target)
        if dry_run:
            out.append(ReleaseOutcome(step.name, "rollback", "ok", "dry run", revision=step.current,
                                      namespace=step.namespace))
            continue
        outcome, version = _roll_back(project, step, tools)
        failed = None if outcome.ok else "an earlier rollback failed"
        try:
            _record(project, outcome, version)
        except (StateError, OSError) as exc:  # helm's rollback stands: say so, start no other
            outcome = attrs.evolve(outcome, unrecorded=project.redactor.redact(first_line(exc)))
            failed = "the state could not record an earlier rollback"
        out.append(outcome)
    return out


def _roll_back(project: RollbackInput, step: RollbackStep, tools: Tools) -> tuple[ReleaseOutcome, str | None]:
    """``helm rollback --wait`` of one release, then its ``validate`` hooks; with the chart version
    the release runs after it (None when helm's list could not say)."""
    _, helm, kubectl = tools
    chart = project.charts[step.name]
    info = chart.chart_info
    start = time.monotonic()
    validations: list[ValidationResult] = []
    revision: int | None = None
    version: str | None = None
    try:
        helm.rollback(step.name, step.namespace, step.target, timeout=info.timeout,
                      history_max=info.history_max, no_hooks=info.hooks_disabled)
        now = {r.key: r for r in helm.list_releases()}.get((step.namespace, step.name))
        revision = now.revision if now is not None else None
        version = (now.chart_version or None) if now is not None else None
        context = DeployContext(helm=helm, kubectl=kubectl, project_dir=project.project_dir,
                                repositories=dict(project.repositories), installed=now, change="rollback",
                                redactor=project.redactor,
                                log=ReleaseLogger(log, step.name, redactor=project.redactor),
                                settings={"on_validation_failure": chart.settings.on_validation_failure,
                                          "validation_failure": chart.settings.on_validation_failure})
        validations = list(project.manager.validate(chart, context, ChartPayload()))
        bad = [v for v in validations if v.status is ValidationStatus.FAILED]
        warn = chart.settings.on_validation_failure == "warn"
        for v in validations:
            (log.error if v.status is ValidationStatus.FAILED else log.info)("%s", v)
        if bad and not warn:
            raise FirestreamError(f"release '{step.name}' failed at validate after the rollback: "
                                  + "; ".join(f"{v.name}: {v.message}" for v in bad))
        result, reason = "ok", f"at revision {revision} (the content of revision {step.target})"
    except FirestreamError as exc:
        result, reason = "failed", project.redactor.redact(str(exc))
    except (Exception, SystemExit) as exc:  # a plugin's validate hook: named, and helm's rollback recorded
        from firestream_core.plugin.manager import raised_by

        who = raised_by(exc)
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        result, reason = "failed", project.redactor.redact(
            f"release '{step.name}' failed at validate after the rollback: {who + ': ' if who else ''}{what}")
    return ReleaseOutcome(
        step.name, "rollback", result, reason, time.monotonic() - start, tuple(validations),
        stage_failed=None if result == "ok" else "rollback", revision=revision, namespace=step.namespace,
    ), version


def _record(project: RollbackInput, outcome: ReleaseOutcome, version: str | None = None) -> None:
    """The rollback in the state: the chart version the release runs after it (``version``; the
    previous record's when helm could not say); the digests of what apply applied stay the
    previous record's (the plan compares the config with them: deploy/plan.py)."""
    state = project.backend.load()
    previous = state.releases.get(f"{outcome.namespace}/{outcome.name}")
    state.record(release_state(
        outcome, project.charts[outcome.name],
        version=version or (previous.version if previous is not None else None),
        values_digest=previous.values_digest if previous is not None else "",
        chart_digest=previous.chart_digest if previous is not None else None,
        redact=project.redactor.redact,
        cluster=project.cluster,
    ))
    project.backend.save(state)
