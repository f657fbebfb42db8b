"""The failover planner's input view and output plan: frozen, validated values.

The view is what every node knows from the replicated state: servers (membership
already resolved to alive/dead, failover settings, gossiped load), cameras (home,
priority) and who is recording what right now (as gossiped, possibly stale).
Nothing here does I/O; `node/planner.py` turns a view into a plan.

Every collection is normalised to id order on construction, so two views built
from the same facts in a different order are equal and plan identically.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType

from node.system import MAX_CHANNELS, Priority


class PlanInputError(ValueError):
    """The view handed to the planner is malformed (bad id, number or duplicate)."""


# The order in which cameras of a dead home are placed when channels are short.
TAKEOVER_PRIORITIES = (Priority.HIGH, Priority.MEDIUM, Priority.LOW)


class UnplacedReason(StrEnum):
    """Why the plan leaves a camera without a recording server."""

    NEVER_PRIORITY = "home server dead and priority never"
    NO_FAILOVER_SERVER = "home server dead and no alive server has failover enabled"
    NO_FREE_CHANNEL = "home server dead and no failover server has a free channel"
    DISPLACED = "no free channel: displaced by a higher-priority camera"


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise PlanInputError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _check_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise PlanInputError(f"{what} must be true or false, got {value!r}")
    return value


def _check_load(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlanInputError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise PlanInputError(f"{what} must be finite and >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class ServerView:
    """One server as the planner sees it.

    `alive` is the membership verdict already resolved: a suspect server counts as
    alive (only a confirmed death moves cameras). `max_cameras` may exceed 128 in
    the view; the planner never takes over past 128 anyway.
    """

    id: str
    alive: bool
    failover_enabled: bool
    max_cameras: int
    cpu_percent: float = 0.0
    net_bytes_per_s: float = 0.0

    def __post_init__(self) -> None:
        _check_id(self.id, "server id")
        _check_bool(self.alive, f"server {self.id} alive")
        _check_bool(self.failover_enabled, f"server {self.id} failover_enabled")
        if isinstance(self.max_cameras, bool) or not isinstance(self.max_cameras, int):
            raise PlanInputError(f"server {self.id} max_cameras must be an integer")
        if self.max_cameras < 0:
            raise PlanInputError(f"server {self.id} max_cameras must be >= 0")
        cpu = _check_load(self.cpu_percent, f"server {self.id} cpu_percent")
        net = _check_load(self.net_bytes_per_s, f"server {self.id} net_bytes_per_s")
        object.__setattr__(self, "cpu_percent", cpu)
        object.__setattr__(self, "net_bytes_per_s", net)

    @property
    def takeover_limit(self) -> int:
        """Channels (own + taken over) below which this server may take one more."""
        return min(self.max_cameras, MAX_CHANNELS)

    @property
    def can_take_over(self) -> bool:
        """Alive with failover on: a candidate backup for a dead server's cameras."""
        return self.alive and self.failover_enabled


@dataclass(frozen=True, slots=True)
class CameraView:
    """One camera: its home server and its failover priority.

    `continuous_recording` is carried for the failover list; placement ignores it
    (a camera needs a channel whether it records continuously or on events).
    """

    id: str
    home_server_id: str
    priority: Priority = Priority.MEDIUM
    continuous_recording: bool = True

    def __post_init__(self) -> None:
        _check_id(self.id, "camera id")
        _check_id(self.home_server_id, f"camera {self.id} home_server_id")
        try:
            priority = Priority(self.priority)
        except ValueError:
            allowed = ", ".join(p.value for p in Priority)
            raise PlanInputError(
                f"camera {self.id} priority must be one of {allowed}, got {self.priority!r}"
            ) from None
        object.__setattr__(self, "priority", priority)
        _check_bool(self.continuous_recording, f"camera {self.id} continuous_recording")


