"""The events WebSocket: camera status and configuration changes, pushed as JSON."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from node.api.errors import ApiError
from node.api.security import authenticate

router = APIRouter(prefix="/api/v1", tags=["events"])

# WebSocket close codes: 4000 + the HTTP status it stands for
CLOSE_UNAUTHORIZED = 4401
CLOSE_UNDEFINED = 4409


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
