"""Scheduler behaviour, asserted on the order of recorded events (never on durations)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from firestream_core.deploy.scheduler import (
    NodeStatus,
    Outcome,
    Scheduler,
    SchedulerEvent,
    critical_path,
    remaining_chain,
)
from firestream_core.errors import CancelledError

WAIT = 10.0
"""Upper bound for any wait on another node: only guards against a hang."""


class Recorder:
    """A work callable recording ``start``/``end`` of each node with a global sequence number."""

    def __init__(
        self,
        fail: Iterable[str] = (),
        hooks: dict[str, Callable[[str], Any]] | None = None,
    ) -> None:
        self.fail = set(fail)
        self.hooks = hooks or {}
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def _note(self, kind: str, name: str) -> None:
        with self._lock:
            self.log.append((kind, name))
            self.running += 1 if kind == "start" else -1
            self.max_running = max(self.max_running, self.running)

    def __call__(self, name: str) -> str:
        self._note("start", name)
        try:
            if name in self.hooks:
                self.hooks[name](name)
            if name in self.fail:
                raise RuntimeError(f"{name} broke")
            return f"done {name}"
        finally:
            self._note("end", name)

    def index(self, kind: str, name: str) -> int:
        return self.log.index((kind, name))

    @property
    def started(self) -> list[str]:
        return [n for k, n in self.log if k == "start"]


def event_index(events: list[SchedulerEvent], kind: str, name: str) -> int:
    return next(i for i, e in enumerate(events) if e.kind == kind and e.name == name)


# -- failure ----------------------------------------------------------------------------


def test_failure_skips_transitive_dependents_and_independent_nodes_complete():
    deps = {
        "db": [],
        "cache": [],
        "api": ["db", "cache"],
        "web": ["api"],
        "worker": ["cache"],
        "docs": [],
    }
    work = Recorder(fail={"db"})
    result = Scheduler(concurrency=2).run(deps, work)

    assert not result.ok
    assert result.nodes["db"].status is NodeStatus.FAILED
    assert isinstance(result.nodes["db"].error, RuntimeError)
    assert result.nodes["db"].reason == "db broke"
    assert result.nodes["api"].status == "skipped"
    assert result.nodes["api"].reason == "dependency 'db' failed"
    assert result.nodes["api"].message == "skipped: dependency 'db' failed"
    assert result.nodes["web"].status == "skipped"
    assert result.nodes["web"].reason == "dependency 'db' failed (via 'api')"
    assert result.nodes["web"].blocked_by == "db"
    assert result.with_status("succeeded") == ["cache", "docs", "worker"]
    assert {"api", "web"}.isdisjoint(work.started)
    assert result.nodes["worker"].value == "done worker"
    skipped = [e.name for e in result.events if e.kind == "skipped"]
    assert sorted(skipped) == ["api", "web"]


def test_result_with_false_ok_is_a_failure():
    class Outcome:
        def __init__(self, ok: bool) -> None:
            self.ok = ok
            self.reason = "validation 'pods_running' failed"

    deps = {"a": [], "b": ["a"]}
    result = Scheduler().run(deps, lambda n: Outcome(ok=n != "a"))
    assert result.nodes["a"].status == "failed"
    assert result.nodes["a"].reason == "validation 'pods_running' failed"
    assert result.nodes["a"].value.ok is False
    assert result.nodes["b"].status == "skipped"



def test_a_failed_outcome_without_a_reason_and_other_values():
    """An ``Outcome`` with a false ``ok`` fails, "failed" when it gives no reason; other values succeed."""

    class Silent:
        ok = False
        reason = ""

    class OkOnly:  # an Outcome that gives no reason
        ok = False

    class Fine:
        ok = True

    values: dict[str, object] = {"silent": Silent(), "ok-only": OkOnly(), "fine": Fine(), "none": None, "zero": 0}
    result = Scheduler().run({n: [] for n in values}, values.__getitem__)
    assert [(result.nodes[n].status, result.nodes[n].reason) for n in ("silent", "ok-only")] == [
        ("failed", "failed"), ("failed", "failed")
    ]
    assert isinstance(OkOnly(), Outcome) and not isinstance(0, Outcome)
    assert [result.nodes[n].status for n in ("fine", "none", "zero")] == ["succeeded"] * 3

# -- ordering ------------------------------------------------------------------------------


def random_dag(n: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    names = [f"n{i:02d}" for i in range(n)]
    return {
        name: sorted(rng.sample(names[:i], k=min(i, rng.randint(0, 3))))
        for i, name in enumerate(names)
    }


@pytest.mark.parametrize("concurrency", [1, 3, 0])
def test_no_node_starts_before_its_dependencies_end(concurrency):
    deps = random_dag(40, seed=concurrency)
    work = Recorder()
    result = Scheduler(concurrency=concurrency).run(deps, work)
    assert result.ok
    assert sorted(work.started) == sorted(deps)
    for name, needs in deps.items():
        for d in needs:
            assert work.index("end", d) < work.index("start", name), (d, name)
            assert event_index(result.events, "finished", d) < event_index(
                result.events, "started", name
            )
            assert result.nodes[d].ended <= result.nodes[name].started


def test_concurrency_bound_is_respected_and_reached():
    barrier = threading.Barrier(3, timeout=WAIT)
    first = set()

    def hook(name: str) -> None:
        if len(first) < 3:
            first.add(name)
            barrier.wait()  # breaks (and the test fails) unless 3 run at once

    deps = {f"r{i:02d}": [] for i in range(20)}
    work = Recorder(hooks=dict.fromkeys(deps, hook))
    result = Scheduler(concurrency=3).run(deps, work)
    assert result.ok
    assert work.max_running == 3
    assert max(e.running for e in result.events) == 3


def test_unlimited_concurrency_runs_all_ready_nodes_at_once():
    barrier = threading.Barrier(12, timeout=WAIT)
    deps = {f"r{i:02d}": [] for i in range(12)}
    work = Recorder(hooks=dict.fromkeys(deps, lambda n: barrier.wait()))
    result = Scheduler(concurrency=0).run(deps, work)
    assert result.ok
    assert work.max_running == 12


def test_dependent_of_fast_chain_starts_before_slow_neighbour_ends():
    """Layers would hold ``fast2`` (layer 1) and ``fast3`` (layer 2) until ``slow`` ends."""
    fast3_started = threading.Event()
    deps = {"slow": [], "fast1": [], "fast2": ["fast1"], "fast3": ["fast2"]}
    work = Recorder(
        hooks={
            "slow": lambda n: fast3_started.wait(WAIT),
            "fast3": lambda n: fast3_started.set(),
        }
    )
    result = Scheduler(concurrency=4).run(deps, work)
    assert result.ok
    assert fast3_started.is_set()
    assert work.index("start", "fast2") < work.index("end", "slow")
    assert work.index("start", "fast3") < work.index("end", "slow")
    assert event_index(result.events, "started", "fast3") < event_index(
        result.events, "finished", "slow"
    )


def test_priority_follows_longest_remaining_chain_weighted_by_estimates():
    deps = {"a": [], "b": [], "c": [], "d": ["c"]}
    work = Recorder()
    Scheduler(concurrency=1).run(deps, work)
    # chains without estimates: c=2 (c->d), a=b=d=1; ties by name
    assert work.started == ["c", "a", "b", "d"]

    work = Recorder()
    estimates = {"a": 1.0, "b": 5.0, "c": 1.0, "d": 10.0}
    Scheduler(concurrency=1).run(deps, work, estimates=estimates)
    # c heads 11 s of work, then d (10) outranks b (5) and a (1)
    assert work.started == ["c", "d", "b", "a"]


def test_remaining_chain_and_critical_path():
    deps = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    est = {"a": 2.0, "b": 3.0, "c": 1.0, "d": 4.0}
    assert remaining_chain(deps, est) == {"a": 9.0, "b": 7.0, "c": 5.0, "d": 4.0}
    assert remaining_chain(deps, est, reverse=True)["d"] == 9.0
    assert critical_path(deps, est) == 9.0
    # a missing estimate counts as the mean of the known ones
    assert remaining_chain({"x": [], "y": ["x"]}, {"x": 4.0}) == {"x": 8.0, "y": 4.0}


# -- fail-fast, reverse, satisfied, cancel --------------------------------------------------


def test_fail_fast_starts_nothing_new_but_running_nodes_finish():
    a_finished = threading.Event()

    def on_event(event: SchedulerEvent) -> None:
        if event.kind == "finished" and event.name == "a":
            a_finished.set()

    deps = {"a": [], "b": [], "c": [], "d": []}
    work = Recorder(fail={"a"}, hooks={"b": lambda n: a_finished.wait(WAIT)})
    result = Scheduler(concurrency=2, fail_fast=True).run(deps, work, on_event=on_event)
    assert a_finished.is_set()
    assert result.nodes["a"].status == "failed"
    assert result.nodes["b"].status == "succeeded"  # was running: it finished
    for name in ("c", "d"):
        assert result.nodes[name].status == "not_started"
        assert result.nodes[name].reason == "fail-fast: 'a' failed"
    assert sorted(work.started) == ["a", "b"]


def test_stop_new_starts_nothing_more_once_it_gives_a_reason_and_running_nodes_finish():
    """A run that lost its project lock: what runs finishes, nothing else starts."""
    lost: list[str] = []
    d_started = threading.Event()

    def hold_b(name: str) -> None:
        assert d_started.wait(WAIT)  # b and d both running
        lost.append("state lease ns/lease is now held by bob")  # lost while they run

    deps = {"a": [], "b": ["a"], "c": ["b"], "d": ["a"]}
    work = Recorder(hooks={"b": hold_b, "d": lambda n: d_started.set()})
    result = Scheduler(concurrency=2).run(deps, work, stop_new=lambda: lost[0] if lost else None)
    assert sorted(work.started) == ["a", "b", "d"]  # b and d started together after a
    assert result.with_status("succeeded") == ["a", "b", "d"]
    assert result.nodes["c"].status == "not_started"
    assert result.nodes["c"].reason == "not started: state lease ns/lease is now held by bob"
    assert result.stopped == "state lease ns/lease is now held by bob" and not result.ok
    assert not result.cancelled


def test_stop_new_that_never_says_stop_changes_nothing():
    deps = {"a": [], "b": ["a"]}
    result = Scheduler(concurrency=0).run(deps, Recorder(), stop_new=lambda: None)
    assert result.ok and result.stopped is None


def test_without_fail_fast_everything_independent_runs():
    deps = {"a": [], "b": [], "c": []}
    result = Scheduler(concurrency=1).run(deps, Recorder(fail={"a"}))
    assert result.with_status("succeeded") == ["b", "c"]


def test_reverse_runs_dependents_first():
    deps = {"db": [], "cache": [], "api": ["db", "cache"], "web": ["api"]}
    work = Recorder()
    result = Scheduler(concurrency=4).run(deps, work, reverse=True)
    assert result.ok
    for name, needs in deps.items():
        for d in needs:  # d is destroyed only after name is gone
            assert work.index("end", name) < work.index("start", d)
    assert work.started[0] == "web"


def test_reverse_failure_keeps_dependencies():
    deps = {"db": [], "api": ["db"], "web": ["api"], "other": []}
    result = Scheduler().run(deps, Recorder(fail={"web"}), reverse=True)
    assert result.nodes["api"].reason == "dependent 'web' failed"
    assert result.nodes["db"].reason == "dependent 'web' failed (via 'api')"
    assert result.nodes["other"].status == "succeeded"


def test_satisfied_nodes_do_not_run_and_release_their_dependents():
    deps = {"db": [], "api": ["db"], "web": ["api", "ingress"]}
    work = Recorder()
    # ingress is outside the run (e.g. not in --target) but satisfied
    result = Scheduler().run(deps, work, satisfied={"db", "ingress"})
    assert result.ok
    assert work.started == ["api", "web"]
    assert result.nodes["db"].status == "succeeded"
    assert result.nodes["db"].reason == "already satisfied"
    assert result.nodes["db"].started is None
    assert "ingress" not in result.nodes


def test_unknown_dependency_and_cycle_are_refused():
    with pytest.raises(ValueError, match="'api' depends on 'db'"):
        Scheduler().run({"api": ["db"]}, Recorder())
    with pytest.raises(ValueError, match="cycle"):
        Scheduler().run({"a": ["b"], "b": ["a"]}, Recorder())
    with pytest.raises(ValueError, match="cycle"):
        Scheduler().run({"a": ["a"]}, Recorder())
    with pytest.raises(ValueError):
        Scheduler(concurrency=-1)


def test_cancel_stops_starting_and_waits_for_running_work():
    cancel = threading.Event()
    deps = {"a": [], "b": [], "c": ["a"]}
    work = Recorder(hooks={"a": lambda n: cancel.set()})
    result = Scheduler(concurrency=1).run(deps, work, cancel=cancel)
    assert result.cancelled
    assert work.started == ["a"]
    assert result.nodes["a"].status == "succeeded"  # it finished despite the cancel
    assert result.nodes["b"].status == "not_started"
    assert result.nodes["b"].reason == "cancelled"
    assert result.nodes["c"].status == "not_started"


def test_work_failing_because_of_cancel_is_cancelled_not_failed():
    cancel = threading.Event()

    def stopped(name: str) -> None:
        cancel.set()
        raise CancelledError("helm terminated", releases=[name])

    deps = {"a": [], "b": ["a"]}
    result = Scheduler().run(deps, Recorder(hooks={"a": stopped}), cancel=cancel)
    assert result.nodes["a"].status == "cancelled"
    assert "helm terminated" in result.nodes["a"].reason
    assert result.nodes["b"].status == "not_started"  # not "skipped": nothing failed


def test_keyboard_interrupt_cancels_and_returns_what_finished():
    cancel = threading.Event()
    release_a = threading.Event()

    def on_event(event: SchedulerEvent) -> None:
        if event.kind == "started" and event.name == "a":
            release_a.set()
            raise KeyboardInterrupt  # as if Ctrl-C hit the coordinating thread

    deps = {"a": [], "b": [], "c": ["a"]}
    work = Recorder(hooks={"a": lambda n: release_a.wait(WAIT)})
    result = Scheduler(concurrency=1).run(deps, work, on_event=on_event, cancel=cancel)
    assert result.interrupted
    assert cancel.is_set()  # the caller's processes are told to stop
    assert result.nodes["a"].status in ("succeeded", "cancelled")
    assert result.nodes["a"].ended is not None
    assert result.nodes["b"].reason == "interrupted"
    assert work.started == ["a"]


def test_keyboard_interrupt_raised_by_the_work_is_the_runs_interrupt():
    """A plugin's stage raising ``KeyboardInterrupt`` (on a worker thread) was taken as that
    node's failure: the run went on starting releases, was not ``interrupted``, and the CLI
    exited 1 where a Ctrl-C exits 130."""
    cancel = threading.Event()

    def interrupt(name: str) -> None:
        raise KeyboardInterrupt

    def sibling(name: str) -> None:  # running when "a" is interrupted: told to stop through cancel
        assert cancel.wait(WAIT)
        raise CancelledError("stopped")  # as the helm layer does for a helm it stopped

    deps = {"a": [], "s": [], "after_a": ["a"], "after_s": ["s"]}
    work = Recorder(hooks={"a": interrupt, "s": sibling})
    result = Scheduler(concurrency=2).run(deps, work, cancel=cancel)
    assert result.interrupted
    assert cancel.is_set()
    assert result.nodes["a"].status == "cancelled"
    assert result.nodes["a"].reason == "interrupted while running"
    assert result.nodes["s"].status == "cancelled"  # ended while the run was interrupted
    assert (result.nodes["after_a"].status, result.nodes["after_a"].reason) == ("not_started", "interrupted")
    assert (result.nodes["after_s"].status, result.nodes["after_s"].reason) == ("not_started", "interrupted")
    assert sorted(work.started) == ["a", "s"]


def test_a_second_keyboard_interrupt_leaves_at_once_even_with_work_that_never_returns():
    """After the first Ctrl-C the scheduler waits for the running work; the documented second
    Ctrl-C then went on waiting too (closing the pool joined every worker): a plugin stage
    that never returned held the process, and the project's lock, until it was killed."""
    import os
    import signal
    import time

    stuck = threading.Event()  # set only at the end: the work "never" returns

    def on_event(event: SchedulerEvent) -> None:
        if event.kind == "started" and event.name == "a":
            # the second Ctrl-C, from the terminal, while the coordinator waits for "a"
            threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
            raise KeyboardInterrupt  # the first, as if Ctrl-C hit the coordinating thread

    work = Recorder(hooks={"a": lambda n: stuck.wait(60)})
    assert threading.current_thread() is threading.main_thread()  # where Python delivers SIGINT
    began = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            Scheduler(concurrency=1).run({"a": [], "b": []}, work, on_event=on_event,
                                         cancel=threading.Event())
        assert time.monotonic() - began < 30
    finally:
        stuck.set()


