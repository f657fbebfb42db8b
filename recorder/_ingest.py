"""One camera's ingest: a named thread that supervises recording attempts.

Supervise, don't repair: an attempt that fails ends (its segment closed); the
supervisor waits a capped, jittered exponential backoff and starts a fresh one. An
attempt reads the camera with the own RTSP client (`_own_ingest`) while the camera
allows it, with FFmpeg's (`_ffmpeg_ingest`) otherwise. All reports go to the event loop
as `_events` through `post` (call_soon_threadsafe)."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ._backoff import backoff_delay
from ._events import (
    IngestEvent,
    IngestStateChanged,
    SegmentClosed,
    SegmentOpened,
    SegmentProgress,
)
from ._ffmpeg_ingest import record_with_ffmpeg
from ._live_tap import LiveTap
from ._model import CONNECTING, ERROR, RECONNECTING, STOPPED, CameraSource
from ._naming import segment_relpath
from ._own_ingest import FastIngestUnsupported, FastSource, record_with_own_client
from ._segment_writer import IngestFailure, SegmentSink
from ._urls import scrub, with_credentials

log = logging.getLogger(__name__)

HEALTHY_ATTEMPT_S = 10.0  # an attempt that recorded this long resets the backoff
STORAGE_RETRY_S = 1.0

Post = Callable[[IngestEvent], None]  # hands an event to the event loop


def record_attempt(
    url: str,
    *,
    segment_seconds: float,
    stall_timeout_s: float,
    sink: SegmentSink,
    stop: threading.Event,
    scrub: Callable[[str], str],
    fast: FastSource | None = None,
    tap: LiveTap | None = None,
) -> str:
    """One attempt: connect, remux into segments until `stop` is set (returns) or an
    error or end of stream (raises IngestFailure with a scrubbed message). The own RTSP
    client reads the camera while it can (`fast`); FFmpeg's client otherwise."""
    if fast is not None and fast.usable:
        try:
            return record_with_own_client(
                fast,
                segment_seconds=segment_seconds,
                stall_timeout_s=stall_timeout_s,
                sink=sink,
                stop=stop,
                scrub=scrub,
                tap=tap,
            )
        except FastIngestUnsupported as why:
            # e.g. an audio track or B-frames: FFmpeg's RTSP client handles everything
            if why.args:
                fast.usable = False  # seen while streaming: do not try again
                log.info("camera stream needs FFmpeg's RTSP client: %s", why.args[0])
    return record_with_ffmpeg(
        url,
        segment_seconds=segment_seconds,
        stall_timeout_s=stall_timeout_s,
        sink=sink,
        stop=stop,
        scrub=scrub,
        tap=tap,
    )


class CameraIngest:
    def __init__(
        self,
        source: CameraSource,
        *,
        recordings_dir: Path,
        segment_seconds: float,
        stall_timeout_s: float,
        post: Post,
        storage_ok: Callable[[], bool],
        rng: random.Random | None = None,
        fast_ingest: bool = True,
        tap: LiveTap | None = None,
    ) -> None:
        self.source = source
        self.tap = tap  # live viewers of this camera are fed from its ingest
        self._fast = (
            FastSource(source.url, source.username, source.password) if fast_ingest else None
        )
        self.camera_id = source.camera_id
        self._recordings_dir = recordings_dir
        self._segment_seconds = segment_seconds
        self._stall_timeout_s = stall_timeout_s
        self._post = post
        self._storage_ok = storage_ok
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._attempt_stop = threading.Event()
        self._interrupt_reason: str | None = None
        self.last_activity = time.monotonic()  # watchdog: refreshed by every report
        self.recording = False
        self._thread = threading.Thread(
            target=self._run, name=f"ingest-{source.camera_id}", daemon=True
        )

    # --- control (any thread) -------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._attempt_stop.set()

    def interrupt(self, reason: str) -> None:
        """End the current attempt (its segment is closed); the supervisor goes on."""
        self._interrupt_reason = reason
        self._attempt_stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- SegmentSink (ingest thread) --------------------------------------------------
    def claim_path(self, start_ms: int) -> tuple[str, Path]:
        from datetime import UTC, datetime

        start = datetime.fromtimestamp(start_ms / 1000, UTC)
        for collision in range(10_000):
            rel = segment_relpath(self.camera_id, start, collision).as_posix()
            path = self._recordings_dir / rel
            if not os.path.exists(path):
                return rel, path
        raise IngestFailure("no free segment name")

    def segment_opened(self, relpath: str, start_ms: int, codec: str, w: int, h: int) -> None:
        self.last_activity = time.monotonic()
        self.recording = True
        self._post(SegmentOpened(self, relpath, start_ms, codec, w, h))

    def segment_progress(
        self, relpath: str, start_ms: int, end_ms: int, size: int, bitrate_bps: float, fps: float
    ) -> None:
        self.last_activity = time.monotonic()
        self._post(SegmentProgress(self, relpath, start_ms, end_ms, size, bitrate_bps, fps))

    def segment_closed(self, relpath: str, end_ms: int, size: int) -> None:
        self._post(SegmentClosed(self, relpath, end_ms, size))

    # --- supervisor -----------------------------------------------------------------
    def _state(self, state: str, error: str | None = None) -> None:
        self.last_activity = time.monotonic()
        self._post(IngestStateChanged(self, state, error))

    def _run(self) -> None:
        src = self.source
        url = with_credentials(src.url, src.username, src.password)

        def scrub_text(text: str) -> str:
            return scrub(text, src.password)

        failures = 0
        last_error: str | None = None
        state = CONNECTING
        try:
            while not self._stop.is_set():
                if not self._storage_ok():
                    self._state(ERROR, "storage full: nothing left to delete")
                    self._stop.wait(STORAGE_RETRY_S)
                    continue
                if last_error is None:
                    self._state(CONNECTING)
                elif state != ERROR:  # a storage "error" stands until recording again
                    self._state(RECONNECTING, last_error)
                self._attempt_stop.clear()
                self._interrupt_reason = None
                self.recording = False
                began = time.monotonic()
                state = RECONNECTING
                try:
                    record_attempt(
                        url,
                        segment_seconds=self._segment_seconds,
                        stall_timeout_s=self._stall_timeout_s,
                        sink=self,
                        stop=self._attempt_stop,
                        scrub=scrub_text,
                        fast=self._fast,
                        tap=self.tap,
                    )
                    last_error = self._interrupt_reason or "recording interrupted"
                    if self._interrupt_reason:
                        state = ERROR
                except IngestFailure as failure:
                    last_error = str(failure)
                    log.info("camera %s: attempt ended: %s", self.camera_id, last_error)
                    if failure.storage:
                        state = ERROR
                except Exception as exc:  # a bug must not kill the supervisor
                    last_error = scrub_text(f"internal error: {type(exc).__name__}: {exc}")
                    log.exception("camera %s: attempt failed", self.camera_id)
                if self._stop.is_set():
                    break
                healthy = self.recording and time.monotonic() - began >= HEALTHY_ATTEMPT_S
                failures = 1 if healthy else failures + 1
                self._state(state, last_error)
                self._stop.wait(backoff_delay(failures, self._rng))
        finally:
            self.recording = False
            self._post(IngestStateChanged(self, STOPPED, None))
