"""Live view and playback routes, and the node-to-node streams behind them.

- `POST /cameras/{id}/webrtc`: WHEP-style, an SDP offer in (`application/sdp`, or JSON
  `{"type": "offer", "sdp": ...}`), the answer out (201, `Location` of the session);
  `DELETE` on that location ends it.
- `GET /cameras/{id}/live` (WebSocket, `?token=`): fragmented MP4 for MSE.
- `GET /cameras/{id}/playback?start=&speed=`: fragmented MP4 from `start` on, with the
  wall-clock mapping in `X-Camkeep-Timeline`.
- internal: a camera's live stream and a range of its recorded frames, in the
  node-to-node framing, for the server that relays or plays them back.

Tokens are checked on every request (the WebSocket's on open and every
`TOKEN_RECHECK_S` after); media a browser opens by URL may carry `?token=`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response, StreamingResponse

from node.api.errors import ApiError
from node.api.query_range import as_utc, query_range
from node.api.security import MediaViewer, Node, Viewer, authenticate, get_node
from node.live import (
    SPEEDS,
    LiveReader,
    LiveRefused,
    MseMuxer,
    SegmentFrameReader,
    encode_end,
    encode_frame,
    encode_info,
    make_plan,
    stream_plan,
)
from recorder import LiveEnded, LiveFrame, StreamInfo

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["live"])
internal = APIRouter(prefix="/api/v1", include_in_schema=False)

MAX_SDP_BYTES = 64 * 1024
TOKEN_RECHECK_S = 30.0
# A viewer that takes nothing for this long is gone or stuck: the WebSocket is closed
# (its queue on the node is bounded meanwhile, and skips ahead to keyframes).
SEND_STALL_S = 10.0
WIRE_MEDIA_TYPE = "application/x-camkeep-stream"
# WebSocket close codes: 4000 + the HTTP status they stand for
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_UNDEFINED = 4409
CLOSE_BAD_REQUEST = 4422
CLOSE_TOO_SLOW = 4429
CLOSE_UNAVAILABLE = 4503

StreamName = Annotated[str, Query(pattern="^(main|sub)$", description="main or sub")]


def _refused(error: LiveRefused) -> ApiError:
    return ApiError(error.status, error.reason)


# --- WebRTC --------------------------------------------------------------------------


async def _offer(request: Request) -> tuple[str, bool]:
    """(offer SDP, whether the client speaks JSON)."""
    body = await request.body()
    if len(body) > MAX_SDP_BYTES:
        raise ApiError(413, "offer too large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/sdp":
        try:
            return body.decode(), False
        except UnicodeDecodeError:
            raise ApiError(422, "the offer is not UTF-8 text") from None
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(422, "body is not JSON") from None
        if not isinstance(data, dict) or data.get("type") != "offer":
            raise ApiError(422, 'expected {"type": "offer", "sdp": "..."}')
        sdp = data.get("sdp")
        if not isinstance(sdp, str) or not sdp:
            raise ApiError(422, "sdp must be a non-empty string")
        return sdp, True
    raise ApiError(415, "send the offer as application/sdp or application/json")


@router.post(
    "/cameras/{camera_id}/webrtc",
    status_code=201,
    responses={
        201: {"content": {"application/sdp": {}}, "description": "the SDP answer"},
        415: {"description": "a stream WebRTC cannot carry (H.265, B-frames): use /live"},
    },
)
async def webrtc_offer(
    camera_id: str, request: Request, node: Node, _caller: Viewer, stream: StreamName = "main"
) -> Response:
    sdp, as_json = await _offer(request)
    try:
        session = await node.webrtc.create(camera_id, stream, sdp)
    except LiveRefused as error:
        raise _refused(error) from None
    answer = node.webrtc.answer_sdp(session)
    location = f"/api/v1/cameras/{camera_id}/webrtc/{session.id}"
    headers = {"Location": location}
    if as_json:
        body = {"type": "answer", "sdp": answer, "session": session.id, "location": location}
        return JSONResponse(body, status_code=201, headers=headers)
    return Response(answer, status_code=201, media_type="application/sdp", headers=headers)


@router.delete("/cameras/{camera_id}/webrtc/{session_id}", status_code=204)
async def webrtc_close(camera_id: str, session_id: str, node: Node, _caller: Viewer) -> Response:
    session = node.webrtc.sessions.get(session_id)
    if session is None or session.camera_id != camera_id:
        raise ApiError(404, "no such WebRTC session")
    await node.webrtc.close(session_id)
    return Response(status_code=204)


# --- live fMP4 over a WebSocket --------------------------------------------------------


@router.websocket("/cameras/{camera_id}/live")
async def live_ws(
    websocket: WebSocket, camera_id: str, token: str | None = None, stream: str = "main"
) -> None:
    node = websocket.app.state.node
    await websocket.accept()  # then close with a reason: a refused handshake says 403
    if not node.state.is_member():
        await websocket.close(CLOSE_UNDEFINED, "this server is undefined")
        return
    try:
        authenticate(node, token)
    except ApiError as error:
        await websocket.close(CLOSE_UNAUTHORIZED, error.reason)
        return
    try:
        node.live.check_camera(camera_id, stream)
    except LiveRefused as error:
        code = CLOSE_NOT_FOUND if error.status == 404 else CLOSE_BAD_REQUEST
        await websocket.close(code, error.reason)
        return
    reader = node.live.reader(camera_id, stream)
    # The client going away closes the reader, which ends the loop below: one task for
    # the session's life rather than a wait on two futures for every frame.
    gone = asyncio.create_task(_drain(websocket, reader))
    muxer = MseMuxer()
    checked = time.monotonic()
    try:
        while True:
            items = await reader.get_batch()
            if gone.done():
                return
            if time.monotonic() - checked > TOKEN_RECHECK_S:
                checked = time.monotonic()
                authenticate(node, token)  # an expired token ends the session
            # the fragments of one batch go out as one message (MSE takes several boxes)
            fragments: list[bytes] = []
            for item in items:
                if isinstance(item, StreamInfo):
                    muxer.on_info(item)
                    continue
                for message in muxer.on_frame(item):
                    if isinstance(message, bytes):
                        fragments.append(message)
                        continue
                    if fragments:  # what came before this stream's header goes first
                        await _send(websocket.send_bytes(b"".join(fragments)))
                        fragments = []
                    await _send(websocket.send_text(json.dumps(message)))
            if fragments:
                await _send(websocket.send_bytes(b"".join(fragments)))
    except TimeoutError:
        log.info("live viewer of %s took nothing for %g s: closed", camera_id, SEND_STALL_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(CLOSE_TOO_SLOW, "viewer too slow"), 1.0)
    except LiveEnded as ended:
        reason = str(ended)
        code = CLOSE_TOO_SLOW if "too slow" in reason else CLOSE_UNAVAILABLE
        if not gone.done():
            with contextlib.suppress(Exception):
                await websocket.close(code, reason[:120])
    except ApiError as error:
        with contextlib.suppress(Exception):
            await websocket.close(CLOSE_UNAUTHORIZED, error.reason[:120])
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        reader.close()
        gone.cancel()
        with contextlib.suppress(BaseException):
            await gone


async def _send(sending: Coroutine[Any, Any, None]) -> None:
    # asyncio.timeout, not wait_for: no task per message
    async with asyncio.timeout(SEND_STALL_S):
        await sending


async def _drain(websocket: WebSocket, reader: LiveReader) -> None:
    """Read (and ignore) what the client sends, until it goes away; then close the
    reader, which wakes the sending loop."""
    try:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
    finally:
        reader.close()


# --- playback --------------------------------------------------------------------------


@router.get(
    "/cameras/{camera_id}/playback",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"video/mp4": {}},
            "description": "fragmented MP4 from start on; X-Camkeep-Timeline maps media "
            "time to wall-clock time, X-Camkeep-Next is where the next request starts",
        }
    },
)
async def playback(
    camera_id: str,
    start: datetime,
    node: Node,
    _caller: MediaViewer,
    speed: Annotated[int, Query(description="1, 2, 4 or 8")] = 1,
) -> StreamingResponse:
    if speed not in SPEEDS:
        raise ApiError(422, "speed must be 1, 2, 4 or 8")
    if node.state.camera(camera_id) is None:
        raise ApiError(404, f"no camera {camera_id!r}")
    start = as_utc(start)
    now = datetime.now(UTC)
    if start >= now:
        raise ApiError(422, "start must be in the past")
    window = node.config.live.playback_window_s
    plan = await make_plan(node, camera_id, start, speed, window, now)
    if not plan.pieces:
        raise ApiError(404, "no recordings of this camera from that start on")
    headers = {
        "X-Camkeep-Timeline": plan.timeline_json(),
        "Cache-Control": "no-store",
    }
    if plan.next_start is not None:
        headers["X-Camkeep-Next"] = plan.next_start.isoformat().replace("+00:00", "Z")
    return StreamingResponse(stream_plan(node, plan), media_type="video/mp4", headers=headers)


# --- node to node ------------------------------------------------------------------------


async def internode(request: Request) -> str:
    return await get_node(request).internode_check(request)


internode.internode = True  # type: ignore[attr-defined]
Peer = Annotated[str, Depends(internode)]


@internal.get("/internal/cameras/{camera_id}/live")
async def internal_live(
    camera_id: str, node: Node, _peer: Peer, stream: StreamName = "main"
) -> StreamingResponse:
    """This server's own live stream of a camera (a relaying node reads it)."""
    tap = node.live.local_tap(camera_id, stream)
    if tap is None:
        raise ApiError(404, "this server does not record that camera")
    subscription = tap.subscribe()

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                item = await subscription.get()
                if isinstance(item, LiveFrame):
                    yield encode_frame(item)
                else:
                    yield encode_info(item)
        except LiveEnded as ended:
            yield encode_end(str(ended))
        finally:
            subscription.close()

    return StreamingResponse(body(), media_type=WIRE_MEDIA_TYPE)


