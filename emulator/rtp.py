"""RTP/RTCP wire helpers for H.264 (RFC 6184) and H.265 (RFC 7798), pure code.

- `split_annexb`: Annex-B byte stream -> NAL units.
- `fragment_nal`: one NAL unit -> RTP payloads (single NAL unit packet when it fits,
  FU-A for H.264, FU for H.265 otherwise). Done once per access unit of a loop.
- `rtp_header`, `interleave`: the per-send work (12-byte header, `$` framing for TCP).
- `sender_report`: RTCP SR carrying the NTP <-> RTP timestamp mapping; `rtcp_bye`.
- `replay_extension`: the ONVIF replay RTP header extension (absolute time per frame).
- `sei_clock_nal`: SEI user_data_unregistered NAL carrying the frame's UTC time.
"""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime

MAX_PAYLOAD = 1400  # bytes of RTP payload: fits a 1500-byte MTU with IP/UDP/RTP headers
RTP_CLOCK_HZ = 90_000
PAYLOAD_TYPE = 96
NTP_EPOCH_OFFSET_S = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01

# Fixed UUID that marks camkeep's clock SEI (user_data_unregistered, payload type 5).
CLOCK_SEI_UUID = uuid.UUID("0c4a6d3e-8f5b-4e2a-9c71-63616d6b6565")

H264_VCL_TYPES = frozenset(range(1, 6))
H264_IDR = 5
H264_SPS, H264_PPS, H264_SEI = 7, 8, 6
H265_VPS, H265_SPS, H265_PPS, H265_PREFIX_SEI = 32, 33, 34, 39
H265_IRAP_TYPES = frozenset(range(16, 24))

_RTP_HEADER = struct.Struct("!BBHII")


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B stream (start codes 00 00 01 or 00 00 00 01 removed)."""
    nals: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        begin = start + 3
        nxt = data.find(b"\x00\x00\x01", begin)
        end = len(data) if nxt == -1 else nxt
        nal = data[begin:end]
        # A 4-byte start code leaves one trailing zero on the previous unit.
        nal = nal.rstrip(b"\x00") if nxt != -1 else nal
        if nal:
            nals.append(nal)
        start = nxt
    return nals


def nal_type(codec: str, nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F if codec == "hevc" else nal[0] & 0x1F


def is_vcl(codec: str, nal: bytes) -> bool:
    kind = nal_type(codec, nal)
    return kind < 32 if codec == "hevc" else kind in H264_VCL_TYPES


def fragment_nal(codec: str, nal: bytes, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """RTP payloads that carry `nal` (single NAL unit packet or fragmentation units)."""
    if len(nal) <= max_payload:
        return [nal]
    if codec == "hevc":
        kind = (nal[0] >> 1) & 0x3F
        prefix = bytes(((nal[0] & 0x81) | (49 << 1), nal[1]))
        body, fu_type = nal[2:], kind
    else:
        prefix = bytes(((nal[0] & 0xE0) | 28,))
        body, fu_type = nal[1:], nal[0] & 0x1F
    chunk = max_payload - len(prefix) - 1
    payloads = []
    for offset in range(0, len(body), chunk):
        start_bit = 0x80 if offset == 0 else 0
        end_bit = 0x40 if offset + chunk >= len(body) else 0
        payloads.append(
            prefix + bytes((start_bit | end_bit | fu_type,)) + body[offset : offset + chunk]
        )
    return payloads


def rtp_header(marker: bool, seq: int, timestamp: int, ssrc: int) -> bytes:
    return _RTP_HEADER.pack(
        0x80, (0x80 if marker else 0) | PAYLOAD_TYPE, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc
    )


ONVIF_REPLAY_EXTENSION_ID = 0xABAC
REPLAY_CLEAN_POINT, REPLAY_END, REPLAY_DISCONTINUITY = 0x80, 0x40, 0x20
_REPLAY_EXTENSION = struct.Struct("!HHQBBH")


def replay_extension(unix_time: float, flags: int, cseq: int) -> bytes:
    """ONVIF Streaming replay header extension: id 0xABAC, length 3 words, the frame's
    NTP time, flags C (clean point) E (end of a contiguous section) D (discontinuity)
    and 5 bits that must be zero, the low byte of the PLAY's CSeq, 16 bits padding."""
    return _REPLAY_EXTENSION.pack(
        ONVIF_REPLAY_EXTENSION_ID, 3, ntp_timestamp(unix_time), flags & 0xE0, cseq & 0xFF, 0
    )


