"""One running node: data folder, state store, recorder, events, load figures, and
its place in a system: discovery (mDNS / static peers), gossip membership, replication.

The HTTP API (node/api/) reads and changes the node through this object
(`app.state.node`). `start()`/`stop()` run in the API's lifespan.

Hooks for other controllers (e.g. failover):
- `members()`: the membership view {node id: MemberView} (state, load, address);
  `server_state(id)`: "alive" | "suspect" | "dead" as the API shows it.
- `add_membership_listener(fn)`: called on the loop with every MemberEvent.
- `set_load_extra(key, value)`: a small value gossiped with this node's load
  (LoadReport.extra, at most 8 keys of <= 64 characters; see membership_wire).
- `add_change_listener(fn)`: called on the loop with (record, local) for every
  stored record change (local writes and records received from peers).
- `desired_sources_hook`: replace to decide which cameras this node records
  (default: node/desired.py, its own cameras).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

from discovery.mdns_txt import NodeInfo
from node import __version__
from node.app._events import EventHub
from node.app._identity import (
    DB_FILE,
    RECORDINGS_DIR,
    load_or_create_node_id,
    lock_data_dir,
    prepare_data_dir,
)
from node.app._peers import PeerDirectory, SeenPeer
from node.config import NodeConfig, membership_config
from node.failover._desired import desired_sources
from node.failover._service import FailoverService
from node.membership._load import LoadSampler
from node.membership._runtime import GossipRuntime, GossipRuntimeError
from node.membership._types import LoadReport, MemberEvent, MemberView
from node.replication._db import connect
from node.replication._hlc import HybridClock
from node.replication._records import Record
from node.replication._store import RecordStore
from node.replication._sync import Replicator
from node.security._auth import LoginThrottle, TokenSigner
from node.security._internode import InternodeAuth, InternodeVerifier, require_internode
from node.security._join_token import JoinTokenError, token_system_id
from node.system._state import SystemState
from recorder import CameraStatus, RecorderService, RetentionPolicy

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per internode call is noise
T = TypeVar("T")
JOIN_RETRY_S = 5.0  # auto-join: how often a node with a join token tries again


class NodeRuntime:
    def __init__(self, config: NodeConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
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
        login = config.login
        self.throttle = LoginThrottle(
            time.monotonic,
            free_failures=login.free_failures,
            base_delay_s=login.base_delay_s,
            max_delay_s=login.max_delay_s,
            reset_after_s=login.reset_after_s,
        )
        retention = config.retention
        recordings = self.data_dir / RECORDINGS_DIR
        self.recorder = RecorderService(
            recordings,
            recordings / "index.db",
            self.node_id,
            segment_seconds=config.segment_seconds,
            retention=RetentionPolicy(
                max_bytes=retention.max_bytes,
                min_free_bytes=retention.min_free_bytes,
                max_age_s=None
                if retention.max_age_days is None
                else retention.max_age_days * 86400,
            ),
            on_status=self._on_status,
        )
        self._signer: tuple[str, TokenSigner] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._sync_again = False
        self._net_sample: tuple[float, int] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-writer")
        self.store.subscribe(self._on_store_change)
        # ---- system of servers
        self.internode_verifier = InternodeVerifier()
        self.internode_check = require_internode(
            self.system_secret, get_system_id=self.system_id, verifier=self.internode_verifier
        )
        self.join_lock = asyncio.Lock()
        self.join_error: str | None = None
        self.gossip: GossipRuntime | None = None
        self.replicator: Replicator | None = None
        self.load_sampler = LoadSampler(self.data_dir, channels_used=self.channels_used)
        self.directory = PeerDirectory(
            self.node_id, on_peer=self._on_peer_seen, static_urls=config.peers
        )
        self.desired_sources_hook: Callable[[], dict[str, Any]] | None = None
        self.failover: FailoverService | None = None  # issue 5: placement by the planner
        self._http: httpx.AsyncClient | None = None
        self._load_extra: dict[str, str | int | float | bool] = {}
        self._member_listeners: list[Callable[[MemberEvent], None]] = []
        self._change_listeners: list[Callable[[Record, bool], None]] = []
        self._own_server: dict[str, Any] | None = self.state.server(self.node_id)
        self._leaving = False
        self._joining = False
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.config.listen}"

    @property
    def version(self) -> str:
        return __version__

    # ------------------------------------------------------------- life cycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # drop exports a previous run left behind
        for leftover in self.tmp_dir.glob("export-*"):
            leftover.unlink(missing_ok=True)
        await self.recorder.start()
        await self.write(
            self.state.refresh_self, self.config.name, self.url, self.config.licensed_channels
        )
        psutil.cpu_percent(None)  # prime: the next call measures since now
        self._http = httpx.AsyncClient(
            auth=InternodeAuth(self._internode_credentials), timeout=5.0, trust_env=False
        )
        await self.directory.start(self._mdns_interfaces(), self._node_info())
        if self.state.is_member():
            await self._start_membership()
        if self.config.join_token:
            self._spawn(self._join_retry_loop())
        self.failover = FailoverService(self)
        await self.failover.start()
        await self.sync_recorder()
        log.info(
            "node %s (%s) started, %s",
            self.node_id,
            self.config.name,
            "member" if self.state.is_member() else "undefined",
        )

    async def stop(self) -> None:
        if self.failover is not None:
            await self.failover.stop()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await asyncio.gather(self._stop_membership(), self.directory.stop())
        if self._http is not None:
            await self._http.aclose()
        if self._sync_task is not None:
            self._sync_task.cancel()
            await asyncio.gather(self._sync_task, return_exceptions=True)
        await self.recorder.stop()
        self._writer.shutdown(wait=True)
        self._conn.close()
        self._lock_handle.close()

    def server_record(self) -> dict[str, Any]:
        """This node's server record as created at setup."""
        licensed = self.config.licensed_channels
        return {
            "name": self.config.name,
            "url": self.url,
            "licensed_channels": licensed,
            "failover_enabled": False,
            "max_cameras": licensed,
        }

    async def write(self, operation: Callable[..., T], *args: Any) -> T:
        """Run a state-changing operation off the event loop, one at a time, so each
        operation's checks and its writes are atomic with respect to the others."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, functools.partial(operation, *args))

    # ------------------------------------------------------------------- auth

    def signer(self) -> TokenSigner | None:
        """The token signer of this node's system (None while undefined)."""
        system = self.state.system()
        if system is None:
            return None
        if self._signer is None or self._signer[0] != system["secret"]:
            signer = TokenSigner(bytes.fromhex(system["secret"]), system["id"], self.clock)
            self._signer = (system["secret"], signer)
        return self._signer[1]

    # -------------------------------------------------------------- recording

    async def sync_recorder(self) -> None:
        """Tell the recorder which cameras to record (coalesces bursts of changes)."""
        if self._sync_task is not None and not self._sync_task.done():
            self._sync_again = True
            return
        self._sync_task = asyncio.create_task(self._sync_loop())
        await asyncio.shield(self._sync_task)

    async def _sync_loop(self) -> None:
        while True:
            self._sync_again = False
            if not self.state.is_member():
                wanted = {}
            elif self.desired_sources_hook is not None:
                wanted = self.desired_sources_hook()
            else:
                wanted = desired_sources(self.state.cameras(), self.node_id)
            try:
                await self.recorder.set_cameras(wanted)
            except Exception:
                log.exception("recorder refused the camera set")
            if not self._sync_again:
                return

    def _on_status(self, status: CameraStatus) -> None:
        self.events.publish(
            {"type": "camera_status", "camera_id": status.camera_id, "status": status_json(status)}
        )

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
        if local and self.replicator is not None:
            self.replicator.queue_push([record])
        if record.kind == "server" and record.value is not None and self.gossip is not None:
            url = record.value.get("url")
            if record.key != self.node_id and isinstance(url, str):
                with contextlib.suppress(ValueError):
                    self.gossip.add_peer(url, record.key)
        for listener in list(self._change_listeners):
            try:
                listener(record, local)
            except Exception:
                log.exception("record change listener failed")
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
            task = asyncio.ensure_future(self.sync_recorder())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # ------------------------------------------------------- system of servers

    def system_secret(self) -> bytes | None:
        system = self.state.system()
        return None if system is None else bytes.fromhex(system["secret"])

    def system_id(self) -> str | None:
        system = self.state.system()
        return None if system is None else system["id"]

    def _internode_credentials(self) -> tuple[str, str, bytes] | None:
        system = self.state.system()
        if system is None:
            return None
        return system["id"], self.node_id, bytes.fromhex(system["secret"])

    def http_client(self) -> httpx.AsyncClient:
        """The node's HTTP client; requests are signed with the system secret."""
        if self._http is None:
            raise RuntimeError("node not started")
        return self._http

    async def post_internal(self, url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to another member's internal route; its JSON answer (raises on errors)."""
        answer = await self.http_client().post(f"{url.rstrip('/')}{path}", json=body, timeout=2.0)
        answer.raise_for_status()
        data = answer.json()
        if not isinstance(data, dict):
            raise ValueError("internal answer is not an object")
        return data

    async def apply_remote_records(self, records: list[Record]) -> int:
        """Store records received from a peer (newer versions win); how many applied."""
        return await self.write(self._apply_many, records)

    def _apply_many(self, records: list[Record]) -> int:
        return sum(1 for r in records if self.store.apply_remote(r))

    def members(self) -> dict[str, MemberView]:
        """The gossip membership view (empty while undefined)."""
        return {} if self.gossip is None else self.gossip.members()

    def server_state(self, server_id: str) -> str:
        """alive | suspect | dead for a server (never heard of, or left: dead)."""
        if server_id == self.node_id:
            return "alive" if self.state.is_member() else "dead"
        view = self.members().get(server_id)
        if view is None or view.state == "left":
            return "dead"
        return view.state

    def member_load(self, server_id: str) -> LoadReport | None:
        if server_id == self.node_id:
            return self._load_report()
        view = self.members().get(server_id)
        return None if view is None else view.load

    def set_load_extra(self, key: str, value: str | int | float | bool) -> None:
        self._load_extra[key] = value

    def add_membership_listener(self, listener: Callable[[MemberEvent], None]) -> None:
        self._member_listeners.append(listener)

    def add_change_listener(self, listener: Callable[[Record, bool], None]) -> None:
        self._change_listeners.append(listener)

    def _load_report(self) -> LoadReport:
        report = self.load_sampler.sample()
        if not self._load_extra:
            return report
        return dataclasses.replace(report, extra={**report.extra, **self._load_extra})

    def _replication_targets(self) -> list[tuple[str, str]]:
        out = []
        for server in self.state.servers():
            sid, url = server.get("id"), server.get("url")
            if sid == self.node_id or not isinstance(url, str):
                continue
            view = self.members().get(sid)
            if view is not None and view.state in ("dead", "left"):
                continue
            out.append((sid, url))
        return out

    async def _start_membership(self) -> None:
        system = self.state.system()
        if system is None or self.gossip is not None:
            return
        host = self.config.listen_host
        with contextlib.suppress(OSError):
            host = socket.gethostbyname(host)
        gossip = GossipRuntime(
            self.node_id,
            system["id"],
            bytes.fromhex(system["secret"]),
            host=host,
            port=self.config.listen_port,
            config=membership_config(self.config.gossip),
            on_event=self._on_member_event,
            load_provider=self._load_report,
        )
        try:
            await gossip.start()
        except (OSError, GossipRuntimeError) as exc:
            log.error("gossip cannot bind %s:%s/udp: %s", host, self.config.listen_port, exc)
            return
        self.gossip = gossip
        seeds = [s.get("url") for s in self.state.servers() if s.get("id") != self.node_id]
        seeds += [p.url for p in self.directory.peers() if p.system_id == system["id"]]
        seeds += list(self.config.peers)
        for url in dict.fromkeys(u for u in seeds if isinstance(u, str)):
            with contextlib.suppress(ValueError):
                gossip.add_peer(url)
        self.replicator = Replicator(
            self.store,
            post=self.post_internal,
            targets=self._replication_targets,
            apply=self.apply_remote_records,
        )
        self.replicator.start()
        log.info("membership started in system %s", system["id"])

    async def _stop_membership(self, graceful: bool = True) -> None:
        replicator, self.replicator = self.replicator, None
        gossip, self.gossip = self.gossip, None
        if replicator is not None:
            await replicator.stop()
        if gossip is not None:
            await gossip.stop(graceful=graceful)

    def _on_member_event(self, event: MemberEvent) -> None:
        state = {"joined": "alive", "left": "dead"}.get(event.kind, event.kind)
        self.events.publish({"type": "server_state", "server_id": event.node_id, "state": state})
        for listener in list(self._member_listeners):
            try:
                listener(event)
            except Exception:
                log.exception("membership listener failed")

    def _node_info(self) -> NodeInfo:
        return NodeInfo(
            self.node_id,
            self.config.name[:63],
            self.config.listen_port,
            __version__,
            self.system_id(),
        )

    def _mdns_interfaces(self) -> list[str] | None:
        if not self.config.discovery.mdns:
            return None
        if self.config.discovery.interfaces:
            return list(self.config.discovery.interfaces)
        try:
            ip = ipaddress.ip_address(self.config.listen_host)
        except ValueError:
            return None
        if ip.version != 4 or ip.is_unspecified:
            return None  # never all interfaces: give discovery.interfaces for 0.0.0.0
        return [str(ip)]

    async def on_joined_system(self) -> None:
        """This node just became a member (added by a system node)."""
        self.join_error = None
        await self._start_membership()
        if self.replicator is not None:
            own = self.store.get_record("server", self.node_id)
            if own is not None:
                await self.replicator.push_now([own])
        await self.directory.announce(self._node_info())
        self._spawn(self.sync_recorder())
        log.info("joined system %s", self.system_id())

    async def after_server_added(self, record: Record) -> None:
        """On the system node that added a server: tell every member at once."""
        if self.replicator is not None:
            self.replicator.queue_push([record])
        url = (record.value or {}).get("url")
        if self.gossip is not None and isinstance(url, str):
            with contextlib.suppress(ValueError):
                self.gossip.add_peer(url, record.key)

    async def leave_system(self) -> None:
        """Become undefined: forget system, users, servers, cameras and secret; keep the
        node id and the recordings on disk."""
        self._leaving = True
        try:
            await self._stop_membership(graceful=True)
            await self.write(self.state.forget_system)
            self._own_server = None
            self._signer = None
            await self.directory.announce(self._node_info())
            await self.sync_recorder()
        finally:
            self._leaving = False
        log.info("left the system: this server is undefined now")

    def _own_server_removed(self) -> None:
        """Our server record was deleted by a peer while we still hold the secret: we
        were detached while offline. Seed 2.1 (2): we appear again and work."""
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
        mine = self.system_id()
        out = []
        for peer in self.directory.peers():
            if self.state.server(peer.node_id) is not None:
                continue
            if other_systems:
                if peer.system_id is not None and peer.system_id != mine:
                    out.append({**peer.to_json(), "system_id": peer.system_id})
            elif peer.system_id is None:
                out.append(peer.to_json())
        return out

    def _on_peer_seen(self, peer: SeenPeer) -> None:
        mine = self.system_id()
        if mine is not None and peer.system_id == mine and self.gossip is not None:
            with contextlib.suppress(ValueError):
                self.gossip.add_peer(peer.url, peer.node_id)
        if mine is None and self.config.join_token and not self._joining:
            wanted = self._check_join_token()
            if wanted is not None and peer.system_id == wanted:
                self._joining = True
                self._spawn(self._auto_join(peer))

    async def _join_retry_loop(self) -> None:
        """While undefined with a join token, try the system's nodes seen so far every
        JOIN_RETRY_S (mDNS announces a node once; a refused or failed try is retried)."""
        while True:
            if self.state.system() is None and not self._joining:
                wanted = self._check_join_token()
                peer = next(
                    (p for p in self.directory.peers() if wanted and p.system_id == wanted), None
                )
                if peer is not None:
                    self._joining = True
                    await self._auto_join(peer)
            await asyncio.sleep(JOIN_RETRY_S)

    def _check_join_token(self) -> str | None:
        try:
            return token_system_id(self.config.join_token or "")
        except JoinTokenError as exc:
            self.join_error = f"join token refused: {exc}"
            return None

    async def _auto_join(self, peer: SeenPeer) -> None:
        """Present our join token to a node of its system; it adds us."""
        try:
            answer = await self.http_client().post(
                f"{peer.url}/api/v1/system/join-requests",
                json={"token": self.config.join_token, "url": self.url},
                timeout=15.0,
            )
            if answer.status_code in (200, 201):
                log.info("joined the system through %s", peer.url)
                return
            try:
                reason = answer.json().get("error", answer.status_code)
            except ValueError:
                reason = answer.status_code
            if self.state.system() is None:
                self.join_error = f"join refused by {peer.url}: {reason}"
                log.error("auto-join: %s", self.join_error)
                await asyncio.sleep(5.0)  # do not hammer the system with a bad token
        except httpx.HTTPError as exc:
            self.join_error = f"cannot reach {peer.url} to join: {type(exc).__name__}"
            await asyncio.sleep(2.0)
        finally:
            self._joining = False

    # ------------------------------------------------------------ live views

    def camera_status(self, camera: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """(status, recording server id) of a camera as this node sees it."""
        status = self.recorder.statuses().get(camera["id"])
        if status is not None and status.state != "stopped":
            return status_json(status), self.node_id
        if not camera.get("continuous_recording", True):
            state = "disabled"
        elif camera.get("home_server_id") != self.node_id:
            state = "remote"
        else:
            state = "connecting"
        return {
            "state": state,
            "last_error": None,
            "bitrate_bps": 0.0,
            "fps": 0.0,
            "last_frame_at": None,
        }, None if self.failover is None else self.failover.recorded_by(camera["id"])

    def channels_used(self) -> int:
        return sum(1 for s in self.recorder.statuses().values() if s.state != "stopped")

    def load(self) -> dict[str, Any]:
        """This node's load figures (cheap, non-blocking psutil calls)."""
        now = time.monotonic()
        counters = psutil.net_io_counters()
        total = counters.bytes_sent + counters.bytes_recv if counters else 0
        rate = 0.0
        if self._net_sample is not None and now > self._net_sample[0]:
            rate = (total - self._net_sample[1]) / (now - self._net_sample[0])
        self._net_sample = (now, total)
        try:
            disk = psutil.disk_usage(str(self.data_dir))
            disk_free, disk_percent = disk.free, disk.percent
        except OSError:
            disk_free, disk_percent = 0, 0.0
        return {
            "cpu_percent": psutil.cpu_percent(None),
            "memory_percent": psutil.virtual_memory().percent,
            "disk_free_bytes": disk_free,
            "disk_used_percent": disk_percent,
            "net_bytes_per_s": round(rate, 1),
        }


def status_json(status: CameraStatus) -> dict[str, Any]:
    return {
        "state": status.state,
        "last_error": status.last_error,
        "bitrate_bps": round(status.bitrate_bps, 1),
        "fps": round(status.fps, 2),
        "last_frame_at": None
        if status.last_frame_at is None
        else status.last_frame_at.isoformat().replace("+00:00", "Z"),
    }
