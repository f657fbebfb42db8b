"""Every node holds the system's events: each writes its own and the others copy them.

- A node that writes an event pushes it at once to its alive peers
  (`POST PUSH_PATH {"events": [...]}`), and gossips the number of its newest event
  in its load extra `DIGEST_KEY`.
- Every `PULL_INTERVAL_S` a node asks each alive peer whose gossiped number is ahead
  of what it holds of that peer for the rest (`POST FETCH_PATH {"have": {...}}`), and
  every `ANTI_ENTROPY_S` one random alive peer for anything it lacks of any writer
  (events of a server that has died since, for instance).
- Notification cursors (how far each sink has handled each writer's events) travel
  in the same messages and only move forward, so a node taking over a dead node's
  deliveries starts where that node had got to.

Both routes are node-to-node (signed with the system secret).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from node.events._derive import NewEvent
from node.events._model import Event, EventError, event_from_json
from node.events._store import EventStore

log = logging.getLogger(__name__)

DIGEST_KEY = "ev"  # load extra key: number of this node's newest event
PUSH_PATH = "/api/v1/internal/events"
FETCH_PATH = "/api/v1/internal/events/fetch"
PULL_INTERVAL_S = 0.5
ANTI_ENTROPY_S = 5.0
BATCH = 500
MAX_SINKS = 256

Peers = Callable[[], list[tuple[str, str, str | None]]]  # (server id, url, gossiped digest)
Post = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def parse_events(value: Any) -> list[Event]:
    if not isinstance(value, list) or len(value) > BATCH * 2:
        raise EventError("'events' must be a list of at most 1000 events")
    return [event_from_json(item) for item in value]


def parse_cursors(value: Any) -> dict[str, dict[str, int]]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_SINKS:
        raise EventError("'cursors' must be an object")
    out: dict[str, dict[str, int]] = {}
    for sink, by_origin in value.items():
        if not isinstance(sink, str) or len(sink) > 200 or not isinstance(by_origin, dict):
            raise EventError("'cursors' must map sinks to {writer: seq}")
        for origin, seq in by_origin.items():
            if not isinstance(origin, str) or len(origin) > 128:
                raise EventError("'cursors' must map sinks to {writer: seq}")
            if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**62:
                raise EventError("a cursor must be a non-negative integer")
            out.setdefault(sink, {})[origin] = seq
    return out


def parse_have(value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or len(value) > 10_000:
        raise EventError("'have' must map writers to numbers")
    for origin, seq in value.items():
        if not isinstance(origin, str) or not isinstance(seq, int) or isinstance(seq, bool):
            raise EventError("'have' must map writers to numbers")
    return dict(value)


class EventExchange:
    def __init__(
        self,
        store: EventStore,
        *,
        peers: Peers,
        post: Post,
        set_digest: Callable[[str], None],
        on_new: Callable[[list[Event]], None],
    ) -> None:
        self.store = store
        self._peers = peers
        self._post = post
        self._set_digest = set_digest
        self._on_new = on_new
        self._task: asyncio.Task[None] | None = None
        self._pushes: set[asyncio.Task[Any]] = set()
        self._cursors_dirty = False
        self.stats = {"pushed": 0, "pulled": 0, "received": 0, "errors": 0}
        set_digest(str(store.last_seq))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="event-exchange")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._pushes) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    # ------------------------------------------------------------------ writing

    def record(self, new: NewEvent) -> Event:
        """Write one of this node's events, show it here, send it to the peers."""
        event = self.store.append(
            new.type,
            server_id=new.server_id,
            camera_id=new.camera_id,
            details=new.details,
            at_ms=new.at_ms,
        )
        self._set_digest(str(self.store.last_seq))
        self._on_new([event])
        self._spawn(self._push({"events": [event.to_json()]}))
        return event

    def cursors_moved(self) -> None:
        """A sink handled events: tell the peers soon (coalesced)."""
        if not self._cursors_dirty:
            self._cursors_dirty = True
            self._spawn(self._push_cursors())

    async def _push_cursors(self) -> None:
        await asyncio.sleep(0.2)
        self._cursors_dirty = False
        await self._push({"events": [], "cursors": self.store.cursors()})

    async def _push(self, body: dict[str, Any]) -> None:
        peers = self._peers()
        results = await asyncio.gather(
            *(self._post(url, PUSH_PATH, body) for _, url, _ in peers), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                self.stats["errors"] += 1
            else:
                self.stats["pushed"] += 1

    def _spawn(self, coro: Awaitable[Any]) -> None:
        try:
            task = asyncio.ensure_future(coro)
        except RuntimeError:  # no loop (tests writing directly)
            if asyncio.iscoroutine(coro):
                coro.close()
            return
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    # ------------------------------------------------------------------ receiving

    def receive(self, body: Any) -> int:
        """A peer's push: store the events we lacked, take its cursors; how many new."""
        if not isinstance(body, dict):
            raise EventError("body must be an object with 'events'")
        events = parse_events(body.get("events", []))
        cursors = parse_cursors(body.get("cursors"))
        return self._take(events, cursors)

    def _take(self, events: list[Event], cursors: Mapping[str, Mapping[str, int]]) -> int:
        added = self.store.insert(events)
        if cursors:
            self.store.merge_cursors(cursors)
        if added:
            self.stats["received"] += len(added)
            self._set_digest(str(self.store.last_seq))
            self._on_new(sorted(added, key=lambda e: (e.at_ms, e.origin, e.seq)))
        return len(added)

    def answer_fetch(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise EventError("body must be an object with 'have'")
        have = parse_have(body.get("have", {}))
        events = self.store.missing_for(have, BATCH)
        return {"events": [e.to_json() for e in events], "cursors": self.store.cursors()}

    # ------------------------------------------------------------------ pulling

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_full = loop.time() + 1.0
        while True:
            await asyncio.sleep(PULL_INTERVAL_S)
            try:
                held = self.store.held()
                peers = self._peers()
                due = []
                for server_id, url, digest in peers:
                    with contextlib.suppress(ValueError, TypeError):
                        if digest is not None and int(digest) > held.get(server_id, 0):
                            due.append(url)
                if loop.time() >= next_full and peers:
                    next_full = loop.time() + ANTI_ENTROPY_S
                    due.append(random.choice(peers)[1])
                for url in dict.fromkeys(due):
                    await self.pull(url)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event exchange: a pull round failed")

    async def pull(self, url: str) -> int:
        """Fetch what `url` holds that we lack (until it has nothing more); how many."""
        total = 0
        for _ in range(20):  # at most 20 batches a round
            try:
                answer = await self._post(url, FETCH_PATH, {"have": self.store.held()})
                events = parse_events(answer.get("events", []))
                cursors = parse_cursors(answer.get("cursors"))
            except Exception as exc:
                self.stats["errors"] += 1
                log.debug("event exchange: no events from %s: %r", url, exc)
                return total
            self.stats["pulled"] += 1
            added = self._take(events, cursors)
            total += added
            if len(events) < BATCH or not added:
                return total
        return total
