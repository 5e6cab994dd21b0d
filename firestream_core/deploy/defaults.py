"""The built-in plugin: what every stage does when no chart plugin says otherwise.

Every implementation here is ``trylast``, so a chart plugin's implementation
of the same hook runs before it - except ``pre_exec``, whose default is the
outermost ``wrapper``: the chart's repository is added before any other
``pre_exec`` (a plugin's or a chart class's method) makes a change, and ``exec``'s
first step, the outermost ``wrapper`` (``prepare``), which gets the release ready
before any other ``exec`` runs. For ``exec`` (firstresult) a chart plugin
returning an ``ExecOutcome`` replaces the default upgrade; a plugin's
``wrapper=True`` ``exec`` runs its step between the preparation and helm. For
the other stages the default runs as well and its results are added to the plugin's.

=====================  ====================================================
stage                  default
=====================  ====================================================
check_prerequisites    ``ChartInfo.check()``, the release settings, the
                       values files and a local chart path exist and are
                       readable, the chart's repository has a known URL
pre_exec               ``helm repo add`` of the chart's repository, once
                       per run, into the run's own repositories (never the
                       user's; not for OCI or local charts)
exec                   Deploy: first (the ``prepare`` wrapper, around every
                       other ``exec``) recover a ``pending-*`` release and
                       take the breaking-version step (``context.prepared``),
                       last ``helm upgrade --install`` (``helm install
                       --replace`` for a release helm reports ``uninstalled``);
                       Destroy: ``helm uninstall`` when installed;
                       Skip: nothing
post_exec              nothing
validate               Deploy: ``release_exists``, ``pods_running`` and,
                       with ``run_tests``, ``helm_tests``;
                       Destroy: ``release_removed``
on_deploy_failure      events, pod status and last log lines, redacted
=====================  ====================================================
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.deploy.debuginfo import (
    collect_debug_info,
)
from firestream_core.deploy.recovery import prepare_release, release_status
from firestream_core.deploy.workloads import check_pods_running
from firestream_core.errors import HelmCommandError
from firestream_core.model import (
    ExecOutcome,
    HelmAction,
    ValidationResult,
    chart_repository,
    is_local_chart,
    parse_duration,
)
from firestream_core.plugin.helpers import add_chart_repository, current_release, is_dry_run
from firestream_core.plugin.markers import hookimpl

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from firestream_core.model import ChartPayload, HelmChart
    from firestream_core.plugin.context import DeployContext, LifecycleRecord

FIRESTREAM_PLUGIN_API = 1

VALIDATION_FAILURE_MODES = ("fail", "warn")


# -- helpers ----------------------------------------------------------------------------


# -- check_prerequisites -----------------------------------------------------------------


def _file_problem(
    context: DeployContext, label: str, given: Path | str, *, directory_ok: bool
) -> str | None:
    path = context.resolve(given)
    if not path.exists():
        return f"{label} '{given}' not found (paths are relative to {context.project_dir})"
    if path.is_dir():
        if not directory_ok:
            return f"{label} '{given}' is a folder, not a file"
        return None if os.access(path, os.R_OK | os.X_OK) else f"{label} '{given}' is not readable"
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return f"{label} '{given}' is not readable ({exc.strerror})"
    return None


def _settings_problems(chart: HelmChart) -> list[str]:
    s = chart.settings
    problems = []
    if s.retries < 0:
        problems.append("retries: must not be negative")
    try:
        parse_duration(s.retry_delay)
    except ValueError as exc:
        problems.append(f"retry_delay: {exc}")
    if s.on_validation_failure not in VALIDATION_FAILURE_MODES:
        problems.append("on_validation_failure: must be 'fail' or 'warn'")
    return problems


@hookimpl(trylast=True)
def check_prerequisites(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> list[str]:
    """The chart info is valid; for Deploy, its files exist and its repository is known."""
    info = chart.chart_info
    problems = list(info.check()) + _settings_problems(chart)
    if info.action is not HelmAction.DEPLOY:
        return problems
    if info.path is not None:
        p = _file_problem(context, "chart path", info.path, directory_ok=True)
        if p:
            problems.append(p)
    elif is_local_chart(info.chart):
        p = _file_problem(context, "chart path", info.chart, directory_ok=True)
        if p:
            problems.append(p)
    for f in info.values_files:
        p = _file_problem(context, "values file", f, directory_ok=False)
        if p:
            problems.append(p)
    repo, _ = chart_repository(info)
    if repo and not context.repositories.get(repo):  # the run's helm knows only the project's
        problems.append(
            f"repository '{repo}' has no known URL; add it to [repositories] in firestream.toml"
        )
    return problems


# -- pre_exec --------------------------------------------------------------------------------


@hookimpl(wrapper=True, tryfirst=True)
def pre_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> Generator[None, Any, Any]:
    """``pre_exec``'s first step, around every other ``pre_exec``: :func:`add_repository`.

    A wrapper, unlike the other defaults: the repository must be reachable before
    any ``pre_exec`` writes to the cluster (a Secret, a namespace), a plugin's or
    a chart class's own method (``chart-methods``, itself ``tryfirst``), so a run
    that fails at ``helm repo add`` leaves nothing behind.
    """
    add_repository(chart, context)
    return (yield)


def add_repository(chart: HelmChart, context: DeployContext) -> None:
    """Add the chart's helm repository (once per run, to the run's own repositories) before a
    Deploy; a repository without a URL raises ``ChartNotFoundError`` naming the key to add."""
    info = chart.chart_info
    if info.action is not HelmAction.DEPLOY:
        return
    if add_chart_repository(context.helm, info, context.repositories):
        context.log.info("Pre-exec: Adding %s Helm repository", chart_repository(info)[0])


# -- exec -------------------------------------------------------------------------------------


def _deploy(chart: HelmChart, context: DeployContext) -> ExecOutcome:
    info = chart.chart_info
    installed = current_release(chart, context)  # as the prepare wrapper left it
    # uninstalled with --keep-history: `helm install --replace` (helm's upgrade --install
    # may refuse it, "has no deployed releases"; tools/helm_args.py)
    replace = installed is not None and installed.status == "uninstalled"
    if is_dry_run(chart, context):
        dry = info if info.dry_run else attrs.evolve(info, dry_run=True)
        context.helm.upgrade_install(dry, context.project_dir, replace=replace)
        return ExecOutcome("deployed", None, f"dry run: release '{info.name}' rendered, nothing changed")
    upgraded = context.helm.upgrade_install_release(info, context.project_dir, replace=replace)
    revision = upgraded.revision
    verb = "upgraded" if installed is not None and not replace else "installed"
    return ExecOutcome(
        "deployed",
        revision,
        f"release '{info.name}' {verb}, revision {revision}",
        # helm's own record of that revision (its --output json), when it names one
        status=upgraded.status if revision else None,
        workloads=upgraded.workloads,
        pod_free=upgraded.pod_free,
    )


def _destroy(chart: HelmChart, context: DeployContext) -> ExecOutcome:
    info = chart.chart_info
    installed = current_release(chart, context)
    if installed is None:
        return ExecOutcome("unchanged", None, f"release '{info.name}' is not installed")
    if is_dry_run(chart, context):
        return ExecOutcome("destroyed", None, f"dry run: release '{info.name}' would be uninstalled")
    context.helm.uninstall(info.name, info.namespace_name, wait=info.wait, timeout=info.timeout,
                           no_hooks=info.hooks_disabled)
    return ExecOutcome("destroyed", installed.revision, f"release '{info.name}' uninstalled")


@hookimpl(specname="exec", wrapper=True, tryfirst=True)
def prepare(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> Generator[None, Any, Any]:
    """``exec``'s first step, around every other ``exec``: recover a pending release, take the
    breaking-version step; what it did is ``context.prepared`` (``deploy.recovery.prepare_release``)."""
    context.prepared = None  # a retry prepares again, from what the cluster says now
    context.prepared = prepare_release(chart, context)
    return (yield)


@hookimpl(trylast=True)
def exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> ExecOutcome:  # noqa: A001
    """Deploy: upgrade --install (the ``prepare`` wrapper recovered it first); Destroy: uninstall."""
    action = chart.chart_info.action
    if action is HelmAction.DEPLOY:
        return _deploy(chart, context)
    if action is HelmAction.DESTROY:
        return _destroy(chart, context)
    return ExecOutcome("skipped", None, f"release '{chart.name}' skipped")


# -- post_exec ----------------------------------------------------------------------------------


@hookimpl(trylast=True)
def post_exec(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> None:
    """Nothing by default; chart plugins wait for their operators here."""


# -- validate -----------------------------------------------------------------------------------


def fresh_exec_status(record: LifecycleRecord) -> str | None:
    """helm's status of the revision ``exec`` just made, while nothing can have changed it since.

    That is ``record.executed.status`` (helm's own record of the upgrade,
    from its ``--output json``) while ``record.status_fresh`` is true: the
    runner sets it after ``exec`` and clears it when a plugin's ``post_exec``
    ran and after the first ``validate`` call, so only the first validation
    right after the upgrade relies on it. None otherwise (a chart plugin's
    own ``exec``, a dry run, a later poll): ask helm.
    """
    done = record.executed
    if not record.status_fresh or done is None or done.performed != "deployed" or not done.status:
        return None
    revision = done.revision
    if not isinstance(revision, int) or isinstance(revision, bool) or revision <= 0:
        return None
    return done.status


def check_release_exists(chart: HelmChart, context: DeployContext) -> ValidationResult:
    """``release_exists``: helm reports the release ``deployed``.

    Right after the upgrade, helm's report is the upgrade's own output
    (:func:`fresh_exec_status`); otherwise, and on every later poll,
    ``helm status``.
    """
    name = chart.name
    status = fresh_exec_status(context.lifecycle)
    if status is None:
        status = release_status(context, chart.chart_info)
    if status is None:
        return ValidationResult.fail("release_exists", f"Helm release '{name}' not found")
    if status == "deployed":
        return ValidationResult.ok("release_exists", f"Helm release '{name}' exists")
    if status.startswith("pending-"):
        return ValidationResult.pending("release_exists", f"Helm release '{name}' is {status}")
    return ValidationResult.fail("release_exists", f"Helm release '{name}' is {status}", status=status)


def check_helm_tests(chart: HelmChart, context: DeployContext) -> ValidationResult:
    """``helm_tests``: ``helm test`` passes (run once per lifecycle, kept in ``context.lifecycle``)."""
    info = chart.chart_info
    record = context.lifecycle
    if record.tests is None and record.tests_error is None:
        try:
            record.tests = context.helm.test(info.name, info.namespace_name, info.timeout)
        except HelmCommandError as exc:
            record.tests_error = f"helm test failed: {exc}"
    if record.tests is None:
        message = f"{record.tests_error} for release '{info.name}'"
        return ValidationResult.fail("helm_tests", message)
    failed = [t.name for t in record.tests.tests if not t.passed]
    detail = f" (failed: {', '.join(failed)})" if failed else ""
    passed = record.tests.passed
    message = f"helm test {'passed' if passed else 'failed'}{detail} for release '{info.name}'"
    if passed:
        return ValidationResult.ok("helm_tests", message)
    return ValidationResult.fail("helm_tests", message)


def wants_tests(chart: HelmChart, context: DeployContext) -> bool:
    return bool(chart.settings.run_tests or context.settings.get("run_tests"))


@hookimpl(trylast=True)
def validate(chart: HelmChart, context: DeployContext, payload: ChartPayload) -> list[ValidationResult]:
    """Deploy: release_exists, pods_running (+ helm_tests); Destroy: release_removed."""
    info = chart.chart_info
    if is_dry_run(chart, context):
        return []
    if info.action is HelmAction.DESTROY:
        status = release_status(context, info)
        if status is None:
            return [ValidationResult.ok("release_removed", f"Helm release '{info.name}' removed")]
        if status == "uninstalling":
            return [ValidationResult.pending("release_removed", f"Helm release '{info.name}' is uninstalling")]
        return [
            ValidationResult.fail(
                "release_removed", f"Helm release '{info.name}' still exists ({status})"
            )
        ]
    if info.action is not HelmAction.DEPLOY:
        return []
    results = [check_release_exists(chart, context), check_pods_running(chart, context)]
    if wants_tests(chart, context):
        if all(r.passed for r in results):
            results.append(check_helm_tests(chart, context))
        else:
            results.append(
                ValidationResult.pending("helm_tests", "waiting for the release to be ready")
                if not any(r.status.name == "FAILED" for r in results)
                else ValidationResult.fail("helm_tests", "not run: the release is not working")
            )
    return results


# -- on_deploy_failure ----------------------------------------------------------------------------


@hookimpl(trylast=True)
def on_deploy_failure(
    chart: HelmChart,
    context: DeployContext,
    payload: ChartPayload,
    stage: str,
    error: BaseException,
) -> list[str]:
    """The release's events, pods' status and last log lines, redacted."""
    if chart.chart_info.action is HelmAction.SKIP:
        return []
    return collect_debug_info(context, chart.chart_info)
