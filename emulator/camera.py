"""What one emulated camera is: its identity, addresses and stream settings.

Shared by the RTSP server, the ONVIF services and the WS-Discovery responder so
they all describe the same camera the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# The one recording of an emulated camera with edge storage (its main stream) and
# that recording's one track, as the ONVIF recording/search/replay services name them.
RECORDING_TOKEN = "EdgeRecording_main"
VIDEO_TRACK_TOKEN = "VIDEO001"

# Stable namespace so camera i of a given host/port always gets the same UUID.
_CAMERA_NAMESPACE = uuid.UUID("6f1c7a52-1d2b-4c5e-9a4e-3f0d2c9b8a71")


@dataclass(frozen=True)
class StreamSettings:
    width: int
    height: int
    fps: int
    bitrate: int  # bits per second
    gop_seconds: float = 2.0


@dataclass(frozen=True)
class CameraSpec:
    index: int  # 1-based, as in /cam<i>/ and onvif-port + i - 1
    name: str
    host: str
    rtsp_port: int
    onvif_port: int  # this camera's own ONVIF HTTP port
    codec: str = "h264"  # "h264" or "hevc"
    main: StreamSettings = StreamSettings(1280, 720, 25, 4_000_000)
    sub: StreamSettings = StreamSettings(640, 360, 25, 512_000)
    username: str | None = None
    password: str | None = None
    manufacturer: str = "camkeep"
    model: str = "Emulated Camera"
    firmware: str = "1.0"
    location: str = "lab"
    edge_storage_s: float = 0.0  # seconds the camera keeps of its own recording; 0: none

    @property
    def uuid(self) -> str:
        return str(uuid.uuid5(_CAMERA_NAMESPACE, f"{self.host}:{self.onvif_port}:{self.index}"))

    @property
    def serial(self) -> str:
        return f"CK{self.index:05d}"

    def rtsp_url(self, stream: str = "main") -> str:
        return f"rtsp://{self.host}:{self.rtsp_port}/cam{self.index}/{stream}"

    @property
    def edge_storage(self) -> bool:
        """Whether the camera records to its own storage (ONVIF Profile G)."""
        return self.edge_storage_s > 0

    def replay_url(self, recording_token: str = RECORDING_TOKEN) -> str:
        return f"rtsp://{self.host}:{self.rtsp_port}/cam{self.index}/replay/{recording_token}"

    @property
    def onvif_url(self) -> str:
        return f"http://{self.host}:{self.onvif_port}/onvif/device_service"

    @property
    def auth_required(self) -> bool:
        return self.username is not None
