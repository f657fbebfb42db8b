"""The detach confirmation token: valid only after the 5-second wait, bound to the
server, the camera choice and the system secret."""

from __future__ import annotations

import pytest

from node.security import (
    CONFIRM_VALID_S,
    CONFIRM_WAIT_S,
    ConfirmError,
    check_confirm_token,
    mint_confirm_token,
)

SECRET = b"s" * 32


def test_confirm_only_after_the_wait_and_before_expiry() -> None:
    token, valid_from, expires_at = mint_confirm_token(SECRET, "b", True, now=100.0)
    assert valid_from == 100.0 + CONFIRM_WAIT_S
    assert expires_at == valid_from + CONFIRM_VALID_S
    with pytest.raises(ConfirmError, match="wait"):
        check_confirm_token(token, SECRET, "b", True, now=104.9)
    check_confirm_token(token, SECRET, "b", True, now=105.0)
    with pytest.raises(ConfirmError, match="expired"):
        check_confirm_token(token, SECRET, "b", True, now=expires_at)


def test_confirm_bound_to_server_choice_and_secret() -> None:
    token, *_ = mint_confirm_token(SECRET, "b", True, now=0.0)
    with pytest.raises(ConfirmError, match="another server"):
        check_confirm_token(token, SECRET, "a", True, now=10.0)
    with pytest.raises(ConfirmError, match="another server or camera choice"):
        check_confirm_token(token, SECRET, "b", False, now=10.0)
    with pytest.raises(ConfirmError, match="forged"):
        check_confirm_token(token, b"other", "b", True, now=10.0)


@pytest.mark.parametrize("bad", ["", "ckd1", "ckd1.a.b", "x.y.z", "ckd1." * 300])
def test_malformed_confirm_refused(bad: str) -> None:
    with pytest.raises(ConfirmError):
        check_confirm_token(bad, SECRET, "b", True, now=10.0)
