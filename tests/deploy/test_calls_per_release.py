"""How many helm and kubectl calls one deployed release costs, and that validation stays honest.

Per deployed release the default lifecycle makes ONE helm call (the
``upgrade --install``, whose ``--output json`` record says the revision is
``deployed``) and ONE kubectl call per validation poll (pods and workloads
together). ``helm status`` is asked only when that record cannot be relied
on: a re-poll, a chart plugin's own ``exec``, a plugin's ``post_exec`` in
between. Call counts only, never durations.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from firestream_core import hookimpl
from firestream_core.deploy.defaults import check_release_exists, fresh_exec_status
from firestream_core.deploy.lifecycle import run_release
from firestream_core.errors import ClusterUnreachableError
from firestream_core.model import (
    ChartInfo,
    ExecOutcome,
    ReleaseSettings,
    ValidationStatus,
)
from firestream_core.plugin.context import DeployContext, LifecycleRecord
from firestream_core.plugin.generic import GenericChart

from .conftest import generic, make_manager
from .fakes import pod

POD_AND_WORKLOADS = ("get", "pods,deployments,statefulsets,daemonsets", "default",
                     "app.kubernetes.io/instance=web")


def _check(result: Any, name: str) -> Any:
    return next(v for v in result.validations if v.name == name)


@pytest.fixture
def context(make_context) -> DeployContext:
    """A release the plan found not installed (outside a plan the default asks helm list first)."""
    return make_context(change="create")


# -- the default path: one helm call, one kubectl call ----------------------------------------


def test_deployed_release_costs_one_helm_and_one_kubectl_call(context, helm, kubectl, chart_dir):
    result = run_release(generic(), make_manager(), context)
    assert result.ok, result.error
    assert helm.ops() == ["upgrade_install"]  # no helm status: the upgrade said "deployed"
    assert kubectl.calls == [POD_AND_WORKLOADS]
    assert _check(result, "release_exists").message == "Helm release 'web' exists"
    assert result.executed == ExecOutcome("deployed", 1, "release 'web' installed, revision 1",
                                          status="deployed", workloads=())
    assert context.lifecycle.executed is result.executed and context.lifecycle.status_fresh is False
    assert result.payload == {}  # the exec record is the runner's, not the plugins' payload


def test_upgrade_of_an_installed_release_costs_the_same(context, helm, kubectl, chart_dir):
    helm.seed("web", "default", (1, "deployed", "chart-0.1.0"))
    context.installed = helm.list_releases()[0]
    helm.calls.clear()
    result = run_release(generic(), make_manager(), context)
    assert result.ok and result.executed.revision == 2 and result.revision == 2
    assert helm.ops() == ["upgrade_install"]
    assert kubectl.calls == [POD_AND_WORKLOADS]


def test_each_re_poll_reads_helm_and_kubectl_again(context, helm, kubectl, chart_dir):
    kubectl.pod_script = [[pod("web-1", ready=False)], [pod("web-1", ready=False)], [pod("web-1")]]
    result = run_release(generic(), make_manager(), context)
    assert result.ok, result.error
    assert helm.ops() == ["upgrade_install", "status", "status"]  # polls 2 and 3
    assert kubectl.calls == [POD_AND_WORKLOADS] * 3


def test_a_re_poll_sees_a_release_changed_after_the_upgrade(context, helm, kubectl, chart_dir):
    """The upgrade's record speaks for one moment: the next poll finds what helm says now."""
    reads = []

    def get(kind, name=None, **kw):
        reads.append(kind)
        if len(reads) == 1:  # between poll 1 and poll 2 someone else's helm breaks the release
            helm.history_[("default", "web")][-1]["status"] = "failed"
            return {"kind": "List", "items": [{"kind": "Pod", **pod("web-1", ready=False)}]}
        return {"kind": "List", "items": [{"kind": "Pod", **pod("web-1")}]}

    kubectl.get = get
    result = run_release(generic(atomic=False), make_manager(), context)
    assert not result.ok
    exists = _check(result, "release_exists")
    assert exists.status is ValidationStatus.FAILED
    assert exists.message == "Helm release 'web' is failed"
    assert helm.ops() == ["upgrade_install", "status"]


