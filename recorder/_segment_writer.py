"""Writes a camera's packets into crash-safe fragmented-MP4 segment files:
`SegmentRemuxer` remuxes one recording attempt and cuts a new segment at the first
keyframe after the segment length (or when the camera changes its parameter sets);
`_SegmentWriter` is one open segment file. Also what both ingests share: the sink they
report segments to and the error that ends an attempt.

Thread: the thread that reads the camera, and it blocks on file writes: the camera's
ingest thread for FFmpeg-read cameras, the shared poller thread (`_poller`) for
own-client cameras while they stream; never the event loop. The per-packet step
(`SegmentRemuxer.push`) avoids allocation and logging: a few int operations per packet,
timing decisions in the pure `_timeline` module."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import av

from ._live_tap import LiveTap, StreamInfo
from ._mp4boxes import repair_torn_tail
from ._nal import parameter_sets
from ._segment_probe import probe_segment, segment_comment
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
STUCK_WRITE_REPORTS = 3  # seconds of media without the file growing: writing fails
DISK_FULL_FREE_BYTES = 4 * 1024 * 1024  # below this, a failing write is a full disk


class IngestFailure(Exception):
    """A recording attempt ended on an error; the message holds no credentials.

    `storage`: the recordings' storage failed (full, or turned read-only): the camera
    reports state "error" with the reason until it records again, rather than looking
    like a camera that keeps reconnecting."""

    def __init__(self, message: str, *, storage: bool = False) -> None:
        super().__init__(message)
        self.storage = storage


READ_ONLY = "storage read-only: the recordings' file system no longer accepts writes"


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


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


def ingest_failure(exc: BaseException, scrub: Callable[[str], str]) -> IngestFailure:
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return IngestFailure("disk full", storage=True)
    if code == errno.EROFS:
        return IngestFailure(READ_ONLY, storage=True)
    return IngestFailure(scrub(f"{type(exc).__name__}: {exc}"))


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
        edge: bool = False,
    ) -> None:
        self.relpath = relpath
        self.path = path
        self.last_size = 0
        self.flat_reports = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(path), "w", format="mp4", options=SEGMENT_MUX_OPTIONS)
        try:
            self.container.metadata["comment"] = segment_comment(start_ms, edge)
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
        if _read_only(self.path.parent):
            raise IngestFailure(READ_ONLY, storage=True)
        try:
            usage = os.statvfs(self.path.parent)
            free = usage.f_bavail * usage.f_frsize
        except OSError:
            free = 0
        if free < DISK_FULL_FREE_BYTES:
            raise IngestFailure("disk full", storage=True)
        raise IngestFailure("segment file stopped growing: writing fails")

    def close(self) -> None:
        self.container.close()  # writes the last fragment and the mfra index


class SegmentRemuxer:
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
        tap: LiveTap | None = None,
        edge: bool = False,
    ) -> None:
        self.inp = inp
        self.edge = edge  # segments of a download from the camera's own storage
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
        # Live viewers of a camera read by FFmpeg's client get its packets from here
        # (the own client publishes its access units before they become packets).
        self.tap = tap
        self.to_90k = self.tb_v * 90000
        if tap is not None:
            context = video.codec_context
            extradata = bytes(context.extradata or b"")
            tap.start_stream(
                StreamInfo(
                    self.codec,
                    extradata if extradata[:3] in (b"\x00\x00\x01", b"\x00\x00\x00") else b"",
                    self.width,
                    self.height,
                    reordered=bool(context.has_b_frames),
                )
            )

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
            self.edge,
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
            if self.tap is not None:
                scale = self.to_90k
                self.tap.publish_one(bytes(pkt), key, round(pts * scale), round(dts * scale))
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
            raise ingest_failure(exc, self.scrub) from None
        finally:
            self.end()
        if reason != "stopped":
            raise IngestFailure(reason)
        return reason
