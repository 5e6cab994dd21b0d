"""Logging set-up for the ``firestream`` command: ``INFO message`` lines on stderr.

The level comes from the flags (``-v`` debug, ``-q`` warnings only) or from
``FIRESTREAM_LOG`` (``debug``, ``info``, ``warning``, ``error``), else
``RUST_LOG`` (``debug``, ``firestream=debug``: the seed's spelling); INFO by
default. Output goes to stderr so stdout stays clean for ``--json``.

Redaction: :func:`add_redactor` attaches a redactor (anything with
``redact(text) -> str``, such as ``firestream_core.tools.redact.Redactor``) to the
handler as a ``logging.Filter``, so every record is redacted before it is
formatted; :func:`redact` applies the same redactors to any text the CLI
prints (error messages).

Release names: every line logged while a release's lifecycle runs starts with
``release '<name>': `` (``firestream_core/tools/release_log.py``). The core's
loggers write it into the message; the handler's :class:`ReleaseFilter` adds
it to the lines of any other ``firestream`` logger (a plugin's own module
logger) logged during a lifecycle, so the lines of parallel releases are told apart.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO

from firestream_core.tools.release_log import ReleaseFilter

LOGGER_NAME = "firestream"
CORE_LOGGER_NAME = "firestream_core"
"""The core modules' own loggers (``logging.getLogger(__name__)``): the CLI shows their warnings."""
LOG_ENV = "FIRESTREAM_LOG"
RUST_LOG_ENV = "RUST_LOG"
FORMAT = "%(levelname)s %(message)s"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "trace": logging.DEBUG,
}


class SupportsRedact(Protocol):
    def redact(self, text: str) -> str: ...


