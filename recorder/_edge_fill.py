"""Download a time range of a camera's own recording (ONVIF Profile G replay over RTSP)
into segments marked as coming from the edge, and index them.

The replay is read by the recorder's own RTSP client with the replay headers
(`Require: onvif-replay`, `Range: clock=A-B`, `Rate-Control: no`: as fast as we read)
and depacketized like live video; every frame is placed at the capture time the
camera wrote into the RTP header extension (0xABAC), not at the time it arrived, so
the downloaded video lands exactly in the hole it fills. Reading is paced by a shared
token bucket so a fill never takes the bandwidth or CPU live ingest needs.

Thread: the caller's (RecorderService runs it with asyncio.to_thread); it blocks on
the socket, the bucket and the files. The index is written as each segment closes, so
a fill cut short keeps (and indexes) everything it wrote."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av

from ._index import SegmentIndex
from ._model import RecorderError
from ._naming import segment_relpath
from ._own_ingest import FastIngestUnsupported, _FastInput
from ._rate import TokenBucket
from ._replay_rtp import ReplayScanner
from ._rtp import RtspProtocolError, RtspStatusError
from ._rtsp_client import RtspClient, RtspStalled
from ._segment_writer import IngestFailure, SegmentRemuxer

log = logging.getLogger(__name__)

TB_90K = Fraction(1, 90000)
REPLAY_HEADERS = {"Require": "onvif-replay"}
SECTION_BREAK_MS = 1000  # frames further apart than this are in different segments
RANGE_NOT_HELD = 457  # RTSP "Invalid Range": the camera no longer (or never) held it


@dataclass(frozen=True)
class EdgeSource:
    """Where a camera's own recording is replayed, and with which credentials."""

    replay_url: str  # rtsp://..., no credentials in it
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show the password
        return f"EdgeSource(replay_url={self.replay_url!r})"


@dataclass(frozen=True)
class FillResult:
    """What one download wrote: frames and bytes read, the capture times of its first
    frame and of the end of its last, and the segment files (relative paths)."""

    frames: int
    bytes_read: int
    first_ms: int | None
    end_ms: int | None
    segments: tuple[str, ...]


class EdgeFillError(RecorderError):
    """A download from the camera's storage failed; `kind` says how:
    "not_held" (the camera does not hold that range: overwritten or never recorded),
    "unreachable", "protocol" (an answer we cannot use), "stopped"."""

    def __init__(self, kind: str, message: str, written: FillResult | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.written = written


@dataclass
class _EdgeSink:
    """Where the remuxer puts a download's segments: new files (never over an existing
    one), each indexed as an edge segment when it closes."""

    camera_id: str
    server_id: str
    recordings_dir: Path
    index: SegmentIndex
    opened: dict[str, tuple[int, str, int, int]] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)

    def claim_path(self, start_ms: int) -> tuple[str, Path]:
        start = datetime.fromtimestamp(start_ms / 1000, UTC)
        for collision in range(10_000):
            rel = segment_relpath(self.camera_id, start, collision).as_posix()
            path = self.recordings_dir / rel
            if not os.path.exists(path):
                return rel, path
        raise IngestFailure("no free segment name")

    def segment_opened(self, relpath: str, start_ms: int, codec: str, w: int, h: int) -> None:
        self.opened[relpath] = (start_ms, codec, w, h)

    def segment_progress(
        self, relpath: str, start_ms: int, end_ms: int, size: int, bitrate_bps: float, fps: float
    ) -> None:
        _, codec, w, h = self.opened[relpath]
        self.opened[relpath] = (start_ms, codec, w, h)

    def segment_closed(self, relpath: str, end_ms: int, size: int) -> None:
        start_ms, codec, w, h = self.opened.pop(relpath)
        if not size:
            return
        self.index.insert(
            camera_id=self.camera_id,
            server_id=self.server_id,
            start_ms=start_ms,
            end_ms=end_ms,
            path=relpath,
            bytes_=size,
            codec=codec,
            width=w,
            height=h,
            open_=False,
            edge=True,
        )
        self.written.append(relpath)


def format_clock(unix_ms: int) -> str:
    """UNIX ms -> the compact UTC form of an ONVIF clock range, `20261202T101500.120Z`."""
    moment = datetime.fromtimestamp(unix_ms / 1000, UTC)
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"


