"""Start-up reconcile of the index with the files, on real segment files."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_recorder_remux import ffprobe, make_media, remux

from recorder._index import SegmentIndex
from recorder._mp4boxes import scan_file
from recorder._naming import segment_relpath
from recorder._reconcile import reconcile

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("segments")
    source = make_media(folder / "src.ts", seconds=8, gop=25)
    sink = remux(source, folder, seconds=2.0)
    return [folder / rel for rel, *_ in sink.of("opened")]


def place(recordings: Path, camera: str, offset_s: int, source: Path) -> str:
    start = datetime.fromtimestamp(START_MS / 1000 + offset_s, UTC)
    rel = segment_relpath(camera, start).as_posix()
    (recordings / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, recordings / rel)
    return rel


def add_row(index: SegmentIndex, rel: str, start_ms: int, end_ms: int, size: int, open_: bool):
    index.insert(
        camera_id=rel.split("/")[0],
        server_id="srv",
        start_ms=start_ms,
        end_ms=end_ms,
        path=rel,
        bytes_=size,
        codec="h264",
        width=320,
        height=240,
        open_=open_,
    )


def test_reconcile_after_crash(segments: list[Path], tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    index = SegmentIndex(tmp_path / "index.db")
    kept = place(rec, "cam1", 0, segments[0])
    gone = "cam1/2026-01-01/00-00-02.mp4"  # in the index, file deleted by hand
    torn = place(rec, "cam1", 4, segments[2])
    stranger = place(rec, "cam2", 0, segments[1])  # on disk, not in the index
    empty = place(rec, "cam3", 0, segments[0])
    junk = place(rec, "cam4", 0, segments[0])
    add_row(index, kept, START_MS, START_MS + 2000, (rec / kept).stat().st_size, False)
    add_row(index, gone, START_MS + 2000, START_MS + 4000, 1000, False)
    add_row(index, torn, START_MS + 4000, START_MS + 5000, 1000, True)  # crash: still open
    # the crash tore the last fragment of `torn` in the middle
    whole = (rec / torn).read_bytes()
    scan = scan_file(rec / torn)
    assert scan.fragments >= 2
    (rec / torn).write_bytes(whole[: len(whole) - 3000])
    # a segment killed before its first fragment; a file that is no MP4 at all
    data = (rec / empty).read_bytes()
    (rec / empty).write_bytes(data[: data.index(b"moof") - 4])  # ftyp + moov only
    (rec / junk).write_bytes(b"not an mp4" * 50)
    born = place(rec, "cam5", 0, segments[0])
    (rec / born).write_bytes(data[:300])  # killed while writing the header

    report = reconcile(index, rec, "srv")

    assert report.removed == [gone]
    assert report.added == [stranger]
    assert report.closed == [torn]
    assert report.repaired == [torn]
    assert report.deleted == [empty, born]
    assert not (rec / empty).exists() and not (rec / born).exists()
    assert (rec / junk).exists()  # not ours to delete, but not indexed either
    rows = {row.path: row for row in index.all()}
    assert set(rows) == {kept, torn, stranger}
    for rel, row in rows.items():
        assert not row.open
        assert row.bytes == (rec / rel).stat().st_size
        info = ffprobe(rec / rel, "format=duration", "stream=nb_read_packets")
        assert abs(float(info["format"]["duration"]) - (row.end_ms - row.start_ms) / 1000) < 0.06
        assert not scan_file(rec / rel).torn
    assert rows[torn].start_ms == START_MS + 4000  # the index keeps the precise start
    assert 1000 <= rows[torn].end_ms - rows[torn].start_ms < 2000  # cut at a fragment
    # the name says 00:00:00, the file's tag another time (copied file): the name wins
    assert rows[stranger].start_ms == START_MS
    assert rows[stranger].server_id == "srv"
    # a second reconcile finds nothing to do
    again = reconcile(index, rec, "srv")
    assert (again.added, again.removed, again.closed, again.deleted) == ([], [], [], [])
