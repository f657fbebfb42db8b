"""The detach confirmation token: proof that the owner saw what a detach will do and
waited CONFIRM_WAIT_S before confirming it.

    token, valid_from, expires_at = mint_confirm_token(secret, server_id, keep, now=t)
    check_confirm_token(token, secret, server_id, keep, now=t2)   # or ConfirmError

A token is `ckd1.<base64url JSON {"s": server id, "k": keep cameras, "nb": valid from,
"exp": expiry}>.<MAC>` with the key derived from the system secret for this purpose
(see _crypto.py). It is stateless, so the confirming call may go to any node of the
system. Pure code: no I/O, the time is passed in.
"""

from __future__ import annotations

from node.security._crypto import (
    PURPOSE_DETACH_CONFIRM,
    derive_token_key,
    mac_b64,
    same_mac,
    seal_token,
    token_body,
)

TOKEN_PREFIX = "ckd1"
MAX_TOKEN_LEN = 1023
CONFIRM_WAIT_S = 5.0  # a detach is confirmed only after a 5-second wait
CONFIRM_VALID_S = 120.0


class ConfirmError(Exception):
    """A detach confirmation token is malformed, forged, early, late or for another choice."""


def _key(secret: bytes) -> bytes:
    return derive_token_key(secret, PURPOSE_DETACH_CONFIRM)


def mint_confirm_token(
    secret: bytes, server_id: str, keep_cameras: bool, *, now: float
) -> tuple[str, float, float]:
    """(token, valid_from, expires_at) for confirming this exact detach."""
    valid_from = round(now + CONFIRM_WAIT_S, 3)
    expires_at = round(valid_from + CONFIRM_VALID_S, 3)
    body = {"s": server_id, "k": keep_cameras, "nb": valid_from, "exp": expires_at}
    return seal_token(TOKEN_PREFIX, _key(secret), body), valid_from, expires_at


def check_confirm_token(
    token: str, secret: bytes, server_id: str, keep_cameras: bool, *, now: float
) -> None:
    """Raise ConfirmError unless `token` confirms this detach and its wait is over."""
    fits = isinstance(token, str) and len(token) <= MAX_TOKEN_LEN
    parts = token.split(".") if fits else []
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise ConfirmError("confirm_token malformed")
    if not same_mac(mac_b64(_key(secret), parts[1]), parts[2]):
        raise ConfirmError("confirm_token does not check out (forged or of another system)")
    try:
        body = token_body(parts[1])
        token_server, keep = str(body["s"]), bool(body["k"])
        valid_from, expires_at = float(body["nb"]), float(body["exp"])
    except (ValueError, KeyError, TypeError, OverflowError):  # OverflowError: float() of a huge int
        raise ConfirmError("confirm_token malformed") from None
    if token_server != server_id or keep != keep_cameras:
        raise ConfirmError("confirm_token was issued for another server or camera choice")
    if now < valid_from:
        raise ConfirmError(f"wait {valid_from - now:.1f} s more before confirming (5-second wait)")
    if now >= expires_at:
        raise ConfirmError("confirm_token expired: ask again")
