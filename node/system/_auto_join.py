"""Joining a system by itself: a node started with a join token the owner minted
presents it to a node of that system as soon as it sees one (mDNS or a static peer),
and tries again every JOIN_RETRY_S while it is still undefined (mDNS announces a node
once; a refused or failed try is retried)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass, field
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


@dataclass(eq=False)
class AutoJoiner:
    token: str
    own_url: str
    _: KW_ONLY
    is_undefined: Callable[[], bool]
    peers: Callable[[], Iterable[SeenNode]]
    http_client: Callable[[], httpx.AsyncClient]
    spawn: Callable[[Any], None]
    error: str | None = field(default=None, init=False)  # why the last try failed (health)
    joining: bool = field(default=False, init=False)

    def wanted_system(self) -> str | None:
        """The system id the token names (None, with `error` set, for a bad token)."""
        try:
            return token_system_id(self.token)
        except JoinTokenError as exc:
            self.error = f"join token refused: {exc}"
            return None

    def on_peer_seen(self, peer: SeenNode) -> None:
        if self.joining or not self.is_undefined():
            return
        wanted = self.wanted_system()
        if wanted is not None and peer.system_id == wanted:
            self.joining = True
            self.spawn(self._join_through(peer))

    async def run(self) -> None:
        """Retry while undefined (runs for the node's lifetime; cancel to stop)."""
        while True:
            if self.is_undefined() and not self.joining:
                wanted = self.wanted_system()
                peer = next((p for p in self.peers() if wanted and p.system_id == wanted), None)
                if peer is not None:
                    self.joining = True
                    await self._join_through(peer)
            await asyncio.sleep(JOIN_RETRY_S)

    def joined(self) -> None:
        self.error = None

    async def _join_through(self, peer: SeenNode) -> None:
        """Present the token to a node of its system; that node adds us."""
        try:
            answer = await self.http_client().post(
                f"{peer.url}{JOIN_REQUESTS_PATH}",
                json={"token": self.token, "url": self.own_url},
                timeout=15.0,
            )
            if answer.status_code in (200, 201):
                log.info("joined the system through %s", peer.url)
                return
            try:
                reason = answer.json().get("error", answer.status_code)
            except (ValueError, AttributeError):
                reason = answer.status_code
            if self.is_undefined():
                self.error = f"join refused by {peer.url}: {reason}"
                log.error("auto-join: %s", self.error)
                await asyncio.sleep(REFUSED_PAUSE_S)
        except httpx.HTTPError as exc:
            self.error = f"cannot reach {peer.url} to join: {type(exc).__name__}"
            await asyncio.sleep(UNREACHABLE_PAUSE_S)
        finally:
            self.joining = False
