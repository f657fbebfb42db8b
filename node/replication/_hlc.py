"""Hybrid logical clock (Kulkarni et al., 2014) for versioning replicated records.

A `Timestamp` is (wall_ms, counter, node_id) and is totally ordered: two writes never
compare equal unless they are the same write, so last-writer-wins is deterministic on
every node. `HybridClock.now()` stamps a local write; `observe()` folds in a remote
timestamp so that a later local write is ordered after everything this node has seen,
even when the remote node's wall clock runs ahead of ours.

Pure: the wall clock is injected (`wall_ms`), nothing here does I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# A node id is a short printable token (DESIGN: data/node_id); bound it so a remote
# record cannot carry megabytes in its version.
MAX_NODE_ID_LEN = 128
# Largest wall_ms accepted from the wire: year ~2286. Bigger is garbage, not a clock.
MAX_WALL_MS = 10**13
MAX_COUNTER = 2**31 - 1


class TimestampError(ValueError):
    """A timestamp from outside (JSON, wire) is malformed, or too far in the future."""


@dataclass(frozen=True, order=True)
class Timestamp:
    """A hybrid logical timestamp; field order is the comparison order."""

    wall_ms: int
    counter: int
    node_id: str

    def __str__(self) -> str:
        return f"{self.wall_ms}.{self.counter}@{self.node_id}"


def validate_timestamp(ts: Timestamp) -> Timestamp:
    """Return `ts` if every field has the right type and range, else raise TimestampError."""
    # bool is an int subclass: refuse it explicitly, it is never a meaningful clock value.
    if type(ts.wall_ms) is not int or not 0 <= ts.wall_ms <= MAX_WALL_MS:
        raise TimestampError(f"wall_ms must be an int in [0, {MAX_WALL_MS}]")
    if type(ts.counter) is not int or not 0 <= ts.counter <= MAX_COUNTER:
        raise TimestampError(f"counter must be an int in [0, {MAX_COUNTER}]")
    if not isinstance(ts.node_id, str) or not 0 < len(ts.node_id) <= MAX_NODE_ID_LEN:
        raise TimestampError(f"node_id must be a non-empty str of at most {MAX_NODE_ID_LEN}")
    if not ts.node_id.isprintable():
        raise TimestampError("node_id must be printable")
    return ts


def timestamp_to_json(ts: Timestamp) -> dict[str, Any]:
    return {"wall_ms": ts.wall_ms, "counter": ts.counter, "node_id": ts.node_id}


def timestamp_from_json(data: Any) -> Timestamp:
    """Parse and validate `{"wall_ms", "counter", "node_id"}`; raise TimestampError."""
    if not isinstance(data, Mapping):
        raise TimestampError("timestamp must be an object")
    if set(data) != {"wall_ms", "counter", "node_id"}:
        raise TimestampError("timestamp needs exactly wall_ms, counter, node_id")
    return validate_timestamp(Timestamp(data["wall_ms"], data["counter"], data["node_id"]))


class HybridClock:
    """Issues monotonically increasing timestamps for one node.

    `max_drift_ms`: if set, `observe()` refuses (TimestampError) a remote timestamp more
    than this far ahead of our wall clock instead of dragging our clock into the future.
    After a restart, call `observe()` with the greatest stored version so new writes
    still sort after old ones even if the wall clock stepped back.
    """

    def __init__(
        self,
        node_id: str,
        wall_ms: Callable[[], int],
        *,
        max_drift_ms: int | None = None,
    ) -> None:
        validate_timestamp(Timestamp(0, 0, node_id))
        self._node_id = node_id
        self._wall_ms = wall_ms
        self._max_drift_ms = max_drift_ms
        self._last = Timestamp(0, 0, node_id)
        # The store may stamp writes from a worker thread; keep now()/observe() atomic.
        self._lock = threading.Lock()

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def last(self) -> Timestamp:
        """The greatest timestamp issued or observed so far (as this node's)."""
        return self._last

    def now(self) -> Timestamp:
        """A timestamp for a local write: greater than every one issued or observed."""
        with self._lock:
            physical = int(self._wall_ms())
            if physical > self._last.wall_ms:
                self._last = Timestamp(physical, 0, self._node_id)
            else:
                self._last = Timestamp(self._last.wall_ms, self._last.counter + 1, self._node_id)
            return self._last

    def observe(self, remote: Timestamp) -> None:
        """Fold a received timestamp in, so later local writes order after it."""
        validate_timestamp(remote)
        with self._lock:
            physical = int(self._wall_ms())
            if self._max_drift_ms is not None and remote.wall_ms > physical + self._max_drift_ms:
                raise TimestampError(
                    f"remote timestamp {remote} is more than {self._max_drift_ms} ms ahead"
                )
            last = self._last
            wall = max(physical, last.wall_ms, remote.wall_ms)
            if wall == last.wall_ms and wall == remote.wall_ms:
                counter = max(last.counter, remote.counter)
            elif wall == last.wall_ms:
                counter = last.counter
            elif wall == remote.wall_ms:
                counter = remote.counter
            else:
                counter = 0
            # The next now() bumps the counter (or takes a newer wall), so it sorts
            # strictly after `remote` whatever the node ids are.
            self._last = Timestamp(wall, counter, self._node_id)
