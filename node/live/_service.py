"""Where a live stream of a camera comes from, on any node, and readers that follow
the camera when it moves.

- The server that records the camera feeds viewers from its recorder's ingest (the
  recorder's LiveTap: one camera connection for recording and every viewer); a
  sub-stream is opened there on demand as a live-only stream.
- Any other node relays: one signed node-to-node stream per camera and stream from the
  recording server (`INTERNAL_LIVE_PATH`), fanned out to its own viewers through a
  LiveTap of its own, closed shortly after its last viewer leaves.

Why relay rather than hand the browser the recording server's URL: the browser then
needs to reach only the node it logged in to (one address through a firewall, NAT or
reverse proxy, one TLS endpoint, the WebRTC host candidate of that node), and a
failover is followed on the server side: the reader below re-resolves the camera when
its source ends, so a viewer keeps its session while the camera moves. The cost is the
bandwidth of one stream per camera between two servers, whatever the number of
viewers on the relaying node.

`LiveReader.get()` yields StreamInfo (a stream begins: a new connection or new
parameters) and LiveFrame items; it raises LiveEnded only when no server has the
camera for `NO_SOURCE_TIMEOUT_S` or the viewer was too slow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from node.live._wire import WireDecoder, WireError, WireFrame
from node.system import SystemState
from recorder import (
    CameraSource,
    LiveEnded,
    LiveFrame,
    LiveSubscription,
    LiveTap,
    RecorderService,
    StreamInfo,
)

log = logging.getLogger(__name__)

INTERNAL_LIVE_PATH = "/api/v1/internal/cameras/{camera_id}/live"
STREAMS = ("main", "sub")
NO_SOURCE_TIMEOUT_S = 20.0  # a failover takes a few seconds; after this a reader ends
RESOLVE_EVERY_S = 0.3
RELAY_LINGER_S = 10.0  # a relay is kept as long as a live-only stream (the same reasons)
RELAY_CONNECT_TIMEOUT_S = 3.0
RELAY_READ_TIMEOUT_S = 10.0  # a relayed stream silent this long is broken
SLOW_VIEWER = "viewer too slow"
# A server whose relay fails before it sends a frame (killed, not yet declared dead) is
# asked again only after a pause that doubles from the first to the last figure.
RELAY_RETRY_FIRST_S = 0.25
RELAY_RETRY_MAX_S = 2.0


@dataclass
class RelayBackoff:
    """When each server may be asked for a relay again after relays that failed
    before their first frame (pure bookkeeping over an explicit clock)."""

    first_s: float = RELAY_RETRY_FIRST_S
    max_s: float = RELAY_RETRY_MAX_S
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def failed(self, server_id: str, now: float) -> int:
        """Note a failure; returns how many in a row."""
        count = self._failures.get(server_id, (0, 0.0))[0] + 1
        pause = min(self.first_s * 2 ** (count - 1), self.max_s)
        self._failures[server_id] = (count, now + pause)
        return count

    def succeeded(self, server_id: str) -> None:
        self._failures.pop(server_id, None)

    def may_ask(self, server_id: str, now: float) -> bool:
        entry = self._failures.get(server_id)
        return entry is None or now >= entry[1]


class LiveHost(Protocol):
    """What live view needs from the node."""

    node_id: str
    state: SystemState
    recorder: RecorderService

    def server_state(self, server_id: str) -> str: ...

    def http_client(self) -> httpx.AsyncClient: ...

    def recorded_by(self, camera_id: str) -> str | None: ...  # a peer recording it


class LiveRefused(Exception):
    """A live stream cannot be served; `status` is the HTTP status that says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sub_source(camera: dict[str, Any]) -> CameraSource | None:
    """The camera's second profile, when it has one."""
    url = camera.get("sub_stream_url")
    if not url:
        return None
    return CameraSource(camera["id"], url, camera.get("username"), camera.get("password"))


@dataclass
class _Relay:
    tap: LiveTap
    task: asyncio.Task[None]
    closing: asyncio.TimerHandle | None = None


