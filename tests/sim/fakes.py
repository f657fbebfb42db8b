"""A fake clock that fires due timers, and a fake datagram network with per-link loss,
delay and partitions, behind node.membership's Scheduler and DatagramNetwork seams.
Deterministic: all randomness comes from a seeded Random."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from node.membership import Address, DatagramReceiver, format_address, parse_address


@dataclass(order=True)
class _Timer:
    when: float
    order: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Monotonic seconds under test control; `wall_ms()` is a wall clock derived from it."""

    def __init__(self, start: float = 0.0, wall_epoch_ms: int = 1_700_000_000_000) -> None:
        self.now = start
        self._wall_epoch_ms = wall_epoch_ms
        self._timers: list[_Timer] = []
        self._order = itertools.count()

    def wall_ms(self) -> int:
        return self._wall_epoch_ms + int(self.now * 1000)

    def call_at(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(max(when, self.now), next(self._order), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        return self.call_at(self.now + delay, callback)

    def run_until(self, until: float) -> None:
        """Fire every timer due up to `until` in time order (timers may add timers)."""
        while self._timers and self._timers[0].when <= until:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.now = timer.when
            timer.callback()
        self.now = max(self.now, until)

    def advance(self, seconds: float) -> None:
        self.run_until(self.now + seconds)


class NodeScheduler:
    """One simulated process's view of the FakeClock (node.membership.Scheduler). When
    the process is killed its pending timers never fire, as with kill -9."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.alive = True

    def now(self) -> float:
        return self.clock.now

    def wall_ms(self) -> int:
        return self.clock.wall_ms()

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> _Timer:
        def fire() -> None:
            if self.alive:
                callback()

        return self.clock.call_later(delay_s, fire)

    def kill(self) -> None:
        self.alive = False


@dataclass
class LinkStats:
    sent: int = 0
    dropped: int = 0
    delivered: int = 0


class FakeNetwork:
    """Datagrams between addresses, delivered through the FakeClock.

    Loss and delay are per directed link (src, dst), with defaults for all links;
    a partition drops everything between its groups until `heal()`.
    """

    def __init__(
        self,
        clock: FakeClock,
        rng: random.Random,
        *,
        default_loss: float = 0.0,
        default_delay_s: float = 0.001,
        jitter_s: float = 0.0005,
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.default_loss = default_loss
        self.default_delay_s = default_delay_s
        self.jitter_s = jitter_s
        self.stats = LinkStats()
        self._handlers: dict[str, Callable[[bytes, str], None]] = {}
        self._owners: dict[str, FakeTransport] = {}
        self._loss: dict[tuple[str, str], float] = {}
        self._delay: dict[tuple[str, str], float] = {}
        self._side: dict[str, int] = {}  # address -> partition group
        self.sniffer: Callable[[str, str, bytes], None] | None = None

    async def open(self, host: str, port: int, receiver: DatagramReceiver) -> FakeTransport:
        """node.membership.DatagramNetwork: bind `host:port` (never suspends, so a
        runtime's start() completes at once; see cluster.run_now)."""
        if port == 0:
            raise OSError("the simulated network needs explicit ports")
        address = format_address(host, port)
        transport = FakeTransport(self, address)

        def handler(data: bytes, source: str) -> None:
            receiver.datagram_received(data, parse_address(source))

        self._handlers[address] = handler
        self._owners[address] = transport
        return transport

    def detach(self, address: str) -> None:
        """The process at `address` is gone: datagrams to it vanish."""
        self._handlers.pop(address, None)
        self._owners.pop(address, None)

    def owner(self, address: str) -> FakeTransport | None:
        return self._owners.get(address)

    def set_loss(self, a: str, b: str, rate: float, *, both_ways: bool = True) -> None:
        self._loss[(a, b)] = rate
        if both_ways:
            self._loss[(b, a)] = rate

    def set_delay(self, a: str, b: str, seconds: float, *, both_ways: bool = True) -> None:
        self._delay[(a, b)] = seconds
        if both_ways:
            self._delay[(b, a)] = seconds

    def partition(self, *groups: Iterable[str]) -> None:
        """Split the network: addresses in different groups cannot reach each other."""
        self._side = {address: i for i, group in enumerate(groups) for address in group}

    def heal(self) -> None:
        self._side = {}

    def reachable(self, src: str, dst: str) -> bool:
        a, b = self._side.get(src), self._side.get(dst)
        return a is None or b is None or a == b

    def send(self, src: str, dst: str, data: bytes) -> None:
        self.stats.sent += 1
        if self.sniffer is not None:
            self.sniffer(src, dst, data)
        loss = self._loss.get((src, dst), self.default_loss)
        if not self.reachable(src, dst) or (loss > 0 and self.rng.random() < loss):
            self.stats.dropped += 1
            return
        delay = self._delay.get((src, dst), self.default_delay_s)
        delay += self.rng.random() * self.jitter_s
        self.clock.call_later(delay, lambda: self._deliver(src, dst, data))

    def _deliver(self, src: str, dst: str, data: bytes) -> None:
        handler = self._handlers.get(dst)
        if handler is None or not self.reachable(src, dst):
            self.stats.dropped += 1
            return
        self.stats.delivered += 1
        handler(data, src)


class FakeTransport:
    """An endpoint on the FakeNetwork (node.membership.DatagramTransport)."""

    def __init__(self, network: FakeNetwork, address: str) -> None:
        self.network = network
        self.address = address
        self.local_address: Address = parse_address(address)
        self.closed = False

    def send(self, data: bytes, address: Address) -> bool:
        if self.closed:
            return False
        self.network.send(self.address, format_address(*address), data)
        return True

    async def close(self) -> None:
        self.closed = True
        if self.network.owner(self.address) is self:  # not a successor at the same address
            self.network.detach(self.address)


class FakeLivenessProbe:
    """node.membership's LivenessProbe over the FakeNetwork: a TCP connect to an address
    is refused when no process holds it (killed), connects when one does, and says
    nothing (times out) when a partition or a lost SYN/answer is in the way, as TCP
    over a lossy link would within a probe interval."""

    def __init__(self, network: FakeNetwork, scheduler: NodeScheduler, source: str) -> None:
        self.network = network
        self.scheduler = scheduler
        self.source = source
        self.checks: list[tuple[str, str]] = []  # (address, verdict), for tests

    def check(self, address: str, timeout_s: float, done: Callable[[str], None]) -> None:
        net = self.network
        loss = net._loss.get((self.source, address), net.default_loss)
        back = net._loss.get((address, self.source), net.default_loss)
        lost = net.rng.random() < loss or net.rng.random() < back
        if not net.reachable(self.source, address) or lost:
            verdict, delay = "unknown", timeout_s
        else:
            verdict = "open" if net.owner(address) is not None else "refused"
            delay = 2 * net._delay.get((self.source, address), net.default_delay_s)

        def answer() -> None:
            self.checks.append((address, verdict))
            done(verdict)

        self.scheduler.call_later(delay, answer)

    def close(self) -> None:
        pass
