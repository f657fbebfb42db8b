"""How a webhook receiver knows a POST comes from this system: an HMAC-SHA256 of the
timestamp and the body with the webhook's secret.

    X-Camkeep-Timestamp: 1767225600
    X-Camkeep-Signature: sha256=<hex of HMAC-SHA256(secret, "1767225600." + body)>

The receiver recomputes it over the raw body, compares in constant time and rejects
old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac

from node.digits import is_digits

SIGNATURE_HEADER = "X-Camkeep-Signature"
TIMESTAMP_HEADER = "X-Camkeep-Timestamp"
EVENT_HEADER = "X-Camkeep-Event"
EVENT_ID_HEADER = "X-Camkeep-Event-Id"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signature_valid(
    secret: str, timestamp: str, body: bytes, given: str, *, now: float, max_age_s: float = 300
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    if not is_digits(timestamp) or abs(now - int(timestamp)) > max_age_s:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), given)
