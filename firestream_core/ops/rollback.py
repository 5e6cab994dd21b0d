"""``firestream rollback``: releases back to the revision of their last successful apply.

:func:`plan_rollback` decides, from one ``helm list`` and the state, each
release's step (``rollback`` from its current revision to the target, or
``no-op`` / ``error`` with why); :func:`run_rollback` carries the steps out
in reverse dependency order (dependents first): ``helm rollback --wait``,
then the release's ``validate`` hooks, then a ``rollback`` record in the
state (result, new revision, validations).

The target is the revision the state recorded for the release's last
successful apply (or import / rollback), or ``--to-revision N`` for one
release.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from firestream_core.errors import FirestreamError

log = logging.getLogger("firestream")


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


@attrs.frozen
class RollbackOutcome:
    name: str
    namespace: str
    result: str  # ok | failed | skipped
    reason: str
    revision: int | None = None
    duration: float = 0.0


def plan_rollback(
    project: Any, names: Sequence[str] | None, to_revision: int | None, installed: Iterable[Any]
) -> list[RollbackStep]:
    """Each named release's rollback step (all releases when ``names`` is None).

    :raises FirestreamError: ``to_revision`` with other than exactly one release.
    """
    graph = project.graph()
    chosen = list(names) if names else graph.order()
    if to_revision is not None and len(chosen) != 1:
        raise FirestreamError("--to-revision needs exactly one release",
                              hint="firestream rollback RELEASE --to-revision N")
    live = {r.key: r for r in installed}
    state = project.load_state()
    steps = []
    for name in [n for n in graph.reverse_order() if n in chosen]:
        ns = project.chart(name).chart_info.namespace_name
        inst = live.get((ns, name))
        if inst is None:
            steps.append(RollbackStep(name, ns, "error", "not deployed"))
            continue
        record = state.releases.get(f"{ns}/{name}")
        target = to_revision
        why = f"revision {inst.revision} -> {to_revision} (--to-revision)"
        if target is None:
            if record is None or record.result != "succeeded" or record.revision is None:
                last = f"last: {record.action} {record.result}" if record is not None else "no record"
                steps.append(RollbackStep(name, ns, "error", f"no successful apply recorded ({last}); "
                                          "pass --to-revision N", inst.revision))
                continue
            target = record.revision
            why = f"revision {inst.revision} -> {target} (last successful {record.action} at {record.applied_at})"
        if target == inst.revision and inst.status == "deployed":
            steps.append(RollbackStep(name, ns, "no-op", f"already at revision {target}", inst.revision, target))
        elif target > inst.revision or target < 1:
            steps.append(RollbackStep(name, ns, "error", f"no revision {target} (current {inst.revision})",
                                      inst.revision, target))
        else:
            steps.append(RollbackStep(name, ns, "rollback", why, inst.revision, target))
    return steps


def run_rollback(project: Any, steps: Sequence[RollbackStep], tools: Any, *, dry_run: bool = False) -> list[
        RollbackOutcome]:
    """Carry the ``rollback`` steps out one by one (dependents first); each is validated and
    recorded in the state. A failure skips the rest."""
    from firestream_core.model import ChartPayload, ValidationStatus
    from firestream_core.plugin.context import DeployContext
    from firestream_core.state.lock import utc_now
    from firestream_core.state.store import ReleaseState

    _, helm, kubectl = tools
    backend = project.state_backend()
    out: list[RollbackOutcome] = []
    failed = False
    for step in steps:
        if not step.is_change:
            continue
        if failed:
            out.append(RollbackOutcome(step.name, step.namespace, "skipped", "an earlier rollback failed"))
            continue
        chart = project.chart(step.name)
        info = chart.chart_info
        start = time.monotonic()
        log.info("Rolling back release '%s' to revision %d", step.name, step.target)
        if dry_run:
            out.append(RollbackOutcome(step.name, step.namespace, "ok", "dry run", step.current))
            continue
        validations: list[Any] = []
        revision: int | None = None
        try:
            helm.rollback(step.name, step.namespace, step.target, timeout=info.timeout,
                          history_max=info.history_max)
            now = {r.key: r for r in helm.list_releases()}.get((step.namespace, step.name))
            revision = now.revision if now is not None else None
            context = DeployContext(helm=helm, kubectl=kubectl, project_dir=project.project_dir,
                                    repositories=project.repositories(), installed=now, change="rollback",
                                    redactor=project.redactor, log=log,
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
            failed = True
            result, reason = "failed", project.redactor.redact(str(exc))
        duration = time.monotonic() - start
        previous = project.load_state().releases.get(f"{step.namespace}/{step.name}")
        state = backend.load()
        state.record(ReleaseState(
            name=step.name, namespace=step.namespace, chart_type=chart.chart_type, chart=info.chart_ref,
            version=getattr(previous, "version", None) if previous is not None else None,
            values_digest=getattr(previous, "values_digest", "") if previous is not None else "",
            revision=revision, applied_at=utc_now(), action="rollback",
            result="succeeded" if result == "ok" else "failed", duration=duration,
            stage_failed=None if result == "ok" else "rollback",
            validations=[{"name": v.name, "status": v.status.value, "message": v.message} for v in validations],
            chart_digest=getattr(previous, "chart_digest", None) if previous is not None else None,
        ))
        backend.save(state)
        out.append(RollbackOutcome(step.name, step.namespace, result, reason, revision, duration))
    return out
