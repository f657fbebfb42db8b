"""The failover planner: which server records each camera (pure, deterministic).

`plan(view)` is a pure function of the replicated state, so every node computes
the same plan with no master. It imports no asyncio, sqlite3, av or sockets.

Rules (those of the failover function this reproduces):

1. A camera is recorded by its home server while that server is alive, whatever
   its priority and the home's failover settings: own cameras never lose their
   channels, even beyond max_cameras.
2. When its home is dead (or unknown to the view), a High/Medium/Low camera goes
   to an alive server with failover enabled that has a free channel: channels used
   (own + taken over) < min(max_cameras, 128) before adding it. Never-priority
   cameras wait for their home. A lone server has no backup (failover needs at least two servers).
3. Channels short: High is placed before Medium before Low, and a High/Medium
   camera that finds no free channel displaces a lower-priority taken-over camera
   (lowest priority first). Only taken-over cameras are ever displaced.
4. Spread by load: a camera that needs a new recorder goes to the eligible server
   with the smallest (channels used / limit, CPU %, network bytes/s, id), where
   "channels used" counts what this plan has placed so far, so a dead server's
   cameras spread evenly.
5. Stability beats spread: a taken-over camera already recorded on an alive
   failover server (per `view.recorders`) stays there as long as that server has
   room for it, even if load is now uneven; load only chooses where *new*
   takeovers go. If several servers record it (a healed partition), it stays on
   the first of them by id that is an eligible backup with room, so every node
   picks the same one. Such a camera moves only when its home returns
   (failback), its backup dies, turns failover off or lowers its limit, or a
   higher-priority camera needs its channel.

Nodes agree on a plan only as far as they agree on the view: CPU and network
load are gossiped and may differ for a moment between nodes. Rule 5 bounds the
damage: loads only steer new takeovers, and once one server records a camera
every node keeps it there; two nodes starting the same camera at once converge
to one recorder by the healed-partition rule.

Order of work, all in id order: own cameras; then kept takeovers (by priority,
then id, while the backup has room); then the remaining takeovers tier by tier
(High, Medium, Low), each by id, greedily by current relative load.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType

from node.failover._model import (
    MAX_CHANNELS,
    TAKEOVER_PRIORITIES,
    CameraView,
    Plan,
    PlanInputError,
    Priority,
    RecorderChange,
    ServerView,
    SystemView,
    UnplacedReason,
    normalize_recorders,
)

__all__ = [
    "MAX_CHANNELS",
    "CameraView",
    "Plan",
    "PlanInputError",
    "Priority",
    "RecorderChange",
    "ServerView",
    "SystemView",
    "UnplacedReason",
    "channels_used",
    "plan",
    "plan_changes",
]


class _Placing:
    """Mutable bookkeeping while one plan is built; never escapes `plan()`."""

    def __init__(self, view: SystemView) -> None:
        self.view = view
        self.used = {server.id: 0 for server in view.servers}
        self.placement: dict[str, str | None] = {}
        self.reasons: dict[str, UnplacedReason] = {}
        # Taken-over cameras by priority: the pool higher priorities may displace.
        self.taken: dict[Priority, dict[str, CameraView]] = {p: {} for p in TAKEOVER_PRIORITIES}
        self.backups = tuple(server for server in view.servers if server.can_take_over)

    def put(self, camera: CameraView, server_id: str, *, own: bool) -> None:
        self.placement[camera.id] = server_id
        self.reasons.pop(camera.id, None)
        self.used[server_id] += 1
        if not own:
            self.taken[camera.priority][camera.id] = camera

    def leave(self, camera: CameraView, reason: UnplacedReason) -> None:
        self.placement[camera.id] = None
        # A displaced camera keeps saying so even when its retry finds no channel.
        if self.reasons.get(camera.id) is not UnplacedReason.DISPLACED:
            self.reasons[camera.id] = reason

    def has_room(self, server: ServerView) -> bool:
        return self.used[server.id] < server.takeover_limit

    def load_key(self, server: ServerView) -> tuple[Fraction, float, float, str]:
        # Exact fractions: float division could order equal loads differently.
        relative = Fraction(self.used[server.id], max(server.takeover_limit, 1))
        return (relative, server.cpu_percent, server.net_bytes_per_s, server.id)

    def least_loaded_with_room(self) -> ServerView | None:
        candidates = [server for server in self.backups if self.has_room(server)]
        return min(candidates, key=self.load_key, default=None)

    def displace_for(self, camera: CameraView) -> tuple[CameraView, str] | None:
        """Free a channel held by the lowest-priority taken-over camera below `camera`.

        Returns the displaced camera and the server whose channel it freed. Among
        equal priorities the victim on the least-loaded server goes, then by id.
        """
        for priority in reversed(TAKEOVER_PRIORITIES):
            if priority.rank >= camera.priority.rank:
                return None
            pool = self.taken[priority]
            if not pool:
                continue
            victim = min(pool.values(), key=lambda c: (self._load_key_of(c.id), c.id))
            server_id = self.placement[victim.id]
            assert server_id is not None  # every camera in the pool is placed
            del pool[victim.id]
            self.used[server_id] -= 1
            self.placement[victim.id] = None
            self.reasons[victim.id] = UnplacedReason.DISPLACED
            return victim, server_id
        return None

    def _load_key_of(self, camera_id: str) -> tuple[Fraction, float, float, str]:
        server = self.view.server(self.placement[camera_id] or "")
        assert server is not None
        return self.load_key(server)


def plan(view: SystemView) -> Plan:
    """The target placement for `view`; same facts in any order -> the same plan."""
    if not isinstance(view, SystemView):
        raise PlanInputError(f"plan() needs a SystemView, got {type(view).__name__}")
    state = _Placing(view)
    orphans: list[CameraView] = []
    for camera in view.cameras:
        if view.home_alive(camera):
            state.put(camera, camera.home_server_id, own=True)
        elif camera.priority is Priority.NEVER:
            state.leave(camera, UnplacedReason.NEVER_PRIORITY)
        else:
            orphans.append(camera)
    _keep_current_backups(state, orphans)
    _place_by_priority(state, [c for c in orphans if c.id not in state.placement])
    placement = {camera.id: state.placement[camera.id] for camera in view.cameras}
    taken_over = frozenset(
        camera.id
        for camera in view.cameras
        if placement[camera.id] not in (None, camera.home_server_id)
    )
    reasons = {cid: state.reasons[cid] for cid, sid in placement.items() if sid is None}
    return Plan(MappingProxyType(placement), MappingProxyType(reasons), taken_over)


def _keep_current_backups(state: _Placing, orphans: list[CameraView]) -> None:
    """Stability: keep takeovers on the backup already recording them, while it has room."""
    recorders = state.view.recorders
    current = [c for c in orphans if c.id in recorders]
    current.sort(key=lambda c: (-c.priority.rank, c.id))
    backups = {server.id: server for server in state.backups}
    for camera in current:
        for server_id in recorders[camera.id]:  # id order
            backup = backups.get(server_id)
            if backup is not None and state.has_room(backup):
                state.put(camera, backup.id, own=False)
                break


def _place_by_priority(state: _Placing, waiting: list[CameraView]) -> None:
    """Place High, then Medium, then Low; each by id onto the least-loaded free backup."""
    tiers: dict[Priority, list[CameraView]] = {p: [] for p in TAKEOVER_PRIORITIES}
    for camera in waiting:
        tiers[camera.priority].append(camera)
    no_room = UnplacedReason.NO_FREE_CHANNEL if state.backups else UnplacedReason.NO_FAILOVER_SERVER
    for priority in TAKEOVER_PRIORITIES:
        # A displaced camera joins its own, lower tier, processed later. By then no
        # channel is free (placing never frees one) and the victim was the lowest
        # priority taken over, so it ends unplaced, reason DISPLACED.
        for camera in sorted(tiers[priority], key=lambda c: c.id):
            target = state.least_loaded_with_room()
            if target is not None:
                state.put(camera, target.id, own=False)
                continue
            displaced = state.displace_for(camera)
            if displaced is None:
                state.leave(camera, no_room)
                continue
            victim, freed_server_id = displaced
            tiers[victim.priority].append(victim)
            state.put(camera, freed_server_id, own=False)


def channels_used(view: SystemView, target: Plan) -> Mapping[str, int]:
    """Channels each server of `view` uses under `target`: own cameras + taken over."""
    used = {server.id: 0 for server in view.servers}
    for server_id in target.placement.values():
        if server_id is not None:
            used[server_id] = used.get(server_id, 0) + 1
    return MappingProxyType(dict(sorted(used.items())))


def plan_changes(recorders: Mapping[str, object], target: Plan) -> tuple[RecorderChange, ...]:
    """The recorder changes that take `recorders` (camera -> server id(s) recording
    now, as in `SystemView.recorders`) to `target`, in camera id order.

    The plan is a target, not a command sequence: the runtime starts each
    `start_on` first and stops `stop_on` only once the new recorder confirms
    (make-before-break), so a move never loses video. A camera in `recorders`
    but not in the plan (deleted) gets a plain stop.
    """
    current = normalize_recorders(recorders)
    changes: list[RecorderChange] = []
    for camera_id in sorted(set(current) | set(target.placement)):
        now = current.get(camera_id, ())
        wanted = target.placement.get(camera_id)
        start_on = wanted if wanted is not None and wanted not in now else None
        stop_on = tuple(server_id for server_id in now if server_id != wanted)
        if start_on is not None or stop_on:
            changes.append(RecorderChange(camera_id, start_on=start_on, stop_on=stop_on))
    return tuple(changes)
