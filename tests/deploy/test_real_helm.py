"""The lifecycle with the real helm 3 and helm 4 against the emulated API server.

What these prove: the defaults drive the real helm and kubectl correctly
(upgrade --install, status, history, rollback, uninstall, test, list -a,
kubectl get/logs/events) and the runner's decisions hold on real release
records. What they do not: that workloads start (the emulator's toy
controller marks pods ready; see docs/testing.md).
"""

from __future__ import annotations

import logging

import pytest

from firestream_core import hookimpl
from firestream_core.deploy.lifecycle import run_release
from firestream_core.errors import ClusterUnreachableError, HelmTimeoutError, RenderError
from firestream_core.model import (
    BreakingVersion,
    ChartInfo,
    ChartSetValue,
    ChartValuesGenerated,
    HelmAction,
    ReleaseSettings,
    ValidationResult,
    ValidationStatus,
)
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.generic import GenericChart
from tests.ops.helpers import interrupted_upgrade

from .conftest import make_manager

pytestmark = pytest.mark.helm

BROKEN_POD = ChartValuesGenerated(
    "broken-pods.yaml", 'podAnnotations:\n  emulator.firestream.dev/ready: "false"\n'
)
"""On the emulator, pods annotated so stay in CrashLoopBackOff (a string, hence a values file)."""


def _context(deploy_context, helm_bin) -> DeployContext:
    """The test kit's context (fixture charts, this test's cluster), re-validating every 0.2 s."""
    return deploy_context(helm_bin, settings={"validation_interval": 0.2})


def _chart(kube, name="app", chart="tiny-app", version="0.1.0", settings=None, **info) -> GenericChart:
    info.setdefault("timeout", "60s")
    c = GenericChart(
        ChartInfo(name=name, chart=chart, repository="fixtures", version=version,
                  namespace=kube.namespace, **info)
    )
    if settings is not None:
        c.settings = settings
    return c


def _status(results, name):
    return next(r for r in results if r.name == name)


def _history(context, chart):
    return [
        (h["revision"], h["status"], h["chart"])
        for h in context.helm.history(chart.name, chart.chart_info.namespace_name)
    ]


def test_deploy_tiny_app_through_the_lifecycle(kube, helm_bin, deploy_context, caplog):
    caplog.set_level(logging.INFO, logger="firestream")
    context = _context(deploy_context, helm_bin)
    result = run_release(_chart(kube), make_manager(), context)
    assert result.ok, (result.error, result.debug)
    assert result.executed.performed == "deployed" and result.executed.revision == 1
    assert _status(result.validations, "release_exists").status is ValidationStatus.PASSED
    pods = _status(result.validations, "pods_running")
    assert pods.status is ValidationStatus.PASSED
    assert pods.message == "1 pods of release 'app' running"
    assert "release 'app': Pre-exec: Adding fixtures Helm repository" in caplog.messages
    assert "release 'app': Validation 'release_exists': PASSED - Helm release 'app' exists" in caplog.messages


class MessageCheck:
    """A chart's own validation: tiny-app's ConfigMap must not carry a "broken" message."""

    firestream_plugin_name = "message-check"

    @hookimpl
    def validate(self, chart, context, payload):
        info = chart.chart_info
        cm = context.kubectl.get("configmap", f"{info.name}-tiny-app", namespace=info.namespace_name)
        message = ((cm or {}).get("data") or {}).get("message", "")
        if "broken" in message:
            return [ValidationResult.fail("message", "the app's message says it is broken")]
        return [ValidationResult.ok("message", "the app's message is fine")]


