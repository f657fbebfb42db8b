"""The recording index: one SQLite row per segment file (WAL, migrations by
PRAGMA user_version). Thread-safe: one connection guarded by a lock, so callers may use
it from the event loop (short queries) or from worker threads (batches)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._model import IndexUnusable

# Each entry moves the schema from version i to i + 1. Never edit a shipped entry.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        camera_id TEXT NOT NULL,
        server_id TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        path TEXT NOT NULL UNIQUE,
        bytes INTEGER NOT NULL DEFAULT 0,
        codec TEXT NOT NULL DEFAULT '',
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX segments_camera_start ON segments (camera_id, start_ms);
    """,
    # v2: mark segments still being written, so start-up knows which file to repair.
    """
    ALTER TABLE segments ADD COLUMN open INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX segments_start ON segments (start_ms);
    """,
    # v3: segments downloaded from the camera's own storage (gap fill), and the gaps
    # of a camera's timeline that a fill is working on or could not fill.
    """
    ALTER TABLE segments ADD COLUMN edge INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE gaps (
        camera_id TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (camera_id, start_ms)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class SegmentInsert:
    """A row to insert, or to replace the row with the same path."""

    camera_id: str
    server_id: str
    start_ms: int
    end_ms: int
    path: str  # relative to the recordings folder, POSIX separators
    bytes: int
    codec: str
    width: int
    height: int
    open: bool  # still being written
    edge: bool = False  # downloaded from the camera's own storage


@dataclass(frozen=True, slots=True)
class SegmentRow(SegmentInsert):
    """A segment as the index holds it: the inserted facts and the row id."""

    id: int = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class SegmentUpdate:
    """How far the segment at `path` reaches now."""

    path: str
    end_ms: int
    bytes: int
    open: bool


_COLUMNS = (
    "id, camera_id, server_id, start_ms, end_ms, path, bytes, codec, width, height, open, edge"
)
_GAP_COLUMNS = "camera_id, start_ms, end_ms, state, reason, attempts, updated_ms"


@dataclass(frozen=True, slots=True)
class GapRow:
    """A hole in a camera's timeline that a fill from the camera's storage is working
    on (`state` "pending") or could not fill (`state` "unfillable", with a reason)."""

    camera_id: str
    start_ms: int
    end_ms: int
    state: str
    reason: str
    attempts: int
    updated_ms: int


def _row(values: Sequence) -> SegmentRow:
    return SegmentRow(*values[1:10], bool(values[10]), bool(values[11]), id=values[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema to `target`; returns the version found before."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise IndexUnusable(
            f"recording index has schema version {found}, newer than this camkeep "
            f"({SCHEMA_VERSION})"
        )
    for version in range(found, target):
        try:
            conn.executescript(
                "BEGIN;" + MIGRATIONS[version] + f"PRAGMA user_version={version + 1}; COMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return found


class SegmentIndex:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            migrate(self._conn)
        except sqlite3.DatabaseError as exc:
            raise IndexUnusable(f"recording index {path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _query(self, sql: str, args: Sequence = ()) -> list[SegmentRow]:
        with self._lock:
            return [_row(r) for r in self._conn.execute(sql, args).fetchall()]

    def all(self) -> list[SegmentRow]:
        return self._query(f"SELECT {_COLUMNS} FROM segments ORDER BY start_ms, id")

    def oldest_first(self, page: int = 500) -> Iterator[SegmentRow]:
        """Every segment by (start_ms, id), read a page at a time (keyset pagination,
        the lock held per page only): memory stays flat however large the index."""
        after: tuple[int, int] = (-(2**63), -1)
        while True:
            rows = self._query(
                f"SELECT {_COLUMNS} FROM segments WHERE (start_ms, id) > (?, ?)"
                " ORDER BY start_ms, id LIMIT ?",
                (*after, page),
            )
            yield from rows
            if len(rows) < page:
                return
            after = (rows[-1].start_ms, rows[-1].id)

    def by_path(self, path: str) -> SegmentRow | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM segments WHERE path = ?", (path,))
        return rows[0] if rows else None

    def overlapping(self, camera_id: str, start_ms: int, end_ms: int) -> list[SegmentRow]:
        """Segments of a camera that overlap [start_ms, end_ms], by start time."""
        return self._query(
            f"SELECT {_COLUMNS} FROM segments WHERE camera_id = ? AND start_ms < ? "
            "AND end_ms > ? ORDER BY start_ms, id",
            (camera_id, end_ms, start_ms),
        )

    def total_bytes(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM segments").fetchone()[0]

    def insert(
        self,
        *,
        camera_id: str,
        server_id: str,
        start_ms: int,
        end_ms: int,
        path: str,
        bytes_: int,
        codec: str,
        width: int,
        height: int,
        open_: bool,
        edge: bool = False,
    ) -> int:
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO segments (camera_id, server_id, start_ms, end_ms, path, bytes,"
                " codec, width, height, open, edge) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(path) DO UPDATE SET camera_id=excluded.camera_id,"
                " server_id=excluded.server_id, start_ms=excluded.start_ms,"
                " end_ms=excluded.end_ms, bytes=excluded.bytes, codec=excluded.codec,"
                " width=excluded.width, height=excluded.height, open=excluded.open,"
                " edge=excluded.edge",
                (
                    camera_id,
                    server_id,
                    start_ms,
                    end_ms,
                    path,
                    bytes_,
                    codec,
                    width,
                    height,
                    int(open_),
                    int(edge),
                ),
            )
            return cur.lastrowid

    def apply_batch(
        self,
        inserts: Iterable[SegmentInsert],
        updates: Iterable[SegmentUpdate],
        starts: dict[str, int] | None = None,
    ) -> None:
        """One transaction: inserts, updates, and `starts` (path -> a corrected
        start_ms)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO segments (camera_id, server_id, start_ms, end_ms,"
                    " path, bytes, codec, width, height, open, edge)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            i.camera_id,
                            i.server_id,
                            i.start_ms,
                            i.end_ms,
                            i.path,
                            i.bytes,
                            i.codec,
                            i.width,
                            i.height,
                            int(i.open),
                            int(i.edge),
                        )
                        for i in inserts
                    ],
                )
                self._conn.executemany(
                    "UPDATE segments SET end_ms = ?, bytes = ?, open = ? WHERE path = ?",
                    [(u.end_ms, u.bytes, int(u.open), u.path) for u in updates],
                )
                if starts:
                    self._conn.executemany(
                        "UPDATE segments SET start_ms = ? WHERE path = ?",
                        [(start, path) for path, start in starts.items()],
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a failed COMMIT (disk) leaves it open
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise

    def update(self, path: str, *, end_ms: int, bytes_: int, open_: bool) -> None:
        self.apply_batch((), [SegmentUpdate(path, end_ms, bytes_, open_)])

    def delete_paths(self, paths: Iterable[str]) -> None:
        with self._lock:
            self._conn.executemany("DELETE FROM segments WHERE path = ?", [(p,) for p in paths])

    def delete_ids(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._conn.executemany("DELETE FROM segments WHERE id = ?", [(i,) for i in ids])

    # --- gaps a fill from the camera's storage works on or could not fill -------------
    def put_gap(self, gap: GapRow) -> None:
        with self._lock:
            self._conn.execute(
                f"INSERT OR REPLACE INTO gaps ({_GAP_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                (
                    gap.camera_id,
                    gap.start_ms,
                    gap.end_ms,
                    gap.state,
                    gap.reason,
                    gap.attempts,
                    gap.updated_ms,
                ),
            )

    def gaps(
        self, camera_id: str | None = None, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[GapRow]:
        """Gap rows (of one camera, overlapping [start_ms, end_ms] when given)."""
        sql, args = f"SELECT {_GAP_COLUMNS} FROM gaps WHERE 1", []
        if camera_id is not None:
            sql, args = sql + " AND camera_id = ?", [*args, camera_id]
        if start_ms is not None and end_ms is not None:
            sql, args = sql + " AND start_ms < ? AND end_ms > ?", [*args, end_ms, start_ms]
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY camera_id, start_ms", args).fetchall()
        return [GapRow(*r) for r in rows]

    def delete_gap(self, camera_id: str, start_ms: int) -> None:
        with self._lock:
            self._conn.execute(
                "DELETE FROM gaps WHERE camera_id = ? AND start_ms = ?", (camera_id, start_ms)
            )
