"""What firestream applied, and why: the state file and its backends.

The cluster (helm's own release records) stays the source of truth for what
is deployed. The state records what firestream applied to each release
(chart, version, values digest, revision, validation and test results), how
long it took (the scheduler's estimates for the next run) and how it ended.

The default backend is a local file, ``<project>/.firestream/state.json``,
read by :meth:`StateStore.load` and written atomically by
:meth:`StateStore.save` (temp file in the same folder, flush, fsync, rename,
fsync of the folder): a crash leaves either the old file or the new one.

During a run each finished release costs O(1), not a rewrite of the whole
file: :meth:`StateStore.save_release` appends one line (the release's entry
and duration, or its removal) to the journal beside the
file (``state.journal`` for ``state.json``, ``state.<env>.journal`` for an
environment's ``state.<env>.json``), and :meth:`StateStore.flush` at the end of the run folds the journal
into ``state.json`` (compaction) and removes it. :meth:`StateStore.load`
replays a journal a crashed run left, so the next run sees everything that
run recorded, and compacts it when that run ends. Every journal line *sets*
a key to its final value, so replaying a line twice (a crash between
compaction and the journal's removal) changes nothing.
Other backends (state in a Kubernetes Secret, the lock as a Lease) implement
:class:`StateBackend` and register with :func:`register_backend`. See
``docs/state.md``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs
import cattrs

from firestream_core.errors import StateError
from firestream_core.state.lock import (
    LOCK_NAME,
    STATE_DIR,
    LockInfo,
    ProjectLock,
    cannot_write,
    force_unlock,
    lock_path,
    make_state_dir,
    read_lock,
    utc_now,
)
from firestream_core.tools.readfile import UnreadableFile, read_bounded

__all__ = [
    "DEPLOY_ACTIONS",
    "SCHEMA_VERSION",
    "STATE_FILE",
    "LastSuccess",
    "ReleaseState",
    "State",
    "StateBackend",
    "StateStore",
    "StateWriter",
    "open_backend",
    "register_backend",
    "release_key",
    "utc_now",
]

_log = logging.getLogger("firestream.state")

SCHEMA_VERSION = 1
"""Version of the state file layout this firestream reads and writes."""

STATE_FILE = "state.json"
JOURNAL_FILE = "state.journal"
"""Per-release changes since the last compaction, one JSON line each (see the module doc)."""
MAX_STATE_BYTES = 64 * 1024 * 1024
"""The largest state file (and journal) read: 64 MiB, some 30,000 releases' entries. A larger
file, or anything but a regular file (``/dev/zero``, a FIFO), is refused naming it."""
STATE_MODE = 0o600
"""The state file's and the journal's mode: the owner's alone. They hold digests of the values,
secrets included, and a digest of a weak secret can be guessed offline by whoever reads it."""

JOURNAL_HINT = (
    "the journal holds what a run that did not end recorded, and was left untouched; move it "
    "aside to go on without those records (state.json keeps the rest, and the cluster keeps what "
    "is deployed: the next plan compares with it)"
)
"""How to go on with a journal that cannot be replayed (every refusal of one says it)."""

DEPLOY_ACTIONS = frozenset({"create", "upgrade", "recover", "reinstall", "import"})
"""Actions whose successful durations feed the scheduler's estimates."""

_SMOOTHING = 0.5
"""Weight of the newest duration in the recorded moving average."""


def release_key(namespace: str, name: str) -> str:
    """The key of a release in the state: ``namespace/name``."""
    return f"{namespace}/{name}"


@attrs.frozen
class LastSuccess:
    """The last successful apply of a release, kept in the records that followed it and failed.

    :ivar revision: helm's revision that apply left.
    :ivar action: its action (``create``, ``upgrade``, ``import``, ``rollback``...).
    :ivar applied_at: ISO 8601 UTC time it ended.
    """

    revision: int
    action: str
    applied_at: str


