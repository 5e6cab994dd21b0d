"""A content digest of a local chart (``path = "charts/x"``), so plan sees edited files.

helm records a chart's name and version, not its files: a local chart whose
templates or ``values.yaml`` change while ``Chart.yaml`` keeps its version
would otherwise plan as ``no-op``. :func:`chart_digest` hashes what helm
would load from the folder, and the state keeps it (``chart_digest``) so the
next plan can say ``chart files changed``.

What is hashed, in sorted order of the path relative to the chart folder:

* every regular file (symlinks followed, as helm follows them), as its path
  and its bytes;
* except what helm leaves out through the chart's ``.helmignore`` (helm's
  rules: glob patterns, ``!`` negation, a trailing ``/`` for folders, a
  pattern without ``/`` matched against the base name only; ``**`` is not
  supported by helm and such a line is skipped), and ``templates/.?*``,
  which helm always ignores;
* and except every file or folder whose name starts with ``.`` (``.git``,
  ``.helmignore``, editor swap files): version-control data and dotfiles
  are not chart content (a change of ``.helmignore`` still shows through the
  files it adds or removes);
* each file and archive member is read and hashed a megabyte at a time, so
  a chart holding a huge file costs time, never its size in memory;
* a ``.tgz`` archive (a vendored dependency in ``charts/``, or the chart
  itself when ``path`` names an archive) is hashed by its members' names
  and bytes, not the archive's bytes: ``helm dependency build`` re-packages
  ``file://`` dependencies with fresh timestamps, which must not look like
  a change, while a dependency whose content changed must.

The digest reads only the files, never runs helm, and is
``sha256:<hex>``; equal chart content gives equal digests across machines.

Within :func:`reading_once` (one plan), a chart folder shared by several
releases is read once: its digest, and what :func:`read_once` keeps (the
plan's ``Chart.yaml``), are computed for the first release and reused.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from firestream_core.tools.digest import sha256

T = TypeVar("T")

_CHUNK = 1024 * 1024
"""Bytes hashed at a time: a chart's file of any size is read in pieces."""

_once: ContextVar[dict[tuple[str, str], Any] | None] = ContextVar("firestream_chart_reads", default=None)


@contextmanager
def reading_once() -> Iterator[None]:
    """Within the block (one plan, on one thread), each chart folder is read once.

    The folder's content cannot differ between two releases of the same
    plan, so the digest and ``Chart.yaml`` of a chart that several releases
    share are computed once. Nested blocks share the outer one's memo; a new
    block reads everything afresh.
    """
    if _once.get() is not None:
        yield
        return
    token = _once.set({})
    try:
        yield
    finally:
        _once.reset(token)


def read_once(kind: str, path: Path | str, read: Callable[[], T]) -> T:
    """``read()``, or within :func:`reading_once` what it returned for ``(kind, path)`` before.

    An exception is not remembered: the next release reads again (and fails alike).
    """
    memo = _once.get()
    if memo is None:
        return read()
    key = (kind, os.fspath(path))
    if key not in memo:
        memo[key] = read()
    return memo[key]  # type: ignore[no-any-return]

__all__ = ["HelmIgnore", "RecentDigests", "UnreadableArchive", "archive_files", "chart_digest", "chart_files", "read_once", "reading_once"]

HELMIGNORE = ".helmignore"
_DEFAULT_RULES = ("templates/.?*",)
"""Patterns helm adds to every chart's ``.helmignore``."""


