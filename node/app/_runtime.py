"""One running node: the composition root. It builds the parts (data folder, record
store, recorder, peer directory, membership and replication, failover, joining) and
wires them to each other; the logic lives in the parts.

The HTTP API (node/api/) reads and changes the node through this object
(`app.state.node`); `start()`/`stop()` run in the API's lifespan. The runtime
implements the small interfaces the parts declare: `FailoverHost` (node.failover),
`JoinHost` (node.system), `RecordingsHost` (node.recordings), `LiveHost` (node.live)
and `GapFillHost` (node.gapfill).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from discovery.mdns_txt import NodeInfo
from node import __version__
from node.app._camera_state import camera_state, published_states, report_of, status_json
from node.app._cluster import Cluster
from node.app._event_log import EventLog
from node.app._events import EventHub
from node.app._identity import (
    DB_FILE,
    RECORDINGS_DIR,
    load_or_create_node_id,
    lock_data_dir,
    prepare_data_dir,
)
from node.app._internal_http import InternalHttp
from node.app._metrics_snapshot import build_snapshot
from node.app._parts import (
    build_camera_states,
    build_gapfill,
    build_login_throttle,
    build_recorder,
    build_webrtc,
)
from node.app._peers import PeerDirectory, SeenPeer, discovered, mdns_interfaces
from node.app._recorder_sync import RecorderSync
from node.camerastate import CameraReport
from node.config import NodeConfig
from node.events import EventType, NewEvent
from node.failover import FailoverService
from node.live import LiveService
from node.membership import LoadSampler, MemberEvent
from node.metrics import NodeMetrics
from node.replication import HybridClock, Record, RecordStore, connect
from node.security import (
    InternodeVerifier,
    SystemKeys,
    require_internode,
)
from node.system import AutoJoiner, SystemState, new_server_record
from recorder import CameraStatus

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per internode call is noise
T = TypeVar("T")
# events after which the failover plan is worked out again at once
FAILOVER_POKE_EVENTS = frozenset({"camera_status", "server_state", "config_changed"})


class NodeRuntime:
    def __init__(self, config: NodeConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.version = __version__
        self.data_dir = Path(config.data_dir)
        prepare_data_dir(self.data_dir)
        self._lock_handle = lock_data_dir(self.data_dir)
        self.node_id = load_or_create_node_id(self.data_dir)
        self.tmp_dir = self.data_dir / "tmp"
        self._conn = connect(self.data_dir / DB_FILE)
        self.hlc = HybridClock(self.node_id, lambda: int(self.clock() * 1000))
        self.store = RecordStore(self._conn, self.hlc)
        self.state = SystemState(self.store, self.node_id)
        self.events = EventHub()
        self.throttle = build_login_throttle(config)
        self.recorder = build_recorder(
            config,
            self.data_dir / RECORDINGS_DIR,
            self.node_id,
            self._on_status,
            lambda segments, freed: self.event_log.on_retention(segments, freed),
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._recorder_sync = RecorderSync(
            lambda: self.recorder.set_cameras(self.failover.desired_sources())
        )
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-writer")
        self.store.subscribe(self._on_store_change)
        self.keys = SystemKeys(self.node_id, self.state.system, clock)
        self.signer = self.keys.signer
        self.system_id = self.keys.system_id
        self.system_secret = self.keys.secret
        self.internal = InternalHttp(self.keys)
        # requests to other members, signed with the system secret
        self.http_client = self.internal.client
        self.get_internal, self.post_internal = self.internal.get, self.internal.post
        self.internode_verifier = InternodeVerifier()
        self.internode_check = require_internode(
            self.system_secret, get_system_id=self.system_id, verifier=self.internode_verifier
        )
        self.join_lock = asyncio.Lock()
        self.cluster = Cluster(
            self.node_id,
            config,
            self.state,
            self.store,
            on_member_event=self._on_member_event,
            load_sampler=LoadSampler(self.data_dir, channels_used=self.channels_used),
            post=self.post_internal,
            apply=self.apply_remote_records,
        )
        self.members = self.cluster.members
        self.server_state = self.cluster.server_state
        self.member_load = self.cluster.member_load
        self.set_load_extra = self.cluster.set_load_extra
        self.alive_servers = self.cluster.alive_servers
        self.peer_views = self.cluster.peer_views
        self.clock_report = self.cluster.clock_report
        self.directory = PeerDirectory(
            self.node_id, on_peer=self._on_peer_seen, static_urls=config.peers
        )
        self.auto_join = AutoJoiner(
            config.join_token or "",
            self.url,
            is_undefined=lambda: self.state.system() is None,
            peers=self.directory.peers,
            http_client=self.http_client,
            spawn=self._spawn,
        )
        self.failover = FailoverService(
            self,
            failback_delay_s=config.failover.failback_delay_s,
            plan_interval_s=config.failover.plan_interval_s,
        )
        self.event_log = EventLog(self, self.data_dir / DB_FILE)
        self.failover.on_decision(self.event_log.on_decision)
        self.camera_states = build_camera_states(
            self.node_id, self.cluster, self.internal, self._own_reports, clock
        )
        self.metrics = NodeMetrics(lambda: build_snapshot(self))
        self.live = LiveService(self)
        self.webrtc = build_webrtc(config, self.live)
        self.gapfill = build_gapfill(self, config)
        self._own_server: dict[str, Any] | None = self.state.server(self.node_id)
        self._leaving = False
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.config.listen}"

    @property
    def join_error(self) -> str | None:
        """Why the last automatic join (join token) failed, if it did."""
        return self.auto_join.error if self.config.join_token else None

    # ------------------------------------------------------------- life cycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for leftover in self.tmp_dir.glob("export-*"):  # exports a previous run left
            leftover.unlink(missing_ok=True)
        await self.recorder.start()
        await self.write(
            self.state.refresh_self, self.config.name, self.url, self.config.licensed_channels
        )
        self.internal.start()
        await self.directory.start(mdns_interfaces(self.config), self._node_info())
        if self.state.is_member():
            await self._start_cluster()
        if self.config.join_token:
            self._spawn(self.auto_join.run())
        self.events.listen(self._poke_failover)
        self.events.listen(self.gapfill.on_event)
        await self.failover.start()
        await self.event_log.start()
        self.camera_states.start()
        await self.gapfill.start()
        await self.sync_recorder()
        membership = "member" if self.state.is_member() else "undefined"
        log.info("node %s (%s) started, %s", self.node_id, self.config.name, membership)

    async def stop(self) -> None:
        await self.webrtc.close_all()
        await self.live.stop()
        await self.gapfill.stop()
        await self.failover.stop()
        await self.camera_states.stop()
        await self.event_log.stop()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await asyncio.gather(self.cluster.stop(), self.directory.stop())
        await self.internal.stop()
        await self._recorder_sync.stop()
        await self.recorder.stop()
        self._writer.shutdown(wait=True)
        self._conn.close()
        self._lock_handle.close()

    def server_record(self) -> dict[str, Any]:
        """This node's server record as created at setup or join."""
        return new_server_record(self.config.name, self.url, self.config.licensed_channels)

    async def write(self, operation: Callable[..., T], *args: Any) -> T:
        """Run a state-changing operation off the event loop, one at a time, so each
        operation's checks and its writes are atomic with respect to the others."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, functools.partial(operation, *args))

    # -------------------------------------------------------------- recording

    async def sync_recorder(self) -> None:
        """Tell the recorder which cameras to record (coalesces bursts of changes)."""
        await self._recorder_sync.sync()

    def recorder_statuses(self) -> dict[str, CameraStatus]:
        return self.recorder.statuses()

    def recorded_by(self, camera_id: str) -> str | None:
        """A peer gossiped as recording the camera (live view relays from it)."""
        return self.failover.recorded_by(camera_id)

    def channels_used(self) -> int:
        return sum(1 for s in self.recorder.statuses().values() if s.state != "stopped")

    def camera_status(self, camera: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """(status, recording server id) of a camera as the system knows it."""
        return self.camera_statuses([camera])[camera["id"]]

    def camera_statuses(
        self, cameras: list[dict[str, Any]]
    ) -> dict[str, tuple[dict[str, Any], str | None]]:
        """`camera_status` of many cameras, reading the node's views once for all."""
        reasons = self.failover.status()["reasons"]
        recording, alive, now = self.recorder.statuses(), self.alive_servers(), self.clock()
        return {
            c["id"]: camera_state(
                c,
                self.node_id,
                recording,
                self.camera_states.reports(c["id"]),
                alive,
                now,
                reasons.get(c["id"]),
            )
            for c in cameras
        }

    def _own_reports(self) -> dict[str, CameraReport]:
        statuses = self.recorder.statuses()
        self.event_log.on_frames(statuses)
        return {c: report_of(s) for c, s in statuses.items() if s.state != "stopped"}

    def mqtt_camera_states(self) -> dict[str, dict[str, Any]]:
        """The camera state documents this node publishes over MQTT."""
        cameras = self.state.cameras()
        statuses = self.camera_statuses(cameras)
        alive = self.alive_servers()
        return published_states(cameras, self.node_id, alive, lambda c: statuses[c["id"]])

    def _on_status(self, status: CameraStatus) -> None:
        event = {"type": "camera_status", "camera_id": status.camera_id}
        self.events.publish({**event, "status": status_json(status)})
        self.event_log.on_status(status)
        self.camera_states.poke()

    def publish_event(self, event: dict[str, Any]) -> None:
        """An event of a part (gap fill) to WebSocket clients and the event log."""
        self.events.publish(event)
        self.event_log.on_gap_fill(event)

    def _poke_failover(self, event: dict[str, Any]) -> None:
        if event.get("type") in FAILOVER_POKE_EVENTS:
            self.failover.poke()

    def _on_store_change(self, record: Record, local: bool) -> None:
        # called in the writing thread: hop onto the loop
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._changed, record, local)

    def _changed(self, record: Record, local: bool = True) -> None:
        if record.kind == "server" and record.key == self.node_id:
            if record.value is not None:
                self._own_server = record.value
            elif not local:
                self._own_server_removed()
        if local:
            self.cluster.queue_push([record])
        if record.kind == "server" and record.value is not None:
            self.cluster.add_peer(record.value.get("url"), record.key)
        # users and the system are named only to those who may list them: not here
        private = record.kind in ("system", "user")
        self.events.publish(
            {
                "type": "config_changed",
                "kind": record.kind,
                "key": None if private else record.key,
                "deleted": record.deleted,
            }
        )
        if record.kind in ("camera", "server", "system"):
            self._spawn(self.sync_recorder())
        self.event_log.on_config_changed(record.kind)

    # ------------------------------------------------------- system of servers

    async def apply_remote_records(self, records: list[Record]) -> int:
        """Store records received from a peer (newer versions win); how many applied."""
        return await self.write(self._apply_many, records)

    def _apply_many(self, records: list[Record]) -> int:
        return sum(1 for r in records if self.store.apply_remote(r))

    async def _start_cluster(self) -> None:
        system_id = self.system_id()
        seen = [p.url for p in self.directory.peers() if p.system_id == system_id]
        await self.cluster.start(seen)

    def _on_member_event(self, event: MemberEvent) -> None:
        state = {"joined": "alive", "left": "dead"}.get(event.kind, event.kind)
        self.events.publish({"type": "server_state", "server_id": event.node_id, "state": state})
        self.event_log.on_member(event)

    def _node_info(self) -> NodeInfo:
        name = self.config.name[:63]
        return NodeInfo(self.node_id, name, self.config.listen_port, __version__, self.system_id())

    async def on_joined_system(self) -> None:
        """This node just became a member (set up, or added by a system node)."""
        self.auto_join.joined()
        await self._start_cluster()
        own = self.store.get_record("server", self.node_id)
        if own is not None:
            await self.cluster.push_now([own])
        await self.directory.announce(self._node_info())
        self._spawn(self.sync_recorder())
        self.event_log.record(
            NewEvent(
                EventType.SERVER_JOINED.value,
                server_id=self.node_id,
                details={"name": self.config.name},
            )
        )
        log.info("joined system %s", self.system_id())

    async def after_server_added(self, record: Record) -> None:
        """On the system node that added a server: tell every member at once."""
        self.cluster.queue_push([record])
        self.cluster.add_peer((record.value or {}).get("url"), record.key)

    async def leave_system(self) -> None:
        """Become undefined: forget system, users, servers, cameras and secret; keep the
        node id and the recordings on disk."""
        self._leaving = True
        try:
            await self.cluster.stop(graceful=True)
            await self.write(self.state.forget_system)
            self._own_server = None
            await self.directory.announce(self._node_info())
            await self.sync_recorder()
        finally:
            self._leaving = False
        log.info("left the system: this server is undefined now")

    def _own_server_removed(self) -> None:
        """Our server record was deleted by a peer while we still hold the secret: we
        were detached while offline, so we appear again and work."""
        if self._leaving or self.state.system() is None:
            return
        value = dict(self._own_server or self.server_record())
        log.warning("this server was detached while offline: announcing itself again")
        self._spawn(self.write(self.state.add_self, value))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # ------------------------------------------------------------ discovery

    def discovered(self, *, other_systems: bool = False) -> list[dict[str, Any]]:
        """Undefined servers seen (or, with other_systems, servers of other systems)."""
        peers = self.directory.peers()
        known = lambda node_id: self.state.server(node_id) is not None  # noqa: E731
        return discovered(peers, known, self.system_id(), other_systems=other_systems)

    def _on_peer_seen(self, peer: SeenPeer) -> None:
        if peer.system_id is not None and peer.system_id == self.system_id():
            self.cluster.add_peer(peer.url, peer.node_id)
        if self.config.join_token:
            self.auto_join.on_peer_seen(peer)
