"""No configured value reaches a log line, an error message or the debug lines."""

from __future__ import annotations

import logging

from firestream_core import hookimpl
from firestream_core.deploy.lifecycle import run_release
from firestream_core.errors import RenderError
from firestream_core.model import ChartSetValue, ValidationResult

from .conftest import generic, make_manager
from .fakes import pod

SECRET = "hunter2-Sup3rSecret"


def _everything_logged(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def test_secret_in_helm_error_is_hidden(context, redactor, helm, kubectl, chart_dir, caplog):
    caplog.set_level(logging.DEBUG)
    redactor.add(SECRET)
    kubectl.pods["web"] = [pod("web-1", ready=False, waiting="CrashLoopBackOff")]
    kubectl.logs_["web-1"] = f"connecting with password={SECRET}\nfailed\n"
    kubectl.events_ = [
        {"type": "Warning", "reason": "Failed", "message": f"env DB_PASSWORD={SECRET}",
         "involvedObject": {"kind": "Pod", "name": "web-1"}}
    ]
    helm.fail("upgrade_install", RenderError(f"values: auth.password={SECRET} is invalid"))
    chart = generic(values=[ChartSetValue("auth.password", SECRET)])
    result = run_release(chart, make_manager(), context)
    assert result.stage_failed == "exec"
    assert "auth.password=***" in result.error
    assert SECRET not in result.error
    assert SECRET not in str(result.exception)
    assert result.debug and all(SECRET not in line for line in result.debug)
    assert any("password=***" in line for line in result.debug)
    assert SECRET not in _everything_logged(caplog)


def test_secret_in_plugin_exception_and_validation_is_hidden(context, redactor, chart_dir, caplog):
    caplog.set_level(logging.DEBUG)
    redactor.add(SECRET)

    class Leaky:
        firestream_plugin_name = "leaky"

        @hookimpl
        def validate(self, chart, context, payload):
            return [ValidationResult.fail("login", f"could not log in as admin:{SECRET}")]

        @hookimpl
        def on_deploy_failure(self, chart, context, payload, stage, error):
            return [f"token was {SECRET}"]

    result = run_release(generic(), make_manager(Leaky()), context)
    assert "admin:***" in result.error
    assert SECRET not in result.error
    assert "token was ***" in result.debug
    assert all(SECRET not in v.message for v in result.validations)
    assert SECRET not in _everything_logged(caplog)


def test_secret_in_unexpected_exception_traceback_is_hidden(context, redactor, chart_dir, caplog):
    caplog.set_level(logging.DEBUG)
    redactor.add(SECRET)

    class Crashes:
        firestream_plugin_name = "crashes"

        @hookimpl
        def post_exec(self, chart, context, payload):
            raise KeyError(SECRET)

    result = run_release(generic(), make_manager(Crashes()), context)
    assert result.error == "release 'web' failed at post_exec: plugin 'crashes': KeyError: '***'"
    logged = _everything_logged(caplog)
    assert "Traceback" in logged
    assert SECRET not in logged
