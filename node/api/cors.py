"""Cross-origin requests from the system's own servers.

The player is served by every node (/player/), and when the node a page came from
goes away it carries on with another node of the system: a request to another origin.
Browsers allow that only when the other node says so (CORS). Each node allows exactly
the origins of the servers of its system (their `url`), nothing else: a page of
another site still cannot call the API with a user's token (which, as a bearer token,
a browser never attaches by itself anyway)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXPOSED = b"Location, X-Camkeep-Timeline, X-Camkeep-Next"
ALLOWED_METHODS = b"GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = b"Authorization, Content-Type"


def origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class SystemOriginCors:
    def __init__(self, app: ASGIApp, server_urls: Callable[[], list[str]]) -> None:
        self.app = app
        self.server_urls = server_urls

    def _allowed(self, origin: str) -> bool:
        return origin.lower() in {origin_of(url) for url in self.server_urls()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = dict(scope.get("headers", [])).get(b"origin", b"").decode("latin1")
        if not origin or not self._allowed(origin):
            await self.app(scope, receive, send)
            return
        allow = [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS":  # a preflight: answered here, for every route
            headers = [
                *allow,
                (b"access-control-allow-methods", ALLOWED_METHODS),
                (b"access-control-allow-headers", ALLOWED_HEADERS),
                (b"access-control-max-age", b"600"),
                (b"content-length", b"0"),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        *allow,
                        (b"access-control-expose-headers", EXPOSED),
                    ],
                }
            await send(message)

        await self.app(scope, receive, with_cors)