def test_transient_error_retried_in_validation_reads_helm_on_the_retry(context, helm, kubectl, chart_dir):
    calls = []

    def get(kind, name=None, **kw):
        calls.append(kind)
        if len(calls) == 1:
            raise ClusterUnreachableError("cluster unreachable")
        return {"kind": "List", "items": []}

    kubectl.get = get
    chart = generic(settings=ReleaseSettings(retries=1, retry_delay="0s"))
    result = run_release(chart, make_manager(), context)
    assert result.ok, result.error
    assert result.retries_used == 1
    assert helm.ops() == ["upgrade_install", "status"]  # the retry did not reuse the record


# -- when the upgrade's record is not relied on ------------------------------------------------


class OwnExec:
    """A chart plugin's own exec: it says nothing of helm's status."""

    firestream_plugin_name = "own-exec"

    @hookimpl
    def exec(self, chart, context, payload):
        context.helm.upgrade_install(chart.chart_info, context.project_dir)
        return ExecOutcome("deployed", 1, "deployed by the plugin")


def test_plugin_exec_without_status_falls_back_to_helm_status(context, helm, kubectl, chart_dir):
    result = run_release(generic(), make_manager(OwnExec()), context)
    assert result.ok, result.error
    # no record of the revision's workloads either: its manifest is read once, then kept
    assert helm.ops() == ["upgrade_install", "status", "get_manifest"]
    assert context.lifecycle.workloads == ()
    assert result.executed == ExecOutcome("deployed", 1, "deployed by the plugin")
    assert result.payload == {}


class PendingExec:
    """A chart plugin reporting the status helm gave it: pending, so validation must look again."""

    firestream_plugin_name = "pending-exec"

    @hookimpl
    def exec(self, chart, context, payload):
        rev = context.helm.upgrade_install(chart.chart_info, context.project_dir)
        return ExecOutcome("deployed", rev, "deployed by the plugin", status="pending-upgrade")


def test_a_pending_status_from_exec_is_polled_again(context, helm, kubectl, chart_dir):
    helm.manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"  # may run pods: kubectl is asked
    result = run_release(generic(), make_manager(PendingExec()), context)
    assert result.ok, result.error
    assert helm.ops() == ["upgrade_install", "get_manifest", "status"]  # the manifest once, not per poll
    assert kubectl.calls == [POD_AND_WORKLOADS] * 2


class WaitingPostExec:
    """A chart plugin's post_exec (an operator wait): time passes after the upgrade."""

    firestream_plugin_name = "waiting-post-exec"

    @hookimpl
    def post_exec(self, chart, context, payload):
        payload["waited"] = True


def test_a_plugin_post_exec_makes_validation_ask_helm(context, helm, kubectl, chart_dir):
    result = run_release(generic(), make_manager(WaitingPostExec()), context)
    assert result.ok, result.error
    assert result.payload == {"waited": True}  # the plugin's own data, and nothing of the core's
    assert helm.ops() == ["upgrade_install", "status"]
    assert context.lifecycle.status_fresh is False


@pytest.mark.parametrize(
    ("executed", "status_fresh", "fresh"),
    [
        (ExecOutcome("deployed", 3, status="deployed"), True, "deployed"),
        (ExecOutcome("deployed", 3, status="deployed"), False, None),
        (ExecOutcome("deployed", None, status="deployed"), True, None),
        (ExecOutcome("deployed", 0, status="deployed"), True, None),
        (ExecOutcome("destroyed", 3, status="deployed"), True, None),
        (ExecOutcome("deployed", 3), True, None),
        (None, True, None),
    ],
)
def test_fresh_exec_status_only_for_a_fresh_deployed_revision(executed, status_fresh, fresh):
    assert fresh_exec_status(LifecycleRecord(executed, status_fresh=status_fresh)) == fresh


def test_release_exists_without_an_exec_record_asks_helm(context, helm):
    helm.seed("web", "default", (1, "deployed", "chart-0.1.0"))
    assert check_release_exists(generic(), context).passed
    assert helm.ops() == ["status"]


# -- pods and workloads in one kubectl call -----------------------------------------------------


