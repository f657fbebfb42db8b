"""Fragmented MP4 written for MSE: the init segment and hand-written fragments of a
real H.264 stream demux and decode with FFmpeg (PyAV) frame for frame, with the
timestamps given; Annex B to sample conversion and the codecs string."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

from node.live._fmp4 import (
    Sample,
    annexb_to_sample,
    fragment,
    init_segment,
    mime_codec,
    split_annexb,
)
from recorder import StreamInfo, parameter_sets


def encoded_frames(count: int = 30, profile: str = "high") -> list[tuple[bytes, bool]]:
    context = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = 160, 96, "yuv420p"
    context.time_base = Fraction(1, 25)
    context.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "profile": profile,
        "x264-params": "repeat-headers=1:keyint=10:cabac=1:8x8dct=1",
    }
    out = []
    for i in range(count):
        picture = np.full((96, 160, 3), (i * 8) % 256, np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out += [(bytes(p), bool(p.is_keyframe)) for p in context.encode(frame)]
    out += [(bytes(p), bool(p.is_keyframe)) for p in context.encode(None)]
    return out


def test_init_and_fragments_decode_frame_for_frame() -> None:
    frames = encoded_frames()
    info = StreamInfo("h264", parameter_sets(frames[0][0], "h264") or b"", 160, 96)
    data = init_segment(info, frames[0][0])
    for i, (unit, key) in enumerate(frames):
        sample = Sample(annexb_to_sample(unit, "h264"), i * 3600, i * 3600, 3600, key)
        data += fragment(i + 1, [sample])
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 96)
        decoded = list(container.decode(stream))
    assert len(decoded) == len(frames)
    assert [round(f.time * 25) for f in decoded] == list(range(len(frames)))


def test_several_samples_in_one_fragment() -> None:
    frames = encoded_frames(12)
    info = StreamInfo("h264", parameter_sets(frames[0][0], "h264") or b"", 160, 96)
    samples = [
        Sample(annexb_to_sample(unit, "h264"), i * 3600, i * 3600, 3600, key)
        for i, (unit, key) in enumerate(frames)
    ]
    data = init_segment(info, frames[0][0]) + fragment(1, samples[:5]) + fragment(2, samples[5:])
    with av.open(io.BytesIO(data)) as container:
        assert len(list(container.decode(video=0))) == 12


def test_annexb_to_sample_drops_parameter_sets_and_delimiters() -> None:
    unit = (
        b"\x00\x00\x00\x01\x09\xf0"  # AUD
        b"\x00\x00\x00\x01\x67\x64\x00\x1f"  # SPS
        b"\x00\x00\x01\x68\xee"  # PPS (3-byte start code)
        b"\x00\x00\x00\x01\x06\x05"  # SEI
        b"\x00\x00\x00\x01\x65\x88"  # IDR
    )
    assert split_annexb(unit) == [
        b"\x09\xf0",
        b"\x67\x64\x00\x1f",
        b"\x68\xee",
        b"\x06\x05",
        b"\x65\x88",
    ]
    assert annexb_to_sample(unit, "h264") == b"\x00\x00\x00\x02\x06\x05\x00\x00\x00\x02\x65\x88"


def test_mime_codec_from_the_sps() -> None:
    frames = encoded_frames(1)
    info = StreamInfo("h264", parameter_sets(frames[0][0], "h264") or b"", 160, 96)
    assert mime_codec(info).startswith("avc1.64")  # High
    assert mime_codec(StreamInfo("h264", b"", 0, 0)) == "avc1.640028"
    # H.265 Main, level 3.1: VPS/SPS/PPS of x265 start like this
    sps = bytes.fromhex("420101016000000300b00000030000030078a005020171f2e5")
    hevc = StreamInfo("hevc", b"\x00\x00\x00\x01" + sps, 0, 0)
    assert mime_codec(hevc).startswith("hvc1.1.6.L120")