def _glob_regex(pattern: str) -> re.Pattern[str] | None:
    """Go's ``filepath.Match`` pattern as a regex (``*`` and ``?`` never match ``/``)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i + 1 >= n:
                return None
            out.append(re.escape(pattern[i + 1]))
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2 if i + 1 < n and pattern[i + 1] in "^!" else i + 1)
            if end < 0:
                return None
            body = pattern[i + 1 : end]
            negate = body[:1] in ("^", "!")
            body = body[1:] if negate else body
            if not body:
                return None
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z")
    except re.error:
        return None


class HelmIgnore:
    """The rules of a chart's ``.helmignore``, applied as helm applies them.

    Rules are tried in order; the first rule that matches decides (a
    negated rule that matches keeps the file).
    """

    def __init__(self, lines: Iterable[str] = ()) -> None:
        self.rules: list[tuple[bool, bool, Callable[[str], bool]]] = []
        for line in [*lines, *_DEFAULT_RULES]:
            self._add(line)

    @classmethod
    def of(cls, folder: Path) -> HelmIgnore:
        """The rules of ``folder/.helmignore`` (only helm's defaults when there is none)."""
        try:
            text = (folder / HELMIGNORE).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return cls()
        return cls(text.splitlines())

    def _add(self, line: str) -> None:
        rule = line.strip()
        if not rule or rule.startswith("#") or "**" in rule:
            return
        negate = rule.startswith("!")
        if negate:
            rule = rule[1:]
        must_dir = rule.endswith("/")
        rule = rule.rstrip("/")
        base_only = "/" not in rule
        rule = rule.lstrip("/")
        regex = _glob_regex(rule)
        if regex is None or not rule:
            return  # helm refuses such a chart; rendering will say so

        def match(path: str, regex: re.Pattern[str] = regex, base_only: bool = base_only) -> bool:
            return regex.match(path.rsplit("/", 1)[-1] if base_only else path) is not None

        self.rules.append((negate, must_dir, match))

    def ignored(self, path: str, is_dir: bool) -> bool:
        """True when helm would leave ``path`` (relative, ``/``-separated) out."""
        for negate, must_dir, match in self.rules:
            if must_dir and not is_dir:
                continue
            if match(path):
                return not negate
        return False


def chart_files(folder: Path | str) -> list[tuple[str, Path]]:
    """The chart's files as ``(relative posix path, path)``, sorted, as the digest sees them."""
    root = Path(folder)
    rules = HelmIgnore.of(root)
    out: list[tuple[str, Path]] = []
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        st = here.stat()
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop: helm would fail; do not hang
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        rel_dir = here.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not rules.ignored(prefix + d, True)
        )
        for name in filenames:
            rel = prefix + name
            p = here / name
            if name.startswith(".") or rules.ignored(rel, False) or not p.is_file():
                continue
            out.append((rel, p))
    return sorted(out)


def _update_archive(h: Any, path: Path) -> bool:
    """Hash a ``.tgz``'s members (name and bytes, sorted); False when it is no archive."""
    import tarfile  # only for archives: a plan of folder charts does without it
    try:
        with tarfile.open(path, "r:*") as tar:
            members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
            h.update(b"tgz\0%d\0" % len(members))
            for m in members:
                handle = tar.extractfile(m)
                name = m.name.encode("utf-8", "surrogateescape")
                h.update(b"member\0%s\0%d\0" % (name, m.size if handle is not None else 0))
                if handle is not None:
                    _update_stream(h, handle, m.size)
    except (tarfile.TarError, OSError, EOFError):
        return False
    return True


class UnreadableArchive(ValueError):
    """A chart archive helm would not load; the message follows the archive's name."""


MAX_ARCHIVE_BYTES = 100 * 1024 * 1024
"""What helm decompresses of a chart archive at most (``MaxDecompressedChartSize``, 100 MiB)."""

_UTF8_BOM = b"\xef\xbb\xbf"


