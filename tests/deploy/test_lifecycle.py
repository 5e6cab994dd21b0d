"""run_release: stage order, payload, plugin order, failures, validation, retries."""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

import attrs
import pytest

from firestream_core import hookimpl
from firestream_core.deploy.lifecycle import run_release
from firestream_core.errors import (
    CancelledError,
    ChartNotFoundError,
    ClusterUnreachableError,
    HelmTimeoutError,
    PrerequisiteError,
    RenderError,
    StageFailedError,
    ValidationFailedError,
)
from firestream_core.model import (
    ChartInfo,
    ChartPayload,
    ChartType,
    ExecOutcome,
    HelmAction,
    HelmChart,
    ReleaseSettings,
    ValidationResult,
    ValidationStatus,
)

from .conftest import generic, make_manager
from .fakes import pod

STAGES_OK = ["check_prerequisites", "pre_exec", "exec", "post_exec", "validate"]


class Recorder:
    """A cross-cutting plugin recording every stage it sees, and the payload it got."""

    firestream_plugin_name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.payload_ids: set[int] = set()

    def _rec(self, stage: str, chart: HelmChart, payload: ChartPayload) -> None:
        self.calls.append((stage, chart.name))
        self.payload_ids.add(id(payload))

    @hookimpl
    def check_prerequisites(self, chart, context, payload):
        self._rec("check_prerequisites", chart, payload)
        payload["seen"] = ["check_prerequisites"]

    @hookimpl
    def pre_exec(self, chart, context, payload):
        self._rec("pre_exec", chart, payload)
        payload.setdefault("seen", []).append("pre_exec")

    @hookimpl
    def exec(self, chart, context, payload):
        self._rec("exec", chart, payload)
        payload.setdefault("seen", []).append("exec")

    @hookimpl
    def post_exec(self, chart, context, payload):
        self._rec("post_exec", chart, payload)
        payload.setdefault("seen", []).append("post_exec")

    @hookimpl
    def validate(self, chart, context, payload):
        self._rec("validate", chart, payload)
        payload.setdefault("seen", []).append("validate")

    @hookimpl
    def on_deploy_failure(self, chart, context, payload, stage, error):
        self._rec("on_deploy_failure", chart, payload)
        return [f"recorder saw {stage} fail"]

    def stages(self) -> list[str]:
        return [s for s, _ in self.calls]


@attrs.define
class DemoChart(HelmChart):
    chart_type: ClassVar[str] = "demo"


class DemoPlugin:
    """A chart plugin: its exec replaces the default, its pre_exec adds to it."""

    firestream_plugin_name = "demo"

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def register_chart_types(self, register):
        register(ChartType("demo", DemoChart))

    @hookimpl
    def pre_exec(self, chart, context, payload):
        self.calls.append("pre_exec")
        payload["demo_prepared"] = True

    @hookimpl
    def exec(self, chart, context, payload):
        self.calls.append("exec")
        assert payload["demo_prepared"] is True
        return ExecOutcome("deployed", 7, "deployed by the demo plugin")


def _failing(stage: str, exc: BaseException) -> object:
    """A cross-cutting plugin whose ``stage`` raises ``exc``."""

    class Failing:
        firestream_plugin_name = f"failing-{stage}"

    def impl(chart, context, payload):
        raise exc

    impl.__name__ = stage
    setattr(Failing, stage, staticmethod(hookimpl(impl)))
    return Failing()


# -- order and payload ---------------------------------------------------------------


def test_stages_run_in_order_with_one_payload(context, helm, chart_dir):
    rec = Recorder()
    payload = ChartPayload(origin="caller")
    result = run_release(generic(), make_manager(rec), context, payload)
    assert result.ok, result.error
    assert rec.stages() == STAGES_OK
    assert rec.payload_ids == {id(payload)}
    assert result.payload is payload
    assert payload["seen"] == STAGES_OK
    assert payload["origin"] == "caller"
    assert set(payload) == {"origin", "seen"}  # the caller's and the plugin's keys, none of the core's
    # helm's status from the upgrade's own output, relied on by the first validation only
    assert result.executed == ExecOutcome("deployed", 1, "release 'web' installed, revision 1",
                                          status="deployed", workloads=())
    assert result.revision == 1 and result.namespace == "default" and result.action == "deploy"
    assert [v.name for v in result.validations] == ["release_exists", "pods_running"]
    assert set(result.durations) == set(STAGES_OK)