class RedactingFilter(logging.Filter):
    """A ``logging.Filter`` rewriting each record's message through a redactor.

    The message is formatted with its arguments first, so a value passed as
    ``log.info("x=%s", secret)`` is redacted too.
    """

    def __init__(self, redactor: SupportsRedact) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it
            return True
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record.

    Binding the stream once would keep writing to a replaced (and perhaps
    closed) stderr, as happens when a program or a test swaps it. Setting
    ``stream`` to another stream routes the records there until it is set
    back to ``sys.stderr`` (the live progress display does this to print log
    lines above itself).
    """

    _override: TextIO | None = None

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return self._override if self._override is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._override = None if value is None or value is sys.stderr else value


_handler: logging.Handler | None = None
_redactors: list[SupportsRedact] = []
_leveled: set[str] = set()  # the plugin loggers show_plugin_loggers gave firestream's level
_block = threading.local()  # .added: what this thread's redactors_of_the_block added so far


def level_for(verbose: int = 0, quiet: bool = False, environ: Any = None) -> int:
    """The log level for these flags: ``-q`` > ``-v`` > ``FIRESTREAM_LOG`` > INFO."""
    if quiet:
        return logging.WARNING
    if verbose:
        return logging.DEBUG
    environ = os.environ if environ is None else environ
    env = environ.get(LOG_ENV, "").strip().lower()
    if not env:
        env = _rust_log_level(environ.get(RUST_LOG_ENV, ""))
    return _LEVELS.get(env, logging.INFO)


def _rust_log_level(text: str) -> str:
    """The level ``RUST_LOG`` (the seed's spelling) gives firestream: ``debug``,
    ``firestream=debug`` or ``warn,firestream=trace`` (a ``firestream=`` directive wins)."""
    level = ""
    for directive in text.strip().lower().split(","):
        key, eq, value = directive.strip().partition("=")
        if not eq and key in _LEVELS or key == "trace":
            level = level or key
        elif eq and key.startswith("firestream"):
            return value.strip()
    return level


def setup_logging(
    verbose: int = 0, quiet: bool = False, stream: TextIO | None = None
) -> logging.Logger:
    """Configure the ``firestream`` logger once (calling again updates level and stream).

    The core's module loggers (``firestream_core.deploy.scheduler``...) write through the
    same handler, so their lines are formatted and redacted like the rest, from warnings up
    (or the ``firestream`` logger's level, when higher): they say what went wrong (``interrupted: starting nothing new``), their
    debug lines are for a library's own handlers. So do other loggers, through the root logger, at
    its level (warnings, unless the program set another); a plugin's own loggers at firestream's
    level, once its project is loaded (:func:`show_plugin_loggers`).
    """
    global _handler
    logger = logging.getLogger(LOGGER_NAME)
    core = logging.getLogger(CORE_LOGGER_NAME)
    root = logging.getLogger()
    if _handler is not None:
        logger.removeHandler(_handler)
        core.removeHandler(_handler)
        root.removeHandler(_handler)
    _handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    _handler.setFormatter(logging.Formatter(FORMAT))
    _handler.addFilter(ReleaseFilter())  # a line logged during a lifecycle names its release
    for r in _redactors:
        _handler.addFilter(RedactingFilter(r))
    logger.addHandler(_handler)
    logger.setLevel(level_for(verbose, quiet))
    logger.propagate = False
    core.addHandler(_handler)
    core.setLevel(max(logging.WARNING, logger.level))
    core.propagate = False
    # a plugin's own loggers (``logging.getLogger(__name__)``) reach the root: their warnings are
    # printed like firestream's, leveled, naming the release, redacted, not by Python's bare
    # last-resort handler
    root.addHandler(_handler)
    return logger


def show_plugin_loggers(packages: Iterable[str]) -> None:
    """Print the records of the plugins' own loggers (those of ``packages``: ``logging.getLogger(
    __name__)`` in their modules) from firestream's level on, as firestream's lines: their info
    lines by default, their debug lines with ``-v``, warnings only with ``-q``.

    A logger the program gave a level of its own keeps it. The records reach the handler
    through the root logger (:func:`setup_logging`), formatted, named and redacted as the rest.
    """
    level = logging.getLogger(LOGGER_NAME).level
    for name in packages:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or name in _leveled:
            logger.setLevel(level)
            _leveled.add(name)


def add_redactor(redactor: SupportsRedact) -> None:
    """Redact every later log record and every error the CLI prints with ``redactor``."""
    if any(r is redactor for r in _redactors):
        return
    _redactors.append(redactor)
    block = getattr(_block, "added", None)
    if block is not None:  # this thread's command (redactors_of_the_block) removes it when it ends
        block.append(redactor)
    if _handler is not None:
        _handler.addFilter(RedactingFilter(redactor))


def remove_redactor(redactor: SupportsRedact) -> None:
    """Stop redacting with ``redactor`` (log records and the CLI's errors)."""
    _redactors[:] = [r for r in _redactors if r is not redactor]
    if _handler is not None:
        for f in list(_handler.filters):
            if isinstance(f, RedactingFilter) and f.redactor is redactor:
                _handler.removeFilter(f)


@contextmanager
def redactors_of_the_block() -> Iterator[None]:
    """The redactors added within the block (one command's project) are removed when it ends.

    The list is process-global: a program calling ``main()`` for one project, then another,
    would otherwise keep masking the first project's secrets in the second's output and keep
    every project alive. Only the block's own go: another command running meanwhile in
    another thread keeps its own.
    """
    added: list[SupportsRedact] = []
    outer = getattr(_block, "added", None)
    _block.added = added
    try:
        yield
    finally:
        _block.added = outer
        for r in added:
            remove_redactor(r)


def remove_redactors() -> None:
    """Forget every redactor (tests)."""
    _redactors.clear()
    if _handler is not None:
        for f in list(_handler.filters):
            if isinstance(f, RedactingFilter):
                _handler.removeFilter(f)


def redact(text: str) -> str:
    """``text`` passed through every registered redactor."""
    for r in _redactors:
        text = r.redact(text)
    return text
