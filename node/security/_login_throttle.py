"""Slowing down password guessing: a growing delay per (user name, client address).

The clock is injected; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last_at: float
    blocked_until: float


class LoginThrottle:
    """Slows down repeated failed logins per (username, client address).

    After `free_failures` failures, each further failure blocks that key for
    base_delay_s * 2**(n - free_failures - 1), at most max_delay_s.
    """

    MAX_KEYS = 10_000  # bound memory against a flood of made-up names

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        free_failures: int = 3,
        base_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
        reset_after_s: float = 900.0,
    ) -> None:
        self._clock = clock
        self._free = free_failures
        self._base = base_delay_s
        self._max = max_delay_s
        self._reset = reset_after_s
        self._failures: dict[tuple[str, str], _Failures] = {}

    def retry_after(self, username: str, address: str) -> float:
        """Seconds the caller must still wait (0 = may try now)."""
        entry = self._failures.get((username, address))
        if entry is None:
            return 0.0
        now = self._clock()
        if now - entry.last_at > self._reset:
            del self._failures[(username, address)]
            return 0.0
        return max(0.0, entry.blocked_until - now)

    def failed(self, username: str, address: str) -> float:
        """Record a failure; returns the delay now imposed (0 while still free)."""
        now = self._clock()
        key = (username, address)
        entry = self._failures.get(key)
        if entry is None or now - entry.last_at > self._reset:
            entry = _Failures(0, now, now)
        entry.count += 1
        entry.last_at = now
        delay = 0.0
        if entry.count > self._free:
            delay = min(self._max, self._base * 2 ** (entry.count - self._free - 1))
        entry.blocked_until = now + delay
        self._failures[key] = entry
        self._prune(now)
        return delay

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop((username, address), None)

    def _prune(self, now: float) -> None:
        if len(self._failures) <= self.MAX_KEYS:
            return
        stale = [k for k, e in self._failures.items() if now - e.last_at > self._reset]
        for key in stale:
            del self._failures[key]
        if len(self._failures) > self.MAX_KEYS:  # still full: drop the oldest
            oldest = sorted(self._failures, key=lambda k: self._failures[k].last_at)
            for key in oldest[: len(self._failures) - self.MAX_KEYS]:
                del self._failures[key]
