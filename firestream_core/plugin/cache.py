"""What the installed plugins are, remembered between runs: start-up without scanning or importing.

Finding the ``firestream.charts`` entry points reads every installed
distribution's metadata (``importlib_metadata``: about as long as Python's
own start-up), and importing the five chart plugins costs as much again. A
command that lists the plugins or uses only some chart types needs neither
once it has run before, so both results are kept in a small JSON file:

* **the entry points** (name, ``module:attr``, distribution, version), valid
  while every ``sys.path`` folder keeps the same ``*.dist-info`` /
  ``*.egg-info`` names and, if it has any, its modification time (installing, upgrading or removing a
  distribution adds, renames or removes such a folder there) and the core's
  version is the same;
* **per plugin that loaded cleanly**: the chart types it registers and the
  hooks it implements, valid while its entry point is the same and the files
  of its modules keep their modification times.

A broken plugin is never remembered: it is imported on every run and
reported as before. The manager (``plugin/manager.py``) uses the records to
import a plugin only when one of its chart types is asked for (or, for a
plugin that registers none, before the first hook call).

The file lives in ``$FIRESTREAM_CACHE_DIR`` (default
``$XDG_CACHE_HOME/firestream`` or ``~/.cache/firestream``), one per
interpreter and ``sys.path``, where a folder holding no distribution counts
as any other such folder: ``python -m`` and a script put the current or the
script's folder first on ``sys.path``, and running from another folder must
neither miss the cache nor leave one more file behind.
``FIRESTREAM_PLUGIN_CACHE=off`` disables it.
A cache that cannot be read or written is ignored: it only ever saves time.
Writing one removes firestream's cache files nobody wrote for 30 days (:func:`prune_stale`).
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from firestream_core.tools.cache_folder import CACHE_DIR_ENV, cache_dir
from firestream_core.version import __version__

__all__ = [
    "CACHE_DIR_ENV",
    "CACHE_ENV",
    "EntryPointRecord",
    "PluginCache",
    "PluginRecord",
    "cache_dir",
    "prune_stale",
    "scan_entry_points",
    "switched_on",
]

CACHE_ENV = "FIRESTREAM_PLUGIN_CACHE"
"""``off`` (or ``0``) disables the cache: every run scans and imports."""
_FORMAT = 2  # 2: the fingerprint holds the metadata folders' names


class EntryPointRecord(NamedTuple):
    """One ``firestream.charts`` entry point, as found in an installed distribution."""

    name: str
    value: str
    distribution: str | None = None
    version: str | None = None

    @property
    def key(self) -> str:
        return f"{self.name}={self.value} ({self.distribution} {self.version})"

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()

    @property
    def attr(self) -> str:
        return self.value.partition(":")[2].split("[")[0].strip()


class PluginRecord(NamedTuple):
    """What a cleanly loaded plugin registers, and the files that decide it."""

    chart_types: list[str]
    hooks: list[str]
    files: dict[str, int]
    """Path -> ``st_mtime_ns`` of the plugin's module files when it was recorded."""

    def current(self) -> bool:
        for path, mtime in self.files.items():
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    return False
            except OSError:
                return False
        return True


def switched_on(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """False when the variable ``name`` says ``off`` (or ``0``, ``no``, ``false``): a cache's switch."""
    env = os.environ if environ is None else environ
    return env.get(name, "").strip().lower() not in ("off", "0", "no", "false")


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    return switched_on(CACHE_ENV, environ)


_METADATA_SUFFIXES = (".dist-info", ".egg-info")


def _fingerprint() -> list[list[Any]]:
    """The installed distributions as cheaply as they can be told apart: the core's version,
    then each ``sys.path`` folder with its modification time and a checksum of the names of
    the distribution metadata folders in it (``name-version.dist-info``); a folder with
    no such folder counts by that alone, without its time or its name.

    Installing, upgrading or removing a distribution adds, renames or removes such a
    folder. The names catch what the modification time alone may not: the kernel's file
    times advance in ticks of a few ms, and an upgrade (old folder removed, new one
    written) can fall within one tick of the scan it must invalidate.
    """
    out: list[list[Any]] = [["firestream-core", __version__]]
    for entry in sys.path:
        folder = entry or "."
        try:
            mtime = os.stat(folder).st_mtime_ns
        except OSError:
            out.append([entry, None])
            continue
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(_METADATA_SUFFIXES))
        except OSError:  # a zip file, or not readable
            names = []
        # a folder holding no distribution (the project folder on sys.path as '' or '.', or
        # as its path under python -m; its time moves with every state write) is told apart
        # by having none: installing one into it adds a name, so neither its time nor its
        # name is needed, and either would only miss the cache
        out.append([entry if names else None, mtime if names else None,
                    zlib.crc32("\n".join(names).encode("utf-8", "surrogateescape"))])
    return out


def module_files(names: Iterable[str]) -> dict[str, int]:
    """``path -> st_mtime_ns`` of the named modules' source files (those that have one)."""
    files: dict[str, int] = {}
    for name in names:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path:
            try:
                files[path] = os.stat(path).st_mtime_ns
            except OSError:
                continue
    return files