# -- events ---------------------------------------------------------------------------------


def test_events_are_ordered_and_a_broken_callback_does_not_break_the_run():
    seen: list[SchedulerEvent] = []

    def on_event(event: SchedulerEvent) -> None:
        seen.append(event)
        if len(seen) == 2:
            raise RuntimeError("display broke")

    deps = {"a": [], "b": ["a"], "c": ["b"]}
    result = Scheduler().run(deps, Recorder(), on_event=on_event)
    assert result.ok
    assert len(seen) == 2
    assert [(e.kind, e.name) for e in result.events] == [
        ("started", "a"),
        ("finished", "a"),
        ("started", "b"),
        ("finished", "b"),
        ("started", "c"),
        ("finished", "c"),
    ]
    times = [e.time for e in result.events]
    assert times == sorted(times)
    assert result.start_order == ["a", "b", "c"]
    assert result.makespan >= sum(n.duration for n in result.nodes.values()) - 1e-9


def test_empty_graph():
    result = Scheduler().run({}, Recorder())
    assert result.ok and result.nodes == {} and result.makespan == 0.0


def test_every_ready_node_is_handed_out_before_any_started_event():
    """Dispatch first, events after: a slow progress display delays no ready node."""
    roots = [f"r{i}" for i in range(6)]
    entered: set[str] = set()
    lock = threading.Lock()
    all_in = threading.Event()
    seen_at_first_event: list[bool] = []

    def work(name: str) -> None:
        with lock:
            entered.add(name)
            if entered >= set(roots):
                all_in.set()

    def on_event(event) -> None:
        if event.kind == "started" and not seen_at_first_event:
            # the coordinator is held here: only already dispatched nodes can reach work()
            seen_at_first_event.append(all_in.wait(WAIT))

    result = Scheduler(concurrency=0).run({**{r: [] for r in roots}, "last": roots}, work, on_event=on_event)
    assert seen_at_first_event == [True]
    assert result.ok and result.start_order[-1] == "last"


def test_the_first_ready_node_runs_while_the_other_workers_are_still_being_started(monkeypatch):
    """The coordinator does not start the widest level's threads itself: with every worker
    but the first held back at its start, the first root's work still runs (before, the
    coordinator started all 60 threads before handing out a node)."""
    gate = threading.Event()
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if self.name.removeprefix("firestream-node-").isdigit() and self.name != "firestream-node-0":
            gate.wait(WAIT)  # held back until the first root's work ran
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    entered = threading.Event()

    def work(name: str) -> None:
        if name == "r00":
            entered.set()
        else:
            assert entered.wait(WAIT)

    deps: dict[str, list[str]] = {f"r{i:02d}": [] for i in range(60)}
    runner = threading.Thread(target=lambda: result.append(Scheduler(0).run(deps, work, estimates={"r00": 9.0})))
    result: list[Any] = []
    runner.start()
    try:
        assert entered.wait(WAIT), "the first root waited for every worker thread to start"
    finally:
        gate.set()
        runner.join(WAIT)
    assert all(n.status is NodeStatus.SUCCEEDED for n in result[0].nodes.values())
