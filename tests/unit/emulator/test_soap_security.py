"""emulator.soap_security: UsernameToken PasswordDigest / PasswordText checks."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from emulator.soap import SoapFault, UsernameToken
from emulator.soap_security import NonceCache, check_username_token, password_digest

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NONCE = base64.b64encode(b"0123456789abcdef").decode()
CREATED = "2026-01-02T03:04:00.123Z"


def digest_token(password: str, created: str = CREATED, nonce: str = NONCE, user: str = "admin"):
    return UsernameToken(user, password_digest(nonce, created, password), "digest", nonce, created)


def test_digest_matches_the_wss_formula() -> None:
    raw = b"0123456789abcdef" + CREATED.encode() + b"secret"
    assert (
        password_digest(NONCE, CREATED, "secret")
        == base64.b64encode(hashlib.sha1(raw).digest()).decode()
    )


def test_good_digest_and_text_are_accepted() -> None:
    check_username_token(digest_token("secret"), "admin", "secret", NOW)
    text = UsernameToken("admin", "secret", "text", None, None)
    check_username_token(text, "admin", "secret", NOW)


@pytest.mark.parametrize(
    "token",
    [
        None,
        digest_token("wrong"),
        digest_token("secret", user="root"),
        UsernameToken("admin", "wrong", "text", None, None),
        UsernameToken("admin", "x", "digest", None, CREATED),
        UsernameToken("admin", "x", "digest", "!!notbase64", CREATED),
        digest_token("secret", created="yesterday"),
        digest_token("secret", created="2026-01-02T03:04:00"),  # no zone
        digest_token("secret", created="2026-01-02T02:50:00Z"),  # 14 min old
        digest_token("secret", created="2026-01-02T03:20:00Z"),  # from the future
    ],
)
def test_bad_tokens_are_not_authorized(token) -> None:
    with pytest.raises(SoapFault) as info:
        check_username_token(token, "admin", "secret", NOW)
    assert info.value.subcodes == ("NotAuthorized",)
    assert info.value.code == "Sender"


def test_replayed_nonce_is_refused() -> None:
    cache = NonceCache(size=2)
    token = digest_token("secret")
    check_username_token(token, "admin", "secret", NOW, cache)
    with pytest.raises(SoapFault):
        check_username_token(token, "admin", "secret", NOW, cache)
    # Offsets within the skew window are fine.
    later = NOW + timedelta(minutes=4)
    other = digest_token("secret", nonce=base64.b64encode(b"another").decode())
    check_username_token(other, "admin", "secret", later, cache)
