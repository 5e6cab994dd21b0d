"""Getting a release into a state helm can upgrade, and back out of a bad one.

Three things the default ``exec`` and the lifecycle runner need, kept apart
from the hook implementations so they can be read (and tested) on their own.
The first two are the default ``exec``'s first step, :func:`prepare_release`,
which the built-in ``exec`` wrapper runs before any other ``exec`` (a chart
plugin's ``wrapper=True`` step, then ``helm upgrade --install``); a plugin
never calls them, it reads what they did in ``context.prepared``:

* **pending recovery** - a release left in ``pending-install``,
  ``pending-upgrade`` or ``pending-rollback`` (an earlier helm process was
  killed) blocks every later operation ("another operation is in
  progress"). ``recover_pending`` uninstalls a ``pending-install`` at
  revision 1 and otherwise rolls back to the last ``deployed`` revision, as
  Qovery and Flux do. A release left ``uninstalling`` (an uninstall killed,
  or stopped by a failed ``pre-delete`` hook) is rolled back to its own
  revision, which makes it ``deployed`` again.
* **breaking versions** - ``take_breaking_step`` runs a chart's
  ``pre_upgrade_commands`` (argument lists, never through a shell) and
  uninstalls first when ``requires_uninstall``, when the upgrade crosses the
  breaking version (installed < breaking <= target, semver: the one rule
  ``plan`` uses too, :func:`~firestream_core.model.breaking_step`); a step the
  plan did not show is refused.
* **rollback after a failed validation** - ``rollback_release`` returns an
  atomic release to its previous deployed revision, or uninstalls it when
  it has none (what ``helm install --atomic`` does with a failed install).

Every program runs through the helm layer (``context.helm``,
``context.kubectl`` or the process runner); nothing here starts a process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import (
    CancelledError,
    FirestreamError,
    HelmCommandError,
    HelmError,
    HelmTimeoutError,
)
from firestream_core.model import (
    DEPLOYED_STATUSES,
    HelmAction,
    InstalledRelease,
    last_deployed_revision,
    recovery_rollback,
)
from firestream_core.plugin.context import PreparedRelease
from firestream_core.plugin.helpers import current_release, is_dry_run
from firestream_core.tools.helm_errors import ReleaseNotFoundError

if TYPE_CHECKING:
    from firestream_core.model import BreakingStep, ChartInfo, HelmChart
    from firestream_core.plugin.context import DeployContext

__all__ = [
    "DEPLOYED_STATUSES",
    "decide_breaking",
    "find_installed",
    "history_entries",
    "last_deployed_revision",
    "prepare_release",
    "recover_pending",
    "recovery_rollback",
    "release_status",
    "rollback_release",
    "run_command",
    "take_breaking_step",
]

def _redact(context: DeployContext, text: str) -> str:
    return context.redactor.redact(text) if context.redactor is not None else text


# -- reading the cluster ----------------------------------------------------------


def find_installed(context: DeployContext, info: ChartInfo) -> InstalledRelease | None:
    """This release as the cluster reports it now (``helm list -A -a``), or None."""
    ns = info.namespace_name
    for rel in context.helm.list_releases():
        if rel.name == info.name and rel.namespace == ns:
            return rel
    return None


def _is_not_found(exc: HelmError) -> bool:
    if isinstance(exc, ReleaseNotFoundError):
        return True
    text = f"{exc} {getattr(exc, 'stderr', '')}".lower()
    return "release: not found" in text or "release not found" in text


def release_status(context: DeployContext, info: ChartInfo) -> str | None:
    """helm's status of the release (``deployed``, ``failed``, ``pending-upgrade``...).

    None when helm knows no such release. Transient errors (cluster
    unreachable, timeouts) propagate so the runner can retry.
    """
    try:
        data = context.helm.status(info.name, info.namespace_name)
    except HelmCommandError as exc:
        if _is_not_found(exc):
            return None
        raise
    if not data:
        return None
    inner = data.get("info") if isinstance(data, Mapping) else None
    status = inner.get("status") if isinstance(inner, Mapping) else None
    if status is None and isinstance(data, Mapping):
        status = data.get("status")
    return str(status) if status else "unknown"


def history_entries(context: DeployContext, info: ChartInfo) -> list[dict[str, Any]]:
    """The release's history, oldest first; empty when helm knows no such release."""
    try:
        entries = context.helm.history(info.name, info.namespace_name)
    except HelmCommandError as exc:
        if _is_not_found(exc):
            return []
        raise
    out = [dict(e) for e in entries or []]
    out.sort(key=lambda e: int(e.get("revision", 0)))
    return out


