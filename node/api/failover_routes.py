"""HTTP route of the failover view.

Public (bearer token):
- `GET /api/v1/failover`: every server's failover settings and state, and every
  camera in the system with its priority, continuous-recording flag, the server the
  plan gives it and why not when none (the failover settings page). Priorities of several cameras
  at once: `PUT /api/v1/cameras/priority`; a server's settings:
  `PUT /api/v1/servers/{id}/failover` (node/api/).

The internal routes peers call (the recording set each node holds now) are with the
other node-to-node routes in `internal_routes.py`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from node.api.models import FailoverOut
from node.api.security import Node, Viewer
from node.system import Camera, Server

router = APIRouter(prefix="/api/v1", tags=["failover"])


def failover_view(node: Any) -> dict[str, Any]:
    """The failover settings page as data (also used by `camkeep failover show`)."""
    service = getattr(node, "failover", None)
    status = service.status() if service is not None else {}
    planned = status.get("planned", {})
    reasons = status.get("reasons", {})
    servers = []
    for server in node.state.servers():
        view = Server.from_record(server)
        sid = view.id
        servers.append(
            {
                "id": sid,
                "name": server.get("name", ""),
                "state": node.server_state(sid),
                "failover_enabled": view.failover_enabled,
                "max_cameras": view.max_cameras,
                "licensed_channels": view.licensed_channels,
                "planned_cameras": sum(1 for v in planned.values() if v == sid),
            }
        )
    cameras = []
    records = sorted(node.state.cameras(), key=lambda c: (c.get("name", ""), c["id"]))
    recording = node.camera_statuses(records)  # who records each camera now
    for camera in records:
        view = Camera.from_record(camera)
        cid = view.id
        cameras.append(
            {
                "id": cid,
                "name": camera.get("name", ""),
                "home_server_id": view.home_server_id,
                "priority": view.priority.value,
                "continuous_recording": view.continuous_recording,
                "planned_server_id": planned.get(cid),
                "unplaced_reason": reasons.get(cid),
                "recording_server_id": recording[cid][1],
            }
        )
    return {
        "servers": servers,
        "cameras": cameras,
        "handing_over": status.get("handing_over", {}),
        "failback_waiting": status.get("failback_waiting", []),
        "release_waiting": status.get("release_waiting", []),
    }


@router.get("/failover", response_model=FailoverOut)
async def get_failover(node: Node, _caller: Viewer) -> dict[str, Any]:
    return failover_view(node)
