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
* each secret is also hidden in its base64, JSON-escaped, percent-encoded and
  YAML single-quoted spellings, since helm and kubectl print Secrets' data
  base64-encoded, JSON escapes quotes, a connection string holds a password
  percent-encoded (``p%40ss``) and a YAML dump doubles a ``'``;
* only whole tokens are replaced: a secret ``exec`` leaves ``executable`` and
  ``--kube-context`` alone (letters, digits, ``_`` and ``-`` next to a match
  make it part of a longer word or flag).

Replacement is longest-first, so a secret containing another is hidden whole.

Names stay readable (:meth:`Redactor.keep_readable`): a secret equal to one of
the project's identifiers (a release name, a namespace, a chart type,
firestream's own words; :func:`~firestream_core.tools.sensitivity.identifiers`)
is still registered (``secret in redactor`` is true, so it never reaches a
child's environment) but is never replaced in text: in a log line or a table it
cannot be told apart from the name, which is printed everywhere anyway, and
masking it would mask the name. ``firestream validate`` and every command that
loads the project warn about such a secret.
All methods are thread-safe.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from firestream_core.tools.sensitivity import (
    is_sensitive_key,
    secret_url,
    sensitive_leaves,
    text_to_hide,
)

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


_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_NOT_BEFORE = f"(?<![{_WORD}])"
_NOT_AFTER = f"(?![{_WORD}])"


def _token_pattern(secret: str) -> str:
    """``secret`` as a regex matching it as a whole token only."""
    out = re.escape(secret)
    if secret[0] in _WORD_CHARS:
        out = _NOT_BEFORE + out
    if secret[-1] in _WORD_CHARS:
        out += _NOT_AFTER
    return out


def _alternation(secrets: Iterable[str]) -> str:
    """The secrets as one flat alternation, longest first: the definition :func:`_tree_pattern` follows.

    Its cost per text grows with the number of secrets (every alternative is tried
    at every position); it is used only where the tree cannot be compiled.
    """
    return "|".join(_token_pattern(s) for s in sorted(secrets, key=lambda s: (-len(s), s)))


def _tree_pattern(secrets: Iterable[str]) -> str:
    """The secrets as one regex over their prefix tree, matching as :func:`_alternation` does.

    At each position of a text, the regex engine follows the one branch the
    text's characters select, so a text costs the same whether 10 or 3,000
    values are hidden (the flat alternation tries every value at every position:
    4.6 ms for one log line with 1,000 passwords, against 2 us here).

    Same matches as the alternation: a branch tries its longer continuations before
    ending, so the longest value matching at a position wins; a value starting
    with a word character must not follow one (checked right after that first
    character, so the engine can skip on it), and one ending with a word
    character must not be followed by one.

    >>> import re
    >>> rx = re.compile(_tree_pattern(["abcd", "abcd-efgh", "abxy"]))
    >>> rx.sub("***", "abcd-efgh abcd-e abcd xabcd abxy.")
    '*** abcd-e *** xabcd ***.'
    """
    # a radix tree: node = {first character of an edge: [edge label, child]}; "" ends a value
    root: dict[str, Any] = {}
    for secret in secrets:
        node, i = root, 0
        while True:
            if i == len(secret):
                node[""] = None
                break
            edge = node.get(secret[i])
            if edge is None:
                node[secret[i]] = [secret[i:], {"": None}]
                break
            label, child = edge
            j, n = 1, min(len(label), len(secret) - i)
            while j < n and label[j] == secret[i + j]:
                j += 1
            if j < len(label):  # the value leaves this edge part-way: split it
                child = {label[j]: [label[j:], child]}
                edge[0], edge[1] = label[:j], child
            node, i = child, i + j
    # written out without recursion: a value of thousands of characters is a deep path
    out: list[str] = []
    stack: list[tuple[dict[str, Any], str, bool] | str] = [(root, "", True)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node, last, at_root = item
        branches: list[list[tuple[dict[str, Any], str, bool] | str]] = []
        for key in sorted(k for k in node if k):
            label, child = node[key]
            first = re.escape(label[0])
            head = first + (f"(?<![{_WORD}]{first})" if at_root and label[0] in _WORD_CHARS else "")
            branches.append([head + re.escape(label[1:]), (child, label[-1], False)])
        if "" in node:  # a value ends here: tried after every longer one
            branches.append([_NOT_AFTER if last in _WORD_CHARS else ""])
        if len(branches) == 1:
            seq = branches[0]
        else:
            seq = ["(?:"]
            for n, branch in enumerate(branches):
                seq.extend((["|"] if n else []) + branch)
            seq.append(")")
        stack.extend(reversed(seq))
    return "".join(out)


def _compile(secrets: Iterable[str]) -> re.Pattern[str]:
    """The one regex hiding ``secrets``: their prefix tree, or the flat alternation if
    the tree nests deeper than the regex parser recurses (hundreds of values each a
    prefix of the next)."""
    secrets = list(secrets)
    try:
        return re.compile(_tree_pattern(secrets))
    except RecursionError:
        return re.compile(_alternation(secrets))


def _sub_all(patterns: Sequence[re.Pattern[str]], text: str) -> str:
    """``text`` with the matches of all ``patterns`` masked, as one pattern of all their secrets would.

    From the left: the earliest match of any pattern, the longest of those starting
    there, then on from its end (each pattern's lookarounds see the original text,
    as ``re.sub``'s do).
    """
    out: list[str] = []
    pos = 0
    found = [p.search(text) for p in patterns]
    while True:
        best: re.Match[str] | None = None
        for i, m in enumerate(found):
            if m is not None and m.start() < pos:  # overlapped by the last mask: look again
                m = found[i] = patterns[i].search(text, pos)
            if m is not None and (best is None or m.start() < best.start()
                                  or (m.start() == best.start() and m.end() > best.end())):
                best = m
        if best is None:
            break
        out += (text[pos:best.start()], MASK)
        pos = best.end()
    out.append(text[pos:])
    return "".join(out)


_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _percent_encoded(text: str) -> str:
    """``text`` as a URL holds it (RFC 3986: every byte but the unreserved characters as
    ``%XX``): a password in a connection string (``postgres://app:p%40ss@db/app``).
    Written out here: ``urllib.parse`` is not imported for it (start-up)."""
    return "".join(c if c in _URL_SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def _spellings(text: str) -> set[str]:
    """How a secret may show in text: as written, base64-encoded, JSON-escaped, percent-encoded
    (in a URL), and inside a single-quoted YAML string (``'`` doubled, as PyYAML and helm's
    ``quote``-less templates write it)."""
    forms = {text, base64.b64encode(text.encode()).decode(), _percent_encoded(text), text.replace("'", "''")}
    escaped = json.dumps(text)[1:-1]
    if escaped != text:
        forms.add(escaped)
    return {f for f in forms if f}


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
        self._secrets: set[str] = set()  # every spelling registered (what ``in`` answers)
        self._masked: set[str] = set()  # those replaced in text: all but the readable names' spellings
        self._readable: frozenset[str] = frozenset()  # names a secret may equal and still be shown
        # compiled on demand: _levels cover every masked secret not in _pending (see _compiled)
        self._levels: list[tuple[frozenset[str], re.Pattern[str]]] = []
        self._patterns: tuple[re.Pattern[str], ...] = ()  # the levels' patterns, read without the lock
        self._pending: set[str] = set()
        for s in secrets:
            self.add(s)

    # -- registering values ------------------------------------------------
    def add(self, secret: object) -> None:
        """Hide ``secret`` (and its base64 / JSON-escaped spellings) from now on.

        Booleans, numbers and None are ignored; a string too short to be told
        apart from ordinary text is never replaced in text (see the module
        docstring) but is registered (``in`` is true: no child's environment
        gets a variable holding it).
        """
        text = text_to_hide(secret)
        if text is None:
            if isinstance(secret, str) and secret:
                # too short to be matched as text, but still a secret: ``in`` answers true, so
                # a variable holding it never reaches a child's environment (docs/secrets.md)
                with self._lock:
                    self._secrets.add(secret)
            return
        forms = _spellings(text)
        with self._lock:
            new = forms - self._secrets
            self._secrets |= new
            if text not in self._readable:
                self._masked |= new
                self._pending |= new

    def keep_readable(self, names: Iterable[str]) -> None:
        """Never replace ``names`` in text, even when a secret equals one (see the module docstring).

        A secret equal to a name stays registered (``in`` is true) but none of
        its spellings is masked any more; later :meth:`add` calls follow the
        same rule, and copies keep it.
        """
        with self._lock:
            self._readable |= frozenset(n for n in names if n)
            shown = {f for n in self._readable & self._secrets for f in _spellings(n)}
            if not shown & self._masked:
                return
            self._masked -= shown
            self._pending = set(self._masked)  # first: a text redacted meanwhile recompiles
            self._levels, self._patterns = [], ()

    def readable_secrets(self) -> frozenset[str]:
        """The registered secrets left readable because each equals a name (:meth:`keep_readable`)."""
        with self._lock:
            return frozenset(self._readable & self._secrets)

    def add_values(
        self,
        values: Mapping[str, Any] | list[Any] | None,
        *,
        secrets_only: bool = True,
        patterns: Iterable[str] = (),
    ) -> None:
        """Hide the sensitive leaves of a (nested) values mapping.

        A leaf is sensitive by its key (``password``, ``apiKey``, a leaf under
        ``credentials``; never ``auth.database`` or ``existingSecret``), by
        one of ``patterns`` (the release's ``sensitive_keys``), or as a URL
        carrying a password (whose password alone is hidden too). Ordinary
        values are never hidden: an ordinary ``host: database`` would mask
        the release named ``database`` in every line. ``secrets_only`` is
        kept for earlier callers and has no effect.
        """
        del secrets_only
        for _path, value in sensitive_leaves(values, patterns):
            self.add(value)
            if secret_url(value):  # the password alone too, wherever the chart puts it
                from urllib.parse import unquote, urlsplit

                self.add(unquote(urlsplit(value).password or ""))

    def update(self, other: Redactor) -> None:
        """Hide everything ``other`` hides too (and keep the names it keeps readable)."""
        with other._lock:
            extra, masked, readable = set(other._secrets), set(other._masked), other._readable
        with self._lock:
            shown = {f for n in self._readable for f in _spellings(n)}
            new_masked = (masked - self._masked) - shown
            self._secrets |= extra
            self._masked |= new_masked
            self._pending |= new_masked
        if readable - self._readable:
            self.keep_readable(readable)

    def copy(self) -> Redactor:
        """A new redactor hiding the same values; adding to it leaves this one alone."""
        new = Redactor(min_length=self.min_length)
        with self._lock:  # the compiled levels go along: a copy adding nothing new compiles nothing
            new._secrets, new._masked, new._readable = set(self._secrets), set(self._masked), self._readable
            new._levels, new._patterns = list(self._levels), self._patterns
            new._pending = set(self._pending)
        return new

    def __len__(self) -> int:
        with self._lock:
            return len(self._secrets)

    def __contains__(self, text: object) -> bool:
        with self._lock:
            return text in self._secrets

    # -- hiding -------------------------------------------------------------
    def _compiled(self) -> tuple[re.Pattern[str], ...]:
        """The patterns that together hide every secret (none when there is nothing to hide).

        Secrets added since the last call are compiled into a level of their own,
        then the newest level is merged with the one before it while that one is
        at most twice its size. Each secret is compiled again O(log n) times in all,
        however additions and redactions alternate (a recompiled whole would make
        a release adding its own Secret's values cost more the bigger the project),
        and there are at most log2(n) + 1 levels.
        """
        with self._lock:
            if self._pending:
                self._levels.append((frozenset(self._pending), _compile(self._pending)))
                while len(self._levels) > 1 and len(self._levels[-2][0]) <= 2 * len(self._levels[-1][0]):
                    (newest, _), (before, _) = self._levels.pop(), self._levels.pop()
                    merged = before | newest
                    self._levels.append((merged, _compile(merged)))
                self._patterns = tuple(pattern for _, pattern in self._levels)
                self._pending = set()  # last: redact() reads the patterns without the lock once it is empty
            return self._patterns

    def redact(self, text: str) -> str:
        """``text`` with every known value, as a whole token, replaced by ``***`` (longest first)."""
        if not text or not self._masked:  # nothing to hide: no lock taken (a release redacts ~16 texts)
            return text
        # one attribute read when nothing was added since the last text: no lock taken
        patterns = self._compiled() if self._pending else self._patterns
        if len(patterns) == 1:
            return patterns[0].sub(MASK, text)
        return _sub_all(patterns, text) if patterns else text

    # -- logging.Filter ------------------------------------------------------
    def filter(self, record: logging.LogRecord) -> bool:
        """Redact a log record in place (message, args, traceback); never drops it."""
        if not self._masked:
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
