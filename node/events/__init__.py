"""The system's event log: what happened to servers and cameras, written once by the
node that saw it (the rules are in `_derive.py`), copied to every node, kept in the
node's SQLite database by age and count, and read newest first.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.events._derive import (
    CameraHealth,
    ClockWatch,
    DiskWatch,
    MembershipEvents,
    NewEvent,
    PlacementView,
    placement_events,
    reporter,
)
from node.events._exchange import (
    DIGEST_KEY,
    FETCH_PATH,
    PUSH_PATH,
    EventExchange,
)
from node.events._model import EVENT_TYPES, Event, EventError, EventType, event_from_json
from node.events._store import MAX_LIMIT, EventQuery, EventStore

__all__ = [
    "DIGEST_KEY",
    "EVENT_TYPES",
    "FETCH_PATH",
    "MAX_LIMIT",
    "PUSH_PATH",
    "CameraHealth",
    "ClockWatch",
    "DiskWatch",
    "Event",
    "EventError",
    "EventExchange",
    "EventQuery",
    "EventStore",
    "EventType",
    "MembershipEvents",
    "NewEvent",
    "PlacementView",
    "event_from_json",
    "placement_events",
    "reporter",
]
