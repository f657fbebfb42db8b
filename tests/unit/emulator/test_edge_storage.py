"""Edge storage: the frame ring (pure), the unit stores and the recorder's gaps."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.edge_recorder import EdgeRecorder, FileUnits, HeldUnits
from emulator.edge_storage import FrameRing
from emulator.video import AccessUnit, make_access_unit

FPS = 10


def ring_with(frames: int, gop: int = 5, start: float = 1000.0, duration_s: float = 60.0):
    ring = FrameRing(duration_s, FPS)
    for n in range(frames):
        ring.append(start + n / FPS, n, n % gop == 0)
    return ring


def test_ring_drops_frames_older_than_its_duration() -> None:
    ring = FrameRing(duration_s=2.0, fps=FPS)
    dropped: list[int] = []
    for n in range(50):
        dropped += ring.append(1000.0 + n / FPS, n, n % 5 == 0)
    assert ring.latest == pytest.approx(1004.9)
    assert ring.latest - ring.earliest <= 2.0  # type: ignore[operator]
    assert dropped == list(range(len(dropped)))  # oldest first, each once
    assert len(ring) + len(dropped) == 50
    assert ring.get(ring.first_serial - 1) is None and ring.get(ring.next_serial) is None


def test_ring_never_holds_more_than_its_capacity() -> None:
    ring = FrameRing(duration_s=1.0, fps=FPS, margin_frames=0)
    for n in range(100):
        ring.append(1000.0, n, True)  # same time: only the capacity limits it
    assert len(ring) == ring.capacity == 10
    assert ring.get(ring.first_serial).ref == 90  # type: ignore[union-attr]


def test_frames_must_come_in_capture_order() -> None:
    ring = ring_with(3)
    with pytest.raises(ValueError):
        ring.append(999.0, 99, True)


def test_replay_starts_at_the_keyframe_at_or_before_the_start() -> None:
    ring = ring_with(30, gop=5)  # keyframes at 1000.0, 1000.5, 1001.0, ...
    assert ring.keyframe_at_or_before(1001.0) == 10  # exactly on a keyframe
    assert ring.keyframe_at_or_before(1001.34) == 10
    assert ring.keyframe_at_or_before(1001.5) == 15
    assert ring.keyframe_at_or_before(5000.0) == 25
    assert ring.keyframe_at_or_before(0.0) == 0  # before the data: its first keyframe
    assert ring.next_keyframe(11) == 15 and ring.next_keyframe(26) is None


def test_first_keyframe_after_the_oldest_frames_were_dropped() -> None:
    ring = FrameRing(duration_s=1.0, fps=FPS)
    for n in range(33):
        ring.append(1000.0 + n / FPS, n, n % 5 == 0)
    oldest = ring.get(ring.first_serial)
    assert oldest is not None and not oldest.keyframe
    serial = ring.keyframe_at_or_before(0.0)
    assert serial is not None and ring.get(serial).keyframe  # type: ignore[union-attr]


def test_sections_split_at_gaps() -> None:
    ring = FrameRing(60.0, FPS)
    for n in range(10):
        ring.append(1000.0 + n / FPS, n, n == 0)
    for n in range(10):
        ring.append(1005.0 + n / FPS, 10 + n, n == 0)
    assert ring.sections() == [(1000.0, pytest.approx(1000.9)), (1005.0, pytest.approx(1005.9))]


def test_memory_of_ten_minutes_at_25_fps_is_small() -> None:
    ring = FrameRing(600.0, 25)
    assert ring.memory_bytes() < 300_000  # 17 bytes a frame, whatever the bitrate


@given(st.lists(st.floats(0.001, 2.0), min_size=1, max_size=200), st.floats(0.5, 20.0))
def test_ring_holds_exactly_the_last_duration(steps: list[float], duration: float) -> None:
    ring = FrameRing(duration, FPS)
    wall, walls = 0.0, []
    for n, step in enumerate(steps):
        wall += step
        walls.append(wall)
        ring.append(wall, n, n % 3 == 0)
    kept = [w for w in walls if wall - w <= duration][-ring.capacity :]
    held = [ring.get(s).wall for s in range(ring.first_serial, ring.next_serial)]  # type: ignore[union-attr]
    assert held == kept


def unit(keyframe: bool, size: int = 3000) -> AccessUnit:
    nal = bytes([0x65 if keyframe else 0x41]) + bytes(range(256)) * (size // 256)
    return make_access_unit("h264", [nal], keyframe)


def test_file_units_give_back_what_was_written_and_delete_dropped_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("emulator.edge_recorder.CHUNK_BYTES", 10_000)
    store = FileUnits(tmp_path / "cam1", "h264")
    key, inter = unit(True), unit(False)
    slim = AccessUnit((), inter.payloads, False)  # slimmed loops keep only payloads
    refs = [store.put(0, key if n % 4 == 0 else slim) for n in range(16)]
    assert store.get(refs[0]) == key
    assert store.get(refs[1]) == slim
    chunks = sorted((tmp_path / "cam1").iterdir())
    assert len(chunks) >= 3
    store.release(refs[:9])
    assert store.get(refs[0]) is None
    assert store.get(refs[15]) is not None
    assert len(sorted((tmp_path / "cam1").iterdir())) < len(chunks)
    store.close()


def test_recorder_leaves_a_gap_while_off_and_resumes_at_a_keyframe() -> None:
    ring = FrameRing(60.0, FPS)
    recorder = EdgeRecorder("Cam", "h264", FPS, {}, ring, HeldUnits())
    wall = 1000.0
    for n in range(10):
        recorder.record(wall, 0, unit(n % 5 == 0, 300))
        wall += 1 / FPS
    recorder.paused = True
    for n in range(10):
        recorder.record(wall, 0, unit(n % 5 == 0, 300))
        wall += 1 / FPS
    recorder.paused = False
    for n in range(3, 10):  # resumes mid-GOP: frames before the next keyframe are skipped
        recorder.record(wall, 0, unit(n % 5 == 0, 300))
        wall += 1 / FPS
    assert len(ring) == 10 + 5
    first_after = ring.get(10)
    assert first_after is not None and first_after.keyframe
    assert len(ring.sections()) == 2
    assert recorder.unit(first_after) is not None


def test_ws_discovery_announces_profile_g_only_with_edge_storage() -> None:
    from dataclasses import replace

    from emulator.camera import CameraSpec
    from emulator.wsdiscovery_messages import AppSequence, build_hello

    plain = CameraSpec(1, "Cam", "127.0.0.1", 8554, 8000)
    hello = build_hello(replace(plain, edge_storage_s=600.0), AppSequence(1, 1))
    assert b"onvif://www.onvif.org/Profile/G" in hello
    assert b"onvif://www.onvif.org/Profile/G" not in build_hello(plain, AppSequence(1, 2))
