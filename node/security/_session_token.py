"""Login (bearer) tokens: `ck1.<payload>.<signature>`.

Signed with a key derived from the system secret (see _crypto.py), so any node of the
system can verify a token another node issued, and every token stops working when the
system secret goes away (the last server detached). The clock is injected; no I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from node.security._crypto import (
    PURPOSE_LOGIN_TOKEN,
    derive_token_key,
    mac_b64,
    same_mac,
    seal_token,
    token_body,
)

TOKEN_PREFIX = "ck1"
MAX_TOKEN_LEN = 2048


class AuthError(Exception):
    """Bad or expired credentials/token; str() is safe to show a client."""


@dataclass(frozen=True)
class TokenClaims:
    username: str
    system_id: str
    issued_at: float  # unix seconds
    expires_at: float


class TokenSigner:
    """Issues and verifies bearer tokens for one system."""

    def __init__(self, secret: bytes, system_id: str, clock: Callable[[], float]) -> None:
        self._key = derive_token_key(secret, PURPOSE_LOGIN_TOKEN)
        self._system_id = system_id
        self._clock = clock

    def issue(self, username: str, ttl_s: float) -> tuple[str, TokenClaims]:
        now = self._clock()
        claims = TokenClaims(username, self._system_id, now, now + ttl_s)
        body = {
            "u": claims.username,
            "s": claims.system_id,
            "iat": round(claims.issued_at, 3),
            "exp": round(claims.expires_at, 3),
            "n": secrets.token_hex(8),
        }
        return seal_token(TOKEN_PREFIX, self._key, body), claims

    def verify(self, token: str) -> TokenClaims:
        if len(token) > MAX_TOKEN_LEN:
            raise AuthError("invalid token")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise AuthError("invalid token")
        _, payload, signature = parts
        if not same_mac(mac_b64(self._key, payload), signature):
            raise AuthError("invalid token")
        try:
            body = token_body(payload)
            claims = TokenClaims(
                str(body["u"]), str(body["s"]), float(body["iat"]), float(body["exp"])
            )
        except (ValueError, KeyError, TypeError, OverflowError):  # float() of a huge int
            raise AuthError("invalid token") from None
        if claims.system_id != self._system_id:
            raise AuthError("token of another system")
        if self._clock() >= claims.expires_at:
            raise AuthError("token expired")
        return claims
