import sqlite3
from pathlib import Path

import pytest

from recorder import IndexUnusable
from recorder._index import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SegmentIndex,
    SegmentInsert,
    SegmentUpdate,
    migrate,
)


def _insert(index: SegmentIndex, path: str, start: int, end: int, open_: bool = False) -> int:
    return index.insert(
        camera_id=path.split("/")[0],
        server_id="s1",
        start_ms=start,
        end_ms=end,
        path=path,
        bytes_=10,
        codec="h264",
        width=640,
        height=360,
        open_=open_,
    )


def test_fresh_index_is_wal_at_latest_version(tmp_path: Path) -> None:
    index = SegmentIndex(tmp_path / "index.db")
    index.close()
    conn = sqlite3.connect(tmp_path / "index.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_version_1_index_is_migrated_keeping_rows(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
    assert migrate(conn, target=1) == 0
    conn.execute(
        "INSERT INTO segments (camera_id, server_id, start_ms, end_ms, path, bytes)"
        " VALUES ('c', 's', 1, 2, 'c/2026-01-01/00-00-00.mp4', 5)"
    )
    conn.close()
    index = SegmentIndex(tmp_path / "index.db")
    (row,) = index.all()
    assert (row.path, row.bytes, row.open) == ("c/2026-01-01/00-00-00.mp4", 5, False)
    assert migrate(index._conn) == SCHEMA_VERSION  # nothing left to do


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "index.db")
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(IndexUnusable, match="newer"):
        SegmentIndex(tmp_path / "index.db")


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "index.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IndexUnusable):
        SegmentIndex(tmp_path / "index.db")


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import recorder._index as mod

    monkeypatch.setattr(mod, "MIGRATIONS", (MIGRATIONS[0], "CREATE TABLE x (a); BROKEN SQL;"))
    monkeypatch.setattr(mod, "SCHEMA_VERSION", 2)
    with pytest.raises(IndexUnusable):
        SegmentIndex(tmp_path / "index.db")
    conn = sqlite3.connect(tmp_path / "index.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert not conn.execute("SELECT name FROM sqlite_master WHERE name='x'").fetchall()


def test_batch_updates_overlap_query_and_delete(tmp_path: Path) -> None:
    index = SegmentIndex(tmp_path / "index.db")
    a = _insert(index, "c/2026-01-01/00-00-00.mp4", 0, 1000)
    index.apply_batch(
        [SegmentInsert("c", "s1", 1000, 1000, "c/2026-01-01/00-00-01.mp4", 0, "h264", 1, 1, True)],
        [
            SegmentUpdate("c/2026-01-01/00-00-01.mp4", 2500, 99, open=True),
            SegmentUpdate(a and "nope", 1100, 11, open=False),
        ],
    )
    rows = index.overlapping("c", 900, 3000)
    assert [(r.start_ms, r.end_ms, r.bytes, r.open) for r in rows] == [
        (0, 1000, 10, False),
        (1000, 2500, 99, True),
    ]
    assert index.overlapping("c", 2500, 9000) == []
    assert index.overlapping("other", 0, 9000) == []
    assert index.total_bytes() == 109
    index.delete_ids([a])
    assert [r.path for r in index.all()] == ["c/2026-01-01/00-00-01.mp4"]


def test_oldest_first_pages_through_every_row_in_order(tmp_path: Path) -> None:
    index = SegmentIndex(tmp_path / "index.db")
    for i, start in enumerate([5, 1, 3, 3, 2, 4, 1]):  # equal starts: ordered by id
        _insert(index, f"c/2026-01-01/{i:02d}.mp4", start * 1000, start * 1000 + 500)
    assert list(index.oldest_first(page=2)) == index.all()
    assert list(index.oldest_first(page=7)) == index.all()
    assert list(SegmentIndex(tmp_path / "empty.db").oldest_first()) == []


def test_version_2_index_gets_the_edge_flag_and_the_gaps_table(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
    migrate(conn, target=2)
    conn.execute(
        "INSERT INTO segments (camera_id, server_id, start_ms, end_ms, path, bytes, open)"
        " VALUES ('c', 's', 1, 2, 'c/2026-01-01/00-00-00.mp4', 5, 0)"
    )
    conn.close()
    index = SegmentIndex(tmp_path / "index.db")
    (row,) = index.all()
    assert row.edge is False  # what was recorded before stays live video
    index.insert(
        camera_id="c", server_id="s", start_ms=3, end_ms=4, path="c/2026-01-01/00-00-03.mp4",
        bytes_=5, codec="h264", width=1, height=1, open_=False, edge=True,
    )  # fmt: skip
    assert [r.edge for r in index.all()] == [False, True]


def test_gap_rows_are_kept_per_camera_and_start(tmp_path: Path) -> None:
    from recorder import GapRow

    index = SegmentIndex(tmp_path / "index.db")
    index.put_gap(GapRow("c", 1000, 5000, "pending", "", 0, 1))
    index.put_gap(GapRow("c", 1000, 5000, "unfillable", "no_edge_storage", 0, 2))  # replaces
    index.put_gap(GapRow("d", 9000, 9500, "filled", "", 0, 3))
    assert [(g.state, g.reason) for g in index.gaps("c")] == [("unfillable", "no_edge_storage")]
    assert [g.camera_id for g in index.gaps(None, 4000, 9100)] == ["c", "d"]
    assert index.gaps("c", 5000, 6000) == []  # touching is not overlapping
    index.delete_gap("c", 1000)
    assert [g.camera_id for g in index.gaps()] == ["d"]
