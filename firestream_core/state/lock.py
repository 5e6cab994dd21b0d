"""The project lock: two firestream runs never change the same project at once.

``.firestream/lock`` is a JSON file naming the holder (pid, host, time,
command). The holder also keeps an ``flock`` on that file for as long as it
runs, which the kernel drops when the process dies, however it dies::

    with ProjectLock(project_dir, "firestream apply"):
        ...  # a second run fails at once with StateLockedError naming this one

* Acquiring creates the file with ``os.open(O_CREAT | O_EXCL)``: of two
  processes, exactly one creates it. It locks the file before writing into
  it, so a file with content always has a live ``flock`` unless its holder
  is gone.
* The other one opens the existing file and tries the ``flock`` without
  waiting. Held: it reads the holder and raises ``StateLockedError`` at once
  (or retries until ``timeout``). Not held: the holder is gone. If the file
  names this host and its pid is no longer running, the lock is taken over
  with a warning: the ``flock`` just obtained makes this race-free, as only
  one process can hold it, and the file is rewritten in place (same inode)
  while it is held. A lock from another host is never taken over; neither
  is one whose pid still runs (the pid may have been reused: then
  ``firestream state unlock --force``).
* Releasing removes the file (only when it is still this holder's file) and
  then drops the ``flock``; ``__exit__`` runs on every exit, KeyboardInterrupt
  included.
* The programs the holder starts (helm, kubectl) inherit the locked
  descriptor (``tools/process.py``'s ``keep_open_in_children``): the ``flock``
  is the open file's, so it stays held while one of them runs. A holder
  killed outright (``kill -9``) leaves its helm running in its own session;
  its lock is taken over only once that helm has ended too, so the next run
  never plans a release that helm is still changing as ``pending-*`` and
  "recovers" it under that helm.

See ``docs/state.md``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import attrs

from firestream_core.errors import StateError, StateLockedError
from firestream_core.tools.host import pid_alive
from firestream_core.tools.process import keep_open_in_children, stop_keeping_open_in_children
from firestream_core.tools.readfile import LOCK_FILE_LIMIT, UnreadableFile, read_bounded

__all__ = [
    "LOCK_NAME",
    "LockInfo",
    "ProjectLock",
    "UnknownHolder",
    "cannot_write",
    "flock_held",
    "force_unlock",
    "lock_path",
    "make_state_dir",
    "read_lock",
]

log = logging.getLogger(__name__)

STATE_DIR = ".firestream"
LOCK_NAME = "lock"
_UNLOCK_HINT = "if that run is over, remove the lock with: firestream state unlock --force"
_YOUNG = 5.0
"""Seconds during which an empty lock file is taken to be still being written."""


_WRITE_HINT = (
    "make the project folder writable (and free some disk space), then run again; what helm "
    "deployed stays in the cluster, and the next plan finds it"
)


def cannot_write(what: str, path: Path | str, exc: OSError) -> StateError:
    """``cannot write the <what> at <path>: <the system's reason>``, with how to go on: a full
    disk, a read-only folder, a folder where a file belongs."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, IsADirectoryError):
        reason += " (a folder is where this file belongs: move it aside)"
    return StateError(f"cannot write the {what} at {path}: {reason}", hint=_WRITE_HINT)


def make_state_dir(path: Path, what: str) -> None:
    """Create the project's ``.firestream`` folder ``path`` if needed, or ``StateError``
    (``cannot write the state at .../.firestream: ...``) when it cannot be: a read-only
    project folder, a full disk, a file of that name."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file (or a broken link) of that name
        raise StateError(
            f"cannot write the {what} at {path}: it is not a folder",
            hint=f"move {path} aside: firestream keeps its state and lock in that folder",
        ) from None
    except OSError as exc:
        raise cannot_write(what, path, exc) from None


def lock_path(project_dir: Path | str) -> Path:
    """Where a project's lock file lives: ``<project>/.firestream/lock``."""
    return Path(project_dir) / STATE_DIR / LOCK_NAME


def _hostname() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it (the kernel's node name),
    without importing ``socket`` (start-up of every command that takes the lock)."""
    return os.uname().nodename


def utc_now() -> str:
    """The current time as ISO 8601 UTC with seconds (``2026-01-02T03:04:05Z``)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@attrs.frozen
class LockInfo:
    """Who holds a lock. ``id`` tells one acquisition from another."""

    pid: int
    host: str
    since: str
    command: str
    id: str = ""

    def __str__(self) -> str:
        return f"pid {self.pid} on host {self.host} since {self.since} running '{self.command}'"

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), sort_keys=True) + "\n"

    @classmethod
    def parse(cls, text: str) -> LockInfo | None:
        """The info in a lock file's text, or None when it is empty or not ours."""
        try:
            data = json.loads(text)
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                since=str(data["since"]),
                command=str(data["command"]),
                id=str(data.get("id", "")),
            )
        except (ValueError, TypeError, KeyError):
            return None

    @classmethod
    def mine(cls, command: str) -> LockInfo:
        return cls(os.getpid(), _hostname(), utc_now(), command, os.urandom(16).hex())


