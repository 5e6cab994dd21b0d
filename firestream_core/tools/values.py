"""Chart values: ``--set`` pairs, generated YAML, merging, digests and 0600 temp files.

Values never reach helm on its command line. ``merged_values`` builds the
one mapping firestream gives helm (the ``yaml_files_content`` documents in
order, then the ``--set`` pairs on top, exactly as helm would merge them),
and ``values_file`` writes it to a private temporary file that helm reads
with ``-f`` and that is removed afterwards whatever happens.

A process killed outright (SIGKILL, OOM, a lost terminal session) cannot
remove its file. Each private folder is therefore named
``firestream-values-<host>-<pid>-<random>`` (``<host>``: a short hash of
this machine's host name, boot id and pid namespace), and the first values
file a process writes in a base folder first removes the folders there
whose creator, on this host, is no longer running and that are older than
:data:`STALE_AFTER` seconds (:func:`sweep_stale_values_dirs`). Folders of
other hosts (a shared ``FIRESTREAM_TMPDIR``), of other users, and of live
processes are never touched.

``values_files`` (paths in the config) are not merged here: paths are not
secret, so helm is given them with ``-f`` and reads them itself, in order,
before the merged file.

``--set`` pairs follow helm's ``strvals`` rules for keys (``a.b``, ``a\\.b``
for a literal dot, ``a[0]`` list indexes) and for typing a value (``true`` /
``false`` / ``null`` case-insensitive, base-10 integers without a leading
zero; anything else stays a string). Unlike ``helm --set``, a value is never
split on commas nor read as a ``{a,b}`` list: a pair is one key and one value
(the original's defect - JSON flattened to ``--set`` with commas unescaped -
cannot happen).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import errno
import json
import logging
import math
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firestream_core.tools.host import pid_alive
from firestream_core.tools.readfile import VALUES_FILE_LIMIT, UnreadableFile, read_bounded

if TYPE_CHECKING:
    from firestream_core.model import ChartInfo, ChartSetValue

__all__ = [
    "MAX_INDEX",
    "changed_keys",
    "deep_merge",
    "merged_values",
    "parse_key",
    "read_values_file",
    "parse_set_pairs",
    "sweep_stale_values_dirs",
    "typed_value",
    "values_digest",
    "values_file",
]

MAX_INDEX = 65536
"""Largest list index a ``--set`` key may use (helm's own limit)."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DIGITS = r"^[+-]?[0-9]+$"  # compiled on first use (re caches it), not at import


# -- --set pairs ---------------------------------------------------------------------


def typed_value(text: str) -> Any:
    """A ``--set`` value typed as helm's strvals does.

    ``true``/``false``/``null`` (any case) become bool/None, ``0`` and base-10
    integers not starting with ``0`` become int (64-bit range); the rest,
    floats included, stays a string.
    """
    low = text.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0" and re.match(_DIGITS, text):
        n = int(text)
        if _INT64_MIN <= n <= _INT64_MAX:
            return n
    return text


def parse_key(key: str) -> list[str | int]:
    """Split a ``--set`` key into map keys (str) and list indexes (int).

    ``a.b[0].c\\.d`` -> ``["a", "b", 0, "c.d"]``. Raises ``ValueError``
    naming the key (never a value) when it is malformed.
    """

    def bad(why: str) -> ValueError:
        return ValueError(f"invalid values key {key!r}: {why}")

    parts: list[str | int] = []
    buf: list[str] = []
    i, n = 0, len(key)
    # after "]" only "." or "[" (or the end) may follow
    after_index = False
    pending_name = True  # a name segment is expected (start or after ".")
    while i < n:
        c = key[i]
        if after_index and c not in ".[":
            raise bad("expected '.' or '[' after ']'")
        if c == "\\":
            if i + 1 >= n:
                raise bad("ends with a lone backslash")
            buf.append(key[i + 1])
            i += 2
            after_index = False
            continue
        if c == ".":
            if not after_index:
                if not buf:
                    raise bad("empty name segment")
                parts.append("".join(buf))
                buf = []
            after_index = False
            pending_name = True
            i += 1
            if i >= n:
                raise bad("ends with '.'")
            continue
        if c == "[":
            if not after_index:
                if not buf:
                    raise bad("'[' must follow a name")
                parts.append("".join(buf))
                buf = []
            end = key.find("]", i)
            if end < 0:
                raise bad("'[' without ']'")
            inner = key[i + 1 : end]
            if not inner.isdigit():
                raise bad("list index must be a non-negative integer")
            idx = int(inner)
            if idx > MAX_INDEX:
                raise bad(f"list index larger than {MAX_INDEX}")
            parts.append(idx)
            i = end + 1
            after_index = True
            pending_name = False
            continue
        if c == "]":
            raise bad("']' without '['")
        buf.append(c)
        after_index = False
        pending_name = False
        i += 1
    if buf:
        parts.append("".join(buf))
    elif pending_name:
        raise bad("empty key" if not key else "empty name segment")
    return parts


def _set_path(root: dict[str, Any], path: Sequence[str | int], value: Any) -> None:
    """Set ``value`` at ``path`` in ``root``, creating maps and lists like helm.

    A node of the wrong kind on the way (a scalar where a map is needed, a
    map where a list is needed) is replaced, as a later ``--set`` wins.
    """
    node: Any = root
    for pos, part in enumerate(path):
        last = pos == len(path) - 1
        nxt = None if last else path[pos + 1]
        if isinstance(part, int):
            assert isinstance(node, list)
            while len(node) <= part:
                node.append(None)
            if last:
                node[part] = value
                return
            child = node[part]
            want_list = isinstance(nxt, int)
            if want_list and not isinstance(child, list):
                child = node[part] = []
            elif not want_list and not isinstance(child, dict):
                child = node[part] = {}
            node = child
        else:
            assert isinstance(node, dict)
            if last:
                node[part] = value
                return
            child = node.get(part)
            want_list = isinstance(nxt, int)
            if want_list and not isinstance(child, list):
                child = node[part] = []
            elif not want_list and not isinstance(child, dict):
                child = node[part] = {}
            node = child


def parse_set_pairs(
    pairs: Iterable[ChartSetValue | tuple[str, str]], into: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Apply ``--set`` pairs in order and return the resulting mapping.

    :param pairs: ``ChartSetValue`` objects (or ``(key, value)`` tuples).
    :param into: a mapping to set the pairs into (modified and returned), as
        helm sets ``--set`` values into the values read from files - an index
        of an existing list changes that element only.
    :raises ValueError: a key is malformed (the message names the key only).
    """
    out: dict[str, Any] = {} if into is None else into
    for pair in pairs:
        key, value = (pair if isinstance(pair, tuple) else (pair.key, pair.value))
        path = parse_key(str(key))
        typed = value if not isinstance(value, str) else typed_value(value)
        _set_path(out, path, typed)
    return out


# -- merging ------------------------------------------------------------------------------


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base`` as helm merges values files.

    Maps merge recursively; anything else in ``override`` (lists and null
    included) replaces what ``base`` had.
    """
    out: dict[str, Any] = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _string_keys(node: Any) -> Any:
    """Keys made strings the way helm's YAML reader does (``true`` -> ``"true"``)."""
    if isinstance(node, Mapping):
        out = {}
        for k, v in node.items():
            if isinstance(k, bool):
                k = "true" if k else "false"
            elif k is None:
                k = "null"
            out[str(k)] = _string_keys(v)
        return out
    if isinstance(node, list):
        return [_string_keys(v) for v in node]
    return node


# -- reading YAML values: aliases bounded as helm bounds them ---------------------------------


class ExcessiveAliasing(ValueError):
    """A YAML document whose aliases expand it beyond what helm reads (a "billion laughs"),
    or an alias inside the node it names (values without end); the message is worded to
    follow the document's name (``has too many YAML aliases: ...``).

    Found on the composed node graph, before any value is built, in time proportional to
    the text: the expanded values are never walked.
    """


_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000
_EXPANDED_CAP = 10**15  # expansion counts stop growing there (a bomb's are astronomic)


def _allowed_alias_ratio(decodes: int) -> float:
    """go-yaml's ``allowedAliasRatio``: the share of decoded nodes that may come from aliases."""
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _excessive(decodes: int, aliased: int) -> bool:
    """go-yaml's test (helm's YAML reader, v2 and v3 alike): ``document contains excessive aliasing``."""
    return aliased > 100 and decodes > 1000 and aliased / decodes > _allowed_alias_ratio(decodes)


def _children(node: Any) -> list[Any]:
    value = node.value
    if isinstance(value, list):  # a sequence's items, or a mapping's (key, value) pairs
        return [c for item in value for c in (item if isinstance(item, tuple) else (item,))]
    return []  # a scalar


def check_aliasing(root: Any) -> None:
    """Refuse a composed YAML document (PyYAML nodes) that helm would refuse for its aliases.

    Counts what go-yaml counts while it decodes, without decoding: every node, and
    every node reached through an alias (an alias's node decoded again, each time),
    and applies its test as it goes (more than 100 aliased nodes, more than 1000
    nodes, and a share of aliased ones above 99 % up to 400,000 nodes, falling to
    10 % at 4,000,000). An alias is the same node object as its anchor in PyYAML's
    graph, so the size of each anchored node once expanded is computed once, from
    its children: time and memory grow with the text, never with the expansion.

    :raises ExcessiveAliasing: too many aliases, or an alias inside the node it names.
    """
    seen: set[int] = set()
    aliases: set[tuple[int, int]] = set()  # (parent, child position): a mention after the anchor
    expanded: dict[int, int] = {}  # node -> nodes decoded for it, its aliases expanded

    def size(node: Any) -> int:
        stack: list[tuple[Any, bool]] = [(node, False)]
        open_: set[int] = set()
        while stack:
            n, done = stack.pop()
            if done:
                total = 1
                for i, c in enumerate(_children(n)):
                    total += expanded[id(c)] + ((id(n), i) in aliases)
                expanded[id(n)] = min(total, _EXPANDED_CAP)
                open_.discard(id(n))
                continue
            if id(n) in expanded:
                continue
            if id(n) in open_:
                raise ExcessiveAliasing(
                    "is not valid YAML: an alias inside the node it names (nested too deeply, without end)")
            open_.add(id(n))
            stack.append((n, True))
            stack.extend((c, False) for c in _children(n) if id(c) not in expanded)
        return expanded[id(node)]

    decodes, aliased = 1, 0  # the document node
    walk: list[tuple[Any, int, int]] = [(root, 0, -1)]
    while walk:
        node, parent, position = walk.pop()
        if id(node) in seen:  # an alias: its node decoded again, every node of it aliased
            aliases.add((parent, position))
            n = size(node)
            decodes, aliased = decodes + 1 + n, aliased + n
        else:
            seen.add(id(node))
            decodes += 1
            walk.extend((c, id(node), i) for i, c in reversed(list(enumerate(_children(node)))))
        # inside an alias both counts grow together, so its end is where the test fails first
        if _excessive(decodes, aliased):
            raise ExcessiveAliasing(
                "has too many YAML aliases: expanded, it is larger than helm reads "
                "(helm: 'document contains excessive aliasing')"
            )


_values_loader: Any = None


def values_loader() -> Any:
    """PyYAML's ``SafeLoader`` refusing, as helm does, documents whose aliases expand too far
    (:func:`check_aliasing`, before any value is built): the loader of every values document
    and values file (``load_document``, ``config/files.py``)."""
    global _values_loader
    if _values_loader is None:
        import yaml

        class ValuesLoader(yaml.SafeLoader):
            def compose_document(self) -> Any:
                node = super().compose_document()
                check_aliasing(node)
                return node

        _values_loader = ValuesLoader
    return _values_loader


def load_values_yaml_all(text: str) -> list[Any]:
    """Every document of ``text`` as ``yaml.safe_load_all`` reads them, aliases bounded.

    :raises ExcessiveAliasing: a document helm would refuse for its aliases.
    :raises yaml.YAMLError: the text is not YAML.
    """
    import yaml

    return list(yaml.load_all(text, Loader=values_loader()))  # noqa: S506 - a SafeLoader


def load_document(filename: str, text: str) -> dict[str, Any]:
    """One generated values document as a mapping (empty for an empty document).

    A fresh mapping each call, which the caller may change. A document is parsed
    once (PyYAML's pure-Python parser: ~0.4 ms for a small values table) and
    copied on later calls: a release's documents are read when the project is
    loaded, for its desired state and for its helm call. A document firestream
    wrote itself from plain data (a TOML ``values`` table) is not parsed at all:
    see :func:`dump_document`.

    :raises ValueError: the YAML is invalid or not a mapping; the message
        names ``filename`` and the line, never the content.
    """
    doc = _documents.get(text)
    if doc is None:
        doc = _parse_document(filename, text)
        _remember(text, doc)
    return _fresh(doc)


def read_values_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A values file read again after the load's checks, bounded as they were, and parsed.

    :raises UnreadableFile: no longer a regular file, or over ``VALUES_FILE_LIMIT``.
    :raises ValueError: not a YAML mapping (any more).
    """
    text = read_bounded(path, VALUES_FILE_LIMIT).decode("utf-8", errors="replace")
    return load_document(str(path), text)


def file_documents(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """The values files at ``paths`` as mappings, in order, each through :func:`load_document`.

    A file that cannot be read or parsed is skipped: what registers their secrets
    (the project, a helm call) leaves it to the config checks, ``check_prerequisites``
    or helm itself to report.
    """
    for path in paths:
        try:
            yield read_values_file(path)
        except (UnreadableFile, ValueError, RecursionError):
            continue


def dump_document(data: Mapping[str, Any]) -> str:
    """``data`` as the YAML text of a generated values document (block style, keys in order).

    When ``data`` holds only strings, integers, finite floats, booleans, None,
    lists and mappings with string keys (what a TOML table holds, dates aside),
    the text reads back as ``data`` itself (PyYAML's representer quotes whatever
    would resolve to another type: ``"true"``, ``"1e3"``, ``"null"``), so
    :func:`load_document` is given ``data`` for it instead of parsing it again.

    Non-ASCII characters are written as they are, except in a document holding
    NEL (U+0085): PyYAML writes that one unescaped, and reads it back, as YAML 1.1
    says of a line break in a quoted scalar, as a space. Such a document is written
    with every non-ASCII character escaped (``"\\N"``, ``"\\xE9"``).
    """
    import yaml

    text: str = yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False, allow_unicode=True)
    if "\x85" in text:
        text = yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False, allow_unicode=False)
    if _plain(data):
        _remember(text, _fresh(dict(data)))
    return text


def remember_document(text: str, parsed: Any) -> None:
    """Give :func:`load_document` what ``yaml.safe_load(text)`` returned elsewhere (the
    config checks parse every values file and document once to report problems)."""
    _remember(text, {} if parsed is None else _string_keys(parsed))


_MAX_DOCUMENTS = 2048
_documents: dict[str, dict[str, Any]] = {}
_documents_lock = threading.Lock()


def _remember(text: str, doc: dict[str, Any]) -> None:
    with _documents_lock:
        if len(_documents) >= _MAX_DOCUMENTS:  # the oldest goes: a project's documents are read in turn
            del _documents[next(iter(_documents))]
        _documents[text] = doc


def _plain(node: Any) -> bool:
    """True when ``node``'s YAML text, as :func:`dump_document` writes it, reads back as the very same values.

    Made of strings, integers, finite floats, booleans, None, lists and
    string-keyed mappings. A search over every code point below U+3000 in values,
    keys and list items found one that did not round-trip, NEL, which
    ``dump_document`` escapes; ``tests/tools/test_values.py`` checks random documents.
    """
    if type(node) is dict:
        return all(type(k) is str and _plain(v) for k, v in node.items())
    if type(node) is list:
        return all(_plain(v) for v in node)
    if type(node) is float:
        return math.isfinite(node)
    return node is None or type(node) in (str, int, bool)


def _parse_document(filename: str, text: str) -> dict[str, Any]:
    """:func:`load_document`'s parse (never handed out: see ``_fresh``)."""
    # PyYAML only for a release that has a document (a project without any needs it first in
    # the run, which imports it before the first release is dispatched: deploy/run.py)
    import yaml

    try:
        doc = yaml.load(text, Loader=values_loader())  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"values document {filename!r} is not valid YAML{where}") from None
    except ExcessiveAliasing as exc:
        raise ValueError(f"values document {filename!r} {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise ValueError(f"values document {filename!r} must be a mapping at the top level")
    return _string_keys(doc)


_IMMUTABLE = (str, int, float, bool, type(None), bytes, datetime.date, datetime.time)
"""The scalars ``yaml.safe_load`` makes that need no copy (``datetime`` is a ``date``)."""


def _fresh(node: Any) -> Any:
    """A copy of a parsed document sharing only its immutable scalars (a deep copy without the memo)."""
    if type(node) is dict:
        return {k: _fresh(v) for k, v in node.items()}
    if type(node) is list:
        return [_fresh(v) for v in node]
    if isinstance(node, _IMMUTABLE):
        return node
    if type(node) is tuple:  # !!omap and !!pairs: (key, value) pairs
        return tuple(_fresh(v) for v in node)
    return copy.deepcopy(node)  # a !!set, or anything else


def merged_values(info: ChartInfo, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values firestream passes to helm for ``info`` (not ``values_files``).

    Each ``yaml_files_content`` document in order, then the ``--set`` pairs
    set into the result, then ``info.plugin_values`` (what plugins contributed
    in the desired-state stage, ``contribute_values``), then ``extra`` (values
    computed at run time) merged on top.

    :raises ValueError: a document is invalid or a ``--set`` key malformed
        (naming the document or key, never a value).
    """
    out: dict[str, Any] = {}
    for generated in info.yaml_files_content:
        out = deep_merge(out, load_document(generated.filename, generated.yaml_content))
    parse_set_pairs(info.values, into=out)
    contributed = getattr(info, "plugin_values", None)
    if contributed:
        out = deep_merge(out, _string_keys(contributed))
    if extra:
        out = deep_merge(out, _string_keys(extra))
    return out


def canonical_json(values: Any) -> bytes:
    """A stable byte form of a values mapping (sorted keys, no spaces)."""
    return json.dumps(
        values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def values_digest(
    info: ChartInfo, project_dir: Path | str, extra: Mapping[str, Any] | None = None
) -> str:
    """``sha256:<hex>`` over the values helm will get for ``info``.

    Covers the bytes of every ``values_files`` entry (resolved against
    ``project_dir``) in order, then the canonical JSON of
    :func:`merged_values`. Equal inputs give equal digests across runs and
    machines; any change of a file, a document or a pair changes it.

    :raises FileNotFoundError: a values file is missing (named by path).
    :raises OSError: a values file is no longer a regular file, or is over
        ``VALUES_FILE_LIMIT`` (named by path; read with the load's bound).
    """
    from firestream_core.tools.digest import sha256

    h = sha256()
    base = Path(project_dir)
    for f in info.values_files:
        p = Path(f)
        p = p if p.is_absolute() else base / p
        try:
            data = read_bounded(p, VALUES_FILE_LIMIT)
        except UnreadableFile as exc:
            if exc.missing:
                raise FileNotFoundError(errno.ENOENT, exc.reason, str(p)) from None
            raise OSError(errno.EINVAL, exc.reason, str(p)) from None
        h.update(b"file\0%d\0" % len(data))
        h.update(data)
    merged = canonical_json(merged_values(info, extra))
    h.update(b"merged\0%d\0" % len(merged))
    h.update(merged)
    return "sha256:" + h.hexdigest()


def _escape_key(key: str) -> str:
    return key.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def changed_keys(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[str]:
    """Dotted keys whose value differs between ``old`` and ``new`` (sorted).

    Keys only in one of them count as changed. Maps and lists are compared
    element by element (``a.b``, ``a.list[2]``); a key holding a dot is
    written ``a\\.b`` as in ``--set``. Only keys are returned, never values.
    """
    out: list[str] = []

    def walk(prefix: str, a: Any, b: Any) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for k in set(a) | set(b):
                name = _escape_key(str(k))
                key = f"{prefix}.{name}" if prefix else name
                if k not in a or k not in b:
                    out.append(key)
                else:
                    walk(key, a[k], b[k])
        elif isinstance(a, list) and isinstance(b, list) and prefix:
            for i in range(max(len(a), len(b))):
                key = f"{prefix}[{i}]"
                if i >= len(a) or i >= len(b):
                    out.append(key)
                else:
                    walk(key, a[i], b[i])
        elif type(a) is not type(b) or a != b:
            out.append(prefix or ".")

    walk("", dict(old or {}), dict(new or {}))
    return sorted(out)


# -- the 0600 temporary file -----------------------------------------------------------------


VALUES_DIR_PREFIX = "firestream-values-"
STALE_AFTER = 10.0
"""Seconds a dead process's values folder is left alone before a sweep removes it."""

_host_marker: str | None = None
_swept: set[str] = set()
_live: set[str] = set()
"""Names of the folders this process holds now (never swept, whatever their pid says)."""
_sweep_lock = threading.Lock()


def host_marker() -> str:
    """A short hex tag for "this host, this boot, this pid namespace".

    A pid means something only there: folders with another tag (another
    machine sharing ``FIRESTREAM_TMPDIR``, a container with its own pids)
    are never judged by this host's processes.
    """
    global _host_marker
    if _host_marker is None:
        from firestream_core.tools.digest import sha256

        parts = [os.uname().nodename]  # socket.gethostname(), without importing socket
        for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
            try:
                parts.append(os.readlink(path) if path.endswith("/pid") else Path(path).read_text().strip())
            except OSError:
                parts.append("")
        _host_marker = sha256("\0".join(parts).encode()).hexdigest()[:10]
    return _host_marker


def sweep_stale_values_dirs(base: str | Path, *, min_age: float = STALE_AFTER) -> list[Path]:
    """Remove the values folders in ``base`` left by dead processes of this host.

    A folder is removed when its name carries this host's tag
    (:func:`host_marker`) and a pid that is not running (or is this very
    process's pid but not one of its folders: an earlier process had the
    pid), it belongs to this user, it is a real folder (not a symlink), and
    it was last changed more than ``min_age`` seconds ago.

    :return: the folders removed.
    """
    prefix = f"{VALUES_DIR_PREFIX}{host_marker()}-"
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if entry.name in _live or (pid != os.getpid() and pid_alive(pid)):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or now - st.st_mtime < min_age:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.lexists(entry.path):
            removed.append(Path(entry.path))
    if removed:
        logging.getLogger("firestream.values").debug(
            "removed %d values folders left by killed firestream processes in %s", len(removed), base
        )
    return removed


def _sweep_once(base: str) -> None:
    """:func:`sweep_stale_values_dirs` of ``base``, once per process (before its first folder there)."""
    if base in _swept:  # this very spelling was swept (no realpath: a syscall per folder level)
        return
    key = os.path.realpath(base)
    with _sweep_lock:
        if key in _swept:
            _swept.add(base)
            return
        _swept.update((key, base))
        try:
            sweep_stale_values_dirs(base)
        except Exception:  # noqa: BLE001 - tidying must never stop a deploy
            pass


_shm_usable: bool | None = None


def _private_base() -> str | None:
    """Where temp values files go: ``FIRESTREAM_TMPDIR``, else RAM-backed /dev/shm, else TMPDIR.

    Whether /dev/shm is usable is asked once per process (a file there failing later
    fails that upgrade, as it would have anyway).
    """
    global _shm_usable
    env = os.environ.get("FIRESTREAM_TMPDIR")
    if env:
        return env
    shm = "/dev/shm"
    if _shm_usable is None:
        _shm_usable = os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK)
    return shm if _shm_usable else None


def dump_values(values: Mapping[str, Any]) -> bytes:
    """The bytes of a values file: JSON, which helm reads as YAML.

    JSON quotes every string, so no value changes type on the way (PyYAML
    would write ``1e3`` or ``0x1F`` unquoted and helm would read numbers).
    One line, no indentation: ``json`` writes that with its C encoder (an
    indented document goes through the pure-Python one, ~10 times slower on a
    large values mapping); helm reads the same values either way.
    """
    return (json.dumps(values, ensure_ascii=False, default=str, allow_nan=False) + "\n").encode("utf-8")


@contextmanager
def values_file(
    values: Mapping[str, Any], *, dir: str | Path | None = None, name: str = "values.yaml"
) -> Iterator[Path]:
    """A private file holding ``values``, removed when the block ends.

    The file is created with ``O_CREAT | O_EXCL`` and mode 0600 inside a
    fresh 0700 folder, so no other user can read it or swap it, and deleted
    with its folder however the block ends (an exception, KeyboardInterrupt).
    It lives in ``FIRESTREAM_TMPDIR`` when set, else ``/dev/shm`` (memory,
    never written to disk) when usable, else the system temp folder. The
    folder's name carries this host's tag and this process's pid, so that
    a later process can remove it if this one is killed before it can (see
    the module docstring).
    """
    base = str(dir) if dir else (_private_base() or tempfile.gettempdir())
    _sweep_once(base)
    folder = tempfile.mkdtemp(prefix=f"{VALUES_DIR_PREFIX}{host_marker()}-{os.getpid()}-", dir=base)
    folder_name = os.path.basename(folder)
    _live.add(folder_name)
    try:
        os.chmod(folder, 0o700)
        path = os.path.join(folder, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            data = dump_values(values)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)
        yield Path(path)
    finally:
        try:  # the file and its folder: two calls, where rmtree walks the folder first
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, name))
            os.rmdir(folder)
        except OSError:  # something else in there (or a file helm left): remove the lot
            shutil.rmtree(folder, ignore_errors=True)
        _live.discard(folder_name)
