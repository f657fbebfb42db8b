"""RTSP/1.0 message parsing and formatting (RFC 2326), pure code: bytes in, request out.

`parse_message(buffer)` looks at the start of a connection's receive buffer and
returns what is there: nothing complete yet, a request, or an interleaved binary
frame (`$`, channel, length: clients send RTCP receiver reports that way). Bad input
raises `RtspParseError` carrying the status to answer; the connection is then closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 8192  # a request line and headers larger than this is refused
MAX_BODY_BYTES = 65536
MAX_HEADERS = 64

METHODS = frozenset(
    {
        "OPTIONS",
        "DESCRIBE",
        "SETUP",
        "PLAY",
        "PAUSE",
        "TEARDOWN",
        "GET_PARAMETER",
        "SET_PARAMETER",
        "ANNOUNCE",
        "RECORD",
        "REDIRECT",
    }
)

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "RTSP Version Not Supported",
}


class RtspParseError(Exception):
    def __init__(self, status: int, message: str, cseq: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.cseq = cseq


@dataclass(frozen=True)
class RtspRequest:
    method: str
    uri: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def cseq(self) -> str | None:
        return self.headers.get("cseq")

    @property
    def path(self) -> str:
        """The URI's path without trailing slash ('' for '*')."""
        if self.uri == "*":
            return ""
        return urlsplit(self.uri).path.rstrip("/")

    @property
    def session_id(self) -> str | None:
        value = self.headers.get("session")
        return value.split(";")[0].strip() if value else None


@dataclass(frozen=True)
class InterleavedFrame:
    channel: int
    data: bytes


@dataclass
class RtspResponse:
    status: int
    cseq: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def encode(self) -> bytes:
        lines = [f"RTSP/1.0 {self.status} {REASONS.get(self.status, 'Error')}"]
        if self.cseq is not None:
            lines.append(f"CSeq: {self.cseq}")
        lines.append("Server: camkeep-emulator")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if self.body:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def _cseq_of(head: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"cseq":
            text = value.strip().decode("latin-1")
            return text if _is_number(text) else None
    return None


def parse_message(
    buffer: bytes | bytearray,
) -> tuple[RtspRequest | InterleavedFrame | None, int]:
    """(message, bytes consumed); (None, 0) when more bytes are needed.

    (None, n > 0) means n bytes of padding were skipped: call again."""
    if not buffer:
        return None, 0
    if buffer[:2] == b"\r\n":  # stray empty lines between requests are skipped
        skipped = len(buffer) - len(bytes(buffer).lstrip(b"\r\n"))
        return None, skipped
    if buffer[0] == 0x24:  # '$': interleaved binary data from the client
        if len(buffer) < 4:
            return None, 0
        length = int.from_bytes(buffer[2:4], "big")
        if len(buffer) < 4 + length:
            return None, 0
        return InterleavedFrame(buffer[1], bytes(buffer[4 : 4 + length])), 4 + length
    end = buffer.find(b"\r\n\r\n")
    if end == -1:
        if len(buffer) > MAX_HEADER_BYTES:
            raise RtspParseError(400, "request header too large")
        if not _looks_like_request_start(bytes(buffer[:16])):
            raise RtspParseError(400, "not an RTSP request")
        return None, 0
    if end > MAX_HEADER_BYTES:
        raise RtspParseError(400, "request header too large")
    head = bytes(buffer[:end])
    request = _parse_head(head)
    length_text = request.headers.get("content-length", "0")
    if not _is_number(length_text) or int(length_text) > MAX_BODY_BYTES:
        raise RtspParseError(400, "bad Content-Length", request.cseq)
    total = end + 4 + int(length_text)
    if len(buffer) < total:
        return None, 0
    body = bytes(buffer[end + 4 : total])
    return RtspRequest(request.method, request.uri, request.headers, body), total


def _looks_like_request_start(prefix: bytes) -> bool:
    """Cheap early check so garbage is refused before a whole header's worth arrives."""
    token = prefix.split(b" ", 1)[0]
    if b" " in prefix:
        return token.isalpha() or token.replace(b"_", b"").isalpha()
    return token.replace(b"_", b"").isalpha() or token == b""


def _parse_head(head: bytes) -> RtspRequest:
    cseq = _cseq_of(head)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise RtspParseError(400, "request is not UTF-8", cseq) from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise RtspParseError(400, "bad request line", cseq)
    method, uri, version = parts
    if not method.replace("_", "").isalpha() or not method.isupper():
        raise RtspParseError(400, "bad method", cseq)
    if version != "RTSP/1.0":
        raise RtspParseError(505 if version.startswith("RTSP/") else 400, "bad version", cseq)
    if uri != "*" and not uri.lower().startswith(("rtsp://", "rtsps://", "/")):
        raise RtspParseError(400, "bad request URI", cseq)
    try:
        urlsplit(uri)  # the path is read from it later (e.g. a bad IPv6 host raises)
    except ValueError:
        raise RtspParseError(400, "bad request URI", cseq) from None
    if len(lines) - 1 > MAX_HEADERS:
        raise RtspParseError(400, "too many headers", cseq)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or any(c in name for c in " \t"):
            raise RtspParseError(400, "bad header line", cseq)
        headers[name.lower()] = value.strip()
    if "cseq" not in headers or not _is_number(headers["cseq"]):
        raise RtspParseError(400, "missing or bad CSeq", cseq)
    return RtspRequest(method, uri, headers)


@dataclass(frozen=True)
class TransportSpec:
    """What a client asked for in its Transport header (the first option we support)."""

    tcp: bool
    interleaved: tuple[int, int] | None = None
    client_port: tuple[int, int] | None = None


def parse_transport(value: str) -> TransportSpec | None:
    """First supported unicast option of a Transport header, None if none is."""
    for option in value.split(","):
        fields = [f.strip() for f in option.split(";")]
        proto = fields[0].upper()
        params = dict(f.partition("=")[::2] for f in fields[1:])
        if "multicast" in fields[1:]:
            continue
        try:
            if proto == "RTP/AVP/TCP":
                channels = _pair(params.get("interleaved", "0-1"))
                if max(channels) > 255:
                    continue
                return TransportSpec(True, interleaved=channels)
            if proto in ("RTP/AVP", "RTP/AVP/UDP") and "client_port" in params:
                ports = _pair(params["client_port"])
                if not all(0 < p < 65536 for p in ports):
                    continue
                return TransportSpec(False, client_port=ports)
        except ValueError:
            continue
    return None


def _pair(text: str) -> tuple[int, int]:
    first, _, second = text.partition("-")
    low = int(first)
    high = int(second) if second else low + 1
    if low < 0 or high < 0:
        raise ValueError("negative")
    return low, high


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes digits int() refuses, such as '²'."""
    return text.isascii() and text.isdigit() and len(text) < 12
