"""Log lines that name their release: ``release '<name>': <message>``.

While a release's lifecycle runs (``deploy/lifecycle.py`` wraps it in
:func:`naming_release`), every line the core logs for it starts with the
same prefix, the form the plugins already write by hand, so the lines of
releases running in parallel can be told apart::

    INFO release 'kafka': Running lifecycle
    INFO release 'kafka': Pre-exec: Adding strimzi Helm repository
    DEBUG release 'db': ran helm upgrade --install db ... -> exit 0 in 0.412s

The name goes into the message itself (not only into a formatter's field),
so any handler shows it: the CLI's, a library user's, pytest's ``caplog``.
The record also carries it as ``record.release`` for handlers that want it
apart. A message that already starts with the prefix (a plugin's
``"release '%s': ..."``) is left as it is: never named twice.

Two ways a line gets its name:

* :class:`ReleaseLogger` (a ``logging.Logger`` that hands its records to
  the logger it wraps): bound to a release (``context.log`` during a
  lifecycle) or, unbound, naming the release of the running lifecycle
  (the tools' module loggers: helm, kubectl, the process module);
* :class:`ReleaseFilter`, a handler filter (the CLI installs it) naming
  the records of any other ``firestream`` logger, such as a plugin's own
  module logger, emitted during a lifecycle.

The release is a context variable: each worker thread runs one lifecycle
at a time and :func:`naming_release` restores the previous value on exit.
Nothing is dropped by naming.

Redaction of any logger: while a plugin's code runs (a lifecycle, ``contribute_values``),
:func:`redacting` makes the run's redactor the context's, and every record made meanwhile on
that thread, by **any** logger (a plugin's own ``logging.getLogger(__name__)`` or
``logging.getLogger("my_plugin")``, not only ``context.log``), has its message and traceback
redacted when it is made (a log record factory, installed once): no handler of the program's,
nor Python's last-resort one, receives a value the run hides.

>>> import logging
>>> log = ReleaseLogger(logging.getLogger("firestream.example"), "db")
>>> record = log.makeRecord("firestream.example", logging.INFO, "f.py", 1, "waited %ds", (3,), None)
>>> record.getMessage(), record.release
("release 'db': waited 3s", 'db')
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")

_RELEASE: ContextVar[str | None] = ContextVar("firestream_release", default=None)
_REDACTOR: ContextVar[Any] = ContextVar("firestream_redactor", default=None)


# A library prints nothing (docs/library.md): with no handler of the program's, a warning or an
# error the core logs (a release failing) would reach Python's last-resort handler, stderr. The
# CLI adds its own handlers; a program adds its own, or sees nothing.
for _logger in ("firestream", "firestream_core"):
    logging.getLogger(_logger).addHandler(logging.NullHandler())


def release_prefix(name: str) -> str:
    """The prefix of every line of release ``name``.

    >>> release_prefix("kafka")
    "release 'kafka': "
    """
    return f"release '{name}': "


def current_release() -> str | None:
    """The release whose lifecycle runs on this thread, if any."""
    return _RELEASE.get()


class Beside(Generic[T]):
    """``fn()`` run at once on a thread of its own, in the caller's context: inside a
    lifecycle its log lines name the caller's release. The caller goes on meanwhile, then
    :meth:`wait` for it (its error, if any) or :meth:`result` (its value, or its error raised).

    >>> with naming_release("db"):
    ...     beside = Beside(current_release, name="example")
    >>> beside.result()
    'db'
    """

    def __init__(self, fn: Callable[[], T], *, name: str) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run, fn),
                                        name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], T]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by wait() / result()
            self._error = exc

    def wait(self) -> BaseException | None:
        """Wait for ``fn`` to end; what it raised, or None."""
        self._thread.join()
        return self._error

    def result(self) -> T:
        """Wait for ``fn`` to end; its value, or what it raised raised here."""
        if (error := self.wait()) is not None:
            raise error
        return cast(T, self._value)  # set: fn returned


@contextmanager
def naming_release(name: str) -> Iterator[None]:
    """Within the block, this thread's log lines name release ``name``.

    >>> with naming_release("db"):
    ...     current_release()
    'db'
    >>> current_release() is None
    True
    """
    token = _RELEASE.set(name)
    try:
        yield
    finally:
        _RELEASE.reset(token)


@contextmanager
def redacting(redactor: Any) -> Iterator[None]:
    """Within the block, every log record this thread makes, whatever its logger, is redacted
    with ``redactor`` (anything with ``redact(text)``) when it is made; None: nothing changes.

    >>> class Stars:
    ...     def redact(self, text):
    ...         return text.replace("hunter22", "***")
    >>> with redacting(Stars()):
    ...     record = logging.getLogger("my_plugin").makeRecord(
    ...         "my_plugin", logging.WARNING, "f.py", 1, "token %s", ("hunter22",), None)
    >>> record.getMessage()
    'token ***'
    """
    if redactor is None:
        yield
        return
    _install_record_factory()
    token = _REDACTOR.set(redactor)
    try:
        yield
    finally:
        _REDACTOR.reset(token)


def _install_record_factory() -> None:
    """Wrap the process's log record factory (once) so records made within :func:`redacting`
    are redacted; others are left exactly as the factory made them."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_firestream_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor = _REDACTOR.get()
        if redactor is not None:
            redact_record(record, redactor.redact)
        return record

    setattr(factory, "_firestream_redacting", True)  # noqa: B010
    logging.setLogRecordFactory(factory)


