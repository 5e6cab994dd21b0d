"""Where a problem is in ``firestream.toml`` and how it is worded.

A place in the file is a dotted path (``deployments.postgresql[0].timeout``;
keys that are not bare TOML keys quoted); every config problem is a line
``path: message``. Shared by the models, the converter, the file checks and
the chart building so that they all name places alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def quote_key(k: Any) -> str:
    k = str(k)
    return k if BARE_KEY.match(k) else '"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join_path(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{quote_key(key)}" if path else quote_key(key)


def first_leaf(
    values: Any, offending: Callable[[Any], bool], join: Callable[[str, Any], str] = join_path
) -> tuple[str, Any] | None:
    """The first value in nested tables and arrays (a ``values`` table, a values document)
    that ``offending`` refuses, in the order they are written, with its path, or None; the
    caller says what is wrong with it (never quoting it: it may be a secret). ``join(path, key)`` spells a table's key (an array's index is
    ``[i]``); the walk is a loop, not a recursion, however deep the document."""
    stack: list[tuple[str, Any]] = [("", values)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((join(path, k), v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(node))))
        elif offending(node):
            return path, node
    return None


def not_finite(value: Any) -> bool:
    """``inf`` / ``nan``: a float TOML and YAML can hold and helm's values (JSON) cannot."""
    import math

    return isinstance(value, float) and not math.isfinite(value)


def type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def unknown_key(path: str, key: str, known: Iterable[str]) -> str:
    import difflib  # only for a file with a mistake: a valid one never needs it

    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{join_path(path, key)}: unknown key{hint}"


def problems_hint(problems: list[str], hints: Iterable[str] = ()) -> str | None:
    """One hint line: the errors' own hints (a broken plugin's), then the unknown-key one."""
    found = list(hints)
    if any("unknown key" in p for p in problems):
        found.append("see docs/configuration.md for every key")
    return "; ".join(dict.fromkeys(found)) or None


def first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