def test_failed_validation_on_upgrade_is_rolled_back(kube, helm_bin, deploy_context):
    context = _context(deploy_context, helm_bin)
    manager = make_manager(MessageCheck())
    first = run_release(_chart(kube), manager, context)
    assert first.ok, first.error
    # helm's own --atomic wait passes (the pods are ready); the chart's check does not
    bad = _chart(kube, version="0.2.0", values=[ChartSetValue("message", "broken on purpose")])
    result = run_release(bad, manager, context)
    assert not result.ok
    assert result.stage_failed == "validate"
    assert _status(result.validations, "message").status is ValidationStatus.FAILED
    assert result.rolled_back, result.rollback
    assert result.rollback == "release 'app' rolled back to revision 1"
    history = _history(context, bad)
    assert history[1][2] == "tiny-app-0.2.0"
    assert history[-1] == (3, "deployed", "tiny-app-0.1.0")
    cm = context.kubectl.get("configmap", "app-tiny-app", namespace=kube.namespace)
    assert cm["data"]["message"] == "hello from tiny-app"
    assert any(line.startswith("pod app-tiny-app-") for line in result.debug)


def test_crashing_pods_fail_validation_without_wait(kube, helm_bin, deploy_context):
    """Not atomic, not waiting: helm succeeds, pods_running sees CrashLoopBackOff; no rollback."""
    context = _context(deploy_context, helm_bin)
    manager = make_manager()
    assert run_release(_chart(kube), manager, context).ok
    bad = _chart(kube, version="0.2.0", atomic=False, wait=False, yaml_files_content=[BROKEN_POD])
    result = run_release(bad, manager, context)
    assert result.stage_failed == "validate"
    assert "CrashLoopBackOff" in _status(result.validations, "pods_running").message
    assert not result.rolled_back
    assert _history(context, bad)[-1] == (2, "deployed", "tiny-app-0.2.0")
    assert any("BackOff" in line for line in result.debug)


def test_never_ready_pods_pending_until_timeout(kube, helm_bin, deploy_context):
    """Controller off, not waiting: the Deployment's pods never come; pending turns failed."""
    context = _context(deploy_context, helm_bin)
    kube.cluster.set_controller(False)
    chart = _chart(kube, atomic=False, wait=False, timeout="2s")
    result = run_release(chart, make_manager(), context)
    pods = _status(result.validations, "pods_running")
    assert pods.status is ValidationStatus.FAILED
    assert pods.message == "still pending after 2s: 0/1 pods of release 'app' ready"


def test_never_ready_atomic_upgrade_fails_at_exec(kube, helm_bin, deploy_context):
    """atomic makes helm wait itself: it times out (its own rollback may too), exec fails typed."""
    context = _context(deploy_context, helm_bin)
    manager = make_manager()
    assert run_release(_chart(kube), manager, context).ok
    kube.cluster.set_controller(False)
    bad = _chart(kube, version="0.2.0", timeout="2s", values=[ChartSetValue("replicaCount", "2")])
    result = run_release(bad, manager, context)
    assert result.stage_failed == "exec"
    assert isinstance(result.exception.cause, HelmTimeoutError)
    assert not result.rolled_back  # helm's --atomic owns that case
    assert any(line.startswith("pod app-tiny-app-") for line in result.debug)


def test_new_release_failing_validation_is_uninstalled(kube, helm_bin, deploy_context, chart_repo):
    context = _context(deploy_context, helm_bin)
    chart = _chart(kube, values=[ChartSetValue("message", "broken from the start")])
    result = run_release(chart, make_manager(MessageCheck()), context)
    assert result.rolled_back
    assert result.rollback == "release 'app' uninstalled (it had no previous revision)"
    assert _installed(context, kube.namespace) is None


def _installed(context, namespace, name="app"):
    return next(
        (r for r in context.helm.list_releases() if r.name == name and r.namespace == namespace), None
    )