def name_record(record: logging.LogRecord, name: str | None) -> None:
    """Make ``record``'s message start with ``release '<name>':`` (once) and set ``record.release``.

    The message is formatted with its arguments first (as ``getMessage`` does),
    so ``"release '%s': ..."`` written by a plugin is seen as already named. A
    record whose message cannot be formatted is left for logging to report.
    """
    if not name or getattr(record, "release", None):
        return
    try:
        text = record.getMessage()
    except Exception:
        return
    prefix = release_prefix(name)
    if not text.startswith(prefix):
        record.msg = prefix + text
        record.args = None
    setattr(record, "release", name)  # noqa: B010 (a LogRecord attribute of our own)


def redact_record(record: logging.LogRecord, redact: Callable[[str], str]) -> None:
    """Pass ``record``'s message, and its traceback when it carries one, through ``redact``.

    The message is formatted with its arguments first; the traceback is formatted
    now into ``exc_text`` (which handlers' formatters print as it is). A record whose
    message cannot be formatted is left for logging to report.
    """
    try:
        text = record.getMessage()
    except Exception:
        return
    hidden = redact(text)
    if hidden != text:
        record.msg, record.args = hidden, None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class ReleaseLogger(logging.Logger):
    """A logger whose lines name a release; its records go to the wrapped logger.

    Bound (``release="db"``) it names that release; unbound, the release of
    the lifecycle running on the calling thread (none outside one). Levels,
    filters, handlers and propagation are the wrapped logger's: configuring
    ``firestream`` configures it.

    Given a ``redactor`` (anything with ``redact(text)``: the run's, for
    ``context.log``), each message and its traceback are passed through it
    when the record is made, so whatever handler the program has (a library
    user's, not only the CLI's redacting one) never receives a value it hides:

    >>> class Stars:
    ...     def redact(self, text):
    ...         return text.replace("hunter22", "***")
    >>> log = ReleaseLogger(logging.getLogger("firestream.example"), "db", redactor=Stars())
    >>> log.makeRecord("firestream.example", logging.INFO, "f.py", 1, "dsn %s", ("u:hunter22@h",), None).getMessage()
    "release 'db': dsn u:***@h"
    """

    logger: logging.Logger
    release: str | None

    def __init__(self, logger: logging.Logger, release: str | None = None, *, redactor: Any = None) -> None:
        base: logging.Logger = logger.logger if isinstance(logger, ReleaseLogger) else logger
        super().__init__(base.name)
        self.logger = base
        self.release = release
        self.redactor = redactor

    def isEnabledFor(self, level: int) -> bool:
        return self.logger.isEnabledFor(level)

    def getEffectiveLevel(self) -> int:
        return self.logger.getEffectiveLevel()

    def makeRecord(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = super().makeRecord(*args, **kwargs)
        name_record(record, self.release or current_release())
        if self.redactor is not None:
            redact_record(record, self.redactor.redact)
        return record

    def handle(self, record: logging.LogRecord) -> None:
        self.logger.handle(record)


def release_logger(name: str) -> ReleaseLogger:
    """A module's logger whose lines, during a lifecycle, name its release."""
    return ReleaseLogger(logging.getLogger(name))


class ReleaseFilter(logging.Filter):
    """A handler filter naming every record emitted during a lifecycle (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        name_record(record, current_release())
        return True
