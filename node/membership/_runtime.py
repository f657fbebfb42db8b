"""The I/O edge of membership: one datagram endpoint driving the sans-I/O Membership.

    rt = GossipRuntime("node-a", "sys-1", secret, host="127.0.0.1", port=7480,
                       config=membership_config(node_config.gossip),
                       on_event=handle_member_event, load_provider=sampler.sample)
    await rt.start()
    rt.add_peer("127.0.0.2:7480")        # --peer / mDNS / configuration
    rt.members()                          # {node id: MemberView}, with load
    await rt.stop(graceful=True)          # graceful: tell the others we leave

I/O goes through three seams: a `DatagramNetwork` (UDP by default, see _transport.py),
a `Scheduler` (the asyncio loop by default, see _clock.py) and a `LivenessProbe` (a TCP
connect, see _liveness.py: the membership asks for one when no other member can probe
indirectly). tests/sim gives fakes of all three and so runs this very code over a
simulated network and clock.

Time: the scheduler's monotonic `now()` is the membership's `now` (liveness never
follows wall-clock steps); wall milliseconds only stamp datagrams for the codec's
freshness window.

One timer at a time is armed for `Membership.next_deadline()` (or the next load
sample); when it fires the membership ticks and what the tick returns is sent.
Inbound datagrams are handled synchronously: decode (authenticate, replay check),
feed the membership, send its answers, and re-arm the timer if the deadline moved
earlier. Nothing a datagram contains can raise out of here: codec rejections are
counted per reason (`stats()["rejected"]`) and logged at most once per reason every
`REJECT_LOG_INTERVAL_S`; every authentic datagram, also one refused for its timestamp,
updates the sender's clock offset (`clock_offsets()`, see _clock_offsets.py);
anything unexpected is counted as "internal_error" and logged.

Events (joined, suspect, alive, dead, left) go to `on_event` on the event loop, as
they happen (inside datagram handling or a timer): the callback must not block.
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
import ipaddress
import logging
import random
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.membership._address import format_address, is_ip_literal, parse_address, peer_address
from node.membership._clock import AsyncioScheduler, Scheduler, TimerHandle
from node.membership._clock_offsets import ClockOffsets
from node.membership._codec import GossipCodec, GossipRejected, GossipTooLarge
from node.membership._liveness import LivenessProbe, TcpLivenessProbe
from node.membership._machine import Membership
from node.membership._transport import Address, DatagramNetwork, DatagramTransport, UdpNetwork
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
ERROR_BACKOFF_S = 0.05  # after an unexpected error in a tick


class GossipRuntimeError(RuntimeError):
    """Misuse of the runtime (start twice, bad bind address)."""


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


class _Receiver:
    """The transport's callbacks, kept off the runtime's public face."""

    def __init__(self, runtime: GossipRuntime) -> None:
        self._runtime = runtime

    def datagram_received(self, data: bytes, source: Address) -> None:
        self._runtime._on_datagram(data, source)

    def error_received(self, exc: Exception) -> None:
        self._runtime._counters["socket_errors"] += 1


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
        network: DatagramNetwork | None = None,
        scheduler: Scheduler | None = None,
        rng: random.Random | None = None,
        liveness: LivenessProbe | None = None,
    ) -> None:
        """`host`/`port`: where to bind (port 0: the system picks; see `address`).
        `advertise`: the "IP:port" others reach us at, when the bind host is a
        wildcard. `epoch`: start epoch (wall ms at start() by default).
        `network`/`scheduler`: UDP and the asyncio loop unless given (simulations).
        `rng`: OS-seeded by default, so a restarted node does not replay its timing;
        a seeded one also fixes the codec's boot id (reproducible simulations)."""
        if not is_ip_literal(host):
            raise GossipRuntimeError(f"bind host must be an IP address, not {host!r}")
        if ipaddress.ip_address(host).is_unspecified and advertise is None:
            raise GossipRuntimeError("binding a wildcard address needs advertise='IP:port'")
        if advertise is not None and not is_ip_literal(parse_address(advertise)[0]):
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
        self._network: DatagramNetwork = network or UdpNetwork()
        self._scheduler: Scheduler = scheduler or AsyncioScheduler()
        self._liveness: LivenessProbe = liveness or TcpLivenessProbe()
        self._rng = rng or random.Random()
        # Built now so a bad node id / system id / secret fails at construction.
        codec_args: dict[str, int] = {} if window_ms is None else {"window_ms": window_ms}
        if rng is not None:
            codec_args["boot"] = rng.getrandbits(63)
        self._codec = GossipCodec(system_id, node_id, system_secret, **codec_args)
        self._membership: Membership | None = None
        self._transport: DatagramTransport | None = None
        self._timer: TimerHandle | None = None
        self._timer_at = 0.0
        self._next_load_at = 0.0
        self._counters: Counter[str] = Counter()
        self._rejects = _RejectLog.create(REJECT_LOG_INTERVAL_S)
        self._clock_offsets = ClockOffsets()
        self._pending_peers: list[tuple[str, str | None]] = []
        self._resolving: set[asyncio.Task[None]] = set()
        self._starting = False
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
        return self._membership is not None and not self._stopped

    async def start(self) -> None:
        if self._starting or self._stopped:
            raise GossipRuntimeError("a GossipRuntime starts once; make a new one to restart")
        self._starting = True
        try:
            transport = await self._network.open(self.host, self.port, _Receiver(self))
        except BaseException:
            self._starting = False  # nothing was bound: start may be tried again
            raise
        self._transport = transport
        self.port = transport.local_address[1]
        epoch = self._epoch if self._epoch is not None else self._scheduler.wall_ms()
        self._membership = Membership(
            self.node_id,
            self.config,
            address=self._advertise or self.address,
            epoch=epoch,
            rng=self._rng,
        )
        now = self._scheduler.now()
        self._refresh_load(now, force=True)
        for address, node_id in self._pending_peers:
            self.add_peer(address, node_id)
        self._pending_peers.clear()
        self._arm(now)

    async def stop(self, graceful: bool = True) -> None:
        """Stop; with `graceful`, first tell every live member that we leave."""
        if self._stopped:
            return
        self._stopped = True
        for task in list(self._resolving):
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._liveness.close()
        if graceful and self._membership is not None and self._transport is not None:
            self._send(self._membership.leave(self._scheduler.now()))
            self._forward_events()
        if self._transport is not None:
            await self._transport.close()

    # ------------------------------------------------------------------ public API

    def add_peer(self, address: str, node_id: str | None = None) -> None:
        """Contact this address ("IP:port", "host:port" or "http://host:port"). Call on
        the event loop. Hostnames are resolved in the background."""
        normalized = peer_address(address)  # ValueError when malformed
        if self._membership is None:
            self._pending_peers.append((normalized, node_id))
            return
        host, port = parse_address(normalized)
        if is_ip_literal(host):
            self._membership.add_peer(node_id, normalized)
            self._arm(self._scheduler.now())
            return
        task = asyncio.get_running_loop().create_task(self._resolve_peer(host, port, node_id))
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    def set_load_provider(self, provider: Callable[[], LoadReport] | None) -> None:
        self._load_provider = provider
        if self._membership is not None:
            now = self._scheduler.now()
            self._refresh_load(now, force=True)
            self._arm(now)

    def set_event_callback(self, on_event: Callable[[MemberEvent], None] | None) -> None:
        self._on_event = on_event

    def members(self) -> dict[str, MemberView]:
        """Every known member and this node (empty before start)."""
        return {} if self._membership is None else self._membership.members()

    @property
    def window_ms(self) -> int:
        """How far a sender's clock may be from ours before its datagrams are refused."""
        return self._codec.window_ms

    def clock_offsets(self) -> dict[str, float]:
        """{peer node id: its clock minus ours, seconds} from its latest authentic
        datagram (accepted or refused as stale/future), for measurements of the last
        minute."""
        return self._clock_offsets.fresh(self._scheduler.now())

    def stats(self) -> dict[str, Any]:
        """Counters: datagrams received/accepted/sent, rejections per reason, errors,
        and the membership's own counters."""
        out: dict[str, Any] = dict(self._counters)
        out["rejected"] = dict(self._rejects.counts)
        out["membership"] = dict(self._membership.stats) if self._membership else {}
        return out

    # ------------------------------------------------------------------ timer

    def _on_timer(self) -> None:
        self._timer = None
        m = self._membership
        if m is None or self._stopped:
            return
        now = self._scheduler.now()
        self._counters["timer_wakeups"] += 1
        try:
            self._refresh_load(now)
            deadline = m.next_deadline()
            if deadline is None or deadline <= now:
                self._send(m.on_tick(now))
                self._forward_events()
            self._arm(now, after_tick=True)
        except Exception:  # a bug must not end membership: log, back off a little
            self._counters["internal_error"] += 1
            log.exception("gossip: error in a membership tick")
            self._arm_at(now, now + ERROR_BACKOFF_S)

    def _arm(self, now: float, *, after_tick: bool = False) -> None:
        """Arm the timer for the next thing to do, unless it is armed earlier already.
        Right after a tick never at the same instant, whatever next_deadline says."""
        m = self._membership
        if m is None or self._stopped:
            return
        deadline = m.next_deadline()
        when = now if deadline is None else deadline
        if self._load_provider is not None:
            when = min(when, self._next_load_at)
        if after_tick:
            when = max(when, now + MIN_TICK_GAP_S)
        self._arm_at(now, when)

    def _arm_at(self, now: float, when: float) -> None:
        if self._timer is not None:
            if self._timer_at <= when:
                return
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._scheduler.call_later(max(when - now, 0.0), self._on_timer)

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

    def _on_datagram(self, data: bytes, source: Address) -> None:
        m = self._membership
        if m is None or self._stopped:
            return
        self._counters["received"] += 1
        self._counters["received_bytes"] += len(data)
        now = self._scheduler.now()
        wall_ms = self._scheduler.wall_ms()
        try:
            envelope = self._codec.decode(data, wall_ms)
        except GossipRejected as exc:
            if exc.sender is not None and exc.offset_ms is not None:
                self._clock_offsets.observe(exc.sender, exc.offset_ms, now)
            self._rejects.record(exc.reason, source, now)
            return
        except Exception:  # the codec promises only GossipRejected; be sure anyway
            self._rejects.record("internal_error", source, now)
            log.exception("gossip: codec failed on a datagram from %s", source)
            return
        self._clock_offsets.observe(envelope.sender, envelope.ts_ms - wall_ms, now)
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
            self._arm(now)
        except Exception:
            self._rejects.record("internal_error", source, now)
            log.exception("gossip: error handling a datagram from %s", source)

    def _send(self, outgoing: list[Outgoing]) -> None:
        transport = self._transport
        if transport is None:
            return
        now_ms = self._scheduler.wall_ms()
        for o in outgoing:
            try:
                target = parse_address(o.address)
            except ValueError:
                self._counters["send_bad_address"] += 1
                continue
            if not is_ip_literal(target[0]):
                self._counters["send_bad_address"] += 1  # never block on DNS here
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
            if transport.send(data, target):
                self._counters["sent"] += 1
                self._counters["sent_bytes"] += len(data)
            else:
                self._counters["send_dropped"] += 1

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
        for node_id, address in m.pop_liveness_checks():
            self._counters["liveness_checks"] += 1
            self._liveness.check(
                address,
                self.config.probe_interval_s,
                lambda verdict, node_id=node_id: self._on_liveness(node_id, verdict),
            )

    def _on_liveness(self, node_id: str, verdict: str) -> None:
        m = self._membership
        if m is None or self._stopped:
            return
        now = self._scheduler.now()
        try:
            self._send(m.on_liveness(node_id, verdict, now))
            self._forward_events()
            self._arm(now)
        except Exception:
            self._counters["internal_error"] += 1
            log.exception("gossip: error handling a liveness check")

    async def _resolve_peer(self, host: str, port: int, node_id: str | None) -> None:
        loop = asyncio.get_running_loop()
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_DGRAM)
        except OSError as exc:
            log.warning("gossip: cannot resolve peer %s: %s", host, exc)
            return
        if infos and self._membership is not None and not self._stopped:
            ip = str(infos[0][4][0])
            self._membership.add_peer(node_id, format_address(ip, port))
            self._arm(self._scheduler.now())
