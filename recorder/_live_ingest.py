"""A live-only stream of a camera: read by the own RTSP client and published to a
LiveTap, never recorded. It serves a camera's second profile (the sub-stream grids
show), opened while someone watches it.

Thread: one per stream, which connects (video track only: audio is not shown live),
reads and publishes, and reconnects after a failure with the recorder's backoff."""

from __future__ import annotations

import logging
import random
import threading
import time

from ._backoff import backoff_delay
from ._live_tap import LiveFrame, LiveTap
from ._model import CameraSource
from ._own_ingest import _FastInput, stream_info
from ._rtp import RtspProtocolError
from ._rtsp_client import RECV_BYTES, RtspClient, RtspStalled
from ._urls import scrub

log = logging.getLogger(__name__)

REORDER_LIMIT_TICKS = 90000
READ_WAKE_S = 0.2


class LiveOnlyIngest:
    def __init__(self, source: CameraSource, tap: LiveTap, stall_timeout_s: float = 5.0) -> None:
        self.source = source
        self.tap = tap
        self.stall_timeout_s = stall_timeout_s
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._rng = random.Random()
        self._thread = threading.Thread(
            target=self._run, name=f"live-{source.camera_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    self._attempt()
                except (RtspStalled, RtspProtocolError, OSError, ValueError) as exc:
                    self.last_error = scrub(f"{type(exc).__name__}: {exc}", self.source.password)
                    log.info("live stream %s: %s", self.source.camera_id, self.last_error)
                except Exception:  # a bug must not kill the thread silently
                    log.exception("live stream %s failed", self.source.camera_id)
                failures += 1
                self._stop.wait(backoff_delay(failures, self._rng))
        finally:
            self.tap.end_stream("live stream closed")

    def _attempt(self) -> None:
        source = self.source
        client = RtspClient(
            source.url, source.username, source.password, self.stall_timeout_s, self._stop
        )
        fast_input = None
        try:
            client.connect()
            tracks = client.describe()
            video = next((t for t in tracks if t.kind == "video" and t.codec), None)
            if video is None:
                raise RtspProtocolError("no H.264/H.265 video track")
            client.setup(video, 0)
            client.play()
            fast_input = _FastInput(client, video.codec, video.parameter_sets())
            fast_input.open(self._stop)
            self.tap.start_stream(stream_info(fast_input, fast_input.extradata))
            sock = client.sock
            assert sock is not None
            # Read as data comes (a viewer waits for it), waking briefly to see a stop.
            sock.settimeout(READ_WAKE_S)
            last = -1
            units = fast_input.take_pending()
            last_data = time.monotonic()
            while not self._stop.is_set():
                for _, _, stamp in units:
                    if stamp < last and last - stamp < REORDER_LIMIT_TICKS:
                        raise RtspProtocolError("the live stream has B-frames: not supported")
                    last = stamp
                if units:
                    self.tap.publish([LiveFrame(d, k, s, s) for d, k, s in units])
                now = time.monotonic()
                try:
                    chunk = sock.recv(RECV_BYTES)
                except TimeoutError:
                    if now - last_data > self.stall_timeout_s:
                        raise RtspStalled("stalled: no data from camera") from None
                    units = []
                    continue
                if not chunk:
                    raise ConnectionError("camera closed the connection")
                last_data = now
                units = fast_input.units_of(chunk)
                client.keepalive_if_due(now)
        finally:
            if fast_input is not None:
                fast_input.close()
            client.close()