def _sorted_unique(items: Iterable[object], kind: type, what: str) -> tuple:
    items = tuple(items)
    for item in items:
        if not isinstance(item, kind):
            raise PlanInputError(f"{what} must be {kind.__name__} values, got {item!r}")
    ordered = tuple(sorted(items, key=lambda item: item.id))
    for before, after in pairwise(ordered):
        if before.id == after.id:
            raise PlanInputError(f"duplicate {kind.__name__} id {before.id!r}")
    return ordered


def normalize_recorders(recorders: object) -> Mapping[str, tuple[str, ...]]:
    """camera id -> server id, or several (a healed partition), as id-sorted tuples.

    Cameras nobody records are dropped, so equal facts give equal mappings.
    """
    if not isinstance(recorders, Mapping):
        raise PlanInputError("recorders must be a mapping camera id -> server id(s)")
    normal: dict[str, tuple[str, ...]] = {}
    for camera_id, servers in recorders.items():
        _check_id(camera_id, "recorders camera id")
        if isinstance(servers, str):
            servers = (servers,)
        elif not isinstance(servers, list | tuple | set | frozenset):
            raise PlanInputError(
                f"recorder of camera {camera_id} must be a server id or a collection of them"
            )
        for server_id in servers:
            _check_id(server_id, f"recorder of camera {camera_id}")
        if servers:
            normal[camera_id] = tuple(sorted(set(servers)))
    return MappingProxyType(dict(sorted(normal.items())))


@dataclass(frozen=True)
class SystemView:
    """Everything the planner needs; build it from the replicated state.

    `recorders` maps camera id -> the server id(s) gossiped as recording it now:
    one string, or a collection when several record it (both sides of a healed
    partition). It may be stale or name unknown cameras/servers; the planner uses
    it only to keep a taken-over camera where it already is. It is stored
    normalised: camera id -> id-sorted tuple of server ids.
    """

    servers: tuple[ServerView, ...]
    cameras: tuple[CameraView, ...]
    recorders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _by_id: Mapping[str, ServerView] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "servers", _sorted_unique(self.servers, ServerView, "servers"))
        object.__setattr__(self, "cameras", _sorted_unique(self.cameras, CameraView, "cameras"))
        object.__setattr__(self, "recorders", normalize_recorders(self.recorders))
        by_id = MappingProxyType({server.id: server for server in self.servers})
        object.__setattr__(self, "_by_id", by_id)

    def __hash__(self) -> int:
        return hash((self.servers, self.cameras, tuple(self.recorders.items())))

    def server(self, server_id: str) -> ServerView | None:
        """The server with this id, or None if the view does not know it."""
        return self._by_id.get(server_id)

    def home_alive(self, camera: CameraView) -> bool:
        """A home the view does not know (e.g. detached) counts as dead."""
        home = self._by_id.get(camera.home_server_id)
        return home is not None and home.alive


@dataclass(frozen=True)
class Plan:
    """The target placement: every camera id -> server id that should record it, or None.

    A target, not a command sequence: the runtime reaches it make-before-break
    (see `node.failover._planner.plan_changes`). `reasons` holds exactly the unplaced
    cameras; `taken_over` the cameras planned on a server other than their home.
    """

    placement: Mapping[str, str | None]
    reasons: Mapping[str, UnplacedReason]
    taken_over: frozenset[str]

    def __hash__(self) -> int:
        return hash((tuple(self.placement.items()), tuple(self.reasons.items()), self.taken_over))

    def server_for(self, camera_id: str) -> str | None:
        """The server that should record this camera (None: nobody, or unknown camera)."""
        return self.placement.get(camera_id)

    @property
    def unplaced(self) -> tuple[str, ...]:
        """Ids of cameras nobody should record, in id order."""
        return tuple(self.reasons)


@dataclass(frozen=True, slots=True)
class RecorderChange:
    """One camera whose recorders must change to reach the plan.

    `start_on` must start recording (None: nobody new). Each of `stop_on` must
    stop: only after `start_on` confirms it is recording when there is one
    (make-before-break); at once when `start_on` is None (the target already
    records, or nobody should). `stop_on` may name a dead server: a no-op then,
    but a returning server learns from the plan that it must not resume.
    """

    camera_id: str
    start_on: str | None
    stop_on: tuple[str, ...] = ()
