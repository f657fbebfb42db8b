"""The node's part in the system's event log and its notifications: it derives the
events this node must write (node.events rules) from what the node observes,
exchanges the log with the peers, sends notifications for the writers it answers for
and keeps the MQTT camera state topics. Built and fed by `NodeRuntime`."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from node.events import (
    DIGEST_KEY,
    CameraHealth,
    ClockWatch,
    DiskWatch,
    Event,
    EventExchange,
    EventStore,
    EventType,
    MembershipEvents,
    NewEvent,
    PlacementView,
    placement_events,
    reporter,
)
from node.failover import Decision
from node.membership import MemberEvent
from node.notify import (
    MQTT_KEY,
    MQTT_KIND,
    WEBHOOK_KIND,
    Delivery,
    MqttPublisher,
    MqttSettings,
    Sink,
    StateTopics,
    sinks_from_records,
)
from recorder import CameraStatus

if TYPE_CHECKING:
    from node.app._runtime import NodeRuntime

log = logging.getLogger(__name__)
DISK_CHECK_S = 10.0
CLOCK_CHECK_S = 1.0  # peers' clock offsets are looked at this often
INITIAL_SYNC_DELAY_S = 1.5


class EventLog:
    def __init__(self, node: NodeRuntime, db_path: Any) -> None:
        self.node = node
        events = node.config.events
        self.store = EventStore(
            db_path,
            node.node_id,
            max_age_s=events.max_age_days * 86400,
            max_count=events.max_count,
        )
        self.exchange = EventExchange(
            self.store,
            peers=self._peers,
            post=node.post_internal,
            set_digest=lambda value: node.set_load_extra(DIGEST_KEY, value),
            on_new=self._on_new,
        )
        self.membership = MembershipEvents()
        self.health = CameraHealth(node.node_id)
        self.disk = DiskWatch(node.node_id, min_free_ratio=events.disk_nearly_full_ratio)
        self.clocks = ClockWatch()
        self._clock_warning: str | None = None
        self.mqtt = MqttPublisher(f"camkeep-{node.node_id}")
        self.delivery = Delivery(
            self.store,
            node.node_id,
            sinks=self.sinks,
            alive=node.alive_servers,
            system=self._system,
            mqtt=self.mqtt,
            cursors_moved=self.exchange.cursors_moved,
            ready=lambda: self.ready,
        )
        self.state_topics = StateTopics(self.mqtt, node.mqtt_camera_states)
        self.ready = False
        self._stopped = False
        self._previous: PlacementView | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        # figures for metrics (since this process started)
        self.written: Counter[str] = Counter()
        self.gap_seconds: Counter[str] = Counter()
        self.disk_free_bytes = 0
        self.disk_total_bytes = 0
        self.recordings_bytes = 0

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.exchange.start()
        self.delivery.start()
        self.state_topics.start()
        self.configure_mqtt()
        self._tasks = [
            loop.create_task(self._initial_sync(), name="events-initial-sync"),
            loop.create_task(self._disk_loop(), name="disk-watch"),
            loop.create_task(self._clock_loop(), name="clock-watch"),
        ]

    async def stop(self) -> None:
        self._stopped = True  # the recorder still reports while it stops: not news
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.state_topics.stop()
        await self.delivery.stop()
        await self.exchange.stop()
        await self.mqtt.close()
        self.store.close()

    async def _initial_sync(self) -> None:
        """Before sending any notification, take what the peers hold (events and how far
        they have sent them), so a restarted node does not send again what its deputy
        sent while it was away."""
        await asyncio.sleep(INITIAL_SYNC_DELAY_S)
        for _, url, _ in self._peers():
            await self.exchange.pull(url)
        self.ready = True
        self.delivery.wake()

    # ------------------------------------------------------------------ inputs

    def record(self, new: NewEvent) -> Event | None:
        if self._stopped:
            return None
        event = self.exchange.record(new)
        self.written[event.type] += 1
        if event.type == EventType.RECORDING_GAP and event.camera_id:
            self.gap_seconds[event.camera_id] += event.gap_seconds
        log.info(
            "event %s %s",
            event.type,
            event.details or "",
            extra={"camera_id": event.camera_id, "server_id": event.server_id},
        )
        return event

    def _record_all(self, events: list[NewEvent]) -> None:
        for new in events:
            self.record(new)

    def on_member(self, event: MemberEvent) -> None:
        state = {"joined": "alive", "left": "dead"}.get(event.kind, event.kind)
        alive = self.node.alive_servers() - {event.node_id}
        i_report = reporter(alive | {self.node.node_id}, event.node_id) == self.node.node_id
        new = self.membership.observe(event.node_id, state, i_report=i_report)
        if new is not None:
            self.record(new)

    def on_decision(self, decision: Decision) -> None:
        current = PlacementView(
            desired=decision.desired,
            homes={c.id: c.home_server_id for c in decision.view.cameras},
            recorders={c: frozenset(s) for c, s in decision.view.recorders.items()},
            reasons={c: str(r) for c, r in decision.plan.reasons.items()},
            alive=decision.alive,
        )
        self._record_all(placement_events(self.node.node_id, self._previous, current))
        self._previous = current

    def on_status(self, status: CameraStatus) -> None:
        frame = status.last_frame_at
        frame_ms = None if frame is None else int(frame.timestamp() * 1000)
        now_ms = int(time.time() * 1000)
        self._record_all(
            self.health.observe(status.camera_id, status.state, status.last_error, frame_ms, now_ms)
        )

    def on_frames(self, statuses: dict[str, CameraStatus]) -> None:
        """Keep each recording camera's newest frame time (the start of a later gap)."""
        for camera_id, status in statuses.items():
            if status.last_frame_at is not None:
                self.health.frame(camera_id, int(status.last_frame_at.timestamp() * 1000))

    def on_retention(self, segments: int, freed_bytes: int) -> None:
        self.record(
            NewEvent(
                EventType.RETENTION_DELETED.value,
                server_id=self.node.node_id,
                details={"segments": segments, "bytes": freed_bytes},
            )
        )

    def on_gap_fill(self, event: dict[str, Any]) -> None:
        """A gap fill's outcome, as `recording_gap` with the fill's verdict (without
        `seconds`: the video lost while a camera was offline is already counted by the
        camera's own recording_gap)."""
        if event.get("type") != EventType.RECORDING_GAP.value:
            return
        details = {k: event.get(k) for k in ("start", "end", "state", "reason")}
        self.record(
            NewEvent(
                EventType.RECORDING_GAP.value,
                server_id=self.node.node_id,
                camera_id=event.get("camera_id"),
                details={"fill": details.pop("state"), **details},
            )
        )

    def on_config_changed(self, kind: str) -> None:
        if kind in (MQTT_KIND, "system"):
            self.configure_mqtt()
        if kind in (MQTT_KIND, WEBHOOK_KIND):
            self.delivery.wake()

    def configure_mqtt(self) -> None:
        self.mqtt.configure(self.mqtt_settings())

    # ------------------------------------------------------------------ outputs

    def mqtt_settings(self) -> MqttSettings | None:
        system = self.node.state.system()
        if system is None:
            return None
        record = self.node.state.store.get(MQTT_KIND, MQTT_KEY)
        return MqttSettings.from_record(record, str(system.get("name", "")))

    def sinks(self) -> list[Sink]:
        if not self.node.state.is_member():
            return []
        return sinks_from_records(self.node.state.store.values(WEBHOOK_KIND), self.mqtt_settings())

    def _system(self) -> tuple[str | None, str | None]:
        system = self.node.state.system() or {}
        return system.get("id"), system.get("name")

    def _peers(self) -> list[tuple[str, str, str | None]]:
        return [(p.server_id, p.url, p.extra.get(DIGEST_KEY)) for p in self.node.peer_views()]

    def _on_new(self, events: list[Event]) -> None:
        for event in events:
            self.node.events.publish({"type": "event", "event": event.to_json()})
        self.delivery.wake()

    async def _disk_loop(self) -> None:
        recordings = self.node.recorder.recordings_dir
        while True:
            try:
                usage = await asyncio.to_thread(shutil.disk_usage, recordings)
                self.recordings_bytes = await asyncio.to_thread(self.node.recorder.stored_bytes)
                self.disk_free_bytes, self.disk_total_bytes = usage.free, usage.total
                if self.node.state.is_member():
                    new = self.disk.observe(usage.free, usage.total)
                    if new is not None:
                        self.record(new)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("disk check failed: %r", exc)
            await asyncio.sleep(DISK_CHECK_S)

    def check_clocks(self) -> None:
        """Write server_clock_skew for the servers whose clock state changed (the
        reporter for each, about the servers the clock judgement names)."""
        if not self.node.state.is_member():
            return
        report = self.node.clock_report()
        if report.warning != self._clock_warning:
            self._clock_warning = report.warning
            if report.warning is not None:
                log.warning("clock: %s", report.warning)
            else:
                log.info("clock: in step with the other servers again")
        alive = self.node.alive_servers()
        for server_id, peer in report.peers.items():
            i_report = reporter(alive, server_id) == self.node.node_id
            new = self.clocks.observe(
                server_id, peer.state, peer.offset_s, i_report=i_report, named=peer.named
            )
            if new is not None:
                self.record(new)

    async def _clock_loop(self) -> None:
        while True:
            await asyncio.sleep(CLOCK_CHECK_S)
            try:
                self.check_clocks()
            except Exception as exc:
                log.warning("clock check failed: %r", exc)
