"""Group commit for look-ups: requests made at the same time for the same key share one call.

A :class:`Coalescer` answers ``get(key, value)`` through ``fetch(key,
values)``, one call answering many values (``Kubectl.get_labelled``: ONE
``kubectl get KINDS -l 'LABEL in (a,b,c)'`` for the releases validating at
the same moment, split by the label's value):

* a request that finds no call for its key running makes the call at once,
  for itself alone: no timer, no added delay;
* requests arriving while a call for their key runs wait, and are answered
  together by the next call, which the first of them makes when the running
  call ends; a call asks for at most ``limit`` values, and a batch that fills
  up starts at once, beside the running call;
* each request gets its own value's answer, or the error the call raised
  (each waiting request its own copy of it); when the call ended in
  something that is not an ``Exception`` (a ``KeyboardInterrupt`` on the
  calling thread), each other request of the batch is asked again, alone,
  on its own thread.

Requests for different keys never share a call. The calls are made on the
requesting threads (so a call's log line names the release of the thread
that made it), never on a thread of the coalescer's own; it runs nothing
itself: ``fetch`` is the caller's. Thread-safe.

>>> calls = []
>>> def fetch(key, values):
...     calls.append((key, list(values)))
...     return {v: f"{key}:{v}" for v in values}
>>> lookups = Coalescer(fetch)
>>> lookups.get("ns", "web")  # nothing else running: one call, at once
'ns:web'
>>> calls
[('ns', ['web'])]
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar, cast

__all__ = ["DEFAULT_LIMIT", "Coalescer"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Hashable)
R = TypeVar("R")

DEFAULT_LIMIT = 50
"""Most values one call asks for."""


class _Request(Generic[V, R]):
    """One ``get``: its value and, once its call ended, its answer or error."""

    __slots__ = ("again", "answer", "batch", "error", "ready", "value")

    def __init__(self, value: V) -> None:
        self.value = value
        self.ready = threading.Event()
        self.batch: list[_Request[V, R]] | None = None  # set: this request makes the call for them
        self.answer: R | None = None
        self.error: BaseException | None = None
        self.again = False  # the call ended in a BaseException: ask alone


class _Key(Generic[V, R]):
    """The calls of one key: how many run, and the requests waiting for the next."""

    __slots__ = ("running", "waiting")

    def __init__(self) -> None:
        self.running = 0
        self.waiting: list[_Request[V, R]] = []


def _own_copy(error: Exception) -> Exception:
    """``error`` for one more waiting request: a copy (same type, arguments, message and
    attributes), so no two releases hold, and raise, the same exception object; the error
    itself when a copy would not be the same (a constructor that rewrites its arguments)."""
    try:
        twin = copy.copy(error)
    except Exception:
        return error
    if type(twin) is not type(error) or twin.args != error.args or str(twin) != str(error):
        return error
    twin.__cause__, twin.__context__ = error.__cause__, error.__context__
    twin.__suppress_context__ = error.__suppress_context__
    return twin


class Coalescer(Generic[K, V, R]):
    """Answers ``get(key, value)`` with ``fetch(key, values)``, one call for the requests made together.

    :param fetch: ``(key, values) -> {value: answer}``, every value answered;
        ``values`` holds each value once, in the order the requests came. With
        one value it is the call a lone request would have made anyway.
    :param limit: most values per call (at least 1).
    """

    def __init__(self, fetch: Callable[[K, Sequence[V]], Mapping[V, R]], *, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._fetch = fetch
        self.limit = limit
        self._lock = threading.Lock()
        self._keys: dict[K, _Key[V, R]] = {}

    def waiting(self, key: K) -> int:
        """How many requests for ``key`` wait for the next call now."""
        with self._lock:
            state = self._keys.get(key)
            return len(state.waiting) if state is not None else 0

    def get(self, key: K, value: V) -> R:
        """``value``'s answer: from a call made now, or from the call made next for the requests
        that came while one ran (see the module's docstring). Raises what that call raised."""
        me: _Request[V, R] = _Request(value)
        batch: list[_Request[V, R]] | None = None
        with self._lock:
            state = self._keys.get(key)
            if state is None:
                state = self._keys[key] = _Key()
            if not state.running:  # nothing running: this request calls at once, alone
                batch = [me]
                state.running += 1
            else:
                state.waiting.append(me)
                if len(state.waiting) >= self.limit:  # a full batch does not wait
                    batch, state.waiting = state.waiting, []
                    state.running += 1
        if batch is None:
            me.ready.wait()
            if me.batch is None:
                return self._answer(key, me)
            batch = me.batch
        return self._call(key, batch, me)

    def _answer(self, key: K, me: _Request[V, R]) -> R:
        """A waiting request's outcome, on its own thread."""
        if me.again:
            return self._fetch(key, [me.value])[me.value]
        if me.error is not None:
            raise me.error
        return cast(R, me.answer)  # set by _settle with the answer fetch gave

    def _call(self, key: K, batch: list[_Request[V, R]], me: _Request[V, R]) -> R:
        """Make the call for ``batch`` (``me`` among it), then hand each request its outcome."""
        values = list(dict.fromkeys(r.value for r in batch))
        answers: Mapping[V, R] | None = None
        failure: BaseException | None = None
        try:
            answers = self._fetch(key, values)
        except BaseException as exc:  # each request of the batch gets it (or asks again)
            failure = exc
        finally:
            self._next(key)
        for request in batch:
            if request is not me:
                self._settle(request, answers, failure)
        if failure is not None:
            raise failure
        assert answers is not None
        return answers[me.value]

    def _settle(self, request: _Request[V, R], answers: Mapping[V, R] | None, failure: BaseException | None) -> None:
        if failure is None and answers is not None:
            if request.value in answers:
                request.answer = answers[request.value]
            else:
                request.error = LookupError(f"the call answered nothing for {request.value!r}")
        elif isinstance(failure, Exception):
            request.error = _own_copy(failure)
        else:
            request.again = True
        request.ready.set()

    def _next(self, key: K) -> None:
        """A call of ``key`` ended: the requests waiting meanwhile go next, led by the first of them."""
        with self._lock:
            state = self._keys[key]
            state.running -= 1
            batch: list[_Request[V, R]] = []
            if state.waiting:
                batch, state.waiting = state.waiting[: self.limit], state.waiting[self.limit:]
                state.running += 1
            elif not state.running:
                del self._keys[key]
        if batch:
            batch[0].batch = batch
            batch[0].ready.set()
