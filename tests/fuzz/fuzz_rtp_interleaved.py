"""Interleaved RTP over RTSP/TCP as the recorder reads it after PLAY.

`data` is the byte stream from a camera: `$`-framed RTP/RTCP packets (RFC 2326
§10.12), possibly with RTSP answers between them. For H.264 and for H.265:
`recorder._rtp.InterleavedVideoReader.feed` (the fast path) must give the same access
units whether the bytes come in one read or in two, and each unit is Annex B; the
reference `VideoDepacketizer` takes the same RTP payloads. No error is documented:
garbage is skipped, never raised.
"""

from __future__ import annotations

from recorder._rtp import START_CODE, InterleavedVideoReader, VideoDepacketizer


def _rtp_packets(data: bytes, channel: int = 0) -> list[tuple[bytes, int, bool]]:
    """(payload, timestamp, marker) of the RTP packets on `channel` (no extensions)."""
    packets, pos = [], 0
    while pos + 4 <= len(data) and data[pos] == 0x24:
        end = pos + 4 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        packet = data[pos + 4 : end]
        if data[pos + 1] == channel and len(packet) > 12 and packet[0] >> 6 == 2:
            start = 12 + 4 * (packet[0] & 0x0F)
            stamp = int.from_bytes(packet[4:8], "big")
            packets.append((packet[start:], stamp, bool(packet[1] & 0x80)))
        pos = end
    return packets


def fuzz_one(data: bytes) -> None:
    cut = len(data) * 7 // 13
    for codec in ("h264", "hevc"):
        whole = InterleavedVideoReader(codec).feed(data)
        split_reader = InterleavedVideoReader(codec)
        split = split_reader.feed(data[:cut]) + split_reader.feed(data[cut:])
        assert whole == split, (codec, cut)
        for unit, key, stamp in whole:
            assert unit.startswith(START_CODE) and len(unit) > len(START_CODE)
            assert isinstance(key, bool) and 0 <= stamp <= 0xFFFFFFFF
        depacketizer = VideoDepacketizer(codec)
        for payload, stamp, marker in _rtp_packets(data):
            for unit, key, _ in depacketizer.push(payload, stamp, marker) or ():
                assert unit.startswith(START_CODE) and isinstance(key, bool)
