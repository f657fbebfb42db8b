"""Recorded frames for playback, read from real fragmented-MP4 segments as the
recorder writes them: from the keyframe at or before the start, with parameter sets,
wall-clock times from the segment's start, keyframes only on request, across files."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from node.live import SegmentFrameReader
from recorder import SegmentFile, StreamInfo, parameter_sets

T0_MS = 1_800_000_000_000


def write_segment(path: Path, frames: int = 50, gop: int = 10) -> None:
    """A 2 s (25 fps) fragmented MP4 with a keyframe every `gop` frames."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 64, 64, "yuv420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": f"keyint={gop}:min-keyint={gop}",
    }
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    with av.open(str(path), "w", format="mp4", options=options) as out:
        stream = out.add_stream("h264", rate=25)
        stream.width = stream.height = 64
        stream.time_base = Fraction(1, 90000)
        stream.codec_context.options = encoder.options
        for i in range(frames):
            picture = np.full((64, 64, 3), i * 5 % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
            frame.pts = i * 3600
            frame.time_base = Fraction(1, 90000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def read_all(reader: SegmentFrameReader) -> list:
    items = []
    while not reader.done:
        items += reader.next_batch()
    return items


def test_from_the_keyframe_before_the_start_across_files(tmp_path: Path) -> None:
    write_segment(tmp_path / "a.mp4")
    write_segment(tmp_path / "b.mp4")
    files = [
        SegmentFile(tmp_path / "a.mp4", T0_MS, T0_MS + 2000, "h264"),
        SegmentFile(tmp_path / "b.mp4", T0_MS + 2000, T0_MS + 4000, "h264"),
    ]
    reader = SegmentFrameReader(files, T0_MS + 1500, T0_MS + 2600)
    items = read_all(reader)
    info, first, *rest = items
    assert isinstance(info, StreamInfo) and info.codec == "h264" and info.width == 64
    assert first.frame.keyframe and parameter_sets(first.frame.data, "h264") is not None
    assert first.wall_ms == T0_MS + 1200  # the keyframe at or before 1.5 s (every 0.4 s)
    walls = [item.wall_ms for item in [first, *rest]]
    assert walls == sorted(walls) and walls[-1] < T0_MS + 2600 and max(walls) >= T0_MS + 2500
    assert not any(isinstance(i, StreamInfo) for i in rest)  # same parameters in b.mp4


def test_keyframes_only(tmp_path: Path) -> None:
    write_segment(tmp_path / "a.mp4")
    files = [SegmentFile(tmp_path / "a.mp4", T0_MS, T0_MS + 2000, "h264")]
    items = read_all(SegmentFrameReader(files, T0_MS, T0_MS + 2000, keyframes_only=True))
    frames = [i for i in items if not isinstance(i, StreamInfo)]
    assert [f.wall_ms - T0_MS for f in frames] == [0, 400, 800, 1200, 1600]
    assert all(f.frame.keyframe for f in frames)