def download_edge_range(
    source: EdgeSource,
    camera_id: str,
    start_ms: int,
    end_ms: int,
    *,
    recordings_dir: Path,
    server_id: str,
    index: SegmentIndex,
    segment_seconds: float,
    bucket: TokenBucket,
    stop: threading.Event,
    timeout_s: float,
    scrub: Callable[[str], str],
) -> FillResult:
    """Replay [start_ms, end_ms] of the camera's recording (from the keyframe at or
    before the start) into edge segments. Raises EdgeFillError (with what was written
    before the failure, if anything)."""
    client = RtspClient(
        source.replay_url, source.username, source.password, timeout_s, stop, REPLAY_HEADERS
    )
    sink = _EdgeSink(camera_id, server_id, recordings_dir, index)
    scanner = ReplayScanner()
    frames = read = 0
    first_ms: int | None = None
    last_ms: int | None = None
    step_ms = 40
    remuxer: SegmentRemuxer | None = None
    fast_input: _FastInput | None = None
    capture = [0]  # the capture time of the frame being remuxed: the segments' clock
    never_stops = threading.Event()

    def result() -> FillResult:
        end = None if last_ms is None else last_ms + step_ms
        return FillResult(frames, read, first_ms, end, tuple(sink.written))

    try:
        try:
            client.connect()
            tracks = client.describe()
            video = next((t for t in tracks if t.kind == "video" and t.codec), None)
            if video is None:
                raise EdgeFillError("protocol", "the replay has no H.264/H.265 video track")
            client.setup(video, 0)
            client.play(
                {"Range": f"clock={format_clock(start_ms)}-{format_clock(end_ms)}",
                 "Rate-Control": "no"}
            )  # fmt: skip
        except RtspStatusError as exc:
            if exc.status == RANGE_NOT_HELD:
                raise EdgeFillError("not_held", "the camera does not hold that range") from None
            raise EdgeFillError("protocol", scrub(str(exc))) from None
        except RtspProtocolError as exc:
            raise EdgeFillError("protocol", scrub(str(exc))) from None
        except (RtspStalled, OSError) as exc:
            raise EdgeFillError("unreachable", scrub(f"{type(exc).__name__}: {exc}")) from None
        fast_input = _FastInput(client, video.codec, video.parameter_sets())
        try:
            for chunk in client.received():
                read += len(chunk)
                ended = scanner.feed(chunk)
                for data, key, stamp in fast_input.units_of(chunk):
                    at_ms = scanner.capture_ms(stamp)
                    if at_ms is None:
                        raise EdgeFillError("protocol", "replay frame without its capture time")
                    if at_ms > end_ms:
                        ended = True
                        break
                    if last_ms is not None and at_ms - last_ms > SECTION_BREAK_MS:
                        if remuxer is not None:  # the camera has a hole here
                            remuxer.end()
                        remuxer = None
                    elif last_ms is not None and at_ms > last_ms:
                        step_ms = at_ms - last_ms
                    if remuxer is None:
                        if not key:
                            continue  # a section starts at a keyframe
                        if fast_input.template is None:
                            fast_input.describe_by(data)
                        remuxer = SegmentRemuxer(
                            fast_input,
                            segment_seconds=segment_seconds,
                            sink=sink,
                            stop=never_stops,
                            scrub=scrub,
                            now_ms=lambda: capture[0],
                            video_time_base=float(TB_90K),
                            edge=True,
                        )
                        remuxer.begin()
                    capture[0] = at_ms
                    for packet in fast_input.packets([(data, key, stamp)]):
                        remuxer.push(packet)
                    frames += 1
                    first_ms = at_ms if first_ms is None else first_ms
                    last_ms = at_ms
                if ended:
                    break
                if stop.is_set() or not bucket.take(len(chunk), stop):
                    raise EdgeFillError("stopped", "the fill was stopped")
        finally:
            if remuxer is not None:  # closes and indexes the last segment
                remuxer.end()
        return result()
    except EdgeFillError as exc:
        exc.written = result()
        raise
    except RtspStalled as exc:
        raise EdgeFillError("unreachable", scrub(str(exc)), result()) from None
    except (FastIngestUnsupported, IngestFailure, av.FFmpegError, OSError) as exc:
        kind = "unreachable" if isinstance(exc, ConnectionError) else "protocol"
        text = scrub(f"{type(exc).__name__}: {exc}")
        raise EdgeFillError(kind, text, result()) from None
    finally:
        if fast_input is not None:
            fast_input.close()
        client.close()
