"""Log lines that name their release (firestream_core/tools/release_log.py)."""

from __future__ import annotations

import io
import logging
import threading

import pytest

from firestream_core.cli import logs
from firestream_core.tools.redact import Redactor
from firestream_core.tools.release_log import (
    Beside,
    ReleaseFilter,
    ReleaseLogger,
    current_release,
    naming_release,
    release_logger,
    release_prefix,
)


def test_a_bound_logger_names_its_release_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="firestream")
    log = ReleaseLogger(logging.getLogger("firestream"), "db")
    log.info("Running lifecycle")
    log.info("release '%s': generated %s in Secret '%s'", "db", "the password", "db-auth")
    log.info("release 'db': already named by hand")
    log.debug("waited %ds for %s", 3, "release 'cache'")  # another name inside: still prefixed
    assert caplog.messages == [
        "release 'db': Running lifecycle",
        "release 'db': generated the password in Secret 'db-auth'",
        "release 'db': already named by hand",
        "release 'db': waited 3s for release 'cache'",
    ]
    assert {getattr(r, "release", None) for r in caplog.records} == {"db"}
    assert {r.name for r in caplog.records} == {"firestream"}  # the wrapped logger's name


def test_wrapping_twice_binds_the_new_release(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="firestream")
    first = ReleaseLogger(logging.getLogger("firestream"), "a")
    second = ReleaseLogger(first, "b")
    assert second.logger is logging.getLogger("firestream")
    second.info("x")
    assert caplog.messages == ["release 'b': x"]


def test_levels_are_the_wrapped_loggers(caplog: pytest.LogCaptureFixture) -> None:
    log = release_logger("firestream.example")
    caplog.set_level(logging.INFO, logger="firestream")
    assert not log.isEnabledFor(logging.DEBUG)
    with naming_release("db"):
        log.debug("hidden")
    caplog.set_level(logging.DEBUG, logger="firestream")  # changed after the logger was made
    assert log.isEnabledFor(logging.DEBUG)
    with naming_release("db"):
        log.debug("shown %d", 1)
    log.debug("outside a lifecycle")
    assert caplog.messages == ["release 'db': shown 1", "outside a lifecycle"]


def test_the_running_release_is_per_thread_and_restored() -> None:
    seen: dict[str, str | None] = {}

    def other() -> None:
        seen["other"] = current_release()

    with naming_release("a"):
        with naming_release("b"):
            assert current_release() == "b"
        assert current_release() == "a"
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert current_release() is None
    assert seen == {"other": None}  # a thread of its own runs its own release, not its starter's


def test_the_cli_handler_names_other_loggers_lines_and_still_redacts() -> None:
    out = io.StringIO()
    logs.setup_logging(verbose=1, stream=out)
    logs.add_redactor(Redactor(["hunter2-secret"]))
    plugin_log = logging.getLogger("firestream.some_plugin")  # a plugin's own module logger
    with naming_release("kafka"):
        plugin_log.info("password is %s", "hunter2-secret")
        plugin_log.debug("release 'kafka': named by hand")
    plugin_log.info("after the lifecycle")
    lines = out.getvalue().splitlines()
    assert lines == [
        "INFO release 'kafka': password is ***",
        "DEBUG release 'kafka': named by hand",
        "INFO after the lifecycle",
    ], lines


def test_the_filter_never_drops_a_record() -> None:
    record = logging.LogRecord("firestream", logging.INFO, "f.py", 1, "bad %d", ("x",), None)
    with naming_release("db"):
        assert ReleaseFilter().filter(record)  # unformattable: left for logging to report
    assert record.msg == "bad %d"
    assert release_prefix("db") == "release 'db': "


def test_beside_runs_on_its_own_thread_naming_the_callers_release_and_hands_back_value_or_error() -> None:
    seen: list[tuple[str | None, str]] = []

    def work() -> int:
        seen.append((current_release(), threading.current_thread().name))
        return 7

    with naming_release("db"):
        beside = Beside(work, name="side")
    assert beside.result() == 7
    assert seen == [("db", "side")]

    def broken() -> int:
        raise ValueError("list failed")

    failing = Beside(broken, name="side")
    error = failing.wait()
    assert isinstance(error, ValueError) and str(error) == "list failed"
    with pytest.raises(ValueError, match="list failed"):
        failing.result()
