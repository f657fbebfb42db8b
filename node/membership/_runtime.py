"""The I/O edge of membership: one UDP socket driving the sans-I/O Membership.

    rt = GossipRuntime("node-a", "sys-1", secret, host="127.0.0.1", port=7480,
                       on_event=handle_member_event, load_provider=sampler.sample)
    await rt.start()
    rt.add_peer("127.0.0.2:7480")        # --peer / mDNS / configuration
    rt.members()                          # {node id: MemberView}, with load
    await rt.stop(graceful=True)          # graceful: tell the others we leave

Time: `time.monotonic()` is the membership's `now` (liveness never follows wall-clock
steps); wall milliseconds only stamp datagrams for the codec's freshness window.

One task runs the timer loop: it sleeps until `Membership.next_deadline()` (or the next
load sample), ticks, and sends what the tick returns. Inbound datagrams are handled
synchronously in `datagram_received`: decode (authenticate, replay check), feed the
membership, send its answers, and wake the loop because its deadline may have moved.
Nothing a datagram contains can raise out of here: codec rejections are counted per
reason (`stats()["rejected"]`) and logged at most once per reason every
`REJECT_LOG_INTERVAL_S`; anything unexpected is counted as "internal_error" and logged.

Events (joined, suspect, alive, dead, left) go to `on_event` on the event loop, as
they happen (inside datagram handling or the timer loop): the callback must not block.
The load provider is called on the loop too, every `load_interval_s` (LoadSampler.sample
is cheap and non-blocking).

Identity: a runtime speaks for one (node id, system id, secret) for its whole life.
When the node joins or leaves a system, `await rt.stop(graceful=True)` and start a new
GossipRuntime with the new system id and secret on the same host and port; it gets a
new epoch and codec boot, so the new system sees a fresh member and the old system sees
a clean `left`. An undefined node (no system) runs no gossip at all.

Addresses are "IP:port" (IPv6 as "[addr]:port"); membership entries carry them, and
`add_peer` also accepts a hostname (resolved asynchronously) or an http:// URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from node.membership._codec import GossipCodec, GossipRejected, GossipTooLarge
from node.membership._machine import Membership
from node.membership._types import (
    LoadReport,
    MemberEvent,
    MembershipConfig,
    MemberView,
    Message,
    Outgoing,
)

log = logging.getLogger(__name__)

LOAD_INTERVAL_S = 0.5  # how often the load provider is asked
REJECT_LOG_INTERVAL_S = 10.0  # at most one log line per rejection reason this often
MIN_TICK_GAP_S = 1e-3  # never spin at one instant if a deadline does not move
MAX_SEND_BUFFER_BYTES = 256 * 1024  # kernel buffer full for this long: drop, count
RECEIVE_BUFFER_BYTES = 1 << 20


class GossipRuntimeError(RuntimeError):
    """Misuse of the runtime (start twice, bad bind address)."""


def parse_address(address: str) -> tuple[str, int]:
    """("host", port) from "host:port" or "[v6]:port"; ValueError when malformed."""
    if not isinstance(address, str) or len(address) > 300:
        raise ValueError("address must be a 'host:port' string")
    if address.startswith("["):
        host, sep, port_text = address[1:].partition("]:")
    else:
        host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"{address!r} is not host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"{address!r}: port out of range")
    return host, port


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def peer_address(peer: str) -> str:
    """A gossip address from --peer forms: "http://host:port[/...]" (gossip uses the API
    port number, INTERFACES.md) or "host:port"."""
    if "://" in peer:
        parts = urlsplit(peer)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"{peer!r}: need http://HOST:PORT")
        return format_address(parts.hostname, parts.port)
    host, port = parse_address(peer)
    return format_address(host, port)


def membership_config_for(
    dead_after_s: float, *, probe_interval_s: float = 0.2, gossip_interval_s: float = 0.1
) -> MembershipConfig:
    """A MembershipConfig whose `detection_bound_s` (a killed node declared dead by
    every peer, small system, no loss) equals `dead_after_s`: what is left after a few
    probe and gossip rounds goes to the suspicion timeout, which must be at least two
    probe intervals so a live suspect has time to refute. The node's
    `gossip.dead_after_s` / `gossip.interval_s` settings map here."""
    rounds = 4 * probe_interval_s + 3 * gossip_interval_s
    suspicion_max = dead_after_s - rounds
    if suspicion_max < 2 * probe_interval_s - 1e-9:  # (float rounding of the sums)
        minimum = rounds + 2 * probe_interval_s
        raise ValueError(
            f"dead_after_s must be at least {minimum:.2f} s with a "
            f"{probe_interval_s} s probe interval"
        )
    return MembershipConfig(
        probe_interval_s=probe_interval_s,
        probe_timeout_s=probe_interval_s / 2,
        suspicion_min_s=suspicion_max * 5 / 9,  # the defaults' ratio (0.5 / 0.9)
        suspicion_max_s=suspicion_max,
        gossip_interval_s=gossip_interval_s,
    )


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass
class _RejectLog:
    """Counts rejections per reason and logs each reason at most every interval."""

    interval_s: float
    counts: Counter[str]
    _pending: Counter[str]
    _last_log: dict[str, float]

    @classmethod
    def create(cls, interval_s: float) -> _RejectLog:
        return cls(interval_s, Counter(), Counter(), {})

    def record(self, reason: str, source: Any, now: float) -> None:
        self.counts[reason] += 1
        self._pending[reason] += 1
        last = self._last_log.get(reason)
        if last is None or now - last >= self.interval_s:
            count = self._pending.pop(reason)
            self._last_log[reason] = now
            log.warning(
                "gossip: dropped %d datagram(s), reason %s (latest from %s)", count, reason, source
            )


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, runtime: GossipRuntime) -> None:
        self._runtime = runtime
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._runtime._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        self._runtime._counters["socket_errors"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class GossipRuntime:
    def __init__(
        self,
        node_id: str,
        system_id: str,
        system_secret: bytes,
        *,
        host: str,
        port: int,
        advertise: str | None = None,
        config: MembershipConfig | None = None,
        on_event: Callable[[MemberEvent], None] | None = None,
        load_provider: Callable[[], LoadReport] | None = None,
        load_interval_s: float = LOAD_INTERVAL_S,
        epoch: int | None = None,
        window_ms: int | None = None,
    ) -> None:
        """`host`/`port`: where to bind (port 0: the system picks; see `address`).
        `advertise`: the "IP:port" others reach us at, when the bind host is a
        wildcard. `epoch`: start epoch (wall ms at start() by default)."""
        if not _ip_literal(host):
            raise GossipRuntimeError(f"bind host must be an IP address, not {host!r}")
        if ipaddress.ip_address(host).is_unspecified and advertise is None:
            raise GossipRuntimeError("binding a wildcard address needs advertise='IP:port'")
        if advertise is not None and not _ip_literal(parse_address(advertise)[0]):
            raise GossipRuntimeError(f"advertise must be 'IP:port', not {advertise!r}")
        self.node_id = node_id
        self.system_id = system_id
        self.host = host
        self.port = port
        self.config = config or MembershipConfig()
        self._advertise = advertise
        self._on_event = on_event
        self._load_provider = load_provider
        self._load_interval_s = load_interval_s
        self._epoch = epoch
        # Built now so a bad node id / system id / secret fails at construction.
        codec_args = {} if window_ms is None else {"window_ms": window_ms}
        self._codec = GossipCodec(system_id, node_id, system_secret, **codec_args)
        self._membership: Membership | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _Protocol | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._next_load_at = 0.0
        self._counters: Counter[str] = Counter()
        self._rejects = _RejectLog.create(REJECT_LOG_INTERVAL_S)
        self._pending_peers: list[tuple[str, str | None]] = []
        self._resolving: set[asyncio.Task[None]] = set()
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def address(self) -> str:
        """The "IP:port" this node advertises (known once started)."""
        if self._membership is not None:
            return self._membership.address
        return self._advertise or format_address(self.host, self.port)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self._transport is not None or self._stopped:
            raise GossipRuntimeError("a GossipRuntime starts once; make a new one to restart")
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.host, self.port)
        )
        self._transport, self._protocol = transport, protocol
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self.port = transport.get_extra_info("sockname")[1]
        epoch = self._epoch if self._epoch is not None else time.time_ns() // 1_000_000
        self._membership = Membership(
            self.node_id,
            self.config,
            address=self._advertise or self.address,
            epoch=epoch,
            rng=random.Random(),  # OS-seeded: a restarted node does not replay its timing
        )
        self._wake = asyncio.Event()
        self._refresh_load(time.monotonic(), force=True)
        for address, node_id in self._pending_peers:
            self.add_peer(address, node_id)
        self._pending_peers.clear()
        self._task = loop.create_task(self._run(), name=f"gossip-{self.node_id}")

    async def stop(self, graceful: bool = True) -> None:
        """Stop; with `graceful`, first tell every live member that we leave."""
        if self._stopped:
            return
        self._stopped = True
        for task in list(self._resolving):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if graceful and self._membership is not None and self._transport is not None:
            self._send(self._membership.leave(time.monotonic()))
            self._forward_events()
        if self._transport is not None:
            self._transport.close()
            assert self._protocol is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._protocol.closed), 2.0)

    # ------------------------------------------------------------------ public API

    def add_peer(self, address: str, node_id: str | None = None) -> None:
        """Contact this address ("IP:port", "host:port" or "http://host:port"). Call on
        the event loop. Hostnames are resolved in the background."""
        normalized = peer_address(address)  # ValueError when malformed
        if self._membership is None:
            self._pending_peers.append((normalized, node_id))
            return
        host, port = parse_address(normalized)
        if _ip_literal(host):
            self._membership.add_peer(node_id, normalized)
            self._wake_loop()
            return
        task = asyncio.get_running_loop().create_task(self._resolve_peer(host, port, node_id))
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    def set_load_provider(self, provider: Callable[[], LoadReport] | None) -> None:
        self._load_provider = provider
        if self._membership is not None:
            self._refresh_load(time.monotonic(), force=True)

    def set_event_callback(self, on_event: Callable[[MemberEvent], None] | None) -> None:
        self._on_event = on_event

    def members(self) -> dict[str, MemberView]:
        """Every known member and this node (empty before start)."""
        return {} if self._membership is None else self._membership.members()

    def stats(self) -> dict[str, Any]:
        """Counters: datagrams received/accepted/sent, rejections per reason, errors,
        and the membership's own counters."""
        out: dict[str, Any] = dict(self._counters)
        out["rejected"] = dict(self._rejects.counts)
        out["membership"] = dict(self._membership.stats) if self._membership else {}
        return out

    # ------------------------------------------------------------------ timer loop

    async def _run(self) -> None:
        assert self._membership is not None and self._wake is not None
        m, wake = self._membership, self._wake
        while True:
            now = time.monotonic()
            self._counters["timer_wakeups"] += 1
            try:
                self._refresh_load(now)
                deadline = m.next_deadline()
                if deadline is None or deadline <= now:
                    self._send(m.on_tick(now))
                    self._forward_events()
                    deadline = m.next_deadline()
                # never spin at one instant, whatever next_deadline says
                deadline = now + MIN_TICK_GAP_S if deadline is None else deadline
                deadline = max(deadline, now + MIN_TICK_GAP_S)
            except Exception:  # a bug must not end membership: log, back off a little
                self._counters["internal_error"] += 1
                log.exception("gossip: error in the timer loop")
                deadline = now + 0.05
            if self._load_provider is not None:
                deadline = min(deadline, max(self._next_load_at, now + MIN_TICK_GAP_S))
            wake.clear()
            wait_s = deadline - time.monotonic()
            if wait_s <= 0:
                await asyncio.sleep(0)  # always let the loop run datagrams and others
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await wake.wait()

    def _wake_loop(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _refresh_load(self, now: float, force: bool = False) -> None:
        if self._membership is None or self._load_provider is None:
            return
        if not force and now < self._next_load_at:
            return
        self._next_load_at = now + self._load_interval_s
        try:
            self._membership.set_load(self._load_provider())
        except Exception as exc:  # a bad provider must not stop gossip
            self._counters["load_errors"] += 1
            if self._counters["load_errors"] == 1:
                log.warning("gossip: load provider failed: %r", exc)

    # ------------------------------------------------------------------ datagrams

    def _on_datagram(self, data: bytes, source: Any) -> None:
        m = self._membership
        if m is None or self._stopped:
            return
        self._counters["received"] += 1
        now = time.monotonic()
        try:
            envelope = self._codec.decode(data, time.time_ns() // 1_000_000)
        except GossipRejected as exc:
            self._rejects.record(exc.reason, source, now)
            return
        except Exception:  # the codec promises only GossipRejected; be sure anyway
            self._rejects.record("internal_error", source, now)
            log.exception("gossip: codec failed on a datagram from %s", source)
            return
        try:
            malformed_before = m.stats["malformed"]
            msg = Message(envelope.type, envelope.sender, envelope.payload, envelope.incarnation)
            out = m.on_message(msg, now)
            if m.stats["malformed"] != malformed_before:
                self._rejects.record("malformed_payload", source, now)
            else:
                self._counters["accepted"] += 1
            self._send(out)
            self._forward_events()
        except Exception:
            self._rejects.record("internal_error", source, now)
            log.exception("gossip: error handling a datagram from %s", source)
        self._wake_loop()

    def _send(self, outgoing: list[Outgoing]) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        now_ms = time.time_ns() // 1_000_000
        for o in outgoing:
            try:
                target = parse_address(o.address)
            except ValueError:
                self._counters["send_bad_address"] += 1
                continue
            if not _ip_literal(target[0]):
                self._counters["send_bad_address"] += 1  # never block on DNS here
                continue
            if transport.get_write_buffer_size() > MAX_SEND_BUFFER_BYTES:
                self._counters["send_dropped"] += 1
                continue
            msg = o.message
            try:
                data = self._codec.encode(
                    msg.type, msg.payload, incarnation=msg.incarnation, now_ms=now_ms
                )
            except (GossipTooLarge, ValueError) as exc:
                self._counters["encode_errors"] += 1
                log.error("gossip: cannot encode a %s message: %s", msg.type, exc)
                continue
            transport.sendto(data, target)
            self._counters["sent"] += 1

    def _forward_events(self) -> None:
        m = self._membership
        if m is None:
            return
        for event in m.pop_events():
            if event.kind in ("dead", "suspect", "left"):
                log.info("gossip: %s is %s", event.node_id, event.kind)
            if self._on_event is None:
                continue
            try:
                self._on_event(event)
            except Exception:
                self._counters["callback_errors"] += 1
                log.exception("gossip: member event callback failed")

    async def _resolve_peer(self, host: str, port: int, node_id: str | None) -> None:
        loop = asyncio.get_running_loop()
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_DGRAM)
        except OSError as exc:
            log.warning("gossip: cannot resolve peer %s: %s", host, exc)
            return
        if infos and self._membership is not None and not self._stopped:
            ip = infos[0][4][0]
            self._membership.add_peer(node_id, format_address(ip, port))
            self._wake_loop()
