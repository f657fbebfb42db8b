"""Sending the system's events to its sinks (webhooks, MQTT) once per event.

The queue is durable because it is the event log itself plus, per sink and writer,
a cursor (`EventStore.advance`) saved after each event is handled: a restarted node
goes on from its cursors. Each sink is served by its own task, in order per writer;
a failing send is retried with backoff (`backoff_s`) and the event given up after
`MAX_ATTEMPTS`.

Who sends (`deliverer`): a writer's events are sent by the writer while it is alive,
and by its deputy (the alive server with the lowest id) once membership has said for
DEPUTY_DELAY_S that it is dead (a verdict soon taken back sends nothing). Cursors
travel between nodes with the events (`EventExchange`), so the deputy starts where
the writer had got to, and a writer that returns takes the deputy's progress before
it sends again. What that guarantees: every event is sent, and sent
once, unless the sender dies after a receiver accepted an event and before its cursor
reached a peer (about 0.2 s), or membership calls a live sender dead for longer than
DEPUTY_DELAY_S: the deputy then sends those events again. Receivers that
must never see a duplicate drop repeats by the event id (`X-Camkeep-Event-Id`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from node.events import Event, EventStore
from node.notify._mqtt import MqttPublisher
from node.notify._signing import (
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from node.notify._sinks import MAX_ATTEMPTS, MQTT_SINK, MqttSettings, Webhook, backoff_s, deliverer

log = logging.getLogger(__name__)
SEND_TIMEOUT_S = 5.0
# a deputy sends a dead writer's events only once it has been dead this long: a
# verdict that is soon taken back (a loaded or briefly cut-off node) sends nothing twice
DEPUTY_DELAY_S = 5.0
IDLE_CHECK_S = 0.5
BATCH = 100


@dataclass(frozen=True)
class Sink:
    """One destination: a webhook or the MQTT broker."""

    name: str
    webhook: Webhook | None = None
    mqtt: MqttSettings | None = None

    def wants(self, event: Event) -> bool:
        if self.webhook is not None:
            return self.webhook.wants(event.type, event.at_ms)
        assert self.mqtt is not None
        return event.at_ms >= self.mqtt.created_at_ms


def event_body(event: Event, system_id: str | None, system_name: str | None) -> bytes:
    body = {**event.to_json(), "system_id": system_id, "system_name": system_name}
    return json.dumps(body, separators=(",", ":")).encode()


class Delivery:
    def __init__(
        self,
        store: EventStore,
        node_id: str,
        *,
        sinks: Callable[[], Iterable[Sink]],
        alive: Callable[[], frozenset[str]],
        system: Callable[[], tuple[str | None, str | None]],
        mqtt: MqttPublisher,
        cursors_moved: Callable[[], None],
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store = store
        self.node_id = node_id
        self._sinks = sinks
        self._alive = alive
        self._system = system
        self.mqtt = mqtt
        self._cursors_moved = cursors_moved
        self._ready = ready
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._http: httpx.AsyncClient | None = None
        self._supervisor: asyncio.Task[None] | None = None
        # counters for metrics: (sink kind, outcome) -> count
        self.counts: dict[tuple[str, str], int] = {}
        self.failing: dict[str, str] = {}  # sink -> last error (no secrets)
        self._dead_since: dict[str, float] = {}  # writer -> when we first saw it dead

    def start(self) -> None:
        self._http = httpx.AsyncClient(timeout=SEND_TIMEOUT_S, trust_env=False)
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        tasks = [t for t in (self._supervisor, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._http is not None:
            await self._http.aclose()

    def wake(self) -> None:
        """New events arrived: look at once."""
        for event in self._wake.values():
            event.set()

    async def _supervise(self) -> None:
        """Keep one task per configured sink."""
        while True:
            try:
                wanted = {s.name: s for s in self._sinks()}
                for name in list(self._tasks):
                    if name not in wanted or self._tasks[name].done():
                        self._tasks.pop(name).cancel()
                        self._wake.pop(name, None)
                for name in wanted:
                    if name not in self._tasks:
                        self._wake[name] = asyncio.Event()
                        self._tasks[name] = asyncio.get_running_loop().create_task(
                            self._serve(name), name=f"deliver-{name}"
                        )
            except Exception:
                log.exception("notifications: cannot read the sinks")
            await asyncio.sleep(1.0)

    def _sink(self, name: str) -> Sink | None:
        return next((s for s in self._sinks() if s.name == name), None)

    async def _serve(self, name: str) -> None:
        wake = self._wake[name]
        while True:
            wake.clear()
            sink = self._sink(name)
            if sink is None:
                return
            if self._ready():
                await self._serve_once(sink)
            try:
                async with asyncio.timeout(IDLE_CHECK_S):
                    await wake.wait()
            except TimeoutError:
                pass

    def sends_for(self, origin: str, now: float) -> bool:
        """Whether this node sends `origin`'s events now (its own; a writer dead for
        DEPUTY_DELAY_S whose deputy this node is)."""
        alive = self._alive() | {self.node_id}
        if origin in alive:
            self._dead_since.pop(origin, None)
        else:
            self._dead_since.setdefault(origin, now)
        if deliverer(origin, alive, self.node_id) != self.node_id:
            return False
        return origin == self.node_id or now - self._dead_since[origin] >= DEPUTY_DELAY_S

    async def _serve_once(self, sink: Sink) -> None:
        clock = asyncio.get_running_loop().time
        for origin in sorted(self.store.held()):
            if not self.sends_for(origin, clock()):
                continue
            cursor = self.store.cursor(sink.name, origin)
            for event in self.store.after(origin, cursor, BATCH):
                if not self.sends_for(origin, clock()):
                    break  # the writer is back: it sends from here
                if self.store.cursor(sink.name, origin) >= event.seq:
                    continue  # a peer's cursor says it went out already
                if sink.wants(event) and not await self._send_with_retry(sink, event):
                    return  # the sink was removed meanwhile
                self.store.advance(sink.name, origin, event.seq)
                self._cursors_moved()

    async def _send_with_retry(self, sink: Sink, event: Event) -> bool:
        """Send until it is accepted or given up (True), or the sink is gone (False)."""
        kind = "mqtt" if sink.mqtt is not None else "webhook"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            current = self._sink(sink.name)
            if current is None:
                return False
            try:
                await self._send(current, event)
                self.counts[(kind, "sent")] = self.counts.get((kind, "sent"), 0) + 1
                self.failing.pop(sink.name, None)
                return True
            except Exception as exc:
                reason = _reason(exc)
                self.failing[sink.name] = reason
                self.counts[(kind, "retried")] = self.counts.get((kind, "retried"), 0) + 1
                if attempt == 1:
                    log.warning(
                        "notification %s to %s failed (%s); retrying",
                        event.id,
                        sink.name,
                        reason,
                        extra={"camera_id": event.camera_id, "server_id": event.server_id},
                    )
                await asyncio.sleep(backoff_s(attempt))
        self.counts[(kind, "given_up")] = self.counts.get((kind, "given_up"), 0) + 1
        log.error(
            "notification %s to %s given up after %d tries", event.id, sink.name, MAX_ATTEMPTS
        )
        return True

    async def _send(self, sink: Sink, event: Event) -> None:
        system_id, system_name = self._system()
        body = event_body(event, system_id, system_name)
        if sink.webhook is not None:
            assert self._http is not None
            now = int(time.time())
            headers = {
                "Content-Type": "application/json",
                EVENT_HEADER: event.type,
                EVENT_ID_HEADER: event.id,
                TIMESTAMP_HEADER: str(now),
                SIGNATURE_HEADER: signature(sink.webhook.secret, now, body),
            }
            answer = await self._http.post(sink.webhook.url, content=body, headers=headers)
            if not 200 <= answer.status_code < 300:
                raise RuntimeError(f"HTTP {answer.status_code}")
            return
        assert sink.mqtt is not None
        await self.mqtt.publish(sink.mqtt.event_topic(event.type), body)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPError):
        return type(exc).__name__
    return str(exc) or type(exc).__name__


def sinks_from_records(webhooks: Iterable[dict[str, Any]], mqtt: MqttSettings | None) -> list[Sink]:
    out = []
    for record in webhooks:
        webhook = Webhook.from_record(record)
        if webhook is not None and webhook.enabled:
            out.append(Sink(webhook.sink, webhook=webhook))
    if mqtt is not None and mqtt.enabled:
        out.append(Sink(MQTT_SINK, mqtt=mqtt))
    return out
