"""Bounded retransmit queue for piggybacked updates, and the suspicion timing math.

Like memberlist's TransmitLimitedQueue: one pending update per node (a newer one
replaces it), each sent at most `retransmit_limit(n)` times, the least-sent and newest
first, so a fresh update spreads in O(log n) gossip rounds and the queue never grows
past the number of members.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from node.membership._wire import Entry, entry_to_json, size_of


def retransmit_limit(mult: int, members: int) -> int:
    """How many times one update is piggybacked: mult * ceil(log10(n + 1))."""
    return mult * max(1, math.ceil(math.log10(members + 1)))


def suspicion_timeout(confirmations: int, expected: int, min_s: float, max_s: float) -> float:
    """Lifeguard's shrinking suspicion timeout: max_s with no independent confirmation,
    falling logarithmically to min_s once `expected` peers have confirmed."""
    if confirmations <= 0 or expected <= 0:
        return max_s
    frac = math.log(confirmations + 1) / math.log(expected + 1)
    return max(min_s, max_s - (max_s - min_s) * frac)


@dataclass
class _Pending:
    entry: Entry
    wire: dict[str, Any]
    size: int
    sent: int
    order: int  # insertion counter; higher = newer


class BroadcastQueue:
    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}
        self._counter = 0

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, entry: Entry) -> None:
        """Queue `entry`, replacing any pending update about the same node."""
        self._counter += 1
        wire = entry_to_json(entry)
        self._pending[entry.node_id] = _Pending(entry, wire, size_of(wire), 0, self._counter)

    def take(self, budget: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Entries (wire form) fitting in `budget` bytes; count each as sent once and drop
        those sent `limit` times. Returns the entries and the bytes they use."""
        chosen: list[dict[str, Any]] = []
        used = 0
        for item in sorted(self._pending.values(), key=lambda p: (p.sent, -p.order)):
            if used + item.size > budget:
                continue
            chosen.append(item.wire)
            used += item.size
            item.sent += 1
            if item.sent >= limit:
                del self._pending[item.entry.node_id]
        return chosen, used

    def pending(self) -> list[Entry]:
        return [p.entry for p in self._pending.values()]
