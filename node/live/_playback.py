"""Playback: fragmented MP4 of a camera from a start time onward, across segments and
servers, gaps skipped, at ×1, ×2, ×4 or ×8.

The plan is made first (the merged timeline of every server, one server per instant:
`node.recordings.export_pieces`), so the answer's `X-Camkeep-Timeline` header can say
exactly which wall-clock time every media time shows: piece i starts at media time
`media_s` and shows `start` + (t − media_s) × speed. Inside a piece, a frame captured at
wall time w plays at media_s + (w − start) / speed; the frames of the GOP before
`start` (needed to decode it) are packed into the piece's first tick, so the video
opens on the frame at `start`. At ×4 and ×8 only keyframes are sent (the server
holding the piece filters them, so the others never cross the network).

One request covers at most `window_s` of recorded time; `X-Camkeep-Next` is where the
next request starts. Seeking is a new request."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx

from node.live._fmp4 import Fmp4Error, Sample, annexb_to_sample, fragment, init_segment
from node.live._recorded import RecordedFrame, SegmentFrameReader
from node.live._service import LiveHost
from node.live._wire import WireDecoder, WireError, WireFrame
from node.recordings import export_pieces, live_peers, merged_periods
from node.timefmt import utc_iso
from recorder import StreamInfo

log = logging.getLogger(__name__)

INTERNAL_FRAMES_PATH = "/api/v1/internal/cameras/{camera_id}/frames"
SPEEDS = (1, 2, 4, 8)
KEYFRAMES_ONLY_FROM = 4
TICKS = 90000
FRAGMENT_FRAMES = 10  # frames per moof at most (a GOP at ×4/×8 is one frame)
PIECE_READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PlannedPiece:
    server_id: str
    start: datetime
    end: datetime
    media_s: float  # media time (s) where this piece begins in the answer


@dataclass(frozen=True)
class PlaybackPlan:
    camera_id: str
    speed: int
    pieces: list[PlannedPiece]
    next_start: datetime | None  # where the next request continues (None: at the end)

    def timeline_json(self) -> str:
        return json.dumps(
            {
                "speed": self.speed,
                "pieces": [
                    {
                        "media_s": round(p.media_s, 6),
                        "start": utc_iso(p.start),
                        "end": utc_iso(p.end),
                        "server_id": p.server_id,
                    }
                    for p in self.pieces
                ],
                "next": utc_iso(self.next_start) if self.next_start else None,
            },
            separators=(",", ":"),
        )


def plan_pieces(periods, start: datetime, end: datetime, speed: int) -> list[PlannedPiece]:
    """Pure: one server per instant of [start, end), gaps skipped, media times."""
    planned = []
    media = 0.0
    for piece in export_pieces(periods, start, end):
        planned.append(PlannedPiece(piece.server_id, piece.start, piece.end, media))
        media += (piece.end - piece.start).total_seconds() / speed
    return planned


async def make_plan(
    host: LiveHost, camera_id: str, start: datetime, speed: int, window_s: float, now: datetime
) -> PlaybackPlan:
    end = min(now, start + timedelta(seconds=window_s))
    periods, _unreachable = await merged_periods(host, camera_id, start, end)
    pieces = plan_pieces(periods, start, end, speed) if end > start else []
    next_start = end if end < now else None
    return PlaybackPlan(camera_id, speed, pieces, next_start)


class _Output:
    """Frames of the pieces, placed on the answer's media timeline, as MP4 bytes."""

    def __init__(self, speed: int) -> None:
        self.speed = speed
        self.info: StreamInfo | None = None
        self.need_init = True
        self.sequence = 0
        self.pending: Sample | None = None  # waits for the next frame's time
        self.samples: list[Sample] = []
        self.last_dts = -1

    def new_stream(self, info: StreamInfo) -> None:
        """A stream begins: a new init segment only when its parameters differ."""
        old = self.info
        if old is None or (info.codec, info.extradata) != (old.codec, old.extradata):
            self.need_init = True
        self.info = info

    def add(self, piece: PlannedPiece, item: RecordedFrame) -> bytes:
        info = self.info
        if info is None:
            return b""
        out = b""
        if self.need_init:
            if not item.frame.keyframe:
                return b""
            out += self.flush()
            try:
                out += init_segment(info, item.frame.data)
            except Fmp4Error as error:
                log.warning("playback: %s", error)
                return out
            self.need_init = False
        offset_s = (item.wall_ms - piece.start.timestamp() * 1000) / 1000 / self.speed
        dts = round((piece.media_s + max(offset_s, 0.0)) * TICKS)
        if dts <= self.last_dts:
            dts = self.last_dts + 1  # the frames before `start` share the first tick
        self.last_dts = dts
        sample = Sample(
            annexb_to_sample(item.frame.data, info.codec),
            dts,
            dts + max(0, item.frame.pts - item.frame.dts) // self.speed,
            0,
            item.frame.keyframe,
        )
        if self.pending is not None:
            previous = self.pending
            self.samples.append(
                Sample(
                    previous.data, previous.dts, previous.pts, dts - previous.dts, previous.keyframe
                )
            )
        self.pending = sample
        if len(self.samples) >= FRAGMENT_FRAMES:
            out += self._fragment()
        return out

    def end_piece(self, piece: PlannedPiece) -> bytes:
        """The last frame of a piece lasts until the piece's end on the timeline."""
        if self.pending is None:
            return b""
        end = round(
            (piece.media_s + (piece.end - piece.start).total_seconds() / self.speed) * TICKS
        )
        previous, self.pending = self.pending, None
        duration = max(1, end - previous.dts)
        self.samples.append(
            Sample(previous.data, previous.dts, previous.pts, duration, previous.keyframe)
        )
        return self._fragment()

    def _fragment(self) -> bytes:
        if not self.samples:
            return b""
        self.sequence += 1
        data = fragment(self.sequence, self.samples)
        self.samples = []
        return data

    def flush(self) -> bytes:
        return self._fragment()


