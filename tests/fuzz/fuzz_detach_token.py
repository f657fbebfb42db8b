"""Detach confirmation tokens as any node of the system reads them from
`POST /servers/{id}/detach {"confirm_token": ...}`: `node.security.check_confirm_token`.
`data` is the token as text (JSON body, UTF-8); the payload is also re-signed with the
system secret to reach the claims behind the MAC. Documented error: `ConfirmError`."""

from __future__ import annotations

from node.security import ConfirmError, check_confirm_token
from node.security._confirm_token import _key
from node.security._crypto import mac_b64

SECRET = b"fuzz-system-secret-0123456789abcdef"
SERVER_ID = "node-fuzz-2"
NOW = 1_714_564_810.0  # the seeds become valid 5 s after 1_714_564_800


def fuzz_one(data: bytes) -> None:
    token = data.decode("utf-8", "replace")
    for candidate in (token, resign(token)):
        for keep in (True, False):
            try:
                check_confirm_token(candidate, SECRET, SERVER_ID, keep, now=NOW)
            except ConfirmError:
                continue


def resign(token: str) -> str:
    parts = token.split(".")
    payload = parts[1] if len(parts) == 3 else token
    return f"ckd1.{payload}.{mac_b64(_key(SECRET), payload)}"
