"""Dynamic DAG execution: a node starts the moment its own dependencies succeeded.

The scheduler knows nothing of helm. It is given a dependency mapping
(``name -> names it depends on``) and a callable doing one node's work, and
runs the callable on threads (the work is mostly waiting on helm
subprocesses), at most ``concurrency`` at once::

    result = Scheduler(concurrency=4).run(
        {"db": [], "cache": [], "api": ["db", "cache"], "web": ["api"]},
        deploy_one,
        estimates=state.estimates_for(...),
    )
    result.nodes["web"].status   # "succeeded", "failed", "skipped", ...

Unlike helmfile's layers, there is no barrier: ``api`` starts as soon as
``db`` and ``cache`` are done, whatever else is still running. When more
nodes are ready than there are free slots, the one heading the longest
remaining chain of work (weighted by ``estimates``) goes first, ties broken
by name. A failure skips only the node's transitive dependents. See
``docs/scheduling.md``.

One thread (the caller's) coordinates: it starts work, receives completions
from a queue and emits every event, so events are totally ordered and a
node's ``started`` event always follows the ``finished`` events of all of
its dependencies.

Ready nodes are dispatched at once: the worker threads are started before
the first node (as many as the widest level of the graph, more only when
more nodes are ready than workers are idle), and the coordinator hands every
ready node to them before it emits any event, so no node waits for another
one's set-up or for a thread to be created.
"""

from __future__ import annotations

import enum
import graphlib
import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar, runtime_checkable

import attrs

from firestream_core.errors import CancelledError, first_line

