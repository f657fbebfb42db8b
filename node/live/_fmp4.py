"""Fragmented MP4 in memory, for Media Source Extensions and a plain <video>.

The init segment (ftyp + moov, with the avcC/hvcC the decoder needs) is written by
PyAV's MP4 muxer from a template stream, as the recorder writes its segments; the
fragments (moof + mdat) are written here, one per call, so a live frame goes out the
moment it arrives (the muxer would hold it until the next one to learn its duration).
Pure apart from the PyAV call in `init_segment`."""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import av

from recorder import StreamInfo

TIMESCALE = 90000
_START3 = b"\x00\x00\x01"
# NAL units left out of samples: access unit delimiters and parameter sets (those are
# in the init segment; a change of them makes a new init segment).
_H264_OUT = frozenset({7, 8, 9})
_H265_OUT = frozenset({32, 33, 34, 35})
SAMPLE_KEY_FLAGS = 0x02000000  # sample_depends_on = 2 (depends on no other)
SAMPLE_DELTA_FLAGS = 0x01010000  # depends on others, non-sync sample


class Fmp4Error(Exception):
    """The stream cannot be described as MP4 (unreadable parameter sets)."""


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B access unit (3- or 4-byte start codes)."""
    nals = []
    pos = data.find(_START3)
    while pos >= 0:
        begin = pos + 3
        end = data.find(_START3, begin)
        nal = data[begin:] if end < 0 else data[begin:end]
        if end >= 0 and nal.endswith(b"\x00"):
            nal = nal.rstrip(b"\x00")  # the leading zero of the next 4-byte start code
        if nal:
            nals.append(nal)
        pos = end
    return nals


def nal_type(codec: str, nal: bytes) -> int:
    return nal[0] & 0x1F if codec == "h264" else (nal[0] >> 1) & 0x3F


def annexb_to_sample(data: bytes, codec: str) -> bytes:
    """An Annex B access unit as an MP4 sample (4-byte lengths), without AUDs and
    parameter sets."""
    dropped = _H264_OUT if codec == "h264" else _H265_OUT
    return b"".join(
        len(nal).to_bytes(4, "big") + nal
        for nal in split_annexb(data)
        if nal_type(codec, nal) not in dropped
    )


def _unescape(nal: bytes) -> bytes:
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def mime_codec(info: StreamInfo) -> str:
    """The RFC 6381 codecs string MSE asks for (avc1.PPCCLL, hvc1...)."""
    nals = split_annexb(info.extradata)
    if info.codec == "h264":
        sps = next((n for n in nals if nal_type("h264", n) == 7), None)
        if sps is None or len(sps) < 4:
            return "avc1.640028"
        return "avc1." + sps[1:4].hex()
    sps = next((n for n in nals if nal_type("hevc", n) == 33), None)
    if sps is None or len(sps) < 15:
        return "hvc1.1.6.L93.B0"
    raw = _unescape(sps[2:])  # after the 2-byte NAL header
    ptl = raw[1:]  # after vps id / max sub layers / nesting
    space, tier, profile = ptl[0] >> 6, (ptl[0] >> 5) & 1, ptl[0] & 0x1F
    compat = int.from_bytes(ptl[1:5], "big")
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    level = ptl[11]
    prefix = "" if space == 0 else "ABC"[space - 1]
    constraints = ptl[5:11].rstrip(b"\x00") or b"\x00"
    flags = ".".join(f"{b:X}" for b in constraints)
    return f"hvc1.{prefix}{profile}.{reversed_compat:X}.{'H' if tier else 'L'}{level}.{flags}"


def init_segment_from_template(template: av.video.stream.VideoStream) -> bytes:
    """ftyp + moov for one video track like `template`, timescale 90 kHz."""
    buffer = io.BytesIO()
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    with av.open(buffer, "w", format="mp4", options=options) as out:
        stream = out.add_stream_from_template(template)
        stream.time_base = Fraction(1, TIMESCALE)
        if template.codec_context.name == "hevc":
            stream.codec_tag = "hvc1"  # the tag browsers accept
        out.start_encoding()
        head = buffer.getvalue()
    if _track_timescale(head) != TIMESCALE:
        raise Fmp4Error("the MP4 muxer chose another timescale")
    return head


def init_segment(info: StreamInfo, keyframe: bytes = b"") -> bytes:
    """The init segment of a live stream, from its parameter sets (and keyframe)."""
    try:
        with av.open(io.BytesIO(info.extradata + keyframe), format=info.codec) as probe:
            if not probe.streams.video:
                raise Fmp4Error("no video in the parameter sets")
            template = probe.streams.video[0]
            if not template.codec_context.width and info.width:
                template.codec_context.width = info.width
                template.codec_context.height = info.height
            return init_segment_from_template(template)
    except av.FFmpegError as error:
        raise Fmp4Error(f"cannot describe the stream: {error}") from None


def _track_timescale(init: bytes) -> int:
    at = init.find(b"mdhd")
    if at < 0:
        return 0
    version = init[at + 4]
    offset = at + 8 + (16 if version == 1 else 8)
    return int.from_bytes(init[offset : offset + 4], "big")


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


@dataclass(frozen=True, slots=True)
class Sample:
    data: bytes  # MP4 sample (4-byte NAL lengths)
    dts: int  # in TIMESCALE units
    pts: int
    duration: int
    keyframe: bool


def fragment(sequence: int, samples: Sequence[Sample]) -> bytes:
    """One moof + mdat holding `samples` (decode order, consecutive)."""
    if not samples:
        return b""
    count = len(samples)
    mfhd = _box(b"mfhd", struct.pack(">II", 0, sequence))
    # default-base-is-moof: data offsets count from the start of this moof
    tfhd = _box(b"tfhd", struct.pack(">II", 0x020000, 1))
    tfdt = _box(b"tfdt", struct.pack(">IQ", 0x01000000, max(0, samples[0].dts)))
    # trun v1: data offset, and per sample duration, size, flags, signed CT offset
    trun_flags = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800
    entries = b"".join(
        struct.pack(
            ">IIIi",
            max(0, s.duration),
            len(s.data),
            SAMPLE_KEY_FLAGS if s.keyframe else SAMPLE_DELTA_FLAGS,
            s.pts - s.dts,
        )
        for s in samples
    )
    trun_size = 8 + 4 + 4 + 4 + len(entries)
    traf_size = 8 + len(tfhd) + len(tfdt) + trun_size
    moof_size = 8 + len(mfhd) + traf_size
    data_offset = moof_size + 8  # the first sample follows the mdat header
    trun = _box(b"trun", struct.pack(">IIi", 0x01000000 | trun_flags, count, data_offset), entries)
    moof = _box(b"moof", mfhd, _box(b"traf", tfhd, tfdt, trun))
    return moof + _box(b"mdat", *(s.data for s in samples))
