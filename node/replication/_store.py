"""Record store: the node's replicated state as versioned Records in SQLite.

Each (kind, key) holds one `Record` whose version is a hybrid logical clock
timestamp; a delete writes a tombstone. Local writes are stamped with `clock.now()`;
remote records (replication from peers) go through `apply_remote`, which keeps the
newer version (last writer wins, node/replica.py). All records are also kept in
memory: the configuration is small, so reads never touch the disk.

Thread-safe: writes may run in a worker thread (`asyncio.to_thread`) so the event
loop never waits on SQLite. Change listeners are called in the writing thread after
the commit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from node.replication._hlc import HybridClock, Timestamp
from node.replication._records import (
    Digest,
    Record,
    RecordId,
    digest,
    newer,
    records_since,
    validate_record,
)

ChangeListener = Callable[[Record, bool], None]  # (record, is_local_write)


class StoreError(Exception):
    """A write was refused (bad kind/key/value)."""


class RecordStore:
    def __init__(self, conn: sqlite3.Connection, clock: HybridClock) -> None:
        self._conn = conn
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[ChangeListener] = []
        self._records: dict[RecordId, Record] = {}
        for kind, key, value_json, wall_ms, counter, node_id in conn.execute(
            "SELECT kind, key, value_json, wall_ms, counter, node_id FROM records"
        ):
            value = None if value_json is None else json.loads(value_json)
            record = Record(kind, key, value, Timestamp(wall_ms, counter, node_id))
            self._records[record.id] = record
            # after a restart, new writes must sort after every stored version
            clock.observe(record.version)

    # ----------------------------------------------------------------- reading

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """The live value, or None when absent or deleted."""
        record = self._records.get((kind, key))
        return None if record is None else record.value

    def get_record(self, kind: str, key: str) -> Record | None:
        """The record including tombstones."""
        return self._records.get((kind, key))

    def list(self, kind: str) -> list[Record]:
        """Live records of a kind, sorted by key."""
        with self._lock:
            chosen = [r for r in self._records.values() if r.kind == kind and not r.deleted]
        return sorted(chosen, key=lambda r: r.key)

    def values(self, kind: str) -> list[dict[str, Any]]:
        return [r.value for r in self.list(kind) if r.value is not None]

    def all_since(self, since: Timestamp | None = None) -> list[Record]:
        """Every record (tombstones too) written after `since`, oldest first."""
        with self._lock:
            snapshot = list(self._records.values())
        return records_since(snapshot, since)

    def records(self, ids: Iterable[RecordId]) -> list[Record]:
        return [r for rid in ids if (r := self._records.get(rid)) is not None]

    def versions(self) -> dict[RecordId, Timestamp]:
        with self._lock:
            return {rid: r.version for rid, r in self._records.items()}

    def digest(self) -> Digest:
        return digest(self.versions())

    # ----------------------------------------------------------------- writing

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def put(self, kind: str, key: str, value: dict[str, Any]) -> Record:
        return self.put_many([(kind, key, value)])[0]

    def delete(self, kind: str, key: str) -> Record | None:
        """Write a tombstone; None when there was nothing live to delete."""
        with self._lock:
            if self.get(kind, key) is None:
                return None
            return self._write([Record(kind, key, None, self._clock.now())], local=True)[0]

    def put_many(self, items: Sequence[tuple[str, str, dict[str, Any] | None]]) -> list[Record]:
        """Write several records in one transaction (None value = delete)."""
        with self._lock:
            records = [Record(kind, key, value, self._clock.now()) for kind, key, value in items]
            return self._write(records, local=True)

    def apply_remote(self, record: Record) -> bool:
        """Store a record received from a peer if it is newer; True when applied."""
        validate_record(record)
        with self._lock:
            self._clock.observe(record.version)
            if not newer(self._records.get(record.id), record):
                return False
            self._write([record], local=False)
            return True

    def _write(self, records: list[Record], *, local: bool) -> list[Record]:
        for record in records:
            try:
                validate_record(record)
            except ValueError as error:
                raise StoreError(str(error)) from None
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO records (kind, key, value_json, wall_ms, counter, node_id)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET"
                    " value_json = excluded.value_json, wall_ms = excluded.wall_ms,"
                    " counter = excluded.counter, node_id = excluded.node_id",
                    [_row(r) for r in records],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            for record in records:
                self._records[record.id] = record
        for record in records:
            for listener in list(self._listeners):
                listener(record, local)
        return records

    def reset(self) -> None:
        """Forget every record (the node leaves its system). Not replicated: the other
        members keep theirs. Listeners are not called."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM records")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._records.clear()

    # -------------------------------------------------------- node-local facts

    def get_local(self, name: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM local WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_local(self, name: str, value: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO local (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )


def _row(record: Record) -> tuple[Any, ...]:
    value_json = None if record.value is None else json.dumps(record.value, separators=(",", ":"))
    v = record.version
    return (record.kind, record.key, value_json, v.wall_ms, v.counter, v.node_id)
