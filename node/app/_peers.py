"""Other camkeep nodes this node knows of: seen over mDNS or given as static --peer URLs.

    directory = PeerDirectory(node_id, on_peer=callback, static_urls=["http://10.0.0.2:7480"])
    await directory.start(interfaces, NodeInfo(...))   # mDNS on these addresses only
    directory.peers()          # [SeenPeer], newest information per node id
    await directory.announce(NodeInfo(..., system_id=...))   # after joining / leaving
    await directory.stop()

Static peers (networks where multicast does not reach) are asked for
`GET /api/v1/health` every STATIC_POLL_S; what they answer is treated like an mDNS
record. Whether a peer is an undefined server, a member of our system or of another
one is decided by the caller from `system_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

from discovery.mdns import MdnsError, MdnsPeers
from discovery.mdns_txt import NodeInfo, PeerInfo
from node.config import NodeConfig

log = logging.getLogger(__name__)

STATIC_POLL_S = 2.0
STATIC_TIMEOUT_S = 1.5
STATIC_FORGET_S = 10.0  # a static peer that has not answered for this long is not listed


@dataclass(frozen=True)
class SeenPeer:
    node_id: str
    name: str
    url: str
    system_id: str | None
    via: str  # "mdns" | "static"
    seen_at: float  # monotonic

    def to_json(self) -> dict[str, object]:
        return {"id": self.node_id, "name": self.name, "url": self.url}


PeerCallback = Callable[[SeenPeer], None]


class PeerDirectory:
    def __init__(
        self,
        node_id: str,
        *,
        on_peer: PeerCallback | None = None,
        static_urls: tuple[str, ...] = (),
        mdns_ttl_s: int = 120,
    ) -> None:
        self._node_id = node_id
        self._on_peer = on_peer
        self._static_urls = tuple(u.rstrip("/") for u in static_urls)
        self._mdns: MdnsPeers | None = None
        self._mdns_ttl_s = mdns_ttl_s
        self._static: dict[str, SeenPeer] = {}  # url -> last answer
        self._poll_task: asyncio.Task[None] | None = None
        self.mdns_error: str | None = None

    async def start(self, interfaces: list[str] | None, info: NodeInfo) -> None:
        if interfaces:
            mdns = MdnsPeers(self._on_mdns, ttl_s=self._mdns_ttl_s)
            try:
                await mdns.start(interfaces, info)
                self._mdns = mdns
            except (MdnsError, OSError) as exc:
                self.mdns_error = str(exc)
                log.warning("mDNS discovery disabled: %s", exc)
        if self._static_urls:
            self._poll_task = asyncio.get_running_loop().create_task(self._poll_loop())

    async def announce(self, info: NodeInfo) -> None:
        if self._mdns is not None:
            try:
                await self._mdns.update(info)
            except Exception as exc:  # best effort: peers learn it from gossip/health too
                log.warning("mDNS re-announce failed: %s", exc)

    async def stop(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(BaseException):
                await self._poll_task
        if self._mdns is not None:
            with contextlib.suppress(Exception):
                await self._mdns.stop()
            self._mdns = None

    def peers(self) -> list[SeenPeer]:
        """Every node seen (mDNS or static), one entry per node id."""
        now = time.monotonic()
        out: dict[str, SeenPeer] = {}
        if self._mdns is not None:
            for peer in self._mdns.peers().values():
                out[peer.node_id] = _from_mdns(peer)
        for peer in self._static.values():
            if now - peer.seen_at <= STATIC_FORGET_S and peer.node_id != self._node_id:
                out.setdefault(peer.node_id, peer)
        return sorted(out.values(), key=lambda p: (p.name, p.node_id))

    # ------------------------------------------------------------------ internals

    def _on_mdns(self, event: str, peer: PeerInfo) -> None:
        if event != "removed":
            self._notify(_from_mdns(peer))

    def _notify(self, peer: SeenPeer) -> None:
        if self._on_peer is None:
            return
        try:
            self._on_peer(peer)
        except Exception:
            log.exception("peer callback failed")

    async def _poll_loop(self) -> None:
        async with httpx.AsyncClient(timeout=STATIC_TIMEOUT_S, trust_env=False) as client:
            while True:
                await asyncio.gather(*(self._poll(client, url) for url in self._static_urls))
                await asyncio.sleep(STATIC_POLL_S)

    async def _poll(self, client: httpx.AsyncClient, url: str) -> None:
        try:
            answer = (await client.get(f"{url}/api/v1/health")).json()
            node_id = answer["node_id"]
            system_id = answer.get("system_id")
            if not isinstance(node_id, str) or not (
                system_id is None or isinstance(system_id, str)
            ):
                raise ValueError("bad health answer")
            peer = SeenPeer(
                node_id,
                str(answer.get("name", ""))[:64],
                url,
                system_id,
                "static",
                time.monotonic(),
            )
        except Exception as exc:
            log.debug("static peer %s did not answer: %r", url, exc)
            return
        if peer.node_id == self._node_id:
            return
        self._static[url] = peer
        self._notify(peer)


def _from_mdns(peer: PeerInfo) -> SeenPeer:
    return SeenPeer(peer.node_id, peer.name, peer.url, peer.system_id, "mdns", time.monotonic())


def mdns_interfaces(config: NodeConfig) -> list[str] | None:
    """The addresses mDNS may use: the configured ones, else the listen address if it is
    one IPv4 address; None (no mDNS) otherwise: never every interface."""
    if not config.discovery.mdns:
        return None
    if config.discovery.interfaces:
        return list(config.discovery.interfaces)
    try:
        ip = ipaddress.ip_address(config.listen_host)
    except ValueError:
        return None
    if ip.version != 4 or ip.is_unspecified:
        return None  # never all interfaces: give discovery.interfaces for 0.0.0.0
    return [str(ip)]


def discovered(
    peers: Iterable[SeenPeer],
    is_known: Callable[[str], bool],
    system_id: str | None,
    *,
    other_systems: bool = False,
) -> list[dict[str, object]]:
    """Undefined servers seen (or, with other_systems, servers of other systems), leaving
    out those `is_known` (already servers of this system)."""
    out: list[dict[str, object]] = []
    for peer in peers:
        if is_known(peer.node_id):
            continue
        if other_systems:
            if peer.system_id is not None and peer.system_id != system_id:
                out.append({**peer.to_json(), "system_id": peer.system_id})
        elif peer.system_id is None:
            out.append(peer.to_json())
    return out
