"""``Redactor``: hides sensitive values in any text shown or logged.

A redactor is told the sensitive values of a run (``add`` for one secret,
``add_values`` for the sensitive leaves of a whole values mapping) and
replaces each occurrence of them with ``***``. It is used on helm's and
kubectl's stderr before an error is raised, and as a :class:`logging.Filter`
so nothing logged through a filtered logger or handler can carry a value::

    redactor = Redactor()
    redactor.add_values(merged_values, patterns=("config.dsn",))
    handler.addFilter(redactor)

*Which* values are sensitive is decided per value by
:mod:`firestream_core.tools.sensitivity` (leaf keys such as ``password``,
``secret_values``, generated passwords, ``sensitive_keys`` patterns, ...);
``namespace`` or ``auth.database`` are never registered, so they stay
readable everywhere.

*How* they are hidden:

* booleans, numbers and strings shorter than
  :data:`~firestream_core.tools.sensitivity.MIN_TEXT_LENGTH` are never
  registered: they cannot be told apart from ordinary text;
* each secret is also hidden in its base64 and JSON-escaped spellings, since
  helm and kubectl print Secrets' data base64-encoded and JSON escapes quotes;
* only whole tokens are replaced: a secret ``exec`` leaves ``executable`` and
  ``--kube-context`` alone (letters, digits, ``_`` and ``-`` next to a match
  make it part of a longer word or flag).

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

from firestream_core.tools.sensitivity import is_sensitive_key, sensitive_leaves, text_to_hide

__all__ = ["MASK", "Redactor", "looks_secret"]

MASK = "***"
"""What a hidden value is replaced with."""

_WORD = "A-Za-z0-9_-"
"""Characters that make a match part of a longer word or flag name."""


def looks_secret(key: object) -> bool:
    """True when a values key's own name says secret (``password``, ``apiKey``; not ``existingSecret``).

    The leaf-key rule of :func:`firestream_core.tools.sensitivity.is_sensitive_key`.
    """
    return is_sensitive_key(key)


def _token_pattern(secret: str) -> str:
    """``secret`` as a regex matching it as a whole token only."""
    out = re.escape(secret)
    if re.match(f"[{_WORD}]", secret[0]):
        out = f"(?<![{_WORD}])" + out
    if re.match(f"[{_WORD}]", secret[-1]):
        out += f"(?![{_WORD}])"
    return out


class Redactor(logging.Filter):
    """Replaces known sensitive values with ``***`` in text and in log records.

    :param secrets: initial values to hide.
    :param min_length: ignored (kept for callers of earlier versions); the
        shortest text matched is :data:`~firestream_core.tools.sensitivity.MIN_TEXT_LENGTH`.
    """

    def __init__(self, secrets: Iterable[str] = (), *, min_length: int = 4) -> None:
        super().__init__()
        self.min_length = min_length
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None  # built on demand, longest first
        self._dirty = False
        for s in secrets:
            self.add(s)

    # -- registering values ------------------------------------------------
    def add(self, secret: object) -> None:
        """Hide ``secret`` (and its base64 / JSON-escaped spellings) from now on.

        Booleans, numbers, None and strings too short to be told apart from
        ordinary text are ignored (see the module docstring).
        """
        text = text_to_hide(secret)
        if text is None:
            return
        forms = {text, base64.b64encode(text.encode()).decode()}
        escaped = json.dumps(text)[1:-1]
        if escaped != text:
            forms.add(escaped)
        with self._lock:
            before = len(self._secrets)
            self._secrets.update(f for f in forms if f)
            if len(self._secrets) != before:
                self._dirty = True

    def add_values(
        self,
        values: Mapping[str, Any] | list[Any] | None,
        *,
        secrets_only: bool = True,
        patterns: Iterable[str] = (),
    ) -> None:
        """Hide the sensitive leaves of a (nested) values mapping.

        A leaf is sensitive by its key (``password``, ``apiKey``, a leaf under
        ``credentials``; never ``auth.database`` or ``existingSecret``) or by
        one of ``patterns`` (the release's ``sensitive_keys``). Ordinary
        values are never hidden: an ordinary ``host: database`` would mask
        the release named ``database`` in every line. ``secrets_only`` is
        kept for earlier callers and has no effect.
        """
        del secrets_only
        for _path, value in sensitive_leaves(values, patterns):
            self.add(value)

    def update(self, other: Redactor) -> None:
        """Hide everything ``other`` hides too."""
        with other._lock:
            extra = set(other._secrets)
        with self._lock:
            if not extra <= self._secrets:
                self._secrets |= extra
                self._dirty = True

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
    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._dirty or (self._pattern is None and self._secrets):
                ordered = sorted(self._secrets, key=lambda s: (-len(s), s))
                self._pattern = re.compile("|".join(_token_pattern(s) for s in ordered))
                self._dirty = False
            return self._pattern if self._secrets else None

    def redact(self, text: str) -> str:
        """``text`` with every known value, as a whole token, replaced by ``***`` (longest first)."""
        if not text or not self._secrets:  # nothing to hide: no lock taken (a release redacts ~16 texts)
            return text
        pattern = self._compiled()
        return pattern.sub(MASK, text) if pattern is not None else text

    # -- logging.Filter ------------------------------------------------------
    def filter(self, record: logging.LogRecord) -> bool:
        """Redact a log record in place (message, args, traceback); never drops it."""
        if self._compiled() is None:
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