@attrs.frozen
class UnknownHolder(LockInfo):
    """What :func:`force_unlock` (and a backend's ``force_unlock``) returns for a lock it removed
    whose holder could not be read: a lock file that is empty, cut short or not firestream's.
    A :class:`LockInfo` (pid 0, empty host, time and command), so callers written for
    ``LockInfo | None`` keep working; None still means that there was no lock at all.

    >>> str(UnknownHolder())
    'an unknown holder (the lock file could not be read)'
    """

    pid: int = 0
    host: str = ""
    since: str = ""
    command: str = ""
    id: str = ""
    reason: str = "the lock file could not be read"

    def __str__(self) -> str:
        return f"an unknown holder ({self.reason})"


def _pid_running(pid: int) -> bool:
    """True when a process with ``pid`` exists on this host (any owner), other than this one."""
    # a lock file naming this very process but not locked by it comes from an earlier
    # process that had the same pid (containers reuse them)
    return pid != os.getpid() and pid_alive(pid)


def _exists(pid: int) -> bool:
    """Whether ``pid`` runs, for a message only (:func:`_pid_running` decides a takeover); a
    process killed a moment ago and not yet reaped (a zombie) does not."""
    if not pid_alive(pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _read(fd: int) -> str:
    """The lock file's text; one larger than ``LOCK_FILE_LIMIT`` is not ours (empty text)."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    left = LOCK_FILE_LIMIT + 1
    while left > 0 and (chunk := os.read(fd, min(left, 65536))):
        chunks.append(chunk)
        left -= len(chunk)
    return "" if left <= 0 else b"".join(chunks).decode("utf-8", "replace")


def _write(fd: int, text: str) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    data = text.encode()
    while data:
        data = data[os.write(fd, data) :]
    os.fsync(fd)


def _same_file(fd: int, path: Path) -> bool:
    """True when ``path`` still names the file open as ``fd``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def read_lock(project_dir: Path | str, *, path: Path | None = None) -> LockInfo | None:
    """The current holder recorded in the lock file, or None when unlocked.

    :param path: the lock file (default: :func:`lock_path` of ``project_dir``).
    """
    path = lock_path(project_dir) if path is None else Path(path)
    try:
        text = read_bounded(path, LOCK_FILE_LIMIT).decode("utf-8", errors="replace")
    except UnreadableFile as exc:  # a folder named lock, .firestream a file, a FIFO...
        if exc.missing:
            return None
        raise StateError(f"cannot read the lock at {path}: it {exc.reason}",
                         hint=f"move {path} aside if it is not firestream's lock file") from None
    return LockInfo.parse(text)


def flock_held(path: Path) -> bool:
    """True when a process holds ``path``'s ``flock``: a lock's holder, or a program it
    started that outlives it (the descriptor is inherited); False when it is free or there
    is no such file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        return not _flock_now(fd, path)
    finally:
        os.close(fd)  # drops the flock just taken, if it was


def _flock_now(fd: int, path: Path) -> bool:
    """Take ``fd``'s exclusive ``flock`` without waiting: False when another process holds it.

    :raises StateError: the file cannot be locked at all, naming ``path``.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise StateError(f"{path}: cannot lock: {exc.strerror}") from None
    return True


def force_unlock(project_dir: Path | str, *, lock_id: str | None = None,
                 path: Path | None = None) -> LockInfo | None:
    """Remove the project's lock whoever holds it (``firestream state unlock --force``).

    :param lock_id: when given, remove the lock only if it is this
        acquisition's (``LockInfo.id``), else raise ``StateError``.
    :return: what was removed: its holder, an :class:`UnknownHolder` when a lock file
        was there but could not be parsed (empty, cut short, not firestream's), or None
        only when there was no lock.

    A holder that is still running is not stopped: it notices before it
    starts its next release (:meth:`ProjectLock.lost_reason`) and starts none,
    while the releases it is running finish. Use this only when that run is
    known to be over.

    :param path: the lock file (default: :func:`lock_path` of ``project_dir``).
    """
    path = lock_path(project_dir) if path is None else Path(path)
    info = read_lock(project_dir, path=path)
    if lock_id is not None and (info is None or info.id != lock_id):
        raise StateError(f"{path}: the lock is not the one with id {lock_id} (held by {info or 'nobody'})")
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    removed = info if info is not None else UnknownHolder()
    log.warning("removed the lock of %s", removed)
    return removed


class ProjectLock:
    """The project's lock, as a context manager (also ``acquire()``/``release()``).

    :param project_dir: the folder holding ``firestream.toml``.
    :param command: what this run does, shown to whoever finds the lock taken
        (``firestream apply``).
    :param timeout: seconds to wait for a held lock; 0 fails at once.
    :param path: the lock file (default: :func:`lock_path` of ``project_dir``); a state
        kept outside the project's folder is locked beside it (``StateStore.lock_file``).
    """

    def __init__(self, project_dir: Path | str, command: str, *, timeout: float = 0.0,
                 path: Path | None = None) -> None:
        self.path = lock_path(project_dir) if path is None else Path(path)
        self.command = command
        self.timeout = timeout
        self.info: LockInfo | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def lost_reason(self) -> str | None:
        """Why this run can no longer count on the lock: its file was removed or replaced
        while it held it (``firestream state unlock --force``; another run may have taken
        it since). None while it is this run's. A run stops starting releases when it
        says so (``Project.apply``); two ``stat`` calls, asked before each release starts."""
        fd = self._fd
        if fd is None or _same_file(fd, self.path):
            return None
        return f"the project lock {self.path} was removed or replaced meanwhile; another run may hold it now"

    def __enter__(self) -> ProjectLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> LockInfo:
        """Take the lock or raise ``StateLockedError`` naming its holder."""
        if self._fd is not None:
            raise StateError(f"{self.path}: this lock object already holds the lock")
        make_state_dir(self.path.parent, "lock")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return self._try_once()
            except StateLockedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            except OSError as exc:  # read-only, full disk, a folder named lock: nothing taken
                raise cannot_write("lock", self.path, exc) from None

    def release(self) -> None:
        """Remove the lock file (if still ours) and drop the ``flock``. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.path):
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
            else:
                log.warning("%s was removed or replaced while this run held it", self.path)
        finally:
            stop_keeping_open_in_children(fd)
            os.close(fd)  # drops the flock (the children started meanwhile have ended)

    # -- one attempt ------------------------------------------------------------
    def _try_once(self) -> LockInfo:
        me = LockInfo.mine(self.command)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return self._contend(me)
        try:
            # Someone testing a stale lock may hold the flock for a moment; they
            # find the file empty and young and leave it, so a blocking wait is short.
            fcntl.flock(fd, fcntl.LOCK_EX)
            _write(fd, me.to_json())
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            raise
        return self._own(fd, me)

    def _contend(self, me: LockInfo) -> LockInfo:
        """The lock file exists: refuse, or take it over when its holder is gone."""
        for _ in range(100):  # each retry means the file was released meanwhile
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                return self._try_once()
            try:
                taken = self._take_over(fd, me)
            except BaseException:
                os.close(fd)
                raise
            if taken:
                return self._own(fd, me)
            os.close(fd)
        raise StateLockedError(f"{self.path}: the lock keeps changing hands", hint=_UNLOCK_HINT)

    def _take_over(self, fd: int, me: LockInfo) -> bool:
        """Decide about the existing lock file open as ``fd``.

        :return: True when it is now ours, False when it went away meanwhile
            (try again); raises ``StateLockedError`` when it is held.
        """
        if not _flock_now(fd, self.path):
            holder = self._holder(fd)
            if holder is not None and holder.host == _hostname() and not _exists(holder.pid):
                raise StateLockedError(
                    f"{self.path}: locked by {holder}: that process is gone, but a program it started "
                    "still runs and holds the lock (a helm of the killed run may still be changing a "
                    "release), or another run is taking the lock over right now",
                    hint="wait for it to end, then run again (--lock-timeout SECONDS waits for it); "
                    + _UNLOCK_HINT,
                )
            raise self._locked(holder, other_host=False)
        if not _same_file(fd, self.path):  # released and removed meanwhile
            return False
        holder = LockInfo.parse(_read(fd))
        if holder is None:
            if time.time() - os.fstat(fd).st_mtime < _YOUNG:  # its creator is writing it
                raise StateLockedError(
                    f"{self.path}: another firestream run is taking the lock right now",
                    hint=_UNLOCK_HINT,
                )
            log.warning("taking over an empty lock file left by a crashed run: %s", self.path)
        elif holder.host != _hostname():
            raise self._locked(holder, other_host=True)
        elif _pid_running(holder.pid):
            raise self._locked(holder, other_host=False)
        else:
            log.warning("taking over the lock of %s: that process is gone", holder)
        _write(fd, me.to_json())
        return True

    def _own(self, fd: int, me: LockInfo) -> LockInfo:
        self._fd, self.info = fd, me
        keep_open_in_children(fd)  # a helm outliving a kill -9 of this run keeps the flock held
        return me

    def _holder(self, fd: int) -> LockInfo | None:
        """Read the holder of a held lock, giving its writer a moment to finish."""
        for _ in range(10):
            holder = LockInfo.parse(_read(fd))
            if holder is not None:
                return holder
            time.sleep(0.02)
        return None

    def _locked(self, holder: LockInfo | None, *, other_host: bool) -> StateLockedError:
        who = str(holder) if holder else "another firestream run"
        if other_host:
            hint = "a lock from another host is never taken over; " + _UNLOCK_HINT
        else:
            hint = _UNLOCK_HINT
        return StateLockedError(f"{self.path}: locked by {who}", hint=hint)
