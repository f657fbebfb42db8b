"""A minimal asyncio HTTP/1.1 server for the emulator's ONVIF services and control API.

The request-head parser is pure (bytes in, `RequestHead` or `HttpError` out); the
connection loop around it enforces the limits: header size, body size and read
timeouts. A bad request gets 400/408/413/431/501 and the connection is closed; an
exception in the handler becomes a 500 with a generic body (the traceback is only
logged). Keep-alive follows HTTP/1.1 (persistent unless `Connection: close`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024  # request line + headers
MAX_BODY_BYTES = 1024 * 1024
MAX_HEADER_COUNT = 100
HEADER_TIMEOUT_S = 10.0  # whole request head must arrive within this
BODY_TIMEOUT_S = 30.0
IDLE_TIMEOUT_S = 30.0  # keep-alive connection waiting for the next request
WRITE_TIMEOUT_S = 30.0  # a client that never reads is dropped

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case keys; repeated headers joined with ", "
    body: bytes
    peer: tuple


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestHead:
    method: str
    path: str
    query: dict[str, str]
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: dict[str, str]


class HttpError(Exception):
    """A request the server refuses; `status` is the answer to send before closing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def reason_phrase(status: int) -> str:
    return _REASONS.get(status, "Unknown")


def parse_request_head(data: bytes) -> RequestHead:
    """Parse the request line and headers (without the final blank line).

    Raises HttpError(400/431/505) for anything malformed.
    """
    if len(data) > MAX_HEADER_BYTES:
        raise HttpError(431, "request header too large")
    try:
        text = data.decode("latin-1")
    except UnicodeDecodeError as exc:  # latin-1 decodes everything; kept for safety
        raise HttpError(400, "undecodable request head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if not method or not set(method) <= _TOKEN_CHARS:
        raise HttpError(400, "malformed method")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if version.startswith("HTTP/"):
            raise HttpError(505, "unsupported HTTP version")
        raise HttpError(400, "malformed request line")
    if not target.startswith("/") or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        raise HttpError(400, "malformed request target")
    headers: dict[str, str] = {}
    header_lines = [line for line in lines[1:] if line != ""]
    if len(header_lines) > MAX_HEADER_COUNT:
        raise HttpError(431, "too many header fields")
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or not set(name) <= _TOKEN_CHARS:
            raise HttpError(400, "malformed header field")
        key = name.lower()
        value = value.strip(" \t")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    # Origin form is path[?query]; urlsplit would read a path starting with '//' as a
    # host ('//x/y' -> path '/y'), so the target is split here.
    path, _, query_text = target.partition("?")
    query = dict(parse_qsl(query_text, keep_blank_values=True))
    return RequestHead(method, unquote(path), query, version, headers)


def body_length(head: RequestHead) -> int | None:
    """Content-Length of the body, 0 when absent, None when chunked. Raises HttpError."""
    encoding = head.headers.get("transfer-encoding")
    if encoding is not None:
        if encoding.strip().lower() != "chunked":
            raise HttpError(501, "unsupported transfer-encoding")
        if "content-length" in head.headers:
            raise HttpError(400, "both content-length and transfer-encoding")
        return None
    raw = head.headers.get("content-length")
    if raw is None:
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise HttpError(400, "malformed content-length")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        raise HttpError(413, "request body too large")
    return length


def wants_keep_alive(head: RequestHead) -> bool:
    tokens = {t.strip().lower() for t in head.headers.get("connection", "").split(",")}
    if head.version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def serialize_response(response: Response, *, keep_alive: bool, head_only: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {reason_phrase(response.status)}"]
    lowered = {k.lower() for k in response.headers}
    if "content-type" not in lowered and (response.body or response.status >= 400):
        lines.append(f"Content-Type: {response.content_type}")
    lines.append(f"Content-Length: {len(response.body)}")
    lines.append("Server: camkeep-emulator")
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    for name, value in response.headers.items():
        if name.lower() in ("content-length", "connection"):
            continue
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError("header with a line break")
        lines.append(f"{name}: {value}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + response.body


def _error_response(error: HttpError) -> Response:
    return Response(error.status, (error.message + "\n").encode())


async def _read_head(reader: asyncio.StreamReader, timeout: float) -> bytes | None:
    """Read up to and including the blank line; None on clean EOF before any byte."""
    try:
        async with asyncio.timeout(timeout):
            data = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise HttpError(400, "incomplete request head") from exc
    except asyncio.LimitOverrunError as exc:
        raise HttpError(431, "request header too large") from exc
    if len(data) > MAX_HEADER_BYTES:
        raise HttpError(431, "request header too large")
    return data[:-4]


_HEX_DIGITS = b"0123456789abcdefABCDEF"


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line[:-2].split(b";", 1)[0].strip()
        # hex digits only: int(_, 16) also takes a sign, "0x" and underscores
        if not size_text or len(size_text) > 8 or size_text.strip(_HEX_DIGITS):
            raise HttpError(400, "malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            # Trailers (ignored) up to the final blank line.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return bytes(body)
        if len(body) + size > MAX_BODY_BYTES:
            raise HttpError(413, "request body too large")
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError(400, "malformed chunk")


async def _read_body(reader: asyncio.StreamReader, head: RequestHead) -> bytes:
    length = body_length(head)
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            if length is None:
                return await _read_chunked(reader)
            return await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError as exc:
        raise HttpError(400, "incomplete request body") from exc
    except asyncio.LimitOverrunError as exc:
        raise HttpError(400, "malformed chunk") from exc


async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    async with asyncio.timeout(WRITE_TIMEOUT_S):
        await writer.drain()


async def _serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handler: Callable[[Request], Awaitable[Response]],
    accept: Callable[[], bool],
) -> None:
    peer = writer.get_extra_info("peername") or ("", 0)
    first = True
    try:
        while True:
            try:
                raw = await _read_head(reader, HEADER_TIMEOUT_S if first else IDLE_TIMEOUT_S)
                if raw is None:
                    return
                head = parse_request_head(raw)
                if head.headers.get("expect", "").lower() == "100-continue":
                    body_length(head)  # refuse an oversized body before it is sent
                    await _write(writer, b"HTTP/1.1 100 Continue\r\n\r\n")
                body = await _read_body(reader, head)
            except TimeoutError:
                if not first:
                    return  # idle keep-alive connection: close quietly
                await _write(
                    writer,
                    serialize_response(Response(408, b"request timeout\n"), keep_alive=False),
                )
                return
            except HttpError as error:
                await _write(writer, serialize_response(_error_response(error), keep_alive=False))
                return
            first = False
            if not accept():
                return  # went offline while this keep-alive connection was open
            keep_alive = wants_keep_alive(head)
            request = Request(head.method, head.path, head.query, head.headers, body, tuple(peer))
            try:
                response = await handler(request)
                data = serialize_response(
                    response, keep_alive=keep_alive, head_only=head.method == "HEAD"
                )
            except Exception:
                log.exception("handler failed for %s %s", head.method, head.path)
                response = Response(500, b"internal server error\n")
                data = serialize_response(response, keep_alive=False)
                keep_alive = False
            await _write(writer, data)
            if not keep_alive:
                return
    except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def start_http_server(
    host: str,
    port: int,
    handler: Callable[[Request], Awaitable[Response]],
    *,
    accept: Callable[[], bool] = lambda: True,
) -> asyncio.Server:
    """Serve `handler` on host:port. When `accept()` is False a new connection is closed
    at once (the "offline" fault)."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not accept():
            transport = writer.transport
            transport.abort()  # RST-like close, as a camera that is gone
            return
        await _serve_connection(reader, writer, handler, accept)

    return await asyncio.start_server(
        on_connection, host, port, limit=MAX_HEADER_BYTES + 4, reuse_address=True
    )
