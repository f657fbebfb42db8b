"""Retained MQTT topics with each camera's state (`<prefix>/cameras/<id>/state`), so a
subscriber (Home Assistant, say) sees the current state as soon as it subscribes.

Each camera's topic is written by one node: the server recording it, or, for a
camera nobody records, the reporter (lowest alive id). Every `INTERVAL_S` the node
publishes the states it is responsible for that differ from what it last published.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from node.notify._mqtt import MqttPublisher

log = logging.getLogger(__name__)
INTERVAL_S = 0.5

# camera id -> the state document to publish (only the cameras this node answers for)
States = Callable[[], Mapping[str, dict[str, Any]]]


def state_payload(state: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(state), separators=(",", ":"), sort_keys=True).encode()


class StateTopics:
    def __init__(self, mqtt: MqttPublisher, states: States) -> None:
        self.mqtt = mqtt
        self._states = states
        self._published: dict[str, bytes] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt-states")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL_S)
            settings = self.mqtt.settings
            if settings is None or not self.mqtt.connected.is_set():
                self._published.clear()  # publish everything again once connected
                continue
            try:
                for camera_id, state in self._states().items():
                    payload = state_payload(state)
                    if self._published.get(camera_id) == payload:
                        continue
                    await self.mqtt.publish(settings.state_topic(camera_id), payload, retain=True)
                    self._published[camera_id] = payload
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("MQTT: camera state not published: %r", exc)