class PayloadWatcher:
    """A cross-cutting plugin noting, at every stage, the payload's keys and what exec did."""

    firestream_plugin_name = "payload-watcher"

    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {}
        self.executed: dict[str, ExecOutcome | None] = {}

    def _see(self, stage: str, context: Any, payload: ChartPayload) -> None:
        self.keys.setdefault(stage, set()).update(payload)
        self.executed[stage] = context.lifecycle.executed

    @hookimpl
    def pre_exec(self, chart, context, payload):
        self._see("pre_exec", context, payload)
        payload.section("watcher")["mine"] = True

    @hookimpl
    def post_exec(self, chart, context, payload):
        self._see("post_exec", context, payload)

    @hookimpl
    def validate(self, chart, context, payload):
        self._see("validate", context, payload)

    @hookimpl
    def on_deploy_failure(self, chart, context, payload, stage, error):
        self._see("on_deploy_failure", context, payload)


@pytest.mark.parametrize("tests_pass", [True, False])
def test_the_exec_record_and_test_results_stay_out_of_the_plugins_payload(
    context, helm, chart_dir, tests_pass
):
    """What exec did and helm test's results are the runner's (context.lifecycle, the outcome):
    a plugin's payload holds only what plugins put there, at every stage, and the outcome carries
    both as typed fields."""
    helm.tests_pass = tests_pass
    watcher = PayloadWatcher()
    chart = generic(settings=ReleaseSettings(run_tests=True), atomic=False)
    result = run_release(chart, make_manager(watcher), context)
    assert result.ok is tests_pass, result.error
    seen = ["pre_exec", "post_exec", "validate"] + ([] if tests_pass else ["on_deploy_failure"])
    assert sorted(watcher.keys) == sorted(seen)
    for stage in seen:
        assert watcher.keys[stage] <= {"watcher"}, stage
    assert result.payload == {"watcher": {"mine": True}}
    # a later stage reads what exec did from its context, typed
    assert watcher.executed["pre_exec"] is None
    assert watcher.executed["post_exec"] is watcher.executed["validate"] is result.executed
    assert result.executed.performed == "deployed" and result.executed.revision == 1
    [test] = result.tests
    assert (test.name, test.passed) == ("web-test", tests_pass)


def test_each_lifecycle_starts_a_new_record(context, helm, chart_dir):
    """One context used for two releases (a plugin's tests): the second does not see the first's record."""
    first = run_release(generic(settings=ReleaseSettings(run_tests=True)), make_manager(), context)
    assert first.ok and first.tests is not None
    second = run_release(generic(), make_manager(), context)
    assert second.ok and second.tests is None
    assert second.executed is context.lifecycle.executed is not first.executed
    assert helm.ops().count("test") == 1


def test_seed_log_lines(context, chart_dir, caplog):
    caplog.set_level(logging.INFO, logger="firestream")
    run_release(generic(), make_manager(), context)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    # the seed's lines, each named in the one form of docs/lifecycle.md ("Log lines")
    assert lines[:3] == [
        "release 'web': Running lifecycle",
        "release 'web': Checking prerequisites",
        "release 'web': Deploying Helm chart",
    ]
    assert "release 'web': Validation 'release_exists': PASSED - Helm release 'web' exists" in lines


def test_chart_plugin_exec_replaces_default_and_pre_exec_adds(context, helm):
    demo = DemoPlugin()
    chart = DemoChart(ChartInfo(name="demo", chart="demo", repository="stable"))
    context.repositories = {"stable": "https://charts.example.test"}
    result = run_release(chart, make_manager(demo), context)
    assert demo.calls == ["pre_exec", "exec"]
    assert ("repo_add", "stable", "https://charts.example.test") in helm.calls  # default pre_exec ran too
    assert "upgrade_install" not in helm.ops()  # default exec did not
    assert result.executed == ExecOutcome("deployed", 7, "deployed by the demo plugin")


def test_chart_plugin_not_called_for_other_chart_types(context, chart_dir):
    demo = DemoPlugin()
    result = run_release(generic(), make_manager(demo), context)
    assert result.ok
    assert demo.calls == []


def test_skip_only_runs_exec(context, helm, caplog):
    caplog.set_level(logging.INFO, logger="firestream")
    rec = Recorder()
    result = run_release(generic(action=HelmAction.SKIP), make_manager(rec), context)
    assert result.ok and result.executed.performed == "skipped"
    assert rec.stages() == ["exec"]
    assert helm.calls == []
    assert "release 'web': Skipping Helm chart" in caplog.messages


# -- failures ----------------------------------------------------------------------------


def test_prerequisite_problems_stop_before_pre_exec(context, helm):
    rec = Recorder()
    result = run_release(generic(values_files=["missing.yaml"]), make_manager(rec), context)
    assert not result.ok
    assert result.stage_failed == "check_prerequisites"
    assert isinstance(result.exception, PrerequisiteError)
    assert "values file 'missing.yaml' not found" in result.error
    assert "release 'web'" in result.error
    assert rec.stages() == ["check_prerequisites"]  # no on_deploy_failure, nothing changed
    assert helm.calls == []


def test_the_stage_listener_is_told_each_stage_just_before_its_hooks(context, chart_dir):
    rec = Recorder()

    def told(release: str, stage: str) -> None:
        rec.calls.append((f"told {stage}", release))

    result = run_release(generic(), make_manager(rec), context, on_stage=told)
    assert result.ok, result.error
    assert rec.calls == [call for stage in STAGES_OK for call in ((f"told {stage}", "web"), (stage, "web"))]


def test_the_stage_listener_is_told_of_each_retry_and_of_on_deploy_failure(context, helm, chart_dir):
    helm.fail("upgrade_install", *[ClusterUnreachableError("cluster unreachable")] * 2)
    chart = generic(settings=ReleaseSettings(retries=1, retry_delay="0s"))
    told: list[tuple[str, str]] = []
    result = run_release(chart, make_manager(), context, on_stage=lambda *call: told.append(call))
    assert result.stage_failed == "exec"
    assert [stage for _, stage in told] == ["check_prerequisites", "pre_exec", "exec", "exec",
                                            "on_deploy_failure"]
    assert {release for release, _ in told} == {"web"}


@pytest.mark.parametrize("stage", ["pre_exec", "exec", "post_exec", "validate"])
def test_on_deploy_failure_runs_for_every_stage(context, chart_dir, stage):
    rec = Recorder()
    boom = RuntimeError(f"{stage} exploded")
    result = run_release(generic(), make_manager(rec, _failing(stage, boom)), context)
    assert not result.ok
    assert result.stage_failed == stage
    assert rec.stages()[-1] == "on_deploy_failure"
    assert f"recorder saw {stage} fail" in result.debug
    assert isinstance(result.exception, StageFailedError)
    assert result.exception.cause is boom and result.exception.stage == stage
    assert result.error.startswith(
        f"release 'web' failed at {stage}: plugin 'failing-{stage}': RuntimeError: {stage} exploded")


def test_a_plugin_raising_at_check_prerequisites_is_named_and_its_exception_kept(context, chart_dir):
    """A third-party plugin's bug read ``release 'web' failed at check_prerequisites:
    RuntimeError: boom``: nothing said which of the installed plugins raised it."""
    boom = RuntimeError("boom")
    result = run_release(generic(), make_manager(_failing("check_prerequisites", boom)), context)
    assert result.stage_failed == "check_prerequisites"
    assert result.error == (
        "release 'web' failed at check_prerequisites: plugin 'failing-check_prerequisites': RuntimeError: boom"
    )
    assert result.exception.cause is boom  # the plugin's exception, as it raised it


def test_a_firestream_error_a_plugin_raises_names_itself(context, chart_dir):
    """firestream's own errors (a helm call the plugin made) say what failed: no prefix."""
    boom = ClusterUnreachableError("kubectl get failed: cluster unreachable")
    result = run_release(generic(), make_manager(_failing("pre_exec", boom)), context)
    assert result.error == "release 'web' failed at pre_exec: kubectl get failed: cluster unreachable"


@pytest.mark.parametrize("stage", ["pre_exec", "exec", "post_exec", "validate"])
def test_a_stage_calling_sys_exit_fails_at_that_stage(context, chart_dir, stage):
    """``sys.exit()`` in a plugin's stage went past the lifecycle: no stage, no on_deploy_failure,
    no rollback, and the run recorded nothing for a release helm had already changed."""
    rec = Recorder()
    boom = SystemExit("plugin gives up")
    result = run_release(generic(), make_manager(rec, _failing(stage, boom)), context)
    assert not result.ok and result.stage_failed == stage
    assert rec.stages()[-1] == "on_deploy_failure"
    assert result.error.startswith(f"release 'web' failed at {stage}: plugin 'failing-{stage}': SystemExit: plugin gives up")


def test_on_deploy_failure_calling_sys_exit_is_noted_and_the_others_kept(context, chart_dir):
    class QuitDebug:
        firestream_plugin_name = "quit-debug"

        @hookimpl
        def on_deploy_failure(self, chart, context, payload, stage, error):
            raise SystemExit(0)

    rec = Recorder()
    boom = RuntimeError("pre_exec exploded")
    result = run_release(generic(), make_manager(rec, QuitDebug(), _failing("pre_exec", boom)), context)
    assert result.stage_failed == "pre_exec" and result.exception.cause is boom
    assert any("on_deploy_failure of plugin 'quit-debug' raised" in d for d in result.debug), result.debug
    assert "recorder saw pre_exec fail" in result.debug


def test_default_debug_info_collected(context, kubectl, chart_dir):
    kubectl.pods["web"] = [pod("web-1", ready=False, waiting="CrashLoopBackOff")]
    kubectl.events_ = [
        {"type": "Warning", "reason": "BackOff", "message": "Back-off restarting",
         "involvedObject": {"kind": "Pod", "name": "web-1"}, "lastTimestamp": "t1"},
        {"type": "Normal", "reason": "Other", "message": "unrelated",
         "involvedObject": {"kind": "Pod", "name": "db-0"}, "lastTimestamp": "t2"},
    ]
    kubectl.logs_["web-1"] = "starting\npanic: cannot connect\n"
    result = run_release(generic(), make_manager(), context)
    assert result.stage_failed == "validate"
    debug = "\n".join(result.debug)
    assert "pod web-1: Running, 0/1 ready, container app waiting (CrashLoopBackOff)" in debug
    assert "BackOff pod/web-1: Back-off restarting" in debug
    assert "unrelated" not in debug
    assert "log web-1: panic: cannot connect" in debug


def test_on_deploy_failure_exception_does_not_mask_error(context, kubectl, chart_dir, caplog):
    class BrokenDebug:
        firestream_plugin_name = "broken-debug"

        @hookimpl
        def on_deploy_failure(self, chart, context, payload, stage, error):
            raise ValueError("debug collector broke")

    kubectl.pods["web"] = [pod("web-1", ready=False, waiting="CrashLoopBackOff")]
    boom = RenderError("release 'web': template error in deployment.yaml")
    result = run_release(generic(), make_manager(BrokenDebug(), _failing("exec", boom)), context)
    assert result.stage_failed == "exec"
    assert result.exception.cause is boom
    assert "template error" in result.error
    assert "debug collector broke" not in result.error
    # the other implementations (the defaults) still gave their lines
    assert any("on_deploy_failure of plugin 'broken-debug' raised" in d for d in result.debug)
    assert any(d.startswith("pod web-1") for d in result.debug)
    assert any("debug collector broke" in m for m in caplog.messages)



