"""Build the FastAPI application around a NodeRuntime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node import __version__
from node.api import (
    camera_routes,
    event_routes,
    failover_routes,
    internal_routes,
    live_routes,
    notification_routes,
    recording_routes,
    server_routes,
    status_routes,
    system_routes,
    web_routes,
)
from node.api.cors import SystemOriginCors
from node.api.errors import ERROR_MEANINGS, install_error_handlers
from node.api.models import ErrorOut
from node.app import NodeRuntime

# the browser player (an ES module), public like any page's scripts: no data in it
PLAYER_DIR = Path(__file__).resolve().parent.parent / "web"
# routes anyone may call; every other route must depend on require(role)
# (/metrics checks its own optional token: [metrics] token in the configuration)
PUBLIC_ROUTES = {
    "/api/v1/health",
    "/api/v1/system/setup",
    "/api/v1/system/discovered",
    "/api/v1/auth/login",
    "/metrics",
}
# not in the OpenAPI document: an undefined node accepts a join (trust model in
# node/system/_join.py); a join request carries a join token signed with the secret
TOKEN_ROUTES = {"/api/v1/internal/join", "/api/v1/system/join-requests"}
MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """Answer 413 to request bodies larger than MAX_BODY_BYTES (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _send_json(send, 413, b'{"error":"request body too large"}')
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, b'{"error":"request body too large"}')


class _TooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _required_role(route: APIRoute) -> str | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        role = getattr(dependency.call, "required_role", None)
        if role is not None:
            return str(role.value)
        if getattr(dependency.call, "internode", False):
            return "internode"
        stack.extend(dependency.dependencies)
    return None


def _mark_roles(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Publish each route's role in OpenAPI (`x-required-role`, null for public
    routes); refuse to start with an unguarded route."""
    roles: dict[tuple[str, str], str | None] = {}
    for route in (r for router in routers for r in router.routes):
        if not isinstance(route, APIRoute):
            continue
        role = _required_role(route)
        if role is None and route.path not in PUBLIC_ROUTES | TOKEN_ROUTES:
            raise RuntimeError(f"route {route.path} has no role check")
        for method in route.methods:
            roles[(method.lower(), route.path)] = role
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_openapi()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            for path, item in schema.get("paths", {}).items():
                for method, operation in item.items():
                    role = roles.get((method, path))
                    operation["x-required-role"] = role
                    if role is not None:
                        operation["security"] = [{"bearer": []}]
                    _declare_errors(operation, role)
            _add_error_schemas(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}


def _common_errors(operation: dict[str, Any], role: str | None) -> list[int]:
    """The error statuses any route of this shape can answer, whatever it does."""
    statuses = [413]  # BodyLimit, before routing
    parameters = operation.get("parameters", [])
    if "requestBody" in operation:
        statuses += [400, 422]  # unreadable body; body that does not validate
    if parameters:
        statuses.append(422)
    if any(p.get("in") == "path" for p in parameters):
        statuses.append(404)  # a value naming nothing, or one with "/" that routes nowhere
    if role is not None:
        statuses += [401, 409]  # no/expired token; this server is undefined
        if role != "viewer":
            statuses.append(403)
    return statuses


def _declare_errors(operation: dict[str, Any], role: str | None) -> None:
    """Every error status the route can answer, each with the JSON error body."""
    responses = operation.setdefault("responses", {})
    for status in sorted(set(_common_errors(operation, role))):
        responses.setdefault(str(status), {"description": ERROR_MEANINGS[status]})
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            response["content"] = {"application/json": {"schema": ERROR_REF}}


def _add_error_schemas(schema: dict[str, Any]) -> None:
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(error_schema.pop("$defs", {}))
    components["ErrorOut"] = error_schema
    components.pop("HTTPValidationError", None)  # replaced by ErrorOut everywhere
    components.pop("ValidationError", None)


def create_app(node: NodeRuntime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(
        title="camkeep",
        version=__version__,
        description="camkeep node API: system, users, servers, cameras, recordings, events.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.node = node
    install_error_handlers(app)
    routers = [
        m.router
        for m in (
            system_routes,
            server_routes,
            camera_routes,
            recording_routes,
            event_routes,
            notification_routes,
            status_routes,
            failover_routes,
            internal_routes,
            live_routes,
        )
    ]
    routers.append(live_routes.internal)
    for router in routers:
        app.include_router(router)
    _mark_roles(app, routers)
    app.include_router(web_routes.router)  # the web client's static files: public
    app.mount("/player", StaticFiles(directory=PLAYER_DIR), name="player")
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestCounter, metrics=node.metrics)
    app.add_middleware(
        SystemOriginCors,
        server_urls=lambda: [s.get("url") or "" for s in node.state.servers()],
    )
    return app


class RequestCounter:
    """Counts every HTTP request by route template (never the raw path: ids would
    make a series per camera), method and status, for `/metrics`."""

    def __init__(self, app: ASGIApp, metrics: Any) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.count_request(template, scope.get("method", ""), status)
