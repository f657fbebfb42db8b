"""Bearer-token authentication and role checks for every route.

Each protected route depends on `require(role)`; `create_app` checks that every
route except the public ones has such a dependency, and publishes the role in the
OpenAPI document as `x-required-role` (tests enumerate the routes with it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from node.api.errors import ApiError
from node.app import NodeRuntime
from node.security import AuthError, Role, role_allows

UNDEFINED_REASON = "this server is undefined: set up a system first (POST /api/v1/system/setup)"


@dataclass(frozen=True)
class Caller:
    username: str
    role: Role


def get_node(request: Request) -> NodeRuntime:
    return request.app.state.node


def require_member(node: NodeRuntime) -> None:
    if not node.state.is_member():
        raise ApiError(409, UNDEFINED_REASON)


def authenticate(node: NodeRuntime, token: str | None) -> Caller:
    """The caller a token belongs to; ApiError 401 when it does not check out."""
    signer = node.signer()
    if not token or signer is None:
        raise ApiError(401, "missing bearer token", {"WWW-Authenticate": "Bearer"})
    try:
        claims = signer.verify(token)
    except AuthError as error:
        raise ApiError(401, str(error), {"WWW-Authenticate": "Bearer"}) from None
    user = node.state.user(claims.username)
    if user is None:
        raise ApiError(401, "user no longer exists", {"WWW-Authenticate": "Bearer"})
    return Caller(claims.username, Role(user["role"]))


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def bearer_or_query_token(request: Request) -> str | None:
    """The bearer token, or `?token=` for what a browser opens without headers (a
    <video src>, a WebSocket)."""
    return bearer_token(request) or request.query_params.get("token") or None


def require(
    role: Role, token_of: Callable[[Request], str | None] = bearer_token
) -> Callable[[Request], Awaitable[Caller]]:
    async def check(request: Request) -> Caller:
        node = get_node(request)
        if not node.state.is_member() and token_of(request):
            # the node left its system (last server detached): every token is void
            raise ApiError(
                401,
                "this server no longer belongs to a system: the token is not valid any more",
                {"WWW-Authenticate": "Bearer"},
            )
        require_member(node)
        caller = authenticate(node, token_of(request))
        if not role_allows(caller.role, role):
            raise ApiError(403, f"this needs the {role.value} role (you are {caller.role.value})")
        return caller

    check.required_role = role  # type: ignore[attr-defined]
    return check


Viewer = Annotated[Caller, Depends(require(Role.viewer))]
# a viewer by bearer token or `?token=` (media a browser opens by URL)
MediaViewer = Annotated[Caller, Depends(require(Role.viewer, bearer_or_query_token))]
Admin = Annotated[Caller, Depends(require(Role.admin))]
Owner = Annotated[Caller, Depends(require(Role.owner))]
Node = Annotated[NodeRuntime, Depends(get_node)]
