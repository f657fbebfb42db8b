"""Live view over WebRTC with aiortc, without decoding or re-encoding: the camera's
H.264 access units go to aiortc as av.Packets, which its H.264 sender packetizes as
they are (`RTCRtpSender` calls the encoder's `pack` for packets).

What passthrough means, and how it is handled:
- aiortc offers only constrained-baseline labels (42001f/42e01f); cameras send Main
  or High. Chromium decodes by the stream's own SPS whatever the label (the browser
  tests play a High-profile camera this way), so the answer keeps aiortc's label
  unless `real_profile` is set, which rewrites it to the camera's profile-level-id.
- Keyframe requests (PLI/FIR) cannot be honoured: a new viewer starts at the cached
  keyframe (the recorder's tap keeps the last GOP) and a picture broken by loss
  recovers at the next keyframe.
- Frames that wait behind others (the cached GOP when a viewer starts, or after a
  hiccup) go out with timestamps one tick apart, so the browser decodes them at once
  and shows the newest: the viewer starts at the live edge, not a GOP behind it.
- B-frames and H.265 do not go over WebRTC (`LiveRefused` 415): the player uses the
  fragmented-MP4 WebSocket for those cameras.
- ICE: host candidates on the node's listen address only (`restrict_host_addresses`),
  no STUN/TURN unless configured; remote candidates the node cannot reach from its
  address (loopback node, non-loopback candidate) are left out of the offer."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import aioice.ice
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from node.live._fmp4 import nal_type, split_annexb
from node.live._service import LiveReader, LiveRefused, LiveService
from recorder import LiveEnded, StreamInfo

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90000)
FIRST_INFO_TIMEOUT_S = 8.0  # a camera that is connecting: wait this long for its stream
MAX_SESSIONS = 256
_PROFILE_RE = re.compile(r"profile-level-id=([0-9a-fA-F]{6})")
_original_host_addresses = aioice.ice.get_host_addresses


def restrict_host_addresses(host: str) -> None:
    """Gather ICE host candidates on `host` only (the node's listen address); a
    wildcard listen address keeps aioice's own choice (every interface)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if address.is_unspecified:
        aioice.ice.get_host_addresses = _original_host_addresses
        return

    def listen_address_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        wanted = use_ipv4 if address.version == 4 else use_ipv6
        return [str(address)] if wanted else []

    aioice.ice.get_host_addresses = listen_address_only


def reachable_candidates(sdp: str, host: str) -> str:
    """The offer without the remote candidates a node listening on `host` cannot
    reach: a loopback node keeps only loopback candidates (and so never resolves a
    browser's mDNS name on the network)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return sdp
    if not loopback:
        return sdp
    kept = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            try:
                if len(fields) < 6 or not ipaddress.ip_address(fields[4]).is_loopback:
                    continue
            except ValueError:
                continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


def sps_profile_level_id(info: StreamInfo) -> str | None:
    """The camera's profile-level-id (hex of the SPS bytes after its NAL header)."""
    sps = next((n for n in split_annexb(info.extradata) if nal_type("h264", n) == 7), None)
    return sps[1:4].hex() if sps is not None and len(sps) >= 4 else None


def with_profile(sdp: str, profile_level_id: str) -> str:
    return _PROFILE_RE.sub(f"profile-level-id={profile_level_id}", sdp)


class PassthroughTrack(MediaStreamTrack):
    """A video track whose `recv` gives the camera's access units as av.Packets."""

    kind = "video"

    def __init__(self, reader: LiveReader, on_end: Callable[[], None]) -> None:
        super().__init__()
        self.reader = reader
        self._on_end = on_end
        self._stamp = 0  # output timestamp of the last packet
        self._last_pts: int | None = None
        self._waiting_key = True
        self.sent = 0
        self.ended_reason: str | None = None

    async def recv(self) -> av.Packet:
        while True:
            try:
                item = await self.reader.get()
            except LiveEnded as ended:
                self._finish(str(ended))
                raise MediaStreamError from None
            if isinstance(item, StreamInfo):
                if item.codec != "h264" or item.reordered:
                    self._finish("the stream changed to one WebRTC cannot carry")
                    raise MediaStreamError
                self._last_pts = None  # a new stream: its timestamps start afresh
                self._waiting_key = True
                continue
            if self._waiting_key and not item.keyframe:
                continue
            self._waiting_key = False
            if self._last_pts is None or self.reader.backlog() > 0:
                step = 1  # behind live: let the browser show these at once
            else:
                step = min(max(item.pts - self._last_pts, 1), 90000)
            self._last_pts = item.pts
            self._stamp += step
            packet = av.Packet(item.data)
            packet.pts = packet.dts = self._stamp
            packet.time_base = TIME_BASE
            self.sent += 1
            return packet

    def _finish(self, reason: str) -> None:
        if self.ended_reason is None:
            self.ended_reason = reason
            self._on_end()

    def stop(self) -> None:
        super().stop()
        self.reader.close()


@dataclass
class WebRtcSession:
    id: str
    camera_id: str
    stream: str
    peer: RTCPeerConnection
    track: PassthroughTrack
    info: StreamInfo


class WebRtcSessions:
    """The node's WebRTC sessions, by id (the resource a WHEP client deletes)."""

    def __init__(
        self,
        live: LiveService,
        listen_host: str,
        ice_servers: tuple[str, ...] = (),
        turn_username: str | None = None,
        turn_password: str | None = None,
        real_profile: bool = False,
    ) -> None:
        self.live = live
        self.listen_host = listen_host
        self.ice_servers = [
            RTCIceServer(url, username=turn_username, credential=turn_password)
            for url in ice_servers
        ]
        self.real_profile = real_profile
        self.sessions: dict[str, WebRtcSession] = {}
        restrict_host_addresses(listen_host)

    async def create(self, camera_id: str, stream: str, offer_sdp: str) -> WebRtcSession:
        """Answer a browser's offer with the camera's live video. LiveRefused: 404
        unknown camera, 415 a stream WebRTC cannot carry, 422 a bad offer, 503 the
        camera is not streaming, 429 too many sessions."""
        self.live.check_camera(camera_id, stream)
        if len(self.sessions) >= MAX_SESSIONS:
            raise LiveRefused(429, "too many WebRTC sessions on this server")
        if "m=video" not in offer_sdp or "H264" not in offer_sdp.upper():
            raise LiveRefused(422, "the offer must receive H.264 video")
        reader = self.live.reader(camera_id, stream)
        try:
            info = await asyncio.wait_for(_first_info(reader), FIRST_INFO_TIMEOUT_S)
        except (TimeoutError, LiveEnded):
            reader.close()
            raise LiveRefused(503, "the camera is not streaming now") from None
        if info.codec != "h264":
            reader.close()
            raise LiveRefused(415, "H.265 video does not go over WebRTC: use the live WebSocket")
        if info.reordered:
            reader.close()
            raise LiveRefused(415, "this camera sends B-frames: use the live WebSocket")
        session_id = uuid.uuid4().hex
        peer = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        track = PassthroughTrack(reader, lambda: self._spawn_close(session_id))
        session = WebRtcSession(session_id, camera_id, stream, peer, track, info)
        self.sessions[session_id] = session

        @peer.on("connectionstatechange")
        async def _state() -> None:
            if peer.connectionState in ("failed", "closed"):
                await self.close(session_id)

        try:
            # The transceiver and its codec (H.264 only) must exist before the offer is
            # applied: aiortc negotiates a transceiver's codecs when it takes the offer,
            # and sends with the first (a later preference only changes the answer).
            transceiver = peer.addTransceiver(track, direction="sendonly")
            capabilities = RTCRtpSender.getCapabilities("video").codecs
            transceiver.setCodecPreferences([c for c in capabilities if c.mimeType == "video/H264"])
            offer = reachable_candidates(offer_sdp, self.listen_host)
            await peer.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await peer.setLocalDescription(await peer.createAnswer())
        except Exception as error:  # aiortc raises many kinds on a malformed offer
            log.info("WebRTC offer refused: %r", error)
            await self.close(session_id)
            reason = str(error)[:200] or type(error).__name__
            raise LiveRefused(422, f"the offer cannot be answered: {reason}") from None
        return session

    def answer_sdp(self, session: WebRtcSession) -> str:
        sdp = session.peer.localDescription.sdp
        if self.real_profile:
            profile = sps_profile_level_id(session.info)
            if profile:
                sdp = with_profile(sdp, profile)
        return sdp

    def _spawn_close(self, session_id: str) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self.close(session_id))

    async def close(self, session_id: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        session.track.stop()
        with contextlib.suppress(Exception):
            await session.peer.close()
        return True

    async def close_all(self) -> None:
        for session_id in list(self.sessions):
            await self.close(session_id)


async def _first_info(reader: LiveReader) -> StreamInfo:
    """The stream's description: a subscription starts with it (the frames after it
    stay queued for the track)."""
    while True:
        item = await reader.get()
        if isinstance(item, StreamInfo):
            return item