class PluginCache:
    """The cache file of this interpreter and ``sys.path`` (see the module doc)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.enabled = enabled(env)
        self._dir = cache_dir(env)
        self._path: str | None = None
        self._seen: list[list[Any]] | None = None
        self._doc: dict[str, Any] | None = None
        self._dirty = False

    @property
    def path(self) -> str:
        """The file of this interpreter and installation. Naming it takes the installation's
        fingerprint, whose folders name it (those without distributions as one), when the
        file is first needed: a manager that never looks at entry points lists no folder."""
        if self._path is None:
            if self.enabled:
                self._seen = _fingerprint()
                folders: list[Any] = [entry[0] for entry in self._seen[1:]]
            else:
                folders = list(sys.path)
            key = zlib.crc32(json.dumps([sys.executable, folders]).encode("utf-8"))
            self._path = os.path.join(self._dir, f"plugins-{key:08x}.json")
        return self._path

    def _load(self) -> dict[str, Any]:
        if self._doc is None:
            doc: Any = None
            if self.enabled:
                try:
                    with open(self.path, encoding="utf-8") as f:
                        doc = json.loads(f.read())
                except (OSError, ValueError):
                    doc = None
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
                doc = {"format": _FORMAT}
            self._doc = doc
        return self._doc

    def entry_points(self) -> list[EntryPointRecord] | None:
        """The remembered entry points, or None when they may have changed.

        The installation's fingerprint is taken when the file is first named (here,
        before any scan): the scan that follows a miss is recorded under it, so a
        distribution installed while that scan runs changes the fingerprint and the next
        run scans again.
        """
        if not self.enabled:
            return None
        doc = self._load()  # names the file: the fingerprint is taken
        if doc.get("fingerprint") != self._seen or not isinstance(doc.get("entry_points"), list):
            return None
        try:
            return [EntryPointRecord(**e) for e in doc["entry_points"]]
        except TypeError:
            return None

    def set_entry_points(self, records: Iterable[EntryPointRecord]) -> None:
        """Remember ``records``, under the fingerprint :meth:`entry_points` saw before the scan."""
        doc = self._load()
        doc["fingerprint"] = self._seen if self._seen is not None else _fingerprint()
        doc["entry_points"] = [r._asdict() for r in records]
        self._dirty = True

    def plugin(self, ep: EntryPointRecord) -> PluginRecord | None:
        """What ``ep``'s plugin registered last time, if its files did not change since."""
        raw = self._load().get("plugins", {}).get(ep.key)
        if not isinstance(raw, dict):
            return None
        try:
            record = PluginRecord(**raw)
        except TypeError:
            return None
        return record if record.current() else None

    def set_plugin(self, ep: EntryPointRecord, record: PluginRecord) -> None:
        plugins = self._load().setdefault("plugins", {})
        raw = record._asdict()
        if plugins.get(ep.key) != raw:  # a plugin imported again as remembered: no rewrite
            plugins[ep.key] = raw
            self._dirty = True

    def forget_plugin(self, ep: EntryPointRecord) -> None:
        if self._load().get("plugins", {}).pop(ep.key, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Write the file if anything changed (atomically; errors ignored)."""
        if not (self.enabled and self._dirty and self._doc is not None):
            return
        try:
            folder, name = os.path.split(self.path)
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(json.dumps(self._doc))
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            return
        prune_stale(folder, keep=name)


STALE_DAYS = 30
"""A cache file nobody wrote for this long goes when another one is written."""
_CACHE_FILES = ("plugins-", ".plugins-", "attrs-code-")


def prune_stale(folder: str, *, keep: str) -> None:
    """Remove firestream's cache files in ``folder`` that nobody wrote for :data:`STALE_DAYS`
    (and a crashed write's temporary files), ``keep`` aside: there is one plugin cache per
    interpreter and ``sys.path`` and one code cache per Python version and format, and
    virtual environments and Pythons come and go (a CI job's, a tox env's, an upgrade's).
    Errors are ignored; a file still in use is only made again."""
    cutoff = time.time() - STALE_DAYS * 86400
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for other in names:
        if other == keep or not other.startswith(_CACHE_FILES):
            continue
        path = os.path.join(folder, other)
        try:
            if os.stat(path).st_mtime < cutoff:
                os.unlink(path)
        except OSError:
            continue


def scan_entry_points() -> list[EntryPointRecord]:
    """Read the installed distributions' ``firestream.charts`` entry points (the slow way).

    Uses ``importlib_metadata`` (the design's library; measured faster than
    Python 3.11's ``importlib.metadata``: see docs/architecture.md).
    """
    import importlib_metadata

    from firestream_core.plugin.markers import ENTRY_POINT_GROUP

    records = []
    for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        dname = dver = None
        dist = getattr(ep, "dist", None)
        if dist is not None:
            try:
                dname = dist.name if getattr(dist, "name", None) else dist.metadata["Name"]
                dver = dist.version
            except Exception:  # metadata of a half-installed distribution
                pass
        records.append(EntryPointRecord(ep.name, ep.value, dname, dver))
    return records