@pytest.mark.parametrize("returned", [12345, "not a list", {"a": 1}, [1, 2]])
def test_on_deploy_failure_returning_a_non_list_is_noted_and_the_error_kept(context, chart_dir, returned):
    """A plugin's on_deploy_failure returning 12345 used to replace the release's error with
    ``'int' object is not iterable`` (raised out of the lifecycle: nothing recorded)."""

    class BadDebug:
        firestream_plugin_name = "bad-debug"

        @hookimpl
        def on_deploy_failure(self, chart, context, payload, stage, error):
            return returned

    rec = Recorder()
    boom = RuntimeError("pre_exec exploded")
    result = run_release(generic(), make_manager(rec, BadDebug(), _failing("pre_exec", boom)), context)
    assert result.stage_failed == "pre_exec"
    assert result.error.startswith("release 'web' failed at pre_exec: plugin 'failing-pre_exec': RuntimeError: pre_exec exploded")
    assert result.exception.cause is boom
    kind = type(returned if not isinstance(returned, list) else returned[0]).__name__
    noted = [d for d in result.debug if "on_deploy_failure of plugin 'bad-debug' returned" in d]
    assert len(noted) == 1 and kind in noted[0], result.debug
    assert "recorder saw pre_exec fail" in result.debug  # the others' lines are kept
    assert "n" not in result.debug  # a str is not split into characters



# -- a hook returning the wrong type -------------------------------------------------------


def _returning(stage: str, value: object) -> object:
    """A cross-cutting plugin ``quirky`` whose ``stage`` returns ``value``."""

    class Quirky:
        firestream_plugin_name = "quirky"

    def impl(chart, context, payload):
        return value

    impl.__name__ = stage
    setattr(Quirky, stage, staticmethod(hookimpl(impl)))
    return Quirky()


@pytest.mark.parametrize(
    ("stage", "value", "said"),
    [
        ("check_prerequisites", "abc", "returned a str, not a list of problems (strings) or None"),
        ("check_prerequisites", 42, "returned an int, not a list of problems (strings) or None"),
        ("check_prerequisites", {"a problem": 1}, "returned a dict, not a list of problems"),
        ("check_prerequisites", [42], "returned a list holding an int, not a list of problems"),
        ("exec", "done", "returned a str, not an ExecOutcome or None"),
        ("validate", "fine", "returned a str, not a list of ValidationResult or None"),
        ("validate", ["fine"], "returned a list holding a str, not a list of ValidationResult"),
    ],
)
def test_a_hook_returning_the_wrong_type_fails_the_release_at_that_stage_naming_the_plugin(
    context, helm, chart_dir, caplog, stage, value, said
):
    """check_prerequisites' "abc" was split into one problem per character, 42 raised a bare
    TypeError, a dict's keys became problems; exec's "done" silently replaced helm's upgrade."""
    rec = Recorder()
    result = run_release(generic(), make_manager(_returning(stage, value), rec), context)
    assert result.stage_failed == stage
    assert result.error.startswith(f"release 'web' failed at {stage}: plugin 'quirky': {stage} {said}"), result.error
    assert "Prerequisite not met" not in caplog.text
    if stage == "check_prerequisites":
        assert rec.stages() == ["check_prerequisites"]  # nothing changed, nothing collected
        assert helm.calls == []
    else:
        assert rec.stages()[-1] == "on_deploy_failure"
    if stage == "exec":
        assert not any(c[0] == "upgrade_install" for c in helm.calls)  # never ran as if deployed
        assert result.executed is None


