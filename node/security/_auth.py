"""Authentication logic: password hashes, signed tokens, roles, login throttling.

Pure apart from argon2's CPU work: clocks are injected, nothing here does I/O.

Tokens are HMAC-SHA256 signed with the system secret (`ck1.<payload>.<signature>`),
so any node of the system can verify a token another node issued, and every token
stops working when the system secret goes away (last server detached, issue 4).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "ck1"
MAX_TOKEN_LEN = 2048
_hasher = PasswordHasher()
# verified against when the user does not exist, so timing does not tell
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AuthError(Exception):
    """Bad or expired credentials/token; str() is safe to show a client."""


class Role(enum.StrEnum):
    owner = "owner"
    admin = "admin"
    viewer = "viewer"


_RANK = {Role.viewer: 0, Role.admin: 1, Role.owner: 2}


def role_allows(role: Role | str, required: Role | str) -> bool:
    """True when `role` has at least the rights of `required`."""
    return _RANK[Role(role)] >= _RANK[Role(required)]


# ------------------------------------------------------------------ passwords


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (pass None for no user)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenClaims:
    username: str
    system_id: str
    issued_at: float  # unix seconds
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and verifies bearer tokens for one system."""

    def __init__(self, secret: bytes, system_id: str, clock: Callable[[], float]) -> None:
        self._key = hashlib.sha256(b"camkeep token v1\0" + secret).digest()
        self._system_id = system_id
        self._clock = clock

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

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
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{TOKEN_PREFIX}.{payload}.{self._sign(payload)}", claims

    def verify(self, token: str) -> TokenClaims:
        if len(token) > MAX_TOKEN_LEN:
            raise AuthError("invalid token")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise AuthError("invalid token")
        _, payload, signature = parts
        if not hmac.compare_digest(self._sign(payload), signature):
            raise AuthError("invalid token")
        try:
            body = json.loads(_unb64(payload))
            claims = TokenClaims(
                str(body["u"]), str(body["s"]), float(body["iat"]), float(body["exp"])
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise AuthError("invalid token") from None
        if claims.system_id != self._system_id:
            raise AuthError("token of another system")
        if self._clock() >= claims.expires_at:
            raise AuthError("token expired")
        return claims


# ------------------------------------------------------------- login throttle


@dataclass
class _Failures:
    count: int
    last_at: float
    blocked_until: float


class LoginThrottle:
    """Slows down repeated failed logins per (username, client address).

    After `free_failures` failures, each further failure blocks that key for
    base_delay_s * 2**(n - free_failures - 1), at most max_delay_s.
    """

    MAX_KEYS = 10_000  # bound memory against a flood of made-up names

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        free_failures: int = 3,
        base_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
        reset_after_s: float = 900.0,
    ) -> None:
        self._clock = clock
        self._free = free_failures
        self._base = base_delay_s
        self._max = max_delay_s
        self._reset = reset_after_s
        self._failures: dict[tuple[str, str], _Failures] = {}

    def retry_after(self, username: str, address: str) -> float:
        """Seconds the caller must still wait (0 = may try now)."""
        entry = self._failures.get((username, address))
        if entry is None:
            return 0.0
        now = self._clock()
        if now - entry.last_at > self._reset:
            del self._failures[(username, address)]
            return 0.0
        return max(0.0, entry.blocked_until - now)

    def failed(self, username: str, address: str) -> float:
        """Record a failure; returns the delay now imposed (0 while still free)."""
        now = self._clock()
        key = (username, address)
        entry = self._failures.get(key)
        if entry is None or now - entry.last_at > self._reset:
            entry = _Failures(0, now, now)
        entry.count += 1
        entry.last_at = now
        delay = 0.0
        if entry.count > self._free:
            delay = min(self._max, self._base * 2 ** (entry.count - self._free - 1))
        entry.blocked_until = now + delay
        self._failures[key] = entry
        self._prune(now)
        return delay

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop((username, address), None)

    def _prune(self, now: float) -> None:
        if len(self._failures) <= self.MAX_KEYS:
            return
        stale = [k for k, e in self._failures.items() if now - e.last_at > self._reset]
        for key in stale:
            del self._failures[key]
        if len(self._failures) > self.MAX_KEYS:  # still full: drop the oldest
            oldest = sorted(self._failures, key=lambda k: self._failures[k].last_at)
            for key in oldest[: len(self._failures) - self.MAX_KEYS]:
                del self._failures[key]
