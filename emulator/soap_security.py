"""WS-Security UsernameToken checks (PasswordDigest and PasswordText) for the ONVIF services.

Pure: the caller passes the current time and the nonce cache. The digest is
Base64(SHA1(nonce + created + password)) as in the WSS UsernameToken Profile 1.0.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections import OrderedDict
from datetime import datetime, timedelta

from emulator.soap import UsernameToken, not_authorized

MAX_CLOCK_SKEW = timedelta(minutes=5)  # a Created further from now than this is refused
NONCE_CACHE_SIZE = 4096  # remembered (nonce, created) pairs for replay refusal


def password_digest(nonce_b64: str, created: str, password: str) -> str:
    nonce = base64.b64decode(nonce_b64, validate=True)
    return base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()


def parse_created(created: str) -> datetime:
    """xs:dateTime with a zone (Z or +hh:mm), fractional seconds allowed."""
    value = created.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("Created without a time zone")
    return parsed


class NonceCache:
    """Recently seen digest nonces; a repeat within the skew window is a replay."""

    def __init__(self, size: int = NONCE_CACHE_SIZE) -> None:
        self._size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def seen_before(self, key: str) -> bool:
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return False


def check_username_token(
    token: UsernameToken | None,
    username: str,
    password: str,
    now: datetime,
    nonces: NonceCache | None = None,
) -> None:
    """Raise a NotAuthorized SoapFault unless `token` proves `username`/`password`."""
    if token is None:
        raise not_authorized("WS-Security UsernameToken required")
    if not hmac.compare_digest(token.username.encode(), username.encode()):
        raise not_authorized()
    if token.password_type == "text":
        if not hmac.compare_digest(token.password.encode(), password.encode()):
            raise not_authorized()
        return
    if not token.nonce or not token.created:
        raise not_authorized("PasswordDigest needs Nonce and Created")
    try:
        created = parse_created(token.created)
        expected = password_digest(token.nonce, token.created, password)
    except (ValueError, binascii.Error) as exc:
        raise not_authorized("Malformed Nonce or Created") from exc
    if not hmac.compare_digest(token.password.encode(), expected.encode()):
        raise not_authorized()
    if abs(now - created) > MAX_CLOCK_SKEW:
        raise not_authorized("Created is too far from the device clock")
    if nonces is not None and nonces.seen_before(f"{token.nonce}|{token.created}"):
        raise not_authorized("Nonce already used")