def _as_installed(info: ChartInfo, entry: Mapping[str, Any]) -> InstalledRelease:
    return InstalledRelease(
        name=info.name,
        namespace=info.namespace_name,
        revision=int(entry.get("revision", 0)),
        status="deployed",
        chart=str(entry.get("chart", "")),
        app_version=str(entry.get("app_version", "")),
        updated=str(entry.get("updated", "")),
    )


# -- pending-* recovery --------------------------------------------------------------


def recover_pending(
    context: DeployContext, info: ChartInfo, installed: InstalledRelease
) -> InstalledRelease | None:
    """Unlock a release stuck in ``pending-*``; return what is installed afterwards.

    ``pending-install`` at revision 1 (or any pending release with no
    working revision in its history) is uninstalled: None is returned and
    the next step installs afresh. Otherwise the release is rolled back to
    its last ``deployed`` revision, which is returned.

    Example, what :func:`prepare_release` does first::

        installed = current_release(chart, context)
        if installed is not None and installed.is_pending:
            installed = recover_pending(context, chart.chart_info, installed)
    """
    log = context.log
    name, ns = info.name, info.namespace_name
    log.warning(
        "release '%s': in namespace '%s' it is %s (revision %d): an earlier operation was "
        "interrupted; recovering it",
        name,
        ns,
        installed.status,
        installed.revision,
    )
    if installed.status == "uninstalling":
        # helm marks every revision uninstalling and deleted nothing yet, or not all: rolling
        # back to the current revision makes it deployed again, without re-running the
        # pre-delete hooks that may have stopped the uninstall (helm 3 and 4 both do this)
        log.info("release '%s': Recovery: rolling back to revision %d (an uninstall did not finish)",
                 name, installed.revision)
        context.helm.rollback(name, ns, installed.revision, wait=info.wait, timeout=info.timeout,
                              no_hooks=info.hooks_disabled)
        return attrs.evolve(installed, status="deployed")
    good = recovery_rollback(installed, lambda: history_entries(context, info))
    if good is None:
        log.info("release '%s': Recovery: uninstalling it (no working revision to return to)", name)
        context.helm.uninstall(name, ns, wait=True, timeout=info.timeout, no_hooks=info.hooks_disabled)
        return None
    revision = int(good["revision"])
    log.info("release '%s': Recovery: rolling back to revision %d", name, revision)
    context.helm.rollback(name, ns, revision, wait=info.wait, timeout=info.timeout, no_hooks=info.hooks_disabled)
    return _as_installed(info, good)


# -- breaking versions ------------------------------------------------------------------


