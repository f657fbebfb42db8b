"""Authentication of node-to-node HTTP calls with the system secret.

Every internode request carries five headers:

    X-Camkeep-System     the caller's system id
    X-Camkeep-Node       the caller's node id
    X-Camkeep-Time       the caller's wall clock, ms since the epoch
    X-Camkeep-Nonce      32 random hex digits, never reused
    X-Camkeep-Signature  hex HMAC-SHA256(key, canonical request)

key = derive_key(system secret, PURPOSE_INTERNODE) (HMAC(secret, "camkeep internode http
v1" || 0x01), see _crypto.py), so it differs from the gossip key and the secret itself
never keys a MAC. The canonical
request binds everything that matters:

    "CKH1" \\n METHOD \\n path?query (as sent, percent-encoded) \\n system \\n node
           \\n time \\n nonce \\n hex sha256(body)

`InternodeVerifier.verify()` checks, in this order: headers present and well formed,
system id, time within ±30 s, signature (constant time), nonce not seen before. The
nonce is remembered only once the signature checks out, so forgeries cannot fill the
cache; the cache is bounded (evicting the oldest raises a floor below which requests
are refused, so an evicted nonce still cannot be replayed). Each failure raises
`InternodeAuthError(reason)` with one short reason token.

Client side: `sign_request(...)` returns the headers for a request, and `InternodeAuth`
is an httpx.Auth that signs each request as it is sent. Server side:
`require_internode(get_secret)` is a FastAPI dependency factory.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass

import httpx
from fastapi import HTTPException, Request

from node.security._crypto import PURPOSE_INTERNODE, derive_key, mac, same_mac

HEADER_SYSTEM = "X-Camkeep-System"
HEADER_NODE = "X-Camkeep-Node"
HEADER_TIME = "X-Camkeep-Time"
HEADER_NONCE = "X-Camkeep-Nonce"
HEADER_SIGNATURE = "X-Camkeep-Signature"
HEADERS = (HEADER_SYSTEM, HEADER_NODE, HEADER_TIME, HEADER_NONCE, HEADER_SIGNATURE)

CANONICAL_PREFIX = "CKH1"
DEFAULT_WINDOW_MS = 30_000  # accepted clock skew / request age, either way
DEFAULT_MAX_NONCES = 100_000  # remembered nonces (about 1600 requests/s over 60 s)
MAX_BODY_BYTES = 32 * 1024 * 1024  # internode bodies: configuration batches, not video

_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_NONCE_PATTERN = re.compile(r"[0-9a-f]{32}")
_SIGNATURE_PATTERN = re.compile(r"[0-9a-f]{64}")
_TIME_PATTERN = re.compile(r"[0-9]{1,16}")
_TARGET_PATTERN = re.compile(r"/[\x21-\x7e]*")  # printable ASCII, no spaces or newlines

REASON_MESSAGES = {
    "not_in_system": "this node is not in a system",
    "missing_header": "internode headers missing",
    "bad_header": "internode header malformed",
    "wrong_system": "caller belongs to another system",
    "stale": "request time too old (clock skew or replay)",
    "future": "request time too far ahead (clock skew)",
    "bad_signature": "internode signature does not match",
    "replayed": "nonce already used (replayed request)",
}


class InternodeAuthError(Exception):
    """An internode request was refused; `reason` is a key of REASON_MESSAGES."""

    def __init__(self, reason: str, detail: str = "") -> None:
        message = REASON_MESSAGES.get(reason, reason)
        super().__init__(f"{message}: {detail}" if detail else message)
        self.reason = reason


def canonical_request(
    method: str, target: str, system_id: str, node_id: str, time_ms: int, nonce: str, body: bytes
) -> bytes:
    """The bytes that are signed. `target` is path?query exactly as sent on the wire."""
    body_hash = hashlib.sha256(body).hexdigest()
    fields = (CANONICAL_PREFIX, method.upper(), target, system_id, node_id, str(time_ms), nonce)
    return ("\n".join(fields) + "\n" + body_hash).encode("ascii")


def signature(key: bytes, canonical: bytes) -> str:
    return mac(key, canonical).hex()


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _check_target(target: str) -> str:
    if not _TARGET_PATTERN.fullmatch(target):
        raise ValueError("target must be an absolute path?query in printable ASCII")
    return target


def _check_id(name: str, value: str) -> str:
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
        raise ValueError(f"{name} must match {_ID_PATTERN.pattern}")
    return value


def sign_request(
    system_secret: bytes,
    system_id: str,
    node_id: str,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    now_ms: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers that authenticate one request. `target` is the path and query as they
    go on the wire (e.g. httpx.URL(url).raw_path.decode()); prefer `InternodeAuth`
    with httpx, which takes them from the request itself."""
    _check_id("system_id", system_id)
    _check_id("node_id", node_id)
    _check_target(target)
    time_ms = wall_ms() if now_ms is None else now_ms
    nonce = secrets.token_hex(16) if nonce is None else nonce
    if not _NONCE_PATTERN.fullmatch(nonce):
        raise ValueError("nonce must be 32 lower-case hex digits")
    canonical = canonical_request(method, target, system_id, node_id, time_ms, nonce, body)
    return {
        HEADER_SYSTEM: system_id,
        HEADER_NODE: node_id,
        HEADER_TIME: str(time_ms),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(derive_key(system_secret, PURPOSE_INTERNODE), canonical),
    }


