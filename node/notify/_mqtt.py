"""A connection to the MQTT broker (aiomqtt), kept open and re-opened with backoff.

    publisher = MqttPublisher("camkeep-<node id>")
    publisher.configure(settings)          # or None: disconnect
    await publisher.publish(topic, payload, retain=True)   # ConnectionError if down

Messages are sent with QoS 1 (the broker acknowledges them); `publish` returns once
the broker has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiomqtt

from node.notify._sinks import MqttSettings, backoff_s

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 5.0


class MqttPublisher:
    def __init__(self, client_id: str) -> None:
        self._client_id = client_id
        self._settings: MqttSettings | None = None
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.last_error: str | None = None

    @property
    def settings(self) -> MqttSettings | None:
        return self._settings

    def configure(self, settings: MqttSettings | None) -> None:
        """Use these settings from now on (reconnects when they changed)."""
        if settings is not None and not settings.enabled:
            settings = None
        if settings == self._settings and (settings is None or self._task is not None):
            return
        self._settings = settings
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._client = None
        self.connected.clear()
        if settings is not None:
            self._task = asyncio.get_running_loop().create_task(
                self._connect_loop(settings), name="mqtt"
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        client = self._client
        if client is None:
            raise ConnectionError(self.last_error or "not connected to the MQTT broker")
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await client.publish(topic, payload, qos=1, retain=retain)

    async def _connect_loop(self, settings: MqttSettings) -> None:
        failures = 0
        while True:
            try:
                async with aiomqtt.Client(
                    settings.host,
                    settings.port,
                    username=settings.username,
                    password=settings.password,
                    identifier=self._client_id,
                    timeout=PUBLISH_TIMEOUT_S,
                ) as client:
                    self._client = client
                    self.connected.set()
                    self.last_error = None
                    failures = 0
                    log.info("MQTT: connected to %s:%s", settings.host, settings.port)
                    # aiomqtt ends the context with MqttError when the connection drops
                    async for _message in client.messages:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # aiomqtt.MqttError and OSError: retry later
                # never the password: the message names the broker and the error only
                self.last_error = f"MQTT {settings.host}:{settings.port}: {type(exc).__name__}"
                if failures == 0:
                    log.warning("MQTT: %s: %s", self.last_error, exc)
            finally:
                self._client = None
                self.connected.clear()
            failures += 1
            await asyncio.sleep(backoff_s(failures))
