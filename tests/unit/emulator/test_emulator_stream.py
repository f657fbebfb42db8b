"""StreamPath sending logic with a fake transport: continuity, keyframe start, limits."""

from __future__ import annotations

import struct
from functools import cache
from itertools import pairwise

from emulator.rtp import parse_clock_sei
from emulator.stream import StreamPath, Subscriber
from emulator.video import EncodeParams, encode_loop


@cache
def _loop():
    return encode_loop("Camera 1", EncodeParams("h264", 160, 96, 10, 200_000, 5, 2))


class FakeTransport:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        self.chunks.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closed


def _packets(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        assert data[pos] == 0x24
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        out.append((data[pos + 1], data[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return out


def _path() -> StreamPath:
    path = StreamPath("Camera 1", "h264", 10, loop=_loop())
    path.start_wall = 1_700_000_000.0
    return path


def test_client_starts_at_keyframe_and_rtp_info_predicts_it() -> None:
    path = _path()
    for _ in range(2):  # move into the middle of a GOP
        path.send_frame(0.0)
    seq, rtptime = path.next_keyframe_position()
    transport = FakeTransport()
    path.add(Subscriber(tcp=transport))  # type: ignore[arg-type]
    for _ in range(30):
        path.send_frame(0.0)
    packets = _packets(b"".join(transport.chunks))
    rtp = [p for channel, p in packets if channel == 0]
    rtcp = [p for channel, p in packets if channel == 1]
    assert rtcp and rtcp[0][1] == 200  # a sender report comes with the first frame
    first_seq, first_ts = struct.unpack("!HI", rtp[0][2:8])
    assert (first_seq, first_ts) == (seq, rtptime)
    assert rtp[0][12] & 0x1F in (7, 8, 6, 5)  # SPS/PPS/SEI/IDR: decodable at once
    seqs = [struct.unpack("!H", p[2:4])[0] for p in rtp]
    assert all((b - a) & 0xFFFF == 1 for a, b in pairwise(seqs))  # also across loop ends
    stamps = list(dict.fromkeys(struct.unpack("!I", p[4:8])[0] for p in rtp))
    assert all((b - a) & 0xFFFFFFFF == 9000 for a, b in pairwise(stamps))
    markers = sum(1 for p in rtp if p[1] & 0x80)
    assert markers == 30 - 3  # one per frame sent (from the keyframe on)


def test_clock_sei_before_every_idr() -> None:
    path = _path()
    transport = FakeTransport()
    path.add(Subscriber(tcp=transport))  # type: ignore[arg-type]
    for _ in range(10):
        path.send_frame(0.0)
    rtp = [p for channel, p in _packets(b"".join(transport.chunks)) if channel == 0]
    texts = [parse_clock_sei("h264", p[12:]) for p in rtp if p[12] & 0x1F == 6]
    texts = [t for t in texts if t]
    assert texts == [
        "2023-11-14T22:13:20.000Z camera=Camera 1",
        "2023-11-14T22:13:20.500Z camera=Camera 1",
    ]


def test_all_clients_get_the_same_bytes_on_their_channel() -> None:
    path = _path()
    a, b = FakeTransport(), FakeTransport()
    path.add(Subscriber(tcp=a))  # type: ignore[arg-type]
    path.add(Subscriber(tcp=b, rtp_channel=2, rtcp_channel=3))  # type: ignore[arg-type]
    for _ in range(6):
        path.send_frame(0.0)
    pa, pb = _packets(b"".join(a.chunks)), _packets(b"".join(b.chunks))
    assert [p for _, p in pa] == [p for _, p in pb]
    assert {c for c, _ in pb} == {2, 3}
    assert len(a.chunks) == 6  # one write per access unit


def test_stall_sends_nothing_and_keeps_sequence_continuous() -> None:
    path = _path()
    transport = FakeTransport()
    path.add(Subscriber(tcp=transport))  # type: ignore[arg-type]
    path.send_frame(0.0)
    path.stalled = True
    for _ in range(7):
        path.send_frame(0.0)
    sent = len(transport.chunks)
    path.stalled = False
    for _ in range(5):
        path.send_frame(0.0)
    assert sent == 1 and len(transport.chunks) > 1


def test_slow_client_drops_frames_then_is_closed() -> None:
    path = _path()
    path.soft_buffer_bytes = 1000
    path.stuck_timeout_s = 1.0
    slow, fast = FakeTransport(), FakeTransport()
    stuck = []
    path.add(Subscriber(tcp=slow, on_stuck=lambda: stuck.append(True)))  # type: ignore[arg-type]
    path.add(Subscriber(tcp=fast))  # type: ignore[arg-type]
    path.send_frame(0.0)
    slow.buffered = 5000
    for step in range(1, 5):
        path.send_frame(step * 0.1)
    assert len(slow.chunks) == 1 and len(fast.chunks) == 5 and not stuck
    path.send_frame(2.0)
    assert stuck and len(fast.chunks) == 6


def test_fast_start_sends_the_current_gop_then_continues() -> None:
    path = _path()
    path.fast_start = True
    for _ in range(3):  # keyframe + 2 frames of the current GOP already sent
        path.send_frame(0.0)
    expected_first = path.first_position()
    transport = FakeTransport()
    first = path.add(Subscriber(tcp=transport))  # type: ignore[arg-type]
    assert first == expected_first
    assert len(transport.chunks) == 1  # the burst, in one write
    for _ in range(4):
        path.send_frame(0.0)
    packets = _packets(b"".join(transport.chunks))
    assert packets[0][0] == 1 and packets[0][1][1] == 200  # sender report first
    rtp = [p for channel, p in packets if channel == 0]
    assert struct.unpack("!HI", rtp[0][2:8]) == first
    assert rtp[0][12] & 0x1F == 7  # the burst starts at the keyframe's SPS
    seqs = [struct.unpack("!H", p[2:4])[0] for p in rtp]
    assert all((b - a) & 0xFFFF == 1 for a, b in pairwise(seqs))  # burst joins live seamlessly
    assert sum(1 for p in rtp if p[1] & 0x80) == 3 + 4


def test_fast_start_waits_for_a_keyframe_when_stalled() -> None:
    path = _path()
    path.fast_start = True
    path.send_frame(0.0)
    path.stalled = True
    transport = FakeTransport()
    assert path.add(Subscriber(tcp=transport)) == path.next_keyframe_position()  # type: ignore[arg-type]
    assert transport.chunks == []
