"""HTTP Basic and Digest (RFC 2617, MD5, qop=auth) authentication, as cameras offer it
for snapshots and, besides WS-Security, for SOAP calls.

Pure: the caller passes the time; nonces are stateless (timestamp + HMAC) so no
table grows with the number of clients.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

NONCE_LIFETIME_S = 300.0
REALM = "camkeep-emulator"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class HttpAuthenticator:
    def __init__(self, username: str, password: str, secret: bytes | None = None) -> None:
        self._username = username
        self._password = password
        self._secret = secret or secrets.token_bytes(16)

    def make_nonce(self, now: float) -> str:
        stamp = str(int(now * 1000))  # ms, rounded down: never later than `now`
        mac = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        return base64.b64encode(f"{stamp}:{mac}".encode()).decode()

    def _nonce_ok(self, nonce: str, now: float) -> bool:
        try:
            stamp, mac = base64.b64decode(nonce, validate=True).decode().split(":", 1)
            issued = int(stamp) / 1000
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return False
        expected = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        return hmac.compare_digest(mac, expected) and 0 <= now - issued <= NONCE_LIFETIME_S

    def challenge(self, now: float) -> str:
        """Value of the WWW-Authenticate header for a 401."""
        return f'Digest realm="{REALM}", qop="auth", nonce="{self.make_nonce(now)}", algorithm=MD5'

    def check(self, authorization: str | None, method: str, now: float) -> bool:
        """True when the Authorization header proves the camera's credentials."""
        if not authorization:
            return False
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(rest, validate=True).decode().partition(":")
            except (ValueError, binascii.Error, UnicodeDecodeError):
                return False
            return hmac.compare_digest(user.encode(), self._username.encode()) and (
                hmac.compare_digest(password.encode(), self._password.encode())
            )
        if scheme.lower() != "digest":
            return False
        fields = parse_digest_fields(rest)
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(name not in fields for name in needed):
            return False
        if fields["username"] != self._username or fields["realm"] != REALM:
            return False
        if not self._nonce_ok(fields["nonce"], now):
            return False
        ha1 = _md5(f"{self._username}:{REALM}:{self._password}")
        ha2 = _md5(f"{method}:{fields['uri']}")
        if fields.get("qop"):
            if fields["qop"] != "auth" or "nc" not in fields or "cnonce" not in fields:
                return False
            expected = _md5(
                f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}"
            )
        else:
            expected = _md5(f"{ha1}:{fields['nonce']}:{ha2}")
        return hmac.compare_digest(fields["response"].lower(), expected)


def parse_digest_fields(text: str) -> dict[str, str]:
    """`a="x", b=y` -> {"a": "x", "b": "y"}; tolerant of spaces, commas inside quotes."""
    fields: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " ,\t":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        name = text[i:eq].strip().lower()
        i = eq + 1
        if i < n and text[i] == '"':
            end = i + 1
            value_chars = []
            while end < n and text[end] != '"':
                if text[end] == "\\" and end + 1 < n:
                    end += 1
                value_chars.append(text[end])
                end += 1
            value = "".join(value_chars)
            i = end + 1
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            value = text[i:end].strip()
            i = end
        if name:
            fields[name] = value
    return fields
