"""Public value types of the recorder and its error classes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Live states of one camera ingest.
CONNECTING = "connecting"
RECORDING = "recording"
RECONNECTING = "reconnecting"
ERROR = "error"
STOPPED = "stopped"


class RecorderError(Exception):
    """Base of every error the recorder raises on purpose."""


class InvalidCameraId(RecorderError):
    """A camera id that cannot name a folder (empty, '/', '..', control characters)."""


class ExportError(RecorderError):
    """Nothing to export, or the export could not be written."""


class IndexUnusable(RecorderError):
    """The recording index is unusable (e.g. written by a newer camkeep)."""


@dataclass(frozen=True)
class CameraSource:
    camera_id: str
    url: str  # rtsp://host:port/path (no credentials in it)
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show the password
        user = "***" if self.username else None
        return f"CameraSource(camera_id={self.camera_id!r}, url={self.url!r}, username={user})"


@dataclass(frozen=True)
class CameraStatus:
    camera_id: str
    state: str  # connecting | recording | reconnecting | error | stopped
    last_error: str | None
    bitrate_bps: float
    fps: float
    last_frame_at: datetime | None  # UTC


@dataclass(frozen=True)
class Period:
    """A continuous recorded span of one camera on one server."""

    start: datetime  # UTC, tz-aware
    end: datetime
    server_id: str
    source: str = "live"  # "live": recorded from the stream; "edge": from the camera's storage


@dataclass(frozen=True)
class RetentionPolicy:
    max_bytes: int | None = None
    min_free_bytes: int | None = None
    max_age_s: float | None = None
