"""Which events a node writes, decided from what it observes (pure, explicit time).

Each event is written by exactly one node, so the log holds it once:

- membership (suspect, dead, alive again): the *reporter*, the alive server with the
  lowest id other than the subject (`reporter`); every node computes it alike from
  its view, so in a steady system one node writes each change;
- camera taken over / returned home: the node whose failover decision starts
  recording the camera (`placement_events`: the backup for a takeover, the home for
  a return), from the difference between two of its decisions;
- camera not taken over (Never, no free channel): the reporter, when the plan's
  reason for a camera appears;
- camera offline / online and the recording gap between them: the node recording it
  (`CameraHealth`, from its recorder's states);
- disk nearly full and retention: each node about its own disk (`DiskWatch`);
- server joined: the server itself once it is a member; detached: the node that
  carried out the detach;
- a server's clock skewed or refused, and back to ok (`ClockWatch`): the reporter for
  that server, when this node's clock judgement names it as the one off. A node that
  judges its own clock off writes nothing about itself (the others, which agree, do;
  while refused its events could not reach them anyway). In a system of two nobody
  can tell which clock is wrong, so each side writes what it sees of the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from node.events._model import EventType

ALIVE = frozenset({"alive", "suspect"})


@dataclass(frozen=True)
class NewEvent:
    """An event to write: what `EventStore.append` takes."""

    type: str
    server_id: str | None = None
    camera_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at_ms: int | None = None


def reporter(alive: Iterable[str], subject: str | None = None) -> str | None:
    """The node that writes system-level events: the lowest alive id but the subject."""
    candidates = sorted(s for s in alive if s != subject)
    return candidates[0] if candidates else None


class MembershipEvents:
    """Turns membership changes into server_suspect/dead/alive events. `alive again`
    only follows a suspect or dead state this tracker saw (a node starting up and
    hearing of its peers for the first time reports nothing)."""

    _TYPES: ClassVar[dict[str, EventType]] = {
        "suspect": EventType.SERVER_SUSPECT,
        "dead": EventType.SERVER_DEAD,
        "alive": EventType.SERVER_ALIVE,
    }

    def __init__(self) -> None:
        self._last: dict[str, str] = {}

    def observe(self, subject: str, state: str, *, i_report: bool) -> NewEvent | None:
        previous = self._last.get(subject)
        self._last[subject] = state
        if state == previous or not i_report or state not in self._TYPES:
            return None
        if state == "alive" and previous not in ("suspect", "dead"):
            return None
        if state == "suspect" and previous == "dead":
            return None
        return NewEvent(self._TYPES[state].value, server_id=subject)


class ClockWatch:
    """Turns each server's clock state (ok | skewed | refused, with hysteresis already
    applied by the membership's judge) into `server_clock_skew` events: one when it
    becomes skewed or refused (or moves between the two), and one when it is back to
    ok after such an event; an unknown state (no recent datagram) is no news. So a
    clock that stays wrong writes once, whatever the number of checks."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}
        self._announced: set[str] = set()

    def observe(
        self,
        subject: str,
        state: str | None,
        offset_s: float | None,
        *,
        i_report: bool,
        named: bool,
    ) -> NewEvent | None:
        if state is None or offset_s is None:
            return None
        previous = self._last.get(subject, "ok")
        self._last[subject] = state
        if state == previous:
            return None
        if state == "ok":
            if subject not in self._announced:
                return None
            self._announced.discard(subject)
        elif i_report and named:
            self._announced.add(subject)
        else:
            return None
        details = {"offset_s": round(offset_s, 1) + 0.0, "state": state}  # no -0.0
        return NewEvent(EventType.SERVER_CLOCK_SKEW.value, server_id=subject, details=details)


@dataclass(frozen=True)
class PlacementView:
    """The part of a failover decision events are derived from."""

    desired: frozenset[str]  # cameras this node records now
    homes: Mapping[str, str]  # camera id -> home server id
    recorders: Mapping[str, frozenset[str]]  # camera id -> servers recording it
    reasons: Mapping[str, str]  # camera id -> why the plan leaves it unplaced
    alive: frozenset[str]


# the planner's reasons, as the event's short "reason"
NOT_TAKEN_OVER_REASONS = {
    "home server dead and priority never": "never",
    "home server dead and no failover server has a free channel": "no_free_channel",
    "home server dead and no alive server has failover enabled": "no_failover_server",
    "no free channel: displaced by a higher-priority camera": "no_free_channel",
}


