"""Detaching a server from its system: what will happen, and the 5-second confirmation.

Seed 2.1 step 2: the owner chooses to keep or remove the server's cameras and can
confirm only after a 5-second wait. The fixed API call `POST /servers/{id}/detach
{"keep_cameras": b}` detaches at once; clients that show the choice (the CLI, a UI)
use two steps:

1. the call with `"dry_run": true` answers 202 with `plan_detach(...)` (what will
   happen, a warning when the server is offline or the last one) and a
   `confirm_token` that becomes valid CONFIRM_WAIT_S later and expires
   CONFIRM_VALID_S after that;
2. the call with `"confirm_token"` executes it, refused before the wait is over.

The confirm token is stateless (HMAC with the system secret over server id, choice
and validity window), so the second call may go to any node of the system.
Pure code: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

CONFIRM_WAIT_S = 5.0  # seed 2.1 step 2
CONFIRM_VALID_S = 120.0
LAST_SERVER_MESSAGE = (
    "All servers in this system have been removed, please set up system or contact administrator"
)
OFFLINE_WARNING = (
    "this server is offline: it is removed from the list, but it is not really detached;"
    " when it comes back it appears again and works (it still holds the system's secret)"
)
LAST_SERVER_WARNING = (
    "this is the last server of the system: the system ends, every connected client is"
    " logged out and every token stops working"
)


class ConfirmError(Exception):
    """A detach confirmation token is malformed, forged, early, late or for another choice."""


@dataclass(frozen=True)
class DetachPlan:
    server_id: str
    keep_cameras: bool
    online: bool
    last_server: bool
    camera_ids: list[str]  # cameras whose home is the server
    this_node: bool  # the server detached is the node answering

    def to_json(self) -> dict[str, Any]:
        warnings = []
        if not self.online:
            warnings.append(OFFLINE_WARNING)
        if self.last_server:
            warnings.append(LAST_SERVER_WARNING)
        action = "stay in the system" if self.keep_cameras else "are removed from the system"
        return {
            "server_id": self.server_id,
            "keep_cameras": self.keep_cameras,
            "online": self.online,
            "last_server": self.last_server,
            "cameras": len(self.camera_ids),
            "summary": f"the server becomes undefined; its {len(self.camera_ids)} camera(s)"
            f" {action}; recordings on its disk are kept",
            "warnings": warnings,
        }


def plan_detach(
    server_id: str,
    keep_cameras: bool,
    *,
    servers: list[dict[str, Any]],
    cameras: list[dict[str, Any]],
    online: bool,
    this_node_id: str,
) -> DetachPlan:
    others = [s for s in servers if s.get("id") != server_id]
    return DetachPlan(
        server_id=server_id,
        keep_cameras=keep_cameras,
        online=online,
        last_server=not others,
        camera_ids=sorted(c["id"] for c in cameras if c.get("home_server_id") == server_id),
        this_node=server_id == this_node_id,
    )


def camera_deletions(plan: DetachPlan) -> list[str]:
    """Camera ids to delete from the system (none when they are kept)."""
    return [] if plan.keep_cameras else list(plan.camera_ids)


# ------------------------------------------------------------------ confirmation


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(secret: bytes, payload: str) -> str:
    key = hashlib.sha256(b"camkeep detach v1\0" + secret).digest()
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def mint_confirm_token(
    secret: bytes, server_id: str, keep_cameras: bool, *, now: float
) -> tuple[str, float, float]:
    """(token, valid_from, expires_at) for confirming this exact detach."""
    valid_from = round(now + CONFIRM_WAIT_S, 3)
    expires_at = round(valid_from + CONFIRM_VALID_S, 3)
    body = {"s": server_id, "k": keep_cameras, "nb": valid_from, "exp": expires_at}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"ckd1.{payload}.{_mac(secret, payload)}", valid_from, expires_at


def check_confirm_token(
    token: str, secret: bytes, server_id: str, keep_cameras: bool, *, now: float
) -> None:
    """Raise ConfirmError unless `token` confirms this detach and its wait is over."""
    parts = token.split(".") if isinstance(token, str) and len(token) < 1024 else []
    if len(parts) != 3 or parts[0] != "ckd1":
        raise ConfirmError("confirm_token malformed")
    if not hmac.compare_digest(_mac(secret, parts[1]), parts[2]):
        raise ConfirmError("confirm_token does not check out (forged or of another system)")
    try:
        body = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        token_server, keep = str(body["s"]), bool(body["k"])
        valid_from, expires_at = float(body["nb"]), float(body["exp"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ConfirmError("confirm_token malformed") from None
    if token_server != server_id or keep != keep_cameras:
        raise ConfirmError("confirm_token was issued for another server or camera choice")
    if now < valid_from:
        raise ConfirmError(f"wait {valid_from - now:.1f} s more before confirming (5-second wait)")
    if now >= expires_at:
        raise ConfirmError("confirm_token expired: ask again")
