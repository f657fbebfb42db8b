"""Join tokens: mint, verify, expiry, forgery, other system, malformed input."""

from __future__ import annotations

import pytest

from node.security import JoinTokenError, mint_join_token, token_system_id, verify_join_token
from node.security._join_token import read_claims

SECRET = bytes(range(32))
SYSTEM = "0f1e2d3c-sys"


def test_valid_token_verifies_and_names_its_system() -> None:
    token, expires_at = mint_join_token(SECRET, SYSTEM, ttl_s=60, now=1000.0)
    assert expires_at == 1060.0
    assert token_system_id(token) == SYSTEM
    claims = verify_join_token(token, SECRET, SYSTEM, now=1059.0)
    assert claims.system_id == SYSTEM and claims.expires_at == 1060.0
    assert "password" not in token and SECRET.hex() not in token


def test_tokens_differ_each_time() -> None:
    one, _ = mint_join_token(SECRET, SYSTEM, ttl_s=60, now=1000.0)
    two, _ = mint_join_token(SECRET, SYSTEM, ttl_s=60, now=1000.0)
    assert one != two and read_claims(one).nonce != read_claims(two).nonce


def test_expired_token_refused() -> None:
    token, _ = mint_join_token(SECRET, SYSTEM, ttl_s=60, now=1000.0)
    with pytest.raises(JoinTokenError, match="expired"):
        verify_join_token(token, SECRET, SYSTEM, now=1060.0)


def test_forged_signature_and_other_secret_refused() -> None:
    token, _ = mint_join_token(SECRET, SYSTEM, ttl_s=60, now=1000.0)
    head, sig = token.rsplit(".", 1)
    forged = f"{head}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    with pytest.raises(JoinTokenError, match="forged"):
        verify_join_token(forged, SECRET, SYSTEM, now=1001.0)
    with pytest.raises(JoinTokenError, match="forged"):
        verify_join_token(token, b"another secret", SYSTEM, now=1001.0)


def test_extended_expiry_breaks_the_signature() -> None:
    import base64
    import json

    token, _ = mint_join_token(SECRET, SYSTEM, ttl_s=60, now=1000.0)
    prefix, payload, sig = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["exp"] = 10**10
    longer = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(JoinTokenError, match="forged"):
        verify_join_token(f"{prefix}.{longer}.{sig}", SECRET, SYSTEM, now=2000.0)


def test_other_system_refused() -> None:
    token, _ = mint_join_token(SECRET, "other-system", ttl_s=60, now=1000.0)
    with pytest.raises(JoinTokenError, match="another system"):
        verify_join_token(token, SECRET, SYSTEM, now=1001.0)


@pytest.mark.parametrize(
    "bad", ["", "ckj1", "ckj1.x.y", "ck1.e30.sig", "ckj1.!!!.sig", "x" * 600, "ckj1.e30.a"]
)
def test_malformed_tokens_refused_cleanly(bad: str) -> None:
    with pytest.raises(JoinTokenError):
        verify_join_token(bad, SECRET, SYSTEM, now=1.0)


@pytest.mark.parametrize("ttl", [0, -5, 31 * 86400])
def test_bad_ttl_refused(ttl: float) -> None:
    with pytest.raises(JoinTokenError):
        mint_join_token(SECRET, SYSTEM, ttl_s=ttl, now=1.0)
