"""An in-process Kubernetes API server emulator for driving the real helm and kubectl.

It is a **test fixture**, not a cluster. Built on aiohttp, reusing kmock's
bundled discovery catalogue (kinds, verbs, scopes) for the built-in resource
types. kmock's own ``KubernetesEmulator`` is not used: its store merges dicts
on every write (no PUT replace), has no resourceVersion/generation/uid, cannot
create on PATCH (server-side apply), lists without ``kind`` and ignores
selectors, and most of the eleven points in ``docs/real-helm-testing.md``
would have to override it anyway.

What it does: discovery, permissive OpenAPI v3, JSON/YAML bodies and the
protobuf bodies helm and ``kubectl create`` send (:mod:`.protobuf`), lists
with kind and selectors, GET/POST/PUT/PATCH (strategic, merge, JSON patch,
server-side apply)/DELETE (with garbage collection), watch streams
(selectors, timeouts, WatchList bookmarks), server-side Tables for ``kubectl
get``, CRDs served at once, and a toy controller (:mod:`.controller`) with
run-time switches.

What it does not emulate: authentication/authorization, admission (webhooks,
quotas, limit ranges, pod security), real validation (any object of a known
kind is accepted), most defaulting, field ownership and conflicts of
server-side apply (patch semantics are approximate: see :mod:`.patching`),
schema conversion between versions, pagination, and anything that runs: pods never execute, the controller merely paints statuses.

Modules: :mod:`.catalog` (resource types), :mod:`.store` (objects, events,
GC), :mod:`.defaults`, :mod:`.patching`, :mod:`.selectors`,
:mod:`.protobuf`, :mod:`.discovery`, :mod:`.openapi`, :mod:`.watch`,
:mod:`.tables`, :mod:`.controller`, :mod:`.server` (HTTP, control endpoints).
"""

from firestream_testing.apiserver.controller import Controller
from firestream_testing.apiserver.server import Emulator, run_server
from firestream_testing.apiserver.store import Store

__all__ = ["Controller", "Emulator", "Store", "run_server"]
