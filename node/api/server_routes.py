"""Servers of the system and their failover settings."""

from __future__ import annotations

from fastapi import APIRouter

from node.api.errors import ApiError
from node.api.models import FailoverIn, ServerOut
from node.api.security import Admin, Node, Viewer
from node.config import MAX_CHANNELS
from node.runtime import NodeRuntime

router = APIRouter(prefix="/api/v1", tags=["servers"])


def server_out(node: NodeRuntime, server: dict) -> ServerOut:
    this = server["id"] == node.node_id
    return ServerOut(
        id=server["id"],
        name=server.get("name", ""),
        url=server.get("url", ""),
        # membership (issue 4) fills in other servers; this node is alive by definition
        state="alive" if this else "unknown",
        online=this,
        failover_enabled=bool(server.get("failover_enabled", False)),
        max_cameras=int(server.get("max_cameras", 0)),
        licensed_channels=int(server.get("licensed_channels", MAX_CHANNELS)),
        channels_used=node.channels_used() if this else 0,
        load=node.load() if this else {},
    )


@router.get("/servers", response_model=list[ServerOut])
async def list_servers(node: Node, _caller: Viewer) -> list[ServerOut]:
    return [server_out(node, s) for s in node.state.servers()]


@router.get("/servers/{server_id}", response_model=ServerOut)
async def get_server(server_id: str, node: Node, _caller: Viewer) -> ServerOut:
    server = node.state.server(server_id)
    if server is None:
        raise ApiError(404, f"no server {server_id!r}")
    return server_out(node, server)


@router.put("/servers/{server_id}/failover", response_model=ServerOut)
async def set_failover(server_id: str, body: FailoverIn, node: Node, _caller: Admin) -> ServerOut:
    server = await node.write(node.state.set_failover, server_id, body.enabled, body.max_cameras)
    return server_out(node, server)