async def _local_frames(
    host: LiveHost, camera_id: str, piece: PlannedPiece, keyframes_only: bool
) -> AsyncIterator[StreamInfo | RecordedFrame]:
    files = await host.recorder.segment_files(camera_id, piece.start, piece.end)
    reader = SegmentFrameReader(
        files,
        int(piece.start.timestamp() * 1000),
        int(piece.end.timestamp() * 1000),
        keyframes_only,
    )
    try:
        while not reader.done:
            for item in await asyncio.to_thread(reader.next_batch):
                yield item
    finally:
        await asyncio.to_thread(reader.close)


async def _remote_frames(
    host: LiveHost, url: str, camera_id: str, piece: PlannedPiece, keyframes_only: bool
) -> AsyncIterator[StreamInfo | RecordedFrame]:
    path = INTERNAL_FRAMES_PATH.format(camera_id=quote(camera_id, safe=""))
    params = {
        "start": utc_iso(piece.start),
        "end": utc_iso(piece.end),
        "keyframes_only": "true" if keyframes_only else "false",
    }
    decoder = WireDecoder()
    async with host.http_client().stream(
        "GET", url.rstrip("/") + path, params=params, timeout=PIECE_READ_TIMEOUT_S
    ) as answer:
        answer.raise_for_status()
        async for chunk in answer.aiter_raw():
            for item in decoder.feed(chunk):
                if isinstance(item, WireFrame):
                    yield RecordedFrame(item.frame, item.wall_ms)
                elif isinstance(item, StreamInfo):
                    yield item
                else:
                    return


async def stream_plan(host: LiveHost, plan: PlaybackPlan) -> AsyncIterator[bytes]:
    """The answer's body: init segment, then fragments, piece after piece."""
    out = _Output(plan.speed)
    keyframes_only = plan.speed >= KEYFRAMES_ONLY_FROM
    urls = dict(live_peers(host))
    for piece in plan.pieces:
        if piece.server_id == host.node_id:
            frames = _local_frames(host, plan.camera_id, piece, keyframes_only)
        elif piece.server_id in urls:
            frames = _remote_frames(
                host, urls[piece.server_id], plan.camera_id, piece, keyframes_only
            )
        else:
            continue
        try:
            async for item in frames:
                if isinstance(item, StreamInfo):
                    out.new_stream(item)
                    continue
                data = out.add(piece, item)
                if data:
                    yield data
        except (httpx.HTTPError, WireError, OSError) as error:
            log.warning("playback: piece from %s failed: %r", piece.server_id, error)
        data = out.end_piece(piece)
        if data:
            yield data
    data = out.flush()
    if data:
        yield data
