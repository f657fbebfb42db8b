"""Every PyAV call of the recorder: camera ingest (RTSP over TCP), the fragmented-MP4
segment writer, probing segment files and exporting a range.

Everything here blocks; callers run it on an ingest thread, the shared poller thread
(own-client cameras while they stream) or a worker thread, never on the event loop. The
per-packet step (`_Remuxer.push`) avoids allocation and logging: a few int operations
per packet, timing decisions in the pure `_timeline` module."""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av

from ._model import ExportError
from ._mp4boxes import repair_torn_tail
from ._nal import parameter_sets
from ._poller import POLLER, POLLER_CHECK_S
from ._rtp import InterleavedVideoReader, RtspProtocolError, TimestampUnwrapper
from ._rtsp_client import RtspClient, RtspStalled
from ._timeline import SegmentClock, TimestampFixer

log = logging.getLogger(__name__)

# Fragmented MP4: moov first with no samples, then a moof+mdat fragment at every keyframe
# and at least every 0.6 s (frag_duration, µs), each written out as soon as it is cut, so
# with the own reader's batching (<= 0.4 s) at most about 1 s is not on disk yet.
SEGMENT_MUX_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "600000",
    "flush_packets": "1",
}
VIDEO_CODECS = frozenset({"h264", "hevc"})
AUDIO_CODECS = frozenset({"aac"})
DEFAULT_FRAME_S = 0.04  # duration of a frame before the stream shows its own
TIMESTAMP_JUMP_S = 10.0  # a DTS jump this large means the camera restarted its clock
PROBE_SIZE_BYTES = 1_000_000  # keep the demuxer's probe buffer (memory per stream) small
ANALYZE_DURATION_US = 100_000  # probing buffers this much: it delays the first packet
STUCK_WRITE_REPORTS = 3  # seconds of media without the file growing: writing fails
DISK_FULL_FREE_BYTES = 4 * 1024 * 1024  # below this, a failing write is a full disk
START_TAG = "camkeep start_ms="  # in the MP4 comment: start time more precise than the name


class IngestFailure(Exception):
    """A recording attempt ended on an error; the message holds no credentials."""

    def __init__(self, message: str, *, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full


class SegmentSink(Protocol):
    """What an attempt reports; called on the ingest thread, must not block."""

    def claim_path(self, start_ms: int) -> tuple[str, Path]: ...  # (relpath, absolute)

    def segment_opened(
        self, relpath: str, start_ms: int, codec: str, width: int, height: int
    ) -> None: ...

    def segment_progress(
        self, relpath: str, start_ms: int, end_ms: int, size: int, bitrate_bps: float, fps: float
    ) -> None: ...

    def segment_closed(self, relpath: str, end_ms: int, size: int) -> None: ...  # 0: deleted


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _failure(exc: BaseException, scrub: Callable[[str], str]) -> IngestFailure:
    code = getattr(exc, "errno", None)
    disk_full = code in (errno.ENOSPC, errno.EDQUOT)
    text = "disk full" if disk_full else scrub(f"{type(exc).__name__}: {exc}")
    return IngestFailure(text, disk_full=disk_full)


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


class _SegmentWriter:
    __slots__ = ("audio", "container", "flat_reports", "last_size", "path", "relpath", "video")

    def __init__(
        self,
        relpath: str,
        path: Path,
        video,
        audio,
        start_ms: int,
        size: tuple[int, int],
        extradata: bytes | None,
    ) -> None:
        self.relpath = relpath
        self.path = path
        self.last_size = 0
        self.flat_reports = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(path), "w", format="mp4", options=SEGMENT_MUX_OPTIONS)
        try:
            self.container.metadata["comment"] = f"{START_TAG}{start_ms}"
            self.video = self.container.add_stream_from_template(video)
            if extradata is not None:  # the camera changed its parameter sets in-band
                self.video.codec_context.extradata = extradata
            if extradata is not None or not video.codec_context.width:
                # (or probing ended before the camera's SPS arrived)
                self.video.codec_context.width, self.video.codec_context.height = size
            if video.codec_context.name == "hevc":
                self.video.codec_tag = "hvc1"  # the tag players (Apple, browsers) accept
            self.audio = self.container.add_stream_from_template(audio) if audio else None
        except BaseException:
            self.container.close()
            raise

    def size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def check_growth(self, size: int) -> None:
        """Called about once a second of media. A fragment is written every second, so
        a file that stops growing means FFmpeg's writes fail (it does not always report
        a full disk to the muxing call): end the attempt with the reason."""
        if size > self.last_size:
            self.last_size = size
            self.flat_reports = 0
            return
        self.flat_reports += 1
        if self.flat_reports >= STUCK_WRITE_REPORTS:
            self.raise_write_failure()

    def raise_write_failure(self) -> None:
        try:
            usage = os.statvfs(self.path.parent)
            free = usage.f_bavail * usage.f_frsize
        except OSError:
            free = 0
        if free < DISK_FULL_FREE_BYTES:
            raise IngestFailure("disk full", disk_full=True)
        raise IngestFailure("segment file stopped growing: writing fails")

    def close(self) -> None:
        self.container.close()  # writes the last fragment and the mfra index


