"""Health, system setup, login and user management."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from node.api.errors import ApiError, error_responses
from node.api.models import (
    DiscoveredSystemOut,
    HealthOut,
    LoginIn,
    LoginOut,
    MeOut,
    SetupIn,
    SetupOut,
    SystemOut,
    UserIn,
    UserOut,
)
from node.api.security import Admin, Node, Viewer
from node.app import NodeRuntime
from node.security import Role, hash_password, verify_password
from node.system import Server

router = APIRouter(prefix="/api/v1")


@router.get("/health", response_model=HealthOut, response_model_exclude_unset=True, tags=["system"])
async def health(node: Node) -> HealthOut:
    system = node.state.system()
    answer = HealthOut(
        node_id=node.node_id,
        name=node.config.name,
        system_id=None if system is None else system["id"],
        state="member" if node.state.is_member() else "undefined",
        version=node.version,
    )
    if node.join_error is not None:  # an auto-join was refused: say why
        answer.join_error = node.join_error
    clock_warning = node.clock_report().warning
    if clock_warning is not None:
        answer.clock_warning = clock_warning
    return answer


@router.post(
    "/system/setup",
    status_code=201,
    response_model=SetupOut,
    responses=error_responses(409),
    tags=["system"],
)
async def setup(body: SetupIn, node: Node) -> SetupOut:
    """Create a system on this undefined server, with its owner account."""
    async with node.join_lock:  # a setup and a join never overlap
        if node.state.system() is not None:
            raise ApiError(409, "this server already belongs to a system")
        password_hash = await asyncio.to_thread(hash_password, body.owner.password)
        system = await node.write(
            node.state.setup,
            body.system_name,
            body.owner.username,
            password_hash,
            node.server_record(),
        )
        await node.on_joined_system()
    return SetupOut(
        system_id=system["id"],
        system_name=system["name"],
        server_id=node.node_id,
        owner=body.owner.username,
    )


@router.get(
    "/system/discovered",
    response_model=list[DiscoveredSystemOut],
    response_model_exclude_unset=True,
    responses=error_responses(409),
    tags=["system"],
)
async def discovered_systems(node: Node) -> list[dict[str, object]]:
    """While this server is undefined: the systems seen on the network that could add
    it, each with its servers (`[{"system_id", "servers": [{"id", "name", "url"}]}]`),
    for the set-up page. A member answers 409 (its servers list is
    `GET /api/v1/servers`)."""
    if node.state.is_member():
        raise ApiError(409, "this server already belongs to a system")
    systems: dict[str, list[dict[str, object]]] = {}
    for server in node.discovered(other_systems=True):
        entry = {k: server[k] for k in ("id", "name", "url")}
        systems.setdefault(str(server["system_id"]), []).append(entry)
    return [{"system_id": sid, "servers": servers} for sid, servers in sorted(systems.items())]


@router.get("/system", response_model=SystemOut, tags=["system"])
async def system_info(node: Node, _caller: Viewer) -> SystemOut:
    system = node.state.system() or {}
    return SystemOut(
        id=system.get("id"), name=system.get("name"), created_at=system.get("created_at")
    )


@router.post(
    "/auth/login",
    response_model=LoginOut,
    responses=error_responses(401, 409, 429),
    tags=["auth"],
)
async def login(body: LoginIn, request: Request, response: Response, node: Node) -> LoginOut:
    if not node.state.is_member():
        raise ApiError(
            409, "this server is undefined: set up a system first (POST /api/v1/system/setup)"
        )
    address = request.client.host if request.client else "?"
    wait_s = node.throttle.retry_after(body.username, address)
    if wait_s > 0:
        raise ApiError(
            429,
            f"too many failed logins: try again in {wait_s:.0f} s",
            {"Retry-After": str(max(1, round(wait_s + 0.5)))},
        )
    user = node.state.user(body.username)
    ok = await asyncio.to_thread(
        verify_password, None if user is None else user["password_hash"], body.password
    )
    signer = node.signer()
    if not ok or user is None or signer is None:
        delay = node.throttle.failed(body.username, address)
        headers = {"WWW-Authenticate": "Bearer"}
        if delay > 0:
            headers["Retry-After"] = str(max(1, round(delay + 0.5)))
        raise ApiError(401, "wrong user name or password", headers)
    node.throttle.succeeded(body.username, address)
    token, claims = signer.issue(body.username, node.config.token_ttl_s)
    return LoginOut(
        token=token,
        expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
        role=user["role"],
        server_urls=server_urls(node),
    )


@router.get("/auth/me", response_model=MeOut, tags=["auth"])
async def me(node: Node, caller: Viewer) -> MeOut:
    return MeOut(username=caller.username, role=caller.role.value, server_urls=server_urls(node))


def server_urls(node: NodeRuntime) -> list[str]:
    urls = (Server.from_record(record).url for record in node.state.servers())
    return [url for url in urls if url]


@router.get("/users", response_model=list[UserOut], tags=["users"])
async def list_users(node: Node, _caller: Admin) -> list[UserOut]:
    return [
        UserOut(username=u["username"], role=u["role"], created_at=u.get("created_at"))
        for u in node.state.users()
    ]


@router.post("/users", status_code=201, response_model=UserOut, tags=["users"])
async def create_user(body: UserIn, node: Node, caller: Admin) -> UserOut:
    if node.state.user(body.username) is not None:
        raise ApiError(409, f"user {body.username!r} exists")
    password_hash = await asyncio.to_thread(hash_password, body.password)
    user = await node.write(
        node.state.add_user, body.username, Role(body.role), password_hash, caller.role
    )
    return UserOut(username=user["username"], role=user["role"], created_at=user["created_at"])


@router.delete("/users/{username}", status_code=204, tags=["users"])
async def delete_user(username: str, node: Node, caller: Admin) -> Response:
    if username == caller.username:
        raise ApiError(409, "you cannot delete your own account")
    await node.write(node.state.delete_user, username, caller.role)
    return Response(status_code=204)