@attrs.define
class ReleaseState:
    """What firestream last did to one release.

    :ivar chart_type: the ``[[deployments.<type>]]`` it came from.
    :ivar chart: the chart reference given to helm (``repo/chart``, path or OCI URL).
    :ivar version: the chart version applied, when known.
    :ivar values_digest: digest of the merged values (never the values).
    :ivar revision: helm's revision after the action, when there is one.
    :ivar applied_at: ISO 8601 UTC time the action ended.
    :ivar action: ``create``, ``upgrade``, ``recover``, ``reinstall``,
        ``destroy``, ``import``, ``no-op``.
    :ivar result: ``succeeded``, ``failed``, ``skipped``, ``cancelled``, ...
    :ivar duration: seconds the release's lifecycle took.
    :ivar stage_failed: the lifecycle stage that failed, if any.
    :ivar validations: the validation results, one mapping each
        (``name``, ``status``, ``message``).
    :ivar tests: ``helm test`` results, None when tests were not run.
    :ivar chart_digest: content digest of a local chart's files
        (``chartfiles.chart_digest``), None for a repository or OCI chart and
        in entries written before firestream recorded it (such files load
        as they are; the schema version is unchanged).
    :ivar desired_digest: digest of the release's whole desired state
        (``deploy.desired.DesiredState.digest``: values, chart files, chart-type
        options, helm settings), None in entries written before it was recorded.
    :ivar desired_parts: the digest of each part of it (``option kafka_cluster``,
        ``setting timeout``...), so the next plan names what changed; never a value.
    :ivar last_success: in a record that is not a success (a failed apply), the
        last successful one before it (:class:`LastSuccess`), carried forward
        by :meth:`State.record` so that ``firestream rollback`` still finds it;
        None in a successful record and in entries written before it was
        recorded (they load as they are). See :meth:`last_successful`.
    :ivar error: a release that did not succeed: its error as the run reported it,
        redacted (``firestream status`` shows it); None otherwise and in entries
        written before it was recorded.
    :ivar secret_paths: the values paths the release's ``secret_values`` set when it
        was applied (paths only, never a value), so that the next plan still shows
        the value helm holds there as ``(sensitive)`` once the config no longer
        declares it (a ``secret_values`` entry removed, or replaced by an
        environment's). A record that is not a successful deploy keeps the previous
        record's paths as well (helm may hold either release's values). None in
        entries written before it was recorded and when there were none.
    :ivar cluster: the API server the action was taken on (the kubeconfig's ``server`` URL,
        credentials removed: :mod:`~firestream_core.tools.kubeconfig`); None when it was not
        known and in entries written before it was recorded. A record made on another cluster
        (one state used with two kubeconfigs) says nothing of this one (:meth:`made_elsewhere`).
    """

    name: str
    namespace: str
    chart_type: str
    chart: str
    version: str | None
    values_digest: str
    revision: int | None
    applied_at: str
    action: str
    result: str
    duration: float
    stage_failed: str | None = None
    validations: list[dict[str, Any]] = attrs.field(factory=list)
    tests: list[dict[str, Any]] | None = None
    chart_digest: str | None = None
    desired_digest: str | None = None
    desired_parts: dict[str, str] | None = None
    last_success: LastSuccess | None = None
    error: str | None = None
    secret_paths: list[str] | None = None
    cluster: str | None = None

    @property
    def key(self) -> str:
        return release_key(self.namespace, self.name)

    def made_elsewhere(self, cluster: str | None) -> bool:
        """True when this record was made on another API server than ``cluster`` (both known):
        its revision, digests and last success are that cluster's.

        >>> rec = ReleaseState("web", "shop", "generic", "repo/web", "1.0.0", "sha256:ab", 3,
        ...                    "2026-01-02T03:04:05Z", "upgrade", "succeeded", 2.5, cluster="https://a:6443")
        >>> rec.made_elsewhere("https://b:6443"), rec.made_elsewhere("https://a:6443"), rec.made_elsewhere(None)
        (True, False, False)
        """
        return bool(cluster and self.cluster and self.cluster != cluster)

    def last_successful(self) -> LastSuccess | None:
        """The release's last successful apply: this record when it succeeded with a
        revision, else the one carried forward (``last_success``), else None.

        >>> ok = ReleaseState("web", "shop", "generic", "repo/web", "1.0.0", "sha256:ab", 3,
        ...                   "2026-01-02T03:04:05Z", "upgrade", "succeeded", 2.5)
        >>> ok.last_successful()
        LastSuccess(revision=3, action='upgrade', applied_at='2026-01-02T03:04:05Z')
        >>> attrs.evolve(ok, result="failed", revision=4).last_successful() is None
        True
        """
        if self.result == "succeeded" and self.revision is not None:
            return LastSuccess(self.revision, self.action, self.applied_at)
        return self.last_success


