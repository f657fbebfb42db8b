"""Reads back what a segment file holds: codec, picture size, duration and the start
time its writer tagged it with.

Thread: its caller's, and it blocks: the index reconcile's worker thread at start-up, and
the thread writing a segment when a torn write had to be cut from the file's tail."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

START_TAG = "camkeep start_ms="  # in the MP4 comment: start time more precise than the name
EDGE_TAG = " edge=1"  # after the start: downloaded from the camera's own storage


def segment_comment(start_ms: int, edge: bool) -> str:
    """The MP4 comment a segment is tagged with (read back when the index is rebuilt)."""
    return f"{START_TAG}{start_ms}{EDGE_TAG if edge else ''}"


@dataclass(frozen=True)
class SegmentProbe:
    start_ms: int | None  # from the file's start tag, None if absent
    duration_ms: int
    codec: str
    width: int
    height: int
    edge: bool = False  # tagged as downloaded from the camera's own storage


def probe_segment(path: Path) -> SegmentProbe | None:
    """Codec, size and duration of a segment file (demuxes its video packets); None if
    the file cannot be read as video."""
    try:
        with av.open(str(path)) as inp:
            if not inp.streams.video:
                return None
            video = inp.streams.video[0]
            tb = float(video.time_base)
            first = last = None
            for pkt in inp.demux(video):
                if pkt.pts is None:
                    continue
                end = pkt.pts + (pkt.duration or 0)
                first = pkt.pts if first is None else min(first, pkt.pts)
                last = end if last is None else max(last, end)
            comment = inp.metadata.get("comment", "")
            start_ms = None
            edge = False
            if comment.startswith(START_TAG):
                value, _, rest = comment[len(START_TAG) :].partition(" ")
                edge = (" " + rest).startswith(EDGE_TAG)
                try:
                    start_ms = int(value)
                except ValueError:
                    start_ms = None
            duration_ms = 0 if first is None else round((last - first) * tb * 1000)
            ctx = video.codec_context
            return SegmentProbe(start_ms, duration_ms, ctx.name, ctx.width, ctx.height, edge)
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return None
