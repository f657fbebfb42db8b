"""Recording attempts read by FFmpeg's RTSP client through PyAV: for cameras the own
client does not handle (audio, B-frames, anything it does not understand) and when the
service runs with `fast_ingest=False`.

Thread: the camera's ingest thread, which opens the stream, then reads and remuxes
(blocking) until the attempt ends."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import av

from ._live_tap import LiveTap
from ._segment_writer import SegmentRemuxer, SegmentSink, ingest_failure

PROBE_SIZE_BYTES = 1_000_000  # keep the demuxer's probe buffer (memory per stream) small
ANALYZE_DURATION_US = 100_000  # probing buffers this much: it delays the first packet


def open_camera(url: str, stall_timeout_s: float) -> av.container.InputContainer:
    """Open an RTSP camera over TCP. The socket timeout makes a stalled read fail after
    about `stall_timeout_s`; PyAV's interrupt callback bounds the whole open (only while
    opening: during reads it would take the GIL on every check)."""
    options = {
        "rtsp_transport": "tcp",
        # µs; FFmpeg's RTSP demuxer retries a timed-out read once before failing, so a
        # stall surfaces after about twice this: use half the stall timeout.
        "timeout": str(int(stall_timeout_s * 500_000)),
        "probesize": str(PROBE_SIZE_BYTES),
        "analyzeduration": str(ANALYZE_DURATION_US),
        "fflags": "+genpts",
    }
    open_timeout = max(5.0, 2 * stall_timeout_s)
    return av.open(url, options=options, timeout=(open_timeout, None))


def record_with_ffmpeg(
    url: str,
    *,
    segment_seconds: float,
    stall_timeout_s: float,
    sink: SegmentSink,
    stop: threading.Event,
    scrub: Callable[[str], str],
    tap: LiveTap | None = None,
) -> str:
    """One attempt: connect, remux into segments until `stop` is set (returns) or an
    error or end of stream (raises IngestFailure with a scrubbed message)."""
    try:
        inp = open_camera(url, stall_timeout_s)
    except (av.FFmpegError, OSError) as exc:
        raise ingest_failure(exc, scrub) from None
    try:
        remuxer = SegmentRemuxer(
            inp, segment_seconds=segment_seconds, sink=sink, stop=stop, scrub=scrub, tap=tap
        )
        return remuxer.run()
    finally:
        with contextlib.suppress(av.FFmpegError, OSError):
            inp.close()
