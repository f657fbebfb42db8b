"""RTSP replay of a camera's edge storage (ONVIF Streaming: playback), served by `RtspServer`.

Path `/cam<i>/replay/<recording token>` (track `.../trackID=0`), RTP over TCP
interleaved (UDP answers 461: replay clients use TCP for reliable delivery).

- DESCRIBE: SDP with `a=range:clock=<earliest>-<latest>` of what the ring holds, the
  npt length of that data and `a=x-onvif-track:<track token>`.
- PLAY `Range: clock=A-B` starts at the keyframe at or before A and ends after the
  last frame captured at or before B (open end: the newest frame at PLAY time);
  `npt=` ranges count from the first recorded frame (for clients that cannot send
  clock ranges). A range that is malformed or outside the recorded data is 457.
- Every RTP packet carries the ONVIF replay header extension (0xABAC): the frame's
  NTP capture time, C on keyframes, E on the last frame before a gap and on the
  last frame of the range, D on the first frame after a gap, and the low byte of
  the PLAY's CSeq. Keyframes also get the clock SEI, like the live stream.
- `Rate-Control: yes` (default) sends in real time; `no` sends as fast as the
  client reads (the connection's write buffer pauses the sender).
- After the last frame an RTCP SR + BYE ends the stream; the session stays until
  TEARDOWN. PAUSE stops sending; PLAY without Range resumes where it stopped.
- `Require:` with a feature tag other than `onvif-replay` is 551 with `Unsupported`.
  A request without `Require: onvif-replay` is served the same way (the header
  extension is backward compatible: plain RTP clients skip it).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emulator.camera import RECORDING_TOKEN, VIDEO_TRACK_TOKEN, CameraSpec
from emulator.edge_recorder import EdgeRecorder
from emulator.replay_range import (
    RangeError,
    format_clock,
    parse_range,
    parse_rate_control,
    unsupported_requirements,
)
from emulator.rtp import (
    REPLAY_CLEAN_POINT,
    REPLAY_DISCONTINUITY,
    REPLAY_END,
    RTP_CLOCK_HZ,
    interleave,
    replay_extension,
    report_and_bye,
    rtp_header_with_extension,
)
from emulator.rtsp_message import RtspRequest, RtspResponse, parse_transport
from emulator.sdp import TRACK_CONTROL, build_sdp
from emulator.stream import payloads_with_clock
from emulator.video import AccessUnit

if TYPE_CHECKING:
    from emulator.rtsp_server import RtspConnection, RtspServer

log = logging.getLogger(__name__)

_PATH = re.compile(
    r"^/cam(\d{1,6})/replay/([A-Za-z0-9_.\-]{1,64})(?:/(" + re.escape(TRACK_CONTROL) + r"))?$"
)


@dataclass
class ReplayTarget:
    camera: CameraSpec
    recorder: EdgeRecorder
    token: str
    is_track: bool

    @property
    def key(self) -> str:
        return f"/cam{self.camera.index}/replay/{self.token}"


@dataclass(eq=False)
class ReplaySession:
    """One client replaying one recording; looks like a live `Session` to the server."""

    id: str
    target: ReplayTarget
    connection: RtspConnection
    rtp_channel: int
    rtcp_channel: int
    last_activity: float
    udp: bool = False
    playing: bool = False
    stream: None = None  # never equal to a live stream: live handlers answer 459
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    seq: int = field(default_factory=lambda: random.getrandbits(16))
    base_ts: int = field(default_factory=lambda: random.getrandbits(32))
    resume_serial: int | None = None  # where a PLAY without Range continues
    end_wall: float | None = None
    task: asyncio.Task[None] | None = None
    frames_sent: int = 0
    packets_sent: int = 0
    octets_sent: int = 0

    @property
    def camera_index(self) -> int:
        return self.target.camera.index

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = None
        self.playing = False


@dataclass
class _Plan:
    """What a PLAY will send: first frame, last capture time, pacing."""

    first_serial: int
    end_wall: float
    rate_control: bool


class ReplayService:
    """Replay requests of `RtspServer`; `recorders` maps camera index -> its recording."""

    def __init__(self, server: RtspServer, recorders: dict[int, EdgeRecorder]) -> None:
        self.server = server
        self.recorders = recorders

    def target(self, request: RtspRequest, cameras: dict[int, CameraSpec]) -> ReplayTarget | None:
        match = _PATH.match(request.path)
        if not match:
            return None
        index, token = int(match.group(1)), match.group(2)
        camera, recorder = cameras.get(index), self.recorders.get(index)
        if camera is None or recorder is None or token != RECORDING_TOKEN:
            return None
        return ReplayTarget(camera, recorder, token, match.group(3) is not None)

    def handle(
        self,
        connection: RtspConnection,
        request: RtspRequest,
        target: ReplayTarget,
        session: object | None,
    ) -> RtspResponse:
        unsupported = unsupported_requirements(request.headers.get("require"))
        if unsupported:
            return RtspResponse(551, headers=[("Unsupported", ", ".join(unsupported))])
        if session is not None and not isinstance(session, ReplaySession):
            return RtspResponse(459)  # a live session cannot replay
        if isinstance(session, ReplaySession) and session.target.key != target.key:
            return RtspResponse(459)
        method = request.method
        if method == "OPTIONS":
            return self._with_session(RtspResponse(200), session)
        if method == "DESCRIBE":
            return self._describe(request, target)
        if method == "SETUP":
            return self._setup(connection, request, target, session)
        if not isinstance(session, ReplaySession):
            return RtspResponse(455)  # no SETUP yet
        if method == "PLAY":
            return self._play(connection, request, session)
        if method == "PAUSE":
            session.stop()
            return self._with_session(RtspResponse(200), session)
        if method == "TEARDOWN":
            self.server.end_session(session)
            return RtspResponse(200)
        if method in ("GET_PARAMETER", "SET_PARAMETER"):
            return self._with_session(RtspResponse(200), session)
        return RtspResponse(405)

    def _with_session(self, response: RtspResponse, session: object | None) -> RtspResponse:
        if isinstance(session, ReplaySession):
            response.headers.append(self.server.session_header(session))
        return response

    # -- DESCRIBE / SETUP --------------------------------------------------------------

    def _describe(self, request: RtspRequest, target: ReplayTarget) -> RtspResponse:
        accept = request.headers.get("accept", "application/sdp")
        if "application/sdp" not in accept and "*/*" not in accept:
            return RtspResponse(406)
        recorder, ring = target.recorder, target.recorder.ring
        earliest, latest = ring.earliest, ring.latest
        if earliest is None or latest is None:
            ranges = ["a=range:npt=0-0"]
        else:
            ranges = [
                f"a=range:npt=0-{latest - earliest:.3f}",
                f"a=range:clock={format_clock(earliest)}-{format_clock(latest)}",
            ]
        settings = target.camera.main
        body = build_sdp(
            host=self.server.host,
            session_id=target.camera.index,
            title=f"{target.camera.name} replay",
            codec=recorder.codec,
            parameter_sets=recorder.parameter_sets,
            bitrate=settings.bitrate,
            fps=recorder.fps,
            width=settings.width,
            height=settings.height,
            range_lines=ranges,
            media_lines=[f"a=x-onvif-track:{VIDEO_TRACK_TOKEN}"],
        )
        base = f"rtsp://{self.server.host}:{self.server.port}{target.key}/"
        headers = [("Content-Base", base), ("Content-Type", "application/sdp")]
        return RtspResponse(200, headers=headers, body=body)

    def _setup(
        self,
        connection: RtspConnection,
        request: RtspRequest,
        target: ReplayTarget,
        session: object | None,
    ) -> RtspResponse:
        if not target.is_track:
            return RtspResponse(459)
        if request.session_id and session is None:
            return RtspResponse(454)
        if isinstance(session, ReplaySession) and session.playing:
            return RtspResponse(455)
        spec = parse_transport(request.headers.get("transport", ""))
        if spec is None or not spec.tcp or spec.interleaved is None:
            return RtspResponse(461)  # replay is served over TCP only
        low, high = spec.interleaved
        if isinstance(session, ReplaySession):
            session.rtp_channel, session.rtcp_channel = low, high
        else:
            if not self.server.has_room_for_session(connection):
                return RtspResponse(503)
            session = ReplaySession(
                id=secrets.token_hex(8),
                target=target,
                connection=connection,
                rtp_channel=low,
                rtcp_channel=high,
                last_activity=self.server.clock(),
            )
            self.server.add_session(session, connection)
        assert isinstance(session, ReplaySession)
        transport = f"RTP/AVP/TCP;unicast;interleaved={low}-{high};ssrc={session.ssrc:08X}"
        return RtspResponse(
            200, headers=[("Transport", transport), self.server.session_header(session)]
        )

    # -- PLAY ------------------------------------------------------------------------------

    def _plan(self, request: RtspRequest, session: ReplaySession) -> _Plan | RtspResponse:
        try:
            rate_control = parse_rate_control(request.headers.get("rate-control"))
        except ValueError:
            return RtspResponse(400)
        ring = session.target.recorder.ring
        earliest, latest = ring.earliest, ring.latest
        if earliest is None or latest is None:
            return RtspResponse(457)  # nothing recorded
        header = request.headers.get("range")
        if header is None and session.resume_serial is not None:
            first = ring.next_keyframe(session.resume_serial)
            if first is None:
                return RtspResponse(457)
            return _Plan(first, session.end_wall or latest, rate_control)
        try:
            wanted = parse_range(header) if header else None
        except RangeError:
            return RtspResponse(457)
        start, end = earliest, None
        if wanted is not None:
            offset = earliest if wanted.kind == "npt" else 0.0
            start = (wanted.start or 0.0) + offset
            end = None if wanted.end is None else wanted.end + offset
        end_wall = latest if end is None else min(end, latest)
        if start > latest or end_wall < earliest:
            return RtspResponse(457)  # outside what the ring holds
        first = ring.keyframe_at_or_before(start)
        if first is None:
            return RtspResponse(457)
        frame = ring.get(first)
        if frame is None or frame.wall > end_wall:
            return RtspResponse(457)  # no decodable frame within the range
        return _Plan(first, end_wall, rate_control)

    def _play(
        self, connection: RtspConnection, request: RtspRequest, session: ReplaySession
    ) -> RtspResponse:
        plan = self._plan(request, session)
        if isinstance(plan, RtspResponse):
            return self._with_session(plan, session)
        session.stop()  # a PLAY while playing repositions
        session.connection = self.server.move_session(session, connection)
        ring = session.target.recorder.ring
        first = ring.get(plan.first_serial)
        assert first is not None
        session.end_wall = plan.end_wall
        session.playing = True
        cseq = int(request.cseq or 0)
        session.base_ts = (session.base_ts + RTP_CLOCK_HZ) & 0xFFFFFFFF
        seq, rtptime = session.seq, session.base_ts
        session.task = asyncio.get_running_loop().create_task(
            _send(session, plan, cseq), name=f"replay-{session.id}"
        )
        track = f"rtsp://{self.server.host}:{self.server.port}{session.target.key}/{TRACK_CONTROL}"
        headers = [
            ("Range", f"clock={format_clock(first.wall)}-{format_clock(plan.end_wall)}"),
            ("RTP-Info", f"url={track};seq={seq};rtptime={rtptime}"),
            ("Rate-Control", "yes" if plan.rate_control else "no"),
            self.server.session_header(session),
        ]
        return RtspResponse(200, headers=headers)


async def _send(session: ReplaySession, plan: _Plan, cseq: int) -> None:
    """Send the planned frames, then SR + BYE. Runs as the session's task."""
    recorder = session.target.recorder
    ring = recorder.ring
    connection = session.connection
    transport = connection.transport
    if transport is None:
        return
    loop = asyncio.get_running_loop()
    serial = plan.first_serial
    first_wall: float | None = None
    previous_wall: float | None = None
    started = loop.time()
    discontinuity = False
    last_ts = session.base_ts
    try:
        while not transport.is_closing():
            frame = ring.get(serial)
            unit = recorder.unit(frame) if frame is not None else None
            if frame is None or unit is None:
                if serial >= ring.next_serial:
                    break  # the newest frame was sent
                # Dropped from the ring while we were replaying: skip to what is left.
                later = ring.next_keyframe(max(serial + 1, ring.first_serial))
                if later is None:
                    break
                serial, discontinuity = later, True
                continue
            if frame.wall > plan.end_wall:
                break
            if first_wall is None:
                first_wall = frame.wall
            if previous_wall is not None and frame.wall - previous_wall > ring.gap_s:
                discontinuity = True
            following = ring.get(serial + 1)
            section_ends = (
                following is None
                or following.wall > plan.end_wall
                or following.wall - frame.wall > ring.gap_s
            )
            flags = (
                (REPLAY_CLEAN_POINT if frame.keyframe else 0)
                | (REPLAY_END if section_ends else 0)
                | (REPLAY_DISCONTINUITY if discontinuity else 0)
            )
            if plan.rate_control:
                delay = started + (frame.wall - first_wall) - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif not connection.writable.is_set():
                await connection.writable.wait()
            if transport.is_closing():
                break
            last_ts = session.base_ts + round((frame.wall - first_wall) * RTP_CLOCK_HZ)
            transport.write(_frame_bytes(session, recorder, unit, frame.wall, flags, cseq, last_ts))
            session.frames_sent += 1
            session.resume_serial = serial + 1
            previous_wall, discontinuity = frame.wall, False
            serial += 1
        if not transport.is_closing():
            report = report_and_bye(
                session.ssrc,
                previous_wall or time.time(),
                last_ts,
                session.packets_sent,
                session.octets_sent,
            )
            transport.write(interleave(session.rtcp_channel, [report]))
    except asyncio.CancelledError:
        raise
    except Exception:  # a replay's bug closes that replay, never the server
        log.exception("replay of camera %d failed", session.camera_index)
        connection.close()
    finally:
        session.playing = False


def _frame_bytes(
    session: ReplaySession,
    recorder: EdgeRecorder,
    unit: AccessUnit,
    wall: float,
    flags: int,
    cseq: int,
    timestamp: int,
) -> bytes:
    if unit.keyframe and unit.nals:
        payloads = payloads_with_clock(recorder.codec, unit, wall, recorder.camera_name)
    else:
        payloads = list(unit.payloads)
    extension = replay_extension(wall, flags, cseq)
    last = len(payloads) - 1
    packets = []
    for i, payload in enumerate(payloads):
        header = rtp_header_with_extension(
            i == last, session.seq + i, timestamp, session.ssrc, extension
        )
        packets.append(header + payload)
    session.seq = (session.seq + len(payloads)) & 0xFFFF
    session.packets_sent += len(payloads)
    session.octets_sent += sum(len(p) for p in payloads)
    return interleave(session.rtp_channel, packets)


__all__ = ["ReplayService", "ReplaySession", "ReplayTarget"]