class InternodeAuth(httpx.Auth):
    """httpx auth that signs every request: `httpx.AsyncClient(auth=InternodeAuth(...))`.

    `get_credentials` returns (system_id, node_id, secret) at send time, so a client
    follows the node into another system; None sends the request unsigned."""

    requires_request_body = True

    def __init__(self, get_credentials: Callable[[], tuple[str, str, bytes] | None]) -> None:
        self._get_credentials = get_credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        credentials = self._get_credentials()
        if credentials is not None:
            system_id, node_id, secret = credentials
            target = request.url.raw_path.decode("ascii")
            request.headers.update(
                sign_request(secret, system_id, node_id, request.method, target, request.content)
            )
        yield request


class NonceCache:
    """Nonces accepted within the time window, bounded; see the module docstring."""

    def __init__(self, max_nonces: int = DEFAULT_MAX_NONCES) -> None:
        if max_nonces < 1:
            raise ValueError("max_nonces must be positive")
        self.max_nonces = max_nonces
        self.floor_ms = -1  # requests stamped at or below this are refused
        self._seen: set[str] = set()
        self._by_time: list[tuple[int, str]] = []  # (request time ms, nonce), a heap

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, nonce: str, time_ms: int) -> bool:
        return time_ms <= self.floor_ms or nonce in self._seen

    def add(self, nonce: str, time_ms: int, now_ms: int, window_ms: int) -> None:
        # A request stamped ts is accepted only while now <= ts + window: drop older.
        while self._by_time and self._by_time[0][0] < now_ms - window_ms:
            _, old = heapq.heappop(self._by_time)
            self._seen.discard(old)
        while len(self._seen) >= self.max_nonces:
            oldest_ms, old = heapq.heappop(self._by_time)
            self._seen.discard(old)
            self.floor_ms = max(self.floor_ms, oldest_ms)
        self._seen.add(nonce)
        heapq.heappush(self._by_time, (time_ms, nonce))


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if value is None:
        raise InternodeAuthError("missing_header", name)
    return value


@dataclass(frozen=True)
class SignedHeaders:
    """The internode headers of a request, well formed and within the time window."""

    system_id: str
    node_id: str
    time_ms: int
    nonce: str
    signature: str


