"""A token bucket on bytes per second, shared by downloads that must not starve live
ingest: each download takes what it read, and waits when the bucket is in debt.

Thread-safe (downloads run on their own threads); the clock and the wait are
injectable so the arithmetic is tested without sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate_bytes_per_s: float,
        burst_bytes: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_bytes_per_s <= 0:
            raise ValueError("the rate must be > 0")
        self.rate = float(rate_bytes_per_s)
        self.burst = float(burst_bytes if burst_bytes is not None else rate_bytes_per_s / 4)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()
        self._lock = threading.Lock()

    def debit(self, amount: int) -> float:
        """Take `amount` bytes; returns the seconds to wait before reading more (0 when
        the bucket still holds tokens). Waiting is the caller's."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= amount
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def take(self, amount: int, stop: threading.Event | None = None) -> bool:
        """Take `amount` bytes and wait until the rate allows them; False when `stop`
        was set while waiting."""
        wait = self.debit(amount)
        if wait <= 0:
            return True
        if stop is None:
            time.sleep(wait)
            return True
        return not stop.wait(wait)
