"""Fan-out of node events to WebSocket clients (camera status, config changes)."""

from __future__ import annotations

import asyncio
from typing import Any

QUEUE_SIZE = 256  # events buffered per client; a slow client loses the oldest


class EventHub:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def publish(self, event: dict[str, Any]) -> None:
        """Call on the event loop thread."""
        for queue in list(self._queues):
            if queue.full():
                queue.get_nowait()  # drop the oldest rather than block the node
            queue.put_nowait(event)
