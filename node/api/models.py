"""Request and answer bodies of the API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from node.system import MAX_CHANNELS, Priority

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]
NewPassword = Annotated[str, StringConstraints(min_length=8, max_length=256)]
Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnerIn(_In):
    username: Username
    password: NewPassword


class SetupIn(_In):
    system_name: Name
    owner: OwnerIn


class SetupOut(BaseModel):
    system_id: str
    system_name: str
    server_id: str
    owner: str


class LoginIn(_In):
    username: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    password: Annotated[str, StringConstraints(max_length=1024)]


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    role: str


class UserIn(_In):
    username: Username
    password: NewPassword
    role: Literal["admin", "viewer"]


class UserOut(BaseModel):
    username: str
    role: str
    created_at: str | None = None


class FailoverIn(_In):
    enabled: StrictBool
    max_cameras: int = Field(ge=0, le=MAX_CHANNELS)


class OnvifIn(_In):
    host: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
    port: int = Field(default=80, ge=1, le=65535)
    username: Annotated[str, StringConstraints(max_length=128)] | None = None
    password: Annotated[str, StringConstraints(max_length=256)] | None = None


class CameraIn(_In):
    name: Name
    onvif: OnvifIn | None = None
    rtsp_url: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
        | None
    ) = None
    # the camera's second stream, shown live in grids (ONVIF cameras: found by itself)
    sub_rtsp_url: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
        | None
    ) = None
    home_server_id: Id | None = None
    priority: Priority = Priority.MEDIUM
    continuous_recording: StrictBool = True

    @model_validator(mode="after")
    def _one_source(self) -> CameraIn:
        if (self.onvif is None) == (self.rtsp_url is None):
            raise ValueError("give exactly one of onvif or rtsp_url")
        if self.sub_rtsp_url is not None and self.rtsp_url is None:
            raise ValueError("sub_rtsp_url goes with rtsp_url (ONVIF cameras name their own)")
        return self


class CameraPatch(_In):
    name: Name | None = None
    home_server_id: Id | None = None
    priority: Priority | None = None
    continuous_recording: StrictBool | None = None


class PriorityIn(_In):
    camera_ids: list[Id] = Field(min_length=1, max_length=1000)
    priority: Priority


class CameraStatusOut(BaseModel):
    state: str
    last_error: str | None
    bitrate_bps: float
    fps: float
    last_frame_at: str | None


class OnvifAddressOut(BaseModel):
    host: str
    port: int


class CameraOut(BaseModel):
    id: str
    name: str
    source: str
    stream_url: str | None
    sub_stream_url: str | None = None
    onvif: OnvifAddressOut | None
    manufacturer: str | None
    model: str | None
    serial: str | None
    has_credentials: bool
    home_server_id: str | None
    recording_server_id: str | None
    priority: str
    continuous_recording: bool
    created_at: str | None
    status: CameraStatusOut


class ServerOut(BaseModel):
    id: str
    name: str
    url: str
    state: str
    online: bool
    failover_enabled: bool
    max_cameras: int
    licensed_channels: int
    channels_used: int
    load: dict[str, Any]


class PeriodOut(BaseModel):
    start: datetime
    end: datetime
    server_id: str  # the server whose disk holds this period
    overlap: bool = False  # another server holds video of part of it too (failback, partition)


class PeriodsOut(BaseModel):
    periods: list[PeriodOut]  # merged from every live server, sorted by start
    # live servers that did not answer (their periods are missing); only when some did not
    unreachable_servers: list[str] | None = None


class DiscoveredCameraOut(BaseModel):
    model_config = ConfigDict(extra="allow")


class AddServerIn(_In):
    url: Annotated[
        str, StringConstraints(pattern=r"^https?://[^\s/]{1,253}(/.*)?$", max_length=300)
    ]
    owner_username: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    owner_password: Annotated[str, StringConstraints(max_length=1024)]


class DetachIn(_In):
    keep_cameras: StrictBool
    dry_run: StrictBool = False
    confirm_token: Annotated[str, StringConstraints(max_length=1024)] | None = None


class JoinTokenIn(_In):
    ttl_s: float = Field(default=3600.0, gt=0, le=30 * 86400)


class JoinTokenOut(BaseModel):
    token: str
    expires_at: datetime
    system_id: str