MAX_FRAMES_RANGE = timedelta(hours=24)


@internal.get("/internal/cameras/{camera_id}/frames")
async def internal_frames(
    camera_id: str,
    start: datetime,
    end: datetime,
    node: Node,
    _peer: Peer,
    keyframes_only: bool = False,
) -> StreamingResponse:
    """This server's recorded frames of a camera in [start, end) (playback elsewhere)."""
    start, end = query_range(start, end)
    if end - start > MAX_FRAMES_RANGE:
        raise ApiError(422, "at most 24 hours at once")
    files = await node.recorder.segment_files(camera_id, start, end)
    reader = SegmentFrameReader(
        files, int(start.timestamp() * 1000), int(end.timestamp() * 1000), keyframes_only
    )

    async def body() -> AsyncIterator[bytes]:
        try:
            while not reader.done:
                for item in await asyncio.to_thread(reader.next_batch):
                    if isinstance(item, StreamInfo):
                        yield encode_info(item)
                    else:
                        yield encode_frame(item.frame, item.wall_ms)
            yield encode_end("end of range")
        finally:
            await asyncio.to_thread(reader.close)

    return StreamingResponse(body(), media_type=WIRE_MEDIA_TYPE)


def status_json(node: Any) -> dict[str, Any]:
    """What live view holds open on this node (for tests and the status page)."""
    return {
        "webrtc_sessions": len(node.webrtc.sessions),
        "webrtc_frames_sent": sum(s.track.sent for s in node.webrtc.sessions.values()),
        "viewers": len(node.live.readers),
        "relays": [list(r) for r in node.live.relays()],
        "live_only_streams": [list(k) for k in node.recorder.live_only_open()],
    }


@router.get("/live/status")
async def live_status(node: Node, _caller: Viewer) -> dict[str, Any]:
    """WebRTC sessions, relays and on-demand streams open on this server."""
    return status_json(node)
