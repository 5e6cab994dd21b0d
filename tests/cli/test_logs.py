"""Logging set-up: levels from flags and FIRESTREAM_LOG, the seed's format, redaction."""

from __future__ import annotations

import io
import logging
import threading

import pytest

from firestream_core.cli import logs
from firestream_core.tools.redact import Redactor


@pytest.fixture(autouse=True)
def _clean():
    logs.remove_redactors()
    yield
    logs.remove_redactors()


@pytest.mark.parametrize(
    ("verbose", "quiet", "env", "level"),
    [
        (0, False, "", logging.INFO),
        (1, False, "", logging.DEBUG),
        (0, True, "", logging.WARNING),
        (0, False, "debug", logging.DEBUG),
        (0, False, "ERROR", logging.ERROR),
        (0, False, "nonsense", logging.INFO),
        (0, True, "debug", logging.WARNING),  # flags win over the environment
    ],
)
def test_level(verbose: int, quiet: bool, env: str, level: int) -> None:
    assert logs.level_for(verbose, quiet, {"FIRESTREAM_LOG": env}) == level


def test_format_is_level_then_message_and_debug_hidden_by_default(monkeypatch) -> None:
    monkeypatch.delenv("FIRESTREAM_LOG", raising=False)
    out = io.StringIO()
    log = logs.setup_logging(stream=out)
    log.info("Running lifecycle for chart: %s", "prometheus-operator")
    log.debug("not shown")
    assert out.getvalue() == "INFO Running lifecycle for chart: prometheus-operator\n"


def test_redactor_hides_values_in_messages_arguments_and_errors() -> None:
    out = io.StringIO()
    log = logs.setup_logging(verbose=1, stream=out)
    logs.add_redactor(Redactor(["hunter2-secret"]))
    log.debug("password is %s", "hunter2-secret")
    try:
        raise ValueError("bad hunter2-secret")
    except ValueError:
        log.exception("failed")
    text = out.getvalue()
    assert "hunter2-secret" not in text
    assert text.startswith("DEBUG password is ***\nERROR failed\nTraceback")
    assert "ValueError: bad ***" in text
    assert logs.redact("x hunter2-secret y") == "x *** y"


def test_the_core_modules_warnings_go_through_the_same_handler_redacted(capsys) -> None:
    """A core module's logger (``firestream_core.deploy.scheduler``) reaches the CLI's handler,
    formatted and redacted, from warnings up; before, its warnings reached stderr only through
    Python's last-resort handler (unredacted), and its library NullHandler silenced them."""
    out = io.StringIO()
    logs.setup_logging(verbose=2, stream=out)
    logs.add_redactor(Redactor(["hunter2-secret"]))
    core = logging.getLogger("firestream_core.deploy.scheduler")
    core.warning("interrupted: starting nothing new (%s)", "hunter2-secret")
    core.info("only for a library's own handlers")
    assert out.getvalue() == "WARNING interrupted: starting nothing new (***)\n"
    assert capsys.readouterr().err == ""


def test_redactor_added_before_setup_applies_to_the_new_handler() -> None:
    logs.add_redactor(Redactor(["early-secret-value"]))
    out = io.StringIO()
    logs.setup_logging(stream=out).warning("early-secret-value leaked?")
    assert out.getvalue() == "WARNING *** leaked?\n"


def test_default_handler_follows_the_current_stderr(monkeypatch) -> None:
    import io
    import logging
    import sys

    from firestream_core.cli.logs import setup_logging

    setup_logging()
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    logging.getLogger("firestream").info("Deploying Helm chart: web")
    assert swapped.getvalue() == "INFO Deploying Helm chart: web\n"


def test_default_handler_stream_can_be_routed_and_put_back(monkeypatch) -> None:
    """The live display routes log lines above itself by setting the handler's stream."""
    import sys

    logger = logs.setup_logging()
    handler = logger.handlers[-1]
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    routed = io.StringIO()
    handler.stream = routed  # type: ignore[attr-defined]
    logger.info("above the display")
    handler.stream = sys.stderr  # type: ignore[attr-defined]
    logger.info("back on stderr")
    assert routed.getvalue() == "INFO above the display\n"
    assert swapped.getvalue() == "INFO back on stderr\n"


@pytest.mark.parametrize(
    ("env", "level"),
    [
        ({"RUST_LOG": "debug"}, logging.DEBUG),
        ({"RUST_LOG": "warn,firestream=debug"}, logging.DEBUG),
        ({"RUST_LOG": "error"}, logging.ERROR),
        ({"RUST_LOG": "other_crate=debug"}, logging.INFO),
        ({"RUST_LOG": "debug", "FIRESTREAM_LOG": "error"}, logging.ERROR),
    ],
)
def test_rust_log_is_honoured(env: dict[str, str], level: int) -> None:
    assert logs.level_for(environ=env) == level


def test_a_commands_redactors_go_with_it_and_no_others() -> None:
    """One ``main()`` call's project secrets stop being masked when it returns; a redactor
    registered by another command running meanwhile (another thread) stays."""
    out = io.StringIO()
    log = logs.setup_logging(stream=out)
    other, mine = Redactor(["other-secret-1"]), Redactor(["mine-secret-22"])
    logs.add_redactor(other)
    later = Redactor(["later-secret-333"])  # added by another thread's command while this one runs
    with logs.redactors_of_the_block():
        logs.add_redactor(mine)
        log.info("in: other-secret-1 mine-secret-22")
        thread = threading.Thread(target=logs.add_redactor, args=(later,))
        thread.start()
        thread.join()
    log.info("after: other-secret-1 mine-secret-22")
    assert out.getvalue() == "INFO in: *** ***\nINFO after: *** mine-secret-22\n"
    assert logs.redact("mine-secret-22 other-secret-1 later-secret-333") == "mine-secret-22 *** ***"
