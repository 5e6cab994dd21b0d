"""The built-in defaults: prerequisites, repositories, recovery, breaking versions, checks."""

from __future__ import annotations

import logging
import os

import pytest

from firestream_core import hookimpl
from firestream_core.deploy.lifecycle import run_release
from firestream_core.errors import HelmCommandError
from firestream_core.model import (
    BreakingVersion,
    ExecOutcome,
    HelmAction,
    HelmChartNamespace,
    ReleaseSettings,
    ValidationStatus,
)

from .conftest import generic, make_manager
from .fakes import pod


def _installed(helm, name="web", ns="default"):
    return next(r for r in helm.list_releases() if r.name == name and r.namespace == ns)


# -- check_prerequisites ---------------------------------------------------------------


def test_prerequisites_list_every_problem(context, helm):
    chart = generic(
        name="Bad_Name",
        chart="./missing-chart",
        values_files=["a.yaml", "b.yaml"],
        timeout="soon",
        settings=ReleaseSettings(retries=-1, retry_delay="later", on_validation_failure="shrug"),
    )
    result = run_release(chart, make_manager(), context)
    problems = result.problems
    assert result.stage_failed == "check_prerequisites"
    assert any(p.startswith("name: release name 'Bad_Name'") for p in problems)
    assert any(p.startswith("timeout: invalid duration") for p in problems)
    assert "retries: must not be negative" in problems
    assert any(p.startswith("retry_delay:") for p in problems)
    assert "on_validation_failure: must be 'fail' or 'warn'" in problems
    assert any(p.startswith("chart path './missing-chart' not found") for p in problems)
    assert any(p.startswith("values file 'a.yaml' not found") for p in problems)
    assert any(p.startswith("values file 'b.yaml' not found") for p in problems)
    assert helm.calls == []


def test_prerequisites_values_files_relative_to_project(context, chart_dir, tmp_path):
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "web.yaml").write_text("replicas: 1\n")
    chart = generic(values_files=["values/web.yaml"], path=chart_dir)
    assert run_release(chart, make_manager(), context).ok


def test_prerequisites_values_file_that_is_a_folder(context, chart_dir, tmp_path):
    (tmp_path / "values").mkdir()
    result = run_release(generic(values_files=["values"]), make_manager(), context)
    assert "values file 'values' is a folder, not a file" in result.problems


# A write-only sysctl: procfs refuses to open it for reading even for root (the
# sysctl permission check ignores CAP_DAC_OVERRIDE), so no chmod trick is needed.
WRITE_ONLY = next((p for p in ("/proc/sys/vm/drop_caches", "/proc/sys/vm/compact_memory")
                   if os.path.exists(p)), "/proc/sys/vm/drop_caches")


def test_prerequisites_unreadable_values_file(context, chart_dir, tmp_path):
    assert os.path.isfile(WRITE_ONLY) and not os.access(WRITE_ONLY, os.R_OK), (
        f"this test needs a file nobody (root included) may read: {WRITE_ONLY}")
    (tmp_path / "secret.yaml").symlink_to(WRITE_ONLY)
    result = run_release(generic(values_files=["secret.yaml"]), make_manager(), context)
    assert result.stage_failed == "check_prerequisites"
    assert "values file 'secret.yaml' is not readable (Permission denied)" in result.problems


def test_prerequisites_values_file_that_is_a_dangling_symlink(context, chart_dir, tmp_path):
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "removed-meanwhile.yaml")
    result = run_release(generic(values_files=["gone.yaml"]), make_manager(), context)
    assert result.stage_failed == "check_prerequisites"
    assert any(p.startswith("values file 'gone.yaml' not found") for p in result.problems)


@pytest.mark.parametrize("info", [{"chart": "postgresql", "repository": "bitnami"}, {"chart": "bitnami/postgresql"}],
                         ids=["named", "in-chart"])
def test_prerequisites_unknown_named_repository(context, helm, info):
    """A chart built in code whose repository has no URL (``chart = "bitnami/x"`` alike): refused
    before any helm call. helm only ever sees the run's own repositories, so the user's own
    ``bitnami`` would not have been found either (it used to be, silently)."""
    result = run_release(generic(**info), make_manager(), context)
    assert "repository 'bitnami' has no known URL; add it to [repositories] in firestream.toml" in (
        result.problems
    )
    assert helm.ops() == []


