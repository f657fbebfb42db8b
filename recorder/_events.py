"""What a camera's ingest reports to the RecorderService: a segment opened, grew or
closed, or the ingest's state changed.

Threads: made on the thread that reads the camera (its ingest thread, or the shared
poller thread while an own-client camera streams), handled on the event loop, where
`CameraIngest` posts them with call_soon_threadsafe. Frozen, since two threads see
them. They come per segment, about once a second of media while one grows, and per
attempt, never per packet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._ingest import CameraIngest


@dataclass(frozen=True, slots=True)
class SegmentOpened:
    """A new segment file was opened; nothing may be written in it yet."""

    ingest: CameraIngest  # the reporter: a replaced ingest's reports only reach the index
    relpath: str  # relative to the recordings folder, POSIX separators
    start_ms: int  # UTC ms of its first keyframe (corrected later by SegmentProgress)
    codec: str  # "h264" or "hevc"
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class SegmentProgress:
    """About once a second of media: how far the open segment reaches on disk."""

    ingest: CameraIngest
    relpath: str
    start_ms: int  # UTC ms of its start, corrected by the clock as media time goes by
    end_ms: int  # UTC ms the media written so far reaches
    size: int  # bytes of the file now
    bitrate_bps: float  # over the last report window
    fps: float  # over the last report window


@dataclass(frozen=True, slots=True)
class SegmentClosed:
    """The segment file is complete (or was deleted because nothing playable was in it)."""

    ingest: CameraIngest
    relpath: str
    end_ms: int  # UTC ms its media reaches
    size: int  # bytes of the file; 0: the file was deleted


@dataclass(frozen=True, slots=True)
class IngestStateChanged:
    """The ingest's live state (connecting, recording, reconnecting, error, stopped)."""

    ingest: CameraIngest
    state: str
    error: str | None  # why it is not recording, without credentials


IngestEvent = SegmentOpened | SegmentProgress | SegmentClosed | IngestStateChanged
