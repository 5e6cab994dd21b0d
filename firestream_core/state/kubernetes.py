"""State in the cluster, for teams: the state in a Secret, the lock as a Lease.

``[state] backend = "kubernetes"`` keeps firestream's state where every
machine deploying the project can reach it, in the target cluster::

    Secret  <namespace>/<name>   data["state.json"]: the state file's JSON
                                 (data["state.json.gz"]: gzip-compressed, over 512 KiB)
    Lease   <namespace>/<name>   coordination.k8s.io/v1: the project lock

``namespace`` defaults to ``firestream`` and ``name`` to
``firestream-state-<project name>``; both objects (and the namespace) are
created when missing. See ``docs/state.md`` ("State in the cluster").

The lock works the way controllers elect a leader (client-go's
``leaderelection``):

* **Acquiring** reads the Lease. Missing: create it (of two creators the API
  server lets exactly one win: 409 AlreadyExists). Free (no holder) or
  expired (``renewTime + leaseDurationSeconds`` passed): replace it with
  ``metadata.resourceVersion`` set to the version just read, so of two
  takers exactly one succeeds and the other gets 409 Conflict, re-reads and
  finds it held. Held and live: refuse (``StateLockedError`` naming the
  holder) or, with a timeout, poll until it is free or expired.
* **Holding**: a daemon thread renews ``renewTime`` every
  ``leaseDurationSeconds / 3``, with the same precondition. A holder that
  dies stops renewing, and its lease expires.
* **Releasing** stops the thread and clears ``holderIdentity`` (only while
  the lease is still this holder's).

Expiry is judged with this machine's clock against the holder's
``renewTime``: clocks must agree to well within the lease duration (NTP).

Every object goes to kubectl on stdin (``create``/``replace -f -``); the
state holds values' digests only, never values.

During a run the Secret is written in batches, not once per release:
:meth:`KubernetesStateBackend.save_release` marks the state changed and a
flusher thread replaces the Secret at most ``BATCH_DELAY`` seconds later with
everything recorded by then; :meth:`KubernetesStateBackend.flush` at the end of
the run writes what is left. A run killed outright loses at most the
releases of its last ``BATCH_DELAY`` seconds from the state (the next plan
still starts from what helm reports as deployed).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import getpass
import gzip
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.errors import FirestreamError, StateError, StateLockedError
from firestream_core.state.lock import LockInfo, ProjectLock, flock_held
from firestream_core.state.store import State, register_backend
from firestream_core.tools.cache_folder import cache_dir
from firestream_core.tools.digest import sha256
from firestream_core.tools.host import pid_alive

if TYPE_CHECKING:
    from firestream_core.tools.kubectl import Kubectl

__all__ = [
    "DATA_KEY",
    "DEFAULT_LEASE_DURATION",
    "DEFAULT_NAMESPACE",
    "KubernetesStateBackend",
    "LeaseHolder",
    "LeaseLock",
    "LeaseRecord",
    "format_micro_time",
    "holder_identity",
    "parse_time",
    "run_marker",
    "state_object_name",
]

log = logging.getLogger("firestream.kubestate")

DEFAULT_NAMESPACE = "firestream"
DEFAULT_LEASE_DURATION = 30
"""Seconds a lease holds without being renewed (``[state] lease_duration``)."""
DATA_KEY = "state.json"
"""The key of the Secret's ``data`` holding the state document."""
GZIP_KEY = "state.json.gz"
"""The key holding it gzip-compressed instead, once it is over :data:`PLAIN_LIMIT`."""
PLAIN_LIMIT = 512 * 1024
"""Bytes of state JSON kept readable in the Secret; a bigger state is stored compressed.

A Secret holds at most 1 MiB, and a release's entry is about 2 KB of JSON (its
digests): as it is (base64, a third more), 1 MiB holds some 370 releases;
compressed, at least 3 times more (about 720 bytes a release when every digest
differs), and many more when releases share settings.
"""
SECRET_LIMIT = 1024 * 1024 - 16 * 1024
"""What the state's ``data`` may take: a Secret's 1 MiB, less room for its metadata."""
COMMAND_ANNOTATION = "firestream.dev/command"
MANAGED_BY = {"app.kubernetes.io/managed-by": "firestream"}
LEASE_API = "coordination.k8s.io/v1"
_CALL_TIMEOUT = 60.0
BATCH_DELAY = 0.5
"""Most seconds a release recorded during a run waits before the Secret holds it."""
"""Seconds one kubectl call of the backend may take."""
_RETRIES = 5
"""Read-then-write rounds before giving up on a lease that keeps changing hands."""
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_UNLOCK_HINT = (
    "wait for it with --lock-timeout SECONDS; if that run is over, its lease expires "
    "{duration}s after its last renewal, or remove it now with: firestream state unlock --force"
)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -- times and names ----------------------------------------------------------------------


