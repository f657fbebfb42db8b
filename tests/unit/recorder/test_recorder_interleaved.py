"""The fused reader (InterleavedVideoReader) against the two-step reference: interleaved
framing, then VideoDepacketizer. Same access units for any stream and any split of the
bytes into reads, with RTCP, keep-alive answers, padding and header extensions mixed in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder._rtp import InterleavedVideoReader, VideoDepacketizer


def interleaved(channel: int, payload: bytes) -> bytes:
    return b"$" + bytes([channel]) + len(payload).to_bytes(2, "big") + payload


def rtp(payload: bytes, stamp: int, marker: bool, *, csrc: int = 0, ext: int = -1, pad: int = 0):
    first = 0x80 | csrc | (0x10 if ext >= 0 else 0) | (0x20 if pad else 0)
    header = bytes([first, (0x80 if marker else 0) | 96, 0, 1]) + stamp.to_bytes(4, "big")
    header += b"\x00\x00\x00\x01" + b"\x00\x00\x00\x02" * csrc
    if ext >= 0:
        header += b"\xbe\xde" + ext.to_bytes(2, "big") + b"\x00\x00\x00\x00" * ext
    tail = (b"\x00" * (pad - 1) + bytes([pad])) if pad else b""
    return header + payload + tail


def packetize(nal: bytes, hevc: bool, size: int) -> list[bytes]:
    """One NAL unit as a single-NAL packet or as fragmentation units."""
    if len(nal) <= size:
        return [nal]
    if hevc:
        head, body = nal[:2], nal[2:]
        kind = (head[0] >> 1) & 0x3F
        ph = bytes([(49 << 1) | (head[0] & 0x81), head[1]])
    else:
        head, body = nal[:1], nal[1:]
        kind = head[0] & 0x1F
        ph = bytes([(head[0] & 0xE0) | 28])
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    out = []
    for i, chunk in enumerate(chunks):
        flags = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
        out.append(ph + bytes([flags | kind]) + chunk)
    return out


def reference(codec: str, data: bytes) -> list[tuple[bytes, bool, int]]:
    dep = VideoDepacketizer(codec)
    out = []
    pos = 0
    while pos + 4 <= len(data):
        if data[pos] != 0x24:
            end = data.find(b"\r\n\r\n", pos)
            head = data[pos:end].lower()
            body = int(head.split(b"content-length:")[1]) if b"content-length:" in head else 0
            pos = end + 4 + body
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        channel, pkt = data[pos + 1], data[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if channel != 0:
            continue
        first = pkt[0]
        start = 12 + 4 * (first & 0x0F)
        if first & 0x10:
            start += 4 + 4 * int.from_bytes(pkt[start + 2 : start + 4], "big")
        end = len(pkt) - (pkt[-1] if first & 0x20 else 0)
        units = dep.push(pkt[start:end], int.from_bytes(pkt[4:8], "big"), pkt[1] & 0x80 != 0)
        out += units or []
    return out


nal_kinds = {"h264": [1, 5, 6, 7, 8], "hevc": [1, 19, 20, 32, 33, 34]}


@st.composite
def streams(draw):
    codec = draw(st.sampled_from(["h264", "hevc"]))
    hevc = codec == "hevc"
    frames = draw(st.integers(1, 6))
    data = b""
    stamp = draw(st.integers(0, 2**32 - 1))
    for _ in range(frames):
        nals = draw(st.lists(st.tuples(st.sampled_from(nal_kinds[codec]), st.integers(1, 3000)),
                             min_size=1, max_size=3))  # fmt: skip
        packets = []
        for kind, size in nals:
            head = bytes([kind << 1, 1]) if hevc else bytes([0x60 | kind])
            packets += packetize(
                head + bytes([size & 0xFF]) * size, hevc, draw(st.integers(50, 1400))
            )
        lose_marker = draw(st.booleans()) and len(packets) > 1 and frames > 1
        for i, payload in enumerate(packets):
            marker = i == len(packets) - 1 and not lose_marker
            ext = draw(st.sampled_from([-1, -1, 0, 2]))
            pad = draw(st.sampled_from([0, 0, 1, 4]))
            csrc = draw(st.sampled_from([0, 0, 1]))
            data += interleaved(0, rtp(payload, stamp, marker, csrc=csrc, ext=ext, pad=pad))
            if draw(st.integers(0, 9)) == 0:
                data += interleaved(1, b"\x80\xc8\x00\x06" + b"r" * 24)  # RTCP
            if draw(st.integers(0, 19)) == 0:
                data += b"RTSP/1.0 200 OK\r\nCSeq: 9\r\nContent-Length: 3\r\n\r\nabc"
        stamp = (stamp + 3600) % 2**32
    return codec, data, draw(st.lists(st.integers(1, 5000), max_size=20))


@settings(max_examples=150, deadline=None)
@given(streams())
def test_fused_reader_equals_framing_plus_depacketizer(example) -> None:
    codec, data, cuts = example
    reader = InterleavedVideoReader(codec)
    got = []
    pos = 0
    for cut in cuts:
        got += reader.feed(data[pos : pos + cut])
        pos += cut
    got += reader.feed(data[pos:])
    assert got == reference(codec, data)


def test_lost_first_fragment_drops_that_nal_only() -> None:
    reader = InterleavedVideoReader("h264")
    parts = packetize(b"\x65" + b"x" * 3000, False, 1000)
    data = b"".join(interleaved(0, rtp(p, 10, False)) for p in parts[1:])  # first lost
    data += interleaved(0, rtp(b"\x41abc", 10, True))
    assert reader.feed(data) == [(b"\x00\x00\x00\x01\x41abc", False, 10)]
    with pytest.raises(ValueError):
        InterleavedVideoReader("mjpeg")
