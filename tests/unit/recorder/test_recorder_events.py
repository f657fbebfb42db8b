"""What an ingest reports from its thread reaches the service's periods and, at the next
flush, the recording index (a real service and SQLite file; no camera: the reports are
made as the segment writer makes them, on another thread)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recorder import CameraSource, Period, RecorderService
from recorder._ingest import CameraIngest

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
START_MS = int(T0.timestamp() * 1000)
REL = "cam/2026-05-01/12-00-00.mp4"
DAY = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))


@pytest.fixture
async def service(tmp_path: Path):
    svc = RecorderService(tmp_path / "rec", tmp_path / "rec" / "index.db", "me")
    await svc.start()
    yield svc
    await svc.stop()


def reporter(service: RecorderService) -> CameraIngest:
    """An ingest that reports to `service` (its thread is never started)."""
    return CameraIngest(
        CameraSource("cam", "rtsp://127.0.0.1:1/x"),
        recordings_dir=service.recordings_dir,
        segment_seconds=60.0,
        stall_timeout_s=5.0,
        post=service._post,
        storage_ok=lambda: True,
    )


async def test_segment_reports_reach_periods_then_the_index(service: RecorderService) -> None:
    ingest = reporter(service)

    def open_and_grow() -> None:
        ingest.segment_opened(REL, START_MS, "h264", 320, 240)
        ingest.segment_progress(REL, START_MS + 250, START_MS + 1500, 100, 8000.0, 25.0)

    await asyncio.to_thread(open_and_grow)
    # Not flushed yet: the growing segment, with its corrected start, is a period.
    assert service._index is not None and service._index.all() == []
    assert service.periods("cam", *DAY) == [
        Period(T0 + timedelta(milliseconds=250), T0 + timedelta(milliseconds=1500), "me")
    ]
    await asyncio.to_thread(ingest.segment_closed, REL, START_MS + 2000, 500)
    await service._flush()
    row = service._index.by_path(REL)
    assert row is not None
    assert (row.camera_id, row.server_id, row.start_ms, row.end_ms, row.bytes, row.open) == (
        "cam",
        "me",
        START_MS + 250,
        START_MS + 2000,
        500,
        False,
    )
    assert (row.codec, row.width, row.height) == ("h264", 320, 240)


async def test_empty_segment_never_reaches_the_index(service: RecorderService) -> None:
    ingest = reporter(service)

    def open_and_delete() -> None:
        ingest.segment_opened(REL, START_MS, "hevc", 320, 240)
        ingest.segment_closed(REL, START_MS + 40, 0)  # nothing playable: file deleted

    await asyncio.to_thread(open_and_delete)
    await service._flush()
    assert service._index is not None and service._index.all() == []
    assert service.periods("cam", *DAY) == []


async def test_segment_emptied_after_a_flush_leaves_the_index(service: RecorderService) -> None:
    ingest = reporter(service)
    await asyncio.to_thread(ingest.segment_opened, REL, START_MS, "h264", 320, 240)
    await service._flush()
    assert service._index is not None
    row = service._index.by_path(REL)
    assert row is not None and row.open
    await asyncio.to_thread(ingest.segment_closed, REL, START_MS + 40, 0)
    await service._flush()
    assert service._index.all() == []
