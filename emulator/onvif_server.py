"""ONVIF HTTP endpoints of the emulated cameras: one port per camera (CameraSpec.onvif_port).

- POST /onvif/device_service, /onvif/media_service, /onvif/media2_service: SOAP 1.2;
  with edge storage also /onvif/recording_service, /onvif/search_service and
  /onvif/replay_service (Profile G; without it their operations are SOAP faults).
- GET /onvif/snapshot?profile=main|sub: a JPEG of the camera's current picture,
  behind HTTP Basic/Digest auth when the camera has credentials.
When the FaultBoard says a camera is "offline" or "cut", its port closes every new
connection at once (and keep-alive connections at their next request).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from PIL import Image

from emulator.camera import CameraSpec
from emulator.edge_recorder import EdgeRecorder
from emulator.httpserver import Request, Response, start_http_server
from emulator.onvif_device import (
    DEVICE_PATH,
    MEDIA2_PATH,
    MEDIA_PATH,
    RECORDING_PATH,
    REPLAY_PATH,
    SEARCH_PATH,
    SNAPSHOT_PATH,
)
from emulator.onvif_httpauth import HttpAuthenticator
from emulator.onvif_media import PROFILE_TOKENS, stream_settings
from emulator.onvif_profile_g import ProfileG
from emulator.onvif_service import handle_soap
from emulator.soap import SOAP_CONTENT_TYPE
from emulator.soap_security import NonceCache

log = logging.getLogger(__name__)

SOAP_PATHS = frozenset(
    {DEVICE_PATH, MEDIA_PATH, MEDIA2_PATH, RECORDING_PATH, SEARCH_PATH, REPLAY_PATH}
)
MAX_CONCURRENT_SNAPSHOTS = 2  # JPEG encoding is CPU work; keep it from starving the streams
JPEG_QUALITY = 80


class FaultModes(Protocol):
    def mode(self, index: int) -> str: ...


def render_snapshot(camera: CameraSpec, profile: str, now: datetime) -> bytes:
    """JPEG bytes of the camera's picture at `now` for the profile's resolution."""
    settings = stream_settings(camera, profile)
    frame_index = int(now.timestamp() * settings.fps)
    clock_text = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    image = _draw(
        camera.name, settings.width, settings.height, frame_index, settings.fps, clock_text
    )
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _draw(
    name: str, width: int, height: int, frame_index: int, fps: int, clock: str
) -> Image.Image:
    try:
        from emulator.picture import draw_picture
    except ImportError:  # picture.py not available: a plain labelled frame
        from PIL import ImageDraw

        image = Image.new("RGB", (width, height), (32, 64, 96))
        ImageDraw.Draw(image).text((10, 10), f"{name} {clock} #{frame_index}", fill="white")
        return image
    return draw_picture(name, width, height, frame_index, fps, clock)


class CameraOnvifEndpoint:
    """The HTTP handler of one camera."""

    def __init__(
        self,
        camera: CameraSpec,
        snapshot_slots: asyncio.Semaphore,
        recorder: EdgeRecorder | None = None,
    ) -> None:
        self.camera = camera
        self._extra_operations = ProfileG(camera, recorder).operations() if recorder else None
        self._nonces = NonceCache()
        self._http_auth = (
            HttpAuthenticator(camera.username or "", camera.password or "")
            if camera.auth_required
            else None
        )
        self._snapshot_slots = snapshot_slots

    def _http_authenticated(self, request: Request) -> bool:
        if self._http_auth is None:
            return True
        return self._http_auth.check(
            request.headers.get("authorization"), request.method, time.time()
        )

    def _unauthorized(self) -> Response:
        assert self._http_auth is not None
        return Response(
            401,
            b"authentication required\n",
            headers={"WWW-Authenticate": self._http_auth.challenge(time.time())},
        )

    async def __call__(self, request: Request) -> Response:
        if request.path in SOAP_PATHS:
            if request.method != "POST":
                return Response(405, b"use POST with a SOAP envelope\n", headers={"Allow": "POST"})
            return self._soap(request)
        if request.path == SNAPSHOT_PATH:
            if request.method not in ("GET", "HEAD"):
                return Response(405, b"use GET\n", headers={"Allow": "GET, HEAD"})
            return await self._snapshot(request)
        return Response(404, b"not found\n")

    def _soap(self, request: Request) -> Response:
        has_http_auth = "authorization" in request.headers
        http_ok = has_http_auth and self._http_authenticated(request)
        reply = handle_soap(
            self.camera,
            request.body,
            datetime.now(UTC),
            self._nonces,
            http_authenticated=http_ok and self.camera.auth_required,
            extra_operations=self._extra_operations,
        )
        headers: dict[str, str] = {}
        status = reply.status
        if (
            reply.fault is not None
            and "NotAuthorized" in reply.fault.subcodes
            and self._http_auth is not None
            and (has_http_auth or b"UsernameToken" not in request.body)
        ):
            # No WS-Security token at all (or bad HTTP credentials): offer HTTP Digest.
            status = 401
            headers["WWW-Authenticate"] = self._http_auth.challenge(time.time())
        return Response(status, reply.body, SOAP_CONTENT_TYPE, headers)

    async def _snapshot(self, request: Request) -> Response:
        if not self._http_authenticated(request):
            return self._unauthorized()
        profile = request.query.get("profile", "main")
        if profile not in PROFILE_TOKENS:
            return Response(404, b"no such profile\n")
        async with self._snapshot_slots:
            jpeg = await asyncio.to_thread(render_snapshot, self.camera, profile, datetime.now(UTC))
        return Response(200, jpeg, "image/jpeg", {"Cache-Control": "no-store"})


@dataclass
class OnvifServers:
    servers: list[asyncio.Server]
    endpoints: list[CameraOnvifEndpoint]

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self.servers.clear()


async def start_onvif_servers(
    cameras: Sequence[CameraSpec],
    faults: FaultModes,
    recorders: Mapping[int, EdgeRecorder] | None = None,
) -> OnvifServers:
    """Start one ONVIF HTTP server per camera on camera.host:camera.onvif_port;
    cameras with a recorder in `recorders` also serve Profile G."""
    slots = asyncio.Semaphore(MAX_CONCURRENT_SNAPSHOTS)
    running = OnvifServers([], [])
    try:
        for camera in cameras:
            endpoint = CameraOnvifEndpoint(camera, slots, (recorders or {}).get(camera.index))
            index = camera.index
            server = await start_http_server(
                camera.host,
                camera.onvif_port,
                endpoint,
                accept=lambda index=index: faults.mode(index) not in ("offline", "cut"),
            )
            running.servers.append(server)
            running.endpoints.append(endpoint)
    except BaseException:
        await running.close()
        raise
    log.info("ONVIF services started for %d cameras", len(cameras))
    return running