@attrs.define
class State:
    """The whole state: releases by ``namespace/name`` and their durations.

    ``record`` and ``forget`` may be called from the scheduler's worker
    threads; :meth:`StateStore.save` takes a consistent snapshot.
    """

    releases: dict[str, ReleaseState] = attrs.field(factory=dict)
    durations: dict[str, float] = attrs.field(factory=dict)
    schema_version: int = SCHEMA_VERSION
    _lock: threading.RLock = attrs.field(factory=threading.RLock, eq=False, repr=False, alias="_lock")

    def record(self, entry: ReleaseState) -> ReleaseState:
        """Store ``entry`` under its key, replacing the previous one; returns what was stored.

        An entry that is not a success keeps the previous record's last
        successful apply in ``last_success`` (:meth:`ReleaseState.last_successful`),
        so a failed apply does not lose the revision ``firestream rollback``
        returns to (not when the previous record was made on another cluster). A successful deploy action (``DEPLOY_ACTIONS``) also
        updates the release's duration estimate (a moving average).
        """
        with self._lock:
            previous = self.releases.get(entry.key)
            # (another cluster's last success is no revision of this cluster's to roll back to)
            if previous is not None and entry.last_success is None and not previous.made_elsewhere(entry.cluster):
                if not (entry.result == "succeeded" and entry.revision is not None):
                    entry = attrs.evolve(entry, last_success=previous.last_successful())
            if previous is not None and previous.secret_paths and not (
                entry.result == "succeeded" and entry.action in DEPLOY_ACTIONS
            ):  # helm may still hold the previous values: their secrets stay secret
                paths = sorted(set(previous.secret_paths) | set(entry.secret_paths or ()))
                entry = attrs.evolve(entry, secret_paths=paths)
            self.releases[entry.key] = entry
            if entry.result == "succeeded" and entry.action in DEPLOY_ACTIONS:
                old = self.durations.get(entry.key)
                new = float(entry.duration)
                self.durations[entry.key] = (
                    new if old is None else _SMOOTHING * new + (1 - _SMOOTHING) * old
                )
        return entry

    def forget(self, key: str) -> ReleaseState | None:
        """Remove a release (after it was destroyed); its duration is kept."""
        with self._lock:
            return self.releases.pop(key, None)

    def get(self, namespace: str, name: str) -> ReleaseState | None:
        return self.releases.get(release_key(namespace, name))

    def estimates_for(self, releases: Iterable[tuple[str, str, str]]) -> dict[str, float]:
        """Scheduler estimates for ``(node name, namespace, name)`` triples with a recorded duration."""
        out: dict[str, float] = {}
        with self._lock:
            for node, namespace, name in releases:
                d = self.durations.get(release_key(namespace, name))
                if d is not None:
                    out[node] = d
        return out

    def journal_line(self, key: str) -> str:
        """One journal line setting ``key`` to what this state holds now (entry and duration)."""
        with self._lock:
            entry = self.releases.get(key)
            line = {
                "key": key,
                "entry": None if entry is None else _converter.unstructure(entry),
                "duration": self.durations.get(key),
            }
        return json.dumps(line, separators=(",", ":")) + "\n"

    def replay(self, line: Mapping[str, Any], *, source: str = "journal", hint: str = JOURNAL_HINT) -> None:
        """Apply one journal line (idempotent: it sets the key's entry and duration).

        :param hint: how to go on when the line is refused (default: :data:`JOURNAL_HINT`).
        """
        key = line.get("key")
        if not isinstance(key, str):
            raise StateError(f"{source}: a line without a release key", hint=hint)
        raw = line.get("entry")
        with self._lock:
            if raw is None:
                self.releases.pop(key, None)
            else:
                entry = _structure(raw, ReleaseState, f"$.{key}", source, hint)
                if entry.key != key:
                    raise StateError(f"{source}: release key {key!r} does not match {entry.key!r}", hint=hint)
                self.releases[key] = entry
            duration = line.get("duration")
            if duration is not None:  # checked as state.json's durations are
                self.durations[key] = _structure(duration, float, f"$.{key}.duration", source, hint)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document written to the state file."""
        with self._lock:
            return {
                "schema_version": SCHEMA_VERSION,
                "releases": {k: _converter.unstructure(v) for k, v in sorted(self.releases.items())},
                "durations": dict(sorted(self.durations.items())),
            }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "state", hint: str | None = None) -> State:
        """Parse a state document; raises ``StateError`` naming ``source``.

        :param hint: how to recover from a damaged document where ``source`` keeps it
            (default: :func:`recovery_hint`, for a state file).
        """
        hint = hint or recovery_hint(source)
        if not isinstance(data, Mapping):
            raise StateError(
                f"{source}: not a JSON object (it holds {_json_kind(data)})", hint=hint
            )
        version = data.get("schema_version")
        if "schema_version" not in data:
            raise StateError(f"{source}: no schema_version: not a firestream state", hint=hint)
        if not isinstance(version, int) or isinstance(version, bool):
            raise StateError(
                f"{source}: schema_version is {_json_kind(version)} {json.dumps(version)[:40]}, "
                f"expected the number {SCHEMA_VERSION}",
                hint=hint,
            )
        if version != SCHEMA_VERSION:
            newer = version > SCHEMA_VERSION
            raise StateError(
                f"{source}: unknown state schema version {version!r} (this firestream reads {SCHEMA_VERSION})"
                + (": written by a newer firestream" if newer else ""),
                hint="it was written by a newer firestream; upgrade firestream (the state is left as it is)"
                if newer
                else hint,
            )
        releases = _structure(data.get("releases", {}), dict[str, ReleaseState], "$.releases", source, hint)
        durations = _structure(data.get("durations", {}), dict[str, float], "$.durations", source, hint)
        for key, entry in releases.items():
            if key != entry.key:
                raise StateError(
                    f"{source}: release key {key!r} does not match {entry.key!r}", hint=hint
                )
        return cls(releases=releases, durations=durations)


_converter = cattrs.Converter(forbid_extra_keys=False)


def recovery_hint(source: str) -> str:
    """How to get going again with a damaged state (the file itself is never changed)."""
    return (
        "the file was left untouched (the error above names what is wrong in it); restore it from a backup, "
        "or move it aside to start from an empty state (the cluster keeps what is deployed: "
        "'firestream import deployment' adopts a release again)"
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def _structure(value: Any, kind: Any, path: str, source: str, hint: str | None = None) -> Any:
    """``value`` as ``kind``, or ``StateError`` listing every problem with its path."""
    try:
        return _converter.structure(value, kind)
    except Exception as exc:  # cattrs raises exception groups
        problems = cattrs.transform_error(exc, path=path)
        raise StateError(f"{source}: invalid state: " + "; ".join(problems),
                         hint=hint or recovery_hint(source)) from None


# -- backends ---------------------------------------------------------------------------


@runtime_checkable
class StateBackend(Protocol):
    """Where the state and the lock live. The local file is the default.

    A backend keeping the state in a Kubernetes Secret and the lock as a
    ``coordination.k8s.io`` Lease (renewed while the run goes on, expiring
    when its holder dies) implements the same methods.
    """

    def describe(self) -> str:
        """Where the state is, for messages (a path, ``secret ns/name``)."""
        ...

    def load(self) -> State:
        """The stored state; an empty ``State`` when there is none yet."""
        ...

    def save(self, state: State) -> None:
        """Store ``state`` atomically: a reader sees the old or the new one."""
        ...

    def lock(self, command: str, *, timeout: float = 0.0) -> AbstractContextManager[Any]:
        """The project lock; entering raises ``StateLockedError`` naming the holder.

        :param command: shown to whoever finds the lock taken.
        :param timeout: seconds to wait for a held lock (0: fail at once).
        """
        ...

    def lock_holder(self) -> LockInfo | None:
        """Who holds the lock now, or None."""
        ...

    def force_unlock(self) -> LockInfo | None:
        """Remove the lock whoever holds it; say what was removed.

        :return: the holder removed; when a lock was there but its holder could not be
            read, a :class:`~firestream_core.state.lock.UnknownHolder` (a ``LockInfo``);
            None only when there was no lock (``firestream state unlock --force`` then
            prints ``the project was not locked``).
        """
        ...


@runtime_checkable
class StateWriter(Protocol):
    """A backend that records one release at a time at O(1) cost (see :class:`StateStore`).

    A :class:`~firestream_core.deploy.run.Run` calls :meth:`save_release`
    after each release and :meth:`flush` once at its end; a backend without
    these methods gets :meth:`StateBackend.save` after each release.
    """

    def save_release(self, state: State, key: str) -> None:
        """Make what ``state`` holds for ``key`` (its entry or its absence) durable."""
        ...

    def flush(self, state: State) -> None:
        """Everything recorded is durable in the backend's compact form."""
        ...


