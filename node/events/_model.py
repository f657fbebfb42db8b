"""One entry of the system's event log, as plain data.

Every event is written once, by one node (its `origin`), numbered by that node
(`seq`, 1, 2, ...); its id is `<origin>:<seq>`, the same on every node that holds a
copy. Times are unix milliseconds inside, UTC text (`node.timefmt`) outside.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from node.digits import is_digits
from node.timefmt import parse_utc_iso, utc_iso


class EventType(StrEnum):
    SERVER_JOINED = "server_joined"
    SERVER_DETACHED = "server_detached"
    SERVER_SUSPECT = "server_suspect"
    SERVER_DEAD = "server_dead"
    SERVER_ALIVE = "server_alive"
    CAMERA_TAKEN_OVER = "camera_taken_over"
    CAMERA_RETURNED_HOME = "camera_returned_home"
    CAMERA_NOT_TAKEN_OVER = "camera_not_taken_over"
    CAMERA_OFFLINE = "camera_offline"
    CAMERA_ONLINE = "camera_online"
    RECORDING_GAP = "recording_gap"
    DISK_NEARLY_FULL = "disk_nearly_full"
    RETENTION_DELETED = "retention_deleted"
    SERVER_CLOCK_SKEW = "server_clock_skew"


EVENT_TYPES = frozenset(t.value for t in EventType)
_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_DETAILS_BYTES = 4096  # what a peer can make us store per event


class EventError(ValueError):
    """An event received from outside is malformed."""


@dataclass(frozen=True)
class Event:
    origin: str  # node id of the writer
    seq: int  # the writer's number for it, from 1
    type: str
    at_ms: int  # unix milliseconds
    server_id: str | None = None
    camera_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.origin}:{self.seq}"

    @property
    def gap_seconds(self) -> float:
        """How long a recording gap lasted; 0 when the details do not say. Events from
        other servers are checked for shape, not for every detail's type."""
        value = self.details.get("seconds")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return 0.0
        return float(value) if math.isfinite(value) and value >= 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "time": utc_iso(self.at_ms / 1000, timespec="milliseconds"),
            "server_id": self.server_id,
            "camera_id": self.camera_id,
            "origin": self.origin,
            "details": dict(self.details),
        }


def _opt_id(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise EventError(f"{what} must be an id")
    return value


def event_from_json(data: Any) -> Event:
    """An Event from its JSON form (as `Event.to_json` writes it); EventError if not."""
    if not isinstance(data, dict):
        raise EventError("an event must be an object")
    origin, _, seq_text = str(data.get("id", "")).rpartition(":")
    if not _ID.fullmatch(origin or "-") or not is_digits(seq_text) or not origin:
        raise EventError("event id must be <origin>:<seq>")
    if data.get("origin", origin) != origin:
        raise EventError("event origin does not match its id")
    event_type = data.get("type")
    if event_type not in EVENT_TYPES:
        raise EventError(f"unknown event type {event_type!r}")
    try:
        at = parse_utc_iso(data.get("time"))
    except (ValueError, TypeError):
        raise EventError("event time must be UTC ISO 8601") from None
    details = data.get("details", {})
    if not isinstance(details, dict) or len(repr(details)) > MAX_DETAILS_BYTES:
        raise EventError("event details must be a small object")
    seq = int(seq_text)
    if not 1 <= seq < 2**62:
        raise EventError("event seq out of range")
    return Event(
        origin=origin,
        seq=seq,
        type=event_type,
        at_ms=int(at.timestamp() * 1000),
        server_id=_opt_id(data.get("server_id"), "server_id"),
        camera_id=_opt_id(data.get("camera_id"), "camera_id"),
        details=details,
    )