def test_destroy_does_not_need_files(context, helm):
    chart = generic(chart="./gone", values_files=["gone.yaml"], action=HelmAction.DESTROY)
    result = run_release(chart, make_manager(), context)
    assert result.ok, result.error
    assert result.executed.performed == "unchanged"


# -- pre_exec: repositories ---------------------------------------------------------------


def test_repository_added_once_per_run(context, helm, caplog):
    caplog.set_level(logging.INFO, logger="firestream")
    context.repositories = {"bitnami": "https://charts.bitnami.test"}
    m = make_manager()
    # exact versions: nothing to resolve in the desired state (which adds the repository too)
    run_release(generic("db", chart="postgresql", repository="bitnami", version="1.0.0"), m, context)
    run_release(generic("cache", chart="bitnami/redis", version="1.0.0"), m, context)
    assert [c for c in helm.calls if c[0] == "repo_add"] == [
        ("repo_add", "bitnami", "https://charts.bitnami.test"),
        ("repo_add", "bitnami", "https://charts.bitnami.test"),  # the helm layer dedupes...
    ]
    assert len(helm.repos) == 1
    # ...and the line is logged only when it was really added
    added = [m for m in caplog.messages if m.endswith("Pre-exec: Adding bitnami Helm repository")]
    assert added == ["release 'db': Pre-exec: Adding bitnami Helm repository"]


class _RecordsPreExec:
    """A plugin, and a chart class, whose ``pre_exec`` writes to the cluster."""

    def __init__(self, helm):
        self.helm, self.seen = helm, []

    @hookimpl
    def pre_exec(self, chart):
        self.seen.append(("plugin", [c[0] for c in self.helm.calls]))


@pytest.mark.parametrize("failing", [False, True])
def test_repository_added_before_every_other_pre_exec(context, helm, failing):
    # a repository that cannot be reached fails the release before anything writes to the
    # cluster: a plugin's pre_exec and a chart class's own method (chart-methods) alike
    import attrs

    from firestream_core.model import ChartInfo
    from firestream_core.plugin.generic import GenericChart

    seen = []

    @attrs.define
    class OwnPreExec(GenericChart):
        def pre_exec(self, context):
            seen.append(("method", [c[0] for c in helm.calls]))

    plugin = _RecordsPreExec(helm)
    context.repositories = {"bitnami": "https://charts.bitnami.test"}
    if failing:
        helm.fail("repo_add", HelmCommandError("helm repo add failed: not a valid chart repository"))
    # an exact version: no resolving in the desired state, where a failing repo add is a
    # problem at check_prerequisites (test_desired.py), before any pre_exec too
    chart = OwnPreExec(ChartInfo(name="db", chart="postgresql", repository="bitnami", version="1.0.0"))
    result = run_release(chart, make_manager(plugin), context)
    seen += plugin.seen
    if failing:
        assert result.stage_failed == "pre_exec"
        assert seen == []  # neither ran: nothing was written
    else:
        assert result.ok, result.error
        assert [who for who, _ in seen] == ["method", "plugin"]
        assert all("repo_add" in calls for _, calls in seen), seen


@pytest.mark.parametrize(
    "info",
    [
        {"chart": "oci://registry.test/charts/app"},
        {"chart": "app", "repository": "internal"},  # an oci:// repository URL
    ],
)
def test_oci_charts_add_no_repository(context, helm, info):
    context.repositories = {"internal": "oci://registry.test/charts"}
    result = run_release(generic(**info), make_manager(), context)
    assert result.ok, result.error
    assert "repo_add" not in helm.ops()


def test_unknown_named_repository_in_pre_exec_is_clear(context, helm):
    from firestream_core.deploy import defaults
    from firestream_core.errors import ChartNotFoundError

    for chart in (generic(chart="app", repository="acme"), generic(chart="acme/app")):
        with pytest.raises(ChartNotFoundError) as err:
            defaults.add_repository(chart, context)
        assert "release 'web'" in str(err.value)
        assert "the chart's repository 'acme' has no known URL" in str(err.value)
        assert "add it to [repositories] in firestream.toml" in str(err.value)
        assert 'acme = "https://..."' in err.value.hint
    assert helm.ops() == []


# -- exec: pending recovery ------------------------------------------------------------------


