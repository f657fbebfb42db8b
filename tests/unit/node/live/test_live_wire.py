"""The node-to-node framing of live and recorded streams: what is encoded decodes the
same, whatever the chunking; bad input is refused with WireError."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.live import encode_end, encode_frame, encode_info
from node.live._wire import WireDecoder, WireError, WireFrame
from recorder import LiveFrame, StreamInfo

VP8 = b'{"codec": "vp8", "extradata": "", "width": 1, "height": 1}'
INFO = StreamInfo("h264", b"\x00\x00\x00\x01\x67\x42", 1280, 720, reordered=True)


def test_round_trip_across_any_chunking() -> None:
    frames = [
        LiveFrame(bytes([i]) * (i * 37 + 1), i % 5 == 0, i * 3600, i * 3600 - 1) for i in range(20)
    ]
    data = encode_info(INFO) + b"".join(encode_frame(f, 1000 + i) for i, f in enumerate(frames))
    data += encode_end("end of range")
    for size in (1, 7, 4096, len(data)):
        decoder = WireDecoder()
        items = []
        for at in range(0, len(data), size):
            items += decoder.feed(data[at : at + size])
        assert items[0] == INFO
        assert [i.frame for i in items[1:-1]] == frames
        assert [i.wall_ms for i in items[1:-1]] == list(range(1000, 1020))
        assert items[-1] == "end of range"


@given(st.binary(max_size=200))
def test_garbage_raises_wire_error_or_waits(data: bytes) -> None:
    decoder = WireDecoder()
    try:
        items = decoder.feed(data)
    except WireError:
        return
    assert all(isinstance(i, (StreamInfo, WireFrame, str)) for i in items)


@pytest.mark.parametrize(
    "record",
    [
        b"I" + struct.pack(">I", 2) + b"{}",  # info without fields
        b"I" + struct.pack(">I", len(VP8)) + VP8,
        b"F" + struct.pack(">I", 3) + b"abc",  # frame shorter than its header
        b"X" + struct.pack(">I", 0),  # unknown kind
        b"F" + struct.pack(">I", 1 << 30),  # too large
    ],
)
def test_bad_records_are_refused(record: bytes) -> None:
    with pytest.raises(WireError):
        WireDecoder().feed(record)
