"""Signed node-to-node HTTP requests as `node.security._internode.InternodeVerifier` reads
them (what `require_internode` runs before any internal route).

`data` is a request: `METHOD target`, header lines, a blank line, the body. Headers
are read into Starlette's `Headers` (as the route sees them, latin-1). The request is
verified as sent, then again with its signature replaced by the right one (as a
member of the system would sign it), which reaches the nonce cache: the same request
a second time is a replay. Documented error: `InternodeAuthError`.
"""

from __future__ import annotations

import contextlib

from starlette.datastructures import Headers

from node.security import PURPOSE_INTERNODE, derive_key
from node.security._internode import (
    HEADER_NODE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_SYSTEM,
    HEADER_TIME,
    InternodeAuthError,
    InternodeVerifier,
    canonical_request,
    signature,
)

SYSTEM_ID = "sys-fuzz"
SECRET = b"fuzz-system-secret-0123456789abcdef"
NOW_MS = 1_714_564_800_000


def parse(data: bytes) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, _, target = lines[0].partition(" ")
    raw = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        raw.append((name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")))
    return method, target, raw, body


def _verifier() -> InternodeVerifier:
    return InternodeVerifier(SYSTEM_ID, SECRET, clock_ms=lambda: NOW_MS)


def fuzz_one(data: bytes) -> None:
    method, target, raw, body = parse(data)
    with contextlib.suppress(InternodeAuthError):
        _verifier().verify(method, target, Headers(raw=raw), body)
    headers = Headers(raw=raw)
    try:
        canonical = canonical_request(
            method,
            target,
            headers.get(HEADER_SYSTEM, ""),
            headers.get(HEADER_NODE, ""),
            int(headers.get(HEADER_TIME, "0")),
            headers.get(HEADER_NONCE, ""),
            body,
        )
    except (ValueError, UnicodeEncodeError):
        return  # not signable as it stands (the verifier refused it above)
    good = signature(derive_key(SECRET, PURPOSE_INTERNODE), canonical)
    resigned = [(k, v) for k, v in raw if k != HEADER_SIGNATURE.lower().encode()]
    resigned.append((HEADER_SIGNATURE.lower().encode(), good.encode()))
    verifier = _verifier()
    try:
        node_id = verifier.verify(method, target, Headers(raw=resigned), body)
    except InternodeAuthError:
        return
    assert node_id == headers.get(HEADER_NODE)
    try:
        verifier.verify(method, target, Headers(raw=resigned), body)
    except InternodeAuthError as error:
        assert error.reason == "replayed", error.reason
    else:
        raise AssertionError("a signed request was accepted twice")
