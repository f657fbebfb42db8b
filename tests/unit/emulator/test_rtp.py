"""RTP packetization (RFC 6184 / RFC 7798), RTCP SR and the clock SEI, pure."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.rtp import (
    NTP_EPOCH_OFFSET_S,
    add_emulation_prevention,
    clock_sei_text,
    fragment_nal,
    interleave,
    parse_clock_sei,
    rtp_header,
    sei_clock_nal,
    sender_report,
    split_annexb,
)


def _reassemble_h264(payloads: list[bytes]) -> bytes:
    if len(payloads) == 1:
        return payloads[0]
    first = payloads[0]
    nal = bytes(((first[0] & 0xE0) | (first[1] & 0x1F),))
    return nal + b"".join(p[2:] for p in payloads)


def _reassemble_h265(payloads: list[bytes]) -> bytes:
    if len(payloads) == 1:
        return payloads[0]
    first = payloads[0]
    header = bytes(((first[0] & 0x81) | ((first[2] & 0x3F) << 1), first[1]))
    return header + b"".join(p[3:] for p in payloads)


def test_split_annexb_handles_3_and_4_byte_start_codes() -> None:
    stream = b"\x00\x00\x00\x01\x67abc\x00\x00\x01\x68de\x00\x00\x00\x01\x65fgh"
    assert split_annexb(stream) == [b"\x67abc", b"\x68de", b"\x65fgh"]
    assert split_annexb(b"") == []


def test_small_nal_is_a_single_packet() -> None:
    nal = b"\x65" + b"x" * 100
    assert fragment_nal("h264", nal) == [nal]


@given(st.integers(min_value=1401, max_value=20000))
def test_h264_fu_a_round_trip(size: int) -> None:
    nal = bytes([0x65]) + bytes(i % 251 for i in range(size - 1))
    payloads = fragment_nal("h264", nal)
    assert all(len(p) <= 1400 for p in payloads)
    assert all(p[0] & 0x1F == 28 and p[0] & 0xE0 == 0x65 & 0xE0 for p in payloads)
    assert payloads[0][1] & 0x80 and not payloads[0][1] & 0x40
    assert payloads[-1][1] & 0x40 and not payloads[-1][1] & 0x80
    assert all(p[1] & 0xC0 == 0 for p in payloads[1:-1])
    assert _reassemble_h264(payloads) == nal


@given(st.integers(min_value=1401, max_value=20000))
def test_h265_fu_round_trip(size: int) -> None:
    nal = bytes([19 << 1, 1]) + bytes(i % 251 for i in range(size - 2))  # IDR_W_RADL
    payloads = fragment_nal("hevc", nal)
    assert all(len(p) <= 1400 for p in payloads)
    assert all((p[0] >> 1) & 0x3F == 49 for p in payloads)
    assert payloads[0][2] == 0x80 | 19 and payloads[-1][2] == 0x40 | 19
    assert _reassemble_h265(payloads) == nal


def test_rtp_header_fields() -> None:
    header = rtp_header(True, 70000, 2**32 + 5, 0xDEADBEEF)
    first, second, seq, ts, ssrc = struct.unpack("!BBHII", header)
    assert first == 0x80 and second == 0x80 | 96
    assert (seq, ts, ssrc) == (70000 & 0xFFFF, 5, 0xDEADBEEF)
    assert rtp_header(False, 1, 1, 1)[1] == 96


def test_interleave_frames_each_packet() -> None:
    data = interleave(2, [b"abc", b"de"])
    assert data == b"$\x02\x00\x03abc$\x02\x00\x02de"


def test_sender_report_maps_wall_clock_to_rtp_time() -> None:
    report = sender_report(0x01020304, 1_700_000_000.25, 123456, 10, 2000)
    assert len(report) == 28
    version, kind, length, ssrc, ntp, rtp, packets, octets = struct.unpack("!BBHIQIII", report)
    assert (version, kind, length, ssrc) == (0x80, 200, 6, 0x01020304)
    assert ntp >> 32 == 1_700_000_000 + NTP_EPOCH_OFFSET_S
    assert (ntp & 0xFFFFFFFF) == 1 << 30  # a quarter of a second
    assert (rtp, packets, octets) == (123456, 10, 2000)


def test_emulation_prevention() -> None:
    assert add_emulation_prevention(b"\x00\x00\x01") == b"\x00\x00\x03\x01"
    assert add_emulation_prevention(b"\x00\x00\x00\x00") == b"\x00\x00\x03\x00\x00"
    assert add_emulation_prevention(b"\x00\x00\x04") == b"\x00\x00\x04"


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_clock_sei_round_trip(codec: str) -> None:
    nal = sei_clock_nal(codec, 1_700_000_000.04, "Camera 7")
    assert parse_clock_sei(codec, nal) == "2023-11-14T22:13:20.040Z camera=Camera 7"
    kind = (nal[0] >> 1) & 0x3F if codec == "hevc" else nal[0] & 0x1F
    assert kind == (39 if codec == "hevc" else 6)
    assert b"\x00\x00\x00" not in nal and b"\x00\x00\x01" not in nal
    assert clock_sei_text(0.0, "x") == "1970-01-01T00:00:00.000Z camera=x"


def test_parse_clock_sei_ignores_other_sei() -> None:
    assert parse_clock_sei("h264", b"\x06\x05\x10" + b"\x00" * 16 + b"\x80") is None
    assert parse_clock_sei("h264", b"\x06\x01\x01\x00\x80") is None
    assert parse_clock_sei("h264", b"\x06") is None