class _Remuxer:
    """One recording attempt on an open input: remux packets into segments."""

    def __init__(
        self,
        inp,
        *,
        segment_seconds: float,
        sink: SegmentSink,
        stop: threading.Event,
        scrub: Callable[[str], str],
        now_ms: Callable[[], int] = _now_ms,
        video_time_base: float | None = None,
    ) -> None:
        self.inp = inp
        self.now_ms = now_ms
        self.sink = sink
        self.stop = stop
        self.scrub = scrub
        video = next((s for s in inp.streams.video if s.codec_context.name in VIDEO_CODECS), None)
        if video is None:
            names = [s.codec_context.name for s in inp.streams.video] or ["none"]
            raise IngestFailure(f"no H.264/H.265 video stream (video: {', '.join(names)})")
        self.video = video
        self.audio = next(
            (s for s in inp.streams.audio if s.codec_context.name in AUDIO_CODECS), None
        )
        self.codec = video.codec_context.name
        self.width = video.codec_context.width
        self.height = video.codec_context.height
        self.tb_v = video_time_base or float(video.time_base)
        self.clock = SegmentClock(self.tb_v, segment_seconds)
        # Until two frames show the real interval, a frame lasts a typical 40 ms: a
        # segment of one frame still covers a span (and makes a period).
        self.vfix = TimestampFixer(
            round(TIMESTAMP_JUMP_S / self.tb_v), round(DEFAULT_FRAME_S / self.tb_v)
        )
        if self.audio is not None:
            self.tb_a = float(self.audio.time_base)
            self.afix = TimestampFixer(round(TIMESTAMP_JUMP_S / self.tb_a))
        self.writer: _SegmentWriter | None = None
        self.params: bytes | None = None  # in-band parameter sets of the last keyframe
        self.new_params: bytes | None = None  # set once they differ from the stream's

    def _open_segment(self, dts: int) -> None:
        start_ms = self.clock.start_segment(dts, self.now_ms())
        relpath, path = self.sink.claim_path(start_ms)
        self.writer = _SegmentWriter(
            relpath,
            path,
            self.video,
            self.audio,
            start_ms,
            (self.width, self.height),
            self.new_params,
        )
        self.sink.segment_opened(relpath, start_ms, self.codec, self.width, self.height)

    def _params_changed(self, keyframe) -> bool:
        """True when this keyframe carries parameter sets (resolution, profile) other
        than the previous keyframe's: the segment must be cut and the new one described
        by them. Once per keyframe, so the copy of its bytes costs little."""
        params = parameter_sets(bytes(keyframe), self.codec)
        if params is None or params == self.params:
            return False
        first, self.params = self.params is None, params
        if first:
            return False
        self.new_params = params
        self.width = self.height = 0  # learned again from this keyframe
        return True

    def _learn_size(self, keyframe) -> bool:
        """Picture size from decoding one keyframe, when probing did not find it (the
        open gave up before the camera sent its parameter sets)."""
        decoder = av.CodecContext.create(self.codec, "r")
        extradata = self.new_params or self.video.extradata
        if extradata:
            decoder.extradata = extradata
        with contextlib.suppress(av.FFmpegError):
            decoder.decode(keyframe)
        self.width, self.height = decoder.width, decoder.height
        return bool(self.width and self.height)

    def _close_segment(self, end_dts: int, cutting: bool = False) -> None:
        """Close the current segment and report it. A write that failed (FFmpeg does
        not always say so, e.g. on a full disk) leaves a torn tail: cut it, so every
        file stays playable. When `cutting` (the stream goes on), a segment that got
        nothing onto the disk ends the attempt."""
        writer, self.writer = self.writer, None
        if writer is None:
            return
        end_ms = self.clock.wall_ms(end_dts)
        try:
            writer.close()
        finally:
            fragments = 0
            with contextlib.suppress(OSError):
                before = writer.size()
                fragments = repair_torn_tail(writer.path).fragments
                if fragments and writer.size() != before:
                    info = probe_segment(writer.path)
                    if info is not None:
                        end_ms = min(end_ms, self.clock.start_ms + info.duration_ms)
            size = writer.size() if fragments else 0
            if not size:  # nothing playable was written: no empty files
                with contextlib.suppress(OSError):
                    writer.path.unlink()
            self.sink.segment_closed(writer.relpath, end_ms, size)
        if cutting and not size:
            writer.raise_write_failure()

    def begin(self) -> None:
        """Before the first `push`: per-attempt state of the packet loop."""
        self.video_index = self.video.index
        self.second_ticks = max(1, round(1.0 / self.tb_v))
        self.audio_per_video = (self.tb_v / self.tb_a) if self.audio is not None else 0.0
        self.base_v = self.base_a = 0
        self.last_v = self.report_at = self.window_start = 0
        self.window_bytes = self.window_frames = 0

    def push(self, pkt) -> None:
        """Remux one packet (video or audio) of the input. Raises av.FFmpegError,
        OSError or IngestFailure; the caller ends the attempt with `end`."""
        size = pkt.size
        if not size:
            return  # the demuxer's end-of-stream flush packets
        writer = self.writer
        if pkt.stream_index == self.video_index:
            fixed = self.vfix.fix(pkt.dts, pkt.pts)
            if fixed is None:
                return
            dts, pts = fixed
            key = pkt.is_keyframe
            if key and (self._params_changed(pkt) or self.clock.should_cut(dts, True)):
                if not self.width and not self._learn_size(pkt):
                    return
                if writer is not None:
                    self._close_segment(dts, cutting=True)
                self._open_segment(dts)
                writer = self.writer
                self.base_v = dts
                self.base_a = round(dts * self.audio_per_video)
                self.report_at = dts + self.second_ticks
                self.window_bytes = self.window_frames = 0
                self.window_start = dts
            elif writer is None:
                return  # a segment starts at a keyframe
            pkt.dts = dts - self.base_v
            pkt.pts = pts - self.base_v
            pkt.stream = writer.video
            writer.container.mux_one(pkt)
            self.last_v = dts
            self.window_bytes += size
            self.window_frames += 1
            if dts >= self.report_at:
                self._report(writer, dts)
        elif writer is not None:
            fixed = self.afix.fix(pkt.dts, pkt.pts)
            if fixed is None:
                return
            dts = fixed[0] - self.base_a
            if dts < 0:
                return  # audio from before this segment's first keyframe
            pkt.dts = dts
            pkt.pts = fixed[1] - self.base_a
            pkt.stream = writer.audio
            writer.container.mux_one(pkt)
            self.window_bytes += size

    def _report(self, writer: _SegmentWriter, dts: int) -> None:
        """About once a second of media: progress (and a check that the file grows)."""
        clock = self.clock
        media_s = (dts - self.window_start) * self.tb_v or 1.0
        size_now = writer.size()
        writer.check_growth(size_now)
        clock.correct(dts, self.now_ms())
        self.sink.segment_progress(
            writer.relpath,
            clock.start_ms,
            clock.wall_ms(dts + self.vfix.step),
            size_now,
            self.window_bytes * 8 / media_s,
            self.window_frames / media_s,
        )
        self.report_at = dts + self.second_ticks
        self.window_start = dts
        self.window_bytes = self.window_frames = 0

    def end(self) -> None:
        """After the last `push`: close the current segment (never raises)."""
        if self.writer is not None:
            try:
                self._close_segment(self.last_v + self.vfix.step)
            except (av.FFmpegError, OSError) as exc:
                log.warning("closing segment failed: %s", self.scrub(str(exc)))

    def run(self) -> str:
        """Remux until stopped or the stream ends; returns why it ended normally."""
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        stop_is_set = self.stop.is_set
        # An input that ends by itself on stop gives everything received up to it.
        stop_checked = not getattr(self.inp, "ends_on_stop", False)
        push = self.push
        reason = "stopped"
        self.begin()
        try:
            for pkt in self.inp.demux(streams):
                if stop_checked and stop_is_set():
                    break
                push(pkt)
            else:
                if not stop_is_set():
                    reason = "camera ended the stream"
        except (av.FFmpegError, OSError) as exc:
            raise _failure(exc, self.scrub) from None
        finally:
            self.end()
        if reason != "stopped":
            raise IngestFailure(reason)
        return reason


