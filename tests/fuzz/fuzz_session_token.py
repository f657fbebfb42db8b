"""Bearer tokens as every API route reads them: `node.security.TokenSigner.verify`.
`data` is the token from an `Authorization: Bearer` header, decoded as HTTP header
values are (latin-1); the payload is also re-signed with the system secret to reach
the claims behind the MAC. Documented error: `AuthError`."""

from __future__ import annotations

from node.security import AuthError, TokenSigner
from node.security._crypto import mac_b64

SECRET = b"fuzz-system-secret-0123456789abcdef"
SYSTEM_ID = "sys-fuzz"
NOW = 1_714_564_800.0
SIGNER = TokenSigner(SECRET, SYSTEM_ID, clock=lambda: NOW)


def fuzz_one(data: bytes) -> None:
    token = data.decode("latin-1")
    for candidate in (token, resign(token)):
        try:
            claims = SIGNER.verify(candidate)
        except AuthError:
            continue
        assert claims.system_id == SYSTEM_ID and claims.expires_at > NOW


def resign(token: str) -> str:
    parts = token.split(".")
    payload = parts[1] if len(parts) == 3 else token
    return f"ck1.{payload}.{mac_b64(SIGNER._key, payload)}"