def format_micro_time(when: datetime) -> str:
    """A Kubernetes ``MicroTime``: ``2026-01-02T03:04:05.123456Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seconds_text(when: datetime | None) -> str:
    if when is None:
        return "an unknown time"
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: Any) -> datetime | None:
    """A ``Time``/``MicroTime`` string as an aware UTC datetime; None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def holder_identity(random: str | None = None) -> str:
    """``<user>@<host>:<pid>:<random>``: who holds a lease, unique per acquisition."""
    return f"{_user()}@{socket.gethostname()}:{os.getpid()}:{random or secrets.token_hex(4)}"


def _user() -> str:
    """This process's user, as a holder's identity names it."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return str(os.getuid())


def state_object_name(project_name: str) -> str:
    """``firestream-state-<project>``, made a valid object name (lower case, ``-``)."""
    slug = re.sub(r"[^a-z0-9.-]+", "-", project_name.lower()).strip("-.")
    return f"firestream-state-{slug}"[:253].rstrip("-.")


def _check_name(kind: str, value: str) -> str:
    if not value or len(value) > 253 or not _NAME.match(value):
        raise StateError(
            f"[state] {kind} {value!r} is not a valid Kubernetes name "
            "(lower case letters, digits, '-' and '.', starting and ending with a letter or digit)"
        )
    return value


# -- the lease record ---------------------------------------------------------------------


@attrs.frozen
class LeaseHolder(LockInfo):
    """A Lease's holder, as ``firestream state`` shows it (a :class:`LockInfo`).

    :ivar identity: ``spec.holderIdentity`` (``user@host:pid:random``).
    :ivar renewed_ago: seconds since ``renewTime`` when it was read.
    :ivar expired: the lease had expired when it was read.
    """

    identity: str = ""
    renewed_ago: float = 0.0
    expired: bool = False

    def __str__(self) -> str:
        text = f"{self.identity} since {self.since} running '{self.command}'"
        text += f", renewed {int(self.renewed_ago)}s ago"
        return text + (" (expired)" if self.expired else "")


@attrs.frozen
class LeaseRecord:
    """A ``coordination.k8s.io/v1`` Lease as read.

    :ivar holder: ``spec.holderIdentity``; None when free.
    :ivar duration: ``spec.leaseDurationSeconds``.
    :ivar acquire_time: ``spec.acquireTime``.
    :ivar renew_time: ``spec.renewTime``.
    :ivar transitions: ``spec.leaseTransitions``.
    :ivar resource_version: ``metadata.resourceVersion`` (the write precondition).
    :ivar command: what the holder runs (annotation ``firestream.dev/command``).
    """

    holder: str | None
    duration: int
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int
    resource_version: str
    command: str | None = None

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> LeaseRecord:
        spec = obj.get("spec") or {}
        meta = obj.get("metadata") or {}
        annotations = meta.get("annotations") or {}

        def number(key: str, default: int) -> int:
            try:
                return int(spec.get(key, default))
            except (TypeError, ValueError):
                return default

        return cls(
            holder=str(spec["holderIdentity"]) if spec.get("holderIdentity") else None,
            duration=number("leaseDurationSeconds", 0),
            acquire_time=parse_time(spec.get("acquireTime")),
            renew_time=parse_time(spec.get("renewTime")),
            transitions=number("leaseTransitions", 0),
            resource_version=str(meta.get("resourceVersion") or ""),
            command=annotations.get(COMMAND_ANNOTATION),
        )

    @property
    def last_renewal(self) -> datetime | None:
        return self.renew_time or self.acquire_time

    def expires_at(self) -> datetime | None:
        """``renewTime + leaseDurationSeconds``; None when the lease carries no time."""
        last = self.last_renewal
        return None if last is None else last + timedelta(seconds=max(self.duration, 0))

    def expired(self, now: datetime) -> bool:
        """True once ``renewTime + leaseDurationSeconds`` has passed (or the lease has no time)."""
        end = self.expires_at()
        return end is None or now >= end

    def free(self, now: datetime) -> bool:
        """Anyone may take it: nobody holds it, or its holder stopped renewing it."""
        return self.holder is None or self.expired(now)

    def renewed_ago(self, now: datetime) -> float:
        last = self.last_renewal
        return 0.0 if last is None else max(0.0, (now - last).total_seconds())

    def holder_info(self, now: datetime) -> LeaseHolder | None:
        """The holder as a ``LockInfo`` (pid, host and id parsed from the identity)."""
        if self.holder is None:
            return None
        who, pid, rand = _split_identity(self.holder)
        return LeaseHolder(
            pid=pid,
            host=who.split("@", 1)[-1],
            since=_seconds_text(self.acquire_time),
            command=self.command or "firestream",
            id=rand,
            identity=self.holder,
            renewed_ago=self.renewed_ago(now),
            expired=self.expired(now),
        )


def run_marker(identity: str) -> Path:
    """The file a lease holder keeps ``flock``-ed on its own host while it holds the lease,
    inherited by the programs it starts: ``<cache folder>/leases/<digest of identity>.lock``.
    Held after the holder was killed, it says that a helm it started still runs there."""
    digest = sha256(identity.encode("utf-8")).hexdigest()[:32]
    return Path(cache_dir(os.environ)) / "leases" / f"{digest}.lock"


def _of_this_host(identity: str) -> bool:
    """``identity`` (:func:`holder_identity`) names this host."""
    return _split_identity(identity)[0].rpartition("@")[2] == socket.gethostname()


def _split_identity(identity: str) -> tuple[str, int, str]:
    parts = identity.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return parts[0], int(parts[1]), parts[2]
    return identity, 0, ""


# -- the lock -----------------------------------------------------------------------------


class LeaseLock:
    """The project lock as a ``coordination.k8s.io/v1`` Lease (a context manager).

    :param kubectl: a :class:`~firestream_core.tools.kubectl.Kubectl` (``get``,
        ``create``, ``replace``).
    :param namespace: the Lease's namespace.
    :param name: the Lease's name.
    :param command: what this run does, shown to whoever finds the lease held.
    :param duration: ``leaseDurationSeconds`` written (at least 1).
    :param timeout: seconds to wait for a held lease; 0 refuses at once.
    :param clock: the current time (aware, UTC); injected by tests.
    :param sleep: waits between polls; injected by tests.
    :param poll_interval: seconds between two reads while waiting.
    :param ensure_namespace: called when the namespace is missing.
    :param identity: this holder's identity (default :func:`holder_identity`).
    """

    def __init__(
        self,
        kubectl: Any,
        namespace: str,
        name: str,
        command: str,
        *,
        duration: int = DEFAULT_LEASE_DURATION,
        timeout: float = 0.0,
        clock: Clock = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 1.0,
        ensure_namespace: Callable[[], None] | None = None,
        identity: str | None = None,
    ) -> None:
        if int(duration) < 1:
            raise StateError("[state] lease_duration must be at least 1s")
        self.kubectl = kubectl
        self.namespace = namespace
        self.name = name
        self.command = command
        self.duration = int(duration)
        self.timeout = float(timeout)
        self.clock = clock
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.identity = identity or holder_identity()
        self.info: LeaseHolder | None = None
        self.lost = threading.Event()
        """Set when the lease was taken away (force-unlocked, or expired and taken over)."""
        self._loss: str | None = None
        self._ensure_namespace = ensure_namespace
        self._record: LeaseRecord | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()
        self._marker: ProjectLock | None = None  # run_marker(identity), held with the lease
        self.unchecked: LeaseRecord | None = None
        """The expired lease this run took over from a holder whose programs it could not check
        (another host's or user's, or one still running): a helm of that run may still be
        changing a release it began (``deploy.plan.refuse_recovery_during``)."""

    def __repr__(self) -> str:
        return f"LeaseLock({self.where}, identity={self.identity!r})"

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def held(self) -> bool:
        return self._record is not None and not self.lost.is_set()

    @property
    def record(self) -> LeaseRecord | None:
        """The lease as this holder last wrote it."""
        return self._record

    def lost_reason(self) -> str | None:
        """Why this run can no longer count on the project lock; None while it holds it. A run
        stops starting releases when it says so (``Project.apply``).

        Lost: the lease was taken away (:meth:`renew_once` found another holder, or none).
        Or, as a Kubernetes leader steps down at its renew deadline, the lease was not
        renewed for longer than its duration (the API server out of reach): from then on
        another run may take it over, and this one cannot tell.
        """
        if self.lost.is_set():
            return self._loss
        rec = self._record
        if rec is None:
            return None
        ago = rec.renewed_ago(self.clock())
        if ago > self.duration:
            return (f"state lease {self.where} was not renewed for {int(ago)}s (lease duration "
                    f"{self.duration}s): another run may hold it now")
        return None

    # -- context manager ----------------------------------------------------------------
    def __enter__(self) -> LeaseLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    # -- acquiring ----------------------------------------------------------------------
    def acquire(self, *, renew: bool = True) -> LeaseHolder:
        """Take the lease or raise ``StateLockedError`` naming its holder.

        :param renew: start the renewing thread (tests drive :meth:`renew_once`).
        """
        if self._record is not None:
            raise StateError(f"state lease {self.where}: this lock object already holds it")
        deadline = self.clock() + timedelta(seconds=self.timeout)
        waited = False
        while True:
            try:
                info = self.try_acquire()
                break
            except StateLockedError as exc:
                left = (deadline - self.clock()).total_seconds()
                if left <= 0:
                    raise
                if not waited:
                    log.warning("%s; waiting up to %ss for it", exc, int(self.timeout))
                    waited = True
                self.sleep(min(self.poll_interval, left))
        self._hold_marker()
        if renew:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._renew_loop, name=f"lease-renew-{self.name}", daemon=True
            )
            self._thread.start()
        return info

    def try_acquire(self) -> LeaseHolder:
        """One attempt: create, take over a free or expired lease, or raise ``StateLockedError``."""
        for _ in range(_RETRIES):
            obj = self.kubectl.get("lease", self.name, namespace=self.namespace)
            now = self.clock()
            if obj is None:
                created = self._create(self._manifest(now, now, transitions=0))
                if created is None:  # another run created it first: read theirs
                    continue
                return self._own(created, now)
            old = LeaseRecord.from_object(obj)
            if not old.free(now):
                raise self._locked(old, now)
            checked = old.holder is not None and self._refuse_while_its_programs_run(old.holder)
            body = self._manifest(now, now, transitions=old.transitions + 1, version=old.resource_version)
            replaced = self.kubectl.replace(body, timeout=_CALL_TIMEOUT)
            if replaced is None:  # 409: someone wrote it since we read it; read again
                continue
            if old.holder is not None:
                log.warning(
                    "took over state lease %s from %s: not renewed for %ds (lease duration %ds), "
                    "so that run is gone; what it was doing may be unfinished",
                    self.where, old.holder, int(old.renewed_ago(now)), old.duration,
                )
            self.unchecked = old if old.holder is not None and not checked else None
            return self._own(replaced, now)
        raise StateLockedError(
            f"state lease {self.where} keeps changing hands", hint=_UNLOCK_HINT.format(duration=self.duration)
        )

    def _hold_marker(self) -> None:
        """Hold :func:`run_marker` of this holder while it holds the lease (its ``flock``
        inherited by every program this run starts). Best effort: without it, only a run on
        another host, or after that helm ended, could take over safely; say so and go on.
        Only an identity naming this host has one: no other host's run looks for it."""
        if not _of_this_host(self.identity):
            return
        marker = ProjectLock(run_marker(self.identity).parent, self.command, path=run_marker(self.identity))
        try:
            marker.acquire()
        except StateError as exc:
            log.warning("cannot mark this run's programs on this host (%s): a run taking over this "
                        "lease after a kill -9 will not see a helm it left running", exc)
            return
        self._marker = marker

    def _refuse_while_its_programs_run(self, holder: str) -> bool:
        """The expired lease of ``holder``: when it was this host's and its process is gone,
        a program it started (a helm outliving a ``kill -9``, changing a release) may still
        hold its :func:`run_marker`: refuse (``StateLockedError``, so ``--lock-timeout``
        waits) until that ends. A holder still running (stalled past its lease) is taken
        over, as before: it stops starting releases at its next renewal.

        :return: True when nothing that holder started runs any more (checked here), False
            when it could not be checked (another host's or user's holder, one still running, or
            one whose file is not in this run's cache folder).
        """
        who, pid, _ = _split_identity(holder)
        if not _of_this_host(holder) or who.rpartition("@")[0] != _user() or pid_alive(pid):
            return False
        marker = run_marker(holder)
        if not marker.exists():  # kept in another cache folder (or never made): not seen from here
            return False
        if flock_held(marker):
            raise StateLockedError(
                f"state lease {self.where} of {holder} expired, and that process is gone, but a "
                f"program it started still runs on this host and holds {marker} (a helm of the "
                "killed run may still be changing a release)",
                hint="wait for it to end, then run again (--lock-timeout SECONDS waits for it)",
            )
        with contextlib.suppress(FileNotFoundError):
            marker.unlink()  # its holder and everything it started are gone
        return True

    def _create(self, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.kubectl.create(body, timeout=_CALL_TIMEOUT)
        except FirestreamError as exc:
            if self._ensure_namespace is None or not _namespace_missing(exc, self.namespace):
                raise
        self._ensure_namespace()
        return self.kubectl.create(body, timeout=_CALL_TIMEOUT)

    def _own(self, obj: Mapping[str, Any], now: datetime) -> LeaseHolder:
        self._record = LeaseRecord.from_object(obj)
        self.lost.clear()
        info = self._record.holder_info(now)
        assert info is not None
        self.info = info
        return info

    def _locked(self, rec: LeaseRecord, now: datetime) -> StateLockedError:
        running = f" (running '{rec.command}')" if rec.command else ""
        return StateLockedError(
            f"state lease {self.where} is held by {rec.holder} since {_seconds_text(rec.acquire_time)}, "
            f"renewed {int(rec.renewed_ago(now))}s ago{running}",
            hint=_UNLOCK_HINT.format(duration=rec.duration),
        )

    def _manifest(
        self,
        acquire: datetime | None,
        renew: datetime,
        *,
        transitions: int,
        version: str | None = None,
        clear: bool = False,
    ) -> dict[str, Any]:
        """The Lease as this holder writes it; ``clear`` leaves ``holderIdentity`` out (released)."""
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": dict(MANAGED_BY),
        }
        if not clear:
            meta["annotations"] = {COMMAND_ANNOTATION: self.command}
        if version:
            meta["resourceVersion"] = version
        spec: dict[str, Any] = {
            "leaseDurationSeconds": self.duration,
            "renewTime": format_micro_time(renew),
            "leaseTransitions": transitions,
        }
        if acquire is not None:
            spec["acquireTime"] = format_micro_time(acquire)
        if not clear:
            spec["holderIdentity"] = self.identity
        return {"apiVersion": LEASE_API, "kind": "Lease", "metadata": meta, "spec": spec}

    # -- holding ------------------------------------------------------------------------
    def renew_once(self) -> bool:
        """Move ``renewTime`` to now; False (and :attr:`lost` set) when the lease is no longer ours."""
        with self._mutex:
            rec = self._record
            if rec is None or self.lost.is_set():
                return False
            for _ in range(_RETRIES):
                body = self._manifest(
                    rec.acquire_time, self.clock(), transitions=rec.transitions,
                    version=rec.resource_version,
                )
                replaced = self.kubectl.replace(body, timeout=_CALL_TIMEOUT)
                if replaced is not None:
                    self._record = LeaseRecord.from_object(replaced)
                    return True
                current = self.kubectl.get("lease", self.name, namespace=self.namespace)
                now_rec = LeaseRecord.from_object(current) if current is not None else None
                if now_rec is None or now_rec.holder != self.identity:
                    self._lose(now_rec)
                    return False
                rec = now_rec  # still ours (someone touched labels): retry on its version
            return True

    def _lose(self, now_rec: LeaseRecord | None) -> None:
        who = now_rec.holder if now_rec is not None else None
        self._loss = (f"state lease {self.where} is now held by {who}" if who
                      else f"state lease {self.where} was removed or released by someone else")
        self.lost.set()
        log.error("lost the project lock: %s; this run starts no more releases", self._loss)

    def _renew_loop(self) -> None:
        interval = max(self.duration / 3.0, 0.1)
        while not self._stop.wait(interval):
            try:
                if not self.renew_once():
                    return
            except Exception as exc:  # noqa: BLE001 - keep renewing; the next try may work
                log.warning("could not renew state lease %s (will retry): %s", self.where, exc)

    # -- releasing ----------------------------------------------------------------------
    def release(self) -> None:
        """Stop renewing and clear the holder (only while the lease is still ours). Idempotent."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        marker, self._marker = self._marker, None
        try:
            with self._mutex:
                rec, self._record = self._record, None
                if rec is None or self.lost.is_set():
                    return
                try:
                    self._clear(rec)
                except FirestreamError as exc:
                    log.warning(
                        "could not release state lease %s (it expires %ds after its last renewal): %s",
                        self.where, self.duration, exc,
                    )
        finally:
            if marker is not None:
                marker.release()

    def _clear(self, rec: LeaseRecord) -> None:
        for _ in range(_RETRIES):
            body = self._manifest(
                rec.acquire_time, self.clock(), transitions=rec.transitions,
                version=rec.resource_version, clear=True,
            )
            if self.kubectl.replace(body, timeout=_CALL_TIMEOUT) is not None:
                return
            current = self.kubectl.get("lease", self.name, namespace=self.namespace)
            now_rec = LeaseRecord.from_object(current) if current is not None else None
            if now_rec is None or now_rec.holder != self.identity:
                log.warning("state lease %s was taken from this run meanwhile; left as it is", self.where)
                return
            rec = now_rec


def _namespace_missing(exc: BaseException, namespace: str) -> bool:
    text = f"{exc} {getattr(exc, 'stderr', '')}"
    return f'namespaces "{namespace}" not found' in text


# -- the backend --------------------------------------------------------------------------


class KubernetesStateBackend:
    """The state in Secret ``<namespace>/<name>``, the lock as Lease ``<namespace>/<name>``.

    :param project_dir: the project's folder (unused: the state is in the cluster).
    :param namespace: ``[state] namespace`` (default ``firestream``).
    :param name: ``[state] name`` (default ``firestream-state-<project_name>``).
    :param lease_duration: ``[state] lease_duration`` (``"30s"``, or seconds).
    :param project_name: ``[project] name``; needed when ``name`` is not given.
    :param kubectl: the :class:`~firestream_core.tools.kubectl.Kubectl` to use
        (default: ``kubectl`` with its own kubeconfig).
    :param clock: the current time (tests).
    :param path: ``[state] path`` belongs to the local backend: refused here.
    """

    def __init__(
        self,
        project_dir: Path | str | None = None,
        *,
        namespace: str | None = None,
        name: str | None = None,
        lease_duration: str | int | None = None,
        project_name: str | None = None,
        kubectl: Kubectl | Any | None = None,
        clock: Clock = _utcnow,
        path: str | None = None,
    ) -> None:
        from firestream_core.model import parse_duration

        if path is not None:
            raise StateError(
                "[state] path applies to the local backend only; "
                "the kubernetes backend keeps the state in a Secret"
            )
        if name is None:
            if not project_name:
                raise StateError(
                    "the kubernetes state backend needs [project] name or [state] name, "
                    "so that every machine finds the same state",
                    hint='set  name = "<project>"  in the [project] table of firestream.toml',
                )
            name = state_object_name(project_name)
        self.namespace = _check_name("namespace", namespace or DEFAULT_NAMESPACE)
        self.name = _check_name("name", name)
        try:
            duration = DEFAULT_LEASE_DURATION if lease_duration is None else parse_duration(str(lease_duration))
        except ValueError as exc:
            raise StateError(f"[state] lease_duration: {exc}") from None
        if duration < 1:
            raise StateError("[state] lease_duration must be at least 1s")
        self.lease_duration = duration
        if kubectl is None:
            from firestream_core.tools.kubectl import Kubectl

            kubectl = Kubectl()
        self.kubectl = kubectl
        self.clock = clock
        self._write_lock = threading.Lock()
        self._version: str | None = None  # resourceVersion of the Secret last read or written
        self._based = False  # load() or save() has set _version
        self._batch = threading.Condition()
        self._dirty: State | None = None  # recorded by save_release, not yet written
        self._flusher: threading.Thread | None = None
        self._failure: BaseException | None = None  # the flusher's last error, raised by the next call
        self._unflushed = False  # save_release was called since the last flush

    def __repr__(self) -> str:
        return f"KubernetesStateBackend({self.describe()})"

    def describe(self) -> str:
        return f"secret {self.namespace}/{self.name}"

    # -- the state ----------------------------------------------------------------------
    def load(self) -> State:
        """The state in the Secret; an empty state when there is none yet.

        Remembers the Secret's ``resourceVersion``: the next :meth:`save`
        replaces it only if nobody wrote it in between.
        """
        obj = self.kubectl.get("secret", self.name, namespace=self.namespace)
        with self._write_lock:
            self._version = None if obj is None else str(obj["metadata"]["resourceVersion"])
            self._based = True
        return State() if obj is None else self._parse(obj)

    def recovery_hint(self) -> str:
        """How to get going again with a damaged state Secret (it is never changed)."""
        return (
            f"the Secret was left untouched; 'kubectl get secret -n {self.namespace} {self.name} -o yaml' "
            "shows it; restore its data from a backup, or delete it to start from an empty state "
            f"('kubectl delete secret -n {self.namespace} {self.name}'; the cluster keeps what is deployed: "
            "'firestream import deployment' adopts a release again)"
        )

    def _parse(self, obj: Mapping[str, Any]) -> State:
        source = f"state {self.describe()}"
        hint = self.recovery_hint()
        held = obj.get("data") or {}
        if held.get(GZIP_KEY) is not None:
            try:
                text = gzip.decompress(base64.b64decode(held[GZIP_KEY], validate=True))
                data = json.loads(text.decode("utf-8"))
            except (binascii.Error, OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
                raise StateError(f"{source}: {GZIP_KEY} is not base64-encoded gzip of JSON: {exc}",
                                 hint=hint) from None
            return State.from_dict(data, source=source, hint=hint)
        raw = held.get(DATA_KEY)
        if raw is None:
            raise StateError(f"{source}: no {DATA_KEY!r} key: it is not a firestream state Secret", hint=hint)
        try:
            data = json.loads(base64.b64decode(raw, validate=True).decode("utf-8"))
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise StateError(f"{source}: {DATA_KEY} is not base64-encoded JSON: {exc}", hint=hint) from None
        return State.from_dict(data, source=source, hint=hint)

    def _data(self, state: State) -> dict[str, str]:
        """The Secret's ``data``: the state file's JSON, gzip-compressed once over :data:`PLAIN_LIMIT`."""
        text = (json.dumps(state.to_dict(), indent=2, sort_keys=False) + "\n").encode("utf-8")
        if len(text) <= PLAIN_LIMIT:
            return {DATA_KEY: base64.b64encode(text).decode("ascii")}
        packed = base64.b64encode(gzip.compress(text, compresslevel=9, mtime=0)).decode("ascii")
        if len(packed) > SECRET_LIMIT:
            raise StateError(
                f"state {self.describe()}: the state of {len(state.releases)} releases is "
                f"{len(packed) // 1024} KiB compressed, more than a Secret holds (1 MiB); not written",
                hint="keep this project's state in a file ([state] backend = \"local\") or split the project",
            )
        return {GZIP_KEY: packed}

    def save(self, state: State) -> None:
        """Write the state into the Secret (created, with its namespace, when missing).

        The write carries the ``resourceVersion`` last read or written, so a
        state changed by someone else meanwhile is never overwritten: that
        raises ``StateError``. A save with no :meth:`load` before it takes
        the Secret as it is now as its base. Thread-safe.
        """
        with self._write_lock:
            if not self._based:
                current = self.kubectl.get("secret", self.name, namespace=self.namespace)
                self._version = None if current is None else str(current["metadata"]["resourceVersion"])
                self._based = True
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(MANAGED_BY)},
                "data": self._data(state),
            }
            if self._version is None:
                written = self._create(body)
            else:
                body["metadata"]["resourceVersion"] = self._version
                written = self.kubectl.replace(body, timeout=_CALL_TIMEOUT)
            if written is None and self._version is not None and self.kubectl.get(
                    "secret", self.name, namespace=self.namespace) is None:
                raise StateError(  # kubectl says the same of a Secret deleted by hand meanwhile
                    f"state {self.describe()} was deleted while this run went on; not recreated",
                    hint="what this run deployed stays in the cluster: run again, and the next plan "
                    "starts from what is deployed (the history and duration estimates are lost)",
                )
            if written is None:
                raise StateError(
                    f"state {self.describe()} was changed by another firestream run since this one read it; "
                    "not overwritten",
                    hint="was its lease removed with 'firestream state unlock --force' while a run went on? "
                    "run again: the next plan starts from what is deployed",
                )
            self._version = str(written["metadata"]["resourceVersion"])

    def save_release(self, state: State, key: str) -> None:
        """Record that ``state`` changed at ``key``: the Secret holds it within ``BATCH_DELAY`` seconds.

        One Secret update covers every release recorded meanwhile. Raises
        the error of an earlier batch's write (a conflict, the cluster gone).
        """
        with self._batch:
            self._raise_failure()
            self._dirty = state
            self._unflushed = True
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_loop, daemon=True,
                                                 name="firestream-state-flush")
                self._flusher.start()
            self._batch.notify()

    def flush(self, state: State) -> None:
        """Write what is left (the whole ``state``, when anything was recorded) and stop the flusher."""
        with self._batch:
            flusher, self._flusher = self._flusher, None
            self._dirty = None
            unflushed, self._unflushed = self._unflushed, False
            self._batch.notify()
        if flusher is not None:
            flusher.join()
        with self._batch:
            self._raise_failure()
        if unflushed:
            self.save(state)

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _flush_loop(self) -> None:
        """The flusher: wait for a change, let more gather for ``BATCH_DELAY``, write them at once."""
        me = threading.current_thread()
        while True:
            with self._batch:
                while self._dirty is None and self._flusher is me:
                    self._batch.wait()
                deadline = time.monotonic() + BATCH_DELAY
                while self._flusher is me and (left := deadline - time.monotonic()) > 0:
                    self._batch.wait(left)  # flush() wakes it: the run's end writes at once
                if self._flusher is not me:
                    return
                state, self._dirty = self._dirty, None
            if state is None:
                continue
            try:
                self.save(state)
            except BaseException as exc:  # noqa: BLE001 - handed to the run's next call
                with self._batch:
                    self._failure = exc

    def _create(self, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.kubectl.create(body, timeout=_CALL_TIMEOUT)
        except FirestreamError as exc:
            if not _namespace_missing(exc, self.namespace):
                raise
        self.ensure_namespace()
        return self.kubectl.create(body, timeout=_CALL_TIMEOUT)

    def ensure_namespace(self) -> None:
        """Create the namespace (nothing when another run just did)."""
        log.info("creating namespace %s for the firestream state", self.namespace)
        self.kubectl.create(
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": self.namespace, "labels": dict(MANAGED_BY)}},
            timeout=_CALL_TIMEOUT,
        )

    # -- the lock -----------------------------------------------------------------------
    def lock(self, command: str, *, timeout: float = 0.0) -> LeaseLock:
        """The project lock: Lease ``<namespace>/<name>`` (see :class:`LeaseLock`)."""
        return LeaseLock(
            self.kubectl,
            self.namespace,
            self.name,
            command,
            duration=self.lease_duration,
            timeout=timeout,
            clock=self.clock,
            ensure_namespace=self.ensure_namespace,
        )

    def _lease(self) -> LeaseRecord | None:
        obj = self.kubectl.get("lease", self.name, namespace=self.namespace)
        return None if obj is None else LeaseRecord.from_object(obj)

    def lock_holder(self) -> LeaseHolder | None:
        """The lease's holder (``expired`` tells whether it still counts), or None."""
        rec = self._lease()
        return None if rec is None else rec.holder_info(self.clock())

    def force_unlock(self) -> LeaseHolder | None:
        """Clear the lease's holder whoever it is (``firestream state unlock --force``).

        A run still holding it notices at its next renewal, logs that it
        lost the lease, and stops renewing.

        :return: the holder cleared (its identity is always readable: a lease names it
            in ``spec.holderIdentity``), or None only when no lease or no holder was there
            (the :class:`~firestream_core.state.store.StateBackend` contract).
        """
        for _ in range(_RETRIES):
            rec = self._lease()
            if rec is None or rec.holder is None:
                return None
            now = self.clock()
            clearing = LeaseLock(self.kubectl, self.namespace, self.name, "firestream state unlock",
                                 duration=max(rec.duration, 1), clock=self.clock)
            body = clearing._manifest(rec.acquire_time, now, transitions=rec.transitions,
                                      version=rec.resource_version, clear=True)
            if self.kubectl.replace(body, timeout=_CALL_TIMEOUT) is not None:
                info = rec.holder_info(now)
                log.warning("removed the lock of %s", info)
                return info
        raise StateLockedError(f"state lease {self.namespace}/{self.name} keeps changing hands; try again")


def _factory(project_dir: Path | str, **options: Any) -> KubernetesStateBackend:
    return KubernetesStateBackend(project_dir, **options)


register_backend("kubernetes", _factory)