def test_a_chart_class_method_returning_the_wrong_type_is_named_by_its_class(context, helm):
    @attrs.define
    class SloppyChart(HelmChart):
        chart_type: ClassVar[str] = "sloppy"

        def check_prerequisites(self, context, payload):
            return "oops"

    class Sloppy:
        firestream_plugin_name = "sloppy"

        @hookimpl
        def register_chart_types(self, register):
            register(ChartType("sloppy", SloppyChart))

    chart = SloppyChart(ChartInfo(name="web", chart="./chart"))
    result = run_release(chart, make_manager(Sloppy()), context)
    assert result.stage_failed == "check_prerequisites"
    assert "chart class SloppyChart: check_prerequisites returned a str" in result.error


def test_the_checked_hooks_keep_their_arguments_and_a_right_value_passes(context, chart_dir):
    class Fine:
        firestream_plugin_name = "fine"

        @hookimpl
        def check_prerequisites(self, chart):
            return ("one problem",)

    result = run_release(generic(), make_manager(Fine()), context)
    assert result.error == "release 'web' failed at check_prerequisites: one problem"


# -- validation ------------------------------------------------------------------------------


def _validator(*rounds: list[ValidationResult]):
    class Validator:
        firestream_plugin_name = "validator"
        calls = 0

        @hookimpl
        def validate(self, chart, context, payload):
            i = min(self.calls, len(rounds) - 1)
            self.calls += 1
            return rounds[i]

    return Validator()


def test_failed_validation_fails_release_and_rolls_back_atomic(context, helm, chart_dir):
    helm.seed("web", "default", (1, "deployed", "chart-0.1.0"))
    context.installed = helm.list_releases()[0]
    v = _validator([ValidationResult.fail("custom", "endpoint did not answer")])
    result = run_release(generic(), make_manager(v), context)
    assert not result.ok
    assert result.stage_failed == "validate"
    assert isinstance(result.exception, ValidationFailedError)
    assert "custom: endpoint did not answer" in result.error
    assert result.rolled_back
    assert ("rollback", "web", "default", 1) in helm.calls
    assert "rolled back to revision 1" in result.error
    assert [e["status"] for e in helm.history_[("default", "web")]] == ["superseded", "superseded", "deployed"]


def test_failed_validation_of_new_release_uninstalls(context, helm, chart_dir):
    v = _validator([ValidationResult.fail("custom", "no")])
    result = run_release(generic(), make_manager(v), context)
    assert result.rolled_back
    assert "uninstalled" in result.rollback
    assert ("default", "web") not in helm.history_


def test_failed_validation_of_a_release_installed_again_uninstalls_it_keeping_history(context, helm, chart_dir):
    # `helm uninstall --keep-history` earlier: nothing ran before this run's `install --replace`,
    # which marked revision 2 superseded; rolling back to it would start the old config again
    helm.seed("web", "default", (1, "superseded", "chart-0.1.0"), (2, "uninstalled", "chart-0.1.0"))
    context.change, context.installed = "create", helm.list_releases()[0]
    v = _validator([ValidationResult.fail("custom", "no")])
    result = run_release(generic(), make_manager(v), context)
    assert not result.ok and result.rolled_back
    assert "rollback" not in helm.ops()
    assert ("uninstall_keep_history", "web", "default") in helm.calls
    assert [e["status"] for e in helm.history_[("default", "web")]] == ["superseded", "superseded", "uninstalled"]
    assert result.rollback == "release 'web' uninstalled again (it was uninstalled before; its history is kept)"


def test_failed_validation_not_atomic_is_not_rolled_back(context, helm, chart_dir):
    v = _validator([ValidationResult.fail("custom", "no")])
    result = run_release(generic(atomic=False), make_manager(v), context)
    assert not result.ok and not result.rolled_back
    assert "rollback" not in helm.ops() and "uninstall" not in helm.ops()


def test_warn_mode_turns_failure_into_warning(context, helm, chart_dir):
    v = _validator([ValidationResult.fail("custom", "slow endpoint")])
    chart = generic(settings=ReleaseSettings(on_validation_failure="warn"))
    result = run_release(chart, make_manager(v), context)
    assert result.ok
    assert result.warnings == ("custom: slow endpoint",)
    custom = next(r for r in result.validations if r.name == "custom")
    assert custom.status is ValidationStatus.WARNING
    assert "rollback" not in helm.ops()


