"""The system at a glance (`GET /api/v1/status`, `camkeep status`) and the node's
Prometheus figures (`GET /metrics`)."""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import APIRouter, Request, Response

from node.api.errors import ApiError, error_responses
from node.api.models import ServerSummaryOut, StatusOut, UnrecordedOut
from node.api.security import Node, Viewer, bearer_token, get_node
from node.events import EventQuery, EventType
from node.metrics import CONTENT_TYPE
from node.system import Server

USER_ERRORS = error_responses(401, 403, 404, 409, 422)
router = APIRouter(tags=["status"])
DAY_S = 86400.0


def days_left(free_bytes: int | None, write_bytes_per_s: float) -> float | None:
    """Days until the disk is full at this write rate (None: unknown or not writing)."""
    if free_bytes is None or write_bytes_per_s <= 0:
        return None
    return round(free_bytes / write_bytes_per_s / DAY_S, 1)


@router.get("/api/v1/status", response_model=StatusOut, responses=USER_ERRORS)
async def status(node: Node, _caller: Viewer) -> StatusOut:
    cameras = node.state.cameras()
    statuses = node.camera_statuses(cameras)
    recording = [c for c in cameras if statuses[c["id"]][0]["state"] == "recording"]
    on_backup = [
        c for c in recording if statuses[c["id"]][1] not in (None, c.get("home_server_id"))
    ]
    unrecorded = [
        UnrecordedOut(
            camera_id=c["id"],
            name=str(c.get("name", "")),
            reason=statuses[c["id"]][0].get("reason") or statuses[c["id"]][0]["last_error"],
        )
        for c in cameras
        if statuses[c["id"]][0]["state"] != "recording"
    ]
    write_rate: dict[str, float] = {}
    for state, server_id in statuses.values():
        if server_id is not None and state["state"] == "recording":
            write_rate[server_id] = write_rate.get(server_id, 0.0) + state["bitrate_bps"] / 8
    alive = node.alive_servers()
    clocks = node.clock_report()
    servers = []
    for server in map(Server.from_record, node.state.servers()):
        if server.id == node.node_id:
            free: int | None = node.event_log.disk_free_bytes or None
        else:
            load = node.member_load(server.id)
            free = load.disk_free_bytes if load is not None else None
        rate = write_rate.get(server.id, 0.0)
        clock = clocks.server(server.id, node.node_id)
        servers.append(
            ServerSummaryOut(
                id=server.id,
                name=server.name,
                state=node.server_state(server.id),
                cameras_recording=sum(1 for c in recording if statuses[c["id"]][1] == server.id),
                disk_free_bytes=free,
                write_bytes_per_s=round(rate, 1),
                disk_days_left=days_left(free, rate),
                clock_offset_s=clock.offset_s,
                clock=clock.state,
                clock_warning=clock.warning,
            )
        )
    gaps = node.event_log.store.query(
        EventQuery(
            since_ms=int((time.time() - DAY_S) * 1000),
            type=EventType.RECORDING_GAP.value,
            limit=1000,
        )
    )
    left = [s.disk_days_left for s in servers if s.disk_days_left is not None]
    system: dict[str, Any] = node.state.system() or {}
    return StatusOut(
        system_name=str(system.get("name", "")),
        servers_up=sum(1 for s in servers if s.id in alive),
        servers_total=len(servers),
        cameras_total=len(cameras),
        cameras_recording=len(recording),
        cameras_on_backup=len(on_backup),
        cameras_not_recorded=unrecorded,
        gaps_24h=len(gaps),
        gap_seconds_24h=round(sum(g.gap_seconds for g in gaps), 1),
        disk_days_left=min(left) if left else None,
        servers=servers,
        clock_warning=clocks.warning,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}},
        **error_responses(401),
    },
)
async def metrics(request: Request) -> Response:
    """The node's figures in the Prometheus text format. Open on the listen address
    unless `[metrics] token` is set; then `Authorization: Bearer <token>`."""
    node = get_node(request)
    token = node.config.metrics.token
    if token is not None:
        given = bearer_token(request) or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "metrics need the metrics token", {"WWW-Authenticate": "Bearer"})
    return Response(node.metrics.render(), media_type=CONTENT_TYPE)
