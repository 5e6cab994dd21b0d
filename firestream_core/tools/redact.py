"""``Redactor``: hides configured values in any text shown or logged.

A redactor is told the values of a run (``add`` for one secret,
``add_values`` for a whole values mapping) and replaces each occurrence of
them with ``***``. It is used on helm's and kubectl's stderr before an error
is raised, and as a :class:`logging.Filter` so nothing logged through a
filtered logger or handler can carry a value::

    redactor = Redactor()
    redactor.add_values(merged_values)
    handler.addFilter(redactor)

Which values are hidden:

* every string leaf of length >= ``min_length`` (4) - short strings such as
  ``"on"`` or ``"1"`` would make every text unreadable and are rarely secret;
* every string or number under a key that looks secret (``password``,
  ``secret``, ``token``, ``key``, ``credential``, ``auth``, in any case and
  as part of a longer key such as ``postgresPassword`` or ``apiKey``, at any
  depth below it), whatever its length; booleans never (hiding ``true``
  would mask every ``true`` in a text);
* for each secret, its base64 and JSON-escaped spellings too, since helm and
  kubectl print Secrets' data base64-encoded and JSON escapes quotes.

Replacement is longest-first, so a secret containing another is hidden whole.
All methods are thread-safe.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "SECRET_KEY_PATTERN", "Redactor", "looks_secret"]

MASK = "***"
"""What a hidden value is replaced with."""

SECRET_KEY_PATTERN = re.compile(r"pass(word|wd)?|secret|token|key|credential|auth", re.IGNORECASE)
"""A values key matching this (anywhere in the key) holds a secret."""


def looks_secret(key: object) -> bool:
    """True when a values key names a secret (``password``, ``apiKey``, ``authToken``, ...)."""
    return isinstance(key, str) and bool(SECRET_KEY_PATTERN.search(key))


def _scalar_text(value: Any) -> str | None:
    """The text helm would show for a scalar leaf, or None for containers / null."""
    if value is None or isinstance(value, (Mapping, list, tuple)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Redactor(logging.Filter):
    """Replaces known values with ``***`` in text and in log records.

    :param secrets: initial values to hide.
    :param min_length: shortest plain string leaf ``add_values`` hides; values
        under a secret-looking key are hidden at any length >= 1.
    """

    def __init__(self, secrets: Iterable[str] = (), *, min_length: int = 4) -> None:
        super().__init__()
        self.min_length = min_length
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._ordered: list[str] | None = None  # longest first, built on demand
        for s in secrets:
            self.add(s)

    # -- registering values ------------------------------------------------
    def add(self, secret: object) -> None:
        """Hide ``secret`` (and its base64 / JSON-escaped spellings) from now on.

        Empty strings and None are ignored.
        """
        text = _scalar_text(secret)
        if not text:
            return
        forms = {text}
        forms.add(base64.b64encode(text.encode()).decode())
        escaped = json.dumps(text)[1:-1]
        if escaped != text:
            forms.add(escaped)
        with self._lock:
            before = len(self._secrets)
            self._secrets.update(f for f in forms if f)
            if len(self._secrets) != before:
                self._ordered = None

    def add_values(
        self, values: Mapping[str, Any] | list[Any] | None, *, secrets_only: bool = False
    ) -> None:
        """Hide the values of a (nested) values mapping.

        Every string leaf of length >= ``min_length`` and every scalar found
        under a secret-looking key (at any depth below it) is added; with
        ``secrets_only`` just the latter. A redactor that lives for a whole
        run (and filters its log) takes ``secrets_only``: an ordinary value
        such as ``host: database`` would otherwise mask the release named
        ``database`` in every later line. Per-call redactors, which clean
        helm's own stderr, take every value.
        """
        for text, secret in self._leaves(values, under_secret=False):
            if secret or (not secrets_only and len(text) >= self.min_length):
                if secret:
                    self.add(text)
                else:
                    self._add_plain(text)

    def _add_plain(self, text: str) -> None:
        with self._lock:
            if text not in self._secrets:
                self._secrets.add(text)
                self._ordered = None

    def _leaves(self, node: Any, *, under_secret: bool) -> Iterable[tuple[str, bool]]:
        if isinstance(node, Mapping):
            for k, v in node.items():
                yield from self._leaves(v, under_secret=under_secret or looks_secret(k))
        elif isinstance(node, (list, tuple)):
            for v in node:
                yield from self._leaves(v, under_secret=under_secret)
        else:
            text = _scalar_text(node)
            if text is None or isinstance(node, bool):
                return  # true/false hide nothing and would mask every "true"
            if under_secret:
                yield text, True
            elif isinstance(node, str):
                yield text, False

    def update(self, other: Redactor) -> None:
        """Hide everything ``other`` hides too."""
        with other._lock:
            extra = set(other._secrets)
        with self._lock:
            self._secrets |= extra
            self._ordered = None

    def copy(self) -> Redactor:
        """A new redactor hiding the same values; adding to it leaves this one alone."""
        new = Redactor(min_length=self.min_length)
        new.update(self)
        return new

    def __len__(self) -> int:
        with self._lock:
            return len(self._secrets)

    def __contains__(self, text: object) -> bool:
        with self._lock:
            return text in self._secrets

    # -- hiding -------------------------------------------------------------
    def _longest_first(self) -> list[str]:
        with self._lock:
            if self._ordered is None:
                self._ordered = sorted(self._secrets, key=lambda s: (-len(s), s))
            return self._ordered

    def redact(self, text: str) -> str:
        """``text`` with every known value replaced by ``***`` (longest first)."""
        if not text:
            return text
        # A loop of str.replace: no regex to recompile each time a value is
        # added, and a C-speed scan per value.
        for secret in self._longest_first():
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def redact_bytes(self, data: bytes) -> str:
        """Decode ``data`` (UTF-8, invalid bytes replaced) and redact it."""
        return self.redact(data.decode("utf-8", errors="replace"))

    # -- logging.Filter ------------------------------------------------------
    def filter(self, record: logging.LogRecord) -> bool:
        """Redact a log record in place (message, args, traceback); never drops it."""
        if not self._longest_first():
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what we have, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True