def test_pending_install_at_revision_1_is_uninstalled_first(context, helm, chart_dir, caplog):
    helm.seed("web", "default", (1, "pending-install", "chart-0.1.0"))
    context.installed = _installed(helm)
    result = run_release(generic(), make_manager(), context)
    assert result.ok, result.error
    ops = [o for o in helm.ops() if o in ("uninstall", "rollback", "upgrade_install")]
    assert ops == ["uninstall", "upgrade_install"]
    assert result.executed.revision == 1
    assert any("is pending-install" in m and "recovering" in m for m in caplog.messages)


def test_pending_upgrade_is_rolled_back_to_last_deployed(context, helm, chart_dir):
    helm.seed(
        "web", "default",
        (1, "superseded", "chart-0.1.0"),
        (2, "deployed", "chart-0.1.0"),
        (3, "pending-upgrade", "chart-0.2.0"),
    )
    context.installed = _installed(helm)
    result = run_release(generic(), make_manager(), context)
    assert result.ok, result.error
    assert ("rollback", "web", "default", 2) in helm.calls
    assert helm.ops().index("rollback") < helm.ops().index("upgrade_install")
    assert result.executed.revision == 5


def test_pending_rollback_without_working_revision_is_uninstalled(context, helm, chart_dir):
    helm.seed("web", "default", (1, "failed", "chart-0.1.0"), (2, "pending-rollback", "chart-0.1.0"))
    context.installed = _installed(helm)
    result = run_release(generic(), make_manager(), context)
    assert result.ok
    assert "rollback" not in helm.ops()
    assert helm.ops().index("uninstall") < helm.ops().index("upgrade_install")


def test_release_looked_up_outside_a_plan(context, helm, chart_dir):
    """No plan (change None, installed None): the default asks helm once."""
    helm.seed("web", "default", (1, "pending-install", "chart-0.1.0"))
    result = run_release(generic(), make_manager(), context)
    assert result.ok
    assert helm.ops()[:2] == ["list_releases", "uninstall"]


def test_plan_view_is_trusted(make_context, helm, chart_dir):
    context = make_context(change="create")
    run_release(generic(), make_manager(), context)
    assert "list_releases" not in helm.ops()


def test_a_release_uninstalled_with_kept_history_is_installed_with_replace(make_context, helm, kubectl,
                                                                           chart_dir):
    # `helm uninstall --keep-history`: the plan's create; helm's upgrade --install refuses it
    # ("has no deployed releases"), so exec installs with `install --replace`; a breaking
    # version the old chart would cross is no step for it (the plan's create shows none)
    helm.seed("web", "default", (1, "superseded", "chart-9.0.0"), (2, "uninstalled", "chart-9.0.0"))
    context = make_context(change="create")
    context.installed = _installed(helm)
    helm.calls.clear()
    bv = _breaking(requires_uninstall=True, pre_upgrade_commands=["kubectl delete crd x"])
    result = run_release(generic(version="10.0.0", last_breaking_version_requiring_restart=bv),
                         make_manager(), context)
    assert result.ok, result.error
    assert [o for o in helm.ops() if o != "status"] == ["install_replace"]
    assert kubectl.runs == []
    assert result.executed == ExecOutcome("deployed", 3, "release 'web' installed, revision 3",
                                          status="deployed", workloads=())


def test_a_dry_run_of_an_uninstalled_release_renders_with_replace(make_context, helm, chart_dir):
    helm.seed("web", "default", (1, "uninstalled", "chart-0.1.0"))
    context = make_context(dry_run=True, change="create")
    context.installed = _installed(helm)
    helm.calls.clear()
    assert run_release(generic(), make_manager(), context).ok
    assert helm.ops() == ["install_replace"] and helm.upgraded_infos[-1].dry_run is True


# -- exec: breaking versions -----------------------------------------------------------------


def _breaking(version="10.0.0", **kw):
    return BreakingVersion(version=version, **kw)


