"""RecorderService: the recorder's facade for the node.

Runs on the event loop; ingests run on their own threads and post events here with
call_soon_threadsafe. Index writes are batched (one transaction per second) and run in
a worker thread; retention and the stall watchdog are periodic tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ._edge_fill import EdgeSource, FillResult, download_edge_range
from ._events import (
    IngestEvent,
    IngestStateChanged,
    SegmentClosed,
    SegmentOpened,
    SegmentProgress,
)
from ._export import export_segments
from ._index import GapRow, SegmentIndex, SegmentInsert, SegmentRow, SegmentUpdate
from ._ingest import CameraIngest
from ._live_ingest import LiveOnlyIngest
from ._live_tap import LiveTap
from ._model import (
    ERROR,
    RECONNECTING,
    RECORDING,
    STOPPED,
    CameraSource,
    CameraStatus,
    ExportError,
    Period,
    RecorderError,
    RetentionPolicy,
)
from ._naming import validate_camera_id
from ._periods import merge_spans
from ._rate import TokenBucket
from ._reconcile import ReconcileReport, reconcile
from ._retention import StoredSegment, choose_deletions
from ._urls import scrub

log = logging.getLogger(__name__)

INDEX_FLUSH_INTERVAL_S = 1.0
RETENTION_INTERVAL_S = 2.0
WATCHDOG_INTERVAL_S = 1.0
WATCHDOG_GRACE_S = 3.0  # beyond the socket timeout before an ingest is declared hung
STOP_JOIN_TIMEOUT_S = 15.0
# A live-only stream stays open this long after its last viewer: a page reloaded, a
# grid page flipped back or a new log-in finds it running and starts on its cached
# keyframe, instead of waiting for a connection and the camera's next keyframe.
LIVE_LINGER_S = 10.0


@dataclass
class _Live:
    """Mutable live status of one camera (loop thread only)."""

    state: str = STOPPED
    last_error: str | None = None
    bitrate_bps: float = 0.0
    fps: float = 0.0
    last_frame_ms: int | None = None

    def frozen(self, camera_id: str) -> CameraStatus:
        last = (
            None
            if self.last_frame_ms is None
            else datetime.fromtimestamp(self.last_frame_ms / 1000, UTC)
        )
        return CameraStatus(
            camera_id, self.state, self.last_error, self.bitrate_bps, self.fps, last
        )


@dataclass(frozen=True)
class SegmentFile:
    """A recorded segment file of this server, for playback."""

    path: Path
    start_ms: int
    end_ms: int
    codec: str


@dataclass
class _LiveOnly:
    ingest: LiveOnlyIngest
    closing: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class _OpenSegment:
    """A segment being written, as far as its reports say (loop thread only)."""

    camera_id: str
    start_ms: int
    end_ms: int
    size: int = 0  # bytes reported so far (what was written counts once)


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise RecorderError("times must be timezone-aware (UTC)")
    return int(moment.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class RecorderService:
    def __init__(
        self,
        recordings_dir: Path,
        index_path: Path,
        server_id: str,
        *,
        segment_seconds: float = 60.0,
        retention: RetentionPolicy = RetentionPolicy(),  # noqa: B008 (frozen value)
        stall_timeout_s: float = 5.0,
        on_status: Callable[[CameraStatus], None] | None = None,
        fast_ingest: bool = True,
        on_retention: Callable[[int, int], None] | None = None,
    ) -> None:
        if segment_seconds <= 0 or stall_timeout_s <= 0:
            raise RecorderError("segment_seconds and stall_timeout_s must be positive")
        self.recordings_dir = Path(recordings_dir)
        self.index_path = Path(index_path)
        self.server_id = server_id
        self.segment_seconds = segment_seconds
        self.retention = retention
        self.stall_timeout_s = stall_timeout_s
        self._on_status = on_status
        self._on_retention = on_retention  # (segments, bytes) deleted by retention
        # running totals per camera since start, for metrics
        self.bytes_written: dict[str, int] = {}
        self.reconnects: dict[str, int] = {}
        # Our own RTSP/TCP reader for H.264/H.265 video-only cameras (FFmpeg's costs
        # about twice the CPU); others, or False here, use FFmpeg's RTSP client.
        self.fast_ingest = fast_ingest
        self._loop: asyncio.AbstractEventLoop | None = None
        self._index: SegmentIndex | None = None
        self._ingests: dict[str, CameraIngest] = {}
        self._retired: list[CameraIngest] = []  # stopped or abandoned, not yet joined
        self._live: dict[str, _Live] = {}
        self._open: dict[str, _OpenSegment] = {}  # by relpath
        # Index writes waiting for the next flush, by relpath:
        self._pending_inserts: dict[str, SegmentInsert] = {}
        self._pending_updates: dict[str, SegmentUpdate] = {}
        self._pending_deletes: list[str] = []
        self._pending_starts: dict[str, int] = {}  # start corrected while growing
        self._flush_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self._storage_full = False
        self._rng = random.Random()
        self.last_reconcile: ReconcileReport | None = None
        # Live fan-out: the main stream of each recorded camera, and the live-only
        # streams (sub-streams) opened while someone watches them.
        self._taps: dict[str, LiveTap] = {}
        self._live_only: dict[tuple[str, str], _LiveOnly] = {}
        self._live_taps: dict[tuple[str, str], LiveTap] = {}

    # --- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        self._index = await asyncio.to_thread(SegmentIndex, self.index_path)
        self.last_reconcile = await asyncio.to_thread(
            reconcile, self._index, self.recordings_dir, self.server_id
        )
        self._tasks = [
            asyncio.create_task(self._every(INDEX_FLUSH_INTERVAL_S, self._flush), name="rec-flush"),
            asyncio.create_task(
                self._every(RETENTION_INTERVAL_S, self._apply_retention), name="rec-retention"
            ),
            asyncio.create_task(self._every(WATCHDOG_INTERVAL_S, self._watchdog), name="rec-watch"),
        ]

    async def stop(self) -> None:
        for key in list(self._live_only):
            self._close_live_only(key)
        await self.set_cameras({})
        await self._join_retired()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # Events posted by the last threads are queued with call_soon: let them run.
        await asyncio.sleep(0)
        try:
            await self._flush()
        except Exception as exc:  # the files are on disk: the next start re-indexes them
            log.warning("recorder: last index write failed at stop: %s", exc)
        if self._index is not None:
            await asyncio.to_thread(self._index.close)
            self._index = None

    async def set_cameras(self, sources: Mapping[str, CameraSource]) -> None:
        """Make the recorded set equal `sources` (camera id -> source). A changed source
        is restarted. Invalid ids raise InvalidCameraId and change nothing."""
        for camera_id, source in sources.items():
            validate_camera_id(camera_id)
            if source.camera_id != camera_id:
                raise RecorderError(f"camera id {camera_id!r} differs from its source's id")
        for camera_id in list(self._ingests):
            if sources.get(camera_id) != self._ingests[camera_id].source:
                self._retire(self._ingests.pop(camera_id))
                if camera_id in sources:  # replaced: its new ingest is the camera's state
                    self._live[camera_id].state = STOPPED
        for camera_id, source in sources.items():
            if camera_id not in self._ingests:
                self._start_ingest(source)
        for camera_id in list(self._taps):
            if camera_id not in sources:
                self._taps.pop(camera_id).end_stream("this server no longer records the camera")
        dropped = [camera_id for camera_id in self._live if camera_id not in sources]
        # A dropped camera reads "stopped" only once its ingest thread has ended: until
        # then it still writes what it reads, and anyone told "stopped" earlier would see
        # this server's video run on past that moment in the timeline.
        await self._join_retired()
        for camera_id in dropped:
            if camera_id in self._live and camera_id not in self._ingests:
                self._set_state(camera_id, STOPPED, None)
                del self._live[camera_id]

    def _start_ingest(self, source: CameraSource) -> None:
        ingest = CameraIngest(
            source,
            recordings_dir=self.recordings_dir,
            segment_seconds=self.segment_seconds,
            stall_timeout_s=self.stall_timeout_s,
            post=self._post,
            storage_ok=lambda: not self._storage_full,
            rng=self._rng,
            fast_ingest=self.fast_ingest,
            tap=self._tap_of(source.camera_id),
        )
        self._ingests[source.camera_id] = ingest
        self._live.setdefault(source.camera_id, _Live())
        ingest.start()

    def _retire(self, ingest: CameraIngest) -> None:
        ingest.stop()
        self._retired.append(ingest)

    async def _join_retired(self) -> None:
        retired, self._retired = self._retired, []
        if not retired:
            return

        def join_all() -> list[CameraIngest]:
            deadline = time.monotonic() + STOP_JOIN_TIMEOUT_S
            return [i for i in retired if not i.join(max(0.0, deadline - time.monotonic()))]

        for ingest in await asyncio.to_thread(join_all):
            log.warning("camera %s: ingest thread did not stop in time", ingest.camera_id)

    # --- events from ingest threads --------------------------------------------------
    def _post(self, event: IngestEvent) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closed meanwhile
            loop.call_soon_threadsafe(self._on_event, event)

    def _on_event(self, event: IngestEvent) -> None:
        ingest = event.ingest
        camera_id = ingest.camera_id
        # A replaced ingest's segments still go to the index; its state and live figures
        # no longer describe the camera.
        current = self._ingests.get(camera_id) is ingest
        match event:
            case SegmentOpened():
                rel, start_ms = event.relpath, event.start_ms
                self._open[rel] = _OpenSegment(camera_id, start_ms, start_ms)
                self._pending_inserts[rel] = SegmentInsert(
                    camera_id=camera_id,
                    server_id=self.server_id,
                    start_ms=start_ms,
                    end_ms=start_ms,
                    path=rel,
                    bytes=0,
                    codec=event.codec,
                    width=event.width,
                    height=event.height,
                    open=True,
                )
                if current:
                    self._set_state(camera_id, RECORDING, None)
            case SegmentProgress():
                rel = event.relpath
                segment = self._open.get(rel)
                if segment is not None:
                    segment.start_ms, segment.end_ms = event.start_ms, event.end_ms
                    self._count_bytes(segment, event.size)
                self._pending_starts[rel] = event.start_ms
                self._pending_updates[rel] = SegmentUpdate(rel, event.end_ms, event.size, True)
                live = self._live.get(camera_id)
                if current and live is not None:
                    live.bitrate_bps, live.fps = event.bitrate_bps, event.fps
                    live.last_frame_ms = event.end_ms
            case SegmentClosed():
                rel = event.relpath
                closed = self._open.pop(rel, None)
                if closed is not None:
                    self._count_bytes(closed, event.size)
                if event.size:
                    self._pending_updates[rel] = SegmentUpdate(rel, event.end_ms, event.size, False)
                else:  # the file held nothing and was deleted
                    self._pending_updates.pop(rel, None)
                    if self._pending_inserts.pop(rel, None) is None:
                        self._pending_deletes.append(rel)
            case IngestStateChanged():
                if current:
                    self._set_state(camera_id, event.state, event.error)

    def _count_bytes(self, segment: _OpenSegment, size: int) -> None:
        if size > segment.size:
            total = self.bytes_written.get(segment.camera_id, 0)
            self.bytes_written[segment.camera_id] = total + size - segment.size
            segment.size = size

    def _set_state(self, camera_id: str, state: str, error: str | None) -> None:
        live = self._live.get(camera_id)
        if live is None:
            return
        if state == RECONNECTING and live.state != RECONNECTING:
            self.reconnects[camera_id] = self.reconnects.get(camera_id, 0) + 1
        if state != RECORDING:
            live.bitrate_bps = live.fps = 0.0
        if (live.state, live.last_error) == (state, error):
            return
        live.state, live.last_error = state, error
        if self._on_status is not None:
            try:
                self._on_status(live.frozen(camera_id))
            except Exception:
                log.exception("on_status callback failed")

    # --- periodic work -------------------------------------------------------------
    async def _every(self, interval_s: float, job: Callable) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recorder periodic job %s failed", job.__name__)

    async def _flush(self) -> None:
        async with self._flush_lock:
            pending = self._pending_inserts or self._pending_updates or self._pending_deletes
            if self._index is None or not (pending or self._pending_starts):
                return
            inserts, self._pending_inserts = list(self._pending_inserts.values()), {}
            updates, self._pending_updates = list(self._pending_updates.values()), {}
            deletes, self._pending_deletes = self._pending_deletes, []
            starts, self._pending_starts = self._pending_starts, {}
            # A start corrected before the first flush goes into the insert itself.
            inserts = [replace(row, start_ms=starts.pop(row.path, row.start_ms)) for row in inserts]
            try:
                await asyncio.to_thread(self._index.apply_batch, inserts, updates, starts)
                if deletes:
                    await asyncio.to_thread(self._index.delete_paths, deletes)
            except Exception:
                # The index cannot be written (disk read-only or failing): keep the rows
                # waiting, so the timeline still shows those segments (periods() reads
                # pending writes too) and the next flush tries again.
                self._requeue(inserts, updates, starts, deletes)
                raise

    def _requeue(
        self,
        inserts: list[SegmentInsert],
        updates: list[SegmentUpdate],
        starts: dict[str, int],
        deletes: list[str],
    ) -> None:
        """Put back index writes a failed flush took; newer ones queued since win."""
        for row in inserts:
            self._pending_inserts.setdefault(row.path, row)
        for update in updates:
            self._pending_updates.setdefault(update.path, update)
        for path, start_ms in starts.items():
            self._pending_starts.setdefault(path, start_ms)
        self._pending_deletes[:0] = deletes

    async def _apply_retention(self) -> None:
        await self._flush()
        index = self._index
        if index is None:
            return
        writing = set(self._open)
        policy = self.retention

        def run() -> tuple[list[str], int, bool]:
            free = shutil.disk_usage(self.recordings_dir).free
            by_id: dict[int, SegmentRow] = {}  # only the rows read: the oldest few

            def oldest_first() -> Iterator[StoredSegment]:
                for r in index.oldest_first():
                    by_id[r.id] = r
                    yield StoredSegment(
                        r.id, r.start_ms, r.end_ms, r.bytes, r.open or r.path in writing
                    )

            choice = choose_deletions(
                oldest_first(),
                policy,
                now_ms=time.time_ns() // 1_000_000,
                free_bytes=free,
                used_bytes=index.total_bytes(),
            )
            deleted = []
            for key in choice.delete:
                path = self.recordings_dir / by_id[key].path
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("retention: cannot delete %s: %s", by_id[key].path, exc)
                    continue
                deleted.append(key)
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # only succeeds once the day folder is empty
            index.delete_ids(deleted)
            freed = sum(by_id[k].bytes for k in deleted)
            return [by_id[k].path for k in deleted], freed, choice.storage_full

        deleted, freed, full = await asyncio.to_thread(run)
        if deleted:
            log.info("retention deleted %d segment(s)", len(deleted))
            if self._on_retention is not None:
                try:
                    self._on_retention(len(deleted), freed)
                except Exception:
                    log.exception("on_retention callback failed")
        if full and not self._storage_full:
            log.warning("storage full: recordings over the retention limits, nothing to delete")
            # End the current attempts: their segments close and become deletable; the
            # ingests report "error" and wait until there is room again.
            for ingest in self._ingests.values():
                ingest.interrupt("storage full: over the retention limit")
        self._storage_full = full

    async def _watchdog(self) -> None:
        """A read blocked beyond the socket timeout: abandon that thread, start fresh."""
        now = time.monotonic()
        limit = self.stall_timeout_s + WATCHDOG_GRACE_S
        for camera_id, ingest in list(self._ingests.items()):
            live = self._live.get(camera_id)
            hung_open = live is not None and live.state != RECORDING
            if now - ingest.last_activity <= limit + (
                max(5.0, 2 * self.stall_timeout_s) if hung_open else 0.0
            ):
                continue
            if live is not None and live.state == ERROR:
                continue  # waiting for storage: it reports every second anyway
            log.warning("camera %s: ingest hung, starting a fresh one", camera_id)
            self._retire(self._ingests.pop(camera_id))
            self._set_state(camera_id, RECONNECTING, "stalled: no data from camera")
            self._start_ingest(ingest.source)
        # Forget abandoned threads that have finished.
        self._retired = [i for i in self._retired if not i.join(0)]

    # --- live ----------------------------------------------------------------------
    def _tap_of(self, camera_id: str) -> LiveTap:
        # One tap per camera across its ingests: viewers stay through a reconnect.
        tap = self._taps.get(camera_id)
        if tap is None:
            assert self._loop is not None, "recorder not started"
            tap = self._taps[camera_id] = LiveTap(self._loop, camera_id)
        return tap

    def live_tap(self, camera_id: str) -> LiveTap | None:
        """The live fan-out of a camera this server records (None when it does not)."""
        return self._taps.get(camera_id) if camera_id in self._ingests else None

    def open_live_only(self, key: tuple[str, str], source: CameraSource) -> LiveTap:
        """The live fan-out of a stream that is watched but not recorded (e.g. a
        camera's sub-stream), keyed by (camera id, stream name). The stream is opened
        now (or kept) and closed LIVE_LINGER_S after its last viewer leaves."""
        live = self._live_only.get(key)
        if live is not None and live.ingest.source != source:
            self._close_live_only(key)
            live = None
        if live is None:
            assert self._loop is not None, "recorder not started"
            tap = self._live_taps.get(key) or LiveTap(self._loop, f"{key[0]}/{key[1]}")
            self._live_taps[key] = tap
            tap.on_idle = lambda: self._idle_live_only(key)
            live = self._live_only[key] = _LiveOnly(
                LiveOnlyIngest(source, tap, self.stall_timeout_s)
            )
            live.ingest.start()
        elif live.closing is not None:
            live.closing.cancel()
            live.closing = None
        return self._live_taps[key]

    def live_only_open(self) -> list[tuple[str, str]]:
        """The live-only streams open now."""
        return sorted(self._live_only)

    def _idle_live_only(self, key: tuple[str, str]) -> None:
        live = self._live_only.get(key)
        if live is None or self._loop is None:
            return
        if live.closing is not None:
            live.closing.cancel()
        live.closing = self._loop.call_later(LIVE_LINGER_S, self._linger_over, key)

    def _linger_over(self, key: tuple[str, str]) -> None:
        tap = self._live_taps.get(key)
        if tap is not None and tap.viewers == 0:
            self._close_live_only(key)

    def _close_live_only(self, key: tuple[str, str]) -> None:
        live = self._live_only.pop(key, None)
        self._live_taps.pop(key, None)
        if live is None:
            return
        if live.closing is not None:
            live.closing.cancel()
        live.ingest.stop()  # its thread ends within a fraction of a second

    # --- queries --------------------------------------------------------------------
    def stored_bytes(self) -> int:
        """Bytes of video the index holds (any thread)."""
        return 0 if self._index is None else int(self._index.total_bytes())

    async def find_periods(self, camera_id: str, start: datetime, end: datetime) -> list[Period]:
        """`periods`, with the index queried on a worker thread (never on the loop)."""
        start_ms, end_ms = _ms(start), _ms(end)
        if end_ms <= start_ms or self._index is None:
            return []
        index = self._index
        rows = await asyncio.to_thread(index.overlapping, camera_id, start_ms, end_ms)
        return self._periods_from(rows, camera_id, start_ms, end_ms)

    async def segment_files(
        self, camera_id: str, start: datetime, end: datetime
    ) -> list[SegmentFile]:
        """This server's segment files of the camera overlapping [start, end), in
        order; open ones reach as far as their last report (index on a worker thread)."""
        start_ms, end_ms = _ms(start), _ms(end)
        if end_ms <= start_ms or self._index is None:
            return []
        await self._flush()
        index = self._index
        rows = await asyncio.to_thread(index.overlapping, camera_id, start_ms, end_ms)
        files = []
        for row in rows:
            segment = self._open.get(row.path)
            row_end = max(row.end_ms, segment.end_ms) if segment is not None else row.end_ms
            files.append(
                SegmentFile(self.recordings_dir / row.path, row.start_ms, row_end, row.codec)
            )
        return sorted(files, key=lambda f: f.start_ms)

    def statuses(self) -> dict[str, CameraStatus]:
        return {camera_id: live.frozen(camera_id) for camera_id, live in self._live.items()}

    def periods(self, camera_id: str, start: datetime, end: datetime) -> list[Period]:
        """This server's periods of the camera in [start, end) (queries the index on the
        calling thread: from the event loop use `find_periods`); video downloaded from
        the camera's own storage makes periods of its own (source "edge")."""
        start_ms, end_ms = _ms(start), _ms(end)
        if end_ms <= start_ms or self._index is None:
            return []
        rows = self._index.overlapping(camera_id, start_ms, end_ms)
        return self._periods_from(rows, camera_id, start_ms, end_ms)

    def _periods_from(
        self, rows: list[SegmentRow], camera_id: str, start_ms: int, end_ms: int
    ) -> list[Period]:
        live = (self.server_id, False)
        by_source: dict[tuple[str, bool], dict[str, tuple[int, int]]] = {}
        for row in rows:
            key = (row.server_id, row.edge)
            by_source.setdefault(key, {})[row.path] = (row.start_ms, row.end_ms)
        for rel, row in self._pending_inserts.items():
            if row.camera_id == camera_id:  # opened (maybe closed already) since the last flush
                start_ms_p = self._pending_starts.get(rel, row.start_ms)
                by_source.setdefault(live, {})[rel] = (start_ms_p, row.end_ms)
        for rel, segment in self._open.items():
            if segment.camera_id == camera_id:  # growing segments: newer than the index
                by_source.setdefault(live, {})[rel] = (segment.start_ms, segment.end_ms)
        for rel, update in self._pending_updates.items():
            mine = by_source.get(live, {})
            if rel in mine:
                mine[rel] = (mine[rel][0], max(mine[rel][1], update.end_ms))
        periods = [
            Period(_dt(s), _dt(e), server_id, "edge" if edge else "live")
            for (server_id, edge), spans in by_source.items()
            for s, e in merge_spans(spans.values(), start_ms, end_ms)
        ]
        return sorted(periods, key=lambda p: (p.start, p.server_id, p.source))

    async def export(self, camera_id: str, start: datetime, end: datetime, out_path: Path) -> Path:
        start_ms, end_ms = _ms(start), _ms(end)
        if end_ms <= start_ms:
            raise ExportError("export range is empty: end must be after start")
        if self._index is None:
            raise ExportError("recorder is not started")
        await self._flush()
        index = self._index
        rows = await asyncio.to_thread(index.overlapping, camera_id, start_ms, end_ms)
        segments = [(self.recordings_dir / r.path, r.start_ms) for r in rows]
        if not segments:
            raise ExportError(f"no recordings of camera {camera_id!r} in that range")
        out_path = Path(out_path)
        return await asyncio.to_thread(export_segments, segments, start_ms, end_ms, out_path)

    # --- filling gaps from the camera's own storage -----------------------------------
    async def fill_from_edge(
        self,
        camera_id: str,
        source: EdgeSource,
        start: datetime,
        end: datetime,
        *,
        bucket: TokenBucket,
        stop: threading.Event,
        timeout_s: float = 10.0,
    ) -> FillResult:
        """Download [start, end] of the camera's own recording (Profile G replay) into
        segments marked as edge and index them; runs in a worker thread. Raises
        EdgeFillError (with what it wrote before failing)."""
        validate_camera_id(camera_id)
        start_ms, end_ms = _ms(start), _ms(end)
        if end_ms <= start_ms:
            raise RecorderError("fill range is empty: end must be after start")
        index = self._index
        if index is None:
            raise RecorderError("recorder is not started")
        return await asyncio.to_thread(
            download_edge_range,
            source,
            camera_id,
            start_ms,
            end_ms,
            recordings_dir=self.recordings_dir,
            server_id=self.server_id,
            index=index,
            segment_seconds=self.segment_seconds,
            bucket=bucket,
            stop=stop,
            timeout_s=timeout_s,
            scrub=lambda text: scrub(text, source.password),
        )

    def gaps(
        self,
        camera_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[GapRow]:
        """Gaps noted in the index (a fill working on them, or unfillable)."""
        if self._index is None:
            return []
        if start is None or end is None:
            return self._index.gaps(camera_id)
        return self._index.gaps(camera_id, _ms(start), _ms(end))

    def put_gap(self, gap: GapRow) -> None:
        if self._index is not None:
            self._index.put_gap(gap)

    def delete_gap(self, camera_id: str, start_ms: int) -> None:
        if self._index is not None:
            self._index.delete_gap(camera_id, start_ms)
