"""The node's SQLite database (data/camkeep.db): connection and schema migrations.

The schema version is `PRAGMA user_version`; `MIGRATIONS[i]` takes the database
from version i to i + 1. Append new migrations, never edit an applied one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS: list[tuple[str, str]] = [
    (
        "replicated records (kind, key) with their HLC version; value NULL = tombstone",
        """
        CREATE TABLE records (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            value_json TEXT,
            wall_ms INTEGER NOT NULL,
            counter INTEGER NOT NULL,
            node_id TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        ) WITHOUT ROWID;
        """,
    ),
    (
        "node-local key/value facts that are never replicated",
        "CREATE TABLE local (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
    ),
    (
        "records in version order, for changes-since queries of anti-entropy",
        "CREATE INDEX records_by_version ON records (wall_ms, counter, node_id);",
    ),
    (
        "the system's event log (each node's own events and copies of its peers'), "
        "and per notification sink how far each writer's events have been handled",
        """
        CREATE TABLE events (
            origin TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at_ms INTEGER NOT NULL,
            type TEXT NOT NULL,
            server_id TEXT,
            camera_id TEXT,
            details_json TEXT NOT NULL,
            PRIMARY KEY (origin, seq)
        ) WITHOUT ROWID;
        CREATE INDEX events_by_time ON events (at_ms);
        CREATE TABLE event_cursors (
            sink TEXT NOT NULL,
            origin TEXT NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY (sink, origin)
        ) WITHOUT ROWID;
        """,
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseError(Exception):
    """The database cannot be opened or is newer than this camkeep."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database; WAL, autocommit off."""
    try:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except sqlite3.DatabaseError as error:
        raise DatabaseError(f"{path}: {error}") from None
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration the database lacks, each in its own transaction."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"database schema version {version} is newer than this camkeep ({SCHEMA_VERSION})"
        )
    for index in range(version, SCHEMA_VERSION):
        _description, sql = MIGRATIONS[index]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, sql.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {index + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION
