"""Joining a system by itself: a node started with a join token the owner minted
presents it to a node of that system as soon as it sees one (mDNS or a static peer),
and tries again every JOIN_RETRY_S while it is still undefined (mDNS announces a node
once; a refused or failed try is retried)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import httpx

from node.security import JoinTokenError, token_system_id

log = logging.getLogger(__name__)

JOIN_RETRY_S = 5.0  # how often a node with a join token tries again
JOIN_REQUESTS_PATH = "/api/v1/system/join-requests"
REFUSED_PAUSE_S = 5.0  # after a refusal: do not hammer the system with a bad token
UNREACHABLE_PAUSE_S = 2.0


class SeenNode(Protocol):
    """A node seen on the network: where it answers and the system it belongs to."""

    url: str
    system_id: str | None


class AutoJoiner:
    def __init__(
        self,
        token: str,
        own_url: str,
        *,
        is_undefined: Callable[[], bool],
        peers: Callable[[], Iterable[SeenNode]],
        http_client: Callable[[], httpx.AsyncClient],
        spawn: Callable[[Any], None],
    ) -> None:
        self._token = token
        self._own_url = own_url
        self._is_undefined = is_undefined
        self._peers = peers
        self._http_client = http_client
        self._spawn = spawn
        self._joining = False
        self.error: str | None = None  # why the last try failed, shown by /health

    def wanted_system(self) -> str | None:
        """The system id the token names (None, with `error` set, for a bad token)."""
        try:
            return token_system_id(self._token)
        except JoinTokenError as exc:
            self.error = f"join token refused: {exc}"
            return None

    def on_peer_seen(self, peer: SeenNode) -> None:
        if self._joining or not self._is_undefined():
            return
        wanted = self.wanted_system()
        if wanted is not None and peer.system_id == wanted:
            self._joining = True
            self._spawn(self._join_through(peer))

    async def run(self) -> None:
        """Retry while undefined (runs for the node's lifetime; cancel to stop)."""
        while True:
            if self._is_undefined() and not self._joining:
                wanted = self.wanted_system()
                peer = next((p for p in self._peers() if wanted and p.system_id == wanted), None)
                if peer is not None:
                    self._joining = True
                    await self._join_through(peer)
            await asyncio.sleep(JOIN_RETRY_S)

    def joined(self) -> None:
        self.error = None

    async def _join_through(self, peer: SeenNode) -> None:
        """Present the token to a node of its system; that node adds us."""
        try:
            answer = await self._http_client().post(
                f"{peer.url}{JOIN_REQUESTS_PATH}",
                json={"token": self._token, "url": self._own_url},
                timeout=15.0,
            )
            if answer.status_code in (200, 201):
                log.info("joined the system through %s", peer.url)
                return
            try:
                reason = answer.json().get("error", answer.status_code)
            except (ValueError, AttributeError):
                reason = answer.status_code
            if self._is_undefined():
                self.error = f"join refused by {peer.url}: {reason}"
                log.error("auto-join: %s", self.error)
                await asyncio.sleep(REFUSED_PAUSE_S)
        except httpx.HTTPError as exc:
            self.error = f"cannot reach {peer.url} to join: {type(exc).__name__}"
            await asyncio.sleep(UNREACHABLE_PAUSE_S)
        finally:
            self._joining = False
