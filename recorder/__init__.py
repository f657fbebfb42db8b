"""camkeep recorder: camera ingest into crash-safe fragmented-MP4 segments (remuxed by
PyAV, no transcoding), the SQLite recording index, retention, recorded periods, export.

RTSP is read over TCP by the recorder's own small client for H.264/H.265 video-only
cameras (a fraction of the CPU of FFmpeg's, whose reader wakes up for every RTP packet)
and by FFmpeg's RTSP client through PyAV for everything else (audio, B-frames, anything
the small client does not understand) or when `fast_ingest=False`.

Threads: each camera has a supervisor thread (connect, reconnect with backoff). Once
its own-client stream plays, one poller thread shared by all cameras (`_poller`) reads
every camera's socket every 0.4 s and remuxes what came; FFmpeg-read cameras read and
remux on their own thread. A stop keeps everything received up to it.

Live view: each ingest feeds a LiveTap (`_live_tap`), the fan-out live viewers subscribe
to on the event loop; a camera's sub-stream is opened on demand as a live-only stream
(`_live_ingest`) while someone watches it.

Gap fill: `RecorderService.fill_from_edge` downloads a range of a camera's own recording
(ONVIF Profile G replay, `_edge_fill`) into segments flagged as edge, paced by a shared
`TokenBucket`; the index also keeps the gaps a fill works on or could not fill (`GapRow`).

Public surface, what the node uses: CameraSource, CameraStatus, Period, RetentionPolicy,
RecorderService, SegmentFile, the live types (LiveTap, LiveSubscription, LiveFrame,
StreamInfo, LiveEnded), the gap-fill types (EdgeSource, FillResult, GapRow, TokenBucket)
and the error classes; the `_private` modules may change freely."""

from ._edge_fill import EdgeFillError, EdgeSource, FillResult
from ._index import GapRow
from ._live_tap import LiveEnded, LiveFrame, LiveSubscription, LiveTap, StreamInfo
from ._model import (
    CameraSource,
    CameraStatus,
    ExportError,
    IndexUnusable,
    InvalidCameraId,
    Period,
    RecorderError,
    RetentionPolicy,
)
from ._nal import parameter_sets
from ._rate import TokenBucket
from ._service import RecorderService, SegmentFile

__all__ = [
    "CameraSource",
    "CameraStatus",
    "EdgeFillError",
    "EdgeSource",
    "ExportError",
    "FillResult",
    "GapRow",
    "IndexUnusable",
    "InvalidCameraId",
    "LiveEnded",
    "LiveFrame",
    "LiveSubscription",
    "LiveTap",
    "Period",
    "RecorderError",
    "RecorderService",
    "RetentionPolicy",
    "SegmentFile",
    "StreamInfo",
    "TokenBucket",
    "parameter_sets",
]