def test_pending_release_is_recovered_by_the_next_run(kube, helm_bin, deploy_context, chart_repo):
    context = _context(deploy_context, helm_bin)
    manager = make_manager()
    assert run_release(_chart(kube), manager, context).ok
    interrupted_upgrade(kube, helm_bin, "app", chart_repo.tgz("tiny-app", "0.2.0"))
    installed = _installed(context, kube.namespace)
    assert installed.status == "pending-upgrade"
    context.installed = installed
    context.change = "recover"
    result = run_release(_chart(kube, version="0.2.0"), manager, context)
    assert result.ok, (result.error, result.debug)
    history = _history(context, _chart(kube))
    # 1 deployed, 2 pending (killed) -> rolled back (3) -> upgraded (4)
    assert history[-1] == (4, "deployed", "tiny-app-0.2.0")
    assert history[-2][2] == "tiny-app-0.1.0"


def test_destroy_gives_release_removed(kube, helm_bin, deploy_context):
    context = _context(deploy_context, helm_bin)
    manager = make_manager()
    assert run_release(_chart(kube), manager, context).ok
    result = run_release(_chart(kube, action=HelmAction.DESTROY), manager, context)
    assert result.ok, result.error
    assert result.executed.performed == "destroyed"
    removed = _status(result.validations, "release_removed")
    assert removed.status is ValidationStatus.PASSED
    assert removed.message == "Helm release 'app' removed"


def test_run_tests_on_with_hooks(kube, helm_bin, deploy_context):
    context = _context(deploy_context, helm_bin)
    chart = _chart(kube, name="hooked", chart="with-hooks", settings=ReleaseSettings(run_tests=True))
    result = run_release(chart, make_manager(), context)
    assert result.ok, (result.error, result.debug)
    tests = _status(result.validations, "helm_tests")
    assert tests.status is ValidationStatus.PASSED
    assert tests.message == "helm test passed for release 'hooked'"


def test_breaking_version_reinstalls_and_runs_kubectl(kube, helm_bin, deploy_context):
    context = _context(deploy_context, helm_bin)
    manager = make_manager()
    assert run_release(_chart(kube), manager, context).ok
    bv = BreakingVersion(
        "0.2.0",
        requires_uninstall=True,
        pre_upgrade_commands=[f"kubectl delete configmap app-tiny-app --namespace {kube.namespace}"],
    )
    chart = _chart(kube, version="0.2.0", last_breaking_version_requiring_restart=bv)
    result = run_release(chart, manager, context)
    assert result.ok, (result.error, result.debug)
    assert _history(context, chart) == [(1, "deployed", "tiny-app-0.2.0")]


def test_render_error_is_not_retried(kube, helm_bin, deploy_context):
    context = _context(deploy_context, helm_bin)
    chart = _chart(kube, chart="broken", settings=ReleaseSettings(retries=2, retry_delay="0s"))
    result = run_release(chart, make_manager(), context)
    assert result.stage_failed == "exec"
    assert isinstance(result.exception.cause, RenderError)
    assert result.retries_used == 0
    assert ".Values.missing is required" in result.error
    assert result.debug  # on_deploy_failure ran


def test_unreachable_cluster_is_retried(kube, helm_bin, deploy_context, tmp_path):
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(kube.kubeconfig.read_text().replace(kube.url, "http://127.0.0.1:9"))
    context = _context(deploy_context, helm_bin)
    context.helm = kube.helm(helm_bin, redactor=context.redactor)
    context.helm.kubeconfig = dead
    context.change = "create"
    chart = _chart(kube, settings=ReleaseSettings(retries=2, retry_delay="0s"))
    result = run_release(chart, make_manager(), context)
    assert result.stage_failed == "exec"
    assert isinstance(result.exception.cause, ClusterUnreachableError)
    assert result.retries_used == 2


def test_secret_value_never_logged(kube, helm_bin, deploy_context, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Zq9-very-secret-pw"
    context = _context(deploy_context, helm_bin)
    context.redactor.add(secret)
    chart = _chart(kube, atomic=False, wait=False, values=[ChartSetValue("password", secret)],
                   yaml_files_content=[BROKEN_POD])
    result = run_release(chart, make_manager(), context)
    assert not result.ok and result.debug
    text = "\n".join([*caplog.messages, result.error or "", *result.debug])
    assert secret not in text
