"""Read a server's own recorded frames of a camera over a time range, as Annex B
access units with their wall-clock times: what playback streams, from this server or
(over the node-to-node framing) from the one that holds that piece.

Thread: `SegmentFrameReader.next_batch` blocks on file reads and demuxing; callers
run it on a worker thread, one batch at a time (which also paces the reading to the
speed the viewer takes it)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import av
from av.bitstream import BitStreamFilterContext

from recorder import LiveFrame, SegmentFile, StreamInfo, parameter_sets

log = logging.getLogger(__name__)

BATCH_FRAMES = 50
_TO_ANNEXB = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    frame: LiveFrame  # 90 kHz timestamps from the segment's start
    wall_ms: int  # when the camera captured it (UTC ms)


class SegmentFrameReader:
    """Frames of the segment files in [start_ms, end_ms): from the keyframe at or
    before start_ms; keyframes only when `keyframes_only`. Yields StreamInfo when a
    stream begins (first file, or a file with other parameters)."""

    def __init__(
        self,
        files: Sequence[SegmentFile],
        start_ms: int,
        end_ms: int,
        keyframes_only: bool = False,
    ) -> None:
        self._files = list(files)
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.keyframes_only = keyframes_only
        self._container: av.container.InputContainer | None = None
        self._packets = None
        self._filter: BitStreamFilterContext | None = None
        self._file: SegmentFile | None = None
        self._time_base = 0.0
        self._info: StreamInfo | None = None
        self._gop: list[RecordedFrame] = []  # frames before start_ms, from a keyframe
        self._started = False
        self.done = False

    def close(self) -> None:
        if self._container is not None:
            with contextlib.suppress(av.FFmpegError, OSError):
                self._container.close()
            self._container = None

    def _open_next(self) -> bool:
        self.close()
        while self._files:
            file = self._files.pop(0)
            if file.end_ms <= self.start_ms and file.end_ms > file.start_ms:
                continue
            try:
                container = av.open(str(file.path))
            except (av.FFmpegError, OSError) as error:
                log.warning("playback: skipping unreadable %s: %s", file.path.name, error)
                continue
            if not container.streams.video:
                container.close()
                continue
            video = container.streams.video[0]
            name = video.codec_context.name
            if name not in _TO_ANNEXB:
                container.close()
                continue
            self._container = container
            self._file = file
            self._filter = BitStreamFilterContext(_TO_ANNEXB[name], video)
            self._packets = container.demux(video)
            self._time_base = float(video.time_base)
            self._codec = name
            self._size = (video.codec_context.width, video.codec_context.height)
            return True
        return False

    def next_batch(self) -> list[StreamInfo | RecordedFrame]:
        """Up to BATCH_FRAMES frames (and stream infos); empty once done."""
        out: list[StreamInfo | RecordedFrame] = []
        while len(out) < BATCH_FRAMES and not self.done:
            if self._container is None and not self._open_next():
                self.done = True
                break
            try:
                packet = next(self._packets)  # type: ignore[arg-type]
            except (StopIteration, av.FFmpegError, OSError):
                self.close()  # end of this file (a growing file ends where it is)
                continue
            if packet.pts is None or not packet.size:
                continue
            assert self._filter is not None and self._file is not None
            for annexb in self._filter.filter(packet):
                self._take(annexb, out)
                if self.done:
                    break
        if self.done:
            self.close()
        return out

    def _take(self, packet: av.Packet, out: list[StreamInfo | RecordedFrame]) -> None:
        assert self._file is not None
        seconds = packet.pts * self._time_base
        wall_ms = self._file.start_ms + round(seconds * 1000)
        if wall_ms >= self.end_ms:
            self.done = True
            return
        key = bool(packet.is_keyframe)
        if self.keyframes_only and not key:
            return
        data = bytes(packet)
        if key:
            params = parameter_sets(data, self._codec)
            if params is not None and (
                self._info is None
                or params != self._info.extradata
                or self._info.codec != self._codec
            ):
                self._info = StreamInfo(self._codec, params, *self._size)
                if self._started:
                    out.append(self._info)
                else:
                    self._gop = []
        if self._info is None:
            return  # nothing decodable before the first keyframe
        dts = round(
            (packet.dts if packet.dts is not None else packet.pts) * self._time_base * 90000
        )
        frame = RecordedFrame(LiveFrame(data, key, round(seconds * 90000), dts), wall_ms)
        if self._started:
            out.append(frame)
            return
        if key:
            self._gop = [frame]
        elif self._gop:
            self._gop.append(frame)
        if wall_ms >= self.start_ms and self._gop:
            self._started = True
            out.append(self._info)
            out.extend(self._gop)
            self._gop = []
