"""Reading an ONVIF replay stream: capture times from the 0xABAC extension, the BYE,
and the token bucket that paces downloads."""

from __future__ import annotations

import struct
import threading

from recorder import TokenBucket
from recorder._replay_rtp import ReplayScanner, ntp_to_unix_ms, replay_extension_time

NTP_OFFSET = 2_208_988_800


def ntp(unix_s: float) -> int:
    seconds = int(unix_s)
    return ((seconds + NTP_OFFSET) << 32) | int((unix_s - seconds) * (1 << 32))


def rtp(stamp: int, capture_s: float | None, payload: bytes = b"\x65abc") -> bytes:
    first = 0x90 if capture_s is not None else 0x80
    head = struct.pack("!BBHII", first, 0x80 | 96, 1, stamp, 0x1234)
    if capture_s is not None:
        head += struct.pack("!HHQBBH", 0xABAC, 3, ntp(capture_s), 0x80, 7, 0)
    return head + payload


def frame(channel: int, packet: bytes) -> bytes:
    return b"$" + bytes((channel,)) + len(packet).to_bytes(2, "big") + packet


BYE = struct.pack("!BBH", 0x81, 203, 1) + b"\x00\x00\x12\x34"
SR = struct.pack("!BBH", 0x80, 200, 6) + bytes(24)


def test_ntp_to_unix_milliseconds() -> None:
    assert ntp_to_unix_ms(ntp(1_796_206_411.392)) == 1_796_206_411_392
    assert ntp_to_unix_ms(NTP_OFFSET << 32) == 0


def test_the_extension_gives_the_capture_time_and_flags() -> None:
    found = replay_extension_time(rtp(90_000, 1_000.5))
    assert found == (1_000_500, 0x80)
    assert replay_extension_time(rtp(90_000, None)) is None
    assert replay_extension_time(b"\x90\x60" + bytes(10)) is None  # extension cut off


def test_scanner_maps_timestamps_across_chunks_and_sees_the_bye() -> None:
    data = frame(0, rtp(1000, 10.0)) + frame(0, rtp(4600, 10.04)) + frame(1, SR + BYE)
    scanner = ReplayScanner()
    ended = [scanner.feed(data[i : i + 7]) for i in range(0, len(data), 7)]
    assert ended[-1] and not any(ended[:-1])
    assert scanner.capture_ms(1000) == 10_000
    assert scanner.capture_ms(4600) == 10_040
    assert scanner.capture_ms(4600) is None  # taken once


def test_scanner_skips_rtsp_answers_between_frames_and_rtcp_without_bye() -> None:
    answer = b"RTSP/1.0 200 OK\r\nCSeq: 9\r\nContent-Length: 3\r\n\r\nabc"
    scanner = ReplayScanner()
    assert not scanner.feed(frame(1, SR) + answer + frame(0, rtp(77, 5.0)))
    assert scanner.capture_ms(77) == 5_000


def test_bucket_lets_a_burst_through_then_paces_to_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(1000, burst_bytes=500, clock=lambda: now[0])
    assert bucket.debit(400) == 0.0
    assert bucket.debit(600) == 0.5  # 500 bytes in debt at 1000 B/s
    now[0] = 0.5
    assert bucket.debit(0) == 0.0  # the debt is paid
    now[0] = 100.0
    assert bucket.debit(500) == 0.0  # never more than the burst saved up
    assert bucket.debit(1) > 0


def test_bucket_wait_ends_when_stopped() -> None:
    bucket = TokenBucket(1, burst_bytes=1)
    stop = threading.Event()
    stop.set()
    assert bucket.take(1000, stop) is False