def record_attempt(
    url: str,
    *,
    segment_seconds: float,
    stall_timeout_s: float,
    sink: SegmentSink,
    stop: threading.Event,
    scrub: Callable[[str], str],
    on_connected: Callable[[], None] | None = None,
    fast: FastSource | None = None,
) -> str:
    """One attempt: connect, remux into segments until `stop` is set (returns) or an
    error or end of stream (raises IngestFailure with a scrubbed message)."""
    if fast is not None and fast.usable:
        try:
            return _record_fast(
                fast,
                segment_seconds=segment_seconds,
                stall_timeout_s=stall_timeout_s,
                sink=sink,
                stop=stop,
                scrub=scrub,
                on_connected=on_connected,
            )
        except FastIngestUnsupported as why:
            # e.g. an audio track or B-frames: FFmpeg's RTSP client handles everything
            if why.args:
                fast.usable = False  # seen while streaming: do not try again
                log.info("camera stream needs FFmpeg's RTSP client: %s", why.args[0])
    try:
        inp = open_camera(url, stall_timeout_s)
    except (av.FFmpegError, OSError) as exc:
        raise _failure(exc, scrub) from None
    try:
        remuxer = _Remuxer(inp, segment_seconds=segment_seconds, sink=sink, stop=stop, scrub=scrub)
        if on_connected is not None:
            on_connected()
        return remuxer.run()
    finally:
        with contextlib.suppress(av.FFmpegError, OSError):
            inp.close()


