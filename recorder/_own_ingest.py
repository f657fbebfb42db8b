"""Recording attempts read by camkeep's own RTSP/TCP client (`_rtsp_client`, `_rtp`)
for H.264/H.265 cameras without audio; PyAV only muxes. It costs a fraction of the CPU of
FFmpeg's client, whose reader wakes up for every RTP packet.

Threads: the camera's ingest thread connects (DESCRIBE, SETUP, PLAY), reads up to the
first keyframe and remuxes it, then hands the attempt to the shared poller thread
(`_poller`), which reads the socket and remuxes what came every 0.4 s, and waits until
the attempt ends. A camera this client cannot record raises FastIngestUnsupported, and
the supervisor falls back to FFmpeg's client (`_ffmpeg_ingest`)."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av

from ._live_tap import LiveFrame, LiveTap, StreamInfo
from ._nal import parameter_sets
from ._poller import POLLER, POLLER_CHECK_S
from ._rtp import InterleavedVideoReader, RtspProtocolError, TimestampUnwrapper
from ._rtsp_client import RtspClient, RtspStalled
from ._segment_writer import IngestFailure, SegmentRemuxer, SegmentSink, ingest_failure

log = logging.getLogger(__name__)

TB_90K = Fraction(1, 90000)
REORDER_LIMIT_TICKS = 90000  # a step back smaller than 1 s is reordering, not a reset


class FastIngestUnsupported(Exception):
    """The camera offers something the fast ingest does not handle (audio, codec)."""


@dataclass
class FastSource:
    url: str  # without credentials
    username: str | None
    password: str | None
    usable: bool = True  # False once the camera showed what only FFmpeg's client handles


class _Streams:
    def __init__(self) -> None:
        self.video: list = []
        self.audio: list = []


class _FastInput:
    """Looks like an av input container to SegmentRemuxer (`streams`, `demux`), fed by
    RtspClient: access units become av.Packets in 1/90000 time base. Ends by itself
    once the client's stop is set (after what had arrived). The shared poller feeds it
    chunk by chunk instead (`units_of`, `packets`)."""

    ends_on_stop = True

    def __init__(self, client: RtspClient, codec: str, extradata: bytes) -> None:
        self.client = client
        self.codec = codec
        self.extradata = extradata
        self.streams = _Streams()
        self.template = None
        self._reader = InterleavedVideoReader(codec, 0)
        self._unwrap = TimestampUnwrapper().unwrap
        self._last_stamp = -1
        self.pending: list[tuple[bytes, bool, int]] = []  # read by open(), not yet used
        self._chunks: Iterator[bytes] = iter(())

    def units_of(self, chunk: bytes) -> list[tuple[bytes, bool, int]]:
        """Access units (bytes, keyframe, 64-bit 90 kHz time) that `chunk` completes."""
        unwrap = self._unwrap
        return [(unit, key, unwrap(stamp)) for unit, key, stamp in self._reader.feed(chunk)]

    def open(self, stop: threading.Event) -> None:
        """Read up to the first keyframe; describe the stream by it (a tiny raw-stream
        container whose video stream is the muxers' template)."""
        self._chunks = self.client.chunks()
        for chunk in self._chunks:  # (ends by itself once `stop` is set)
            units = self.units_of(chunk)
            for i, (data, key, _) in enumerate(units):
                if not key:
                    continue
                self.describe_by(data)
                self.pending = units[i:]
                return
        if stop.is_set():
            raise IngestFailure("stopped before the first keyframe")
        raise IngestFailure("camera ended the stream")

    def describe_by(self, keyframe: bytes) -> None:
        """Describe the stream by its first keyframe (with the SDP's parameter sets
        when the keyframe does not carry its own)."""
        head = keyframe if parameter_sets(keyframe, self.codec) else self.extradata + keyframe
        self.template = av.open(io.BytesIO(head), format=self.codec)
        if not self.template.streams.video:
            raise IngestFailure("camera's first keyframe cannot be read")
        self.streams.video.append(self.template.streams.video[0])

    def take_pending(self) -> list[tuple[bytes, bool, int]]:
        pending, self.pending = self.pending, []
        return pending

    def packets(self, units: list[tuple[bytes, bool, int]]):
        """av.Packets of the video stream for these access units."""
        video = self.streams.video[0]
        packet_class = av.Packet
        time_base = TB_90K
        last = self._last_stamp
        for data, key, stamp in units:
            if stamp < last and last - stamp < REORDER_LIMIT_TICKS:
                # Frames out of presentation order (B-frames): RTP carries no DTS, so
                # leave this camera to FFmpeg's client, which derives it.
                raise FastIngestUnsupported("frames arrive out of order (B-frames)")
            last = self._last_stamp = stamp
            packet = packet_class(data)
            packet.pts = stamp
            packet.dts = stamp
            packet.time_base = time_base
            packet.is_keyframe = key
            packet.stream = video
            yield packet

    def demux(self, streams):
        yield from self.packets(self.take_pending())
        for chunk in self._chunks:
            yield from self.packets(self.units_of(chunk))

    def close(self) -> None:
        if self.template is not None:
            self.template.close()


class _PolledAttempt:
    """The streaming part of a fast-ingest attempt, run by the shared poller thread:
    each round it takes what the camera's socket holds and remuxes it."""

    def __init__(
        self,
        client: RtspClient,
        fast_input: _FastInput,
        remuxer: SegmentRemuxer,
        stop: threading.Event,
        stall_timeout_s: float,
        tap: LiveTap | None = None,
    ) -> None:
        self.client = client
        self.fast_input = fast_input
        self.tap = tap
        self.remuxer = remuxer
        self.stop = stop
        self.stall_timeout_s = stall_timeout_s
        self.last_data = time.monotonic()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def poll(self, now: float) -> bool:
        """One round (poller thread). False once the attempt is over (stopped); raises
        when it failed. A stop first takes everything received up to it."""
        chunk, closed = self.client.read_available()
        if chunk:
            self.last_data = now
            push = self.remuxer.push
            units = self.fast_input.units_of(chunk)
            if self.tap is not None:
                self.tap.publish([LiveFrame(d, k, s, s) for d, k, s in units])
            for packet in self.fast_input.packets(units):
                push(packet)
        if closed:
            raise ConnectionError("camera closed the connection")
        if self.stop.is_set():
            return False
        if now - self.last_data >= self.stall_timeout_s:
            raise RtspStalled(f"stalled: no data from camera for {self.stall_timeout_s:g} s")
        self.client.keepalive_if_due(now)
        return True

    def watched(self) -> bool:
        """Someone watches live: the poller reads this camera more often."""
        tap = self.tap
        return tap is not None and tap.viewers > 0

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.done.set()


def stream_info(fast_input: _FastInput, extradata: bytes) -> StreamInfo:
    """The live description of an opened own-client stream: parameter sets from the
    SDP, else from its first keyframe."""
    first_key = next((data for data, key, _ in fast_input.pending if key), b"")
    params = extradata or parameter_sets(first_key, fast_input.codec) or b""
    context = fast_input.streams.video[0].codec_context
    return StreamInfo(fast_input.codec, params, context.width, context.height)


def record_with_own_client(
    source: FastSource,
    *,
    segment_seconds: float,
    stall_timeout_s: float,
    sink: SegmentSink,
    stop: threading.Event,
    scrub: Callable[[str], str],
    tap: LiveTap | None = None,
) -> str:
    """One attempt with the own client: connect and play on this (the camera's) thread,
    stream on the shared poller thread until `stop` is set (returns) or the stream fails
    (raises IngestFailure with a scrubbed message). Raises FastIngestUnsupported when
    the camera offers what this client does not handle."""
    client = RtspClient(source.url, source.username, source.password, stall_timeout_s, stop)
    fast_input = None
    try:
        try:
            client.connect()
            tracks = client.describe()
            video = next((t for t in tracks if t.kind == "video" and t.codec), None)
            if video is None or any(t.kind == "audio" for t in tracks):
                raise FastIngestUnsupported
            client.setup(video, 0)
            client.play()
            fast_input = _FastInput(client, video.codec, video.parameter_sets())
            fast_input.open(stop)
            remuxer = SegmentRemuxer(
                fast_input,
                segment_seconds=segment_seconds,
                sink=sink,
                stop=stop,
                scrub=scrub,
                video_time_base=float(TB_90K),
            )
        except RtspProtocolError as exc:
            # Something our small client does not understand: let FFmpeg's try.
            log.info("fast ingest not usable (%s); using FFmpeg's RTSP client", scrub(str(exc)))
            raise FastIngestUnsupported from None
        except (RtspStalled, OSError, av.FFmpegError) as exc:
            raise ingest_failure(exc, scrub) from None
        # The connection stays with this thread (its supervisor); the reading and
        # muxing move to the one poller thread shared by every fast ingest.
        remuxer.begin()
        try:
            if tap is not None:
                tap.on_watched = POLLER.wake  # a new viewer is read at the live pace at once
                tap.start_stream(stream_info(fast_input, fast_input.extradata))
                tap.publish([LiveFrame(d, k, s, s) for d, k, s in fast_input.pending])
            for packet in fast_input.packets(fast_input.take_pending()):
                remuxer.push(packet)
            attempt = _PolledAttempt(client, fast_input, remuxer, stop, stall_timeout_s, tap)
            client.set_nonblocking()
            POLLER.add(attempt)
            while not attempt.done.wait(POLLER_CHECK_S):
                if not POLLER.alive():
                    raise IngestFailure("internal error: the stream reader stopped")
            if attempt.error is not None:
                raise attempt.error
            return "stopped"
        except (RtspStalled, RtspProtocolError) as exc:
            raise IngestFailure(scrub(str(exc))) from None
        except (av.FFmpegError, OSError) as exc:
            raise ingest_failure(exc, scrub) from None
        finally:
            remuxer.end()
    finally:
        if fast_input is not None:
            fast_input.close()
        client.close()
