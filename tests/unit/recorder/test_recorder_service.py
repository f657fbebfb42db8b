"""RecorderService without cameras: bad input gets clear errors and changes nothing;
periods come from the index (several servers, gaps visible)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recorder import (
    CameraSource,
    ExportError,
    IndexUnusable,
    InvalidCameraId,
    Period,
    RecorderError,
    RecorderService,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
async def service(tmp_path: Path):
    svc = RecorderService(tmp_path / "rec", tmp_path / "rec" / "index.db", "me")
    await svc.start()
    yield svc
    await svc.stop()


async def test_bad_camera_ids_change_nothing(service: RecorderService) -> None:
    with pytest.raises(InvalidCameraId):
        await service.set_cameras({"../etc": CameraSource("../etc", "rtsp://127.0.0.1:1/x")})
    with pytest.raises(RecorderError, match="differs"):
        await service.set_cameras({"a": CameraSource("b", "rtsp://127.0.0.1:1/x")})
    assert service.statuses() == {}
    assert not [p for p in service.recordings_dir.iterdir() if p.is_dir()]  # no folders


async def test_periods_merge_per_server_and_show_gaps(service: RecorderService) -> None:
    index = service._index
    assert index is not None

    def add(server: str, start_s: float, end_s: float) -> None:
        start = T0 + timedelta(seconds=start_s)
        index.insert(
            camera_id="cam", server_id=server, start_ms=ms(start),
            end_ms=ms(T0 + timedelta(seconds=end_s)),
            path=f"cam/2026-05-01/{server}-{start_s}.mp4", bytes_=1, codec="h264",
            width=1, height=1, open_=False,
        )  # fmt: skip

    add("me", 0, 60)
    add("me", 60, 120)  # touches: one period
    add("me", 121, 180)  # 1 s gap: bridged
    add("me", 190, 200)  # 10 s gap: visible
    add("peer", 130, 140)  # recorded elsewhere (after a failover), kept apart
    periods = service.periods("cam", T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert periods == [
        Period(T0, T0 + timedelta(seconds=180), "me"),
        Period(T0 + timedelta(seconds=130), T0 + timedelta(seconds=140), "peer"),
        Period(T0 + timedelta(seconds=190), T0 + timedelta(seconds=200), "me"),
    ]
    clipped = service.periods("cam", T0 + timedelta(seconds=30), T0 + timedelta(seconds=40))
    assert clipped == [Period(T0 + timedelta(seconds=30), T0 + timedelta(seconds=40), "me")]
    assert service.periods("other", T0, T0 + timedelta(hours=1)) == []
    assert service.periods("cam", T0 + timedelta(hours=1), T0) == []
    with pytest.raises(RecorderError, match="timezone"):
        service.periods("cam", datetime(2026, 5, 1), datetime(2026, 5, 2))


async def test_export_bad_ranges(service: RecorderService, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="empty"):
        await service.export("cam", T0, T0, tmp_path / "x.mp4")
    with pytest.raises(ExportError, match="no recordings"):
        await service.export("cam", T0, T0 + timedelta(seconds=5), tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_bad_settings() -> None:
    with pytest.raises(RecorderError):
        RecorderService(Path("/nonexistent"), Path("/nonexistent/i.db"), "s", segment_seconds=0)


async def test_index_from_a_newer_camkeep_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    conn = sqlite3.connect(tmp_path / "rec" / "index.db")
    conn.execute("PRAGMA user_version=99")
    conn.close()
    svc = RecorderService(tmp_path / "rec", tmp_path / "rec" / "index.db", "me")
    with pytest.raises(IndexUnusable, match="newer"):
        await svc.start()