class StateStore:
    """The local backend: ``<project>/.firestream/state.json`` and ``.firestream/lock``.

    :param project_dir: the folder holding ``firestream.toml``.
    :param path: the state file (default ``<project_dir>/.firestream/state.json``;
        one per environment: ``state.<env>.json``). Its journal is beside it, named
        after it (``state.journal``, ``state.<env>.journal``): each state file has
        its own, so one environment's crashed run is never replayed into another's.
        A symbolic link stands for its target: the state is read and written there
        (the link stays), its journal and (outside the project) its lock beside it.
    :param legacy: where this state was kept before it had a file of its own (a project file
        other than ``firestream.toml``: ``.firestream/state.json``). While ``path`` and its
        journal do not exist, :meth:`load` reads ``legacy`` instead, and the first write
        makes that ``path``'s content; then ``legacy`` is removed.
    :param legacy_shared: ``legacy`` is also the state of another project file of the folder
        (``firestream.toml``), which keeps it: only the records (and durations) of the
        releases of these names are taken from it, and it stays as it is.
    """

    def __init__(self, project_dir: Path | str, *, path: Path | str | None = None,
                 legacy: Path | str | None = None, legacy_shared: Collection[str] | None = None) -> None:
        self.project_dir = Path(project_dir)
        self.path = self.project_dir / STATE_DIR / STATE_FILE if path is None else Path(path)
        self.legacy = None if legacy is None else StateStore(project_dir, path=legacy)
        self.legacy_shared = legacy_shared
        self._adopted = legacy is None  # this file exists: no legacy state to take over any more
        self.link: Path | None = None  # the link self.path was given as, for messages
        if self.path.is_symlink():  # the state is its target: read, written (the link kept), journalled
            self.link, self.path = self.path, Path(os.path.realpath(self.path))  # and locked there
        self._write_lock = threading.Lock()
        self._journal_fd: int | None = None
        self._sync = threading.Condition(self._write_lock)
        self._unsynced = False  # lines written since the last fdatasync
        self._syncer: threading.Thread | None = None
        self._journal_torn: StateError | None = None  # a line cut short could not be cut off

    @property
    def dir(self) -> Path:
        """The folder holding the state file and its journal."""
        return self.path.parent

    @property
    def journal(self) -> Path:
        """The state file's own journal: ``state.json`` -> ``state.journal``."""
        return self.path.with_name(f"{self.path.stem}.journal" if self.path.suffix == ".json"
                                   else f"{self.path.name}.journal")

    def describe(self) -> str:
        return str(self.path) if self.link is None else f"{self.link} -> {self.path}"

    def load(self) -> State:
        """Read the state file; a missing file is an empty state.

        Raises ``StateError`` naming the file when it cannot be read, is not
        JSON, or has another schema version.
        """
        if self.legacy is not None and self._adopting():
            state = self.legacy.load()  # this project's records, kept the old way
            if self.legacy_shared is not None:  # and the other project file's: not this one's
                names = set(self.legacy_shared)
                state = State(releases={k: e for k, e in state.releases.items() if e.name in names},
                              durations={k: d for k, d in state.durations.items()
                                         if k.partition("/")[2] in names})
            return state
        try:
            text = read_bounded(self.path, MAX_STATE_BYTES).decode("utf-8")
        except UnreadableFile as exc:
            if exc.missing:
                state = State()
                self._replay_journal(state)  # a first run that crashed
                return state
            raise StateError(f"state file {self.describe()} {exc.reason}", hint=recovery_hint(str(self.path))) from None
        except UnicodeDecodeError as exc:
            raise StateError(
                f"state file {self.describe()} is not UTF-8 text (byte {exc.start})", hint=recovery_hint(str(self.path))
            ) from None
        if not text.strip():
            raise StateError(f"state file {self.describe()} is empty", hint=recovery_hint(str(self.path)))
        try:
            data = json.loads(text)
        except RecursionError:
            raise StateError(f"state file {self.describe()} is nested too deeply", hint=recovery_hint(str(self.path))) from None
        except ValueError as exc:
            raise StateError(
                f"state file {self.describe()} is not valid JSON: {exc}", hint=recovery_hint(str(self.path))
            ) from None
        state = State.from_dict(data, source=f"state file {self.describe()}")
        self._replay_journal(state)
        return state

    def _adopting(self) -> bool:
        """This state has no file yet and :attr:`legacy` holds its records: they are read from
        there, and its first write (whoever loaded the state it writes) makes this file."""
        if not self._adopted:
            assert self.legacy is not None
            self._adopted = not self._unwritten() or self.legacy._unwritten()
        return not self._adopted

    def _unwritten(self) -> bool:
        """Neither the state file nor its journal exists (a link counts, even a broken one)."""
        return not os.path.lexists(self.path) and not os.path.lexists(self.journal)

    def _adopt(self, state: State) -> None:
        """Before the first write of a state :meth:`load` read from :attr:`legacy` (write lock
        held): ``state`` (the legacy records and this run's) becomes this file; the legacy
        file and its journal are removed when no other project file keeps them."""
        self._write(state)  # when it fails, the next write tries again: nothing is lost
        self._adopted = True
        assert self.legacy is not None
        if self.legacy_shared is not None:
            _log.warning("this project file's state is now %s: its releases' records were copied "
                         "from %s, which stays the state of the folder's firestream.toml",
                         self.describe(), self.legacy.describe())
            return
        for old in (self.legacy.path, self.legacy.journal):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(old)
        _log.warning("moved the state %s to %s", self.legacy.describe(), self.describe())

    def _replay_journal(self, state: State) -> None:
        """Apply the journal a run left (crashed, or still going): its lines in order.

        A last line cut short (the machine lost power mid-write) is ignored:
        that release was in flight.
        """
        try:
            lines = read_bounded(self.journal, MAX_STATE_BYTES).split(b"\n")
        except UnreadableFile as exc:
            if exc.missing:
                return
            raise StateError(f"state journal {self.journal} {exc.reason}",
                             hint=JOURNAL_HINT) from None
        source = f"state journal {self.journal}"
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                if number == len(lines):  # torn last line, no newline after it
                    break
                raise StateError(f"{source}: line {number} is not valid JSON",
                                 hint=JOURNAL_HINT) from None
            if not isinstance(line, Mapping):
                raise StateError(f"{source}: line {number} is not a JSON object", hint=JOURNAL_HINT)
            state.replay(line, source=f"{source} line {number}")

    def save(self, state: State) -> None:
        """Write the state atomically: temp file, flush, fsync, rename, fsync of the folder.

        Safe to call from several threads: the snapshot and the write are
        serialised together, so the file never goes back to an older snapshot.
        """
        with self._write_lock:
            if self._adopting():
                self._adopt(state)
            else:
                self._write(state)

    def _write(self, state: State) -> None:
        """The atomic write of :meth:`save` (write lock held)."""
        text = json.dumps(state.to_dict(), indent=2, sort_keys=False) + "\n"
        make_state_dir(self.dir, "state")
        try:
            atomic_write(self.path, text, mode=STATE_MODE)
        except OSError as exc:  # the old file and the journal stay: the next load replays it
            raise cannot_write("state", self.path, exc) from None
        self._drop_journal()

    def save_release(self, state: State, key: str) -> None:
        """Append ``key``'s entry and duration to the journal: one ``write`` (O_APPEND).

        Safe to call from several threads. When it returns the line is in
        the file (a kill -9 of firestream loses nothing recorded: the kernel
        holds it); a syncer thread ``fdatasync``s the journal right behind
        the writers, one sync for every line written meanwhile, so a lost
        machine loses at most the lines of the sync in flight.
        """
        line = state.journal_line(key).encode("utf-8")
        with self._write_lock:
            if self._journal_torn is not None:
                raise StateError(str(self._journal_torn), hint=self._journal_torn.hint)
            if self._adopting():  # the journal would replay onto an empty state: the records first
                self._adopt(state)
            if self._journal_fd is None:
                make_state_dir(self.dir, "state")
                try:
                    fd = os.open(self.journal, os.O_RDWR | os.O_APPEND | os.O_CREAT, STATE_MODE)
                except OSError as exc:
                    raise cannot_write("state", self.journal, exc) from None
                try:
                    _cut_torn_tail(fd)
                except OSError as exc:
                    os.close(fd)
                    raise cannot_write("state", self.journal, exc) from None
                self._journal_fd = fd
            self._append(self._journal_fd, line)
            self._unsynced = True
            if self._syncer is None:
                self._syncer = threading.Thread(target=self._sync_loop, args=(self._journal_fd,),
                                                daemon=True, name="firestream-journal-sync")
                self._syncer.start()
            self._sync.notify()

    def _append(self, fd: int, line: bytes) -> None:
        """Write the whole ``line`` at the journal's end (write lock held), or ``StateError``.

        A write the disk refuses half-way (full) leaves the line cut short: it is cut off
        again, so the journal keeps whole lines only; when even that fails, the cut line stays
        the journal's last (a reader ignores it) and nothing more is appended in this run.
        """
        written = 0
        try:
            while written < len(line):
                written += _write(fd, line[written:])
        except OSError as exc:
            error = cannot_write("state", self.journal, exc)
            if written:
                try:
                    os.ftruncate(fd, os.fstat(fd).st_size - written)
                except OSError:
                    self._journal_torn = error
            raise error from None

    def _sync_loop(self, fd: int) -> None:
        """fdatasync the journal whenever lines were written since the last sync.

        The thread owns ``fd`` from then on: once the journal is compacted
        away it closes it and ends. Its first sync also syncs the journal's folder, so the
        journal this run may have made is on disk with its lines (a power cut would otherwise
        lose the file, synced lines and all).
        """
        folder_synced = False
        while True:
            with self._sync:
                while not self._unsynced and self._journal_fd == fd:
                    self._sync.wait()
                if self._journal_fd != fd:
                    os.close(fd)
                    return
                self._unsynced = False
            try:
                os.fdatasync(fd)
                if not folder_synced:
                    _sync_folder(self.dir)
                    folder_synced = True
            except OSError as exc:  # the lines stay in the kernel's hands; flush writes them all again
                _log.warning("cannot sync the state journal %s: %s", self.journal, exc.strerror or exc)

    def flush(self, state: State) -> None:
        """Compact: the whole state into ``state.json`` (atomically), then the journal removed.

        Nothing to do when there is no journal (no release recorded, no crash before).
        """
        if self._journal_fd is None and not self.journal.exists():
            return
        self.save(state)

    def _drop_journal(self) -> None:
        """After a compaction (write lock held): the journal's lines are all in ``state.json``."""
        if self._journal_fd is not None:
            self._journal_fd = None  # its syncer closes the descriptor and ends
            self._syncer = None
            self._unsynced = False
            self._sync.notify_all()
        try:
            os.unlink(self.journal)
        except FileNotFoundError:
            pass
        except OSError as exc:  # state.json holds every line: replaying them again changes nothing
            _log.warning("cannot remove the state journal %s: %s", self.journal, exc.strerror or exc)
        self._journal_torn = None

    @property
    def lock_file(self) -> Path:
        """The lock guarding this state: ``.firestream/lock`` of the project for a state file
        inside the project's folder, or, for one kept outside it (``[state] path =
        "/srv/state/shop.json"``, shared by several checkouts or projects), ``lock`` beside
        it: whoever shares the state shares its lock, so two runs never write one state
        (nor deploy its releases) at once."""
        if self.dir.resolve().is_relative_to(self.project_dir.resolve()):
            return lock_path(self.project_dir)
        return self.dir / LOCK_NAME

    def lock(self, command: str, *, timeout: float = 0.0) -> ProjectLock:
        return ProjectLock(self.project_dir, command, timeout=timeout, path=self.lock_file)

    def lock_holder(self) -> LockInfo | None:
        return read_lock(self.project_dir, path=self.lock_file)

    def force_unlock(self) -> LockInfo | None:
        return force_unlock(self.project_dir, path=self.lock_file)