def test_pods_and_workloads_come_from_one_mixed_list(context, helm, kubectl, chart_dir):
    """The Deployment wanting 2 pods, read in the same call as the pods, keeps poll 1 pending."""
    kubectl.workloads["web"] = [{"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}]
    kubectl.pod_script = [[pod("web-1")], [pod("web-1"), pod("web-2")]]
    result = run_release(generic(), make_manager(), context)
    assert result.ok, result.error
    assert _check(result, "pods_running").message == "2 pods of release 'web' running"
    assert kubectl.calls == [POD_AND_WORKLOADS] * 2


def test_kubectl_refusing_the_mixed_get_falls_back_to_two_reads(context, helm, kubectl, chart_dir):
    """None (a kind the server says it does not serve) says nothing about the others: ask each."""
    plain_get = kubectl.get

    def get(kind, name=None, **kw):
        if "," in kind and kind.startswith("pods"):
            kubectl.calls.append(("get", kind, kw.get("namespace"), kw.get("selector")))
            return None
        return plain_get(kind, name, **kw)

    kubectl.get = get
    kubectl.pods["web"] = [pod("web-1")]
    result = run_release(generic(), make_manager(), context)
    assert result.ok, result.error
    assert _check(result, "pods_running").message == "1 pods of release 'web' running"
    assert [c[1] for c in kubectl.calls] == [
        "pods,deployments,statefulsets,daemonsets", "pods", "deployments,statefulsets,daemonsets"]


# -- the real helm 3 and 4 against the emulator ---------------------------------------------------


@pytest.mark.helm
def test_real_helm_deploy_costs_one_upgrade_and_one_kubectl_get(kube, helm_bin, deploy_context):
    context = deploy_context(  # the test kit's: fixture charts, one recording runner
        helm_bin,
        change="create",  # as the plan saw it: not installed (its one helm list is the run's)
        settings={"validation_interval": 0.2},
    )
    runner = deploy_context.runner
    chart = GenericChart(ChartInfo(name="app", chart="tiny-app", repository="fixtures", version="0.1.0",
                                   namespace=kube.namespace, timeout="60s"))
    context.helm.major  # noqa: B018 - the once-per-run version question, out of the count
    runner.argvs.clear()
    result = run_release(chart, make_manager(), context)
    assert result.ok, (result.error, result.debug)
    assert _check(result, "pods_running").message == "1 pods of release 'app' running"
    helm_ops = [a[1] for a in runner.argvs if Path(a[0]) == Path(helm_bin)]
    kubectl_ops = [a[1:3] for a in runner.argvs if Path(a[0]).name == "kubectl"]
    assert helm_ops == ["repo", "upgrade"]  # one repo add per repository, one upgrade; no status
    assert kubectl_ops == [["get", "pods,deployments,statefulsets,daemonsets"]]
    assert result.executed.status == "deployed" and result.payload == {}


@pytest.mark.helm
def test_real_helm_upgrade_output_is_the_release_record(kube, helm_bin, chart_repo, tmp_path):
    helm = kube.helm(helm_bin)
    info = ChartInfo(name="rec", path=chart_repo.tgz("tiny-app", "0.1.0"), namespace=kube.namespace)
    first = helm.upgrade_install_release(info, tmp_path)
    assert (first.name, first.namespace, first.revision, first.status) == ("rec", kube.namespace, 1, "deployed")
    second = helm.upgrade_install_release(info, tmp_path)
    assert (second.revision, second.status) == (2, "deployed")
    assert helm.status("rec", kube.namespace)["info"]["status"] == second.status
    assert helm.upgrade_install(info, tmp_path) == 3


def test_kubectl_get_accepts_a_kind_list(tmp_path):
    """``Kubectl.get`` passes "pods,deployments,..." as one argument, as kubectl wants it."""
    from firestream_core.tools.kubectl import Kubectl

    log = tmp_path / "argv"
    script = tmp_path / "kubectl"
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\nopen({str(log)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        "print(json.dumps({'kind': 'List', 'items': [{'kind': 'Pod'}, {'kind': 'Deployment'}]}))\n"
    )
    script.chmod(0o755)
    got = Kubectl(binary=script).get("pods,deployments,statefulsets,daemonsets", namespace="ns",
                                     selector="app.kubernetes.io/instance=web")
    assert [i["kind"] for i in got["items"]] == ["Pod", "Deployment"]
    assert json.loads(log.read_text()) == [
        "get", "pods,deployments,statefulsets,daemonsets", "--output", "json", "--namespace", "ns",
        "--selector", "app.kubernetes.io/instance=web"]