def test_breaking_version_commands_run_as_argument_lists(context, helm, kubectl, chart_dir, tmp_path):
    helm.seed("web", "default", (1, "deployed", "chart-9.0.0"))
    context.installed = _installed(helm)
    bv = _breaking(
        pre_upgrade_commands=[
            "kubectl delete crd widgets.example.com",
            ["kubectl", "annotate", "crd", "x", "note=a b"],
            "/usr/local/bin/cleanup --really 'two words'",
            "helm uninstall old-thing",
        ]
    )
    result = run_release(generic(last_breaking_version_requiring_restart=bv), make_manager(), context)
    assert result.ok, result.error
    assert kubectl.runs == [
        ["kubectl", "delete", "crd", "widgets.example.com"],
        ["kubectl", "annotate", "crd", "x", "note=a b"],
    ]
    assert helm.runner.calls == [
        ["/usr/local/bin/cleanup", "--really", "two words"],
        ["/opt/helm", "uninstall", "old-thing", "--kubeconfig", "/tmp/kubeconfig"],
    ]
    assert helm.runner.kwargs[0]["env"]["KUBECONFIG"] == "/tmp/kubeconfig"
    assert helm.runner.kwargs[0]["cwd"] == tmp_path
    assert "uninstall" not in helm.ops()


def test_kubectl_command_reaches_the_real_kubectl_layer_once(context):
    """Through the real ``Kubectl``: ``kubectl delete crd x`` is not ``kubectl kubectl ...``."""
    from firestream_core.deploy.recovery import run_command
    from firestream_core.tools.kubectl import Kubectl

    from .fakes import RecordingRunner

    runner = RecordingRunner()
    context.kubectl = Kubectl(runner, "/opt/kubectl", kubeconfig="/k/config")
    run_command(context, ["kubectl", "delete", "crd", "x"], release="web", timeout=30)
    assert runner.calls == [["/opt/kubectl", "delete", "crd", "x", "--kubeconfig", "/k/config"]]


def test_failing_other_program_raises_typed_error(context, helm):
    from firestream_core.deploy.recovery import run_command
    from firestream_core.tools.process import Completed

    helm.runner.results.append(Completed(("cleanup",), 3, "", "step one\ncould not clean\n", 0.1))
    with pytest.raises(HelmCommandError) as err:
        run_command(context, ["cleanup"], release="web", timeout=30)
    assert str(err.value) == (
        "pre-upgrade command 'cleanup' of release 'web' failed with exit code 3: could not clean"
    )


def test_breaking_version_requires_uninstall_first(context, helm, kubectl, chart_dir):
    helm.seed("web", "default", (1, "deployed", "chart-9.0.0"))
    context.installed = _installed(helm)
    bv = _breaking(requires_uninstall=True, pre_upgrade_commands=["kubectl delete crd x"])
    result = run_release(generic(last_breaking_version_requiring_restart=bv), make_manager(), context)
    assert result.ok
    ops = [o for o in helm.ops() if o in ("uninstall", "upgrade_install")]
    assert ops == ["uninstall", "upgrade_install"]
    assert result.executed.revision == 1
    assert "installed" in result.executed.message


@pytest.mark.parametrize(
    ("installed", "breaking", "applies"),
    [
        ("9.0.0", "10.0.0", True),  # "10.0.0" < "9.0.0" as strings: the original's defect
        ("10.0.0", "9.0.0", False),
        ("10.0.0", "10.0.0", False),
        ("2.0.0-rc.1", "2.0.0", True),
        ("1.10.0", "1.9.0", False),
    ],
)
def test_breaking_version_compared_as_semver(context, helm, kubectl, chart_dir, installed, breaking, applies):
    helm.seed("web", "default", (1, "deployed", f"chart-{installed}"))
    context.installed = _installed(helm)
    bv = _breaking(breaking, requires_uninstall=True, pre_upgrade_commands=["kubectl delete crd x"])
    run_release(generic(last_breaking_version_requiring_restart=bv), make_manager(), context)
    assert (kubectl.runs == [["kubectl", "delete", "crd", "x"]]) is applies
    assert ("uninstall" in helm.ops()) is applies


def test_breaking_version_not_applied_to_fresh_install(context, helm, kubectl, chart_dir):
    bv = _breaking(requires_uninstall=True, pre_upgrade_commands=["kubectl delete crd x"])
    run_release(generic(last_breaking_version_requiring_restart=bv), make_manager(), context)
    assert kubectl.runs == [] and "uninstall" not in helm.ops()


