"""Gap fill on a running node: when a hole in a camera's merged timeline closes, the
node that records the camera now downloads the missing interval from the camera's own
storage (ONVIF Profile G replay) and indexes it as edge video.

When it looks (`schedule`):
- a camera starts recording on this node (it took the camera over, the camera or the
  network came back, the node restarted): after `SETTLE_S`, so the camera's storage
  and the timeline hold the first seconds of the new recording;
- every `sweep_interval_s` for every camera recorded here (a missed event, a retry);
- at start, for the gaps a fill was working on when the node stopped.

What it does (`_check`): the merged timeline of every reachable server over the last
`lookback_s` (never before the camera was added); its closed gaps (`_plan`); the part
already judged is skipped; the camera's storage is asked what it holds (onvif-zeep-
async: GetServices, FindRecordings/GetRecordingSearchResults, GetReplayUri) and the
missing intervals are downloaded (`RecorderService.fill_from_edge`), never more than
`max_concurrent` at once and together at most `max_bytes_per_s` (a token bucket), so
live ingest keeps its bandwidth and CPU. Progress is durable: a gap is noted in the
recording index ("pending") before its download and marked "filled" after, and what a
download wrote is indexed segment by segment; after a crash the gap is found again in
the timeline, minus what was written. Gaps the camera cannot fill are noted
"unfillable" with a reason, shown in the timeline, and published on the event hub
as `recording_gap` events.

Servers that were lost (suspect or dead) may hold video up to the moment they were
lost: a hole is only filled from that moment on (`lost_at`), so nothing a server
holds is downloaded again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from discovery.onvif_client import CameraAddError, EdgeRecording, fetch_edge_recording
from node.config import GapFillConfig
from node.gapfill._plan import (
    EDGE_OVERWRITTEN,
    NOT_ON_EDGE,
    EdgeHolds,
    Span,
    closed_gaps,
    plan_fill,
    subtract,
)
from node.recordings import RecordingsHost, coverage, merged_timeline
from node.timefmt import parse_utc_iso, utc_iso
from recorder import EdgeFillError, EdgeSource, GapRow, RecorderError, TokenBucket

log = logging.getLogger(__name__)

SETTLE_S = 2.0  # after a camera starts recording here, before its timeline is read
RETRY_S = 15.0  # a check that could not finish (camera or a server unreachable)
MAX_ATTEMPTS = 5  # a camera unreachable this many times: the gap stays
EDGE_UNREACHABLE = "edge_unreachable"
MIN_GAP_MS = 200  # shorter holes are frame jitter, not lost video
PAD_MS = 1000
CHUNK_MS = 60_000
ONVIF_TIMEOUT_S = 10.0
REPLAY_TIMEOUT_S = 10.0
PENDING, FILLED, UNFILLABLE = "pending", "filled", "unfillable"


class GapFillHost(RecordingsHost, Protocol):
    """What gap fill needs from the node: what the merged recordings need (recorder,
    servers, membership state, HTTP client) and a way to publish an event."""

    def publish_event(self, event: dict[str, Any]) -> None: ...


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class GapFillService:
    def __init__(
        self,
        host: GapFillHost,
        config: GapFillConfig,
        *,
        suspect_margin_s: float,
        dead_margin_s: float,
        clock: Callable[[], float] = time.time,
        edge_lookup: Callable[..., Any] = fetch_edge_recording,
    ) -> None:
        self.host = host
        self.config = config
        # how long before a server is suspected (declared dead) it may have recorded
        self.margin_ms = {
            "suspect": round(suspect_margin_s * 1000),
            "dead": round(dead_margin_s * 1000),
        }
        self._clock = clock
        self._edge_lookup = edge_lookup
        self._bucket = TokenBucket(config.max_bytes_per_s)
        self._stop = threading.Event()
        self._due: dict[str, float] = {}  # camera id -> when to check it (monotonic)
        self._checking: set[str] = set()
        self._lost_at: dict[str, int] = {}  # server id -> when it was lost (UTC ms)
        self._attempts: dict[str, int] = {}
        self._wake: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._task: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[None]] = set()
        self.fills: collections.deque[dict[str, Any]] = collections.deque(maxlen=512)

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        if not self.config.enabled:
            return
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self.config.max_concurrent)
        for row in self.host.recorder.gaps():
            if row.state == PENDING:  # a fill was under way when the node stopped
                self.schedule(row.camera_id, SETTLE_S)
        self._task = asyncio.create_task(self._run(), name="gapfill")

    async def stop(self) -> None:
        self._stop.set()  # downloads end at their next read
        tasks = [t for t in (self._task, *self._checks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    # ------------------------------------------------------------------ triggers
    def on_event(self, event: dict[str, Any]) -> None:
        """Event hub listener: a camera started recording here, a server was lost or
        came back."""
        kind = event.get("type")
        if kind == "camera_status":
            status = event.get("status") or {}
            if status.get("state") == "recording" and isinstance(event.get("camera_id"), str):
                self.schedule(event["camera_id"], SETTLE_S)
        elif kind == "server_state":
            server_id, state = event.get("server_id"), event.get("state")
            if not isinstance(server_id, str) or server_id == self.host.node_id:
                return
            if state in ("suspect", "dead"):
                lost = round(self._clock() * 1000) - self.margin_ms[state]
                self._lost_at.setdefault(server_id, lost)
            elif state == "alive":
                self._lost_at.pop(server_id, None)

    def schedule(self, camera_id: str, delay_s: float = 0.0) -> None:
        if not self.config.enabled:
            return
        at = time.monotonic() + delay_s
        self._due[camera_id] = min(self._due.get(camera_id, at), at)
        if self._wake is not None:
            self._wake.set()

    def _recorded_here(self) -> list[str]:
        statuses = self.host.recorder.statuses()
        return [cid for cid, status in statuses.items() if status.state == "recording"]

    async def _run(self) -> None:
        assert self._wake is not None
        next_sweep = time.monotonic() + SETTLE_S
        while True:
            now = time.monotonic()
            if now >= next_sweep:
                for camera_id in self._recorded_here():
                    self._due.setdefault(camera_id, now)
                next_sweep = now + self.config.sweep_interval_s
            for camera_id, at in list(self._due.items()):
                if at <= now and camera_id not in self._checking:
                    del self._due[camera_id]
                    self._checking.add(camera_id)
                    task = asyncio.create_task(self._guarded_check(camera_id))
                    self._checks.add(task)
                    task.add_done_callback(self._checks.discard)
            wake_at = min([next_sweep, *self._due.values()])
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, wake_at - time.monotonic()))

    async def _guarded_check(self, camera_id: str) -> None:
        try:
            await self._check(camera_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("gap fill: checking camera %s failed", camera_id)
            self.schedule(camera_id, RETRY_S)
        finally:
            self._checking.discard(camera_id)

    # ------------------------------------------------------------------ one camera
    async def _check(self, camera_id: str) -> None:
        record = self.host.state.camera(camera_id)
        if record is None or camera_id not in self._recorded_here():
            return
        now_ms = round(self._clock() * 1000)
        window_start = now_ms - round(self.config.lookback_s * 1000)
        created = record.get("created_at")
        if isinstance(created, str):
            with contextlib.suppress(ValueError):
                window_start = max(window_start, _ms(parse_utc_iso(created)))
        self._prune(camera_id, window_start)
        timeline = await merged_timeline(self.host, camera_id, _dt(window_start), _dt(now_ms))
        if timeline.unreachable:  # their video may be what looks missing: later
            self.schedule(camera_id, RETRY_S)
            return
        spans = [(_ms(s), _ms(e)) for s, e in coverage(timeline.periods)]
        gaps = closed_gaps(
            spans,
            window_start_ms=window_start,
            lost_at_ms=list(self._lost_at.values()),
            min_gap_ms=MIN_GAP_MS,
        )
        notes = self.host.recorder.gaps(camera_id)
        judged = [Span(n.start_ms, n.end_ms) for n in notes if n.state == UNFILLABLE]
        gaps = [g for g in subtract(gaps, judged) if g.length_ms >= MIN_GAP_MS]
        tried = [Span(n.start_ms, n.end_ms) for n in notes if n.state == FILLED]
        if tried:  # a finished fill left this: the camera's storage lacks it too
            for gap in gaps:
                for t in tried:
                    part = Span(max(gap.start_ms, t.start_ms), min(gap.end_ms, t.end_ms))
                    if part.length_ms >= MIN_GAP_MS:
                        self._unfillable(camera_id, part, NOT_ON_EDGE)
            gaps = [g for g in subtract(gaps, tried) if g.length_ms >= MIN_GAP_MS]
        if not gaps:
            return
        try:
            edge = await self._edge_recording(record)
        except CameraAddError as error:
            attempts = self._attempts[camera_id] = self._attempts.get(camera_id, 0) + 1
            log.info("gap fill: camera %s storage not reachable (%s)", camera_id, error)
            if attempts >= MAX_ATTEMPTS:
                self._attempts.pop(camera_id, None)
                for gap in gaps:
                    self._unfillable(camera_id, gap, EDGE_UNREACHABLE)
            else:
                self.schedule(camera_id, RETRY_S)
            return
        self._attempts.pop(camera_id, None)
        holds = None
        if edge is not None and edge.earliest is not None and edge.latest is not None:
            holds = EdgeHolds(_ms(edge.earliest), _ms(edge.latest))
        plan = plan_fill(gaps, holds, pad_ms=PAD_MS, chunk_ms=CHUNK_MS)
        for item in plan.unfillable:
            self._unfillable(camera_id, item.span, item.reason)
        if not plan.downloads:
            return
        assert edge is not None
        source = EdgeSource(edge.replay_uri, record.get("username"), record.get("password"))
        for gap in gaps:
            pieces = [d for d in plan.downloads if d.end_ms > gap.start_ms - PAD_MS]
            pieces = [d for d in pieces if d.start_ms < gap.end_ms + PAD_MS]
            if pieces:
                await self._fill_gap(camera_id, gap, pieces, source)

    async def _edge_recording(self, record: dict[str, Any]) -> EdgeRecording | None:
        onvif = record.get("onvif")
        if not isinstance(onvif, dict) or not onvif.get("host"):
            return None  # added by RTSP URL: no ONVIF services to ask
        return await self._edge_lookup(
            str(onvif["host"]),
            int(onvif.get("port") or 80),
            record.get("username"),
            record.get("password"),
            ONVIF_TIMEOUT_S,
        )

    async def _fill_gap(
        self, camera_id: str, gap: Span, pieces: list[Span], source: EdgeSource
    ) -> None:
        assert self._slots is not None
        now_ms = round(self._clock() * 1000)
        self.host.recorder.put_gap(
            GapRow(camera_id, gap.start_ms, gap.end_ms, PENDING, "", 0, now_ms)
        )
        async with self._slots:
            started = time.monotonic()
            frames = read = 0
            for piece in pieces:
                try:
                    result = await self.host.recorder.fill_from_edge(
                        camera_id,
                        source,
                        _dt(piece.start_ms),
                        _dt(piece.end_ms),
                        bucket=self._bucket,
                        stop=self._stop,
                        timeout_s=REPLAY_TIMEOUT_S,
                    )
                except EdgeFillError as error:
                    if error.kind == "not_held":
                        self._unfillable(camera_id, piece, EDGE_OVERWRITTEN)
                        continue
                    log.warning("gap fill: camera %s: %s (%s)", camera_id, error, error.kind)
                    if error.kind != "stopped":
                        self.schedule(camera_id, RETRY_S)
                    return  # stays pending: found again from the timeline
                except RecorderError as error:
                    log.warning("gap fill: camera %s: %s", camera_id, error)
                    return
                frames += result.frames
                read += result.bytes_read
            took = time.monotonic() - started
        for row in self.host.recorder.gaps(camera_id, _dt(gap.start_ms), _dt(gap.end_ms)):
            if row.state == PENDING:  # an earlier, interrupted try at this gap
                self.host.recorder.delete_gap(camera_id, row.start_ms)
        self.host.recorder.put_gap(
            GapRow(camera_id, gap.start_ms, gap.end_ms, FILLED, "", 0, round(self._clock() * 1000))
        )
        seconds = gap.length_ms / 1000
        self.fills.append(
            {
                "camera_id": camera_id,
                "start": utc_iso(_dt(gap.start_ms)),
                "end": utc_iso(_dt(gap.end_ms)),
                "gap_s": seconds,
                "took_s": round(took, 3),
                "frames": frames,
                "bytes": read,
            }
        )
        log.info(
            "gap fill: camera %s: %.1f s gap filled from its storage in %.2f s (%d frames)",
            camera_id,
            seconds,
            took,
            frames,
        )
        self.host.publish_event(
            {
                "type": "recording_gap",
                "camera_id": camera_id,
                "start": utc_iso(_dt(gap.start_ms)),
                "end": utc_iso(_dt(gap.end_ms)),
                "state": FILLED,
                "reason": None,
                "server_id": self.host.node_id,
            }
        )

    def _unfillable(self, camera_id: str, span: Span, reason: str) -> None:
        for row in self.host.recorder.gaps(camera_id, _dt(span.start_ms), _dt(span.end_ms)):
            covers = row.start_ms <= span.start_ms and row.end_ms >= span.end_ms
            if row.state == UNFILLABLE and covers:
                return  # already noted and told
        now_ms = round(self._clock() * 1000)
        self.host.recorder.put_gap(
            GapRow(camera_id, span.start_ms, span.end_ms, UNFILLABLE, reason, 0, now_ms)
        )
        log.warning(
            "camera %s: %.1f s of video missing from %s cannot be filled (%s)",
            camera_id,
            span.length_ms / 1000,
            utc_iso(_dt(span.start_ms)),
            reason,
        )
        self.host.publish_event(
            {
                "type": "recording_gap",
                "camera_id": camera_id,
                "start": utc_iso(_dt(span.start_ms)),
                "end": utc_iso(_dt(span.end_ms)),
                "state": UNFILLABLE,
                "reason": reason,
                "server_id": self.host.node_id,
            }
        )

    def _prune(self, camera_id: str, window_start_ms: int) -> None:
        """Forget notes older than the window (the timeline no longer looks there)."""
        for row in self.host.recorder.gaps(camera_id):
            if row.end_ms < window_start_ms:
                self.host.recorder.delete_gap(camera_id, row.start_ms)

    def status(self) -> dict[str, Any]:
        return {
            "enabled": self.config.enabled,
            "fills": list(self.fills),
            "pending": sorted(self._due),
            "lost_servers": sorted(self._lost_at),
        }
