"""Request and answer bodies of the API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    model_validator,
)

from node.system import MAX_CHANNELS, Priority
from node.urls import http_url

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
    """A request body: unknown fields are refused, and numbers are typed as sent
    (StrictInt/StrictFloat: `false` or "5" is not a number)."""

    model_config = ConfigDict(extra="forbid")


class OwnerIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"username": "owner", "password": "correct horse battery"}]
        },
    )

    username: Username
    password: NewPassword


class SetupIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "system_name": "Main site",
                    "owner": {"username": "owner", "password": "correct horse battery"},
                }
            ]
        },
    )

    system_name: Name
    owner: OwnerIn


class SetupOut(BaseModel):
    system_id: str
    system_name: str
    server_id: str
    owner: str


class LoginIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"username": "alice", "password": "correct horse battery"}]
        },
    )

    username: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    password: Annotated[str, StringConstraints(max_length=1024)]


# The system's server addresses travel with every session: a web client whose server
# dies must know where else to go, even when it died a moment after the log-in.
ServerUrls = Annotated[
    list[str],
    Field(description="web addresses of the system's servers (this one included)"),
]


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    role: str
    server_urls: ServerUrls


class UserIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"username": "alice", "password": "correct horse battery", "role": "viewer"}
            ]
        },
    )

    username: Username
    password: NewPassword
    role: Literal["admin", "viewer"]


class UserOut(BaseModel):
    username: str
    role: str
    created_at: str | None = None


class FailoverIn(_In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"enabled": True, "max_cameras": 16}]}
    )

    enabled: StrictBool
    max_cameras: StrictInt = Field(ge=0, le=MAX_CHANNELS)


class OnvifIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"host": "192.168.1.64", "port": 80, "username": "admin", "password": "secret"}
            ]
        },
    )

    host: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
    port: StrictInt = Field(default=80, ge=1, le=65535)
    username: Annotated[str, StringConstraints(max_length=128)] | None = None
    password: Annotated[str, StringConstraints(max_length=256)] | None = None


class CameraIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Gate", "rtsp_url": "rtsp://192.168.1.64:554/main", "priority": "high"}
            ]
        },
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Front gate", "priority": "low", "continuous_recording": False}]
        },
    )

    name: Name | None = None
    home_server_id: Id | None = None
    priority: Priority | None = None
    continuous_recording: StrictBool | None = None


class PriorityIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"camera_ids": ["6f1c2a52-0d3b-4c57-9a43-1f0e8b7f2d10"], "priority": "high"}
            ]
        },
    )

    camera_ids: list[Id] = Field(min_length=1, max_length=1000)
    priority: Priority


class CameraStatusOut(BaseModel):
    state: str
    last_error: str | None
    bitrate_bps: float
    fps: float
    last_frame_at: str | None
    # the server whose recorder this status comes from (None: nobody records it)
    server_id: str | None = None
    # True when that server has gone quiet: the status is as of `updated_at`
    stale: bool = False
    age_s: float | None = None
    updated_at: str | None = None
    reason: str | None = None  # why nobody records it


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
    # the server's clock minus the answering node's (seconds), from its latest gossip;
    # None when not measured in the last minute
    clock_offset_s: float | None = None
    # ok; skewed: beyond [gossip] clock_warning_s; refused: beyond the 30 s window, so
    # its messages are refused; None: unknown
    clock: Literal["ok", "skewed", "refused"] | None = None
    clock_warning: str | None = None  # for people, when its clock is the one off


class PeriodOut(BaseModel):
    start: datetime
    end: datetime
    server_id: str  # the server whose disk holds this period
    overlap: bool = False  # another server holds video of part of it too (failback, partition)
    # "live": recorded from the stream; "edge": downloaded afterwards from the camera's
    # own storage (ONVIF Profile G) to fill a gap
    source: str = "live"


class GapOut(BaseModel):
    """A hole between two stretches of video, and why it is there: "filling" (a fill
    from the camera's storage works on it), "no_edge_storage", "edge_overwritten",
    "not_on_edge", "edge_unreachable", or "not_recorded"."""

    start: datetime
    end: datetime
    reason: str


class PeriodsOut(BaseModel):
    periods: list[PeriodOut]  # merged from every live server, sorted by start
    gaps: list[GapOut] = []  # holes between periods inside the range, with the reason
    # live servers that did not answer (their periods are missing); only when some did not
    unreachable_servers: list[str] | None = None


class DiscoveredCameraOut(BaseModel):
    endpoint: str  # WS-Discovery endpoint reference, usually urn:uuid:...
    name: str | None
    hardware: str | None
    location: str | None
    xaddrs: list[str]  # ONVIF device service URLs
    host: str | None
    port: int | None
    already_added: bool


class AddServerIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "http://192.168.1.20:7480",
                    "owner_username": "owner",
                    "owner_password": "correct horse battery",
                }
            ]
        },
    )

    url: Annotated[
        str,
        StringConstraints(pattern=r"^https?://[^\s/]{1,253}(/.*)?$", max_length=300),
        AfterValidator(http_url),
    ]
    owner_username: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    owner_password: Annotated[str, StringConstraints(max_length=1024)]


class DetachIn(_In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"keep_cameras": True, "dry_run": True}]}
    )

    keep_cameras: StrictBool
    dry_run: StrictBool = False
    confirm_token: Annotated[str, StringConstraints(max_length=1024)] | None = None


class JoinTokenIn(_In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ttl_s": 3600}]})

    ttl_s: StrictFloat = Field(default=3600.0, gt=0, le=30 * 86400)


class JoinTokenOut(BaseModel):
    token: str
    expires_at: datetime
    system_id: str


class EventOut(BaseModel):
    id: str
    type: str
    time: str
    server_id: str | None
    camera_id: str | None
    origin: str
    details: dict[str, Any]


class EventsOut(BaseModel):
    events: list[EventOut]


WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=8, max_length=2000, pattern=r"^https?://[^\s]+$"),
    AfterValidator(http_url),
]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=256)]
EventTypeName = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]


class WebhookIn(_In):
    url: WebhookUrl
    secret: Secret
    event_types: list[EventTypeName] = Field(default_factory=list, max_length=50)
    enabled: StrictBool = True


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    enabled: bool
    has_secret: bool
    created_at: str | None
    failing: str | None = None  # last delivery error on this node, if it is failing


class MqttIn(_In):
    host: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
    port: int = Field(default=1883, ge=1, le=65535)
    username: Annotated[str, StringConstraints(max_length=128)] | None = None
    password: Annotated[str, StringConstraints(max_length=256)] | None = None
    topic_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,100}$")] | None = (
        None
    )
    enabled: StrictBool = True


class MqttOut(BaseModel):
    configured: bool
    host: str | None = None
    port: int | None = None
    username: str | None = None
    has_password: bool = False
    topic_prefix: str | None = None
    enabled: bool = False
    connected: bool = False
    last_error: str | None = None


class ServerSummaryOut(BaseModel):
    id: str
    name: str
    state: str
    cameras_recording: int
    disk_free_bytes: int | None
    write_bytes_per_s: float
    disk_days_left: float | None
    clock_offset_s: float | None = None  # as in ServerOut
    clock: Literal["ok", "skewed", "refused"] | None = None
    clock_warning: str | None = None


class UnrecordedOut(BaseModel):
    camera_id: str
    name: str
    reason: str | None


class StatusOut(BaseModel):
    system_name: str
    servers_up: int
    servers_total: int
    cameras_total: int
    cameras_recording: int
    cameras_on_backup: int
    cameras_not_recorded: list[UnrecordedOut]
    gaps_24h: int
    gap_seconds_24h: float
    disk_days_left: float | None
    servers: list[ServerSummaryOut]
    clock_warning: str | None = None  # when this server's clock is judged off


# ------------------------------------------------------------------ answers


class ValidationIssueOut(BaseModel):
    loc: str  # where in the request, dotted: "body.owner.password", "query.start"
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every error answer: a reason for people; `detail` lists each invalid field
    (only when the request did not validate, 422)."""

    error: str
    detail: list[ValidationIssueOut] | None = None


class HealthOut(BaseModel):
    node_id: str
    name: str
    system_id: str | None
    state: Literal["member", "undefined"]
    version: str
    join_error: str | None = None  # only when an automatic join was refused
    # only when this server's clock differs from the other servers' (or, in a system
    # of two, from the other one's)
    clock_warning: str | None = None


class SystemOut(BaseModel):
    id: str | None
    name: str | None
    created_at: str | None


class MeOut(BaseModel):
    username: str
    role: str
    server_urls: ServerUrls


class DiscoveredServerOut(BaseModel):
    id: str
    name: str
    url: str
    system_id: str | None = None  # only with ?all=true: the other system's id


class DiscoveredSystemOut(BaseModel):
    system_id: str
    servers: list[DiscoveredServerOut]


class DetachOut(BaseModel):
    server_id: str
    keep_cameras: bool
    online: bool
    last_server: bool
    cameras: int
    summary: str
    warnings: list[str]
    done: bool
    # a dry run (202) only: the token that confirms it, usable from confirm_after
    confirm_token: str | None = None
    confirm_after: str | None = None
    confirm_expires_at: str | None = None


class MemberOut(BaseModel):
    state: str
    incarnation: int
    address: str | None
    seen_s_ago: float | None
    load: dict[str, Any]
    channels_used: int | None


class MembershipOut(BaseModel):
    node_id: str
    members: dict[str, MemberOut]
    gossip: dict[str, Any]
    replication: dict[str, Any]


class FailoverServerOut(BaseModel):
    id: str
    name: str
    state: str
    failover_enabled: bool
    max_cameras: int
    licensed_channels: int
    planned_cameras: int


class FailoverCameraOut(BaseModel):
    id: str
    name: str
    home_server_id: str | None
    priority: str
    continuous_recording: bool
    planned_server_id: str | None
    unplaced_reason: str | None
    recording_server_id: str | None = None  # who records it now (None: nobody)


class FailoverOut(BaseModel):
    servers: list[FailoverServerOut]
    cameras: list[FailoverCameraOut]
    handing_over: dict[str, Any]
    failback_waiting: list[Any]
    # takeovers this node holds back for a moment: a live peer has just let them go
    # (most often because their home is back, which this node may not have heard yet)
    release_waiting: list[str] = []
