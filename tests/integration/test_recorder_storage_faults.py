"""Storage faults while recording: index.db deleted or corrupted, segment files deleted
by hand, the disk turned read-only, the wall clock jumping an hour. The recorder keeps
recording or reports a clear error, and no video still on disk is lost or hidden from
the timeline."""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from test_recorder_live import check_segments_playable, now, rows_of, wait_for

import recorder._segment_writer as segment_writer
from recorder import CameraSource, RecorderService

pytestmark = pytest.mark.timeout(120)


def covered_s(service: RecorderService, camera_id: str, start, end) -> float:
    return sum((p.end - p.start).total_seconds() for p in service.periods(camera_id, start, end))


async def recording(emulator, tmp_path: Path, **kwargs) -> RecorderService:
    service = RecorderService(
        tmp_path / "rec", tmp_path / "index.db", "srv1", segment_seconds=1.0, **kwargs
    )
    await service.start()
    await service.set_cameras({"c": CameraSource("c", emulator.url(1))})
    await wait_for(lambda: service.statuses()["c"].state == "recording", 30, "recording")
    return service


async def test_index_deleted_while_running_hides_nothing_and_is_rebuilt(
    emulator, tmp_path: Path
) -> None:
    start = now()
    service = await recording(emulator, tmp_path)
    try:
        await asyncio.sleep(4)
        for path in tmp_path.glob("index.db*"):
            path.unlink()
        await asyncio.sleep(4)
        assert service.statuses()["c"].state == "recording"
        end = now()
        assert covered_s(service, "c", start, end) >= 6.0
    finally:
        await service.stop()
    again = RecorderService(tmp_path / "rec", tmp_path / "index.db", "srv1")
    await again.start()
    try:
        assert covered_s(again, "c", start, end) >= 6.0  # rebuilt from the files
    finally:
        await again.stop()


async def test_index_corrupted_while_running_is_rebuilt_from_the_files(
    emulator, tmp_path: Path
) -> None:
    start = now()
    service = await recording(emulator, tmp_path)
    try:
        await asyncio.sleep(4)
        before = covered_s(service, "c", start, now())
        with open(tmp_path / "index.db", "r+b") as db:
            db.seek(0)
            db.write(b"\xde\xad\xbe\xef" * 1024)
        await asyncio.sleep(4)
        assert service.statuses()["c"].state == "recording"
        end = now()
        after = covered_s(service, "c", start, end)
        assert after >= before + 2.0  # nothing hidden, and it keeps growing
    finally:
        await service.stop()
    again = RecorderService(tmp_path / "rec", tmp_path / "index.db", "srv1")
    await again.start()  # a corrupt index is set aside and rebuilt from the files
    try:
        assert covered_s(again, "c", start, end) >= after - 1.0
    finally:
        await again.stop()


async def test_segments_deleted_by_hand_leave_the_timeline_and_recording_goes_on(
    emulator, tmp_path: Path
) -> None:
    start = now()
    service = await recording(emulator, tmp_path)
    try:
        await asyncio.sleep(5)
        await service._flush()
        closed = [r for r in rows_of(service, "c") if not r.open]
        assert len(closed) >= 2
        gone = closed[0]
        (service.recordings_dir / gone.path).unlink()
        await asyncio.sleep(3)
        assert service.statuses()["c"].state == "recording"
        out = tmp_path / "export.mp4"
        await service.export("c", start, now() - timedelta(seconds=1), out)
        assert out.stat().st_size > 0
    finally:
        await service.stop()


@pytest.fixture
def ext4_disk(tmp_path: Path):
    """A small ext4 file system on a loop device that turns read-only on an error, as a
    real disk does (errors=remount-ro); yields (mount point, its /sys/fs/ext4 name)."""
    image, mount_point = tmp_path / "disk.img", tmp_path / "disk"
    mount_point.mkdir()
    with open(image, "wb") as f:
        f.truncate(64 * 2**20)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True)
    mounted = made.returncode == 0 and (
        subprocess.run(
            ["mount", "-o", "loop,errors=remount-ro", str(image), str(mount_point)],
            capture_output=True,
        ).returncode
        == 0
    )
    if not mounted:
        pytest.skip("cannot make and mount an ext4 loop device (needs root and e2fsprogs)")
    try:
        source = subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE", str(mount_point)], capture_output=True, text=True
        ).stdout.strip()
        yield mount_point, Path(source).name
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


async def test_disk_turning_read_only_is_a_clear_error_and_hides_nothing(
    emulator, ext4_disk: tuple[Path, str]
) -> None:
    disk, device = ext4_disk
    start = now()
    service = await recording(emulator, disk, stall_timeout_s=2.0)
    try:
        await asyncio.sleep(4)
        before = covered_s(service, "c", start, now())
        Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("1")
        await wait_for(lambda: service.statuses()["c"].state == "error", 30, "an error")
        error = service.statuses()["c"].last_error
        assert error and "read-only" in error, error
        await asyncio.sleep(3)
        assert service.statuses()["c"].state == "error"  # says so, and keeps saying so
        assert covered_s(service, "c", start, now()) >= before  # what is on disk stays
    finally:
        await service.stop()


class _ShiftedTime:
    """The `time` module with wall-clock time moved by `offset_s` (monotonic untouched)."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def time_ns(self) -> int:
        return time.time_ns() + int(self.offset_s * 1e9)

    def time(self) -> float:
        return time.time() + self.offset_s

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


@pytest.mark.parametrize("jump_s", [-3600.0, 3600.0])
async def test_clock_jump_of_an_hour_keeps_recording_and_every_segment(
    emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jump_s: float
) -> None:
    """The wall clock jumps by an hour and back while recording (an NTP step on a node
    that was set wrong): the camera keeps recording, no segment overwrites another,
    and every segment on disk is indexed and on the timeline."""
    shifted = _ShiftedTime()
    monkeypatch.setattr(segment_writer, "time", shifted)
    start = now()
    service = await recording(emulator, tmp_path)
    try:
        await asyncio.sleep(4)
        shifted.offset_s = jump_s
        await asyncio.sleep(5)
        assert service.statuses()["c"].state == "recording"
        shifted.offset_s = 0.0
        await asyncio.sleep(4)
        assert service.statuses()["c"].state == "recording"
    finally:
        await service.stop()
    end = now()
    files = sorted(
        p.relative_to(tmp_path / "rec").as_posix() for p in (tmp_path / "rec").rglob("*.mp4")
    )
    again = RecorderService(tmp_path / "rec", tmp_path / "index.db", "srv1")
    await again.start()
    try:
        rows = rows_of(again, "c")
        assert sorted(r.path for r in rows) == files  # every file indexed, none overwritten
        check_segments_playable(again, rows)
        low, high = (
            min(start, start + timedelta(seconds=jump_s)),
            end + timedelta(seconds=max(jump_s, 0)),
        )
        assert (
            covered_s(again, "c", low - timedelta(minutes=1), high + timedelta(minutes=1)) >= 10.0
        )
    finally:
        await again.stop()
