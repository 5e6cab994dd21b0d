"""tools.coalesce, and ``Kubectl.get_labelled`` on it: concurrent look-ups of one key share one call.

Scheduling tests with counting fakes (no program runs): a gate holds a call
open so that other requests certainly arrive while it runs; every wait is
for an event, never for a duration, and nothing asserts a time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from firestream_core.errors import HelmCommandError
from firestream_core.tools.coalesce import Coalescer
from firestream_core.tools.kubectl import Kubectl
from firestream_core.tools.process import Completed, ProgramNotFoundError, Runner
from firestream_core.tools.release_log import naming_release

LABEL = "app.kubernetes.io/instance"
KINDS = "pods,deployments,statefulsets,daemonsets"


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (up to a minute, in small steps) until ``condition()`` holds; fail naming ``what``."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.005)


class Fetch:
    """A counting ``fetch``: records each call (key, values, thread); calls may be held at a gate."""

    def __init__(self, *, gated: bool = False, fail: Callable[[Sequence[str]], BaseException | None] = lambda v: None):
        self.calls: list[tuple[str, list[str], str]] = []
        self.entered = 0
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self, key: str, values: Sequence[str]) -> Mapping[str, str]:
        with self._lock:
            self.calls.append((key, list(values), threading.current_thread().name))
            self.entered += 1
        assert self.gate.wait(60), "the test never opened the gate"
        error = self.fail(values)
        if error is not None:
            raise error
        return {v: f"{key}:{v}" for v in values}


class Requests:
    """``get`` calls on their own threads, each outcome kept by value."""

    def __init__(self, lookups: Coalescer[str, str, str]) -> None:
        self.lookups = lookups
        self.answers: dict[str, str] = {}
        self.errors: dict[str, BaseException] = {}
        self.threads: list[threading.Thread] = []

    def start(self, key: str, value: str) -> None:
        def ask() -> None:
            try:
                self.answers[value] = self.lookups.get(key, value)
            except BaseException as exc:  # noqa: BLE001 - kept for the test to look at
                self.errors[value] = exc

        t = threading.Thread(target=ask, name=f"request-{value}", daemon=True)
        self.threads.append(t)
        t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(60)
            assert not t.is_alive(), f"{t.name} never got its answer"

    def one_running_then_waiting(self, fetch: Fetch, key: str, first: str, others: str) -> None:
        """``first``'s call started (held at ``fetch``'s gate), then each of ``others`` asked and
        waiting for the next call."""
        self.start(key, first)
        until(lambda: fetch.entered == 1, f"{first}'s call started")
        for value in others:
            self.start(key, value)
        until(lambda: self.lookups.waiting(key) == len(others), f"{', '.join(others)} wait")


def test_a_lone_request_is_one_call_at_once_on_its_own_thread() -> None:
    fetch = Fetch()
    lookups: Coalescer[str, str, str] = Coalescer(fetch)
    assert lookups.get("ns", "a") == "ns:a"
    assert fetch.calls == [("ns", ["a"], threading.current_thread().name)]  # no timer, no thread of its own
    assert lookups.get("ns", "b") == "ns:b"  # the first call ended: the next is alone again
    assert [c[1] for c in fetch.calls] == [["a"], ["b"]]
    assert lookups.waiting("ns") == 0


def test_requests_arriving_during_a_call_share_the_next_call_and_each_gets_its_own_answer() -> None:
    fetch = Fetch(gated=True)
    lookups: Coalescer[str, str, str] = Coalescer(fetch)
    requests = Requests(lookups)
    requests.one_running_then_waiting(fetch, "ns", "a", "bcd")
    assert fetch.entered == 1  # they wait, they do not call
    fetch.gate.set()
    requests.join()
    assert requests.errors == {}
    assert requests.answers == {v: f"ns:{v}" for v in "abcd"}  # each its own, never another's
    assert len(fetch.calls) == 2  # four requests, two calls
    assert fetch.calls[0][:2] == ("ns", ["a"])
    key, values, thread = fetch.calls[1]
    assert key == "ns" and sorted(values) == ["b", "c", "d"]
    assert thread == f"request-{values[0]}"  # made by the first of them, on its own thread


def test_the_same_value_asked_twice_together_is_asked_once() -> None:
    fetch = Fetch(gated=True)
    lookups: Coalescer[str, str, str] = Coalescer(fetch)
    requests = Requests(lookups)
    requests.start("ns", "a")
    until(lambda: fetch.entered == 1, "a's call started")
    requests.start("ns", "b")
    until(lambda: lookups.waiting("ns") == 1, "b waits")
    requests.start("ns", "b")
    until(lambda: lookups.waiting("ns") == 2, "b waits twice")
    fetch.gate.set()
    requests.join()
    assert [c[1] for c in fetch.calls] == [["a"], ["b"]]
    assert requests.answers == {"a": "ns:a", "b": "ns:b"} and requests.errors == {}


def test_different_keys_never_share_a_call() -> None:
    fetch = Fetch(gated=True)
    lookups: Coalescer[str, str, str] = Coalescer(fetch)
    requests = Requests(lookups)
    requests.start("ns1", "a")
    until(lambda: fetch.entered == 1, "ns1's call started")
    requests.start("ns2", "a")  # another key: nothing of its own runs, so it calls at once
    until(lambda: fetch.entered == 2, "ns2's call started beside ns1's")
    assert lookups.waiting("ns1") == lookups.waiting("ns2") == 0
    fetch.gate.set()
    requests.join()
    assert sorted((c[0], c[1]) for c in fetch.calls) == [("ns1", ["a"]), ("ns2", ["a"])]


def test_a_call_asks_for_at_most_limit_values_and_a_full_batch_starts_at_once() -> None:
    fetch = Fetch(gated=True)
    lookups: Coalescer[str, str, str] = Coalescer(fetch, limit=3)
    requests = Requests(lookups)
    requests.start("ns", "a")
    until(lambda: fetch.entered == 1, "a's call started")
    for value in "bcdefgh":
        requests.start("ns", value)
    # b-d and e-g fill two batches: each starts at once, beside a's call; h waits
    until(lambda: fetch.entered == 3 and lookups.waiting("ns") == 1, "two full batches called, h waits")
    fetch.gate.set()
    requests.join()
    assert requests.answers == {v: f"ns:{v}" for v in "abcdefgh"} and requests.errors == {}
    sizes = sorted(len(values) for _, values, _ in fetch.calls)
    assert sizes == [1, 1, 3, 3]
    assert sorted(v for _, values, _ in fetch.calls for v in values) == list("abcdefgh")
    with pytest.raises(ValueError):
        Coalescer(fetch, limit=0)


def test_the_error_of_a_shared_call_reaches_each_request_it_served_as_its_own_copy() -> None:
    def fail(values: Sequence[str]) -> BaseException | None:
        if len(values) > 1:
            return HelmCommandError("kubectl get failed: forbidden", stderr="forbidden", hint="ask an admin")
        return None

    fetch = Fetch(gated=True, fail=fail)
    lookups: Coalescer[str, str, str] = Coalescer(fetch)
    requests = Requests(lookups)
    requests.one_running_then_waiting(fetch, "ns", "a", "bcd")
    fetch.gate.set()
    requests.join()
    assert requests.answers == {"a": "ns:a"}  # the first call succeeded: its request is answered
    assert sorted(requests.errors) == ["b", "c", "d"]
    errors = list(requests.errors.values())
    for error in errors:
        assert type(error) is HelmCommandError
        assert str(error) == "kubectl get failed: forbidden"
        assert (error.stderr, error.hint) == ("forbidden", "ask an admin")
    assert len({id(e) for e in errors}) == 3  # no two releases hold the same exception object
    assert len(fetch.calls) == 2
    # and the coalescer is not stuck: the next request calls at once
    fetch.fail = lambda values: None
    assert lookups.get("ns", "e") == "ns:e"


def test_an_error_that_cannot_be_copied_as_it_is_reaches_each_request_itself() -> None:
    missing = ProgramNotFoundError("kubectl")  # its constructor rewrites its arguments: a copy would not say the same

    fetch = Fetch(gated=True, fail=lambda values: missing if len(values) > 1 else None)
    lookups: Coalescer[str, str, str] = Coalescer(fetch)
    requests = Requests(lookups)
    requests.one_running_then_waiting(fetch, "ns", "a", "bc")
    fetch.gate.set()
    requests.join()
    assert requests.errors == {"b": missing, "c": missing}
    assert all(e is missing and str(e) == str(ProgramNotFoundError("kubectl")) for e in requests.errors.values())


def test_a_call_ended_by_a_base_exception_has_the_others_ask_again_alone() -> None:
    def fail(values: Sequence[str]) -> BaseException | None:
        return KeyboardInterrupt() if len(values) > 1 else None

    fetch = Fetch(gated=True, fail=fail)
    lookups: Coalescer[str, str, str] = Coalescer(fetch)
    requests = Requests(lookups)
    requests.one_running_then_waiting(fetch, "ns", "a", "bc")
    fetch.gate.set()
    requests.join()
    (leader,) = [v for v, e in requests.errors.items() if isinstance(e, KeyboardInterrupt)]
    other = "c" if leader == "b" else "b"
    assert requests.answers == {"a": "ns:a", other: f"ns:{other}"}  # asked again, alone
    assert [c[1] for c in fetch.calls][-1] == [other]


# -- Kubectl.get_labelled ------------------------------------------------------------------


def pod(name: str, release: str | None) -> dict[str, Any]:
    labels = {LABEL: release} if release else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels}}


class KubectlRunner(Runner):
    """A runner answering ``kubectl get ... --selector S`` from a table of objects (no program runs);
    the first ``get`` may be held at a gate. Records every argument list."""

    def __init__(self, objects: list[dict[str, Any]], *, gated: bool = False, stderr: str = "") -> None:
        super().__init__()
        self.objects = objects
        self.argvs: list[list[str]] = []
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.stderr = stderr
        self._lock = threading.Lock()

    def run(self, argv, *, env=None, stdin=None, timeout=None, label=None, cwd=None) -> Completed:  # noqa: ANN001
        args = [str(a) for a in argv]
        with self._lock:
            self.argvs.append(args)
            first = len(self.argvs) == 1
        if first:
            assert self.gate.wait(60), "the test never opened the gate"
        if self.stderr:
            return Completed(tuple(args), 1, "", self.stderr, 0.0, label)
        selector = args[args.index("--selector") + 1]
        if " in (" in selector:
            wanted = set(selector.split(" in (", 1)[1].rstrip(")").split(","))
        else:
            wanted = {selector.split("=", 1)[1]}
        items = [o for o in self.objects if o["metadata"]["labels"].get(LABEL) in wanted]
        return Completed(tuple(args), 0, json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), "", 0.0)

    def selectors(self) -> list[str]:
        return [a[a.index("--selector") + 1] for a in self.argvs]


class LabelledReads:
    """``get_labelled`` calls on their own threads."""

    def __init__(self, kubectl: Kubectl) -> None:
        self.kubectl = kubectl
        self.answers: dict[tuple[str, str], Any] = {}
        self.errors: dict[tuple[str, str], BaseException] = {}
        self.threads: list[threading.Thread] = []

    def start(self, value: str, namespace: str = "apps") -> None:
        def ask() -> None:
            with naming_release(value):  # as a release's lifecycle runs it: its lines name it
                self.ask(value, namespace)

        t = threading.Thread(target=ask, daemon=True)
        self.threads.append(t)
        t.start()

    def ask(self, value: str, namespace: str) -> None:
        try:
            self.answers[namespace, value] = self.kubectl.get_labelled(KINDS, LABEL, value, namespace=namespace)
        except BaseException as exc:  # noqa: BLE001 - kept for the test to look at
            self.errors[namespace, value] = exc

    def join(self) -> None:
        for t in self.threads:
            t.join(60)
            assert not t.is_alive()

    def one_running_then_waiting(self, runner: KubectlRunner, first: str, others: str) -> None:
        """``first``'s get started (held at ``runner``'s gate), then each of ``others`` asked and
        waiting for the next call (namespace ``apps``)."""
        self.start(first)
        until(lambda: len(runner.argvs) == 1, f"{first}'s get started")
        for value in others:
            self.start(value)
        until(lambda: self.kubectl._labelled.waiting((KINDS, "apps", LABEL)) == len(others),
              f"{', '.join(others)} wait")


def names(answer: Mapping[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in answer["items"]]


def test_get_labelled_alone_is_the_get_of_today() -> None:
    runner = KubectlRunner([pod("a-1", "a"), pod("b-1", "b")])
    kubectl = Kubectl(runner, "kubectl", kube_context="prod")
    answer = kubectl.get_labelled(KINDS, LABEL, "a", namespace="apps")
    assert answer is not None and names(answer) == ["a-1"]
    assert runner.argvs == [["kubectl", "get", KINDS, "--output", "json", "--namespace", "apps",
                             "--selector", f"{LABEL}=a", "--context", "prod"]]


def test_get_labelled_calls_made_together_share_one_get_split_by_the_label(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="firestream.kubectl")
    objects = [pod("a-1", "a"), pod("b-1", "b"), pod("b-2", "b"), pod("c-1", "c"), pod("x-1", "x"),
               pod("stray", None)]
    runner = KubectlRunner(objects, gated=True)
    kubectl = Kubectl(runner, "kubectl", kube_context="prod")
    reads = LabelledReads(kubectl)
    reads.one_running_then_waiting(runner, "a", "bcd")
    runner.gate.set()
    reads.join()
    assert reads.errors == {}
    got = {v: names(a) for (_, v), a in reads.answers.items()}
    assert got == {"a": ["a-1"], "b": ["b-1", "b-2"], "c": ["c-1"], "d": []}  # another's never counted
    assert all(a["kind"] == "List" for a in reads.answers.values())
    assert len(runner.argvs) == 2
    shared = runner.argvs[1]
    selector = shared[shared.index("--selector") + 1]
    assert selector.startswith(f"{LABEL} in (") and sorted(selector[len(LABEL) + 5:-1].split(",")) == ["b", "c", "d"]
    assert shared[:7] == ["kubectl", "get", KINDS, "--output", "json", "--namespace", "apps"]
    assert shared[-2:] == ["--context", "prod"]
    # each release the shared call served names it, on its own line; the lone call logs nothing more
    lines = sorted(r.getMessage() for r in caplog.records if "shared call" in r.getMessage())
    assert lines == [f"release '{v}': {LABEL}={v} read by one shared call: kubectl get {KINDS} "
                     f"--namespace apps --selector {selector}" for v in "bcd"]


def test_get_labelled_never_shares_across_namespaces_or_kubectls() -> None:
    runner = KubectlRunner([pod("a-1", "a")], gated=True)
    prod = Kubectl(runner, "kubectl", kube_context="prod")
    staging = Kubectl(runner, "kubectl", kube_context="staging")
    reads, other = LabelledReads(prod), LabelledReads(staging)
    reads.start("a", "apps")
    until(lambda: len(runner.argvs) == 1, "the first get started")
    reads.start("a", "web")  # another namespace: nothing of its own runs, it calls at once
    other.start("b", "apps")  # another context (another Kubectl): likewise
    until(lambda: len(runner.argvs) == 3, "the two others called at once")
    runner.gate.set()
    reads.join()
    other.join()
    assert sorted(runner.selectors()) == [f"{LABEL}=a", f"{LABEL}=a", f"{LABEL}=b"]
    contexts = sorted((a[a.index("--namespace") + 1], a[-1]) for a in runner.argvs)
    assert contexts == [("apps", "prod"), ("apps", "staging"), ("web", "prod")]


def test_get_labelled_error_reaches_each_release_of_the_shared_call() -> None:
    runner = KubectlRunner([], gated=True, stderr="Error from server (Forbidden): pods is forbidden")
    kubectl = Kubectl(runner, "kubectl")
    reads = LabelledReads(kubectl)
    reads.one_running_then_waiting(runner, "a", "bc")
    runner.gate.set()
    reads.join()
    assert reads.answers == {}
    assert sorted(v for _, v in reads.errors) == ["a", "b", "c"]
    for error in reads.errors.values():
        assert isinstance(error, HelmCommandError)
        assert "pods is forbidden" in str(error)
    assert len(runner.argvs) == 2


def test_get_labelled_unknown_kind_answers_none_to_each() -> None:
    runner = KubectlRunner([], gated=True)
    kubectl = Kubectl(runner, "kubectl")
    reads = LabelledReads(kubectl)
    reads.one_running_then_waiting(runner, "a", "bc")
    runner.stderr = 'error: the server doesn\'t have a resource type "statefulsets"'
    runner.gate.set()
    reads.join()
    assert reads.errors == {}
    assert reads.answers == {("apps", v): None for v in "abc"}  # each then reads kind by kind, as alone


def test_get_labelled_a_value_that_cannot_join_a_set_is_asked_alone() -> None:
    runner = KubectlRunner([pod("a-1", "a")])
    kubectl = Kubectl(runner, "kubectl")
    assert kubectl.get_labelled(KINDS, LABEL, "a,b", namespace="apps") == {
        "apiVersion": "v1", "kind": "List", "items": []}
    assert runner.selectors() == [f"{LABEL}=a,b"]  # get's own call, never inside "in (...)"