def _cut_torn_tail(fd: int) -> None:
    """Cut off a last line a crashed run left cut short (no newline after it), before appending.

    ``load`` ignores such a line because it is the last; a line appended after it would
    join it into one line that is not JSON, in the middle of the journal, which
    ``load`` refuses (and that appended release would be lost).
    """
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        if end == size and chunk.endswith(b"\n"):
            return  # whole lines only
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            os.ftruncate(fd, start + newline + 1)
            return
        end = start
    if size:
        os.ftruncate(fd, 0)


def _write(fd: int, data: bytes) -> int:
    """``os.write``: one place a test can make the disk full."""
    return os.write(fd, data)


def atomic_write(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new content."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """fsync ``folder``: the names made, replaced or removed in it are on disk."""
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# -- backend registry ----------------------------------------------------------------------

BackendFactory = Callable[..., StateBackend]
_BACKENDS: dict[str, BackendFactory] = {"local": StateStore}
_BUILTIN_MODULES = {"kubernetes": "firestream_core.state.kubernetes"}
"""Built-in backends imported when first named (a Secret and a Lease: ``kubestate.py``)."""


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``[state] backend = "<name>"`` available.

    :param factory: called as ``factory(project_dir, **options)`` with the
        ``[state]`` table's other keys as ``options``.
    """
    _BACKENDS[name] = factory


def open_backend(name: str, project_dir: Path | str, /, **options: Any) -> StateBackend:
    """The backend configured by ``[state] backend = name`` (``local`` by default).

    ``name`` and ``project_dir`` are positional only: the ``[state]`` table's other keys
    come as ``options``, and one of them may be called ``name`` (the kubernetes backend's
    ``[state] name``).
    """
    if name not in _BACKENDS and name in _BUILTIN_MODULES:
        import importlib

        importlib.import_module(_BUILTIN_MODULES[name])  # registers itself
    factory = _BACKENDS.get(name)
    if factory is None:
        known = ", ".join(sorted(_BACKENDS))
        raise StateError(f"unknown state backend {name!r} (available: {known})")
    return factory(project_dir, **options)
