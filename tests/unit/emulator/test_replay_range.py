"""Replay request headers and the ONVIF replay RTP header extension, pure."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from emulator.replay_range import (
    RangeError,
    format_clock,
    parse_clock,
    parse_range,
    parse_rate_control,
    unsupported_requirements,
)
from emulator.rtp import (
    NTP_EPOCH_OFFSET_S,
    REPLAY_CLEAN_POINT,
    REPLAY_END,
    replay_extension,
    rtp_header_with_extension,
)

T0 = datetime(2026, 12, 2, 10, 15, tzinfo=UTC).timestamp()


def test_clock_ranges() -> None:
    assert parse_clock("20261202T101500Z") == T0
    assert parse_clock("20261202T101500.25Z") == T0 + 0.25
    r = parse_range("clock=20261202T101500Z-20261202T101600.5Z")
    assert (r.kind, r.start, r.end) == ("clock", T0, T0 + 60.5)
    assert parse_range("clock=20261202T101500Z-").end is None
    assert parse_clock(format_clock(T0 + 1.5)) == T0 + 1.5


def test_npt_ranges_count_from_the_recording() -> None:
    r = parse_range("npt=3.5-10")
    assert (r.kind, r.start, r.end) == ("npt", 3.5, 10.0)
    assert parse_range("npt=0.000-").end is None
    assert parse_range("npt=-5").start == 0.0  # RFC 2326: from the beginning


@pytest.mark.parametrize(
    "header",
    [
        "",
        "clock",
        "clock=",
        "clock=-20261202T101500Z",
        "clock=20261202T101500-20261202T101600Z",  # no Z
        "clock=20261302T101500Z-",  # month 13
        "clock=2026-12-02T10:15:00Z-",  # extended form
        "clock=20261202T101600Z-20261202T101500Z",  # ends before it starts
        "npt=now-",
        "npt=abc-",
        "smpte=0:10:00-",
        "clock=20261202T101500Z-20261202T101600Z-20261202T101700Z",
    ],
)
def test_bad_ranges_are_refused(header: str) -> None:
    with pytest.raises(RangeError):
        parse_range(header)


def test_rate_control_and_require() -> None:
    assert parse_rate_control(None) is True
    assert parse_rate_control("No") is False
    with pytest.raises(ValueError):
        parse_rate_control("maybe")
    assert unsupported_requirements("onvif-replay") == []
    assert unsupported_requirements("onvif-replay, www.onvif.org/ver20/backchannel") == [
        "www.onvif.org/ver20/backchannel"
    ]


def test_replay_extension_layout() -> None:
    extension = replay_extension(T0 + 0.5, REPLAY_CLEAN_POINT | REPLAY_END | 0x1F, 0x1234)
    assert len(extension) == 16  # 4-byte extension header + 3 words
    ident, words, ntp, flags, cseq, padding = struct.unpack("!HHQBBH", extension)
    assert (ident, words, flags, cseq, padding) == (0xABAC, 3, 0xC0, 0x34, 0)  # mbz bits clear
    assert ntp >> 32 == int(T0) + NTP_EPOCH_OFFSET_S
    assert (ntp & 0xFFFFFFFF) == 1 << 31
    header = rtp_header_with_extension(True, 7, 9000, 0xABCDEF01, extension)
    assert header[0] == 0x90 and header[1] == 0x80 | 96  # version 2 with X bit; marker
    assert header[12:] == extension
