"""Watch streams: newline-delimited JSON events over a chunked ``application/json`` response.

Supported: label/field selectors, ``timeoutSeconds``, resuming from a
``resourceVersion`` (events are kept in memory; too old -> an ERROR event
with 410 Expired), synthetic ADDED events when no resourceVersion (or ``0``)
is given, and the WatchList start (``sendInitialEvents=true``: initial ADDED
events, then a BOOKMARK annotated ``k8s.io/initial-events-end: "true"``).
Not supported: DELETED events for objects that stop matching a selector,
periodic bookmarks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from firestream_testing.apiserver.catalog import ResourceType
from firestream_testing.apiserver.store import Event, Store

__all__ = ["serve_watch"]

Obj = dict[str, Any]
_POLL = 1.0  # seconds between checks that the client is still connected


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


async def serve_watch(
    request: web.Request, store: Store, rtype: ResourceType, namespace: str | None,
    matches: Callable[[Obj], bool], render: Callable[[Obj], Obj] | None = None,
) -> web.StreamResponse:
    """Stream events of one resource type until timeout or disconnect.

    ``render`` turns each event's object into what is sent (e.g. a one-row Table).
    """
    def out(kind: str, obj: Obj) -> bytes:
        return _line(kind, render(obj) if render is not None else obj)

    query = request.query
    timeout = float(query.get("timeoutSeconds") or 0) or None
    deadline = time.monotonic() + timeout if timeout else None
    send_initial = query.get("sendInitialEvents") == "true"
    since = query.get("resourceVersion") or ""

    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    queue = store.subscribe()  # before the snapshot, so no change is lost in between
    try:
        await response.prepare(request)

        def relevant(event: Event) -> bool:
            if (event.group, event.plural) != (rtype.group, rtype.plural):
                return False
            if namespace and rtype.namespaced and event.namespace != namespace:
                return False
            return matches(event.obj)

        if send_initial or since in ("", "0"):
            items, start_rv = store.list_objects(rtype, namespace, [matches])
            for item in items:
                await response.write(out("ADDED", item))
            if send_initial:
                bookmark = {
                    "kind": rtype.kind, "apiVersion": rtype.api_version,
                    "metadata": {"resourceVersion": str(start_rv),
                                 "annotations": {"k8s.io/initial-events-end": "true"}},
                }
                await response.write(_line("BOOKMARK", bookmark))
        else:
            try:
                start_rv = int(since)
            except ValueError:
                start_rv = store.resource_version
            backlog = store.events_since(start_rv)
            if backlog is None:
                await response.write(_line("ERROR", {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": f"too old resource version: {start_rv}", "reason": "Expired",
                    "code": 410}))
                return response
            for event in backlog:
                if relevant(event):
                    await response.write(out(event.type, store.view(rtype, event.obj)))
            start_rv = max([start_rv, *(e.rv for e in backlog)])

        while True:
            wait = _POLL if deadline is None else min(_POLL, deadline - time.monotonic())
            if wait <= 0:
                break
            try:
                event = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                continue
            if event.type == "CLOSE":
                break
            if event.rv > start_rv and relevant(event):
                await response.write(out(event.type, store.view(rtype, event.obj)))
        await response.write_eof()
        return response
    except (ConnectionResetError, ConnectionError):
        return response
    finally:
        store.unsubscribe(queue)
