"""The system's records as typed, read-only views, and the rules that belong to them.

Records are stored and replicated as JSON objects (node/replication); every reader of a
server or camera record goes through these views so that a rule (the default of
`max_cameras`, the 128-channel ceiling, a camera's default priority) is written once.
A view never fails on an odd record: fields that are missing or of the wrong type take
their defaults, as an older or newer node may have written them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from node.config import MAX_CHANNELS


class Priority(StrEnum):
    """Failover priority of a camera; lower-case on the wire."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NEVER = "never"

    @property
    def rank(self) -> int:
        """Higher rank is placed first; NEVER (0) is never taken over."""
        return _PRIORITY_RANK[self]

    @classmethod
    def of(cls, value: object) -> Priority:
        """The priority a record holds; MEDIUM when it holds none or junk."""
        try:
            return cls(value)
        except ValueError:
            return cls.MEDIUM


_PRIORITY_RANK = {Priority.HIGH: 3, Priority.MEDIUM: 2, Priority.LOW: 1, Priority.NEVER: 0}


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Server:
    """A server record. `licensed_channels` is what its licence allows (at most
    MAX_CHANNELS); `max_cameras` is the failover limit the owner set, never above the
    licence (a record without one has the licence as its limit)."""

    id: str
    name: str
    url: str | None
    licensed_channels: int
    failover_enabled: bool
    max_cameras: int
    joined_at: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Server:
        licensed = min(max(_int(record.get("licensed_channels"), MAX_CHANNELS), 0), MAX_CHANNELS)
        server_id = str(record.get("id", ""))
        return cls(
            id=server_id,
            name=_str(record.get("name")) or server_id,
            url=_str(record.get("url")),
            licensed_channels=licensed,
            failover_enabled=record.get("failover_enabled") is True,
            max_cameras=min(max(_int(record.get("max_cameras"), licensed), 0), licensed),
            joined_at=_str(record.get("joined_at")),
        )


def new_server_record(name: str, url: str, licensed_channels: int) -> dict[str, Any]:
    """The server record a node writes for itself when it creates or joins a system:
    failover off, its whole licence as its limit."""
    return {
        "name": name,
        "url": url,
        "licensed_channels": licensed_channels,
        "failover_enabled": False,
        "max_cameras": licensed_channels,
    }


@dataclass(frozen=True, slots=True)
class Camera:
    """A camera record as the failover and recording logic read it (credentials
    included: this view never leaves the node; the API shows `public_camera`)."""

    id: str
    name: str
    home_server_id: str | None
    priority: Priority
    continuous_recording: bool
    stream_url: str | None
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Camera:
        camera_id = str(record.get("id", ""))
        return cls(
            id=camera_id,
            name=_str(record.get("name")) or camera_id,
            home_server_id=_str(record.get("home_server_id")),
            priority=Priority.of(record.get("priority", Priority.MEDIUM.value)),
            continuous_recording=record.get("continuous_recording", True) is not False,
            stream_url=_str(record.get("stream_url")),
            username=_str(record.get("username")),
            password=_str(record.get("password")),
        )
