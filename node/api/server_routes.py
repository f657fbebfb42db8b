"""Servers of the system: list with membership and load, discovered undefined servers,
add (owner's credentials), detach (owner, two-step with a 5-second wait), failover
settings, join tokens."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response

from node.api.errors import ApiError, error_responses
from node.api.models import (
    AddServerIn,
    DetachIn,
    DetachOut,
    DiscoveredServerOut,
    FailoverIn,
    JoinTokenIn,
    JoinTokenOut,
    MembershipOut,
    ServerOut,
)
from node.api.security import Admin, Node, Owner, Viewer
from node.app import NodeRuntime
from node.events import EventType, NewEvent
from node.membership import ClockReport, LoadReport
from node.security import (
    ConfirmError,
    Role,
    check_confirm_token,
    mint_confirm_token,
    mint_join_token,
    verify_password,
)
from node.system import (
    LAST_SERVER_MESSAGE,
    JoinError,
    Server,
    add_server,
    camera_deletions,
    plan_detach,
)
from node.timefmt import utc_iso

router = APIRouter(prefix="/api/v1", tags=["servers"])
DETACH_PATH = "/api/v1/internal/detach"


def load_json(load: LoadReport | None) -> dict[str, Any]:
    if load is None:
        return {}
    return {
        "cpu_percent": round(load.cpu_percent, 1),
        "memory_percent": round(load.mem_percent, 1),
        "disk_free_bytes": load.disk_free_bytes,
        "net_bytes_per_s": round(load.net_bytes_per_s, 1),
        **{k: v for k, v in load.extra.items() if k == "proc_cpu"},
    }


def server_out(node: NodeRuntime, server: dict, clocks: ClockReport | None = None) -> ServerOut:
    view = Server.from_record(server)
    clock = (clocks or node.clock_report()).server(view.id, node.node_id)
    this = view.id == node.node_id
    state = node.server_state(view.id)
    load = node.member_load(view.id)
    online = state in ("alive", "suspect")
    return ServerOut(
        id=view.id,
        name=server.get("name", ""),
        url=view.url or "",
        state=state,
        online=online,
        failover_enabled=view.failover_enabled,
        max_cameras=view.max_cameras,
        licensed_channels=view.licensed_channels,
        channels_used=node.channels_used() if this else (load.channels_used if load else 0),
        load=load_json(load) if online else {},
        clock_offset_s=clock.offset_s,
        clock=clock.state,
        clock_warning=clock.warning,
    )


@router.get("/servers", response_model=list[ServerOut])
async def list_servers(node: Node, _caller: Viewer) -> list[ServerOut]:
    clocks = node.clock_report()
    return [server_out(node, s, clocks) for s in node.state.servers()]


@router.get(
    "/servers/discovered",
    response_model=list[DiscoveredServerOut],
    response_model_exclude_unset=True,
)
async def discovered_servers(
    node: Node, _caller: Viewer, all: bool = False
) -> list[dict[str, Any]]:
    """Undefined servers seen over mDNS or static peers: [{"id", "name", "url"}].
    With `?all=true`, servers of OTHER systems (with their `system_id`)."""
    return node.discovered(other_systems=all)


@router.post(
    "/servers",
    status_code=201,
    response_model=ServerOut,
    responses=error_responses(429, 502, 504),
)
async def add_undefined_server(body: AddServerIn, node: Node, _caller: Admin) -> ServerOut:
    """Add the undefined server at `url`; needs the system owner's user name and
    password. Wrong credentials: 401/403, another system's server: 409, unreachable:
    502/504; nothing changes on either side then."""
    user = node.state.user(body.owner_username)
    throttle_key = f"add-server:{body.owner_username}"
    wait_s = node.throttle.retry_after(throttle_key, "add-server")
    if wait_s > 0:
        raise ApiError(429, f"too many wrong owner passwords: try again in {wait_s:.0f} s")
    ok = await asyncio.to_thread(
        verify_password, None if user is None else user["password_hash"], body.owner_password
    )
    if not ok or user is None:
        node.throttle.failed(throttle_key, "add-server")
        raise ApiError(401, "owner_username/owner_password: wrong user name or password")
    if user["role"] != Role.owner:
        raise ApiError(403, f"{body.owner_username!r} is not the system owner")
    node.throttle.succeeded(throttle_key, "add-server")
    try:
        server = await add_server(node, body.url)
    except JoinError as exc:
        raise ApiError(exc.status, exc.reason) from None
    return server_out(node, server)


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


@router.post(
    "/servers/{server_id}/detach",
    status_code=200,
    response_model=DetachOut,
    response_model_exclude_none=True,
    responses={
        202: {"model": DetachOut, "description": "dry run: what would happen, and a token"},
    },
)
async def detach_server(
    server_id: str, body: DetachIn, node: Node, _caller: Owner, response: Response
) -> dict[str, Any]:
    """`{"keep_cameras": b}` detaches at once (a fixed contract: outside tools call it).
    A UI or the CLI first asks with `"dry_run": true`: 202 with what will happen
    (warnings: offline server, last server) and a `confirm_token` usable from
    `confirm_after` (a detach is confirmed only after a 5-second wait); a call carrying that
    token is refused until the wait is over."""
    if node.state.server(server_id) is None:
        raise ApiError(404, f"no server {server_id!r}")
    secret = node.system_secret()
    assert secret is not None  # Owner implies a member
    plan = plan_detach(
        server_id,
        body.keep_cameras,
        servers=node.state.servers(),
        cameras=node.state.cameras(),
        online=node.server_state(server_id) in ("alive", "suspect"),
        this_node_id=node.node_id,
    )
    now = time.time()
    if body.dry_run:
        token, valid_from, expires_at = mint_confirm_token(
            secret, server_id, body.keep_cameras, now=now
        )
        response.status_code = 202
        return {
            **plan.to_json(),
            "done": False,
            "confirm_token": token,
            "confirm_after": utc_iso(valid_from, timespec="milliseconds"),
            "confirm_expires_at": utc_iso(expires_at, timespec="milliseconds"),
        }
    if body.confirm_token is not None:
        try:
            check_confirm_token(body.confirm_token, secret, server_id, body.keep_cameras, now=now)
        except ConfirmError as exc:
            raise ApiError(409 if "wait" in str(exc) else 422, str(exc)) from None
    result = {**plan.to_json(), "done": True}
    if plan.this_node and plan.last_server:
        node.events.publish({"type": "logout", "message": LAST_SERVER_MESSAGE})
        await asyncio.sleep(0.1)  # let the WebSocket clients get it
        await node.leave_system()
        return result
    if plan.online and not plan.this_node:
        reached = await _tell_detached(node, server_id)
        if not reached:
            result["warnings"] = [
                *result["warnings"],
                "the server did not answer: it comes back in the list when it returns",
            ]
    detached = node.state.server(server_id) or {}
    node.event_log.record(
        NewEvent(
            EventType.SERVER_DETACHED.value,
            server_id=server_id,
            details={"name": detached.get("name"), "keep_cameras": body.keep_cameras},
        )
    )
    records = await node.write(node.state.detach_records, server_id, camera_deletions(plan))
    if plan.this_node:
        await node.cluster.push_now(records)
        await node.leave_system()
    return result


async def _tell_detached(node: NodeRuntime, server_id: str) -> bool:
    server = node.state.server(server_id) or {}
    url = str(server.get("url", "")).rstrip("/")
    try:
        answer = await node.http_client().post(f"{url}{DETACH_PATH}", json={}, timeout=5.0)
    except Exception:
        return False
    return answer.status_code == 200


@router.get("/system/membership", response_model=MembershipOut, tags=["system"])
async def membership(node: Node, _caller: Admin) -> dict[str, Any]:
    """The gossip view of this node (every member with state, incarnation, address,
    load) and counters: datagrams sent/received, rejections per reason (bad_mac,
    replayed, stale...), replication pushes and anti-entropy rounds."""
    now = time.monotonic()
    members = {
        node_id: {
            "state": view.state,
            "incarnation": view.incarnation,
            "address": view.address,
            "seen_s_ago": None if view.last_seen is None else round(now - view.last_seen, 3),
            "load": load_json(view.load),
            "channels_used": None if view.load is None else view.load.channels_used,
        }
        for node_id, view in node.members().items()
    }
    return {
        "node_id": node.node_id,
        "members": members,
        **node.cluster.stats(),
    }


@router.post("/system/join-tokens", status_code=201, response_model=JoinTokenOut, tags=["system"])
async def create_join_token(body: JoinTokenIn, node: Node, _caller: Owner) -> JoinTokenOut:
    """A token that lets a node started with `--join-token` join this system by
    itself (owner only; carries the system id and an expiry, no password)."""
    system = node.state.system()
    assert system is not None
    token, expires_at = mint_join_token(
        bytes.fromhex(system["secret"]), system["id"], ttl_s=body.ttl_s, now=time.time()
    )
    return JoinTokenOut(
        token=token, expires_at=datetime.fromtimestamp(expires_at, UTC), system_id=system["id"]
    )
