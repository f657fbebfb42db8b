"""A simulated system running the real failover stack over the real membership.

Each node is the real `FailoverService` (its loop's step, the recording-set exchange
with digests in the gossiped load, the controller and the planner) on top of the real
GossipRuntime (`tests/sim/cluster.py`: SWIM state machine, codec, timers) over the
fake network, on one fake clock. Around them the simulation models only what is I/O in a node:

- the recorder: a camera set on a node is "connecting" for `connect_s`, then
  "recording"; the node's failover is poked when a camera starts recording;
- one direction of a link healing later than the other (`hold_gossip`);
- the internal HTTP fetch of a peer's recording set: it answers while the two nodes can
  reach each other on the fake network and the fetch is not held back
  (`hold_fetches`: which side's recording sets arrive first after a heal);
- the loop's pokes: a step every plan interval, and one right after every membership
  event (the runtime pokes failover on each), as the real loop does.

Every step is deterministic (seeded), so a heal ordering replays exactly. `samples`
holds, every `SAMPLE_S`, which nodes record each camera; `starts` every recorder start.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from node.config import GossipConfig
from node.failover import FailoverService
from node.failover._controller import RELEASE_GRACE_S
from node.membership import LoadReport, MemberEvent, MemberView, membership_config
from recorder import CameraStatus
from tests.sim.cluster import SimCluster, SimNode

# the multi-host tests' fast timing: declared dead within ~1 s
GOSSIP = GossipConfig(interval_s=0.1, suspect_after_s=0.5, dead_after_s=1.0)
PLAN_INTERVAL_S = 0.3
CONNECT_S = 0.5
SAMPLE_S = 0.05
POKE_DELAY_S = 0.0  # a poke wakes the loop at once (node.failover._loop)


class _State:
    """The replicated records every node holds (the same on all: no record changes)."""

    def __init__(self, servers: list[dict[str, Any]], cameras: list[dict[str, Any]]) -> None:
        self._servers = servers
        self._cameras = cameras

    def is_member(self) -> bool:
        return True

    def servers(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self._servers]

    def cameras(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self._cameras]


class _Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body

    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict[str, Any]:
        return self._body


class _Http:
    """The internal recording-set fetch, over the fake network's reachability."""

    def __init__(self, system: FailoverSystem, observer: str) -> None:
        self._system = system
        self._observer = observer

    async def get(self, url: str, timeout: float) -> _Answer:
        target = self._system.by_url[url.split("/api/", 1)[0]]
        if not self._system.can_fetch(self._observer, target):
            raise httpx.ConnectError(f"{target} unreachable")
        return _Answer(self._system.hosts[target].service.recorder_sets())


@dataclass
class _Host:
    """What `FailoverService` needs from its node (the FailoverHost protocol)."""

    system: FailoverSystem
    node_id: str
    state: _State
    recorder: dict[str, float] = field(default_factory=dict)  # camera -> set at
    load_extra: dict[str, str | int | float | bool] = field(default_factory=dict)
    cpu_percent: float = 0.0  # the system CPU its load sampler would report
    service: FailoverService = field(init=False)

    def members(self) -> Mapping[str, MemberView]:
        return self.system.cluster.nodes[self.node_id].view()

    def recorder_statuses(self) -> Mapping[str, CameraStatus]:
        now = self.system.clock.now
        return {
            camera_id: CameraStatus(
                camera_id,
                "recording" if now - since >= CONNECT_S - 1e-9 else "connecting",
                None,
                0.0,
                0.0,
                None,
            )
            for camera_id, since in self.recorder.items()
        }

    def recording(self) -> frozenset[str]:
        statuses = self.recorder_statuses()
        return frozenset(c for c, s in statuses.items() if s.state == "recording")

    def http_client(self) -> Any:
        return _Http(self.system, self.node_id)

    async def sync_recorder(self) -> None:
        now = self.system.clock.now
        wanted = self.service.desired_sources()
        for camera_id in wanted.keys() - self.recorder.keys():
            self.recorder[camera_id] = now
            self.system.starts.append((now, self.node_id, camera_id))
            # the node pokes failover when a camera reaches "recording"
            self.system.clock.call_later(CONNECT_S, lambda: self.system.poke(self.node_id))
        for camera_id in self.recorder.keys() - wanted.keys():
            del self.recorder[camera_id]

    def set_load_extra(self, key: str, value: str | int | float | bool) -> None:
        self.load_extra[key] = value
        load = LoadReport(cpu_percent=self.cpu_percent, extra=dict(self.load_extra))
        self.system.cluster.nodes[self.node_id].set_load(load)


