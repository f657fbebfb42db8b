"""The primitives every secret-based check of camkeep is built from: base64url, HMAC,
keys derived from the system secret, and the `<prefix>.<payload>.<MAC>` token shape.

Two key derivations exist, both kept byte for byte so that tokens, signatures and
datagrams made by earlier versions stay valid:

- `derive_key(secret, purpose)` = HMAC-SHA256(secret, purpose || 0x01), HKDF-expand
  with one block: internode HTTP signatures and gossip datagrams;
- `derive_token_key(secret, purpose)` = SHA256(purpose || 0x00 || secret): the
  bearer tokens (login, join, detach confirmation).

Each use has its own purpose label (the PURPOSE_* constants), so no two uses share a
key and the secret itself never keys a MAC. Pure code: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

PURPOSE_INTERNODE = b"camkeep internode http v1"
PURPOSE_GOSSIP = b"camkeep gossip v1"
PURPOSE_LOGIN_TOKEN = b"camkeep token v1"
PURPOSE_JOIN_TOKEN = b"camkeep join v1"
PURPOSE_DETACH_CONFIRM = b"camkeep detach v1"

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class Base64Error(ValueError):
    """Text that is not canonical unpadded base64url."""


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The inverse of `b64url_encode`, strict: only the base64url alphabet, no padding,
    no whitespace, unused trailing bits zero. Anything else raises Base64Error."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise Base64Error("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise Base64Error("not base64url") from None
    if b64url_encode(data) != text:  # non-zero trailing bits: a second spelling
        raise Base64Error("not canonical base64url")
    return data


def mac(key: bytes, payload: bytes) -> bytes:
    """HMAC-SHA256 of `payload` (32 bytes)."""
    return hmac.new(key, payload, hashlib.sha256).digest()


def mac_b64(key: bytes, payload: str) -> str:
    """HMAC-SHA256 of the UTF-8 `payload`, base64url: the MAC part of a token."""
    return b64url_encode(mac(key, payload.encode()))


def same_mac(expected: bytes | str, given: bytes | str) -> bool:
    """Constant-time comparison (never `==` on MACs: it tells where they differ).
    Text is compared as UTF-8, so a client's non-ASCII junk is just a mismatch."""
    return hmac.compare_digest(_as_bytes(expected), _as_bytes(given))


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value


def _check_secret(system_secret: bytes) -> None:
    if not isinstance(system_secret, bytes) or not system_secret:
        raise ValueError("system secret must be non-empty bytes")


def derive_key(system_secret: bytes, purpose: bytes) -> bytes:
    """HMAC-SHA256(secret, purpose || 0x01): the MAC key of internode HTTP
    (PURPOSE_INTERNODE) and of gossip (PURPOSE_GOSSIP). An empty secret is refused."""
    _check_secret(system_secret)
    return mac(system_secret, purpose + b"\x01")


def derive_token_key(system_secret: bytes, purpose: bytes) -> bytes:
    """SHA256(purpose || 0x00 || secret): the MAC key of a bearer token kind."""
    return hashlib.sha256(purpose + b"\0" + system_secret).digest()


def seal_token(prefix: str, key: bytes, body: Mapping[str, Any]) -> str:
    """`<prefix>.<base64url compact JSON of body>.<base64url MAC of that payload>`."""
    payload = b64url_encode(json.dumps(body, separators=(",", ":")).encode())
    return f"{prefix}.{payload}.{mac_b64(key, payload)}"


def token_body(payload: str) -> Any:
    """The JSON a token's payload part carries; ValueError (Base64Error, a JSON or
    UTF-8 error) when it is not one. Says nothing about the MAC."""
    return json.loads(b64url_decode(payload))