def test_failing_pre_upgrade_command_fails_exec(context, helm, kubectl, chart_dir):
    helm.seed("web", "default", (1, "deployed", "chart-9.0.0"))
    context.installed = _installed(helm)

    def boom(argv, **kw):
        raise HelmCommandError("kubectl delete failed: forbidden")

    kubectl.run = boom
    bv = _breaking(requires_uninstall=True, pre_upgrade_commands=["kubectl delete crd x"])
    result = run_release(generic(last_breaking_version_requiring_restart=bv), make_manager(), context)
    assert result.stage_failed == "exec"
    assert "forbidden" in result.error
    assert "uninstall" not in helm.ops() and "upgrade_install" not in helm.ops()


# -- exec: destroy and dry run -----------------------------------------------------------------


def test_destroy_uninstalls_and_validates_removed(context, helm, caplog):
    caplog.set_level(logging.INFO, logger="firestream")
    helm.seed("web", "default", (1, "deployed", "chart-0.1.0"))
    context.installed = _installed(helm)
    result = run_release(generic(action=HelmAction.DESTROY), make_manager(), context)
    assert result.ok, result.error
    assert result.executed == ExecOutcome("destroyed", 1, "release 'web' uninstalled")
    assert [(v.name, v.status) for v in result.validations] == [("release_removed", ValidationStatus.PASSED)]
    assert "release 'web': Destroying Helm chart" in caplog.messages
    assert "release 'web': Validation 'release_removed': PASSED - Helm release 'web' removed" in caplog.messages


def test_destroy_of_absent_release_changes_nothing(make_context, helm):
    context = make_context(change="destroy")
    result = run_release(generic(action=HelmAction.DESTROY), make_manager(), context)
    assert result.ok and result.executed.performed == "unchanged"
    assert "uninstall" not in helm.ops()


def test_dry_run_changes_nothing_and_skips_validation(make_context, helm, chart_dir):
    helm.seed("web", "default", (1, "pending-install", "chart-0.1.0"))
    context = make_context(dry_run=True)
    context.installed = _installed(helm)
    chart = generic()
    result = run_release(chart, make_manager(), context)
    assert result.ok
    assert "uninstall" not in helm.ops() and "status" not in helm.ops()
    assert helm.upgraded_infos[-1].dry_run is True
    assert chart.chart_info.dry_run is False  # the release's own info is left alone
    assert "validate" not in result.durations


# -- exec: the seam a chart plugin's own step uses (a wrapper=True exec) -------------------------


class StepBeforeHelm:
    """A chart plugin's ``exec`` wrapper: what it saw when its step ran, and what came out."""

    firestream_plugin_name = "crd-step"

    def __init__(self, helm, fail: bool = False):
        self.helm, self.fail = helm, fail
        self.seen: list[tuple] = []
        self.outcomes: list = []

    @hookimpl(wrapper=True)
    def exec(self, chart, context, payload):
        self.seen.append((context.prepared, list(self.helm.ops())))
        if self.fail:
            raise RuntimeError("CRD step failed")
        outcome = yield
        self.outcomes.append(outcome)
        return outcome


def test_an_exec_wrapper_runs_after_the_pending_recovery_and_before_helm(context, helm, chart_dir):
    helm.seed("web", "default", (1, "deployed", "chart-0.1.0"), (2, "pending-upgrade", "chart-0.2.0"))
    context.installed = _installed(helm)
    step = StepBeforeHelm(helm)
    result = run_release(generic(), make_manager(step), context)
    assert result.ok, result.error
    ((prepared, ops_then),) = step.seen
    assert "rollback" in ops_then and "upgrade_install" not in ops_then
    assert (prepared.recovered, prepared.installed.revision, prepared.uninstalled) == (True, 1, False)
    assert helm.ops().count("rollback") == 1  # recovered once, by the core
    assert step.outcomes == [result.executed] and result.executed.performed == "deployed"


def test_an_exec_wrapper_sees_the_breaking_versions_uninstall(context, helm, kubectl, chart_dir):
    helm.seed("web", "default", (1, "deployed", "chart-9.0.0"))
    context.installed = _installed(helm)
    step = StepBeforeHelm(helm)
    bv = _breaking(requires_uninstall=True)
    result = run_release(generic(last_breaking_version_requiring_restart=bv), make_manager(step), context)
    assert result.ok, result.error
    ((prepared, ops_then),) = step.seen
    assert "uninstall" in ops_then and "upgrade_install" not in ops_then
    assert prepared.uninstalled and prepared.installed is None and prepared.breaking.version == "10.0.0"
    assert helm.ops().count("uninstall") == 1