def rtp_header_with_extension(
    marker: bool, seq: int, timestamp: int, ssrc: int, extension: bytes
) -> bytes:
    """RTP header with the X bit set, followed by `extension` (RFC 3550 §5.3.1)."""
    return (
        _RTP_HEADER.pack(
            0x90,
            (0x80 if marker else 0) | PAYLOAD_TYPE,
            seq & 0xFFFF,
            timestamp & 0xFFFFFFFF,
            ssrc,
        )
        + extension
    )


def interleave(channel: int, packets: list[bytes]) -> bytes:
    """RTSP interleaved framing (RFC 2326 §10.12) of several packets, joined in one write."""
    head = b"$" + bytes((channel,))
    parts = []
    for packet in packets:
        parts.append(head + len(packet).to_bytes(2, "big"))
        parts.append(packet)
    return b"".join(parts)


def ntp_timestamp(unix_time: float) -> int:
    """64-bit NTP timestamp (RFC 3550 §4) of a Unix time in seconds."""
    seconds = int(unix_time) + NTP_EPOCH_OFFSET_S
    fraction = int((unix_time % 1.0) * (1 << 32)) & 0xFFFFFFFF
    return (seconds << 32) | fraction


def sender_report(
    ssrc: int, unix_time: float, rtp_timestamp: int, packet_count: int, octet_count: int
) -> bytes:
    """RTCP SR without report blocks (RFC 3550 §6.4.1): maps wall-clock time to RTP time."""
    return struct.pack(
        "!BBHIQIII",
        0x80,
        200,
        6,  # length in 32-bit words minus one
        ssrc,
        ntp_timestamp(unix_time),
        rtp_timestamp & 0xFFFFFFFF,
        packet_count & 0xFFFFFFFF,
        octet_count & 0xFFFFFFFF,
    )


def rtcp_bye(ssrc: int) -> bytes:
    """RTCP BYE for one source (RFC 3550 §6.6): the stream has ended."""
    return struct.pack("!BBHI", 0x81, 203, 1, ssrc)


def report_and_bye(
    ssrc: int, unix_time: float, rtp_timestamp: int, packet_count: int, octet_count: int
) -> bytes:
    """Compound RTCP packet SR + BYE (a compound packet starts with a report, §6.1)."""
    return sender_report(ssrc, unix_time, rtp_timestamp, packet_count, octet_count) + rtcp_bye(ssrc)


def add_emulation_prevention(rbsp: bytes) -> bytes:
    """Insert 0x03 after two zero bytes when the next byte is <= 3 (H.264 §7.4.1)."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def clock_sei_text(unix_time: float, camera_name: str) -> str:
    stamp = datetime.fromtimestamp(unix_time, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return f"{stamp}Z camera={camera_name}"


def sei_clock_nal(codec: str, unix_time: float, camera_name: str) -> bytes:
    """SEI user_data_unregistered NAL: camkeep UUID + 'UTC time camera=name'."""
    # The name is cut so the SEI always fits one RTP packet (sequence numbers are
    # predicted from a fixed packet count per access unit).
    text = clock_sei_text(unix_time, camera_name[:200])
    payload = CLOCK_SEI_UUID.bytes + text.encode("utf-8")[:400]
    size = len(payload)
    size_bytes = b"\xff" * (size // 255) + bytes((size % 255,))
    rbsp = b"\x05" + size_bytes + payload + b"\x80"  # payloadType 5, size, data, trailing bits
    header = bytes((H265_PREFIX_SEI << 1, 1)) if codec == "hevc" else bytes((H264_SEI,))
    return header + add_emulation_prevention(rbsp)


def parse_clock_sei(codec: str, nal: bytes) -> str | None:
    """The text of a camkeep clock SEI NAL, or None (for tests and for the recorder)."""
    header_len = 2 if codec == "hevc" else 1
    raw = nal[header_len:].replace(b"\x00\x00\x03", b"\x00\x00")
    if not raw or raw[0] != 5:
        return None
    pos, size = 1, 0
    while pos < len(raw) and raw[pos] == 0xFF:
        size += 255
        pos += 1
    if pos >= len(raw):
        return None
    size += raw[pos]
    data = raw[pos + 1 : pos + 1 + size]
    if len(data) != size or data[:16] != CLOCK_SEI_UUID.bytes:
        return None
    return data[16:].decode("utf-8", "replace")