def run_command(context: DeployContext, argv: Sequence[str], *, release: str, timeout: float) -> None:
    """Run one ``pre_upgrade_commands`` argument list through the helm layer.

    ``kubectl ...`` goes through ``context.kubectl.run`` (its binary,
    kubeconfig and context); ``helm ...`` runs the run's helm binary with
    its kubeconfig and context; any other program runs through the process
    runner with ``KUBECONFIG`` set, in the project folder. Never a shell:
    the list is used as is (the seed's string form was split with shlex
    when the chart was built). A failure raises a typed ``HelmError``.
    """
    args = [str(a) for a in argv]
    if not args or not args[0].strip():
        raise FirestreamError(f"release '{release}': a pre-upgrade command must name a program")
    program = os.path.basename(args[0])
    if program == "kubectl":
        context.kubectl.run(args, label=release, timeout=timeout)
        return
    helm = context.helm
    if program == "helm":
        args = helm.argv(args[1:])
    result = helm.runner.run_program(
        args, env=helm.program_env(), label=release, timeout=timeout, cwd=context.project_dir
    )
    if result.cancelled:
        raise CancelledError(f"pre-upgrade command '{program}' of release '{release}' was interrupted",
                             releases=[release])
    where = f"pre-upgrade command '{program}' of release '{release}'"
    if result.timed_out:
        raise HelmTimeoutError(f"{where} did not finish within {timeout:g}s", release=release)
    if not result.ok:
        stderr = _redact(context, result.stderr or "").strip()
        last = stderr.splitlines()[-1] if stderr else "(no error output)"
        raise HelmCommandError(
            f"{where} failed with exit code {result.returncode}: {last}",
            release=release,
            stderr=stderr,
        )


def decide_breaking(
    context: DeployContext, info: ChartInfo, installed: InstalledRelease | None
) -> BreakingStep | None:
    """The breaking-version step exec takes now, refused when the plan did not contain it.

    The decision is :func:`~firestream_core.model.breaking_step` (installed <
    breaking <= target, semver) on the release as installed now and the chart
    version being deployed, the same function ``plan`` used. Inside a plan
    (``context.change`` set) a step that differs from the plan's
    (``context.breaking``) raises :class:`~firestream_core.errors.PlanMismatchError`
    before anything ran: the cluster changed since the plan was made.

    Example, deciding without acting (the step's ``describe()`` for a log line)::

        step = decide_breaking(context, chart.chart_info, current_release(chart, context))
        if step is not None:
            context.log.info("release '%s': %s", chart.name, step.describe())
    """
    from firestream_core.deploy.plan import desired_chart
    from firestream_core.errors import PlanMismatchError
    from firestream_core.model import HelmChart, breaking_step

    if installed is None:
        return None
    _, target = desired_chart(HelmChart(info), context.project_dir)
    step = breaking_step(info.last_breaking_version_requiring_restart, installed.chart_version, target)
    planned = context.breaking
    if context.change is None or step == planned:
        return step
    if step is None:
        context.log.warning(
            "release '%s': the plan's breaking-version step no longer applies (installed %s); "
            "not taking it", info.name, installed.chart_version,
        )
        return None
    raise PlanMismatchError(
        f"release '{info.name}': exec would take '{step.describe()}', which the plan did not show "
        f"({planned.describe() if planned else 'no breaking-version step'}); the release changed "
        "since the plan was made",
        release=info.name,
        hint="run 'firestream plan' again and review it",
    )


def take_breaking_step(
    context: DeployContext, info: ChartInfo, installed: InstalledRelease, step: BreakingStep
) -> bool:
    """Carry out an upgrade across ``info.last_breaking_version_requiring_restart``.

    ``step`` is what :func:`decide_breaking` decided (the plan's rule; refused
    when the plan did not show it): each ``pre_upgrade_commands`` argument list
    runs in order, then the release is uninstalled when ``step.uninstall``.
    Returns True when the release was uninstalled (the upgrade becomes an install).

    Example, as :func:`prepare_release` takes it::

        step = decide_breaking(context, info, installed)
        if installed is not None and step is not None and take_breaking_step(context, info, installed, step):
            installed = None          # uninstalled: helm installs it afresh
    """
    log = context.log
    log.info(
        "release '%s': Breaking version: from chart version %s across %s",
        info.name,
        installed.chart_version,
        step.version,
    )
    for i, argv in enumerate(step.commands, 1):
        program = os.path.basename(argv[0])
        log.info("release '%s': Pre-upgrade command %d: %s", info.name, i, program)
        try:
            run_command(context, argv, release=info.name, timeout=info.timeout_seconds)
        except FirestreamError:
            log.error("release '%s': Pre-upgrade command %d (%s) failed", info.name, i, program)
            raise
    if step.uninstall:
        log.info("release '%s': Breaking version: uninstalling it before upgrading", info.name)
        context.helm.uninstall(info.name, info.namespace_name, wait=True, timeout=info.timeout,
                               no_hooks=info.hooks_disabled)
        return True
    return False


