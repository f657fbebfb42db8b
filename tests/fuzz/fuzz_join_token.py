"""Join tokens as a system node reads them from a joining server's request:
`node.security._join_token.read_claims` (unverified, on the joining side) and
`verify_join_token`. `data` is the token as text (the JSON body is UTF-8). The
payload is also re-signed with the system secret, to reach the claims behind the MAC.
Documented error: `JoinTokenError`."""

from __future__ import annotations

from node.security._crypto import mac_b64
from node.security._join_token import JoinTokenError, _key, read_claims, verify_join_token

SECRET = b"fuzz-system-secret-0123456789abcdef"
SYSTEM_ID = "sys-fuzz"
NOW = 1_714_564_800.0


def fuzz_one(data: bytes) -> None:
    token = data.decode("utf-8", "replace")
    for candidate in (token, resign(token)):
        try:
            read_claims(candidate)
            claims = verify_join_token(candidate, SECRET, SYSTEM_ID, now=NOW)
        except JoinTokenError:
            continue
        assert claims.system_id == SYSTEM_ID and claims.expires_at > NOW


def resign(token: str) -> str:
    parts = token.split(".")
    payload = parts[1] if len(parts) == 3 else token
    return f"ckj1.{payload}.{mac_b64(_key(SECRET), payload)}"