def placement_events(
    self_id: str, previous: PlacementView | None, current: PlacementView
) -> list[NewEvent]:
    """Takeovers and returns this node starts, and (as reporter) cameras left
    unrecorded, between two decisions of this node."""
    out: list[NewEvent] = []
    before = previous.desired if previous is not None else frozenset()
    for camera_id in sorted(current.desired - before):
        home = current.homes.get(camera_id)
        if home is None:
            continue
        others = sorted(current.recorders.get(camera_id, frozenset()) - {self_id})
        if home != self_id:
            out.append(
                NewEvent(
                    EventType.CAMERA_TAKEN_OVER.value,
                    server_id=self_id,
                    camera_id=camera_id,
                    details={"from": home, "to": self_id},
                )
            )
        elif others and previous is not None:
            out.append(
                NewEvent(
                    EventType.CAMERA_RETURNED_HOME.value,
                    server_id=self_id,
                    camera_id=camera_id,
                    details={"from": others[0], "to": self_id},
                )
            )
    if reporter(current.alive) == self_id:
        seen = previous.reasons if previous is not None else {}
        for camera_id, reason in sorted(current.reasons.items()):
            short = NOT_TAKEN_OVER_REASONS.get(reason, "other")
            if NOT_TAKEN_OVER_REASONS.get(seen.get(camera_id, "")) == short:
                continue
            out.append(
                NewEvent(
                    EventType.CAMERA_NOT_TAKEN_OVER.value,
                    server_id=current.homes.get(camera_id),
                    camera_id=camera_id,
                    details={"reason": short, "why": reason},
                )
            )
    return out


@dataclass
class _Health:
    online: bool
    last_frame_ms: int | None


class CameraHealth:
    """camera_offline / camera_online / recording_gap from this node's recorder.

    A camera goes offline when its ingest leaves `recording` for reconnecting or error
    (not when it is stopped: that is a move or a deletion); it comes online when it
    records again, and the time between its last frame before and its first frame
    after is a recording gap."""

    OFFLINE_STATES = frozenset({"reconnecting", "error"})

    def __init__(self, server_id: str) -> None:
        self.server_id = server_id
        self._cameras: dict[str, _Health] = {}

    def observe(
        self,
        camera_id: str,
        state: str,
        last_error: str | None,
        last_frame_ms: int | None,
        now_ms: int,
    ) -> list[NewEvent]:
        health = self._cameras.get(camera_id)
        if state == "stopped":
            self._cameras.pop(camera_id, None)
            return []
        if state == "recording":
            if health is None or health.online:
                self._cameras[camera_id] = _Health(True, last_frame_ms)
                return []
            self._cameras[camera_id] = _Health(True, last_frame_ms)
            events = [
                NewEvent(EventType.CAMERA_ONLINE.value, self.server_id, camera_id, {}, now_ms)
            ]
            if health.last_frame_ms is not None:
                start, end = health.last_frame_ms, max(now_ms, health.last_frame_ms)
                events.append(
                    NewEvent(
                        EventType.RECORDING_GAP.value,
                        self.server_id,
                        camera_id,
                        {"start_ms": start, "end_ms": end, "seconds": (end - start) / 1000},
                        now_ms,
                    )
                )
            return events
        if state in self.OFFLINE_STATES and (health is None or health.online):
            last = health.last_frame_ms if health is not None else None
            self._cameras[camera_id] = _Health(False, last if last is not None else last_frame_ms)
            return [
                NewEvent(
                    EventType.CAMERA_OFFLINE.value,
                    self.server_id,
                    camera_id,
                    {"state": state, "error": last_error},
                    now_ms,
                )
            ]
        if health is not None and health.online and last_frame_ms is not None:
            health.last_frame_ms = last_frame_ms
        return []

    def frame(self, camera_id: str, last_frame_ms: int | None) -> None:
        """The newest frame time of a recording camera (the start of a later gap)."""
        health = self._cameras.get(camera_id)
        if health is not None and health.online and last_frame_ms is not None:
            health.last_frame_ms = last_frame_ms


class DiskWatch:
    """disk_nearly_full once when free space falls below the threshold; again only
    after it has risen above the threshold plus a margin (no event storm)."""

    def __init__(self, server_id: str, *, min_free_ratio: float = 0.05, margin: float = 0.02):
        self.server_id = server_id
        self.min_free_ratio = min_free_ratio
        self.margin = margin
        self._full = False

    def observe(self, free_bytes: int, total_bytes: int) -> NewEvent | None:
        if total_bytes <= 0:
            return None
        ratio = free_bytes / total_bytes
        if not self._full and ratio < self.min_free_ratio:
            self._full = True
            details = {"free_bytes": free_bytes, "total_bytes": total_bytes}
            return NewEvent(EventType.DISK_NEARLY_FULL.value, self.server_id, None, details)
        if self._full and ratio > self.min_free_ratio + self.margin:
            self._full = False
        return None
