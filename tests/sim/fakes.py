"""A fake clock that fires due timers, and a fake datagram network with per-link loss,
delay and partitions. Deterministic: all randomness comes from a seeded Random."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol


class Transport(Protocol):
    """What a membership runtime needs from the network: send one datagram."""

    def send(self, address: str, data: bytes) -> None: ...


@dataclass(order=True)
class _Timer:
    when: float
    order: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


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
        self._loss: dict[tuple[str, str], float] = {}
        self._delay: dict[tuple[str, str], float] = {}
        self._side: dict[str, int] = {}  # address -> partition group
        self.sniffer: Callable[[str, str, bytes], None] | None = None

    def attach(self, address: str, handler: Callable[[bytes, str], None]) -> Transport:
        """Receive datagrams for `address`; returns a transport sending from it."""
        self._handlers[address] = handler
        network = self

        class _Port:
            def send(self, to: str, data: bytes) -> None:
                network.send(address, to, data)

        return _Port()

    def detach(self, address: str) -> None:
        """The process at `address` is gone: datagrams to it vanish."""
        self._handlers.pop(address, None)

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
