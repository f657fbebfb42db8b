"""Node-to-node routes: replication, join, detach, the recording sets failover
exchanges, and each node's LOCAL periods and export pieces of a camera (the merged
timeline and export across servers). Not in the public OpenAPI document.

Every route but `/internal/join` and `/system/join-requests` admits only requests
signed with the system secret (HMAC, timestamp, nonce; node.security), so a process
outside the system gets 401 and changes nothing. `/internal/join` is accepted only by
an undefined server (the trust model is written in node/system/_join.py); a join
request must carry a join token signed with the system secret.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from node.api.errors import ApiError
from node.api.query_range import query_range
from node.api.security import Node, get_node
from node.camerastate import StateError as CameraStateError
from node.events import EventError
from node.recordings import gap_row_to_json, period_to_json
from node.replication import ReplicaError, parse_records, record_to_json
from node.security import JoinTokenError, request_target, verify_join_token
from node.system import JoinError, accept_join, add_server
from node.urls import http_url
from recorder import RecorderError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", include_in_schema=False)


async def internode(request: Request) -> str:
    """The calling node's id, if the request is signed with this system's secret
    (headers are checked before the body is read; 401 otherwise)."""
    return await get_node(request).internode_check(request)


internode.internode = True  # type: ignore[attr-defined]
Peer = Annotated[str, Depends(internode)]
MAX_PIECE = timedelta(hours=24)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        raise ApiError(422, "body is not JSON") from None


def _replicator(request: Request) -> Any:
    """This node's replicator; 409 while replication is not running."""
    replicator = get_node(request).cluster.replicator
    if replicator is None:
        raise ApiError(409, "replication not running")
    return replicator


@router.post("/internal/records")
async def push_records(request: Request, caller: Peer) -> dict[str, int]:
    node = get_node(request)
    body = await _json(request)
    try:
        records = parse_records(body.get("records") if isinstance(body, dict) else None)
    except ReplicaError as exc:
        raise ApiError(422, f"records malformed: {exc}") from None
    applied = await node.apply_remote_records(records)
    return {"applied": applied}


@router.post("/internal/sync")
async def sync(request: Request, caller: Peer) -> dict[str, Any]:
    return await _answer(request, lambda r, body: r.answer_sync(body), "digest malformed")


@router.post("/internal/fetch")
async def fetch(request: Request, caller: Peer) -> dict[str, Any]:
    return await _answer(request, lambda r, body: r.answer_fetch(body), "fetch malformed")


async def _answer(
    request: Request, answer: Callable[[Any, Any], dict[str, Any]], what: str
) -> dict[str, Any]:
    """The replicator's answer to a peer's anti-entropy request (422 when malformed)."""
    replicator = _replicator(request)
    try:
        return answer(replicator, await _json(request))
    except ReplicaError as exc:
        raise ApiError(422, f"{what}: {exc}") from None


@router.post("/internal/detach")
async def detach_me(request: Request, caller: Peer) -> dict[str, Any]:
    """A member tells this node it is detached: it becomes undefined."""
    node = get_node(request)
    log.warning("detached from the system by %s", caller)
    await node.leave_system()
    return {"node_id": node.node_id, "state": "undefined"}


@router.post("/internal/join")
async def join(request: Request) -> dict[str, Any]:
    """An undefined server accepts the system a system node brings (see system_join)."""
    node = get_node(request)
    body = await request.body()
    try:
        parsed = json.loads(body or b"null")
    except (ValueError, RecursionError):
        raise ApiError(422, "body is not JSON") from None
    try:
        own = await accept_join(
            node, request.method, request_target(request), request.headers, body, parsed
        )
    except JoinError as exc:
        raise ApiError(exc.status, exc.reason) from None
    return {"server": record_to_json(own)}


@router.post("/system/join-requests", status_code=201)
async def join_request(request: Request) -> dict[str, Any]:
    """An undefined node presents a join token: verify it, then add that node."""
    node = get_node(request)
    system = node.state.system()
    if system is None:
        raise ApiError(409, "this server is undefined")
    body = await _json(request)
    if not isinstance(body, dict):
        raise ApiError(422, "body must be an object with token and url")
    token, url = body.get("token"), body.get("url")
    if not isinstance(token, str) or not isinstance(url, str) or len(url) > 300:
        raise ApiError(422, "token and url are required strings")
    try:
        url = http_url(url)
    except ValueError as error:
        raise ApiError(422, str(error)) from None
    try:
        verify_join_token(token, bytes.fromhex(system["secret"]), system["id"], now=time.time())
    except JoinTokenError as exc:
        log.warning("join request from %s refused: %s", url, exc)
        raise ApiError(401, str(exc)) from None
    try:
        server = await add_server(node, url)
    except JoinError as exc:
        raise ApiError(exc.status, exc.reason) from None
    return {"server_id": server["id"], "system_id": system["id"]}


@router.get("/internal/failover/recording")
async def recording_now(node: Node, _peer: Peer) -> dict[str, Any]:
    return {"server_id": node.node_id, **node.failover.recorder_sets()}


@router.get("/internal/cameras/{camera_id}/periods")
async def local_periods(
    camera_id: str, start: datetime, end: datetime, node: Node, _peer: Peer
) -> dict[str, Any]:
    start, end = query_range(start, end)
    try:
        periods = await node.recorder.find_periods(camera_id, start, end)
    except RecorderError as error:
        raise ApiError(422, str(error)) from None
    notes = node.recorder.gaps(camera_id, start, end)
    return {
        "server_id": node.node_id,
        "periods": [period_to_json(p) for p in periods],
        "gaps": [gap_row_to_json(g) for g in notes],
    }


@router.get("/internal/cameras/{camera_id}/export", response_class=FileResponse)
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


@router.post("/internal/events")
async def events_pushed(request: Request, caller: Peer) -> dict[str, int]:
    """A peer's new events (and how far it has sent events to the sinks)."""
    node = get_node(request)
    try:
        added = node.event_log.exchange.receive(await _json(request))
    except EventError as exc:
        raise ApiError(422, f"events malformed: {exc}") from None
    return {"added": added}


@router.post("/internal/events/fetch")
async def events_fetch(request: Request, caller: Peer) -> dict[str, Any]:
    """The events a peer lacks, given what it holds of each writer."""
    node = get_node(request)
    try:
        return node.event_log.exchange.answer_fetch(await _json(request))
    except EventError as exc:
        raise ApiError(422, f"fetch malformed: {exc}") from None


@router.post("/internal/camera-states")
async def camera_states_pushed(request: Request, caller: Peer) -> dict[str, bool]:
    """A peer's camera state table or a delta of it; `applied: false` asks for the
    whole table."""
    node = get_node(request)
    try:
        applied = node.camera_states.receive(caller, await _json(request))
    except CameraStateError as exc:
        raise ApiError(422, f"camera states malformed: {exc}") from None
    return {"applied": applied}


@router.get("/internal/camera-states")
async def camera_states_now(node: Node, _peer: Peer) -> dict[str, Any]:
    return node.camera_states.answer()