# -- the default exec's first step ------------------------------------------------------


def prepare_release(chart: HelmChart, context: DeployContext) -> PreparedRelease | None:
    """Get a release ready for ``helm upgrade --install``: what the built-in ``exec`` wrapper does.

    A ``pending-*`` release is recovered (:func:`recover_pending`), then the
    breaking-version step is decided (:func:`decide_breaking`: the plan's
    rule, a step the plan did not show refused before anything ran) and taken
    (:func:`take_breaking_step`). None for a Destroy, a Skip or a dry run.
    A release helm reports ``uninstalled`` (``helm uninstall --keep-history``)
    is handed on as it is: no breaking step (the plan's ``create`` shows none),
    and exec installs it again.

    Example, the built-in wrapper (``deploy/defaults.py``)::

        @hookimpl(specname="exec", wrapper=True, tryfirst=True)
        def prepare(chart, context, payload):
            context.prepared = None    # a retry prepares from what the cluster says now
            context.prepared = prepare_release(chart, context)
            return (yield)
    """
    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY or is_dry_run(chart, context):
        return None
    installed = current_release(chart, context)
    if installed is not None and installed.status == "uninstalled":
        # nothing runs (helm keeps only its history): exec installs it again (`install
        # --replace`), and no breaking step applies to it, as the plan's `create` shows
        return PreparedRelease(installed)
    recovered = installed is not None and installed.is_pending
    if installed is not None and installed.is_pending:
        installed = recover_pending(context, info, installed)
    step = decide_breaking(context, info, installed)
    if installed is None or step is None:
        return PreparedRelease(installed, recovered=recovered)
    uninstalled = take_breaking_step(context, info, installed, step)
    return PreparedRelease(None if uninstalled else installed, recovered=recovered, breaking=step,
                           uninstalled=uninstalled)


# -- rollback after a failed validation -----------------------------------------------------


def rollback_release(context: DeployContext, info: ChartInfo, revision: int | None) -> str:
    """Return an atomic release to its previous working revision.

    ``revision`` is the revision ``exec`` made (None: the newest). With a
    working revision below it the release is rolled back to that one;
    without one (a first install) it is uninstalled. A release this
    lifecycle installed again from ``uninstalled`` (``helm uninstall
    --keep-history``; ``context.prepared``) is uninstalled again, its history
    kept: nothing ran before, so an older revision (helm marked it
    ``superseded`` on ``install --replace``) is not brought back. Returns one
    sentence saying what was done.
    """
    name, ns = info.name, info.namespace_name
    prepared = context.prepared
    if prepared is not None and prepared.installed is not None and prepared.installed.status == "uninstalled":
        context.log.warning("release '%s': Rollback: uninstalling it again (it was uninstalled before this "
                            "run; its history is kept)", name)
        context.helm.uninstall(name, ns, wait=True, timeout=info.timeout, keep_history=True,
                               no_hooks=info.hooks_disabled)
        return f"release '{name}' uninstalled again (it was uninstalled before; its history is kept)"
    entries = history_entries(context, info)
    if not revision and entries:  # unknown (None, or 0 when helm's output lacked it): the newest
        revision = int(entries[-1].get("revision", 0))
    good = last_deployed_revision(entries, below=revision) if revision else None
    if good is None:
        context.log.warning("release '%s': Rollback: uninstalling it (it has no previous revision)", name)
        context.helm.uninstall(name, ns, wait=True, timeout=info.timeout, no_hooks=info.hooks_disabled)
        return f"release '{name}' uninstalled (it had no previous revision)"
    target = int(good["revision"])
    context.log.warning("release '%s': Rollback: rolling back to revision %d", name, target)
    context.helm.rollback(name, ns, target, wait=info.wait, timeout=info.timeout, no_hooks=info.hooks_disabled)
    return f"release '{name}' rolled back to revision {target}"
