"""One running node: data folder, state store, recorder, events, load figures.

The HTTP API (node/api/) reads and changes the node through this object
(`app.state.node`). `start()`/`stop()` run in the API's lifespan.
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

import psutil

from node import __version__
from node.auth import LoginThrottle, TokenSigner
from node.config import NodeConfig
from node.db import connect
from node.desired import desired_sources
from node.events import EventHub
from node.hlc import HybridClock
from node.identity import (
    DB_FILE,
    RECORDINGS_DIR,
    load_or_create_node_id,
    lock_data_dir,
    prepare_data_dir,
)
from node.replica import Record
from node.state import SystemState
from node.store import RecordStore
from recorder import CameraStatus, RecorderService, RetentionPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        await self.sync_recorder()
        log.info(
            "node %s (%s) started, %s",
            self.node_id,
            self.config.name,
            "member" if self.state.is_member() else "undefined",
        )

    async def stop(self) -> None:
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
            wanted = (
                desired_sources(self.state.cameras(), self.node_id)
                if self.state.is_member()
                else {}
            )
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
            self._loop.call_soon_threadsafe(self._changed, record)

    def _changed(self, record: Record) -> None:
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
        }, None

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
