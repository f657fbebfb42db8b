"""The failover controller's core: which cameras THIS node records now (pure, explicit time).

Every node runs the same pure planner (node/planner.py) over the same replicated
facts, so they agree on where each camera belongs; this module turns that plan into
this node's recorder set, reaching it **make-before-break**:

- a camera the plan gives this node is recorded at once (a restored home starts its
  own cameras as soon as it is back; a backup starts a dead server's cameras);
- a camera this node records but the plan now puts on another server is kept until
  that server is gossiped as *recording* it, then dropped, so a move (failback, a
  healed partition) never leaves a gap. A target that never confirms (dead, cannot
  reach the camera) releases it after `handover_timeout_s`, so nothing is kept forever;
- a camera nobody should record any more (deleted, continuous recording off,
  displaced by a higher priority for lack of channels) is dropped at once;
- failback delay: for `failback_delay_s` after this node starts, its own cameras that
  a live backup is recording stay with the backup (a flapping node does not pull them
  back and forth); then it takes them back, make-before-break;
- release grace: a takeover this node would start for a camera that a live peer was
  recording until a moment ago, and let go of without anyone else taking it, waits
  up to `release_grace_s`. A live server only lets a camera go like that when it
  knows something we may not know yet, most often that the camera's home is back
  (a healed partition: the side that heard first gives the camera back to its home,
  and a node that hears a few gossip rounds later would otherwise see an orphan and
  record it for a moment as a third server). When the peer that held it dies, or the
  grace runs out, the camera is started as usual.

Liveness: membership `alive` and `suspect` count as alive (only a confirmed death
moves cameras); `dead`/`left` are dead. A server membership has not heard of yet counts
as alive for `startup_grace_s` after the controller starts or its server record
appears, so a node that has just started (or a server just added) does not move
cameras before gossip has reached it.

Loads are quantised before planning (CPU to the level each node publishes, see
`_cpu_level.py`; network to `NET_BUCKET_BYTES_S`) so that small differences between the
loads each node has heard rarely give two nodes different plans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from node.failover._cpu_level import CPU_BUCKET_PERCENT, quantise
from node.failover._planner import CameraView, Plan, PlanInputError, ServerView, SystemView, plan
from node.system import Camera, Server

HANDOVER_TIMEOUT_S = 15.0  # a move's target must confirm within this, else we let go
STARTUP_GRACE_S = 3.0  # unheard-of servers count as alive this long after start
RELEASE_GRACE_S = 1.0  # a camera a live peer just let go is not started sooner
NET_BUCKET_BYTES_S = 100_000_000.0
ALIVE_STATES = frozenset({"alive", "suspect"})


@dataclass(frozen=True)
class PeerState:
    """One server as membership reports it: state and the load figures planning uses."""

    state: str
    cpu_percent: float = 0.0
    net_bytes_per_s: float = 0.0
    cpu_level: float | None = None  # as the server publishes it (None: not published)


@dataclass(frozen=True)
class FailoverInputs:
    """What the controller needs at one instant.

    `servers`/`cameras`: the replicated records (dicts as node/state.py stores them).
    `peers`: membership, server id -> PeerState (may include this node).
    `recording`: server id -> camera ids that server is gossiped as recording now
    (other servers; this node's own figures come from `own_*`). `active`: the cameras
    each holds in any state (connecting included): its claims, which keep a takeover
    where it started while it connects, so nodes whose views lag do not split the
    same cameras differently; a server missing there claims its `recording` set.
    `own_active`: cameras this node's recorder holds (any state but stopped);
    `own_recording`: those of them actually recording.
    """

    servers: tuple[Mapping[str, Any], ...]
    cameras: tuple[Mapping[str, Any], ...]
    peers: Mapping[str, PeerState] = field(default_factory=dict)
    recording: Mapping[str, frozenset[str]] = field(default_factory=dict)
    active: Mapping[str, frozenset[str]] = field(default_factory=dict)
    own_active: frozenset[str] = frozenset()
    own_recording: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    """The outcome of one step: the camera ids this node must record now."""

    desired: frozenset[str]
    plan: Plan
    view: SystemView
    # cameras kept only until their new server confirms: camera id -> target server id
    handing_over: Mapping[str, str]
    alive: frozenset[str]  # servers considered alive in this step (this node included)
    deferred: frozenset[str] = frozenset()  # own cameras left with a backup (failback delay)
    released: frozenset[str] = frozenset()  # takeovers held back: a live peer just let go


def server_view(record: Mapping[str, Any], alive: bool, peer: PeerState | None) -> ServerView:
    """A ServerView from a replicated server record and its membership entry."""
    server = Server.from_record(record)
    if peer is None:
        cpu = 0.0
    elif peer.cpu_level is not None:
        cpu = peer.cpu_level
    else:
        cpu = quantise(peer.cpu_percent, CPU_BUCKET_PERCENT)
    net = quantise(peer.net_bytes_per_s, NET_BUCKET_BYTES_S) if peer else 0.0
    return ServerView(
        id=server.id,
        alive=alive,
        failover_enabled=server.failover_enabled,
        max_cameras=server.max_cameras,
        cpu_percent=cpu,
        net_bytes_per_s=net,
    )


def camera_view(record: Mapping[str, Any]) -> CameraView | None:
    """A CameraView from a camera record; None for a record the planner cannot use."""
    camera = Camera.from_record(record)
    try:
        return CameraView(
            id=camera.id,
            home_server_id=camera.home_server_id,
            priority=camera.priority,
            continuous_recording=camera.continuous_recording,
        )
    except PlanInputError:
        return None


class FailoverController:
    """Stateful only for make-before-break: when each outgoing move was first seen."""

    def __init__(
        self,
        self_id: str,
        *,
        started_at: float,
        handover_timeout_s: float = HANDOVER_TIMEOUT_S,
        startup_grace_s: float = STARTUP_GRACE_S,
        failback_delay_s: float = 0.0,
        release_grace_s: float = RELEASE_GRACE_S,
    ) -> None:
        self.self_id = self_id
        self.started_at = started_at
        # a move's target may wait failback_delay_s before it starts: wait longer
        self.handover_timeout_s = handover_timeout_s + failback_delay_s
        self.failback_delay_s = failback_delay_s
        self.startup_grace_s = startup_grace_s
        # camera id -> (target server, when we first saw the plan move it there)
        self._moving: dict[str, tuple[str, float]] = {}
        self._first_seen: dict[str, float] = {}  # server id -> when its record appeared
        self.release_grace_s = release_grace_s
        # camera id -> (a peer seen recording it, when we last saw that)
        self._held_by_peer: dict[str, tuple[str, float]] = {}

    def alive_servers(self, inputs: FailoverInputs, now: float) -> frozenset[str]:
        alive = set()
        for record in inputs.servers:
            server_id = record.get("id")
            if not isinstance(server_id, str):
                continue
            # grace counts from our start, or from when the server record appeared
            # (a server just added is not dead before gossip has reached it)
            first_seen = self._first_seen.setdefault(server_id, max(now, self.started_at))
            in_grace = now - max(first_seen, self.started_at) < self.startup_grace_s
            peer = inputs.peers.get(server_id)
            if server_id == self.self_id:
                alive.add(server_id)
            elif peer is None:
                if in_grace:
                    alive.add(server_id)
            elif peer.state in ALIVE_STATES:
                alive.add(server_id)
        return frozenset(alive)

    def build_view(self, inputs: FailoverInputs, now: float) -> tuple[SystemView, frozenset[str]]:
        alive = self.alive_servers(inputs, now)
        servers = []
        seen: set[str] = set()
        for record in inputs.servers:
            server_id = record.get("id")
            if not isinstance(server_id, str) or not server_id or server_id in seen:
                continue
            seen.add(server_id)
            try:
                servers.append(server_view(record, server_id in alive, inputs.peers.get(server_id)))
            except PlanInputError:
                continue
        cameras = {}
        for record in inputs.cameras:
            view = camera_view(record)
            if view is not None:
                cameras.setdefault(view.id, view)
        recorders: dict[str, set[str]] = {}
        for server_id, camera_ids in self._recording_sets(inputs, alive):
            for camera_id in camera_ids:
                if camera_id in cameras:
                    recorders.setdefault(camera_id, set()).add(server_id)
        view = SystemView(tuple(servers), tuple(cameras.values()), recorders)
        return view, alive

    def _recording_sets(
        self, inputs: FailoverInputs, alive: frozenset[str]
    ) -> Iterable[tuple[str, frozenset[str]]]:
        for server_id in set(inputs.recording) | set(inputs.active):
            if server_id != self.self_id and server_id in alive:
                claimed = inputs.active.get(server_id, frozenset())
                yield server_id, claimed | inputs.recording.get(server_id, frozenset())
        yield self.self_id, inputs.own_active

    def decide(self, inputs: FailoverInputs, now: float) -> Decision:
        """This node's recorder set at `now` (monotonic seconds)."""
        view, alive = self.build_view(inputs, now)
        target = plan(view)
        continuous = {c.id for c in view.cameras if c.continuous_recording}
        desired = {
            camera_id
            for camera_id, server_id in target.placement.items()
            if server_id == self.self_id and camera_id in continuous
        }
        deferred = self._defer_failback(inputs, view, alive, desired, now)
        desired -= deferred
        released = self._just_released(view, alive, desired - inputs.own_active, now)
        desired -= released
        handing_over: dict[str, str] = {}
        for camera_id in sorted(inputs.own_active - desired):
            new_server = target.server_for(camera_id)
            if camera_id not in continuous or new_server is None:
                continue  # nobody should record it: stop at once
            if camera_id in inputs.recording.get(new_server, frozenset()):
                continue  # the new server records it: handed over
            moving = self._moving.get(camera_id)
            if moving is None or moving[0] != new_server:
                moving = self._moving[camera_id] = (new_server, now)
            if now - moving[1] < self.handover_timeout_s:
                desired.add(camera_id)
                handing_over[camera_id] = new_server
        # forget a move once the recorder has let the camera go (or it came back to us)
        for camera_id in list(self._moving):
            if camera_id not in inputs.own_active or camera_id in desired - handing_over.keys():
                del self._moving[camera_id]
        return Decision(
            desired=frozenset(desired),
            plan=target,
            view=view,
            handing_over=MappingProxyType(handing_over),
            alive=alive,
            deferred=frozenset(deferred),
            released=frozenset(released),
        )

    def _just_released(
        self, view: SystemView, alive: frozenset[str], starts: set[str], now: float
    ) -> set[str]:
        """Of the cameras this node would start now, the takeovers to hold back: those
        no live server records, which a peer that is still alive was recording within
        `release_grace_s` (see the module docstring). A peer that died while recording
        one does not hold it back."""
        for camera_id, servers in view.recorders.items():
            peers = sorted(s for s in servers if s != self.self_id)
            if peers:
                self._held_by_peer[camera_id] = (peers[0], now)
        for camera_id, (_, seen_at) in list(self._held_by_peer.items()):
            if now - seen_at >= self.release_grace_s:
                del self._held_by_peer[camera_id]
        homes = {c.id: c.home_server_id for c in view.cameras}
        held = set()
        for camera_id in starts:
            if homes.get(camera_id) == self.self_id or view.recorders.get(camera_id):
                continue  # our own camera, or a move make-before-break from a recorder
            peer = self._held_by_peer.get(camera_id)
            if peer is not None and peer[0] in alive:
                held.add(camera_id)
        return held

    def _defer_failback(
        self,
        inputs: FailoverInputs,
        view: SystemView,
        alive: frozenset[str],
        desired: set[str],
        now: float,
    ) -> set[str]:
        """Own cameras a live backup records, left with it for `failback_delay_s` after
        this node (re)starts, so a node that flaps does not pull its cameras back and
        forth. The backup keeps them meanwhile (make-before-break still applies). Until
        every live peer's set is known, any of them might be the backup: wait for them
        (at most the delay; a fresh system starts recording once the sets are in)."""
        if now - self.started_at >= self.failback_delay_s:
            return set()
        homes = {c.id: c.home_server_id for c in view.cameras}
        peers = [sid for sid in alive if sid != self.self_id]
        # a peer whose set we have not fetched yet may be recording any of them
        unknown = any(sid not in inputs.recording for sid in peers)
        deferred = set()
        for camera_id in desired - inputs.own_active:
            if homes.get(camera_id) != self.self_id:
                continue
            if unknown or any(camera_id in inputs.recording[sid] for sid in peers):
                deferred.add(camera_id)
        return deferred
