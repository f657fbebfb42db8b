"""Time for GossipRuntime: a monotonic clock, a wall clock and one-shot timers.

Production uses the asyncio event loop (`AsyncioScheduler`); tests/sim a fake clock
that jumps from timer to timer, so simulated minutes take milliseconds. `now()` is
monotonic seconds (liveness never follows wall-clock steps); `wall_ms()` only stamps
datagrams for the codec's freshness window and gives a start epoch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def wall_ms(self) -> int:
        """Wall-clock milliseconds since the Unix epoch."""
        ...

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> TimerHandle:
        """Call `callback` once after `delay_s` (on the same thread as everything else)."""
        ...


class AsyncioScheduler:
    """The running event loop's timers; `now()` is time.monotonic, which is also the
    loop's own clock, so a timer set for now() + d fires d seconds later."""

    def now(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay_s, callback)
