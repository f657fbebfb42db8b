"""A real full disk (a small tmpfs): writing fails with ENOSPC, the camera reports
"error", the service keeps answering; retention frees space and recording resumes."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_recorder_live import check_segments_playable, rows_of, wait_for

from recorder import CameraSource, RecorderService, RetentionPolicy

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def small_disk(tmp_path: Path):
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs (needs root)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


async def test_disk_full_reports_error_then_retention_lets_recording_resume(
    emulator_factory, small_disk: Path, tmp_path: Path
) -> None:
    emu = emulator_factory(bitrate=2_000_000)  # ~250 kB/s: 2 MiB fill in seconds
    service = RecorderService(
        small_disk / "rec", tmp_path / "index.db", "srv1", segment_seconds=1.0,
        stall_timeout_s=2.0,
    )  # fmt: skip
    await service.start()
    try:
        await service.set_cameras({"d": CameraSource("d", emu.url(1))})

        def status():
            return service.statuses()["d"]

        await wait_for(lambda: status().state == "error", 40, "disk full error")
        assert status().last_error == "disk full"
        now = datetime.now(UTC)
        assert service.periods("d", now - timedelta(minutes=5), now)  # still answering
        service.retention = RetentionPolicy(min_free_bytes=1_200_000)
        await wait_for(lambda: status().state == "recording", 40, "recording again")
        await asyncio.sleep(3)
        assert status().state == "recording"
    finally:
        await service.stop()
    again = RecorderService(small_disk / "rec", tmp_path / "index.db", "srv1")
    await again.start()
    try:
        rows = rows_of(again, "d")
        assert rows
        check_segments_playable(again, rows)  # also the segment cut short by ENOSPC
    finally:
        await again.stop()
