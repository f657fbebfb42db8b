"""Builds membership payloads under the datagram budget (internal to node/membership.py).

Order of priority in one message: entries that must go (a refutation, a notice to a
suspect), then queued updates from the retransmit queue, then the sender's own load,
then a rotating few of the other members' loads. Full-state syncs are split into as
many payloads as it takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from node.membership._codec import payload_size
from node.membership._queue import BroadcastQueue, retransmit_limit
from node.membership._types import MembershipConfig
from node.membership._wire import (
    Entry,
    LoadEntry,
    chunk_entries,
    entry_to_json,
    load_to_json,
    size_of,
)

_LIST_OVERHEAD = 16  # ',"u":[],"l":[]' and a margin


class PayloadPacker:
    def __init__(self, config: MembershipConfig) -> None:
        self.config = config
        self.queue = BroadcastQueue()
        self._load_cursor = 0

    def pack(
        self,
        base: dict[str, Any],
        me: Entry,
        *,
        members: int,
        first: Sequence[dict[str, Any]] = (),
        own_load: LoadEntry | None = None,
        other_loads: Sequence[LoadEntry] = (),
        updates: bool = True,
    ) -> dict[str, Any]:
        """`base` plus "me", and as many entries and loads as fit ("u", "l")."""
        payload = {**base, "me": entry_to_json(me)}
        budget = self.config.max_payload_bytes - payload_size(payload) - _LIST_OVERHEAD
        entries = list(first)
        budget -= sum(size_of(x) for x in entries)
        own = load_to_json(own_load) if own_load is not None else None
        if own is not None:
            budget -= size_of(own)
        if updates:
            limit = retransmit_limit(self.config.retransmit_mult, members)
            taken, used = self.queue.take(budget, limit)
            entries += taken
            budget -= used
        if entries:
            payload["u"] = entries
        loads = ([own] if own is not None else []) + self._rotate_loads(other_loads, budget)
        if loads:
            payload["l"] = loads
        return payload

    def _rotate_loads(self, known: Sequence[LoadEntry], budget: int) -> list[dict[str, Any]]:
        chosen: list[dict[str, Any]] = []
        for _ in range(min(len(known), self.config.loads_per_message)):
            wire = load_to_json(known[self._load_cursor % len(known)])
            cost = size_of(wire)
            if cost > budget:
                break
            chosen.append(wire)
            budget -= cost
            self._load_cursor += 1
        return chosen

    def sync_payloads(
        self, me: Entry, table: Sequence[Entry], *, request: bool
    ) -> list[dict[str, Any]]:
        """Our whole member table (and ourselves) as sync payloads; only the first asks
        for the peer's table in return."""
        mine = entry_to_json(me)
        entries = [mine] + [entry_to_json(e) for e in table]
        base_size = payload_size({"r": request, "me": mine}) + _LIST_OVERHEAD + 8
        chunks = chunk_entries(entries, self.config.max_payload_bytes - base_size)
        return [{"r": request and i == 0, "m": c, "me": mine} for i, c in enumerate(chunks)]