class InternodeVerifier:
    """Verifies signed requests for one system; keeps the nonce cache across calls.

    The secret may change (the node joins another system): pass the current one to
    `verify` each time, or set `system_id`/`secret` on construction."""

    def __init__(
        self,
        system_id: str | None = None,
        system_secret: bytes | None = None,
        *,
        window_ms: int = DEFAULT_WINDOW_MS,
        max_nonces: int = DEFAULT_MAX_NONCES,
        clock_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self.system_id = system_id
        self.system_secret = system_secret
        self.window_ms = window_ms
        self.nonces = NonceCache(max_nonces)
        self._clock_ms = clock_ms

    def verify(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        system_id: str | None = None,
        system_secret: bytes | None = None,
        now_ms: int | None = None,
    ) -> str:
        """Check one request; return the caller's node id or raise InternodeAuthError.
        A refused request leaves the nonce cache as it was."""
        now = self._clock_ms() if now_ms is None else now_ms
        signed = self.check_headers(
            target, headers, system_id=system_id, system_secret=system_secret, now_ms=now
        )
        return self.check_signature(
            signed, method, target, body, system_secret=system_secret, now_ms=now
        )

    def check_headers(
        self,
        target: str,
        headers: Mapping[str, str],
        *,
        system_id: str | None = None,
        system_secret: bytes | None = None,
        now_ms: int | None = None,
    ) -> SignedHeaders:
        """The checks that need no body (so a server can refuse before reading it):
        a secret to check with, headers present and well formed, system, time."""
        if not self._secret(system_secret):
            raise InternodeAuthError("not_in_system")
        values = {name: _header(headers, name) for name in HEADERS}
        sys_id, node_id = values[HEADER_SYSTEM], values[HEADER_NODE]
        time_text, nonce, sig = values[HEADER_TIME], values[HEADER_NONCE], values[HEADER_SIGNATURE]
        for name, ok in (
            (HEADER_SYSTEM, _ID_PATTERN.fullmatch(sys_id)),
            (HEADER_NODE, _ID_PATTERN.fullmatch(node_id)),
            (HEADER_TIME, _TIME_PATTERN.fullmatch(time_text)),
            (HEADER_NONCE, _NONCE_PATTERN.fullmatch(nonce)),
            (HEADER_SIGNATURE, _SIGNATURE_PATTERN.fullmatch(sig)),
        ):
            if not ok:
                raise InternodeAuthError("bad_header", name)
        if not _TARGET_PATTERN.fullmatch(target):
            raise InternodeAuthError("bad_header", "request target")
        expected_system = system_id if system_id is not None else self.system_id
        if expected_system is not None and sys_id != expected_system:
            raise InternodeAuthError("wrong_system", sys_id)
        now = self._clock_ms() if now_ms is None else now_ms
        time_ms = int(time_text)
        if time_ms < now - self.window_ms:
            raise InternodeAuthError("stale", f"{now - time_ms} ms old")
        if time_ms > now + self.window_ms:
            raise InternodeAuthError("future", f"{time_ms - now} ms ahead")
        return SignedHeaders(sys_id, node_id, time_ms, nonce, sig)

    def check_signature(
        self,
        signed: SignedHeaders,
        method: str,
        target: str,
        body: bytes,
        *,
        system_secret: bytes | None = None,
        now_ms: int | None = None,
    ) -> str:
        """Signature over the whole request, then the nonce; returns the node id."""
        secret = self._secret(system_secret)
        if not secret:
            raise InternodeAuthError("not_in_system")
        if not method.isascii():  # HTTP methods are ASCII tokens; the canonical form is ASCII
            raise InternodeAuthError("bad_header", "method")
        canonical = canonical_request(
            method, target, signed.system_id, signed.node_id, signed.time_ms, signed.nonce, body
        )
        expected = signature(derive_key(secret, PURPOSE_INTERNODE), canonical)
        if not same_mac(expected, signed.signature):
            raise InternodeAuthError("bad_signature")
        if self.nonces.seen(signed.nonce, signed.time_ms):
            raise InternodeAuthError("replayed")
        now = self._clock_ms() if now_ms is None else now_ms
        self.nonces.add(signed.nonce, signed.time_ms, now, self.window_ms)
        return signed.node_id

    def _secret(self, given: bytes | None) -> bytes | None:
        return given if given is not None else self.system_secret


def request_target(request: Request) -> str:
    """path?query of an ASGI request exactly as the client sent it."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    target = raw + (b"?" + query if query else b"")
    return target.decode("latin-1")


def require_internode(
    get_secret: Callable[[], bytes | None],
    *,
    get_system_id: Callable[[], str | None] | None = None,
    verifier: InternodeVerifier | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Callable[[Request], Awaitable[str]]:
    """A FastAPI dependency that admits only signed calls from this node's system and
    returns the caller's node id:

        internode = require_internode(lambda: node.system_secret(), get_system_id=...)
        @app.post("/internal/records")
        async def push(caller: Annotated[str, Depends(internode)]): ...

    Failure: HTTP 401 with a JSON body naming the reason (FastAPI renders it as
    {"detail": "..."}, camkeep's handlers as {"error": "..."}); 413 for a body over
    `max_body_bytes` (checked after the headers, before reading it)."""
    checker = verifier or InternodeVerifier()

    async def dependency(request: Request) -> str:
        secret = get_secret() or b""
        system_id = get_system_id() if get_system_id is not None else None
        target = request_target(request)
        try:
            # Headers first: a caller that cannot be us is refused before its body is read.
            signed = checker.check_headers(
                target, request.headers, system_id=system_id, system_secret=secret
            )
            length = request.headers.get("content-length", "0")
            if not (length.isascii() and length.isdigit()) or int(length) > max_body_bytes:
                raise HTTPException(status_code=413, detail="request body too large")
            body = await request.body()  # cached by Starlette: the route still sees it
            if len(body) > max_body_bytes:
                raise HTTPException(status_code=413, detail="request body too large")
            return checker.check_signature(
                signed, request.method, target, body, system_secret=secret
            )
        except InternodeAuthError as exc:
            raise HTTPException(
                status_code=401,
                detail=f"internode auth failed ({exc.reason}): {exc}",
                headers={"WWW-Authenticate": "Camkeep-Node"},
            ) from None

    return dependency
