"""Detaching a server from its system: what will happen.

The owner chooses to keep or remove the server's cameras and can
confirm only after a 5-second wait. The fixed API call `POST /servers/{id}/detach
{"keep_cameras": b}` detaches at once; clients that show the choice (the CLI, a UI)
use two steps:

1. the call with `"dry_run": true` answers 202 with `plan_detach(...)` (what will
   happen, a warning when the server is offline or the last one) and a
   `confirm_token` (node.security's `mint_confirm_token`) that becomes valid
   CONFIRM_WAIT_S later;
2. the call with `"confirm_token"` executes it, refused before the wait is over.

Pure code: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
