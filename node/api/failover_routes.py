"""HTTP routes of failover: the failover view, and the internal routes peers call.

Public (bearer token):
- `GET /api/v1/failover`: every server's failover settings and state, and every
  camera in the system with its priority, continuous-recording flag, the server the
  plan gives it and why not when none (seed 2.2 (2)). Priorities of several cameras
  at once: `PUT /api/v1/cameras/priority`; a server's settings:
  `PUT /api/v1/servers/{id}/failover` (node/api/).

Internal (signed with the system secret, see node/api/internal_routes.py):
- `GET /api/v1/internal/failover/recording`: the cameras this node records now.
- `GET /api/v1/internal/cameras/{id}/periods?start=&end=`: this node's LOCAL periods.
- `GET /api/v1/internal/cameras/{id}/export?start=&end=`: this node's LOCAL piece (MP4).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from node.api.errors import ApiError
from node.api.internal_routes import Peer
from node.api.query_range import query_range
from node.api.security import Node, Viewer
from node.recordings._across_servers import period_to_json
from node.system import Camera, Server
from recorder import RecorderError

router = APIRouter(prefix="/api/v1", tags=["failover"])
internal_router = APIRouter(prefix="/api/v1", include_in_schema=False)

MAX_PIECE = timedelta(hours=24)


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
    for camera in sorted(node.state.cameras(), key=lambda c: (c.get("name", ""), c["id"])):
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
            }
        )
    return {
        "servers": servers,
        "cameras": cameras,
        "handing_over": status.get("handing_over", {}),
        "failback_waiting": status.get("failback_waiting", []),
    }


@router.get("/failover")
async def get_failover(node: Node, _caller: Viewer) -> dict[str, Any]:
    return failover_view(node)


@internal_router.get("/internal/failover/recording")
async def recording_now(node: Node, _peer: Peer) -> dict[str, Any]:
    statuses = node.recorder.statuses()
    return {
        "server_id": node.node_id,
        "recording": sorted(c for c, s in statuses.items() if s.state == "recording"),
        "active": sorted(c for c, s in statuses.items() if s.state != "stopped"),
    }


@internal_router.get("/internal/cameras/{camera_id}/periods")
async def local_periods(
    camera_id: str, start: datetime, end: datetime, node: Node, _peer: Peer
) -> dict[str, Any]:
    start, end = query_range(start, end)
    try:
        periods = node.recorder.periods(camera_id, start, end)
    except RecorderError as error:
        raise ApiError(422, str(error)) from None
    return {"server_id": node.node_id, "periods": [period_to_json(p) for p in periods]}


@internal_router.get("/internal/cameras/{camera_id}/export", response_class=FileResponse)
async def local_export(
    camera_id: str, start: datetime, end: datetime, node: Node, _peer: Peer
) -> FileResponse:
    start, end = query_range(start, end)
    if end - start > MAX_PIECE:
        raise ApiError(422, "a piece covers at most 24 hours")
    out_path = node.tmp_dir / f"export-{uuid.uuid4().hex}.mp4"
    try:
        await node.recorder.export(camera_id, start, end, out_path)
    except RecorderError as error:
        out_path.unlink(missing_ok=True)
        raise ApiError(404, f"nothing to export: {error}") from None
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    return FileResponse(
        out_path,
        media_type="video/mp4",
        background=BackgroundTask(out_path.unlink, missing_ok=True),
    )
