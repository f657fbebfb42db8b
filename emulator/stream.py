"""Live streams of the emulated cameras: one `StreamPath` per RTSP path, one pacer.

Serving is cheap by construction:
- access units are packetized once when the loop is encoded (`video.AccessUnit`);
- at send time each path builds its RTP packets once per access unit (one shared
  SSRC, sequence and timestamp per path: legal, and every client gets the same
  bytes), then the `$`-framed TCP buffer once per interleaved channel in use;
- every TCP client gets one write per access unit; UDP clients one sendto per packet;
- one `Pacer` task drives every path (a heap of due times), not a timer per path.

A client that joined starts at the next keyframe (at most one GOP, 2 s by default):
simple, and every client sees a decodable stream from its first packet. RTP-Info in
the PLAY answer predicts that keyframe's first sequence number and timestamp. With
`fast_start` (`--fast-start`), a new client instead gets the current GOP at once, from
its last keyframe, in one burst (the very packets, sequence numbers and timestamps
the path already sent), then the live frames: video from the first instant, which
shortens a recorder's failover. Live-clock streams always wait for the next keyframe.

A client that does not read fast enough has its frames dropped until its write buffer
drains (then it resumes at a keyframe); one stuck for `stuck_timeout_s` is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from emulator.edge_recorder import EdgeRecorder
from emulator.rtp import (
    RTP_CLOCK_HZ,
    fragment_nal,
    interleave,
    is_vcl,
    rtp_header,
    sei_clock_nal,
    sender_report,
)
from emulator.video import AccessUnit, EncodedLoop, LiveEncoder

log = logging.getLogger(__name__)

SENDER_REPORT_INTERVAL_S = 2.0
SOFT_BUFFER_BYTES = 512 * 1024  # above this a TCP client's frames are dropped
STUCK_TIMEOUT_S = 10.0  # a client above the soft limit this long is disconnected
MAX_LAG_S = 1.0  # a pacer further behind than this skips ahead instead of bursting


@dataclass(eq=False)
class Subscriber:
    """One playing client of a path (TCP interleaved or UDP unicast)."""

    tcp: asyncio.WriteTransport | None = None
    rtp_channel: int = 0
    rtcp_channel: int = 1
    udp_rtp_addr: tuple[str, int] | None = None
    udp_rtcp_addr: tuple[str, int] | None = None
    on_stuck: Callable[[], None] = lambda: None
    waiting_keyframe: bool = True
    over_limit_since: float | None = None
    units_sent: int = 0
    units_dropped: int = 0


@dataclass
class UdpSockets:
    rtp: asyncio.DatagramTransport
    rtcp: asyncio.DatagramTransport


@dataclass(eq=False)
class StreamPath:
    """One stream (/cam<i>/main or /sub): loop position, RTP state, its subscribers."""

    camera_name: str
    codec: str
    fps: int
    loop: EncodedLoop | None = None
    live: LiveEncoder | None = None
    stalled: bool = False
    udp: UdpSockets | None = None
    soft_buffer_bytes: int = SOFT_BUFFER_BYTES
    stuck_timeout_s: float = STUCK_TIMEOUT_S
    fast_start: bool = False
    edge: EdgeRecorder | None = None  # the camera's own recording of this stream
    subscribers: list[Subscriber] = field(default_factory=list)
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    seq: int = field(default_factory=lambda: random.getrandbits(16))
    base_ts: int = field(default_factory=lambda: random.getrandbits(32))
    frame_number: int = 0  # frames since the path started
    unit_index: int = 0  # position in the loop
    start_mono: float = 0.0
    start_wall: float = 0.0
    packets_sent: int = 0
    octets_sent: int = 0
    _next_report_frame: int = 0
    _gop_start: tuple[int, int, int] | None = None  # (frame, unit index, seq) of last keyframe

    @property
    def parameter_sets(self) -> dict[str, bytes]:
        return self.loop.parameter_sets if self.loop else self.live.parameter_sets  # type: ignore[union-attr]

    def timestamp_of(self, frame_number: int) -> int:
        return (self.base_ts + frame_number * RTP_CLOCK_HZ // self.fps) & 0xFFFFFFFF

    def due_of(self, frame_number: int) -> float:
        return self.start_mono + frame_number / self.fps

    def wall_of(self, frame_number: int) -> float:
        return self.start_wall + frame_number / self.fps

    # -- clients ---------------------------------------------------------------

    def add(self, subscriber: Subscriber) -> tuple[int, int]:
        """Start sending to `subscriber`; (seq, RTP timestamp) of the first packet it gets."""
        subscriber.waiting_keyframe = True
        self.subscribers.append(subscriber)
        if self._can_burst():
            return self._send_burst(subscriber)
        return self.next_keyframe_position()

    def _can_burst(self) -> bool:
        return self.fast_start and not self.stalled and bool(self.loop) and bool(self._gop_start)

    def first_position(self) -> tuple[int, int]:
        """(seq, RTP timestamp) of the first packet `add` would send to a new client now."""
        if self._can_burst():
            assert self._gop_start is not None
            frame, _, seq = self._gop_start
            return seq & 0xFFFF, self.timestamp_of(frame)
        return self.next_keyframe_position()

    def remove(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    def next_keyframe_position(self) -> tuple[int, int]:
        """(sequence number, RTP timestamp) of the next keyframe a new client will get."""
        if self.loop is None:
            return self.seq, self.timestamp_of(self.frame_number)
        units = self.loop.units
        seq, frame, index = self.seq, self.frame_number, self.unit_index
        for _ in range(len(units)):
            unit = units[index]
            if unit.keyframe:
                break
            seq += len(unit.payloads)
            frame += 1
            index = (index + 1) % len(units)
        return seq & 0xFFFF, self.timestamp_of(frame)

    # -- sending ----------------------------------------------------------------

    def _packets(self, unit: AccessUnit, frame: int, seq: int) -> list[bytes]:
        """RTP packets of `unit` sent as frame number `frame` from sequence number `seq`
        (stamped with its presentation time: B-frames go out of order)."""
        ts, ssrc = self.timestamp_of(frame + unit.pts_offset), self.ssrc
        if unit.keyframe:
            payloads = self._payloads_with_clock(unit, self.wall_of(frame))
        else:
            payloads = unit.payloads
        last = len(payloads) - 1
        return [
            rtp_header(i == last, seq + i, ts, ssrc) + payload for i, payload in enumerate(payloads)
        ]

    def _send_burst(self, subscriber: Subscriber) -> tuple[int, int]:
        """Send the current GOP (from its keyframe to the last frame sent) at once."""
        assert self.loop is not None and self._gop_start is not None
        units = self.loop.units
        frame, index, seq = self._gop_start
        first = (seq & 0xFFFF, self.timestamp_of(frame))
        burst: list[bytes] = []
        while frame < self.frame_number:
            packets = self._packets(units[index], frame, seq)
            burst.extend(packets)
            seq, frame, index = seq + len(packets), frame + 1, (index + 1) % len(units)
        last_frame = self.frame_number - 1
        report = sender_report(
            self.ssrc, self.wall_of(last_frame), self.timestamp_of(last_frame),
            self.packets_sent, self.octets_sent,
        )  # fmt: skip
        if subscriber.tcp is not None:
            subscriber.tcp.write(
                interleave(subscriber.rtcp_channel, [report])
                + interleave(subscriber.rtp_channel, burst)
            )
        elif self.udp is not None and subscriber.udp_rtp_addr is not None:
            if subscriber.udp_rtcp_addr is not None:
                self.udp.rtcp.sendto(report, subscriber.udp_rtcp_addr)
            for packet in burst:
                self.udp.rtp.sendto(packet, subscriber.udp_rtp_addr)
        subscriber.waiting_keyframe = False
        return first

    def _next_unit(self) -> AccessUnit | None:
        if self.loop is not None:
            unit = self.loop.units[self.unit_index]
            self.unit_index = (self.unit_index + 1) % len(self.loop.units)
            return unit
        return self.live.take() if self.live else None

    def _payloads_with_clock(self, unit: AccessUnit, wall: float) -> list[bytes]:
        return payloads_with_clock(self.codec, unit, wall, self.camera_name)

    def send_frame(self, now_mono: float) -> None:
        """Send the frame that is due now to every subscriber."""
        frame, index = self.frame_number, self.unit_index
        unit = self._next_unit()
        self.frame_number += 1
        if unit is None:
            return
        if unit.keyframe:
            self._gop_start = (frame, index, self.seq)
        ts = self.timestamp_of(frame)
        wall = self.wall_of(frame)
        if self.edge is not None:  # the camera records whatever its network does
            self.edge.record(wall, index, unit)
        receivers = [s for s in self.subscribers if unit.keyframe or not s.waiting_keyframe]
        if self.stalled or not receivers:
            self.seq = (self.seq + len(unit.payloads) + (1 if unit.keyframe else 0)) & 0xFFFF
            return
        seq, ssrc = self.seq, self.ssrc
        packets = self._packets(unit, frame, seq)
        self.seq = (seq + len(packets)) & 0xFFFF
        self.packets_sent += len(packets)
        self.octets_sent += sum(len(p) for p in packets) - 12 * len(packets)
        # A sender report goes to everyone every few seconds, and to a client with its
        # first frame, so its clock mapping is known from the start.
        report = sender_report(ssrc, wall, ts, self.packets_sent, self.octets_sent)
        periodic = frame >= self._next_report_frame
        if periodic:
            self._next_report_frame = frame + int(SENDER_REPORT_INTERVAL_S * self.fps)
        by_channel: dict[int, bytes] = {}
        for subscriber in receivers:
            if subscriber.tcp is not None:
                self._send_tcp(subscriber, unit, packets, report, periodic, by_channel, now_mono)
            elif self.udp is not None and subscriber.udp_rtp_addr is not None:
                self._send_udp(subscriber, packets, report, periodic)

    def _send_tcp(
        self,
        subscriber: Subscriber,
        unit: AccessUnit,
        packets: list[bytes],
        report: bytes,
        periodic: bool,
        by_channel: dict[int, bytes],
        now_mono: float,
    ) -> None:
        transport = subscriber.tcp
        assert transport is not None
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > self.soft_buffer_bytes:
            subscriber.units_dropped += 1
            subscriber.waiting_keyframe = True
            if subscriber.over_limit_since is None:
                subscriber.over_limit_since = now_mono
            elif now_mono - subscriber.over_limit_since > self.stuck_timeout_s:
                subscriber.on_stuck()
            return
        subscriber.over_limit_since = None
        if subscriber.waiting_keyframe and not unit.keyframe:
            return
        first = subscriber.waiting_keyframe
        subscriber.waiting_keyframe = False
        data = by_channel.get(subscriber.rtp_channel)
        if data is None:
            data = by_channel[subscriber.rtp_channel] = interleave(subscriber.rtp_channel, packets)
        if first or periodic:
            data = interleave(subscriber.rtcp_channel, [report]) + data
        transport.write(data)
        subscriber.units_sent += 1

    def _send_udp(
        self, subscriber: Subscriber, packets: list[bytes], report: bytes, periodic: bool
    ) -> None:
        assert self.udp is not None
        first = subscriber.waiting_keyframe
        subscriber.waiting_keyframe = False
        if (first or periodic) and subscriber.udp_rtcp_addr is not None:
            self.udp.rtcp.sendto(report, subscriber.udp_rtcp_addr)
        sendto = self.udp.rtp.sendto
        address = subscriber.udp_rtp_addr
        for packet in packets:
            sendto(packet, address)
        subscriber.units_sent += 1


def payloads_with_clock(codec: str, unit: AccessUnit, wall: float, camera_name: str) -> list[bytes]:
    """The unit's payloads with the clock SEI inserted before its first VCL NAL."""
    sei = fragment_nal(codec, sei_clock_nal(codec, wall, camera_name))
    payloads: list[bytes] = []
    inserted = False
    for nal in unit.nals:
        if not inserted and is_vcl(codec, nal):
            payloads.extend(sei)
            inserted = True
        payloads.extend(fragment_nal(codec, nal))
    return payloads