# --- fast ingest: our RTSP/TCP client + depacketizer, PyAV only for muxing ---------------

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
    """Looks like an av input container to _Remuxer (`streams`, `demux`), fed by
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
                head = data if parameter_sets(data, self.codec) else self.extradata + data
                self.template = av.open(io.BytesIO(head), format=self.codec)
                if not self.template.streams.video:
                    raise IngestFailure("camera's first keyframe cannot be read")
                self.streams.video.append(self.template.streams.video[0])
                self.pending = units[i:]
                return
        if stop.is_set():
            raise IngestFailure("stopped before the first keyframe")
        raise IngestFailure("camera ended the stream")

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
        remuxer: _Remuxer,
        stop: threading.Event,
        stall_timeout_s: float,
    ) -> None:
        self.client = client
        self.fast_input = fast_input
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
            for packet in self.fast_input.packets(self.fast_input.units_of(chunk)):
                push(packet)
        if closed:
            raise ConnectionError("camera closed the connection")
        if self.stop.is_set():
            return False
        if now - self.last_data >= self.stall_timeout_s:
            raise RtspStalled(f"stalled: no data from camera for {self.stall_timeout_s:g} s")
        self.client.keepalive_if_due(now)
        return True

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.done.set()


def _record_fast(
    source: FastSource,
    *,
    segment_seconds: float,
    stall_timeout_s: float,
    sink: SegmentSink,
    stop: threading.Event,
    scrub: Callable[[str], str],
    on_connected: Callable[[], None] | None,
) -> str:
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
            remuxer = _Remuxer(
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
            raise _failure(exc, scrub) from None
        if on_connected is not None:
            on_connected()
        # The connection stays with this thread (its supervisor); the reading and
        # muxing move to the one poller thread shared by every fast ingest.
        remuxer.begin()
        try:
            for packet in fast_input.packets(fast_input.take_pending()):
                remuxer.push(packet)
            attempt = _PolledAttempt(client, fast_input, remuxer, stop, stall_timeout_s)
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
            raise _failure(exc, scrub) from None
        finally:
            remuxer.end()
    finally:
        if fast_input is not None:
            fast_input.close()
        client.close()


@dataclass(frozen=True)
class SegmentProbe:
    start_ms: int | None  # from the file's start tag, None if absent
    duration_ms: int
    codec: str
    width: int
    height: int


def probe_segment(path: Path) -> SegmentProbe | None:
    """Codec, size and duration of a segment file (demuxes its video packets); None if
    the file cannot be read as video."""
    try:
        with av.open(str(path)) as inp:
            if not inp.streams.video:
                return None
            video = inp.streams.video[0]
            tb = float(video.time_base)
            first = last = None
            for pkt in inp.demux(video):
                if pkt.pts is None:
                    continue
                end = pkt.pts + (pkt.duration or 0)
                first = pkt.pts if first is None else min(first, pkt.pts)
                last = end if last is None else max(last, end)
            comment = inp.metadata.get("comment", "")
            start_ms = None
            if comment.startswith(START_TAG):
                try:
                    start_ms = int(comment[len(START_TAG) :])
                except ValueError:
                    start_ms = None
            duration_ms = 0 if first is None else round((last - first) * tb * 1000)
            ctx = video.codec_context
            return SegmentProbe(start_ms, duration_ms, ctx.name, ctx.width, ctx.height)
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return None


def export_segments(
    segments: Sequence[tuple[Path, int]], start_ms: int, end_ms: int, out_path: Path
) -> Path:
    """Remux the segments (path, start UTC ms), in order, into one seekable MP4 covering
    [start_ms, end_ms]: it begins at the keyframe at or before start_ms and its
    timestamps continue across segments (gaps between segments are closed up). Stops
    early at a segment whose codec or picture size differs from the first."""
    tmp = out_path.with_name(out_path.name + ".part")
    out = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
    written = 0
    try:
        out_v = out_a = None
        signature = None
        offset_s = 0.0  # export time of the current segment's time 0
        next_offset_s = 0.0
        last_out: dict[int, float] = {}
        started = False
        for seg_path, seg_start_ms in segments:
            try:
                inp = av.open(str(seg_path))
            except (av.FFmpegError, OSError) as exc:
                log.warning("export: skipping unreadable %s: %s", seg_path.name, exc)
                continue
            with inp:
                if not inp.streams.video:
                    continue
                v = inp.streams.video[0]
                a = inp.streams.audio[0] if inp.streams.audio else None
                sig = (v.codec_context.name, v.codec_context.width, v.codec_context.height)
                if signature is None:
                    signature = sig
                    out_v = out.add_stream_from_template(v)
                    if v.codec_context.name == "hevc":
                        out_v.codec_tag = "hvc1"
                    out_a = out.add_stream_from_template(a) if a is not None else None
                elif sig != signature:
                    break
                rel_start_s = (start_ms - seg_start_ms) / 1000.0
                rel_end_s = (end_ms - seg_start_ms) / 1000.0
                offset_s = next_offset_s
                gop: list = []
                streams = [v] + ([a] if a is not None and out_a is not None else [])
                done = False
                for pkt in inp.demux(streams):
                    if pkt.dts is None or not pkt.size:
                        continue
                    tb = float(pkt.time_base)
                    t = pkt.pts * tb if pkt.pts is not None else pkt.dts * tb
                    is_video = pkt.stream_index == v.index
                    if is_video and t >= rel_end_s:
                        done = True
                        break
                    if not started:
                        if is_video and pkt.is_keyframe and t <= rel_start_s:
                            gop = [pkt]  # the latest keyframe at or before start
                            continue
                        if not gop:
                            if is_video and pkt.is_keyframe:
                                gop = [pkt]  # start lies before this segment's first keyframe
                            else:
                                continue
                        else:
                            gop.append(pkt)
                        if not (is_video and t >= rel_start_s) and not (
                            is_video and rel_start_s < 0
                        ):
                            continue
                        started = True
                        offset_s = -gop[0].dts * float(gop[0].time_base)
                        pending, gop = gop, []
                    else:
                        pending = [pkt]
                    for p in pending:
                        ptb = float(p.time_base)
                        shift = round(offset_s / ptb)
                        p.dts += shift
                        p.pts = (p.pts if p.pts is not None else p.dts - shift) + shift
                        key = 0 if p.stream_index == v.index else 1
                        at = p.dts * ptb
                        if at <= last_out.get(key, -1.0) or p.dts < 0:
                            continue
                        last_out[key] = at
                        if key == 0:
                            next_offset_s = max(next_offset_s, at + (p.duration or 0) * ptb)
                        p.stream = out_v if key == 0 else out_a
                        out.mux_one(p)
                        written += 1
                if done:
                    break
        if not written:
            raise ExportError("no recorded video in the requested range")
    except (av.FFmpegError, OSError) as exc:
        out.close()
        tmp.unlink(missing_ok=True)
        raise ExportError(f"export failed: {exc}") from None
    except BaseException:
        out.close()
        tmp.unlink(missing_ok=True)
        raise
    out.close()
    os.replace(tmp, out_path)
    return out_path
