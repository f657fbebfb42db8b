"""RTSP Digest (RFC 2617, with and without qop) and Basic authentication, pure."""

from __future__ import annotations

import base64

from emulator.rtsp_auth import NONCE_LIFETIME_S, Authenticator, digest_response, parse_auth_params

NOW = 1_700_000_000.0
URI = "rtsp://127.0.0.1:8554/cam1/main"


def _nonce(auth: Authenticator, now: float = NOW) -> str:
    challenge = auth.challenges(now)[0][1]
    return parse_auth_params(challenge.partition(" ")[2])["nonce"]


def test_challenges_offer_digest_then_basic() -> None:
    headers = Authenticator("admin", "secret").challenges(NOW)
    assert [h[0] for h in headers] == ["WWW-Authenticate", "WWW-Authenticate"]
    assert headers[0][1].startswith('Digest realm="camkeep", nonce="')
    assert 'qop="auth"' in headers[0][1]
    assert headers[1][1] == 'Basic realm="camkeep"'


def test_digest_without_qop() -> None:
    auth = Authenticator("admin", "secret")
    header = digest_response("admin", "secret", "camkeep", "DESCRIBE", URI, _nonce(auth))
    assert auth.check("DESCRIBE", header, NOW + 1) == "ok"


def test_digest_with_qop_auth() -> None:
    auth = Authenticator("admin", "secret")
    header = digest_response("admin", "secret", "camkeep", "SETUP", URI, _nonce(auth), qop="auth")
    assert auth.check("SETUP", header, NOW) == "ok"


def test_digest_wrong_password_method_user_or_realm() -> None:
    auth = Authenticator("admin", "secret")
    nonce = _nonce(auth)
    cases = [
        ("DESCRIBE", ("admin", "nope", "camkeep", "DESCRIBE")),
        ("PLAY", ("admin", "secret", "camkeep", "DESCRIBE")),
        ("DESCRIBE", ("root", "secret", "camkeep", "DESCRIBE")),
        ("DESCRIBE", ("admin", "secret", "other", "DESCRIBE")),
    ]
    for method, (user, password, realm, signed_method) in cases:
        header = digest_response(user, password, realm, signed_method, URI, nonce)
        assert auth.check(method, header, NOW) == "denied"


def test_forged_nonce_is_refused_and_old_nonce_is_stale() -> None:
    auth = Authenticator("admin", "secret")
    forged = digest_response("admin", "secret", "camkeep", "DESCRIBE", URI, "deadbeef" * 5)
    assert auth.check("DESCRIBE", forged, NOW) == "denied"
    other_server = _nonce(Authenticator("admin", "secret"))
    header = digest_response("admin", "secret", "camkeep", "DESCRIBE", URI, other_server)
    assert auth.check("DESCRIBE", header, NOW) == "denied"
    old = digest_response("admin", "secret", "camkeep", "DESCRIBE", URI, _nonce(auth))
    assert auth.check("DESCRIBE", old, NOW + NONCE_LIFETIME_S + 10) == "stale"


def test_basic() -> None:
    auth = Authenticator("admin", "secret")
    good = "Basic " + base64.b64encode(b"admin:secret").decode()
    bad = "Basic " + base64.b64encode(b"admin:wrong").decode()
    assert auth.check("DESCRIBE", good, NOW) == "ok"
    assert auth.check("DESCRIBE", bad, NOW) == "denied"
    assert auth.check("DESCRIBE", "Basic !!!notbase64", NOW) == "denied"


def test_missing_or_odd_headers_are_denied() -> None:
    auth = Authenticator("admin", "secret")
    for header in (None, "", "Bearer x", "Digest", 'Digest username="admin"', "Digest ,,,=="):
        assert auth.check("DESCRIBE", header, NOW) == "denied"


def test_digest_signed_for_another_uri_is_refused() -> None:
    auth = Authenticator("admin", "secret")
    nonce = _nonce(auth)
    header = digest_response("admin", "secret", "camkeep", "DESCRIBE", URI, nonce)
    assert auth.check("DESCRIBE", header, NOW, uri=URI) == "ok"
    assert auth.check("DESCRIBE", header, NOW, uri=URI.replace("cam1", "cam2")) == "denied"
    path_only = digest_response("admin", "secret", "camkeep", "DESCRIBE", "/cam1/main", nonce)
    assert auth.check("DESCRIBE", path_only, NOW, uri=URI) == "ok"