class Pacer:
    """One task that sends every path's frames at their due times (real-time pacing)."""

    GROUP_S = 0.002  # paths due within this window are served in the same wake-up

    def __init__(self, paths: list[StreamPath]) -> None:
        self.paths = paths
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        now_mono, now_wall = time.monotonic(), time.time()
        count = max(len(self.paths), 1)
        for k, path in enumerate(self.paths):
            # Spread the paths over one frame interval so the work is smooth.
            offset = k / count / path.fps
            path.start_mono = now_mono + offset
            path.start_wall = now_wall + offset
        self._task = asyncio.get_running_loop().create_task(self._run(), name="pacer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        heap = [(p.due_of(p.frame_number), k) for k, p in enumerate(self.paths)]
        heapq.heapify(heap)
        while heap:
            due, k = heap[0]
            now = time.monotonic()
            if due > now + self.GROUP_S:
                await asyncio.sleep(due - now)
                continue
            heapq.heappop(heap)
            path = self.paths[k]
            try:
                path.send_frame(now)
            except Exception:  # one path's bug must not stop every camera
                log.exception("sending a frame of %s failed", path.camera_name)
            if now - path.due_of(path.frame_number) > MAX_LAG_S:
                self._skip_ahead(path, now)
            heapq.heappush(heap, (path.due_of(path.frame_number), k))

    @staticmethod
    def _skip_ahead(path: StreamPath, now: float) -> None:
        """The loop was blocked: drop the missed frames rather than send them in a burst."""
        missed = int((now - path.due_of(path.frame_number)) * path.fps)
        for _ in range(missed):
            path.stalled, stalled = True, path.stalled
            path.send_frame(now)
            path.stalled = stalled
        for subscriber in path.subscribers:
            subscriber.waiting_keyframe = True