class LiveService:
    def __init__(self, host: LiveHost) -> None:
        self.host = host
        self._relays: dict[tuple[str, str, str], _Relay] = {}
        self._backoff = RelayBackoff()
        self.readers: set[LiveReader] = set()  # viewers open now (any kind)

    async def stop(self) -> None:
        for key in list(self._relays):
            self._close_relay(key)

    def check_camera(self, camera_id: str, stream: str) -> dict[str, Any]:
        """The camera record, or LiveRefused (404 unknown camera, 422 bad stream)."""
        if stream not in STREAMS:
            raise LiveRefused(422, "stream must be 'main' or 'sub'")
        camera = self.host.state.camera(camera_id)
        if camera is None:
            raise LiveRefused(404, f"no camera {camera_id!r}")
        if stream == "sub" and sub_source(camera) is None:
            raise LiveRefused(404, "this camera has no sub-stream (second profile)")
        return camera

    # --- sources ----------------------------------------------------------------------
    def local_tap(self, camera_id: str, stream: str) -> LiveTap | None:
        """The tap of a camera this server records (its sub-stream opened on demand)."""
        recorder = self.host.recorder
        main = recorder.live_tap(camera_id)
        if main is None:
            return None
        if stream == "main":
            return main
        camera = self.host.state.camera(camera_id)
        source = sub_source(camera) if camera is not None else None
        if source is None:
            return None
        return recorder.open_live_only((camera_id, stream), source)

    def source_tap(self, camera_id: str, stream: str) -> LiveTap | None:
        """Where this node gets the stream now: its own recorder, or a relay from the
        server that records the camera; None while no server does."""
        tap = self.local_tap(camera_id, stream)
        if tap is not None:
            return tap
        server_id = self.host.recorded_by(camera_id)
        if server_id is None or self.host.server_state(server_id) not in ("alive", "suspect"):
            return None
        server = self.host.state.server(server_id)
        url = (server or {}).get("url")
        if not url:
            return None
        key = (camera_id, stream, server_id)
        if key not in self._relays and not self._backoff.may_ask(server_id, time.monotonic()):
            return None  # it failed a moment ago: the reader asks again shortly
        return self._relay(camera_id, stream, server_id, url)

    def reader(self, camera_id: str, stream: str = "main") -> LiveReader:
        reader = LiveReader(self, camera_id, stream)
        self.readers.add(reader)
        return reader

    def relays(self) -> list[tuple[str, str, str]]:
        """(camera id, stream, server id) of the relays open now."""
        return sorted(self._relays)

    # --- relays -------------------------------------------------------------------------
    def _relay(self, camera_id: str, stream: str, server_id: str, url: str) -> LiveTap:
        key = (camera_id, stream, server_id)
        relay = self._relays.get(key)
        if relay is not None and relay.tap.ended is None:
            if relay.closing is not None:
                relay.closing.cancel()
                relay.closing = None
            return relay.tap
        if relay is not None:
            self._close_relay(key)
        tap = LiveTap(asyncio.get_running_loop(), f"relay {camera_id}/{stream}")
        tap.on_idle = lambda: self._relay_idle(key)
        task = asyncio.create_task(self._pull(key, url, tap), name=f"relay-{camera_id}")
        self._relays[key] = _Relay(tap, task)
        return tap

    def _relay_idle(self, key: tuple[str, str, str]) -> None:
        relay = self._relays.get(key)
        if relay is None:
            return
        if relay.closing is not None:
            relay.closing.cancel()
        loop = asyncio.get_running_loop()
        relay.closing = loop.call_later(RELAY_LINGER_S, self._relay_linger_over, key)

    def _relay_linger_over(self, key: tuple[str, str, str]) -> None:
        relay = self._relays.get(key)
        if relay is not None and relay.tap.viewers == 0:
            self._close_relay(key)

    def _close_relay(self, key: tuple[str, str, str]) -> None:
        relay = self._relays.pop(key, None)
        if relay is None:
            return
        if relay.closing is not None:
            relay.closing.cancel()
        relay.task.cancel()

    async def _pull(self, key: tuple[str, str, str], url: str, tap: LiveTap) -> None:
        camera_id, stream, server_id = key
        path = INTERNAL_LIVE_PATH.format(camera_id=quote(camera_id, safe=""))
        reason = "relay ended"
        delivered = cancelled = False
        timeout = httpx.Timeout(RELAY_READ_TIMEOUT_S, connect=RELAY_CONNECT_TIMEOUT_S)
        try:
            async with self.host.http_client().stream(
                "GET", url.rstrip("/") + path, params={"stream": stream}, timeout=timeout
            ) as answer:
                if answer.status_code != 200:
                    reason = f"server {server_id} has no live stream ({answer.status_code})"
                    return
                decoder = WireDecoder()
                async for chunk in answer.aiter_raw():
                    for item in decoder.feed(chunk):
                        if isinstance(item, WireFrame):
                            tap.publish([item.frame])
                            delivered = True
                        elif isinstance(item, StreamInfo):
                            tap.start_stream(item)
                        else:
                            reason = item
                            return
        except (httpx.HTTPError, WireError, OSError) as error:
            reason = f"relay from server {server_id} broke: {type(error).__name__}"
        except asyncio.CancelledError:
            cancelled = True  # closed by us (no viewers, shutdown): not the server's fault
            raise
        finally:
            tap.end_stream(reason)
            if self._relays.get(key, None) is not None and self._relays[key].tap is tap:
                self._relays.pop(key)
            failures = 0
            if delivered:
                self._backoff.succeeded(server_id)
            elif not cancelled:
                failures = self._backoff.failed(server_id, time.monotonic())
            # a server that keeps failing is logged once, then quietly until it answers
            level = logging.INFO if failures <= 1 else logging.DEBUG
            log.log(
                level, "live relay %s/%s from %s ended: %s", camera_id, stream, server_id, reason
            )