__all__ = [
    "NodeResult",
    "NodeStatus",
    "Outcome",
    "ScheduleResult",
    "Scheduler",
    "SchedulerEvent",
    "critical_path",
    "remaining_chain",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
"""What a node's work returns (a run's: the release's ``ReleaseOutcome``)."""

_POLL = 0.05
"""Seconds between wake-ups while waiting for work to end (keeps Ctrl-C responsive)."""


class NodeStatus(enum.StrEnum):
    """How a node ended. Compares equal to its string value."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # a dependency (dependent, in reverse) failed
    NOT_STARTED = "not_started"  # fail-fast or cancel stopped it from starting
    CANCELLED = "cancelled"  # it was running when the run was cancelled and did not succeed


@attrs.define
class NodeResult(Generic[T]):
    """One node's outcome: how the scheduling ended, and what the work returned.

    The scheduler runs any work; a run's node carries the release's own
    result as its ``value`` (``NodeResult[ReleaseOutcome]``), not a copy of it.

    :ivar status: a :class:`NodeStatus`.
    :ivar reason: why it ended so, for people (``dependency 'db' failed``);
        None for a plain success.
    :ivar error: the exception the work raised, if any.
    :ivar value: what the work returned (also when its ``.ok`` was false),
        None when it did not return.
    :ivar started: ``time.monotonic()`` when the work was started, or None.
    :ivar ended: ``time.monotonic()`` when the work returned, or None.
    :ivar blocked_by: for ``skipped``: the failed node that caused it.
    """

    name: str
    status: NodeStatus = NodeStatus.NOT_STARTED
    reason: str | None = None
    error: BaseException | None = None
    value: T | None = None
    started: float | None = None
    ended: float | None = None
    blocked_by: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds the work ran, or None when it did not run."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    @property
    def message(self) -> str:
        """``status`` plus ``reason``: ``skipped: dependency 'db' failed``."""
        return f"{self.status}: {self.reason}" if self.reason else str(self.status)


@attrs.frozen
class SchedulerEvent:
    """Something that happened to a node, for progress displays and tests.

    :ivar kind: ``started``, ``finished`` (status succeeded, failed or
        cancelled) or ``skipped``.
    :ivar time: ``time.monotonic()`` when the scheduler emitted it; events
        are emitted by one thread, in order.
    :ivar running: how many nodes were running right after this event.
    """

    kind: str
    name: str
    time: float
    status: NodeStatus | None = None
    reason: str | None = None
    running: int = 0


@attrs.define
class ScheduleResult(Generic[T]):
    """Every node's :class:`NodeResult` and the events of the run, in order.

    :ivar interrupted: a ``KeyboardInterrupt`` reached the scheduler (while it
        waited, or raised by a node's work on its worker thread); it
        cancelled the run and waited for the running work instead of
        propagating. The caller should exit with code 130.
    :ivar stopped: the reason ``stop_new`` gave, when it stopped the run from
        starting nodes (running ones finished); None otherwise.
    """

    nodes: dict[str, NodeResult[T]]
    events: list[SchedulerEvent] = attrs.field(factory=list)
    cancelled: bool = False
    interrupted: bool = False
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        """True when every node succeeded (satisfied nodes count as succeeded)."""
        return all(n.status is NodeStatus.SUCCEEDED for n in self.nodes.values())

    @property
    def makespan(self) -> float:
        """Seconds from the first start to the last end of any work (0 if none ran)."""
        starts = [n.started for n in self.nodes.values() if n.started is not None]
        ends = [n.ended for n in self.nodes.values() if n.ended is not None]
        return (max(ends) - min(starts)) if starts and ends else 0.0

    def with_status(self, status: NodeStatus | str) -> list[str]:
        """Names of the nodes that ended with ``status``, sorted."""
        return sorted(n.name for n in self.nodes.values() if n.status == status)

    @property
    def start_order(self) -> list[str]:
        """Names in the order their work started."""
        return [e.name for e in self.events if e.kind == "started"]


# -- graph helpers ---------------------------------------------------------------


def _edges(
    deps: Mapping[str, Sequence[str]], satisfied: frozenset[str], reverse: bool
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``(waits_for, released)`` among the nodes to run, in execution direction.

    ``waits_for[n]``: the nodes that must succeed before ``n`` starts;
    ``released[n]``: the nodes waiting for ``n``. Satisfied nodes are left
    out: they never block anything. Raises ``ValueError`` for an unknown
    name or a cycle.
    """
    known = set(deps) | satisfied
    for name, needs in deps.items():
        if isinstance(needs, str):
            raise ValueError(f"dependencies of '{name}' must be a sequence of names, not a string")
        for d in needs:
            if d not in known:
                raise ValueError(f"'{name}' depends on '{d}', which is not a node of this run")
    todo = [n for n in deps if n not in satisfied]
    waits_for: dict[str, set[str]] = {n: set() for n in todo}
    released: dict[str, set[str]] = {n: set() for n in todo}
    for name in todo:
        for d in deps[name]:
            if d in satisfied:
                continue
            before, after = (name, d) if reverse else (d, name)
            waits_for[after].add(before)
            released[before].add(after)
    try:
        graphlib.TopologicalSorter(waits_for).prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1] if len(exc.args) > 1 else []
        raise ValueError("dependency cycle: " + " -> ".join(map(str, cycle))) from None
    return waits_for, released


def _weights(names: Iterable[str], estimates: Mapping[str, float] | None) -> dict[str, float]:
    """Each node's estimated duration: known ones as given, others the mean of the known."""
    names = list(names)
    if not estimates:
        return dict.fromkeys(names, 1.0)
    wanted = set(names)
    known = [float(v) for k, v in estimates.items() if k in wanted and v is not None]
    default = (sum(known) / len(known)) if known else 1.0
    return {n: max(0.0, float(estimates.get(n, default))) for n in names}


def _chains(released: Mapping[str, set[str]], weight: Mapping[str, float]) -> dict[str, float]:
    """Longest weighted chain from each node to the end, the node included."""
    order = list(graphlib.TopologicalSorter({n: set(r) for n, r in released.items()}).static_order())
    chain: dict[str, float] = {}
    for n in order:  # every node after all the nodes it releases
        chain[n] = weight[n] + max((chain[m] for m in released[n]), default=0.0)
    return chain


def remaining_chain(
    deps: Mapping[str, Sequence[str]],
    estimates: Mapping[str, float] | None = None,
    *,
    reverse: bool = False,
    satisfied: Iterable[str] = (),
) -> dict[str, float]:
    """The scheduler's priority of each node: its longest remaining chain of work.

    :param deps: name -> names it depends on.
    :param estimates: name -> expected seconds (missing: mean of the known, or 1.0).
    :param reverse: in destroy order.
    :param satisfied: names that need no work.
    :return: name -> estimated seconds from its start to the end of its
        longest chain of dependents (dependencies, in reverse).
    """
    sat = frozenset(satisfied)
    _, released = _edges(deps, sat, reverse)
    return _chains(released, _weights(released, estimates))


def critical_path(
    deps: Mapping[str, Sequence[str]],
    estimates: Mapping[str, float] | None = None,
    *,
    satisfied: Iterable[str] = (),
) -> float:
    """The longest weighted path through the graph: a lower bound of any makespan."""
    chains = remaining_chain(deps, estimates, satisfied=satisfied)
    return max(chains.values(), default=0.0)


def _widest_level(waits_for: Mapping[str, set[str]]) -> int:
    """Most nodes at one longest-path depth: how many workers to start before the first node."""
    depth: dict[str, int] = {}
    for n in graphlib.TopologicalSorter(waits_for).static_order():
        depth[n] = 1 + max((depth[d] for d in waits_for.get(n, ())), default=-1)
    counts: dict[int, int] = {}
    for d in depth.values():
        counts[d] = counts.get(d, 0) + 1
    return max(counts.values(), default=0)


class _Workers:
    """Worker threads, each taking names from one queue.

    The threads the graph's widest level needs are started by a starter thread, not
    by the coordinator: ``submit`` is a queue put (microseconds) from the first
    node on, and a name submitted before a worker is up waits in the queue for the
    first one that is (starting 100 threads took the coordinator ~10 ms, every
    root waiting behind it). Past that, ``submit`` starts a thread itself when no
    worker is idle and fewer than ``limit`` exist. ``close`` waits for every worker.
    """

    def __init__(self, call: Callable[[str], None], limit: int, start: int) -> None:
        self._call = call
        self._limit = limit
        self._tasks: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        ahead = min(start, limit)
        self._idle = ahead  # counted now: each will take a name as soon as it is up
        self._starter: threading.Thread | None = None
        if ahead:
            self._starter = threading.Thread(target=self._start_ahead, args=(ahead,),
                                             name="firestream-node-starter", daemon=True)
            self._starter.start()

    def _start_ahead(self, count: int) -> None:
        for _ in range(count):
            with self._lock:
                t = self._new_thread()
            t.start()

    def _new_thread(self) -> threading.Thread:
        """A worker, counted at once (the caller holds the lock and starts it after)."""
        t = threading.Thread(target=self._loop, name=f"firestream-node-{len(self._threads)}", daemon=True)
        self._threads.append(t)
        return t

    def submit(self, name: str) -> None:
        new: threading.Thread | None = None
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            elif len(self._threads) < self._limit:
                new = self._new_thread()
            # else: every worker busy at the limit; the scheduler never over-submits
        self._tasks.put(name)
        if new is not None:
            new.start()

    def _loop(self) -> None:
        while True:
            name = self._tasks.get()
            if name is None:
                return
            self._call(name)
            with self._lock:
                self._idle += 1

    def close(self, wait: bool = True) -> None:
        """Stop the workers once their work is done; wait for them unless ``wait`` is off
        (a second Ctrl-C: the caller leaves at once, the daemon threads end with the process)."""
        if self._starter is not None and wait:
            self._starter.join()  # every thread it starts exists before the stop signals go out
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._tasks.put(None)
        if wait:
            for t in threads:
                t.join()


# -- the scheduler --------------------------------------------------------------------


@runtime_checkable
class Outcome(Protocol):
    """A node's value that reports how its work went (a run's ``ReleaseOutcome``).

    Work fails by raising, or by returning an ``Outcome`` whose ``ok`` is
    false; its ``reason``, when it has one, is then the node's reason. Any
    other value is a success.

    >>> import attrs
    >>> @attrs.frozen
    ... class Checked:
    ...     ok: bool
    ...     reason: str = ""
    >>> isinstance(Checked(False, "validation 'pods' failed"), Outcome), isinstance(3, Outcome)
    (True, False)
    """

    @property
    def ok(self) -> bool: ...


@runtime_checkable
class _Explained(Protocol):
    """An :class:`Outcome` that says why it failed."""

    @property
    def reason(self) -> str: ...


def _failed_value(value: object) -> bool:
    """True when ``value`` is an :class:`Outcome` reporting failure.

    What ``isinstance(value, Outcome)`` decides (the protocol's one member, ``ok``, is
    there), asked directly: the runtime protocol check walks the protocol's members on
    every call (~20 us, on the coordinating thread, once per node).
    """
    try:
        ok = value.ok  # type: ignore[attr-defined]
    except AttributeError:
        return False
    return not ok


class Scheduler:
    """Runs a dependency graph's nodes as early as their dependencies allow.

    :param concurrency: most nodes running at once; 0 means unlimited.
    :param fail_fast: after the first failure, start nothing new (running
        nodes finish; the others end ``not_started``).
    """

    def __init__(self, concurrency: int = 4, fail_fast: bool = False) -> None:
        if concurrency < 0:
            raise ValueError("concurrency must be 0 (unlimited) or positive")
        self.concurrency = concurrency
        self.fail_fast = fail_fast

    def run(
        self,
        deps: Mapping[str, Sequence[str]],
        work: Callable[[str], T],
        *,
        reverse: bool = False,
        estimates: Mapping[str, float] | None = None,
        on_event: Callable[[SchedulerEvent], None] | None = None,
        cancel: threading.Event | None = None,
        satisfied: Iterable[str] = (),
        stop_new: Callable[[], str | None] | None = None,
    ) -> ScheduleResult[T]:
        """Run ``work(name)`` for every node of ``deps``, dependencies first.

        :param deps: name -> names it depends on. Every name depended upon
            must be a key or in ``satisfied``, else ``ValueError``; a cycle
            is a ``ValueError`` too.
        :param work: does one node; fails by raising or by returning an
            :class:`Outcome` whose ``ok`` is false. Called on worker threads.
        :param reverse: destroy order: a node starts once all of its
            dependents have finished successfully.
        :param estimates: name -> expected seconds (from earlier runs), to
            start the longest remaining chains first.
        :param on_event: called (on the coordinating thread, keep it quick)
            with each :class:`SchedulerEvent`.
        :param cancel: when set, nothing new starts; running work is waited
            for (the caller stops its helm processes through the same event).
        :param satisfied: names treated as already succeeded: they do not
            run and do not block the nodes depending on them.
        :param stop_new: asked before each start (keep it quick); once it
            returns a reason, nothing new starts, running work finishes, and
            the nodes that never started end ``not_started`` with that reason
            (the run lost its project lock, for one).
        :return: a :class:`ScheduleResult`. A ``KeyboardInterrupt`` while
            waiting, or raised by ``work`` (a node ending that way is
            ``cancelled``), sets ``cancel`` (so the caller's processes are
            stopped), waits for running work and returns with ``interrupted``
            set; a second one while waiting propagates.
        """
        sat = frozenset(satisfied)
        waits_for, released = _edges(deps, sat, reverse)
        weight = _weights(waits_for, estimates)
        chain = _chains(released, weight)
        return _Run(self, work, waits_for, released, chain, sat, deps, reverse, on_event, cancel, stop_new).go()


class _Run(Generic[T]):
    """The state of one ``Scheduler.run`` call (only the coordinating thread touches it)."""

    def __init__(
        self,
        scheduler: Scheduler,
        work: Callable[[str], T],
        waits_for: dict[str, set[str]],
        released: dict[str, set[str]],
        chain: dict[str, float],
        satisfied: frozenset[str],
        deps: Mapping[str, Sequence[str]],
        reverse: bool,
        on_event: Callable[[SchedulerEvent], None] | None,
        cancel: threading.Event | None,
        stop_new: Callable[[], str | None] | None = None,
    ) -> None:
        self.work = work
        self.stop_new = stop_new
        self.stopped: str | None = None
        self.released = released
        self.chain = chain
        self.reverse = reverse
        self.on_event = on_event
        self.cancel = cancel if cancel is not None else threading.Event()
        self.fail_fast = scheduler.fail_fast
        self.limit = scheduler.concurrency or max(1, len(waits_for))
        self.width = _widest_level(waits_for)
        self.pending = {n: len(w) for n, w in waits_for.items()}
        self.nodes: dict[str, NodeResult[T]] = {}
        for name in deps:
            if name in satisfied:
                self.nodes[name] = NodeResult(name, NodeStatus.SUCCEEDED, reason="already satisfied")
            else:
                self.nodes[name] = NodeResult(name)
        self.ready: list[tuple[float, str]] = []
        for n, count in self.pending.items():
            if count == 0:
                heapq.heappush(self.ready, (-chain[n], n))
        self.running: set[str] = set()
        # a worker stores its outcome, then queues the name: an interrupt between the
        # coordinator's get() and complete() cannot lose an outcome
        self.outcomes: dict[str, tuple[T | None, BaseException | None, float]] = {}
        self.done: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.events: list[SchedulerEvent] = []
        self.first_failure: str | None = None
        self.interrupted = False
        self._callback_broken = False

    # -- events ------------------------------------------------------------------
    def emit(self, kind: str, name: str, status: NodeStatus | None = None, reason: str | None = None) -> None:
        event = SchedulerEvent(kind, name, time.monotonic(), status, reason, len(self.running))
        self.events.append(event)
        if self.on_event is None or self._callback_broken:
            return
        try:
            self.on_event(event)
        except Exception:  # a broken progress display must not break a deploy
            self._callback_broken = True
            log.exception("scheduler event callback failed; no further events are sent to it")

    # -- the loop -----------------------------------------------------------------
    def go(self) -> ScheduleResult[T]:
        pool = _Workers(self._call, self.limit, self.width)
        wait = True
        try:
            while True:
                try:
                    self.start_ready(pool)
                    if not self.running:
                        break
                    self.wait_one()
                except KeyboardInterrupt:
                    if self.interrupted:
                        # the second Ctrl-C: leave now, without waiting for the running work
                        # (a stage that never returns would hold the process, and its lock)
                        wait = False
                        raise
                    self.interrupt()
        finally:
            pool.close(wait)
        # closing the pool waited for every worker; take in what an interrupt left unread
        for name in sorted(self.outcomes):
            self.complete(name)
        self.finish_unstarted()
        return ScheduleResult(
            self.nodes, self.events, cancelled=self.cancel.is_set(), interrupted=self.interrupted,
            stopped=self.stopped,
        )

    def interrupt(self) -> None:
        """The run is interrupted: nothing new starts, running work is cancelled."""
        self.interrupted = True
        log.warning("interrupted: starting nothing new, waiting for running releases")
        self.cancel.set()

    def stopping(self) -> bool:
        if self.stopped is None and self.stop_new is not None:
            self.stopped = self.stop_new()
            if self.stopped is not None:
                log.warning("starting nothing new: %s", self.stopped)
        return (self.cancel.is_set() or (self.fail_fast and self.first_failure is not None)
                or self.stopped is not None)

    def start_ready(self, pool: _Workers) -> None:
        """Hand every node that may start to a worker, then emit their ``started`` events."""
        started: list[str] = []
        while self.ready and len(self.running) < self.limit and not self.stopping():
            _, name = heapq.heappop(self.ready)
            self.nodes[name].started = time.monotonic()
            pool.submit(name)
            self.running.add(name)
            started.append(name)
        for name in started:  # after dispatch: a slow progress display delays no node
            self.emit("started", name)

    def _call(self, name: str) -> None:
        """Worker thread: do one node's work and always report back."""
        value: T | None = None
        error: BaseException | None = None
        try:
            value = self.work(name)
        except BaseException as exc:  # noqa: B036 - reported to the coordinator, never lost
            error = exc
        self.outcomes[name] = (value, error, time.monotonic())
        self.done.put(name)

    def wait_one(self) -> None:
        """Block until some work ends and process it (and whatever else has ended)."""
        while True:
            try:
                self.complete(self.done.get(timeout=_POLL))
            except queue.Empty:
                # an outcome whose name an interrupt took off the queue unprocessed
                lost = [n for n in sorted(self.running) if n in self.outcomes]
                if not lost:
                    continue
                for name in lost:
                    self.complete(name)
            # take in what else has ended, so that ready nodes are chosen among all of them
            while True:
                try:
                    self.complete(self.done.get_nowait())
                except queue.Empty:
                    return

    def complete(self, name: str) -> None:
        """Take in the outcome of ``name``'s work (no-op when already taken in)."""
        outcome = self.outcomes.pop(name, None)
        if outcome is None:
            return
        value, error, ended = outcome
        node = self.nodes[name]
        node.ended, node.value, node.error = ended, value, error
        self.running.discard(name)
        was_cancelled = self.cancel.is_set()
        if error is None and not _failed_value(value):
            node.status = NodeStatus.SUCCEEDED
            self.emit("finished", name, node.status)
            for m in sorted(self.released[name]):
                self.pending[m] -= 1
                if self.pending[m] == 0 and self.nodes[m].status is NodeStatus.NOT_STARTED:
                    heapq.heappush(self.ready, (-self.chain[m], m))
            return
        if isinstance(error, KeyboardInterrupt):
            # raised in the work (a plugin's stage, a Ctrl-C landing in a worker's code): the
            # run's interrupt, as if the coordinator had taken it; not the node's own failure
            if not self.interrupted:
                self.interrupt()
            node.status = NodeStatus.CANCELLED
            node.reason = "interrupted while running"
            self.emit("finished", name, node.status, node.reason)
            return
        if isinstance(error, CancelledError) or was_cancelled:
            node.status = NodeStatus.CANCELLED
            node.reason = "cancelled while running" + (f" ({first_line(error)})" if error else "")
            self.emit("finished", name, node.status, node.reason)
            return
        node.status = NodeStatus.FAILED
        if error is not None:
            node.reason = first_line(error)
        else:
            node.reason = (value.reason if isinstance(value, _Explained) else "") or "failed"
        if self.first_failure is None:
            self.first_failure = name
        self.emit("finished", name, node.status, node.reason)
        self.skip_after(name)

    def skip_after(self, failed: str) -> None:
        """Mark every transitive dependent (dependency, in reverse) of ``failed`` skipped."""
        relation = "dependent" if self.reverse else "dependency"
        stack: list[tuple[str, str | None]] = [
            (m, None) for m in sorted(self.released[failed], reverse=True)
        ]
        while stack:
            name, via = stack.pop()
            node = self.nodes[name]
            if node.status is not NodeStatus.NOT_STARTED or node.started is not None:
                continue
            node.status = NodeStatus.SKIPPED
            node.blocked_by = failed
            node.reason = f"{relation} '{failed}' failed" + (f" (via '{via}')" if via else "")
            self.emit("skipped", name, node.status, node.reason)
            next_via = via or name
            stack.extend((m, next_via) for m in sorted(self.released[name], reverse=True))

    def finish_unstarted(self) -> None:
        """Give every node that never started its reason."""
        if self.cancel.is_set():
            why = "interrupted" if self.interrupted else "cancelled"
        elif self.stopped is not None:
            why = f"not started: {self.stopped}"
        elif self.first_failure is not None and self.fail_fast:
            why = f"fail-fast: '{self.first_failure}' failed"
        else:
            why = "a dependency did not succeed"
        for node in self.nodes.values():
            if node.status is NodeStatus.NOT_STARTED and node.reason is None:
                node.reason = why
