"""RTSP/1.0 server (RFC 2326) of the emulated cameras, on asyncio.

Paths `/cam<i>/main` and `/cam<i>/sub` (track `<path>/trackID=0`), many clients per
path; RTP over TCP interleaved or UDP unicast. Cameras with edge storage also serve
`/cam<i>/replay/<recording token>` (`rtsp_replay.py`). Each connection is a protocol object
that parses with the pure `rtsp_message` parser and answers at once: nothing here
awaits a client, so a hostile client (garbage, a huge header, never reading) only
ever costs its own connection. Sessions time out when nothing arrives for them
(requests, GET_PARAMETER keep-alives, RTCP receiver reports) for `session_timeout_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from emulator.camera import CameraSpec, StreamSettings
from emulator.edge_recorder import EdgeRecorder
from emulator.faults import FaultBoard, FaultMode
from emulator.rtsp_auth import Authenticator
from emulator.rtsp_message import (
    METHODS,
    InterleavedFrame,
    RtspParseError,
    RtspRequest,
    RtspResponse,
    parse_message,
    parse_transport,
)
from emulator.rtsp_replay import ReplayService, ReplaySession, ReplayTarget
from emulator.sdp import TRACK_CONTROL, build_sdp
from emulator.stream import StreamPath, Subscriber, UdpSockets

log = logging.getLogger(__name__)

SESSION_TIMEOUT_S = 60.0
IDLE_CONNECTION_S = 60.0  # a connection without a session is closed after this silence
MAX_SESSIONS_PER_CONNECTION = 16
MAX_SESSIONS = 8192
MAX_CONNECTIONS = 4096  # beyond this new connections are closed at once (fd exhaustion)
SEND_BUFFER_BYTES = 512 * 1024  # kernel send buffer of each RTSP/TCP connection
MAX_RESPONSE_BUFFER_BYTES = 256 * 1024  # a client that piles up answers unread is closed
PUBLIC_METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

_PATH = re.compile(r"^/cam(\d{1,6})/(main|sub)(?:/(" + re.escape(TRACK_CONTROL) + r"))?$")


@dataclass(eq=False)
class ServedStream:
    camera: CameraSpec
    name: str  # "main" | "sub"
    settings: StreamSettings
    path: StreamPath

    @property
    def key(self) -> str:
        return f"/cam{self.camera.index}/{self.name}"


@dataclass(eq=False)
class Session:
    id: str
    stream: ServedStream
    connection: RtspConnection
    subscriber: Subscriber
    udp: bool
    last_activity: float
    playing: bool = False

    @property
    def camera_index(self) -> int:
        return self.stream.camera.index

    def stop(self) -> None:
        self.stream.path.remove(self.subscriber)


AnySession = Session | ReplaySession


@dataclass
class _Answer:
    """A response, and what to do right after it is written (a fast-start burst)."""

    response: RtspResponse
    then: Callable[[], object]


@dataclass
class _Target:
    stream: ServedStream
    is_track: bool


class RtspConnection(asyncio.Protocol):
    def __init__(self, server: RtspServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sessions: dict[str, AnySession] = {}
        self.cameras: set[int] = set()  # cameras this connection has asked about
        self.peer_host = ""
        self.last_activity = server.clock()
        # Held unanswered while a "cut" fault lasts: the client sees a dead link.
        self.blackholed = False
        # Cleared while the transport's write buffer is above its high-water mark:
        # replay with Rate-Control: no waits on it instead of queueing without bound.
        self.writable = asyncio.Event()
        self.writable.set()

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer_host = peer[0] if peer else ""
        if len(self.server.connections) >= MAX_CONNECTIONS:
            log.warning("too many RTSP connections: refusing %s", peer)
            transport.abort()
            return
        self.server.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # A fixed kernel send buffer: a client that stops reading costs at most
                # this much kernel memory, and the buffer limit of stream.py acts soon.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()  # wake a waiting replay so it sees the closed transport
        self.server.connections.discard(self)
        for session in list(self.sessions.values()):
            if not session.udp:  # UDP sessions outlive their control connection
                self.server.end_session(session)

    def data_received(self, data: bytes) -> None:
        if self.blackholed:
            return
        self.last_activity = self.server.clock()
        self.buffer += data
        while self.buffer and self.transport and not self.transport.is_closing():
            try:
                message, used = parse_message(self.buffer)
            except RtspParseError as error:
                self.buffer.clear()
                self.reply(RtspResponse(error.status, error.cseq), close=True)
                return
            if used == 0:
                return
            del self.buffer[:used]
            if isinstance(message, InterleavedFrame):
                self.touch_sessions()  # RTCP receiver reports keep sessions alive
            elif message is not None:
                self.server.handle(self, message)

    # -- helpers --------------------------------------------------------------------

    def touch_sessions(self) -> None:
        now = self.server.clock()
        for session in self.sessions.values():
            session.last_activity = now

    def reply(self, response: RtspResponse, close: bool = False) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_RESPONSE_BUFFER_BYTES:
            transport.abort()
            return
        transport.write(response.encode())
        if close:
            transport.close()

    def close(self) -> None:
        if self.transport and not self.transport.is_closing():
            self.transport.abort()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[tuple[str, int]], None]) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.on_datagram(addr)


class RtspServer:
    def __init__(
        self,
        streams: Sequence[ServedStream],
        faults: FaultBoard,
        host: str,
        port: int,
        *,
        session_timeout_s: float = SESSION_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
        recorders: dict[int, EdgeRecorder] | None = None,
    ) -> None:
        self.streams = {s.key: s for s in streams}
        self.cameras = {s.camera.index: s.camera for s in streams}
        self.replay = ReplayService(self, recorders or {})
        self.faults = faults
        self.host, self.port = host, port
        self.session_timeout_s = session_timeout_s
        self.clock = clock
        self.connections: set[RtspConnection] = set()
        self.sessions: dict[str, AnySession] = {}
        self.udp: UdpSockets | None = None
        self.udp_ports: tuple[int, int] = (0, 0)
        self._server: asyncio.Server | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._authenticators: dict[tuple[str, str], Authenticator] = {}
        faults.subscribe(self._on_fault)

    # -- life cycle -------------------------------------------------------------

    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen on `sock` (already bound) or on host:port."""
        loop = asyncio.get_running_loop()
        self.udp, self.udp_ports = await _bind_udp_pair(self.host, self._on_udp_datagram)
        for stream in self.streams.values():
            stream.path.udp = self.udp
        if sock is not None:
            self._server = await loop.create_server(lambda: RtspConnection(self), sock=sock)
        else:
            self._server = await loop.create_server(
                lambda: RtspConnection(self), self.host, self.port, reuse_address=True
            )
        self.port = self._server.sockets[0].getsockname()[1]
        self._reaper = loop.create_task(self._reap_sessions(), name="rtsp-session-reaper")

    async def close(self) -> None:
        if self._reaper:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        if self._server:
            self._server.close()
        for session in list(self.sessions.values()):
            self.end_session(session)
        for connection in list(self.connections):
            connection.close()
        if self._server:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self.udp:
            self.udp.rtp.close()
            self.udp.rtcp.close()

    async def _reap_sessions(self) -> None:
        interval = max(min(self.session_timeout_s / 4, 5.0), 0.05)
        while True:
            await asyncio.sleep(interval)
            now = self.clock()
            for session in list(self.sessions.values()):
                if now - session.last_activity > self.session_timeout_s:
                    log.info("session %s timed out", session.id)
                    self.end_session(session)
            # A connection with no session that sends nothing (or half a request
            # forever) is closed too.
            idle_limit = max(self.session_timeout_s, IDLE_CONNECTION_S)
            for connection in list(self.connections):
                if not connection.sessions and now - connection.last_activity > idle_limit:
                    connection.close()

    def end_session(self, session: AnySession) -> None:
        session.stop()
        self.sessions.pop(session.id, None)
        session.connection.sessions.pop(session.id, None)

    def has_room_for_session(self, connection: RtspConnection) -> bool:
        return (
            len(connection.sessions) < MAX_SESSIONS_PER_CONNECTION
            and len(self.sessions) < MAX_SESSIONS
        )

    def add_session(self, session: AnySession, connection: RtspConnection) -> None:
        self.sessions[session.id] = session
        connection.sessions[session.id] = session

    def move_session(self, session: AnySession, connection: RtspConnection) -> RtspConnection:
        """Media of a TCP session goes over the connection that sent PLAY."""
        session.connection.sessions.pop(session.id, None)
        connection.sessions[session.id] = session
        return connection

    # -- faults -------------------------------------------------------------------

    def _on_fault(self, index: int, mode: FaultMode) -> None:
        for name in ("main", "sub"):
            stream = self.streams.get(f"/cam{index}/{name}")
            if stream:
                stream.path.stalled = mode == "stall"
        if mode in ("drop", "offline", "cut"):
            for session in list(self.sessions.values()):
                if session.camera_index == index:
                    self.end_session(session)
            for connection in list(self.connections):
                if index in connection.cameras:
                    connection.close()
        if mode == "ok":  # the link is back: connections held during a cut are gone
            for connection in list(self.connections):
                if connection.blackholed and index in connection.cameras:
                    connection.close()

    # -- UDP ----------------------------------------------------------------------

    def _on_udp_datagram(self, addr: tuple[str, int]) -> None:
        now = self.clock()
        for session in self.sessions.values():
            sub = session.subscriber
            if session.udp and addr in (sub.udp_rtcp_addr, sub.udp_rtp_addr):
                session.last_activity = now

    # -- requests -------------------------------------------------------------------

    def _target(self, request: RtspRequest) -> _Target | None:
        match = _PATH.match(request.path)
        if not match:
            return None
        stream = self.streams.get(f"/cam{int(match.group(1))}/{match.group(2)}")
        return _Target(stream, match.group(3) is not None) if stream else None

    def _authenticator(self, camera: CameraSpec) -> Authenticator | None:
        if camera.username is None:
            return None
        key = (camera.username, camera.password or "")
        if key not in self._authenticators:
            self._authenticators[key] = Authenticator(*key)
        return self._authenticators[key]

    def handle(self, connection: RtspConnection, request: RtspRequest) -> None:
        try:
            response = self._dispatch(connection, request)
        except Exception:  # never a traceback to the client; the connection survives
            log.exception("RTSP %s %s failed", request.method, request.uri)
            response = RtspResponse(500)
        if response is None:  # offline camera: close without an answer
            connection.close()
            return
        if connection.blackholed:  # cut camera: no answer, the connection hangs
            return
        then = None
        if isinstance(response, _Answer):
            response, then = response.response, response.then
        response.cseq = request.cseq
        connection.reply(response)
        if then is not None:
            then()

    def _dispatch(
        self, connection: RtspConnection, request: RtspRequest
    ) -> RtspResponse | _Answer | None:
        method = request.method
        if method not in METHODS:
            return RtspResponse(501)
        session_id = request.session_id
        session = self.sessions.get(session_id) if session_id else None
        if session is not None:
            session.last_activity = self.clock()
        if method == "OPTIONS" and (request.uri == "*" or self._target(request) is None):
            return RtspResponse(200, headers=[("Public", PUBLIC_METHODS)])
        target = self._target(request)
        replay: ReplayTarget | None = None
        if target is None:
            replay = self.replay.target(request, self.cameras)
            if replay is None:
                return RtspResponse(404)
        camera = target.stream.camera if target is not None else replay.camera  # type: ignore[union-attr]
        connection.cameras.add(camera.index)
        if not self.faults.accepts(camera.index):
            if self.faults.mode(camera.index) == "cut":
                connection.blackholed = True
                return RtspResponse(503)  # never written: the connection is held silent
            return None
        if method != "OPTIONS":
            denied = self._check_auth(camera, request)
            if denied:
                return denied
        if session_id and session is None and method != "SETUP":
            return RtspResponse(454)
        if replay is not None:
            return self.replay.handle(connection, request, replay, session)
        assert target is not None
        if isinstance(session, ReplaySession):
            return RtspResponse(459)  # a replay session cannot play a live path
        handler = {
            "OPTIONS": self._options,
            "DESCRIBE": self._describe,
            "SETUP": self._setup,
            "PLAY": self._play,
            "PAUSE": self._pause,
            "TEARDOWN": self._teardown,
            "GET_PARAMETER": self._parameter,
            "SET_PARAMETER": self._parameter,
        }.get(method)
        if handler is None:  # ANNOUNCE, RECORD, REDIRECT: a camera only plays
            return RtspResponse(405, headers=[("Allow", PUBLIC_METHODS)])
        return handler(connection, request, target, session)

    def _check_auth(self, camera: CameraSpec, request: RtspRequest) -> RtspResponse | None:
        auth = self._authenticator(camera)
        if auth is None:
            return None
        now = time.time()
        header = request.headers.get("authorization")
        verdict = auth.check(request.method, header, now, uri=request.uri)
        if verdict == "ok":
            return None
        return RtspResponse(401, headers=auth.challenges(now, stale=verdict == "stale"))

    def session_header(self, session: AnySession) -> tuple[str, str]:
        return "Session", f"{session.id};timeout={int(self.session_timeout_s)}"

    def _options(self, connection, request, target, session) -> RtspResponse:
        headers = [("Public", PUBLIC_METHODS)]
        if session:
            headers.append(self.session_header(session))
        return RtspResponse(200, headers=headers)

    def _describe(self, connection, request, target: _Target, session) -> RtspResponse:
        accept = request.headers.get("accept", "application/sdp")
        if "application/sdp" not in accept and "*/*" not in accept:
            return RtspResponse(406)
        stream = target.stream
        body = build_sdp(
            host=self.host,
            session_id=stream.camera.index,
            title=f"{stream.camera.name} {stream.name}",
            codec=stream.path.codec,
            parameter_sets=stream.path.parameter_sets,
            bitrate=stream.settings.bitrate,
            fps=stream.settings.fps,
            width=stream.settings.width,
            height=stream.settings.height,
        )
        base = f"rtsp://{self.host}:{self.port}{stream.key}/"
        headers = [("Content-Base", base), ("Content-Type", "application/sdp")]
        return RtspResponse(200, headers=headers, body=body)

    def _setup(self, connection, request, target: _Target, session) -> RtspResponse:
        if not target.is_track:
            return RtspResponse(459)  # SETUP names a track, not the whole presentation
        session_id = request.session_id
        if session_id and session is None:
            return RtspResponse(454)
        if session is not None:
            if session.stream is not target.stream:
                return RtspResponse(459)  # one stream per session: no aggregate across paths
            if session.playing:
                return RtspResponse(455)  # transport cannot change while playing (§10.4)
        spec = parse_transport(request.headers.get("transport", ""))
        if spec is None:
            return RtspResponse(461)
        if session is None and not self.has_room_for_session(connection):
            return RtspResponse(503)
        path = target.stream.path
        ssrc = f"{path.ssrc:08X}"
        if spec.tcp:
            assert spec.interleaved is not None
            subscriber = Subscriber(
                tcp=connection.transport,
                rtp_channel=spec.interleaved[0],
                rtcp_channel=spec.interleaved[1],
                on_stuck=connection.close,
            )
            low, high = spec.interleaved
            transport = f"RTP/AVP/TCP;unicast;interleaved={low}-{high};ssrc={ssrc}"
        else:
            assert spec.client_port is not None
            low, high = spec.client_port
            subscriber = Subscriber(
                udp_rtp_addr=(connection.peer_host, low),
                udp_rtcp_addr=(connection.peer_host, high),
            )
            server_low, server_high = self.udp_ports
            transport = (
                f"RTP/AVP;unicast;client_port={low}-{high};"
                f"server_port={server_low}-{server_high};ssrc={ssrc}"
            )
        if session is None:
            session = Session(
                id=secrets.token_hex(8),
                stream=target.stream,
                connection=connection,
                subscriber=subscriber,
                udp=not spec.tcp,
                last_activity=self.clock(),
            )
            self.add_session(session, connection)
        else:
            session.subscriber, session.udp = subscriber, not spec.tcp
        return RtspResponse(200, headers=[("Transport", transport), self.session_header(session)])

    def _play(self, connection, request, target: _Target, session: Session | None) -> RtspResponse:
        if session is None:
            return RtspResponse(455)  # no SETUP yet: Init state
        if session.stream is not target.stream:
            return RtspResponse(459)
        stream = session.stream
        if session.playing:
            seq, rtptime = stream.path.next_keyframe_position()
        else:
            session.playing = True
            if not session.udp:  # the TCP connection that carries media is this one
                session.subscriber.tcp = connection.transport
                session.subscriber.on_stuck = connection.close
                session.connection = self.move_session(session, connection)
            # With fast start the GOP burst is written now, before this answer: send
            # the answer first so the client reads it before the media.
            if stream.path.fast_start:
                return self._play_fast(connection, request, session)
            seq, rtptime = stream.path.add(session.subscriber)
        return RtspResponse(200, headers=self._play_headers(session, seq, rtptime))

    def _play_headers(self, session: Session, seq: int, rtptime: int) -> list[tuple[str, str]]:
        track = f"rtsp://{self.host}:{self.port}{session.stream.key}/{TRACK_CONTROL}"
        return [
            ("Range", "npt=now-"),
            ("RTP-Info", f"url={track};seq={seq};rtptime={rtptime}"),
            self.session_header(session),
        ]

    def _play_fast(self, connection, request, session: Session) -> _Answer:
        path = session.stream.path
        seq, rtptime = path.first_position()
        response = RtspResponse(200, headers=self._play_headers(session, seq, rtptime))
        return _Answer(response, lambda: path.add(session.subscriber))

    def _pause(self, connection, request, target: _Target, session: Session | None):
        if session is None:
            return RtspResponse(455)
        if session.stream is not target.stream:
            return RtspResponse(459)
        session.playing = False
        session.stream.path.remove(session.subscriber)
        return RtspResponse(200, headers=[self.session_header(session)])

    def _teardown(self, connection, request, target: _Target, session: Session | None):
        if session is None:
            return RtspResponse(455)
        if session.stream is not target.stream:
            return RtspResponse(459)
        self.end_session(session)
        return RtspResponse(200)

    def _parameter(self, connection, request, target, session: Session | None):
        headers = [self.session_header(session)] if session else []
        return RtspResponse(200, headers=headers)


async def _bind_udp_pair(
    host: str, on_datagram: Callable[[tuple[str, int]], None]
) -> tuple[UdpSockets, tuple[int, int]]:
    """Two UDP sockets on adjacent ports (RTP even, RTCP odd: RFC 3550 §11)."""
    loop = asyncio.get_running_loop()
    for _ in range(50):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((host, 0))
        port = probe.getsockname()[1] & ~1
        probe.close()
        try:
            rtp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(on_datagram), local_addr=(host, port)
            )
        except OSError:
            continue
        try:
            rtcp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(on_datagram), local_addr=(host, port + 1)
            )
        except OSError:
            rtp.close()
            continue
        return UdpSockets(rtp, rtcp), (port, port + 1)  # type: ignore[arg-type]
    raise OSError("no free pair of UDP ports for RTP/RTCP")


__all__ = ["RtspServer", "ServedStream"]
