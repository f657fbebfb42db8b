"""emulator.onvif_httpauth: HTTP Basic and Digest checks, computed as a client would."""

from __future__ import annotations

import base64
import hashlib

from emulator.onvif_httpauth import (
    NONCE_LIFETIME_S,
    REALM,
    HttpAuthenticator,
    parse_digest_fields,
)

NOW = 1_700_000_000.0


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_header(auth: HttpAuthenticator, password: str, uri: str = "/onvif/snapshot") -> str:
    fields = parse_digest_fields(auth.challenge(NOW).partition(" ")[2])
    ha1 = md5(f"admin:{fields['realm']}:{password}")
    ha2 = md5(f"GET:{uri}")
    response = md5(f"{ha1}:{fields['nonce']}:00000001:abcd:auth:{ha2}")
    return (
        f'Digest username="admin", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
        f'uri="{uri}", qop=auth, nc=00000001, cnonce="abcd", response="{response}"'
    )


def test_parse_digest_fields() -> None:
    got = parse_digest_fields('realm="a, b", qop=auth, nonce="x\\"y",algorithm=MD5')
    assert got == {"realm": "a, b", "qop": "auth", "nonce": 'x"y', "algorithm": "MD5"}
    assert parse_digest_fields("") == {}
    assert parse_digest_fields("garbage") == {}


def test_basic() -> None:
    auth = HttpAuthenticator("admin", "pw")
    good = "Basic " + base64.b64encode(b"admin:pw").decode()
    bad = "Basic " + base64.b64encode(b"admin:nope").decode()
    assert auth.check(good, "GET", NOW)
    assert not auth.check(bad, "GET", NOW)
    assert not auth.check("Basic !!!", "GET", NOW)
    assert not auth.check(None, "GET", NOW)
    assert not auth.check("Bearer x", "GET", NOW)


def test_digest_good_wrong_and_stale() -> None:
    auth = HttpAuthenticator("admin", "pw")
    header = digest_header(auth, "pw")
    assert auth.check(header, "GET", NOW + 1)
    assert not auth.check(header, "POST", NOW + 1)  # method is part of the digest
    assert not auth.check(digest_header(auth, "wrong"), "GET", NOW + 1)
    assert not auth.check(header, "GET", NOW + NONCE_LIFETIME_S + 1)  # stale nonce
    other = HttpAuthenticator("admin", "pw")  # different secret: our nonce is foreign
    assert not other.check(header, "GET", NOW + 1)
    assert not auth.check(header.replace(REALM, "other"), "GET", NOW + 1)
    assert not auth.check('Digest username="admin"', "GET", NOW)


def test_a_fresh_nonce_is_valid_at_once() -> None:
    # Regression: a nonce stamp rounded up made "now - issued" negative for ~half the calls.
    auth = HttpAuthenticator("admin", "pw")
    for step in range(200):
        now = NOW + step * 0.0001237
        fields = parse_digest_fields(auth.challenge(now).partition(" ")[2])
        assert auth._nonce_ok(fields["nonce"], now)
