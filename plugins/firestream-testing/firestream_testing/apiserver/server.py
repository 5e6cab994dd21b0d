"""HTTP front of the emulator: routing, body decoding, the REST verbs, control endpoints.

Kubernetes paths served::

    /version /healthz /readyz /livez
    /api /api/v1 /apis /apis/<g> /apis/<g>/<v>                 discovery
    /openapi/v3 /openapi/v3/api/v1 /openapi/v3/apis/<g>/<v>     OpenAPI v3
    /openapi/v2                                              an empty v2 document (protobuf)
    /api/v1/[namespaces/<ns>/]<plural>[/<name>[/<sub>]]         core resources
    /apis/<g>/<v>/[namespaces/<ns>/]<plural>[/<name>[/<sub>]]   group resources

Subresources: ``status`` (GET/PUT/PATCH), ``scale`` (GET/PUT/PATCH of
``spec.replicas``), ``pods/<name>/log`` (a line of placeholder text) and
``pods/<name>/eviction`` (deletes the pod). No authentication or
authorization (any token is accepted), no admission, no ``exec``/``attach``/
``portforward``/``proxy``; ``limit``/``continue`` are ignored (lists are
returned whole); ``Accept: ...;as=Table`` gets a server-side Table
(:mod:`.tables`) for lists, objects and watch events.

Control endpoints (not Kubernetes)::

    GET  /_emulator/state        -> {"enabled", "loadbalancer", "resourceVersion", ...}
    POST /_emulator/controller   <- {"enabled": bool}, {"loadbalancer": bool} and/or
                                    {"status_rules": [{"kind", "group"?, "condition"?, "after"?}]}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from firestream_core.tools import kube_yaml
from firestream_testing.apiserver import discovery, openapi, protobuf
from firestream_testing.apiserver.catalog import ResourceType
from firestream_testing.apiserver.controller import Controller
from firestream_testing.apiserver.errors import ApiError, not_found
from firestream_testing.apiserver.patching import PatchError, apply_patch, json_merge_patch
from firestream_testing.apiserver.selectors import SelectorError, field_matcher, label_matcher
from firestream_testing.apiserver.store import APPLY, Store
from firestream_testing.apiserver.tables import table, wants_table
from firestream_testing.apiserver.watch import serve_watch

__all__ = ["Emulator", "run_server"]

log = logging.getLogger(__name__)

_YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", APPLY}
_PATCH_TYPES = {
    "application/strategic-merge-patch+json", "application/merge-patch+json",
    "application/json-patch+json", APPLY,
}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status,
                        content_type="application/json")


class _Target:
    """A parsed resource URL."""

    def __init__(self, rtype: ResourceType, namespace: str | None, name: str | None,
                 sub: str | None) -> None:
        self.rtype, self.namespace, self.name, self.sub = rtype, namespace, name, sub


class Emulator:
    """The whole emulated API server: one :class:`Store`, one :class:`Controller`, an app."""

    def __init__(self, controller: bool = True, loadbalancer: bool = True) -> None:
        self.store = Store()
        self.controller = Controller(self.store, enabled=controller, loadbalancer=loadbalancer)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)

        async def kick(_: web.Application) -> None:
            self.controller.set_enabled(self.controller.enabled)
            self.controller.set_loadbalancer(self.controller.loadbalancer)

        async def close_watches(_: web.Application) -> None:
            self.store.close_watches()

        app.on_startup.append(kick)
        app.on_shutdown.append(close_watches)
        return app

    def state(self) -> dict[str, Any]:
        return {**self.controller.state(), "resourceVersion": self.store.resource_version}

    # -- entry point -------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            response = await self._route(request)
        except ApiError as e:
            response = _json(e.status(), e.code)
            log.info("%s %s -> %s %s", request.method, request.path_qs, e.code, e.message)
            return response
        except SelectorError as e:
            return _json(ApiError(400, "BadRequest", str(e)).status(), 400)
        log.info("%s %s [%s] -> %s", request.method, request.path_qs,
                 request.headers.get("Content-Type", "-"), response.status)
        return response

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path.startswith("/_emulator/"):
            return await self._control(request, path)
        simple: dict[str, Callable[[], Any]] = {
            "/version": discovery.server_version,
            "/api": discovery.api_versions,
            "/apis": lambda: discovery.api_group_list(self.store.catalog),
            "/openapi/v3": lambda: openapi.v3_index(self.store.catalog),
        }
        if path in simple:
            return _json(simple[path]())
        if path == "/openapi/v2":
            return web.Response(body=openapi.v2_document(), content_type=openapi.V2_CONTENT_TYPE)
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok")
        if path == "/":
            return _json({"paths": ["/api", "/api/v1", "/apis", "/openapi/v3", "/version"]})
        parts = path.strip("/").split("/")
        if parts[0] == "openapi" and len(parts) > 2 and parts[1] == "v3":
            return self._openapi(parts[2:])
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                doc = discovery.api_group(self.store.catalog, parts[1])
                if doc is None:
                    raise ApiError(404, "NotFound", f"the server could not find the group {parts[1]}")
                return _json(doc)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            doc = discovery.api_resource_list(self.store.catalog, group, version)
            if doc is None:
                raise ApiError(404, "NotFound",
                               f"the server could not find the requested resource ({group}/{version})")
            return _json(doc)
        target = self._target(group, version, rest)
        handler = {
            "GET": self._get, "POST": self._post, "PUT": self._put, "PATCH": self._patch,
            "DELETE": self._delete,
        }.get(request.method)
        if handler is None:
            raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported")
        return await handler(request, target)

    def _target(self, group: str, version: str, rest: list[str]) -> _Target:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not (
                len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        sub = "/".join(rest[2:]) or None
        rtype = self.store.catalog.get(group, version, plural)
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource"
                           f" ({'/'.join(filter(None, [group, version, plural]))})")
        if sub and sub not in rtype.subresources and sub != "finalize":
            raise ApiError(404, "NotFound", f"the server could not find the requested resource"
                           f" ({plural}/{sub})")
        if rtype.namespaced and name is not None and namespace is None:
            raise ApiError(404, "NotFound", f"{plural} is namespaced: use /namespaces/<ns>/{plural}")
        return _Target(rtype, namespace, name, sub)

    def _openapi(self, parts: list[str]) -> web.Response:
        if parts[0] == "api" and len(parts) == 2:
            doc = openapi.gv_document(self.store.catalog, "", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = openapi.gv_document(self.store.catalog, parts[1], parts[2])
        else:
            doc = None
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return _json(doc)

    # -- bodies and options ------------------------------------------------------------------

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        ctype = request.content_type
        try:
            if ctype == "application/vnd.kubernetes.protobuf":
                return protobuf.decode_object(raw)
            if ctype in _YAML_TYPES:
                return kube_yaml.load(raw)
            return json.loads(raw)
        except protobuf.ProtobufError as e:
            raise ApiError(415, "UnsupportedMediaType", str(e)) from e
        except (ValueError, kube_yaml.YAMLError) as e:
            raise ApiError(400, "BadRequest", f"cannot decode the {ctype} body: {e}") from e

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        return "All" in request.query.getall("dryRun", [])

    @staticmethod
    def _matchers(request: web.Request) -> list[Callable[[dict[str, Any]], bool]]:
        return [label_matcher(request.query.get("labelSelector")),
                field_matcher(request.query.get("fieldSelector"))]

    # -- verbs -------------------------------------------------------------------------------

    async def _get(self, request: web.Request, t: _Target) -> web.StreamResponse:
        store, query = self.store, request.query
        watching = query.get("watch") in ("true", "1")
        as_table = wants_table(request.headers.get("Accept", "")) and t.sub is None
        include = query.get("includeObject")
        render = None
        if as_table:
            first = [True]

            def render(obj: dict[str, Any]) -> dict[str, Any]:
                rendered = table(t.rtype, [obj], None, include, with_columns=first[0])
                first[0] = False
                return rendered

        if t.name is None:
            matchers = self._matchers(request)
            if watching:
                return await serve_watch(request, store, t.rtype, t.namespace,
                                         lambda obj: all(m(obj) for m in matchers), render)
            items, rv = store.list_objects(t.rtype, t.namespace, matchers)
            if as_table:
                return _json(table(t.rtype, items, rv, include))
            return _json({"kind": t.rtype.list_kind, "apiVersion": t.rtype.api_version,
                          "metadata": {"resourceVersion": str(rv)}, "items": items})
        if watching:
            name = t.name
            return await serve_watch(request, store, t.rtype, t.namespace,
                                     lambda obj: obj["metadata"]["name"] == name, render)
        obj = store.get(t.rtype, t.namespace, t.name)
        if t.sub == "log":
            return self._log(request, obj)
        if t.sub == "scale":
            return _json(self._scale(t.rtype, obj))
        if as_table:
            return _json(table(t.rtype, [obj], store.resource_version, include))
        return _json(obj)

    async def _post(self, request: web.Request, t: _Target) -> web.StreamResponse:
        body = await self._body(request)
        if t.name is not None:
            if t.sub == "eviction":
                obj = self.store.delete(t.rtype, t.namespace, t.name, dry_run=self._dry_run(request))
                return _json({"kind": "Status", "apiVersion": "v1", "status": "Success",
                              "metadata": {}, "details": {"name": obj["metadata"]["name"]}}, 201)
            raise ApiError(405, "MethodNotAllowed", f"POST is not supported on {request.path}")
        return _json(self.store.create(t.rtype, t.namespace, body, dry_run=self._dry_run(request)),
                     201)

    async def _put(self, request: web.Request, t: _Target) -> web.StreamResponse:
        if t.name is None:
            raise ApiError(405, "MethodNotAllowed", "PUT needs an object name")
        body = await self._body(request)
        if t.sub == "scale":
            return await self._write_scale(t, (body or {}).get("spec", {}).get("replicas"), request)
        return _json(self.store.replace(t.rtype, t.namespace, t.name, body, subresource=t.sub,
                                        dry_run=self._dry_run(request)))

    async def _patch(self, request: web.Request, t: _Target) -> web.StreamResponse:
        if t.name is None:
            raise ApiError(405, "MethodNotAllowed", "PATCH needs an object name")
        ctype = request.content_type
        if ctype not in _PATCH_TYPES:
            raise ApiError(415, "UnsupportedMediaType", f"the patch content type {ctype} is not"
                           f" supported; use one of {sorted(_PATCH_TYPES)}")
        body = await self._body(request)
        if t.sub == "scale":
            current = self._scale(t.rtype, self.store.get(t.rtype, t.namespace, t.name))
            try:
                scaled = (json_merge_patch(current, body) if ctype == APPLY
                          else apply_patch(ctype, current, body))
            except PatchError as e:
                raise ApiError(422, "Invalid", f"the patch cannot be applied: {e}") from e
            return await self._write_scale(t, scaled.get("spec", {}).get("replicas"), request)
        obj, created = self.store.patch(
            t.rtype, t.namespace, t.name, ctype, body, subresource=t.sub,
            manager=request.query.get("fieldManager"), dry_run=self._dry_run(request))
        return _json(obj, 201 if created else 200)

    async def _delete(self, request: web.Request, t: _Target) -> web.StreamResponse:
        options = await self._body(request) or {}
        if not isinstance(options, dict):
            raise ApiError(400, "BadRequest", "DeleteOptions must be an object")
        policy = request.query.get("propagationPolicy") or options.get("propagationPolicy")
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        dry_run = self._dry_run(request) or "All" in (options.get("dryRun") or [])
        if t.name is None:
            items, _ = self.store.list_objects(t.rtype, t.namespace, self._matchers(request))
            deleted = []
            for item in items:
                meta = item["metadata"]
                deleted.append(self.store.delete(t.rtype, meta.get("namespace"), meta["name"],
                                                 propagation=policy, dry_run=dry_run))
            return _json({"kind": t.rtype.list_kind, "apiVersion": t.rtype.api_version,
                          "metadata": {"resourceVersion": str(self.store.resource_version)},
                          "items": deleted})
        return _json(self.store.delete(t.rtype, t.namespace, t.name, propagation=policy,
                                       preconditions=options.get("preconditions"),
                                       dry_run=dry_run))

    # -- subresources ------------------------------------------------------------------------

    @staticmethod
    def _log(request: web.Request, pod: dict[str, Any]) -> web.Response:
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = request.query.get("container") or (containers[0] if containers else "")
        if container not in containers:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod"
                           f" {pod['metadata']['name']}")
        phase = (pod.get("status") or {}).get("phase", "Pending")
        text = (f"[firestream emulator] pod {pod['metadata']['namespace']}/"
                f"{pod['metadata']['name']} container {container}: no real process runs here"
                f" (phase {phase})\n")
        return web.Response(text=text, content_type="text/plain")

    @staticmethod
    def _scale(rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if "scale" not in rtype.subresources:
            raise ApiError(404, "NotFound", f"{rtype.plural} have no scale subresource")
        meta = obj["metadata"]
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                               "creationTimestamp") if k in meta},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)},
        }

    async def _write_scale(self, t: _Target, replicas: Any, request: web.Request) -> web.Response:
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", "spec.replicas must be a non-negative integer")
        assert t.name is not None
        obj, _ = self.store.patch(t.rtype, t.namespace, t.name, "application/merge-patch+json",
                                  {"spec": {"replicas": replicas}}, dry_run=self._dry_run(request))
        return _json(self._scale(t.rtype, obj))

    # -- control -----------------------------------------------------------------------------

    async def _control(self, request: web.Request, path: str) -> web.Response:
        if path == "/_emulator/state" and request.method == "GET":
            return _json(self.state())
        if path == "/_emulator/controller" and request.method == "POST":
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError as e:
                raise ApiError(400, "BadRequest", f"invalid JSON: {e}") from e
            rules = body.pop("status_rules", None) if isinstance(body, dict) else None
            if not isinstance(body, dict) or (not body and rules is None) \
                    or set(body) - {"enabled", "loadbalancer"} \
                    or not all(isinstance(v, bool) for v in body.values()) \
                    or (rules is not None and not (isinstance(rules, list)
                                                   and all(isinstance(r, dict) for r in rules))):
                raise ApiError(400, "BadRequest", 'expected {"enabled": bool}, {"loadbalancer": bool}'
                               ' and/or {"status_rules": [{"kind": ..., "after": seconds}, ...]}')
            if rules is not None:
                try:
                    self.controller.set_status_rules(rules)
                except ValueError as e:
                    raise ApiError(400, "BadRequest", str(e)) from e
            if "enabled" in body:
                self.controller.set_enabled(body["enabled"])
            if "loadbalancer" in body:
                self.controller.set_loadbalancer(body["loadbalancer"])
            return _json(self.state())
        raise not_found("_emulator", path)


async def run_server(
    emulator: Emulator, host: str, port: int, on_ready: Callable[[int], Awaitable[None] | None],
) -> web.AppRunner:
    """Start serving; call ``on_ready(actual_port)`` once listening; return the runner."""
    runner = web.AppRunner(emulator.app(), handler_cancellation=True, access_log=None,
                           shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    actual = runner.addresses[0][1]
    result = on_ready(actual)
    if result is not None:
        await result
    return runner
