"""System-wide camera state on a running node: its own table pushed to the peers on
every change, the peers' tables received, fetched when the gossiped digest says we
lack something, and confirmed while their source is alive.

Why this split (sizes for 128 cameras per node, 100 nodes): one camera's state is
about 130 bytes of JSON, a node's table about 16 KB, far beyond a gossip datagram
(1080 bytes of payload, load extra at most 8 values of 64 characters). Sending the
tables periodically over HTTP would cost each node 99 x 16 KB per period. So gossip
carries only the digest (`DIGEST_KEY`, about 12 bytes in the load report every
node gossips anyway), and a table travels only when it changes, as a delta (about
200 bytes per changed camera per peer) over the node-to-node HTTP channel. A steady
system pays a dozen bytes per load report; bench/state_exchange.py measures it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from node.camerastate._table import (
    CameraReport,
    OwnTable,
    RemoteReport,
    RemoteTables,
    StateError,
)

log = logging.getLogger(__name__)

DIGEST_KEY = "cs"
PUSH_PATH = "/api/v1/internal/camera-states"
INTERVAL_S = 0.5

# (server id, url, membership state, gossiped digest) of every other member
Peers = Callable[[], list[tuple[str, str, str, str | None]]]
Post = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
Get = Callable[[str, str], Awaitable[dict[str, Any]]]


class CameraStates:
    def __init__(
        self,
        node_id: str,
        *,
        own_reports: Callable[[], Mapping[str, CameraReport]],
        peers: Peers,
        post: Post,
        get: Get,
        set_digest: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.node_id = node_id
        self.own = OwnTable()
        self.remote = RemoteTables()
        self._own_reports = own_reports
        self._peers = peers
        self._post = post
        self._get = get
        self._set_digest = set_digest
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sent: dict[str, int] = {}  # peer -> version it acknowledged
        self.bytes_sent = 0
        self.bytes_received = 0
        set_digest(self.own.digest)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="camera-states")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def poke(self) -> None:
        """A camera's recording state changed here: tell the peers now."""
        self._wake.set()

    # ------------------------------------------------------------------ receiving

    def receive(self, server_id: str, message: Any) -> bool:
        """A peer's table or delta; False if it needs the whole table sent."""
        self.bytes_received += len(repr(message))
        return self.remote.apply(server_id, message, self._clock())

    def answer(self) -> dict[str, Any]:
        """Our whole table, for a peer that fetches it."""
        return {"server_id": self.node_id, **self.own.message()}

    def reports(self, camera_id: str) -> list[RemoteReport]:
        return self.remote.reports(camera_id)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("camera states: a round failed")
            try:
                async with asyncio.timeout(INTERVAL_S):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def step(self) -> None:
        if self.own.update(self._own_reports()):
            self._set_digest(self.own.digest)
        peers = self._peers()
        alive = [p for p in peers if p[2] in ("alive", "suspect")]
        self.remote.keep_only(p[0] for p in peers)
        now = self._clock()
        await asyncio.gather(*(self._push(server_id, url) for server_id, url, _, _ in alive))
        fetches = []
        for server_id, url, state, digest in alive:
            if state == "alive":
                self.remote.confirm(server_id, digest, now)
            if self.remote.needs_fetch(server_id, digest):
                fetches.append(self._fetch(server_id, url))
        await asyncio.gather(*fetches)

    async def _push(self, server_id: str, url: str) -> None:
        acknowledged = self._sent.get(server_id)
        if acknowledged == self.own.version:
            return
        message = self.own.message(acknowledged)
        body = {"server_id": self.node_id, **message}
        try:
            answer = await self._post(url, PUSH_PATH, body)
            self.bytes_sent += len(repr(body))
            if answer.get("applied") is not True and acknowledged is not None:
                body = {"server_id": self.node_id, **self.own.message()}
                answer = await self._post(url, PUSH_PATH, body)
                self.bytes_sent += len(repr(body))
            if answer.get("applied") is True:
                self._sent[server_id] = message["version"]
        except Exception as exc:  # a peer that does not answer gets the table later
            self._sent.pop(server_id, None)
            log.debug("camera states: push to %s failed: %r", server_id, exc)

    async def _fetch(self, server_id: str, url: str) -> None:
        try:
            answer = await self._get(url, PUSH_PATH)
            self.bytes_received += len(repr(answer))
            self.remote.apply(server_id, {**answer, "base": None}, self._clock())
        except (StateError, Exception) as exc:
            log.debug("camera states: fetch from %s failed: %r", server_id, exc)
