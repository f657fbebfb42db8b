"""Events: the system's event log (`GET /api/v1/events`, newest first, from any node)
and, on the same path, the WebSocket that pushes new log entries (`{"type": "event",
"event": {...}}`), camera status and configuration changes as JSON."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from node.api.errors import ApiError, error_responses
from node.api.models import EventOut, EventsOut
from node.api.query_range import IsoTime
from node.api.security import Node, Viewer, authenticate
from node.events import MAX_LIMIT, EventQuery, EventType

USER_ERRORS = error_responses(401, 403, 404, 409, 422)
router = APIRouter(prefix="/api/v1", tags=["events"])

# WebSocket close codes: 4000 + the HTTP status it stands for
CLOSE_UNAUTHORIZED = 4401
CLOSE_UNDEFINED = 4409


IdParam = Annotated[str | None, Query(min_length=1, max_length=128)]


@router.get("/events", response_model=EventsOut, responses=USER_ERRORS)
async def list_events(
    node: Node,
    _caller: Viewer,
    since: IsoTime | None = None,
    until: IsoTime | None = None,
    type: EventType | None = None,
    camera_id: IdParam = None,
    server_id: IdParam = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> EventsOut:
    """The system's events, newest first: `since`/`until` (ISO 8601 times, with an
    offset), one `type`, one camera, one server (the one it concerns)."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(422, f"{name} must carry its offset (e.g. Z for UTC)")
    query = EventQuery(
        since_ms=None if since is None else int(since.timestamp() * 1000),
        until_ms=None if until is None else int(until.timestamp() * 1000),
        type=None if type is None else type.value,
        camera_id=camera_id,
        server_id=server_id,
        limit=limit,
    )
    events = node.event_log.store.query(query)
    return EventsOut(events=[EventOut.model_validate(e.to_json()) for e in events])


@router.websocket("/events")
async def events(websocket: WebSocket, token: str | None = None) -> None:
    node = websocket.app.state.node
    # accept first, then close with a reason: a refused handshake would only say 403
    await websocket.accept()
    if not node.state.is_member():
        await websocket.close(CLOSE_UNDEFINED, "this server is undefined")
        return
    try:
        caller = authenticate(node, token)
    except ApiError as error:
        await websocket.close(CLOSE_UNAUTHORIZED, error.reason)
        return
    queue = node.events.subscribe()
    reader = asyncio.create_task(_drain(websocket))
    try:
        await websocket.send_json(
            {"type": "hello", "node_id": node.node_id, "user": caller.username}
        )
        while not reader.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            event = getter.result()
            await websocket.send_json(event)
            if event.get("type") == "logout":
                await websocket.close(CLOSE_UNAUTHORIZED, "logged out: the system was removed")
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        node.events.unsubscribe(queue)
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
