"""The web client: static files from node/web/, served at `/` by every node.

The files are read once at start-up into memory (a few tens of KiB) and served only
by name from that table, so no request path ever reaches the file system. Each
answer carries its content type, an ETag (the client asks again on every load with
`no-cache` and gets a 304 when nothing changed: there is no build step that could
put hashes in file names) and a strict Content-Security-Policy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response

from node.api.errors import ApiError

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def content_security_policy(other_origins: list[str]) -> str:
    """Everything from this node only, no inline code, no framing. `connect-src` also
    names the system's other servers: the client asks them whether they are up when
    this node stops answering, to move there. 'self' covers ws:/wss: to the same
    host and port; blob: and mediastream: feed <video>."""
    connect = " ".join(["'self'", *sorted(set(other_origins))])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            f"connect-src {connect}",
            "font-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def server_origins(urls: list[str]) -> list[str]:
    """scheme://host:port of each server URL; anything else is left out (a URL comes
    from a replicated record: it must never add words to the policy)."""
    origins = []
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if ORIGIN.match(origin):
            origins.append(origin)
    return origins


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def load_files(folder: Path = WEB_DIR) -> dict[str, StaticFile]:
    """Every servable file under `folder`, by its path relative to it ("app.js",
    "screens/live.js")."""
    files: dict[str, StaticFile] = {}
    for path in sorted(folder.rglob("*")):
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        files[path.relative_to(folder).as_posix()] = StaticFile(body, content_type, etag)
    return files


FILES = load_files()
router = APIRouter(include_in_schema=False)


def answer(request: Request, name: str) -> Response:
    static = FILES.get(name)
    if static is None:
        raise ApiError(404, "no such file")
    node = request.app.state.node
    urls = [str(s.get("url", "")) for s in node.state.servers()] if node.state.is_member() else []
    headers = {
        **SECURITY_HEADERS,
        "Content-Security-Policy": content_security_policy(server_origins(urls)),
        "ETag": static.etag,
        "Cache-Control": "no-cache",
    }
    if static.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(static.body, media_type=static.content_type, headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
async def index(request: Request) -> Response:
    return answer(request, "index.html")


@router.api_route("/web/{name:path}", methods=["GET", "HEAD"])
async def web_file(name: str, request: Request) -> Response:
    return answer(request, name)
