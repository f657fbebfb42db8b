"""Join tokens: the owner's authority to add servers, for sites provisioned in bulk.

    token, expires_at = mint_join_token(secret, system_id, ttl_s=3600, now=time.time())
    token_system_id(token)                  # unverified: which system to look for
    verify_join_token(token, secret, system_id, now=time.time())   # on a system node

A token is `ckj1.<base64url JSON {"s": system id, "exp": unix s, "n": nonce}>.<MAC>`,
MAC = HMAC-SHA256(key, payload) with key = SHA256("camkeep join v1\\0" || secret)
(`derive_token_key`, see _crypto.py), so it is neither a login token nor an internode
signature. It carries no password; it is usable by anyone holding it until it expires
(keep expiries short). Only a node that has the system secret can check it: the joining
node reads the system id unverified just to know which nodes to ask.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from node.security._crypto import (
    PURPOSE_JOIN_TOKEN,
    derive_token_key,
    mac_b64,
    same_mac,
    seal_token,
    token_body,
)

TOKEN_PREFIX = "ckj1"
MAX_TOKEN_LEN = 512
MAX_TTL_S = 30 * 86400  # a join token lives at most 30 days
_SYSTEM_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class JoinTokenError(Exception):
    """A join token is malformed, forged, expired or of another system."""


@dataclass(frozen=True)
class JoinClaims:
    system_id: str
    expires_at: float  # unix seconds
    nonce: str


def _key(secret: bytes) -> bytes:
    return derive_token_key(secret, PURPOSE_JOIN_TOKEN)


def mint_join_token(
    secret: bytes, system_id: str, *, ttl_s: float, now: float
) -> tuple[str, float]:
    """A new token for `system_id` valid for `ttl_s` seconds from `now`."""
    if not 0 < ttl_s <= MAX_TTL_S:
        raise JoinTokenError(f"ttl_s must be in (0, {MAX_TTL_S}]")
    expires_at = round(now + ttl_s, 3)
    body = {"s": system_id, "exp": expires_at, "n": secrets.token_hex(8)}
    return seal_token(TOKEN_PREFIX, _key(secret), body), expires_at


def read_claims(token: str) -> JoinClaims:
    """The claims WITHOUT checking the MAC (only to know which system to look for)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LEN:
        raise JoinTokenError("join token malformed")
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise JoinTokenError("join token malformed (expected ckj1.<payload>.<signature>)")
    try:
        body = token_body(parts[1])
        claims = JoinClaims(str(body["s"]), float(body["exp"]), str(body["n"]))
    except (ValueError, KeyError, TypeError, OverflowError):  # OverflowError: float() of a huge int
        raise JoinTokenError("join token malformed") from None
    if not _SYSTEM_ID.fullmatch(claims.system_id):
        raise JoinTokenError("join token names a malformed system id")
    return claims


def token_system_id(token: str) -> str:
    return read_claims(token).system_id


def verify_join_token(token: str, secret: bytes, system_id: str, *, now: float) -> JoinClaims:
    """Check a token against this system's secret; JoinTokenError says why it is refused."""
    claims = read_claims(token)
    payload, signature = token.strip().split(".")[1:]
    if claims.system_id != system_id:
        raise JoinTokenError("join token is for another system")
    if not same_mac(mac_b64(_key(secret), payload), signature):
        raise JoinTokenError("join token signature does not match (forged or for another system)")
    if now >= claims.expires_at:
        raise JoinTokenError("join token expired: ask the owner for a new one")
    return claims