def test_a_breaking_step_the_plan_did_not_show_is_refused_before_a_wrappers_step(make_context, helm, chart_dir):
    """Inside a plan that shows no breaking step, the core refuses before the plugin's wrapper runs."""
    helm.seed("web", "default", (1, "deployed", "chart-9.0.0"))
    context = make_context(change="upgrade")  # the plan's view: no breaking step (context.breaking None)
    context.installed = _installed(helm)
    step = StepBeforeHelm(helm)
    bv = _breaking(requires_uninstall=True)
    result = run_release(generic(last_breaking_version_requiring_restart=bv), make_manager(step), context)
    assert not result.ok and result.stage_failed == "exec"
    assert "which the plan did not show" in result.error
    assert step.seen == []  # the plugin's step never ran
    assert "uninstall" not in helm.ops() and "upgrade_install" not in helm.ops()


def test_an_exec_wrapper_that_raises_fails_exec_before_helm(context, helm, chart_dir):
    step = StepBeforeHelm(helm, fail=True)
    result = run_release(generic(), make_manager(step), context)
    assert not result.ok and result.stage_failed == "exec"
    assert "CRD step failed" in result.error
    assert "upgrade_install" not in helm.ops()


@pytest.mark.parametrize("how", ["dry_run", "destroy"])
def test_nothing_is_prepared_for_a_dry_run_or_a_destroy(make_context, helm, chart_dir, how):
    helm.seed("web", "default", (1, "pending-install", "chart-0.1.0"))
    context = make_context(dry_run=how == "dry_run")
    step = StepBeforeHelm(helm)
    action = HelmAction.DESTROY if how == "destroy" else HelmAction.DEPLOY
    run_release(generic(action=action), make_manager(step), context)
    ((prepared, _),) = step.seen
    assert prepared is None


# -- validate ----------------------------------------------------------------------------------


def test_release_exists_fails_when_release_failed(context, helm, chart_dir):
    helm.seed("web", "default", (1, "failed", "chart-0.1.0"))

    class NoExec:
        firestream_plugin_name = "noexec"

        @hookimpl
        def exec(self, chart, context, payload):
            return ExecOutcome("unchanged")

    result = run_release(generic(), make_manager(NoExec()), context)
    exists = next(v for v in result.validations if v.name == "release_exists")
    assert exists.status is ValidationStatus.FAILED
    assert exists.message == "Helm release 'web' is failed"


def test_crashloop_fails_pods_running(context, kubectl, chart_dir):
    kubectl.pods["web"] = [pod("web-1"), pod("web-2", ready=False, waiting="CrashLoopBackOff")]
    result = run_release(generic(), make_manager(), context)
    check = next(v for v in result.validations if v.name == "pods_running")
    assert check.status is ValidationStatus.FAILED
    assert check.message == "pod 'web-2' container 'app' is in CrashLoopBackOff"


def test_failed_pod_fails_pods_running(context, kubectl, chart_dir):
    kubectl.pods["web"] = [pod("web-1", phase="Failed", ready=False)]
    result = run_release(generic(), make_manager(), context)
    assert "pod 'web-1' failed" in result.error


def test_no_pods_passes_with_a_note(context, kubectl, chart_dir):
    result = run_release(generic(), make_manager(), context)
    check = next(v for v in result.validations if v.name == "pods_running")
    assert check.status is ValidationStatus.PASSED
    assert "no pods labelled app.kubernetes.io/instance=web" in check.message
    assert kubectl.calls == [  # pods and workloads in one call
        ("get", "pods,deployments,statefulsets,daemonsets", "default", "app.kubernetes.io/instance=web")]