def archive_files(source: Path | str | bytes, keep: Callable[[str], bool]) -> dict[str, bytes]:
    """The files of a chart archive (``.tgz``) that ``keep`` asks for, named as helm names them.

    helm's reading (``LoadArchiveFiles``): a gzip tar whose regular members lose their first
    path component (the chart's folder, whatever it is called), ``\\`` read as ``/``, a
    UTF-8 byte order mark dropped; ``keep`` gets that name (``Chart.yaml``,
    ``charts/common-2.1.0.tgz``). Every member is read through, since helm refuses the
    whole archive for one bad member. ``source`` is a path or an archive's bytes (a
    subchart inside ``charts/``).

    :raises UnreadableArchive: what helm refuses, worded to follow the archive's name
        (``... is not a chart archive``): not gzip, a member outside the chart's folder or
        with an absolute path (``Chart.yaml`` at the top: no folder), more than 100 MiB
        unpacked, no files.
    :raises OSError: the file cannot be read.
    """
    import gzip
    import io
    import posixpath
    import tarfile  # only for archives: a project of chart folders does without it
    import zlib

    raw = open(source, "rb") if not isinstance(source, bytes) else io.BytesIO(source)  # noqa: SIM115
    with raw:
        if raw.read(3) != b"\x1f\x8b\x08":
            raise UnreadableArchive("is a file that is not a chart archive (.tgz) or folder")
        raw.seek(0)
        out: dict[str, bytes] = {}
        left, seen = MAX_ARCHIVE_BYTES, 0
        try:
            with tarfile.open(fileobj=raw, mode="r:gz") as tar:
                for member in tar:
                    if member.isdir() or member.type in (tarfile.XHDTYPE, tarfile.XGLTYPE):
                        continue
                    delimiter = "\\" if "\\" in member.name else "/"
                    parts = member.name.split(delimiter)
                    name = "/".join(parts[1:])
                    if name.startswith("/"):
                        raise UnreadableArchive("holds an absolute path (helm: chart illegally contains absolute paths)")
                    name = posixpath.normpath(name) if name else "."
                    if name == ".":
                        raise UnreadableArchive(f"holds {member.name!r} outside the chart's folder "
                                         "(helm: chart illegally contains content outside the base directory)")
                    if name.startswith(".."):
                        raise UnreadableArchive("holds a path into its parent folder (helm: chart illegally references parent directory)")
                    if member.size > left:
                        raise UnreadableArchive(f"unpacks to more than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB, helm's limit")
                    left -= member.size
                    seen += 1
                    if not keep(name):
                        continue
                    handle = tar.extractfile(member)
                    data = handle.read(member.size) if handle is not None else b""
                    out[name] = data[3:] if data.startswith(_UTF8_BOM) else data
        except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise UnreadableArchive(f"is not a chart archive helm can read ({type(exc).__name__})") from None
    if not seen:
        raise UnreadableArchive("holds no files (helm: no files in chart archive)")
    return out


def _update_stream(h: Any, stream: Any, size: int) -> None:
    """Hash ``size`` bytes of ``stream`` a chunk at a time: memory stays bounded whatever the size.

    :raises OSError: the stream held another number of bytes (a file changed while read).
    """
    left = size
    while left > 0:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            break
        h.update(chunk)
        left -= len(chunk)
    if left or stream.read(1):
        raise OSError(errno.EAGAIN, "changed while it was read", getattr(stream, "name", None))


def _update_file(h: Any, path: Path) -> None:
    """``bytes\0<size>\0`` and the file's bytes, streamed (the digest's form for one file)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h.update(b"bytes\0%d\0" % size)
        _update_stream(h, f, size)


def chart_digest(path: Path | str) -> str:
    """``sha256:<hex>`` over a local chart's content (a folder, or a ``.tgz``).

    :raises OSError: the chart cannot be read (the message names the path).
    """
    return read_once("digest", path, lambda: _digest(Path(path)))


def _digest(p: Path) -> str:
    h = sha256()
    if p.is_file():
        if not _update_archive(h, p):
            with open(p, "rb") as f:
                _update_stream(h, f, os.fstat(f.fileno()).st_size)
        return "sha256:" + h.hexdigest()
    if not p.is_dir():
        raise FileNotFoundError(2, "chart folder not found", str(p))
    for rel, file in chart_files(p):
        h.update(b"file\0%s\0" % rel.encode("utf-8", "surrogateescape"))
        if rel.endswith(".tgz") and _update_archive(h, file):
            continue
        _update_file(h, file)
    return "sha256:" + h.hexdigest()


class RecentDigests:
    """:func:`chart_digest` for a run's releases, each just before helm reads its chart.

    A folder several releases share (a thousand releases of one local chart) is
    read again only when ``max_age`` seconds have passed since the reading the
    last digest came from started: an edit made before that still shows, and one
    made within it is the same race as one made between this reading and helm's
    own. Thread-safe: releases asking for one folder at once wait for a single
    reading (a thousand releases started together read it once). An error is not
    remembered (the next release reads again).
    """

    def __init__(self, max_age: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, str]] = {}
        self._folders: dict[str, threading.Lock] = {}

    def digest(self, path: Path | str) -> str:
        """``chart_digest(path)``, or the one read less than ``max_age`` seconds ago.

        :raises OSError: the chart cannot be read (the message names the path).
        """
        key = os.fspath(path)
        with self._lock:
            folder_lock = self._folders.setdefault(key, threading.Lock())
        with folder_lock:  # releases starting together wait for one reading, not one each
            hit = self._seen.get(key)
            started = self._clock()
            if hit is not None and started - hit[0] <= self.max_age:
                return hit[1]
            value = _digest(Path(path))
            self._seen[key] = (started, value)
            return value
