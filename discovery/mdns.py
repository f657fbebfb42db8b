"""mDNS peer discovery: announce this node and browse for other camkeep nodes.

    peers = MdnsPeers(on_change=lambda event, peer: ...)
    await peers.start(["10.0.0.5"], NodeInfo(node_id, name, 7480, "0.1.0"))
    peers.peers()            # {node_id: PeerInfo}
    await peers.update(NodeInfo(..., system_id=sid))   # e.g. after joining a system
    await peers.stop()       # sends goodbye

zeroconf is only ever bound to the explicit IPv4 interface addresses given (never all
interfaces). mDNS only *finds* peers: a peer that is killed without a goodbye stays
listed until its records expire (about `ttl_s`); liveness is the membership's job.
zeroconf keeps PTR records at least 1125 s (RFC 6762 §10), so the browser alone
would list a killed peer for ~19 min: every `ttl_s / 2` each known instance is
resolved again (from the cache while its records live, else by a query), and
instances that no longer resolve are dropped (and come back if they resolve later).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from zeroconf import IPVersion, NonUniqueNameException, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from discovery.mdns_txt import (
    SERVICE_TYPE,
    MdnsRecordError,
    NodeInfo,
    PeerInfo,
    encode_txt,
    peer_from_record,
)

log = logging.getLogger(__name__)

PeerEvent = Literal["added", "updated", "removed"]
PeerCallback = Callable[[PeerEvent, PeerInfo], None]

DEFAULT_TTL_S = 120  # record TTL; a silent (killed) peer expires after this
RESOLVE_TIMEOUT_MS = 3000
_MAX_WARNED = 256  # remember this many bad records so each is logged once
MAX_INSTANCES = 1024  # instances tracked at once: a flood of fake ones cannot grow memory


class MdnsError(RuntimeError):
    """mDNS could not be started (bad interfaces, name taken, socket error)."""


def check_interfaces(interfaces: list[str]) -> list[str]:
    """Explicit unicast IPv4 addresses only: never 'all interfaces'."""
    if not interfaces:
        raise MdnsError("mDNS needs at least one explicit interface address")
    checked = []
    for address in interfaces:
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError as exc:
            raise MdnsError(f"not an IPv4 interface address: {address!r}") from exc
        if ip.is_unspecified or ip.is_multicast:
            raise MdnsError(f"not a unicast interface address: {address}")
        checked.append(str(ip))
    return checked


class MdnsPeers:
    """Announces one node and keeps the set of other nodes seen on the LAN."""

    def __init__(
        self,
        on_change: PeerCallback | None = None,
        *,
        ttl_s: int = DEFAULT_TTL_S,
        resolve_timeout_ms: int = RESOLVE_TIMEOUT_MS,
    ) -> None:
        self._on_change = on_change
        self._ttl_s = ttl_s
        self._resolve_timeout_ms = resolve_timeout_ms
        self._aiozc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._service: AsyncServiceInfo | None = None
        self._interfaces: list[str] = []
        self._node: NodeInfo | None = None
        self._peers: dict[str, PeerInfo] = {}  # node id -> peer
        self._names: dict[str, str] = {}  # service name -> node id
        self._tasks: set[asyncio.Task] = set()
        self._known_names: set[str] = set()  # instances the browser lists
        self._recheck_task: asyncio.Task | None = None
        self._warned: set[tuple[str, str]] = set()

    # ---- public

    async def start(self, interfaces: list[str], node_info: NodeInfo) -> None:
        if self._aiozc is not None:
            raise MdnsError("already started")
        self._interfaces = check_interfaces(interfaces)
        self._node = node_info
        try:
            self._aiozc = AsyncZeroconf(interfaces=self._interfaces, ip_version=IPVersion.V4Only)
        except OSError as exc:
            raise MdnsError(f"cannot open mDNS sockets on {self._interfaces}: {exc}") from exc
        try:
            self._service = self._service_info(node_info)
            await (await self._aiozc.async_register_service(self._service))
        except NonUniqueNameException as exc:
            await self._close_zeroconf()
            raise MdnsError(f"node id {node_info.node_id} is already announced") from exc
        except BaseException:
            await self._close_zeroconf()
            raise
        self._browser = AsyncServiceBrowser(
            self._aiozc.zeroconf, SERVICE_TYPE, handlers=[self._on_service_state_change]
        )
        self._recheck_task = asyncio.get_running_loop().create_task(self._recheck_loop())

    async def update(self, node_info: NodeInfo) -> None:
        """Re-announce with new details (system id after a join, new name...)."""
        if self._aiozc is None or self._node is None:
            raise MdnsError("not started")
        if node_info.node_id != self._node.node_id:
            raise MdnsError("the node id cannot change while announced")
        if node_info == self._node:
            return
        self._node = node_info
        self._service = self._service_info(node_info)
        await (await self._aiozc.async_update_service(self._service))

    async def stop(self) -> None:
        """Say goodbye and close the sockets. Safe to call twice."""
        if self._recheck_task is not None:
            self._recheck_task.cancel()
            await asyncio.gather(self._recheck_task, return_exceptions=True)
            self._recheck_task = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._aiozc is not None and self._service is not None:
            try:
                await (await self._aiozc.async_unregister_service(self._service))
            except Exception as exc:  # goodbye is best effort
                log.debug("mDNS goodbye failed: %s", exc)
        await self._close_zeroconf()
        self._peers.clear()
        self._names.clear()
        self._known_names.clear()

    def peers(self) -> dict[str, PeerInfo]:
        return dict(self._peers)

    @property
    def node_info(self) -> NodeInfo | None:
        return self._node

    # ---- internals

    def _service_info(self, node: NodeInfo) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            SERVICE_TYPE,
            f"{node.node_id}.{SERVICE_TYPE}",
            port=node.api_port,
            properties=encode_txt(node),
            server=f"camkeep-{node.node_id}.local.",
            parsed_addresses=self._interfaces,
            host_ttl=self._ttl_s,
            other_ttl=self._ttl_s,
        )

    async def _close_zeroconf(self) -> None:
        if self._aiozc is not None:
            aiozc, self._aiozc = self._aiozc, None
            await aiozc.async_close()

    def _on_service_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        # called on the event loop by zeroconf's async browser
        if state_change is ServiceStateChange.Removed:
            self._known_names.discard(name)
            self._forget(name)
            return
        if name not in self._known_names and len(self._known_names) >= MAX_INSTANCES:
            self._warn_once("*", f"more than {MAX_INSTANCES} instances: ignoring new ones")
            return
        self._known_names.add(name)
        task = asyncio.get_running_loop().create_task(self._resolve(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recheck_loop(self) -> None:
        interval_s = max(1.0, self._ttl_s / 2)
        while True:
            await asyncio.sleep(interval_s)
            names = sorted(self._known_names)
            await asyncio.gather(*(self._resolve(n, forget_if_silent=True) for n in names))

    async def _resolve(self, name: str, *, forget_if_silent: bool = False) -> None:
        if self._aiozc is None or self._node is None:
            return
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        try:
            found = await info.async_request(self._aiozc.zeroconf, self._resolve_timeout_ms)
        except Exception as exc:  # a malformed record must never kill discovery
            self._warn_once(name, f"resolve failed: {exc}")
            return
        if not found:
            log.debug("mDNS: %s did not resolve in time", name)
            if forget_if_silent:
                self._forget(name)
            return
        try:
            peer = peer_from_record(
                name,
                info.properties,
                info.parsed_addresses(IPVersion.V4Only),
                info.port,
                self._interfaces,
                datetime.now(UTC),
            )
        except MdnsRecordError as exc:
            self._warn_once(name, str(exc))
            return
        if peer.node_id == self._node.node_id:
            return  # ourselves
        self._store(name, peer)

    def _store(self, name: str, peer: PeerInfo) -> None:
        old_id = self._names.get(name)
        if old_id is not None and old_id != peer.node_id:
            self._forget(name)
        previous = self._peers.get(peer.node_id)
        self._names[name] = peer.node_id
        self._peers[peer.node_id] = peer
        if previous is None:
            self._notify("added", peer)
        elif _differs(previous, peer):
            self._notify("updated", peer)

    def _forget(self, name: str) -> None:
        node_id = self._names.pop(name, None)
        if node_id is None:
            return
        peer = self._peers.pop(node_id, None)
        if peer is not None:
            self._notify("removed", peer)

    def _notify(self, event: PeerEvent, peer: PeerInfo) -> None:
        log.info("mDNS peer %s: %s %s (%s)", event, peer.node_id, peer.url, peer.name)
        if self._on_change is None:
            return
        try:
            self._on_change(event, peer)
        except Exception:  # a faulty callback must not stop discovery
            log.exception("mDNS peer callback failed")

    def _warn_once(self, name: str, reason: str) -> None:
        key = (name, reason)
        if key in self._warned:
            return
        if len(self._warned) >= _MAX_WARNED:
            self._warned.clear()
        self._warned.add(key)
        me = self._node.node_id if self._node else "?"
        log.warning("mDNS (%s): ignoring %r: %s", me, name[:120], reason)


def _differs(a: PeerInfo, b: PeerInfo) -> bool:
    return (a.name, a.system_id, a.url, a.version) != (b.name, b.system_id, b.url, b.version)