def test_completed_and_terminating_pods(context, kubectl, chart_dir):
    terminating = pod("web-old", ready=False)
    terminating["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    kubectl.pods["web"] = [pod("web-1"), pod("web-job", phase="Succeeded", ready=False), terminating]
    result = run_release(generic(), make_manager(), context)
    assert result.ok, result.error
    check = next(v for v in result.validations if v.name == "pods_running")
    assert check.message == "2 pods of release 'web' running"


def test_run_tests_passing(context, helm, chart_dir):
    chart = generic(settings=ReleaseSettings(run_tests=True))
    result = run_release(chart, make_manager(), context)
    assert result.ok
    tests = next(v for v in result.validations if v.name == "helm_tests")
    assert tests.status is ValidationStatus.PASSED
    assert helm.ops().count("test") == 1


def test_run_tests_failing_fails_and_rolls_back(context, helm, chart_dir):
    helm.seed("web", "default", (1, "deployed", "chart-0.1.0"))
    context.installed = _installed(helm)
    helm.tests_pass = False
    result = run_release(generic(settings=ReleaseSettings(run_tests=True)), make_manager(), context)
    assert not result.ok
    assert "helm_tests: helm test failed (failed: web-test) for release 'web'" in result.error
    assert result.rolled_back
    assert ("rollback", "web", "default", 1) in helm.calls


def test_tests_wait_for_pods_and_run_once(context, helm, kubectl, chart_dir):
    kubectl.pod_script = [[pod("web-1", ready=False)], [pod("web-1", ready=False)], [pod("web-1")]]
    result = run_release(generic(settings=ReleaseSettings(run_tests=True)), make_manager(), context)
    assert result.ok, result.error
    assert helm.ops().count("test") == 1
    # the first poll takes the upgrade's own record; the two re-polls ask helm again
    assert helm.ops().count("status") == 2


def test_run_tests_from_run_settings(make_context, helm, chart_dir):
    context = make_context(settings={"run_tests": True})
    run_release(generic(), make_manager(), context)
    assert "test" in helm.ops()


def test_custom_namespace(context, helm, chart_dir):
    chart = generic(namespace=HelmChartNamespace.CUSTOM, custom_namespace="team-a")
    result = run_release(chart, make_manager(), context)
    assert result.ok and result.namespace == "team-a"
    assert ("upgrade_install", "web", "team-a") in helm.calls


def test_workload_without_pods_is_pending(context, kubectl, chart_dir):
    """A Deployment whose pods do not exist (no controller) is not "nothing to check"."""
    kubectl.workloads["web"] = [{"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}]
    kubectl.pod_script = [[], [pod("web-1")], [pod("web-1"), pod("web-2")]]
    result = run_release(generic(), make_manager(), context)
    assert result.ok, result.error
    # one kubectl call per poll reads pods and workloads together
    assert kubectl.calls == [
        ("get", "pods,deployments,statefulsets,daemonsets", "default", "app.kubernetes.io/instance=web")
    ] * 3


def test_workload_without_pods_fails_at_timeout(context, kubectl, chart_dir):
    kubectl.workloads["web"] = [{"kind": "StatefulSet", "metadata": {"name": "web"}, "spec": {}}]
    result = run_release(generic(timeout="0s"), make_manager(), context)
    check = next(v for v in result.validations if v.name == "pods_running")
    assert check.status is ValidationStatus.FAILED
    assert check.message == "still pending after 0s: 0/1 pods of release 'web' ready"


def test_scaled_to_zero_passes(context, kubectl, chart_dir):
    kubectl.workloads["web"] = [{"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 0}}]
    assert run_release(generic(), make_manager(), context).ok


def test_a_problem_that_names_its_release_is_prefixed_once(context, helm):
    import attrs

    from firestream_core.plugin.generic import GenericChart

    @attrs.define
    class Picky(GenericChart):
        def check_prerequisites(self):
            return [f"release '{self.name}': not today", "nor tomorrow"]

    chart = Picky(generic().chart_info)
    result = run_release(chart, make_manager(), context)
    name = chart.name
    # the chart's own problems first, then the defaults' (its './chart' is not there)
    assert result.error.startswith(
        f"release '{name}' failed at check_prerequisites: not today; nor tomorrow; chart path"
    )
    assert result.problems[:2] == (f"release '{name}': not today", "nor tomorrow")  # as said
    assert result.error.count(f"release '{name}'") == 1


def test_the_run_wide_key_is_on_validation_failure_and_the_old_name_is_deprecated(make_context):
    from firestream_core.deploy.lifecycle import validation_failure_mode

    chart = generic()
    assert validation_failure_mode(chart, make_context(settings={"on_validation_failure": "warn"})) == "warn"
    assert validation_failure_mode(chart, make_context(settings={})) == "fail"
    with pytest.warns(DeprecationWarning, match="use 'on_validation_failure'"):
        assert validation_failure_mode(chart, make_context(settings={"validation_failure": "warn"})) == "warn"