class LiveReader:
    """One viewer's stream of a camera, across sources (see the module doc)."""

    def __init__(self, service: LiveService, camera_id: str, stream: str) -> None:
        self.service = service
        self.camera_id = camera_id
        self.stream = stream
        self.source: LiveTap | None = None
        self._sub: LiveSubscription | None = None
        self._closed = False

    def backlog(self) -> int:
        """Items waiting for this viewer (more frames behind the one just taken)."""
        sub = self._sub
        return sub.pending if sub is not None else 0

    async def get(self) -> LiveFrame | StreamInfo:
        waiting_since: float | None = None
        while True:
            if self._closed:
                raise LiveEnded("closed")
            if self._sub is None:
                tap = self.service.source_tap(self.camera_id, self.stream)
                if tap is None:
                    now = time.monotonic()
                    waiting_since = waiting_since or now
                    if now - waiting_since > NO_SOURCE_TIMEOUT_S:
                        self.close()
                        raise LiveEnded("no server records this camera")
                    await asyncio.sleep(RESOLVE_EVERY_S)
                    continue
                self.source = tap
                self._sub = tap.subscribe()
            try:
                return await self._sub.get()
            except LiveEnded as ended:
                self._sub = None
                if SLOW_VIEWER in str(ended) or self._closed:
                    self.close()
                    raise
                # the source went away (camera moved, relay broke): find the new one
                waiting_since = waiting_since or time.monotonic()
                await asyncio.sleep(RESOLVE_EVERY_S / 3)

    async def get_batch(self) -> list[LiveFrame | StreamInfo]:
        """The next item and whatever else is queued already: a viewer that sends one
        message per batch pays the per-message cost once per poll round."""
        first = await self.get()
        sub = self._sub
        return [first, *(sub.take_ready() if sub is not None else [])]

    def close(self) -> None:
        self._closed = True
        self.service.readers.discard(self)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                self._sub.close()
            self._sub = None
