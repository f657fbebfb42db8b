"""The event log in the node's SQLite database (tables `events`, `event_cursors`).

The store has its own connection to the database file (WAL: it never joins a
transaction of the record store's writer thread) and is used from the event loop;
each call is one short statement or transaction.

Kept by age and count: `prune()` deletes events older than `max_age_s` and the oldest
beyond `max_count`. Cursors say, per notification sink and writer, up to which `seq`
that writer's events have been handled (sent or skipped); they only move forward.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.events._model import Event
from node.replication import connect

MAX_LIMIT = 1000


@dataclass(frozen=True)
class EventQuery:
    since_ms: int | None = None
    until_ms: int | None = None
    type: str | None = None
    camera_id: str | None = None
    server_id: str | None = None
    limit: int = 100


def _row(row: tuple[Any, ...]) -> Event:
    origin, seq, at_ms, event_type, server_id, camera_id, details = row
    return Event(origin, seq, event_type, at_ms, server_id, camera_id, json.loads(details))


_COLUMNS = "origin, seq, at_ms, type, server_id, camera_id, details_json"


class EventStore:
    def __init__(
        self,
        path: Path,
        node_id: str,
        *,
        max_age_s: float = 30 * 86400,
        max_count: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn: sqlite3.Connection = connect(path)
        self.node_id = node_id
        self.max_age_s = max_age_s
        self.max_count = max_count
        self._clock = clock
        row = self._conn.execute("SELECT MAX(seq) FROM events WHERE origin = ?", (node_id,))
        self._seq = int(row.fetchone()[0] or 0)
        own = self._conn.execute(
            "SELECT seq FROM event_cursors WHERE origin = ? ORDER BY seq DESC LIMIT 1", (node_id,)
        ).fetchone()
        # never reuse a number a peer may already hold (our rows may have been pruned)
        self._seq = max(self._seq, int(own[0]) if own else 0)
        self._writes_since_prune = 0

    def close(self) -> None:
        self._conn.close()

    @property
    def last_seq(self) -> int:
        """The number of this node's newest event (0: none yet)."""
        return self._seq

    # ------------------------------------------------------------------ writing

    def append(
        self,
        event_type: str,
        *,
        server_id: str | None = None,
        camera_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        at_ms: int | None = None,
    ) -> Event:
        """Write a new event of this node."""
        self._seq += 1
        event = Event(
            self.node_id,
            self._seq,
            event_type,
            int(self._clock() * 1000) if at_ms is None else at_ms,
            server_id,
            camera_id,
            dict(details or {}),
        )
        self._insert([event])
        return event

    def insert(self, events: Iterable[Event]) -> list[Event]:
        """Store copies of events (any writer); those not held before."""
        events = list(events)
        # copies of our own events numbered beyond our counter: this data folder lost
        # them; go on numbering after them so no number means two events
        own = [e.seq for e in events if e.origin == self.node_id]
        self._seq = max([self._seq, *own])
        return self._insert(events)

    def _insert(self, events: list[Event]) -> list[Event]:
        added = []
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            for e in events:
                cursor = self._conn.execute(
                    f"INSERT OR IGNORE INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        e.origin,
                        e.seq,
                        e.at_ms,
                        e.type,
                        e.server_id,
                        e.camera_id,
                        json.dumps(e.details, separators=(",", ":")),
                    ),
                )
                if cursor.rowcount:
                    added.append(e)
        self._writes_since_prune += len(added)
        if self._writes_since_prune >= 100:
            self.prune()
        return added

    def prune(self) -> int:
        """Delete events past the age and count limits; how many."""
        self._writes_since_prune = 0
        cutoff = int((self._clock() - self.max_age_s) * 1000)
        with self._conn:
            deleted = self._conn.execute("DELETE FROM events WHERE at_ms < ?", (cutoff,)).rowcount
            (count,) = self._conn.execute("SELECT COUNT(*) FROM events").fetchone()
            if count > self.max_count:
                deleted += self._conn.execute(
                    "DELETE FROM events WHERE (origin, seq) IN (SELECT origin, seq FROM events "
                    "ORDER BY at_ms, origin, seq LIMIT ?)",
                    (count - self.max_count,),
                ).rowcount
        return deleted

    # ------------------------------------------------------------------ reading

    def query(self, query: EventQuery) -> list[Event]:
        """Events matching the query, newest first."""
        where, args = [], []
        if query.since_ms is not None:
            where.append("at_ms >= ?")
            args.append(query.since_ms)
        if query.until_ms is not None:
            where.append("at_ms < ?")
            args.append(query.until_ms)
        for column in ("type", "camera_id", "server_id"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at_ms DESC, origin, seq DESC LIMIT ?"
        args.append(max(1, min(query.limit, MAX_LIMIT)))
        return [_row(r) for r in self._conn.execute(sql, args)]

    def after(self, origin: str, seq: int, limit: int = 500) -> list[Event]:
        """`origin`'s events numbered above `seq`, oldest first."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?",
            (origin, seq, max(1, min(limit, MAX_LIMIT))),
        )
        return [_row(r) for r in rows]

    def held(self) -> dict[str, int]:
        """Writer -> the highest seq held of its events."""
        rows = self._conn.execute("SELECT origin, MAX(seq) FROM events GROUP BY origin")
        out = {origin: int(seq) for origin, seq in rows}
        if self._seq:
            out[self.node_id] = self._seq
        return out

    def missing_for(self, have: Mapping[str, int], limit: int = 500) -> list[Event]:
        """Events a peer lacks, given what it holds of each writer (oldest first)."""
        out: list[Event] = []
        for origin, top in sorted(self.held().items()):
            if top > have.get(origin, 0):
                out += self.after(origin, have.get(origin, 0), limit - len(out))
            if len(out) >= limit:
                break
        return out

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    # ------------------------------------------------------------------ cursors

    def cursors(self) -> dict[str, dict[str, int]]:
        """sink -> writer -> seq handled up to."""
        out: dict[str, dict[str, int]] = {}
        for sink, origin, seq in self._conn.execute("SELECT sink, origin, seq FROM event_cursors"):
            out.setdefault(sink, {})[origin] = int(seq)
        return out

    def cursor(self, sink: str, origin: str) -> int:
        row = self._conn.execute(
            "SELECT seq FROM event_cursors WHERE sink = ? AND origin = ?", (sink, origin)
        ).fetchone()
        return int(row[0]) if row else 0

    def advance(self, sink: str, origin: str, seq: int) -> bool:
        """Move a cursor forward (never back); True if it moved."""
        with self._conn:
            cursor = self._conn.execute(
                "INSERT INTO event_cursors (sink, origin, seq) VALUES (?, ?, ?) "
                "ON CONFLICT (sink, origin) DO UPDATE SET seq = excluded.seq "
                "WHERE excluded.seq > event_cursors.seq",
                (sink, origin, seq),
            )
        return cursor.rowcount > 0

    def merge_cursors(self, cursors: Mapping[str, Mapping[str, int]]) -> int:
        """Take a peer's cursors where they are further; how many moved."""
        return sum(
            self.advance(sink, origin, seq)
            for sink, by_origin in cursors.items()
            for origin, seq in by_origin.items()
        )
