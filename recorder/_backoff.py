"""Reconnect delays: capped exponential backoff with jitter (pure)."""

from __future__ import annotations

import random

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0


def backoff_delay(
    failures: int,
    rng: random.Random,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
) -> float:
    """Delay before attempt number `failures` + 1 after `failures` failures in a row:
    up to base * 2**(failures-1), capped, and jittered into [50 %, 100 %] of that so
    many cameras dropped at once do not reconnect in lockstep."""
    if failures <= 0:
        return 0.0
    ceiling = min(cap_s, base_s * (2 ** min(failures - 1, 30)))
    return ceiling * (0.5 + 0.5 * rng.random())
