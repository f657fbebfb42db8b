"""RTSP authentication as cameras do it: Digest (RFC 2617, qop=auth or none) and Basic.

Pure code: the caller passes the time. Nonces are stateless (time + HMAC with a
per-process secret), so no table grows with hostile clients; a nonce older than
`NONCE_LIFETIME_S` is answered with a fresh challenge marked stale.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

NONCE_LIFETIME_S = 300.0
REALM = "camkeep"

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_auth_params(text: str) -> dict[str, str]:
    return {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _PARAM.finditer(text)
    }


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class Authenticator:
    def __init__(
        self, username: str, password: str, realm: str = REALM, secret: bytes | None = None
    ):
        self.username, self.password, self.realm = username, password, realm
        self._secret = secret or os.urandom(16)

    def make_nonce(self, now: float) -> str:
        stamp = f"{int(now):x}"
        mac = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        return f"{stamp}{mac}"

    def _nonce_age(self, nonce: str, now: float) -> float | None:
        stamp, mac = nonce[:-24], nonce[-24:]
        expected = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        if not stamp or not _same(mac, expected):
            return None
        try:
            return now - int(stamp, 16)
        except ValueError:
            return None

    def challenges(self, now: float, stale: bool = False) -> list[tuple[str, str]]:
        """WWW-Authenticate headers: Digest first (what cameras prefer), then Basic."""
        digest = (
            f'Digest realm="{self.realm}", nonce="{self.make_nonce(now)}", '
            'algorithm=MD5, qop="auth"'
        )
        if stale:
            digest += ", stale=TRUE"
        return [("WWW-Authenticate", digest), ("WWW-Authenticate", f'Basic realm="{self.realm}"')]

    def check(
        self, method: str, authorization: str | None, now: float, uri: str | None = None
    ) -> str:
        """'ok', 'stale' (good credentials, old nonce) or 'denied'.

        With `uri` (the request URI), a Digest answer signed for another URI is denied
        (RFC 2617 §3.2.2.5), so a captured answer cannot be replayed elsewhere."""
        if not authorization:
            return "denied"
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            return "ok" if self._check_basic(rest.strip()) else "denied"
        if scheme.lower() == "digest":
            params = parse_auth_params(rest)
            if uri is not None and not _same_uri(params.get("uri", ""), uri):
                return "denied"
            return self._check_digest(method, params, now)
        return "denied"

    def _check_basic(self, token: str) -> bool:
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return _same(user, self.username) & _same(password, self.password)

    def _check_digest(self, method: str, params: dict[str, str], now: float) -> str:
        needed = ("username", "realm", "nonce", "uri", "response")
        if not all(k in params for k in needed) or params["realm"] != self.realm:
            return "denied"
        if params.get("algorithm", "MD5").upper() != "MD5":
            return "denied"
        ha1 = _md5(f"{params['username']}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{params['uri']}")
        qop = params.get("qop")
        if qop is None:
            expected = _md5(f"{ha1}:{params['nonce']}:{ha2}")
        elif qop == "auth" and "nc" in params and "cnonce" in params:
            expected = _md5(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
        else:
            return "denied"
        user_ok = _same(params["username"], self.username)
        if not (user_ok & _same(params["response"].lower(), expected)):
            return "denied"
        age = self._nonce_age(params["nonce"], now)
        if age is None or age < -5:
            return "denied"
        return "stale" if age > NONCE_LIFETIME_S else "ok"


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two texts. On bytes: compare_digest refuses str with
    non-ASCII characters (TypeError), and a client may send any."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _same_uri(signed: str, requested: str) -> bool:
    """Clients sign the full URI or only its path (absolute path form): accept both."""
    if signed == requested:
        return True
    path = requested.split("://", 1)[-1].partition("/")[2]
    return signed == "/" + path


def digest_response(
    username: str,
    password: str,
    realm: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "00000001",
    cnonce: str = "0a4f113b",
) -> str:
    """An Authorization header value for a Digest challenge (used by tests and the bench)."""
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop == "auth":
        response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
        extra = ""
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5{extra}'
    )