class FailoverSystem:
    """`n` nodes with `cameras_per_node` cameras each, failover on everywhere."""

    def __init__(
        self,
        n: int = 3,
        cameras_per_node: int = 2,
        *,
        seed: int = 0,
        rumour_silence_s: float | None = None,
        max_cameras: int = 16,
        release_grace_s: float = RELEASE_GRACE_S,
    ) -> None:
        timing = dataclasses.replace(membership_config(GOSSIP), rumour_silence_s=rumour_silence_s)
        self.cluster = SimCluster(n, seed=seed, config=timing)
        self.clock = self.cluster.clock
        self.network = self.cluster.network
        self.ids = sorted(self.cluster.nodes)
        servers = [
            {
                "id": sid,
                "name": sid,
                "url": f"http://{sid}.sim:7480",
                "failover_enabled": True,
                "max_cameras": max_cameras,
                "licensed_channels": max_cameras,
            }
            for sid in self.ids
        ]
        self.by_url = {s["url"]: s["id"] for s in servers}
        self.homes = {
            f"{sid}-cam{i}": sid for sid in self.ids for i in range(1, cameras_per_node + 1)
        }
        cameras = [
            {
                "id": camera_id,
                "name": camera_id,
                "home_server_id": home,
                "priority": "medium",
                "continuous_recording": True,
                "stream_url": f"rtsp://camera.sim/{camera_id}",
            }
            for camera_id, home in self.homes.items()
        ]
        self._loop = asyncio.new_event_loop()
        self.hosts: dict[str, _Host] = {}
        for sid in self.ids:
            host = _Host(self, sid, _State(servers, cameras))
            host.service = FailoverService(
                host,
                failback_delay_s=0.0,
                plan_interval_s=PLAN_INTERVAL_S,
                clock=lambda: self.clock.now,
                release_grace_s=release_grace_s,
            )
            self.hosts[sid] = host
            self._watch_membership(self.cluster.nodes[sid])
            self.clock.call_later(0.0, lambda sid=sid: self._periodic(sid))
        self._fetch_open_at: dict[tuple[str, str], float] = {}
        self._poke_pending: set[str] = set()
        self.starts: list[tuple[float, str, str]] = []  # (time, node, camera)
        self.samples: list[tuple[float, dict[str, frozenset[str]]]] = []
        self.clock.call_later(SAMPLE_S, self._sample)

    # ------------------------------------------------------------------ driving

    def close(self) -> None:
        self._loop.close()

    def run(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def step(self, sid: str) -> None:
        self._loop.run_until_complete(self.hosts[sid].service.loop.step())

    def poke(self, sid: str) -> None:
        """Decide on `sid` soon (coalesced, as the loop coalesces pokes)."""
        if sid in self._poke_pending:
            return
        self._poke_pending.add(sid)

        def due() -> None:
            self._poke_pending.discard(sid)
            self.step(sid)

        self.clock.call_later(POKE_DELAY_S, due)

    def _periodic(self, sid: str) -> None:
        self.step(sid)
        self.clock.call_later(PLAN_INTERVAL_S, lambda: self._periodic(sid))

    def _watch_membership(self, node: SimNode) -> None:
        """Poke the node's failover on every membership event, as the runtime does."""

        def on_event(event: MemberEvent) -> None:
            node.events.append(event)
            self.poke(node.node_id)

        node.runtime.set_event_callback(on_event)

    def _sample(self) -> None:
        self.samples.append((self.clock.now, self.recording()))
        self.clock.call_later(SAMPLE_S, self._sample)

    # ------------------------------------------------------------------ faults

    def address(self, sid: str) -> str:
        return self.cluster.address_of(sid)

    def partition(self, *groups: Iterable[str]) -> None:
        self.network.partition(*({self.address(s) for s in g} for g in groups))

    def heal(self) -> None:
        self.network.heal()

    def hold_gossip(self, src: str, dst: str, until: float) -> None:
        """Datagrams from `src` to `dst` are lost until `until` (that direction heals later)."""
        a, b = self.address(src), self.address(dst)
        self.network.set_loss(a, b, 1.0, both_ways=False)
        self.clock.call_at(until, lambda: self.network.set_loss(a, b, 0.0, both_ways=False))

    def hold_fetches(self, observer: str, target: str, until: float) -> None:
        """`observer` cannot fetch `target`'s recording set before `until`."""
        self._fetch_open_at[(observer, target)] = until

    def can_fetch(self, observer: str, target: str) -> bool:
        if self.clock.now < self._fetch_open_at.get((observer, target), 0.0):
            return False
        return self.network.reachable(self.address(observer), self.address(target))

    # ------------------------------------------------------------------ looking

    def recording(self) -> dict[str, frozenset[str]]:
        """node id -> cameras it records now."""
        return {sid: host.recording() for sid, host in self.hosts.items()}

    def recorders(self, camera_id: str) -> set[str]:
        return {sid for sid, cams in self.recording().items() if camera_id in cams}

    def uncovered(self, camera_id: str, since: float) -> list[float]:
        """Sample times from `since` on at which nobody recorded the camera."""
        return [
            t
            for t, sets in self.samples
            if t >= since and not any(camera_id in cams for cams in sets.values())
        ]
