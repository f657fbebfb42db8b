"""Playback's plan and timeline (pure): one server per instant, gaps skipped, media
times that say which wall-clock time every moment of the answer shows, at any speed;
frames placed on that timeline, the GOP before the start packed into its first tick."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from node.live._playback import PlannedPiece, PlaybackPlan, _Output, plan_pieces
from node.live._recorded import RecordedFrame
from recorder import LiveFrame, Period, StreamInfo

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_pieces_skip_gaps_and_span_servers() -> None:
    periods = [
        Period(at(0), at(10), "a"),
        Period(at(8), at(20), "b"),  # overlap: a is used until it ends
        Period(at(30), at(40), "a"),  # a gap of 10 s before it
    ]
    pieces = plan_pieces(periods, at(5), at(35), speed=1)
    assert [(p.server_id, p.start, p.end, p.media_s) for p in pieces] == [
        ("a", at(5), at(10), 0.0),
        ("b", at(10), at(20), 5.0),
        ("a", at(30), at(35), 15.0),
    ]
    fast = plan_pieces(periods, at(5), at(35), speed=4)
    assert [p.media_s for p in fast] == [0.0, 1.25, 3.75]


def test_timeline_header_is_compact_json() -> None:
    plan = PlaybackPlan("cam", 2, [PlannedPiece("a", at(0), at(4), 0.0)], at(4))
    body = json.loads(plan.timeline_json())
    assert body == {
        "speed": 2,
        "pieces": [
            {
                "media_s": 0.0,
                "start": "2026-01-01T10:00:00Z",
                "end": "2026-01-01T10:00:04Z",
                "server_id": "a",
            }
        ],
        "next": "2026-01-01T10:00:04Z",
    }


def frame(wall_s: float, key: bool) -> RecordedFrame:
    data = b"\x00\x00\x00\x01\x67\x42\x00\x1e\x00\x00\x00\x01\x68\xce" if key else b""
    data += b"\x00\x00\x00\x01" + (b"\x65" if key else b"\x41") + b"\x88"
    stamp = round(wall_s * 90000)
    return RecordedFrame(
        LiveFrame(data, key, stamp, stamp), round((T0.timestamp() + wall_s) * 1000)
    )


def test_frames_on_the_timeline(monkeypatch) -> None:
    import node.live._playback as playback

    monkeypatch.setattr(playback, "init_segment", lambda info, key: b"INIT")
    out = _Output(speed=2)
    out.new_stream(StreamInfo("h264", b"\x00\x00\x00\x01\x67", 0, 0))
    piece = PlannedPiece("a", at(1.0), at(3.0), media_s=10.0)
    data = b""
    # a GOP from 0.0 s: frames before the start share the first ticks
    for wall in (0.0, 0.5, 1.0, 1.5, 2.0):
        data += out.add(piece, frame(wall, key=wall == 0.0))
    data += out.end_piece(piece)
    assert data.startswith(b"INIT")
    samples = _samples(data[4:])
    dts = [s[0] for s in samples]
    assert dts[:2] == [900000, 900001]  # 10 s: the lead-in packed together
    assert dts[2:] == [900002, 922500, 945000]  # 1.0 s -> 10 s (bumped a tick), then /2
    assert samples[-1][1] == 990000 - 945000  # the last lasts until the piece ends (11 s)


def _samples(data: bytes) -> list[tuple[int, int]]:
    """(decode time, duration) of every sample of the fragments in `data`."""
    out = []
    at_ = 0
    while at_ < len(data):
        size = int.from_bytes(data[at_ : at_ + 4], "big")
        box = data[at_ : at_ + size]
        if box[4:8] == b"moof":
            tfdt = box.find(b"tfdt")
            base = int.from_bytes(box[tfdt + 8 : tfdt + 16], "big")
            trun = box.find(b"trun")
            count = int.from_bytes(box[trun + 8 : trun + 12], "big")
            entry = trun + 16
            for _ in range(count):
                duration = int.from_bytes(box[entry : entry + 4], "big")
                out.append((base, duration))
                base += duration
                entry += 16
        at_ += size
    return out
