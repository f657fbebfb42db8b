"""Record store: versions, tombstones, remote merge, persistence, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.replication import HybridClock, Record, RecordStore, StoreError, Timestamp
from node.replication._db import MIGRATIONS, SCHEMA_VERSION, DatabaseError, connect, schema_version


class FakeWall:
    def __init__(self, ms: int = 1_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def open_store(path: Path, wall: FakeWall, node_id: str = "node-a") -> RecordStore:
    return RecordStore(connect(path), HybridClock(node_id, wall))


def test_put_get_list_delete(tmp_path: Path) -> None:
    wall = FakeWall()
    store = open_store(tmp_path / "db", wall)
    first = store.put("camera", "c1", {"name": "one"})
    store.put("camera", "c2", {"name": "two"})
    store.put("user", "u", {"role": "viewer"})
    assert store.get("camera", "c1") == {"name": "one"}
    assert [r.key for r in store.list("camera")] == ["c1", "c2"]
    second = store.put("camera", "c1", {"name": "uno"})
    assert second.version > first.version  # same wall ms: the counter moves on
    tombstone = store.delete("camera", "c1")
    assert tombstone is not None and tombstone.deleted
    assert store.get("camera", "c1") is None
    assert store.get_record("camera", "c1") == tombstone
    assert [r.key for r in store.list("camera")] == ["c2"]
    assert store.delete("camera", "c1") is None  # nothing live to delete
    assert store.delete("camera", "never") is None


def test_bad_records_are_refused_and_change_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "db", FakeWall())
    with pytest.raises(StoreError):
        store.put("Bad Kind", "k", {})
    with pytest.raises(StoreError):
        store.put("camera", "", {})
    with pytest.raises(StoreError):
        store.put("camera", "k", {"x": float("nan")})
    assert store.all_since() == []


def test_persists_and_clock_moves_past_stored_versions(tmp_path: Path) -> None:
    wall = FakeWall(5_000_000)
    store = open_store(tmp_path / "db", wall)
    old = store.put("camera", "c1", {"name": "one"})
    store.delete("camera", "c1")
    store.put("server", "s", {"name": "srv"})
    wall.ms = 1_000  # the wall clock stepped back across the restart
    reopened = open_store(tmp_path / "db", wall)
    assert reopened.get("server", "s") == {"name": "srv"}
    assert reopened.get_record("camera", "c1").deleted
    newer = reopened.put("camera", "c1", {"name": "again"})
    assert newer.version > old.version
    assert reopened.get("camera", "c1") == {"name": "again"}


def test_apply_remote_last_writer_wins(tmp_path: Path) -> None:
    wall = FakeWall(2_000)
    store = open_store(tmp_path / "db", wall)
    local = store.put("camera", "c1", {"name": "local"})
    older = Record("camera", "c1", {"name": "older"}, Timestamp(1_000, 0, "node-b"))
    assert store.apply_remote(older) is False
    assert store.get("camera", "c1") == {"name": "local"}
    remote_delete = Record("camera", "c1", None, Timestamp(3_000, 0, "node-b"))
    assert store.apply_remote(remote_delete) is True
    assert store.get("camera", "c1") is None
    # a late update older than the delete does not resurrect the camera
    late = Record("camera", "c1", {"name": "late"}, Timestamp(2_500, 0, "node-c"))
    assert store.apply_remote(late) is False
    assert store.get("camera", "c1") is None
    # a local write after observing the remote sorts after it
    assert store.put("camera", "c1", {"name": "back"}).version > remote_delete.version
    assert local.version < remote_delete.version
    with pytest.raises(ValueError):
        store.apply_remote(Record("camera", "c1", "not a dict", Timestamp(9_000, 0, "n")))  # type: ignore[arg-type]


def test_two_stores_converge_and_digests_match(tmp_path: Path) -> None:
    a = open_store(tmp_path / "a", FakeWall(1_000), "node-a")
    b = open_store(tmp_path / "b", FakeWall(1_000), "node-b")
    a.put("camera", "c1", {"name": "from a"})
    b.put("camera", "c1", {"name": "from b"})
    b.put("user", "u", {"role": "admin"})
    for record in a.all_since():
        b.apply_remote(record)
    for record in b.all_since():
        a.apply_remote(record)
    assert a.get("camera", "c1") == b.get("camera", "c1")
    assert a.versions() == b.versions()
    assert a.digest() == b.digest()


def test_all_since_and_listener(tmp_path: Path) -> None:
    store = open_store(tmp_path / "db", FakeWall())
    seen: list[tuple[str, bool]] = []
    store.subscribe(lambda record, local: seen.append((record.key, local)))
    first = store.put("camera", "c1", {})
    store.put_many([("camera", "c2", {}), ("camera", "c3", {})])
    store.apply_remote(Record("camera", "c9", {}, Timestamp(9_999_999, 0, "node-b")))
    assert [r.key for r in store.all_since(first.version)] == ["c2", "c3", "c9"]
    assert seen == [("c1", True), ("c2", True), ("c3", True), ("c9", False)]


def test_local_facts_are_not_records(tmp_path: Path) -> None:
    store = open_store(tmp_path / "db", FakeWall())
    store.set_local("note", "x")
    store.set_local("note", "y")
    assert store.get_local("note") == "y"
    assert store.get_local("missing") is None
    assert store.all_since() == []


def test_migrates_an_old_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(MIGRATIONS[0][1])  # a database written by the first schema
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO records VALUES ('camera', 'c1', '{\"name\": \"kept\"}', 10, 0, 'node-a')"
    )
    conn.close()
    migrated = connect(path)
    assert schema_version(migrated) == SCHEMA_VERSION
    indexes = {row[1] for row in migrated.execute("PRAGMA index_list(records)")}
    assert "records_by_version" in indexes
    store = RecordStore(migrated, HybridClock("node-a", FakeWall()))
    assert store.get("camera", "c1") == {"name": "kept"}
    store.set_local("x", "1")  # the local table of migration 2 exists
    migrated.close()
    assert schema_version(connect(path)) == SCHEMA_VERSION  # idempotent


def test_refuses_a_newer_database(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(DatabaseError, match="newer than this camkeep"):
        connect(path)


def test_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError):
        connect(path)