def test_warn_mode_from_run_settings(make_context, chart_dir):
    context = make_context(settings={"on_validation_failure": "warn"})
    v = _validator([ValidationResult.fail("custom", "no")])
    assert run_release(generic(), make_manager(v), context).ok


def test_pending_validation_is_polled_until_it_passes(context, chart_dir):
    v = _validator(
        [ValidationResult.pending("custom", "starting")],
        [ValidationResult.pending("custom", "starting")],
        [ValidationResult.ok("custom", "up")],
    )
    result = run_release(generic(), make_manager(v), context)
    assert result.ok
    assert v.calls == 3
    assert next(r for r in result.validations if r.name == "custom").status is ValidationStatus.PASSED


def test_pending_validation_fails_at_timeout(context, helm, chart_dir):
    v = _validator([ValidationResult.pending("custom", "still starting")])
    result = run_release(generic(timeout="1s"), make_manager(v), context)
    assert not result.ok
    assert v.calls >= 2  # asked again before giving up
    custom = next(r for r in result.validations if r.name == "custom")
    assert custom.status is ValidationStatus.FAILED
    assert custom.message == "still pending after 1s: still starting"
    assert result.rolled_back  # atomic by default


def test_pods_pending_then_running(context, kubectl, chart_dir):
    kubectl.pod_script = [
        [pod("web-1", phase="Pending", ready=False)],
        [pod("web-1", ready=False)],
        [pod("web-1")],
    ]
    result = run_release(generic(), make_manager(), context)
    assert result.ok, result.error
    pods_running = next(r for r in result.validations if r.name == "pods_running")
    assert pods_running.message == "1 pods of release 'web' running"


def test_cancel_during_validation_marks_interrupted(context, chart_dir):
    class CancelWhilePending:
        firestream_plugin_name = "canceller"

        @hookimpl
        def validate(self, chart, context, payload):
            context.cancel.set()
            return [ValidationResult.pending("custom", "waiting")]

    result = run_release(generic(), make_manager(CancelWhilePending()), context)
    assert result.interrupted and not result.ok
    assert result.stage_failed == "validate"
    assert isinstance(result.exception, CancelledError)
    assert not result.rolled_back


def test_cancel_before_start(context, helm, chart_dir):
    context.cancel.set()
    result = run_release(generic(), make_manager(), context)
    assert result.interrupted and result.status == "interrupted"
    assert helm.calls == []


# -- retries ---------------------------------------------------------------------------------


def test_transient_exec_error_is_retried(context, helm, chart_dir, caplog):
    helm.fail("upgrade_install", ClusterUnreachableError("cluster unreachable"), HelmTimeoutError("timed out"))
    chart = generic(settings=ReleaseSettings(retries=2, retry_delay="0s"))
    result = run_release(chart, make_manager(), context)
    assert result.ok, result.error
    assert result.retries_used == 2
    assert helm.ops().count("upgrade_install") == 3
    assert any("retry 1 of 2" in m for m in caplog.messages)


def test_retries_exhausted_fail(context, helm, chart_dir):
    helm.fail("upgrade_install", *[ClusterUnreachableError("cluster unreachable")] * 3)
    chart = generic(settings=ReleaseSettings(retries=1, retry_delay="0s"))
    result = run_release(chart, make_manager(), context)
    assert not result.ok and result.stage_failed == "exec"
    assert result.retries_used == 1
    assert helm.ops().count("upgrade_install") == 2
    assert isinstance(result.exception.cause, ClusterUnreachableError)


@pytest.mark.parametrize(
    "error", [RenderError("template error"), ChartNotFoundError("no such chart version")]
)
def test_render_and_missing_chart_errors_are_not_retried(context, helm, chart_dir, error):
    helm.fail("upgrade_install", error)
    chart = generic(settings=ReleaseSettings(retries=3, retry_delay="0s"))
    result = run_release(chart, make_manager(), context)
    assert not result.ok
    assert result.retries_used == 0
    assert helm.ops().count("upgrade_install") == 1


def test_prerequisite_problems_are_not_retried(context, helm):
    rec = Recorder()
    chart = generic(values_files=["nope.yaml"], settings=ReleaseSettings(retries=3, retry_delay="0s"))
    result = run_release(chart, make_manager(rec), context)
    assert result.retries_used == 0
    assert rec.stages() == ["check_prerequisites"]


def test_retry_looks_at_the_release_again(make_context, helm, chart_dir):
    """After a failed attempt the release may be pending: the retry recovers it."""
    context = make_context(change="create")

    def upgrade_then_pending(*_a: Any, **_k: Any):
        helm.seed("web", "default", (1, "pending-install", "chart-0.1.0"))
        return ClusterUnreachableError("connection reset")

    helm.fail("upgrade_install", upgrade_then_pending())
    chart = generic(settings=ReleaseSettings(retries=1, retry_delay="0s"))
    result = run_release(chart, make_manager(), context)
    assert result.ok, result.error
    ops = helm.ops()
    assert ops[:4] == ["upgrade_install", "list_releases", "uninstall", "upgrade_install"]


def test_retry_delay_is_interrupted_by_cancel(context, helm, chart_dir):
    helm.fail("upgrade_install", ClusterUnreachableError("unreachable"))
    chart = generic(settings=ReleaseSettings(retries=1, retry_delay="1h"))
    timer = threading.Timer(0.05, context.cancel.set)
    timer.start()
    result = run_release(chart, make_manager(), context)
    timer.join()
    assert result.interrupted
    assert result.stage_failed == "exec"


def test_rollback_when_exec_did_not_report_a_revision(context, helm, chart_dir):
    """A revision of 0/None (helm's output lacked it) means "the newest", never "uninstall"."""
    helm.seed("web", "default", (1, "deployed", "chart-0.1.0"))
    context.installed = helm.list_releases()[0]

    class NoRevision:
        firestream_plugin_name = "no-revision"

        @hookimpl
        def exec(self, chart, context, payload):
            context.helm.upgrade_install(chart.chart_info, context.project_dir)
            return ExecOutcome("deployed", 0)

    v = _validator([ValidationResult.fail("custom", "no")])
    result = run_release(generic(), make_manager(NoRevision(), v), context)
    assert result.rollback == "release 'web' rolled back to revision 1"
    assert "uninstall" not in helm.ops()
    with pytest.raises(ValidationFailedError, match="rolled back to revision 1"):
        result.raise_for_status()


def test_unreachable_cluster_during_validation_does_not_roll_back(context, helm, kubectl, chart_dir):
    helm.seed("web", "default", (1, "deployed", "chart-0.1.0"))
    context.installed = helm.list_releases()[0]
    # the first validation reads the cluster through kubectl (helm's status came with the upgrade)
    kubectl.fail_get = ClusterUnreachableError("cluster unreachable")
    result = run_release(generic(), make_manager(), context)
    assert result.stage_failed == "validate"
    assert isinstance(result.exception.cause, ClusterUnreachableError)
    assert not result.rolled_back and "rollback" not in helm.ops()


def test_run_release_alone_refuses_a_release_whose_dependency_is_not_deployed(context, helm, chart_dir):
    """"Dependencies are satisfied" is check_prerequisites' promise: outside a plan (no
    scheduler to order the releases) a release whose depends_on is not installed is stopped
    before any change; once the dependency is installed, it runs."""
    result = run_release(generic("api", depends_on=["db"]), make_manager(), context)
    assert (result.ok, result.stage_failed) == (False, "check_prerequisites")
    assert "it depends on 'db', not deployed: deploy 'db' first" in result.error
    assert not any(call[0] == "upgrade_install" for call in helm.calls)
    assert run_release(generic("db"), make_manager(), context).ok
    assert run_release(generic("api", depends_on=["db"]), make_manager(), context).ok
